/**
 * Admission: the one place that decides who may enter which room, and binds the stream that
 * follows to that decision.
 *
 * At the webhook (async, before any stream): does the room exist (or may a caller open it), is it
 * locked, does it want a PIN (and is this one right; after PIN_ATTEMPTS wrong ones, no more
 * tries), and is there a seat: room seat limit, MAX_PARTICIPANTS for the server, MAX_ROOMS when
 * the call would open a room. An admitted call gets a reserved seat and a join ticket.
 *
 * At the stream's `start` (synchronous, no await between socket and join): the ticket is
 * redeemed (signature, CallSid, expiry, once) and the seat reservation confirmed; the stream then
 * joins that room with that seat.
 *
 * The limit checks and the reservation run with no await between them, so in this process two
 * webhooks cannot both take the last seat. (A shared store will need the same as one atomic step.)
 */
import type { RoomDirectory, RoomRecord } from './directory.js';
import type { StreamFormat } from '../audio/format.js';
import type { CallState, LeaveReason, ParticipantInfo, ProgramRole } from '../conference/participant.js';
import type { StreamErrorCode } from '../errors.js';
import type { JoinTickets } from '../security/joinTicket.js';
import type { Clock } from '../timing/clock.js';
import { verifyPin } from './pin.js';
import type { CallRole, ReserveOptions, SeatLedger } from './seats.js';

export interface AdmissionLimits {
  /** Rooms open at once (callers in them or seats reserved). */
  maxRooms: number;
  /** Seats per room; a room may set a lower limit. */
  maxParticipantsPerRoom: number;
  /** Seats in the whole server. */
  maxParticipants: number;
}

export interface AdmissionOptions {
  directory: RoomDirectory;
  seats: SeatLedger;
  tickets: JoinTickets;
  /** For the PIN-failure memory (monotonic). */
  clock: Clock;
  limits: AdmissionLimits;
  /** An unknown number opens a new room (else: "no such conference"). */
  autoCreate: boolean;
  /** Wrong PINs allowed per call before the goodbye. */
  pinAttempts: number;
  /**
   * In a cluster: may a stream whose ticket carries `epoch` join `room` on this node now (the node
   * still holds that ownership lease)? Default: yes (one process).
   */
  mayStart?: (room: string, epoch: number) => boolean;
  /**
   * May this process hold this many calls (reserved and streaming, the new one included) without
   * its steady state overrunning the event loop (src/timing/capacity.ts)? Default: yes.
   */
  admitsCallers?: (callers: number) => boolean;
  /** Told of the room's stored record (null: not administered) each time a call is given a seat in it (the moderation's settings). */
  onReserve?: (roomId: string, record: RoomRecord | null) => void;
  /** Told of every call set-up: a seat reserved for a new call, a stream started (the load's model). */
  onSetup?: () => void;
}

export interface CallInfo {
  callSid: string;
  /** Twilio's From. */
  from?: string;
  /** The room's ownership lease on this node (a cluster), carried in the ticket; 0 or absent: none. */
  epoch?: number;
  /** Admitted as a moderator (issue 17): a dial-out may say so; the moderator PIN sets it. */
  moderator?: boolean;
  /** A name to show for the participant (dashboard, admin API, status callbacks' Label). */
  label?: string;
  /** How long the reserved seat and its ticket wait for the stream (ms); default: JOIN_TICKET_TTL_SECONDS. */
  ticketTtlMs?: number;
  /** A dial-out's role for the callee (moderator, label), carried into its participant. */
  role?: CallRole;
  /** A program admitted by the administrator (its role and wire format). */
  program?: ProgramRole;
}

/**
 * How a browser on /join asks in: with the admin token, an invite link (already checked by
 * security/invite.ts), or the room's PIN.
 */
export type WebEntry = { kind: 'admin' } | { kind: 'invite' } | { kind: 'pin'; pin: string };

export type Refusal = 'not-found' | 'locked' | 'room-full' | 'server-full' | 'too-many-rooms' | 'overloaded';

export type EntryResult =
  | { kind: 'admitted'; roomId: string; seat: number; ticket: string }
  | { kind: 'pin-required'; roomId: string; moderatorOnly?: true }
  | { kind: 'refused'; roomId: string; reason: Refusal };

export type PinResult = EntryResult | { kind: 'wrong-pin'; roomId: string; attemptsLeft: number };

/** What the media session needs to hear back (mirrors MediaSession's StartAuthorization). */
export type StartVerdict = { ok: true; roomId: string; info: ParticipantInfo } | { ok: false; code: StreamErrorCode; detail: string };

export interface StartClaimLike {
  callSid: string;
  customParameters: Readonly<Record<string, string>>;
  /** The audio the `start` declares (its mediaFormat); default mu-law. */
  format?: StreamFormat;
}

/** Ticket refusals close the stream with 1008 ("start has no valid join ticket"). */
export const TICKET_REFUSAL_CODE: StreamErrorCode = 'BAD_TICKET';

/** Wrong-PIN counts are forgotten this long after the last wrong try (ms). */
const PIN_FAILURE_MEMORY_MS = 10 * 60_000;

