/**
 * Moderated rooms (issue 17), as Twilio's <Conference> (startConferenceOnEnter,
 * endConferenceOnExit, muted) and Asterisk ConfBridge's marked users do them. A room's moderation
 * settings come from its stored record (told here by admission as each call is admitted, and by
 * the admin API on a change); moderators are the participants whose ParticipantInfo says so.
 *
 * - waitForModerator: until the first moderator joins, the room waits: nobody feeds the mix
 *   (Room.waitingForModerator) and everyone hears the wait sound, looped. The first moderator
 *   starts the conference: the wait sound stops, a beep, and everyone hears everyone. Once
 *   started it stays started (as Twilio's conference), even if the moderators leave.
 * - startMuted: a participant who is not a moderator joins with a hard mute (only a moderator
 *   or the API unmutes).
 * - endWhenModeratorLeaves: when the last moderator leaves, everyone else hears the goodbye tone
 *   and then the room is ended (its calls go on to Twilio's goodbye after </Connect>), unless a
 *   moderator is back by then.
 *
 * No timers of its own: the end after the goodbye is scheduled through an injected function.
 */
import { EventEmitter } from 'node:events';
import { goodbyeTone, joinBeep, moderatorMutedTone } from '../audio/tones.js';
import { SAMPLE_RATE_HZ } from '../audio/format.js';
import type { Logger } from '../log.js';
import type { Conference } from './conference.js';
import type { LeaveReason, Participant } from './participant.js';
import type { Room } from './room.js';

/** A room's moderation settings (all off: an ordinary room). */
export interface ModerationSettings {
  waitForModerator: boolean;
  endWhenModeratorLeaves: boolean;
  startMuted: boolean;
}

export const NO_MODERATION: Readonly<ModerationSettings> = Object.freeze({ waitForModerator: false, endWhenModeratorLeaves: false, startMuted: false });

export interface ModerationOptions {
  /**
   * What callers waiting for the moderator hear, looped: the one place that picks the sound (the
   * wait loop today; a room's own wait music later). Called when a room starts waiting.
   */
  waitSound(room: Room): Int16Array;
  /** Played to a caller a moderator (the API, startMuted) mutes: "The moderator has muted you." Default: a two-note drop. */
  mutedPrompt?: Int16Array;
  /** Ends a room on purpose with reason 'moderator-left' (the core's endRoom: streams closed, seats freed). */
  endRoom(roomId: string): void;
  /** Runs `fn` once after `ms` (setTimeout in the server; a manual queue in tests). */
  schedule(fn: () => void, ms: number): void;
  /** The others already hear a join beep when someone joins (BEEP on / onEnter): the start beep goes to the moderator only. */
  othersHearJoinBeep: boolean;
  log: Logger;
}

export interface ModerationEvents {
  /** A room that waited for its moderator started (the first moderator joined, or waitForModerator turned off). */
  started: [room: Room, moderator: Participant | null];
  /** A room began waiting for its moderator (at its opening, or waitForModerator turned on). */
  waiting: [room: Room];
  /**
   * The room's "a moderator has been here" mark: set (true) when the first moderator since the room
   * opened joins, cleared (false) when the room closes for good (its callers left or it was ended;
   * not when its calls move to another node, break, or the server shuts down). A cluster keeps it in Redis.
   */
  startedMark: [roomId: string, started: boolean];
}

/** Time between the goodbye tone's start and the end of the calls (ms): the tone, and a frame or so. */
export const GOODBYE_MS = Math.ceil((goodbyeTone().length / SAMPLE_RATE_HZ) * 1000) + 100;

/** Settings remembered for rooms that are not open, at most (admitted calls whose stream has not started). */
const MAX_KNOWN = 10_000;
/** Leaves after which the call asks to rejoin its room (its stream broke; the room moved). */
const MAY_REJOIN: ReadonlySet<LeaveReason> = new Set<LeaveReason>(['socket-closed', 'error', 'moved']);
/** Last leaves after which the room's conference is over (its started mark forgotten); after any other its calls may come back. */
const OVER: ReadonlySet<LeaveReason> = new Set<LeaveReason>(['hangup', 'left', 'kicked', 'room-closed', 'moderator-left']);

