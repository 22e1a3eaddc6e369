/**
 * The room's own sounds, driven by conference events and played with Room.play: a rising beep to
 * everyone already in a room when someone joins (not to the joiner), a falling beep when someone
 * leaves, and a soft loop for a caller alone in a room until someone joins: the room's wait music
 * when it has some (src/library/roomMusic.ts), else the wait chime (not with ECHO_WHEN_ALONE, where
 * a lone caller hears themselves instead). No timers: the room's tick plays
 * the cues.
 */
import { joinBeep, leaveBeep, waitLoop } from '../audio/tones.js';
import type { Conference } from './conference.js';
import type { LeaveReason, Participant } from './participant.js';
import type { Room } from './room.js';

/** As Twilio's `beep`: on (join and leave), off, onEnter (join only), onExit (leave only). */
export type BeepMode = 'on' | 'off' | 'onEnter' | 'onExit';

export interface RoomAudioOptions {
  beep: BeepMode;
  /** A caller alone in a room hears the wait loop. */
  waitTone: boolean;
  echoWhenAlone: boolean;
  /**
   * What a lone caller in the room hears, looped (its wait music); null: the wait chime while
   * waitTone is on, else nothing. Default: always null.
   */
  waitAudio?: (roomId: string) => Int16Array | null;
}

export class RoomAudio {
  private readonly join = joinBeep();
  private readonly leave = leaveBeep();
  private readonly wait = waitLoop();
  /** roomId -> the lone caller's wait loop. */
  private readonly waiting = new Map<string, { callSid: string; cueId: number }>();

  constructor(
    conference: Conference,
    private readonly options: RoomAudioOptions,
  ) {
    conference.on('participantJoined', (p, room) => this.joined(p, room));
    conference.on('participantLeft', (p, room, reason) => this.left(p, room, reason));
    conference.on('roomClosed', (room) => this.waiting.delete(room.id));
  }

  private joined(p: Participant, room: Room): void {
    this.stopWaiting(room);
    // A call coming back (a restart, a dropped stream) did not really arrive: no beep.
    if (room.size > 1 && !p.info.rejoined && (this.options.beep === 'on' || this.options.beep === 'onEnter')) {
      room.play(this.join, { target: { kind: 'except', callSid: p.callSid } });
    }
    if (room.size === 1) this.startWaiting(room, p);
  }

  private left(p: Participant, room: Room, reason: LeaveReason): void {
    if (this.waiting.get(room.id)?.callSid === p.callSid) this.stopWaiting(room);
    // The room is being ended as a whole (closeRoom: every member leaves at once): no sounds.
    if (room.get(p.callSid) === p || room.isClosed) return;
    // A newer stream of the same call takes its place at once: nobody really left.
    if (reason === 'replaced' || room.size === 0) return;
    if (this.options.beep === 'on' || this.options.beep === 'onExit') room.play(this.leave, { target: { kind: 'all' } });
    if (room.size === 1) this.startWaiting(room, room.participants()[0]!);
  }

  private startWaiting(room: Room, p: Participant): void {
    // A room waiting for its moderator plays its own wait sound to everyone (moderation.ts).
    if (this.options.echoWhenAlone || room.waitingForModerator) return;
    const music = this.options.waitAudio?.(room.id) ?? null;
    if (music === null && !this.options.waitTone) return;
    const cueId = room.play(music ?? this.wait, { target: { kind: 'only', callSid: p.callSid }, loop: true });
    this.waiting.set(room.id, { callSid: p.callSid, cueId });
  }

  /**
   * The room's wait music changed (or was read after its first caller joined): a caller alone in
   * it now hears the new one from its start.
   */
  restartWaiting(room: Room): void {
    if (room.isClosed || room.size !== 1) return;
    this.stopWaiting(room);
    this.startWaiting(room, room.participants()[0]!);
  }

  private stopWaiting(room: Room): void {
    const w = this.waiting.get(room.id);
    if (!w) return;
    room.stopCue(w.cueId);
    this.waiting.delete(room.id);
  }
}