export class Admission {
  private readonly pinFailures = new Map<string, { count: number; untilMs: number }>();

  constructor(private readonly options: AdmissionOptions) {}

  get limits(): Readonly<AdmissionLimits> {
    return this.options.limits;
  }

  /** The seat limit in force for a room (its own, never above the server's). */
  seatLimit(record: RoomRecord | null): number {
    const server = this.options.limits.maxParticipantsPerRoom;
    return record?.maxParticipants != null ? Math.min(record.maxParticipants, server) : server;
  }

  /** A caller keyed `roomId` (a valid number). */
  async enter(roomId: string, call: CallInfo): Promise<EntryResult> {
    const record = await this.options.directory.get(roomId);
    if (!record && !this.options.autoCreate && !this.options.seats.isOpen(roomId)) return { kind: 'refused', roomId, reason: 'not-found' };
    if (record?.locked) return { kind: 'refused', roomId, reason: 'locked' };
    if (record?.pinHash || record?.moderatorPinHash) {
      // Only a call that already holds a seat here (a repeated webhook) skips the PIN.
      // moderatorOnly: only a moderator PIN; everyone else enters with # alone.
      if (this.options.seats.holdingOf(call.callSid)?.roomId !== roomId)
        return record.pinHash ? { kind: 'pin-required', roomId } : { kind: 'pin-required', roomId, moderatorOnly: true };
    }
    return this.reserve(roomId, record, call);
  }

  /**
   * A call whose stream dropped comes back (its node died or gave the room up, Twilio's stream
   * broke, or the server restarted) with a valid rejoin pass: it was admitted before, so no PIN
   * and no lock; the seat limits still hold. `kept`: its seat number and what it had set, when
   * known (src/rooms/callStates.ts); the seat is its old one when that is free.
   */
  async enterRejoin(roomId: string, call: CallInfo, kept?: { seat: number; state: CallState; role?: CallRole }): Promise<EntryResult> {
    const role = kept?.role ?? call.role;
    return this.reserve(
      roomId,
      await this.options.directory.get(roomId),
      { ...call, ...(role ? { role } : {}) },
      { seat: kept?.seat, rejoin: { state: kept?.state } },
    );
  }

  /**
   * A callee the administrator called (a dial-out) pressed 1: the invitation stands for the PIN
   * and the lock (the administrator chose this person); the seat limits still hold.
   */
  async enterInvited(roomId: string, call: CallInfo): Promise<EntryResult> {
    return this.reserve(roomId, await this.options.directory.get(roomId), call);
  }

  /**
   * A program the administrator admitted (POST /api/rooms/:id/programs): like a dial-out, the
   * administrator's choice stands for the PIN and the lock; the room must exist (the route checks)
   * and the seat limits hold: a program takes a seat like any caller.
   */
  async enterProgram(roomId: string, call: CallInfo & { program: ProgramRole }): Promise<EntryResult> {
    return this.reserve(roomId, await this.options.directory.get(roomId), call);
  }

  /**
   * A browser (/join) asks in. The web entry never opens a room: the room must be stored (the
   * admin API) or open already. A PIN is right only for a room that has one, and a PIN for a room
   * without one, or for a number that does not exist, is answered as a wrong PIN (so a guesser
   * cannot tell which numbers exist). A locked room and the limits hold whichever way.
   */
  async enterFromWeb(roomId: string, call: CallInfo, entry: WebEntry): Promise<PinResult> {
    const record = await this.options.directory.get(roomId);
    if (entry.kind === 'pin') {
      if (!record?.pinHash || !(await verifyPin(entry.pin, record.pinHash))) return { kind: 'wrong-pin', roomId, attemptsLeft: 0 };
    } else if (!record && !this.options.seats.isOpen(roomId)) return { kind: 'refused', roomId, reason: 'not-found' };
    if (record?.locked) return { kind: 'refused', roomId, reason: 'locked' };
    return this.reserve(roomId, record, call);
  }

  /**
   * A caller keyed `pin` for `roomId`. The room's moderator PIN admits a moderator, its PIN a
   * participant. A room with only a moderator PIN asks for it too: nothing keyed (just #) enters as
   * a participant, a wrong PIN counts as one.
   */
  async enterWithPin(roomId: string, call: CallInfo, pin: string): Promise<PinResult> {
    const record = await this.options.directory.get(roomId);
    if (!record?.pinHash && !record?.moderatorPinHash) return this.enter(roomId, call); // the PINs were removed meanwhile (or the room)
    if (record.locked) return { kind: 'refused', roomId, reason: 'locked' };
    const failures = this.failuresOf(call.callSid);
    if (failures >= this.options.pinAttempts) return { kind: 'wrong-pin', roomId, attemptsLeft: 0 };
    if (record.moderatorPinHash && pin !== '' && (await verifyPin(pin, record.moderatorPinHash))) {
      this.pinFailures.delete(call.callSid);
      return this.reserve(roomId, record, { ...call, moderator: true });
    }
    if (!record.pinHash && pin === '') return this.reserve(roomId, record, call);
    if (!record.pinHash || !(await verifyPin(pin, record.pinHash))) {
      const count = failures + 1;
      this.pinFailures.set(call.callSid, { count, untilMs: this.options.clock.nowMs() + PIN_FAILURE_MEMORY_MS });
      return { kind: 'wrong-pin', roomId, attemptsLeft: Math.max(0, this.options.pinAttempts - count) };
    }
    this.pinFailures.delete(call.callSid);
    return this.reserve(roomId, record, call);
  }

