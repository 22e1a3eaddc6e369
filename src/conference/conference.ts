/**
 * The conference core of one process: the live rooms, their participants by CallSid, and the tick
 * that mixes every room. Rooms open when their first participant joins and close when the last
 * leaves. No sockets, no timers: `tick(nowMs)` is driven by the clock adapter.
 */
import { EventEmitter } from 'node:events';
import type { Logger } from '../log.js';
import { Participant, type LeaveReason, type ParticipantInfo, type ParticipantTransport } from './participant.js';
import type { TalkDetectorOptions } from '../audio/talkDetector.js';
import type { JitterBufferOptions } from './jitterBuffer.js';
import { Room, type CoachingRefusal, type RoomAudioPatch, type RoomOptions } from './room.js';

/** Listening volume is bounded so a caller cannot make the line distort or vanish. */
export const MAX_LISTEN_VOLUME_DB = 12;

export interface ConferenceOptions extends RoomOptions {
  jitter?: JitterBufferOptions;
  talk?: TalkDetectorOptions;
  /** Per-caller automatic gain control (off by default). */
  agc?: boolean;
  /** Where a throwing event listener is reported (once per listener); default: stderr. */
  log?: Logger;
}

/**
 * What the conference tells its host about (logs, status callbacks, dashboards, metrics).
 * Emitted synchronously from join/leave/tick: listeners must be cheap. A listener that throws is
 * reported once and skipped; the others and the room go on (an observer never breaks a call).
 */
export interface ConferenceEvents {
  roomOpened: [room: Room];
  roomClosed: [room: Room];
  participantJoined: [participant: Participant, room: Room];
  /** `coaching`: who the call coached and who coached it as it left (the coaching has ended since). */
  participantLeft: [participant: Participant, room: Room, reason: LeaveReason, coaching: LeftCoaching];
  participantMuted: [participant: Participant, muted: boolean];
  participantHeld: [participant: Participant, onHold: boolean];
  /** A caller's listening volume changed (dB relative to the room's mix). */
  participantVolume: [participant: Participant, volumeDb: number];
  /** A caller's confirmed talk started (true) or stopped (false): speech events, speaking indicator. */
  participantSpeech: [participant: Participant, talking: boolean];
  /** A caller started coaching `coached` (a CallSid), or stopped (null). */
  participantCoaching: [participant: Participant, coached: string | null];
  /** A cue played with Room.play reached its end (announcements listen for theirs). */
  cueEnded: [room: Room, cueId: number];
  /** A DTMF key the caller pressed during the call. */
  keypress: [participant: Participant, digit: string];
  /** A room's tick threw: the room has been closed, the others keep mixing. */
  roomFailed: [room: Room, error: unknown];
}

/** Who a call coached and who coached it at the moment it left (kept for its rejoin). */
export interface LeftCoaching {
  /** The CallSid it coached, or null. */
  coached: string | null;
  /** The callers that coached it and stay in the room (each muted now, as the coaching ended). */
  coaches: readonly Participant[];
}

const NO_COACHING: LeftCoaching = Object.freeze({ coached: null, coaches: Object.freeze([]) as readonly Participant[] });

export interface ConferenceStats {
  rooms: number;
  participants: number;
  ticks: number;
  /** Frames mixed (taken from input queues) and sent, across all participants, since start. */
  framesMixed: number;
  framesSent: number;
  /** Event listeners that threw (each time), since start. */
  listenerFailures: number;
}

export class Conference extends EventEmitter<ConferenceEvents> {
  private readonly rooms = new Map<string, Room>();
  private readonly calls = new Map<string, Participant>();
  private roomList: Room[] = [];
  private ticks = 0;
  private framesMixedOfGone = 0;
  private framesSentOfGone = 0;
  /** Listeners that have thrown and been reported: reported once, not once a tick. */
  private readonly failedListeners = new WeakSet<object>();
  private listenerFailures = 0;

  constructor(private readonly options: ConferenceOptions) {
    super();
  }

  /**
   * Calls every listener of `event` in order, as EventEmitter does, but a listener that throws
   * is reported (once per listener) and the others still run: events are emitted from inside the
   * mixer's tick, where a dashboard or callback bug must not close the room.
   */
  override emit<K extends keyof ConferenceEvents>(event: K, ...args: ConferenceEvents[K]): boolean {
    const listeners = this.rawListeners(event) as Array<(...a: ConferenceEvents[K]) => void>;
    for (let i = 0; i < listeners.length; i++) {
      try {
        listeners[i]!.apply(this, args);
      } catch (error) {
        this.listenerThrew(event, listeners[i]!, error);
      }
    }
    return listeners.length > 0;
  }