interface RoomState {
  waitCue: number | null;
  ending: boolean;
  /** Why the latest participant left (the room's last leave when it closes). */
  lastLeave: LeaveReason | null;
}

export class Moderation extends EventEmitter<ModerationEvents> {
  /** The last stored settings seen per room (from admission or the admin API). */
  private readonly known = new Map<string, ModerationSettings>();
  private readonly open = new Map<string, RoomState>();
  /** Rooms that have started: a moderator has been in them since they opened (or before they moved here). */
  private readonly started = new Set<string>();
  private readonly startBeep = joinBeep();
  private readonly goodbye = goodbyeTone();
  /** What a hard-muted caller hears: the spoken prompt the server gives, else a two-note drop. */
  private readonly mutedTone: Int16Array;

  constructor(
    private readonly conference: Conference,
    private readonly options: ModerationOptions,
  ) {
    super();
    this.mutedTone = options.mutedPrompt ?? moderatorMutedTone();
    conference.on('roomOpened', (room) => this.opened(room));
    // The settings are kept when a room closes: a call admitted while it was open may open it again.
    conference.on('roomClosed', (room) => this.closed(room));
    conference.on('participantJoined', (p, room) => this.joined(p, room));
    conference.on('participantLeft', (p, room, reason) => {
      const state = this.open.get(room.id);
      if (state) state.lastLeave = reason;
      // A stream that broke (not a hang-up) comes back through the rejoin webhook as the moderator
      // again: a moderator's network blip does not end everyone's call.
      if (reason !== 'replaced' && !MAY_REJOIN.has(reason)) this.left(p, room);
    });
    conference.on('participantMuted', (p, muted) => {
      // "The moderator has muted you": a hard mute is told to the caller (startMuted too, at join).
      if (muted && p.hardMuted) conference.room(p.roomId)?.play(this.mutedTone, { target: { kind: 'only', callSid: p.callSid } });
    });
  }

  /** The settings in force for `roomId` (all off when none are known). */
  settings(roomId: string): Readonly<ModerationSettings> {
    return this.known.get(roomId) ?? NO_MODERATION;
  }

  /** True while the open room `roomId` waits for its moderator. */
  isWaiting(roomId: string): boolean {
    return this.conference.room(roomId)?.waitingForModerator ?? false;
  }

  /** True when a moderator has been in `roomId` since it opened (or before it moved here). */
  hasStarted(roomId: string): boolean {
    return this.started.has(roomId);
  }

  /**
   * The room's stored settings, as admission read them for a call it admitted or as the admin API
   * changed them; in an open room they apply at once (the file's comment): waitForModerator turned
   * off starts a waiting room, turned on makes a room that has not started wait.
   */
  configure(roomId: string, settings: ModerationSettings): void {
    if (!this.known.has(roomId) && this.known.size >= MAX_KNOWN) this.forgetClosedRooms();
    this.known.set(roomId, { ...settings });
    const room = this.conference.room(roomId);
    if (!room) return;
    if (room.waitingForModerator && !settings.waitForModerator) this.start(room, null);
    else if (!room.waitingForModerator && settings.waitForModerator && !this.started.has(roomId) && !hasModerator(room)) this.wait(room);
  }

  /**
   * The room's conference started before this process mixed it (a cluster: a moderator was in it on
   * the node it moved from). A room waiting here starts, without the start beep (its callers heard it then).
   */
  markStarted(roomId: string): void {
    if (!this.started.has(roomId) && this.started.size >= MAX_KNOWN) this.forgetClosedRooms();
    this.started.add(roomId);
    const room = this.conference.room(roomId);
    if (room?.waitingForModerator) this.start(room, null, false);
  }

  /** The room's wait sound changed (its wait music): a waiting room hears the new one, from its start, at the next tick. */
  restartWaitSound(room: Room): void {
    const state = this.open.get(room.id);
    if (!state || state.waitCue === null || room.isClosed) return;
    room.stopCue(state.waitCue);
    state.waitCue = room.play(this.options.waitSound(room), { target: { kind: 'all' }, loop: true });
  }