  /**
   * The media session's start authorizer. Synchronous: the socket's messages wait for nothing.
   * Refusals carry the reason for the session's one log line.
   */
  authorizeStart(claim: StartClaimLike): StartVerdict {
    const check = this.options.tickets.redeem(claim.customParameters['ticket'], claim.callSid);
    if (!check.ok) return { ok: false, code: TICKET_REFUSAL_CODE, detail: `join ticket ${check.reason}` };
    const { room, seat } = check.claims;
    const roomParameter = claim.customParameters['room'];
    if (roomParameter !== undefined && roomParameter !== room) return { ok: false, code: TICKET_REFUSAL_CODE, detail: 'join ticket is for another room' };
    const epoch = check.claims.epoch ?? 0;
    if (this.options.mayStart && !this.options.mayStart(room, epoch)) {
      this.options.seats.release(room, claim.callSid);
      return { ok: false, code: TICKET_REFUSAL_CODE, detail: `join ticket is for a lease this node does not hold (room ${room}, epoch ${epoch})` };
    }
    // The audio the stream declares must be the one its seat was given: mu-law for every call,
    // what the ticket said for a program. Refused here, before the seat is taken, and the seat freed.
    const held = this.options.seats.holdingOf(claim.callSid);
    const expected = held?.role?.program?.format ?? 'mulaw';
    const declared = claim.format ?? 'mulaw';
    if (declared !== expected) {
      if (held?.expiresAtMs != null) this.options.seats.release(room, claim.callSid);
      return { ok: false, code: 'UNSUPPORTED_FORMAT', detail: `start declares ${declared}, the ticket is for ${expected}` };
    }
    const holding = this.options.seats.confirm(room, claim.callSid, seat);
    if (!holding) return { ok: false, code: TICKET_REFUSAL_CODE, detail: 'seat reservation expired or cancelled' };
    this.options.onSetup?.();
    const info: ParticipantInfo = { seat, ...holding.role };
    if (holding.from) info.from = holding.from;
    if (holding.rejoin) {
      info.rejoined = true;
      if (holding.rejoin.state) info.state = holding.rejoin.state;
    }
    return { ok: true, roomId: room, info };
  }

  /** A participant left its room: its seat is free again (unless a new stream of the call replaced it). */
  participantLeft(roomId: string, callSid: string, reason: LeaveReason): void {
    if (reason !== 'replaced') this.options.seats.release(roomId, callSid);
  }

  /** The room was ended: every seat in it, reserved or taken, is free. */
  roomEnded(roomId: string): void {
    this.options.seats.releaseRoom(roomId);
  }

  private reserve(roomId: string, record: RoomRecord | null, call: CallInfo, extra: Omit<ReserveOptions, 'from'> = {}): EntryResult {
    const { seats, limits } = this.options;
    const held = seats.holdingOf(call.callSid);
    if (held?.roomId !== roomId) {
      // No await from here to the reservation: the checks and the seat are one step.
      // A call already holding a seat here (a repeated webhook) keeps it, whatever the load.
      if (!seats.isOpen(roomId) && seats.openRooms() >= limits.maxRooms) return { kind: 'refused', roomId, reason: 'too-many-rooms' };
      if (seats.occupied(roomId) >= this.seatLimit(record)) return { kind: 'refused', roomId, reason: 'room-full' };
      const others = seats.total() - (held ? 1 : 0);
      if (others >= limits.maxParticipants) return { kind: 'refused', roomId, reason: 'server-full' };
      if (this.options.admitsCallers && !this.options.admitsCallers(others + 1)) return { kind: 'refused', roomId, reason: 'overloaded' };
      this.options.onSetup?.();
    }
    this.options.onReserve?.(roomId, record);
    const ttlMs = call.ticketTtlMs ?? this.options.tickets.ttlMs;
    const role: CallRole = {
      ...(call.moderator ? { moderator: true } : {}),
      ...(call.label !== undefined ? { label: call.label } : {}),
      ...(call.program ? { program: call.program } : {}),
    };
    const holding = seats.reserve(roomId, call.callSid, ttlMs, { from: call.from, ...(Object.keys(role).length > 0 ? { role } : {}), ...extra });
    const { ticket } = this.options.tickets.issue(call.callSid, roomId, holding.seat, call.epoch ?? 0, ttlMs);
    return { kind: 'admitted', roomId, seat: holding.seat, ticket };
  }

  private failuresOf(callSid: string): number {
    const now = this.options.clock.nowMs();
    for (const [sid, f] of this.pinFailures) if (f.untilMs <= now) this.pinFailures.delete(sid);
    return this.pinFailures.get(callSid)?.count ?? 0;
  }
}
