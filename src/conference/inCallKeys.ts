/**
 * In-call keys, wired: each caller's DTMF digits (conference `keypress` events) go through their
 * own KeySequence, and the actions it completes are carried out on the conference, each with a
 * short tone to that caller only. The key map is in keypad.ts and the README.
 */
import { countTones, limitTone, moderatorMutedTone, mutedTone, unmutedTone, volumeTone } from '../audio/tones.js';
import type { Logger } from '../log.js';
import type { Clock } from '../timing/clock.js';
import type { Conference } from './conference.js';
import { KeySequence, MODERATOR_ACTIONS, VOLUME_STEP_DB, type KeyAction } from './keypad.js';
import type { Participant } from './participant.js';

export class InCallKeys {
  private readonly sequences = new Map<string, KeySequence>();
  private readonly tones = { muted: mutedTone(), unmuted: unmutedTone(), volume: volumeTone(), limit: limitTone(), moderatorMuted: moderatorMutedTone() };

  constructor(
    private readonly conference: Conference,
    private readonly clock: Clock,
    private readonly log: Logger,
    /**
     * A moderator's *2: locks the room if it is open to newcomers, else unlocks it; resolves with
     * the room's lock after. Absent: *2 does nothing (the "nothing changed" pips).
     */
    private readonly toggleLock?: (roomId: string) => Promise<boolean>,
    /** A hard-muted caller's *6 hears this ("The moderator has muted you."); default: a two-note drop. */
    moderatorMutedPrompt?: Int16Array,
  ) {
    if (moderatorMutedPrompt) this.tones.moderatorMuted = moderatorMutedPrompt;
    conference.on('keypress', (p, digit) => this.press(p, digit));
    conference.on('participantLeft', (p, _room, reason) => {
      if (reason !== 'replaced') this.sequences.delete(p.callSid);
    });
  }

  /** One digit from `p`'s stream. */
  press(p: Participant, digit: string): void {
    let sequence = this.sequences.get(p.callSid);
    if (!sequence) {
      sequence = new KeySequence();
      this.sequences.set(p.callSid, sequence);
    }
    const action = sequence.press(digit, this.clock.nowMs());
    if (action) this.perform(p, action);
  }

  private perform(p: Participant, action: KeyAction): void {
    const room = this.conference.room(p.roomId);
    if (!room || this.conference.participant(p.callSid) !== p) return;
    const only = { target: { kind: 'only', callSid: p.callSid } } as const;
    const log = this.log.child({ callSid: p.callSid, room: p.roomId });
    if (MODERATOR_ACTIONS.has(action) && !p.info.moderator) {
      room.play(this.tones.limit, only);
      log.info({ action }, 'a moderator key from a caller who is not a moderator: nothing done');
      return;
    }
    switch (action) {
      case 'toggle-mute': {
        if (p.hardMuted) {
          // A moderator's (or the API's) mute: the caller cannot undo it.
          room.play(this.tones.moderatorMuted, only);
          log.info('caller tried to unmute (*6) but a moderator muted them');
          return;
        }
        const muted = !p.muted;
        this.conference.setMuted(p.callSid, muted, 'self');
        room.play(muted ? this.tones.muted : this.tones.unmuted, only);
        log.info({ muted }, muted ? 'caller muted themselves (*6)' : 'caller unmuted themselves (*6)');
        return;
      }
      case 'volume-down':
      case 'volume-up': {
        const before = p.listenVolumeDb;
        const after = this.conference.setListenVolume(p.callSid, before + (action === 'volume-up' ? VOLUME_STEP_DB : -VOLUME_STEP_DB));
        room.play(after !== null && after !== before ? this.tones.volume : this.tones.limit, only);
        log.info({ listenVolumeDb: after }, `caller set listening volume (${action === 'volume-up' ? '*9' : '*7'})`);
        return;
      }
      case 'count':
        room.play(countTones(room.size), only);
        log.info({ participants: room.size }, 'caller asked for the participant count (*5)');
        return;
      case 'leave':
        log.info('caller left by key (*8)');
        // As a kick, but the caller's own choice: the stream closes and Twilio plays the goodbye.
        this.conference.leave(p, 'left');
        p.transport.end('left');
        return;
      case 'mute-all': {
        // Mute the others if anyone but the moderators can be heard; else unmute them.
        const muted = room.participants().some((o) => !o.info.moderator && !o.muted);
        const changed = this.conference.muteAll(room.id, muted, true);
        room.play(muted ? this.tones.muted : this.tones.unmuted, only);
        log.info({ muted, changed }, muted ? 'moderator muted everyone else (*1)' : 'moderator unmuted everyone else (*1)');
        return;
      }
      case 'lock': {
        if (!this.toggleLock) {
          room.play(this.tones.limit, only);
          return;
        }
        this.toggleLock(room.id).then(
          (locked) => {
            room.play(locked ? this.tones.muted : this.tones.unmuted, only);
            log.info({ locked }, locked ? 'moderator locked the room (*2)' : 'moderator unlocked the room (*2)');
          },
          (error: unknown) => {
            room.play(this.tones.limit, only);
            log.warn({ err: error instanceof Error ? error.message : String(error) }, 'moderator *2: the room lock could not be changed');
          },
        );
        return;
      }
      case 'kick-last': {
        let last: Participant | null = null;
        for (const o of room.participants()) if (!o.info.moderator && (last === null || o.joinedAtMs >= last.joinedAtMs)) last = o;
        if (!last) {
          room.play(this.tones.limit, only);
          return;
        }
        log.info({ kicked: last.callSid }, 'moderator removed the participant who joined last (*3)');
        this.conference.kick(last.callSid);
        room.play(this.tones.volume, only);
        return;
      }
      default: {
        const never: never = action;
        return never;
      }
    }
  }
}