  private forgetClosedRooms(): void {
    for (const id of this.known.keys()) if (!this.conference.room(id)) this.known.delete(id);
    for (const id of this.started) if (!this.conference.room(id)) this.started.delete(id);
  }

  private opened(room: Room): void {
    this.open.set(room.id, { waitCue: null, ending: false, lastLeave: null });
    if (this.settings(room.id).waitForModerator && !this.started.has(room.id)) this.wait(room);
  }

  private closed(room: Room): void {
    const state = this.open.get(room.id);
    this.open.delete(room.id);
    // Over (the last caller hung up, the room was ended): the next opening is a new conference.
    // Moved, broken, shut down: its callers come back (here or on another node) to a started room.
    // Moved to another node: that node has it now (and the shared mark), not this process's memory.
    if (state?.lastLeave === 'moved') this.started.delete(room.id);
    if (state?.lastLeave != null && !OVER.has(state.lastLeave)) return;
    if (this.started.delete(room.id)) this.emit('startedMark', room.id, false);
  }

  /** The room waits for its moderator: nobody feeds the mix, everyone hears the wait sound, looped. */
  private wait(room: Room): void {
    const state = this.open.get(room.id);
    if (!state) return;
    room.waitingForModerator = true;
    state.waitCue = room.play(this.options.waitSound(room), { target: { kind: 'all' }, loop: true });
    this.options.log.info({ room: room.id, participants: room.size }, 'room waits for its moderator');
    this.emit('waiting', room);
  }

  private joined(p: Participant, room: Room): void {
    if (p.info.moderator) {
      if (!this.started.has(room.id)) {
        this.started.add(room.id);
        this.emit('startedMark', room.id, true);
      }
      if (room.waitingForModerator) this.start(room, p);
      return;
    }
    // A call coming back keeps what it had (src/rooms/callStates.ts): startMuted applies to newcomers.
    if (this.settings(room.id).startMuted && !p.info.state) this.conference.setMuted(p.callSid, true, 'moderator');
  }

  /** The conference starts: the wait sound stops, a beep, and the room mixes. */
  private start(room: Room, moderator: Participant | null, beep = true): void {
    const state = this.open.get(room.id);
    room.waitingForModerator = false;
    if (state?.waitCue != null) room.stopCue(state.waitCue);
    if (state) state.waitCue = null;
    if (beep && room.size > 1) {
      const target = this.options.othersHearJoinBeep && moderator ? ({ kind: 'only', callSid: moderator.callSid } as const) : ({ kind: 'all' } as const);
      room.play(this.startBeep, { target });
    }
    this.options.log.info({ room: room.id, moderator: moderator?.callSid, participants: room.size }, 'conference started by its moderator');
    this.emit('started', room, moderator);
  }

  private left(p: Participant, room: Room): void {
    // The room ended as a whole (closeRoom: everyone leaves at once, still listed): nothing to say.
    if (!p.info.moderator || room.isClosed || room.get(p.callSid) === p || room.size === 0) return;
    if (!this.settings(room.id).endWhenModeratorLeaves || hasModerator(room)) return;
    const state = this.open.get(room.id);
    if (!state || state.ending) return;
    state.ending = true;
    room.play(this.goodbye, { target: { kind: 'all' } });
    this.options.log.info({ room: room.id, moderator: p.callSid, participants: room.size }, 'last moderator left: goodbye, then the room ends');
    this.options.schedule(() => {
      state.ending = false;
      // A moderator came back meanwhile, the setting was turned off, or the room ended some other way: nothing to do.
      if (this.conference.room(room.id) !== room || hasModerator(room) || !this.settings(room.id).endWhenModeratorLeaves) return;
      this.options.endRoom(room.id);
    }, GOODBYE_MS);
  }
}

function hasModerator(room: Room): boolean {
  for (const p of room.participants()) if (p.info.moderator) return true;
  return false;
}