  /**
   * Puts the call into the room, opening the room if needed. A call already in the conference
   * (Twilio reconnecting the same CallSid) is replaced: the old transport is ended.
   */
  join(roomId: string, callSid: string, transport: ParticipantTransport, nowMs = 0, info: ParticipantInfo = {}): Participant {
    const existing = this.calls.get(callSid);
    if (existing) {
      this.leave(existing, 'replaced');
      existing.transport.end('replaced');
    }
    let room = this.rooms.get(roomId);
    if (!room) {
      const opened = new Room(roomId, this.options, nowMs);
      room = opened;
      room.observer = {
        speech: (p, talking) => this.emit('participantSpeech', p, talking),
        tapThrew: (tap, error) => this.listenerThrew('room tap', tap, error),
        cueEnded: (cueId) => this.emit('cueEnded', opened, cueId),
      };
      this.rooms.set(roomId, room);
      this.roomList = [...this.rooms.values()];
      this.emit('roomOpened', room);
    }
    const participant = new Participant(callSid, roomId, transport, {
      nowMs,
      info,
      jitter: this.options.jitter,
      talk: this.options.talk,
      agc: this.options.agc,
    });
    if (info.state && !participant.listenOnly) {
      // A rejoin: as it was, from its first tick (no mute/hold events: nothing changed).
      participant.muted = info.state.muted;
      participant.hardMuted = info.state.muted && info.state.hardMuted === true;
      participant.onHold = info.state.onHold;
    }
    room.add(participant);
    this.calls.set(callSid, participant);
    if (info.state?.listenVolumeDb) this.setListenVolume(callSid, info.state.listenVolumeDb);
    this.emit('participantJoined', participant, room);
    return participant;
  }

  /** Takes the participant out of its room; closes the room when it was the last. Idempotent. */
  leave(participant: Participant, reason: LeaveReason): boolean {
    if (this.calls.get(participant.callSid) !== participant) return false;
    this.calls.delete(participant.callSid);
    this.framesMixedOfGone += participant.stats.framesMixed;
    this.framesSentOfGone += participant.stats.framesOut;
    const room = this.rooms.get(participant.roomId);
    if (!room) return true;
    const coaches = participant.coachedBy > 0 ? room.participants().filter((q) => q.coaching === participant.callSid) : [];
    const coached = participant.coaching;
    if (coached !== null) this.emit('participantCoaching', participant, null);
    room.remove(participant.callSid);
    this.emit('participantLeft', participant, room, reason, coached === null && coaches.length === 0 ? NO_COACHING : { coached, coaches });
    // A coach whose caller left is muted, not suddenly heard by the whole room.
    for (const coach of coaches) {
      this.emit('participantCoaching', coach, null);
      this.setMuted(coach.callSid, true);
    }
    if (room.size === 0) this.dropRoom(room);
    return true;
  }

  /**
   * Changes an open room's sound settings (background gate, noise suppression; null: the
   * server's default). False when the room is not open here (it takes its settings when it opens).
   */
  configureRoom(roomId: string, patch: RoomAudioPatch): boolean {
    const room = this.rooms.get(roomId);
    if (!room) return false;
    room.configureAudio(patch);
    return true;
  }

  /**
   * Mutes or unmutes a caller (not fed into the mix). `by` 'moderator' (a moderator, the API, the
   * room's startMuted) is a hard mute the caller's own *6 cannot undo; 'self' is the caller's own.
   * False when the call is not here.
   */
  setMuted(callSid: string, muted: boolean, by: 'self' | 'moderator' = 'moderator'): boolean {
    const p = this.calls.get(callSid);
    if (!p) return false;
    // A listener program stays muted: nobody unmutes what was admitted as listen-only.
    if (p.listenOnly) return true;
    p.hardMuted = muted && by === 'moderator';
    if (p.muted !== muted) {
      p.muted = muted;
      this.emit('participantMuted', p, muted);
    }
    return true;
  }

  /**
   * Mutes or unmutes everyone in a room (a moderator's or the API's mute: hard), moderators too
   * unless `exceptModerators`. Returns how many callers changed, or null when the room is not open.
   */
  muteAll(roomId: string, muted: boolean, exceptModerators: boolean): number | null {
    const room = this.rooms.get(roomId);
    if (!room) return null;
    let changed = 0;
    for (const p of room.participants()) {
      if ((exceptModerators && p.info.moderator) || p.listenOnly) continue;
      if (p.muted !== muted || p.hardMuted !== muted) changed++;
      this.setMuted(p.callSid, muted, 'moderator');
    }
    return changed;
  }

  /**
   * `callSid` coaches `coached` (only that caller hears it; it hears the room), or stops (null).
   * Both must be in the same room. Returns null when done, else why not.
   */
  setCoaching(callSid: string, coached: string | null): CoachingRefusal | null {
    const p = this.calls.get(callSid);
    const room = p && this.rooms.get(p.roomId);
    if (!p || !room) return 'no-coach';
    const before = p.coaching;
    const refused = room.setCoaching(callSid, coached);
    if (refused === null && before !== p.coaching) this.emit('participantCoaching', p, p.coaching);
    return refused;
  }

  /** Puts a caller on hold (not heard; hears the hold music) or back. False when the call is not here. */
  setHold(callSid: string, onHold: boolean): boolean {
    const p = this.calls.get(callSid);
    if (!p) return false;
    if (p.onHold !== onHold) {
      p.onHold = onHold;
      this.emit('participantHeld', p, onHold);
    }
    return true;
  }

