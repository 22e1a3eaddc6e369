/**
 * In-call keys, wired: each caller's DTMF digits (conference `keypress` events) go through their
 * own KeySequence, and the actions it completes are carried out on the conference, each with a
 * short tone to that caller only. The key map is in keypad.ts and the README.
 */
import { countTones, limitTone, mutedTone, unmutedTone, volumeTone } from '../audio/tones.js';
import type { Logger } from '../log.js';
import type { Clock } from '../timing/clock.js';
import type { Conference } from './conference.js';
import { KeySequence, VOLUME_STEP_DB, type KeyAction } from './keypad.js';
import type { Participant } from './participant.js';

export class InCallKeys {
  private readonly sequences = new Map<string, KeySequence>();
  private readonly tones = { muted: mutedTone(), unmuted: unmutedTone(), volume: volumeTone(), limit: limitTone() };

  constructor(
    private readonly conference: Conference,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {
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
    switch (action) {
      case 'toggle-mute': {
        const muted = !p.muted;
        this.conference.setMuted(p.callSid, muted);
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
      default: {
        const never: never = action;
        return never;
      }
    }
  }
}
