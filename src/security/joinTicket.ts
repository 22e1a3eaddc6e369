/**
 * Join tickets: what binds a Media Stream to the call that passed the room (and PIN) prompt.
 * The webhook that admits a call puts a ticket in the `<Stream>`'s `<Parameter name="ticket">`;
 * the stream's `start` must carry it back, for the same CallSid, before it expires, once.
 *
 * Format (ASCII, 130-ish characters, under Twilio's 500 for a parameter value):
 *
 *     v1.<callSid>.<room>.<seat>.<expiresAtSeconds>.<nonce>.<mac>
 *     v2.<callSid>.<room>.<seat>.<epoch>.<expiresAtSeconds>.<nonce>.<mac>
 *
 * - epoch (v2, a cluster): the fencing number of the room's ownership lease the ticket was issued
 *   under; the owner admits the stream only while it still holds that lease. v1 = epoch 0 (one
 *   process, no leases);
 * - expiresAtSeconds: Unix time (wall clock, so processes sharing the secret agree);
 * - nonce: 16 random bytes, base64url: makes each ticket unique and is remembered once used;
 * - mac: base64url HMAC-SHA256(secret, the fields before it joined by "."), compared in
 *   constant time; the CallSid is then compared with start.callSid in constant time too.
 *
 * The codec (issue/verify) is pure: time comes in as an argument. `JoinTickets` adds the secret,
 * the clock and the memory of used nonces.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { systemClock, type Clock } from '../timing/clock.js';
import { sameSecret } from './bearer.js';

export interface TicketClaims {
  callSid: string;
  room: string;
  seat: number;
  /** The room lease's fencing number (0: none, a single process). */
  epoch?: number;
  /** Unix time in seconds. */
  expiresAtSeconds: number;
  nonce: string;
}

export type TicketRefusal = 'missing' | 'malformed' | 'bad-signature' | 'other-call' | 'expired' | 'reused';

export type TicketCheck = { ok: true; claims: TicketClaims } | { ok: false; reason: TicketRefusal };

const VERSION = 'v1';
const VERSION_WITH_EPOCH = 'v2';
const FIELD = /^[A-Za-z0-9_-]{1,64}$/;

function mac(secret: Buffer, fields: readonly string[]): string {
  return createHmac('sha256', secret).update(fields.join('.')).digest('base64url');
}

/** The ticket text for `claims`, signed with `secret`. */
export function encodeTicket(secret: Buffer, claims: TicketClaims): string {
  const fields = claims.epoch
    ? [VERSION_WITH_EPOCH, claims.callSid, claims.room, String(claims.seat), String(claims.epoch), String(claims.expiresAtSeconds), claims.nonce]
    : [VERSION, claims.callSid, claims.room, String(claims.seat), String(claims.expiresAtSeconds), claims.nonce];
  return [...fields, mac(secret, fields)].join('.');
}

/**
 * Checks signature, CallSid and expiry (not reuse: that needs memory). `nowMs` is wall-clock
 * milliseconds. The order matters for the log: a forged ticket says so even when also expired.
 */
export function decodeTicket(secret: Buffer, ticket: string | undefined, callSid: string, nowMs: number): TicketCheck {
  if (ticket === undefined || ticket === '') return { ok: false, reason: 'missing' };
  const parts = ticket.split('.');
  const withEpoch = parts[0] === VERSION_WITH_EPOCH;
  if (parts.length !== (withEpoch ? 8 : 7) || (parts[0] !== VERSION && !withEpoch) || !parts.slice(1).every((p) => FIELD.test(p)))
    return { ok: false, reason: 'malformed' };
  // v1 has no epoch field: read it as "0".
  const [, ticketCallSid, room, seat, epochText, expires, nonce, signature] = (withEpoch ? parts : [...parts.slice(0, 4), '0', ...parts.slice(4)]) as [
    string,
    string,
    string,
    string,
    string,
    string,
    string,
    string,
  ];
  if (!/^[0-9]+$/.test(room) || !/^[0-9]{1,6}$/.test(seat) || !/^[0-9]{1,15}$/.test(epochText) || !/^[0-9]{1,12}$/.test(expires))
    return { ok: false, reason: 'malformed' };
  if (!sameSecret(signature, mac(secret, parts.slice(0, parts.length - 1)))) return { ok: false, reason: 'bad-signature' };
  if (!sameSecret(ticketCallSid, callSid)) return { ok: false, reason: 'other-call' };
  const expiresAtSeconds = Number(expires);
  if (nowMs >= expiresAtSeconds * 1000) return { ok: false, reason: 'expired' };
  const epoch = Number(epochText);
  return { ok: true, claims: { callSid: ticketCallSid, room, seat: Number(seat), ...(epoch ? { epoch } : {}), expiresAtSeconds, nonce } };
}

