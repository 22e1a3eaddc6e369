/**
 * The conference core of one process: the live rooms, their participants by CallSid, and the tick
 * that mixes every room. Rooms open when their first participant joins and close when the last
 * leaves. No sockets, no timers: `tick(nowMs)` is driven by the clock adapter.
 */
import { Participant, type LeaveReason, type ParticipantTransport } from './participant.js';
import { Room, type RoomOptions } from './room.js';

export interface ConferenceOptions extends RoomOptions {
  inputCapacityFrames?: number;
}

/** What the conference tells its host about; all optional, all synchronous and cheap. */
export interface ConferenceHooks {
  roomOpened(room: Room): void;
  roomClosed(room: Room): void;
  participantJoined(participant: Participant, room: Room): void;
  participantLeft(participant: Participant, room: Room, reason: LeaveReason): void;
  /** A room's tick threw: the room has been closed, the others keep mixing. */
  roomFailed(room: Room, error: unknown): void;
}

export interface ConferenceStats {
  rooms: number;
  participants: number;
  ticks: number;
  /** Frames mixed (taken from input queues) and sent, across all participants, since start. */
  framesMixed: number;
  framesSent: number;
}

export class Conference {
  private readonly rooms = new Map<string, Room>();
  private readonly calls = new Map<string, Participant>();
  private roomList: Room[] = [];
  private ticks = 0;
  private framesMixedOfGone = 0;
  private framesSentOfGone = 0;

  constructor(
    private readonly options: ConferenceOptions,
    private readonly hooks: Partial<ConferenceHooks> = {},
  ) {}

  /**
   * Puts the call into the room, opening the room if needed. A call already in the conference
   * (Twilio reconnecting the same CallSid) is replaced: the old transport is ended.
   */
  join(roomId: string, callSid: string, transport: ParticipantTransport, nowMs = 0): Participant {
    const existing = this.calls.get(callSid);
    if (existing) {
      this.leave(existing, 'replaced');
      existing.transport.end('replaced');
    }
    let room = this.rooms.get(roomId);
    if (!room) {
      room = new Room(roomId, this.options, nowMs);
      this.rooms.set(roomId, room);
      this.roomList = [...this.rooms.values()];
      this.hooks.roomOpened?.(room);
    }
    const participant = new Participant(callSid, roomId, transport, {
      inputCapacityFrames: this.options.inputCapacityFrames,
      nowMs,
    });
    room.add(participant);
    this.calls.set(callSid, participant);
    this.hooks.participantJoined?.(participant, room);
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
    room.remove(participant.callSid);
    this.hooks.participantLeft?.(participant, room, reason);
    if (room.size === 0) this.dropRoom(room);
    return true;
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

  /** Mixes one 20 ms frame in every room. A room whose tick throws is closed; others go on. */
  tick(nowMs: number): void {
    this.ticks++;
    const rooms = this.roomList;
    for (let i = 0; i < rooms.length; i++) {
      const room = rooms[i]!;
      try {
        room.tick(nowMs);
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
      this.hooks.participantLeft?.(p, room, reason);
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
    return { rooms: this.rooms.size, participants: this.calls.size, ticks: this.ticks, framesMixed, framesSent };
  }

  private failRoom(room: Room, error: unknown): void {
    this.hooks.roomFailed?.(room, error);
    this.closeRoom(room.id, 'error');
  }

  private dropRoom(room: Room): void {
    if (this.rooms.get(room.id) !== room) return;
    this.rooms.delete(room.id);
    this.roomList = [...this.rooms.values()];
    room.close('room-closed');
    this.hooks.roomClosed?.(room);
  }
}
