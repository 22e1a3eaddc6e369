/**
 * Seats: who holds which seat number in which room. A seat is reserved when the webhook admits a
 * call (with an expiry), taken when the call's stream starts, and freed when the caller leaves;
 * a reservation whose stream never starts expires. Reserved and taken seats both count against
 * the limits, so two callers racing for a room's last seat cannot both get one.
 *
 * Seat numbers start at 1 and the lowest free one is given out (freed seats are reused). A call
 * holds at most one seat anywhere. No timers: expiry is checked against the injected clock
 * whenever the ledger is asked anything.
 */
import type { CallState, ProgramRole } from '../conference/participant.js';
import type { Clock } from '../timing/clock.js';

/** What an invitation (a dial-out) says about the callee beyond its number. */
export interface CallRole {
  moderator?: boolean;
  label?: string;
  /** A program's ticket (POST /api/rooms/:id/programs): its role and wire format. */
  program?: ProgramRole;
}

export interface Holding {
  roomId: string;
  callSid: string;
  seat: number;
  /** The caller's number (Twilio's From), for the participant list. */
  from: string | undefined;
  /** The role a dial-out gave the call (moderator, label), carried into its participant. */
  role?: CallRole;
  /** When the reservation lapses (clock ms), or null once the stream has started. */
  expiresAtMs: number | null;
  /** A call coming back to the room (a dropped stream, a restart), with what it had set. */
  rejoin?: { state: CallState | undefined };
}

/** What a reservation may ask for beyond a seat. */
export interface ReserveOptions {
  /** The caller's number (Twilio's From). */
  from?: string;
  /** The seat number to give when it is free (a call rejoining keeps its number). */
  seat?: number;
  rejoin?: { state: CallState | undefined };
  /** The role a dial-out gave the call. */
  role?: CallRole;
}

export class SeatLedger {
  private readonly byCall = new Map<string, Holding>();
  /** roomId -> seat -> holding. A room is open while it has any holding. */
  private readonly byRoom = new Map<string, Map<number, Holding>>();
  /** Holdings not yet taken, for the expiry sweep. */
  private readonly pending = new Set<Holding>();

  constructor(private readonly clock: Clock) {}

  /** Seats held in `roomId` (taken and reserved). */
  occupied(roomId: string): number {
    this.sweep();
    return this.byRoom.get(roomId)?.size ?? 0;
  }

  /** Seats held in the whole server. */
  total(): number {
    this.sweep();
    return this.byCall.size;
  }

  /** Rooms with any seat held. */
  openRooms(): number {
    this.sweep();
    return this.byRoom.size;
  }

  isOpen(roomId: string): boolean {
    this.sweep();
    return this.byRoom.has(roomId);
  }

  holdingOf(callSid: string): Holding | undefined {
    this.sweep();
    return this.byCall.get(callSid);
  }

  /**
   * Reserves the lowest free seat in `roomId` for `callSid` until `ttlMs` from now. A call that
   * already holds a seat in this room keeps its number (a repeated webhook); one holding a seat
   * elsewhere gives it up. The caller (admission) has checked the limits.
   */
  reserve(roomId: string, callSid: string, ttlMs: number, options: ReserveOptions = {}): Holding {
    const { from } = options;
    this.sweep();
    const expiresAtMs = this.clock.nowMs() + ttlMs;
    const existing = this.byCall.get(callSid);
    if (existing && existing.roomId === roomId) {
      if (existing.expiresAtMs !== null) existing.expiresAtMs = expiresAtMs;
      // A repeated webhook that now proves more (the moderator PIN) keeps its seat with the new role.
      if (options.role?.moderator || options.role?.label !== undefined) existing.role = { ...existing.role, ...options.role };
      return existing;
    }
    if (existing) this.drop(existing);
    let seats = this.byRoom.get(roomId);
    if (!seats) {
      seats = new Map();
      this.byRoom.set(roomId, seats);
    }
    let seat = 1;
    if (options.seat !== undefined && Number.isInteger(options.seat) && options.seat >= 1 && !seats.has(options.seat)) seat = options.seat;
    else while (seats.has(seat)) seat++;
    const holding: Holding = {
      roomId,
      callSid,
      seat,
      from,
      expiresAtMs,
      ...(options.role ? { role: options.role } : {}),
      ...(options.rejoin ? { rejoin: options.rejoin } : {}),
    };
    seats.set(seat, holding);
    this.byCall.set(callSid, holding);
    this.pending.add(holding);
    return holding;
  }

  /**
   * The stream of `callSid` started with a ticket for `seat` in `roomId`: the reservation becomes
   * a taken seat. Null when there is no such reservation (expired, cancelled, or another seat).
   */
  confirm(roomId: string, callSid: string, seat: number): Holding | null {
    this.sweep();
    const holding = this.byCall.get(callSid);
    if (!holding || holding.roomId !== roomId || holding.seat !== seat) return null;
    holding.expiresAtMs = null;
    this.pending.delete(holding);
    return holding;
  }

  /** Frees the seat `callSid` holds in `roomId`. False when it holds none there. */
  release(roomId: string, callSid: string): boolean {
    const holding = this.byCall.get(callSid);
    if (!holding || holding.roomId !== roomId) return false;
    this.drop(holding);
    return true;
  }

  /** Frees every seat of `roomId`, reserved or taken (the room was ended). */
  releaseRoom(roomId: string): number {
    const seats = this.byRoom.get(roomId);
    if (!seats) return 0;
    const n = seats.size;
    for (const holding of [...seats.values()]) this.drop(holding);
    return n;
  }

  private drop(holding: Holding): void {
    this.byCall.delete(holding.callSid);
    this.pending.delete(holding);
    const seats = this.byRoom.get(holding.roomId);
    if (seats?.get(holding.seat) === holding) seats.delete(holding.seat);
    if (seats && seats.size === 0) this.byRoom.delete(holding.roomId);
  }

  private sweep(): void {
    if (this.pending.size === 0) return;
    const now = this.clock.nowMs();
    for (const holding of this.pending) {
      if (holding.expiresAtMs !== null && holding.expiresAtMs <= now) this.drop(holding);
    }
  }
}