export interface JoinTicketsOptions {
  /** The HMAC key (at least 32 bytes). */
  secret: Buffer;
  /** How long a ticket is good for after it is issued (ms). */
  ttlMs: number;
  /** Wall clock (Unix ms). */
  clock?: Clock;
}

/** Issues tickets and redeems each at most once. */
export class JoinTickets {
  private readonly clock: Clock;
  /** Nonces of redeemed tickets, with their expiry (Unix ms), in redemption order. */
  private readonly used = new Map<string, number>();

  constructor(private readonly options: JoinTicketsOptions) {
    if (options.secret.length < 32) throw new Error('join ticket secret must be at least 32 bytes');
    this.clock = options.clock ?? systemClock;
  }

  get ttlMs(): number {
    return this.options.ttlMs;
  }

  /** A ticket for `callSid`'s seat; `ttlMs` (default: the configured TTL) how long it is good for. */
  issue(callSid: string, room: string, seat: number, epoch = 0, ttlMs = this.options.ttlMs): { ticket: string; claims: TicketClaims } {
    const claims: TicketClaims = {
      callSid,
      room,
      seat,
      ...(epoch ? { epoch } : {}),
      // Rounded up to the second: a ticket is never shorter-lived than the TTL.
      expiresAtSeconds: Math.ceil((this.clock.nowMs() + ttlMs) / 1000),
      nonce: randomBytes(16).toString('base64url'),
    };
    return { ticket: encodeTicket(this.options.secret, claims), claims };
  }

  /** Verifies `ticket` for `callSid` and, when good, marks it used (a second redeem is 'reused'). */
  redeem(ticket: string | undefined, callSid: string): TicketCheck {
    const nowMs = this.clock.nowMs();
    this.forgetExpired(nowMs);
    const check = decodeTicket(this.options.secret, ticket, callSid, nowMs);
    if (!check.ok) return check;
    if (this.used.has(check.claims.nonce)) return { ok: false, reason: 'reused' };
    this.used.set(check.claims.nonce, check.claims.expiresAtSeconds * 1000);
    return check;
  }

  /**
   * True when `ticket` is one of ours, unexpired and not yet redeemed, for the CallSid it names;
   * nothing is marked (the stream's `start` still redeems it). Lets a client that cannot sign its
   * WebSocket upgrade like Twilio (a browser) show it was admitted.
   */
  isRedeemable(ticket: string): boolean {
    const nowMs = this.clock.nowMs();
    const check = decodeTicket(this.options.secret, ticket, ticket.split('.')[1] ?? '', nowMs);
    return check.ok && !this.used.has(check.claims.nonce);
  }

  /** The rejoin pass of `callSid` in `room` after `count` rejoins (see rejoinPass below). */
  rejoinPass(callSid: string, room: string, count: number): string {
    return rejoinPass(this.options.secret, callSid, room, count);
  }

  rejoinPassValid(pass: unknown, callSid: string, room: string, count: number): boolean {
    return rejoinPassValid(this.options.secret, pass, callSid, room, count);
  }

  /** Used nonces still remembered (they are forgotten once their ticket has expired anyway). */
  get rememberedNonces(): number {
    return this.used.size;
  }

  private forgetExpired(nowMs: number): void {
    // Every ticket has the same TTL, so redemption order is close to expiry order: stop at the
    // first one still valid (a few may linger a little longer, which is harmless).
    for (const [nonce, expiresAtMs] of this.used) {
      if (expiresAtMs > nowMs) break;
      this.used.delete(nonce);
    }
  }
}

/**
 * The rejoin pass (a cluster): proves in the `<Connect action>` URL that this call was admitted to
 * this room, so a call whose stream dropped (its node died) re-enters without the PIN. It binds
 * the CallSid, the room and the rejoin count (so the count cannot be reset); the action URL is
 * Twilio's to call, and in production the request is signed by Twilio as well.
 */
export function rejoinPass(secret: Buffer, callSid: string, room: string, count: number): string {
  return createHmac('sha256', secret).update(`rejoin.${callSid}.${room}.${count}`).digest('base64url').slice(0, 32);
}

export function rejoinPassValid(secret: Buffer, pass: unknown, callSid: string, room: string, count: number): boolean {
  return typeof pass === 'string' && sameSecret(pass, rejoinPass(secret, callSid, room, count));
}