  /**
   * Sets a caller's listening volume (dB relative to the room's mix, clamped to +/-12 dB in 3 dB
   * steps' reach). Returns the volume in force, or null when the call is not here.
   */
  setListenVolume(callSid: string, volumeDb: number): number | null {
    const p = this.calls.get(callSid);
    if (!p) return null;
    const clamped = Math.max(-MAX_LISTEN_VOLUME_DB, Math.min(MAX_LISTEN_VOLUME_DB, volumeDb));
    if (p.listenVolumeDb === clamped) return clamped;
    p.listenVolumeDb = clamped;
    p.listenGain = clamped === 0 ? 1 : 10 ** (clamped / 20);
    this.emit('participantVolume', p, clamped);
    return clamped;
  }

  /** Removes a caller from its room and ends its stream. False when the call is not here. */
  kick(callSid: string): boolean {
    return this.remove(callSid, 'kicked', 'kicked');
  }

  /**
   * Lets go of a call whose stream has ended at Twilio (its <Connect action> is asking) before
   * this process saw the socket close: it leaves as if the socket had closed (its state kept for
   * the rejoin, its seat freed), and the socket is closed as replaced by the call's next stream.
   * False when the call is not here.
   */
  endStream(callSid: string): boolean {
    return this.remove(callSid, 'socket-closed', 'replaced');
  }

  /** The call leaves its room for `left`, and its transport is ended for `ended`. */
  private remove(callSid: string, left: LeaveReason, ended: LeaveReason): boolean {
    const p = this.calls.get(callSid);
    if (!p) return false;
    this.leave(p, left);
    p.transport.end(ended);
    return true;
  }

  /** A DTMF key from the caller's stream. */
  keypress(participant: Participant, digit: string): void {
    if (this.calls.get(participant.callSid) === participant) this.emit('keypress', participant, digit);
  }

  room(roomId: string): Room | undefined {
    return this.rooms.get(roomId);
  }

  participant(callSid: string): Participant | undefined {
    return this.calls.get(callSid);
  }

  listRooms(): readonly Room[] {
    return this.roomList;
  }

  /** One 20 ms frame in every room: mix(), then send(). */
  tick(nowMs: number): void {
    this.mix(nowMs);
    this.send();
  }

  /**
   * Mixes one 20 ms frame in every room, every listener's frame left ready for send(). A room
   * whose mix throws is closed; the others go on.
   */
  mix(nowMs: number): void {
    this.ticks++;
    const rooms = this.roomList;
    for (let i = 0; i < rooms.length; i++) {
      const room = rooms[i]!;
      try {
        room.mix(nowMs);
      } catch (error) {
        this.failRoom(room, error);
      }
    }
  }

  /** Hands every listener the frame mix() made (the socket writes). A room whose send throws is closed. */
  send(): void {
    const rooms = this.roomList;
    for (let i = 0; i < rooms.length; i++) {
      const room = rooms[i]!;
      try {
        room.send();
      } catch (error) {
        this.failRoom(room, error);
      }
    }
  }

  /** Closes one room, ending every participant's transport with `reason`. */
  closeRoom(roomId: string, reason: LeaveReason): boolean {
    const room = this.rooms.get(roomId);
    if (!room) return false;
    for (const p of room.participants()) {
      this.calls.delete(p.callSid);
      this.framesMixedOfGone += p.stats.framesMixed;
      this.framesSentOfGone += p.stats.framesOut;
      // The whole room goes: each coach keeps whom it coached (both calls rejoin, or neither).
      this.emit('participantLeft', p, room, reason, p.coaching === null ? NO_COACHING : { coached: p.coaching, coaches: [] });
    }
    room.close(reason);
    this.dropRoom(room);
    return true;
  }

  /** Closes every room. */
  close(reason: LeaveReason = 'shutdown'): void {
    for (const room of [...this.roomList]) this.closeRoom(room.id, reason);
  }

  stats(): ConferenceStats {
    let framesMixed = this.framesMixedOfGone;
    let framesSent = this.framesSentOfGone;
    for (const p of this.calls.values()) {
      framesMixed += p.stats.framesMixed;
      framesSent += p.stats.framesOut;
    }
    return { rooms: this.rooms.size, participants: this.calls.size, ticks: this.ticks, framesMixed, framesSent, listenerFailures: this.listenerFailures };
  }

  private listenerThrew(event: string, listener: object, error: unknown): void {
    this.listenerFailures++;
    if (this.failedListeners.has(listener)) return;
    this.failedListeners.add(listener);
    const message = `a conference ${event} listener threw; skipped, the room keeps mixing (said once per listener)`;
    if (this.options.log) this.options.log.error({ event, err: error }, message);
    else console.error(message, error);
  }

  private failRoom(room: Room, error: unknown): void {
    this.emit('roomFailed', room, error);
    this.closeRoom(room.id, 'error');
  }

  private dropRoom(room: Room): void {
    if (this.rooms.get(room.id) !== room) return;
    this.rooms.delete(room.id);
    this.roomList = [...this.rooms.values()];
    room.close('room-closed');
    this.emit('roomClosed', room);
  }
}
