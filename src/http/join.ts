/**
 * Join a room from a browser (/join): the page (plain HTML/JS, an AudioWorklet for 8 kHz mu-law)
 * and the join ticket it needs.
 *
 *   POST /join/ticket  {room, invite? | pin?}  [Authorization: Bearer ADMIN_TOKEN]
 *     -> 200 {callSid, streamSid, accountSid, room, seat, ticket, mediaPath}
 *
 * The browser then speaks the Media Streams protocol on /media exactly as Twilio does (connected,
 * start with the ticket as a custom parameter, media, mark echoes, stop): the media session
 * cannot tell it from a phone call, and nothing else lets it in.
 *
 * On the phone a room without a PIN is open to anyone who knows its number, because each try is
 * a paid, caller-ID'd call; on the web a try is free and scriptable, so the web asks more: the
 * admin token, an invite link (security/invite.ts), or, with JOIN_PAGE=pin, the room's PIN. A
 * request with none of them is refused before the room is looked up (so it confirms no number),
 * and the web entry never opens a room. Per client address: wrong PINs, tokens and invites 10 a
 * minute, then 429; at most JOIN_SEATS_PER_ADDRESS seats held and JOIN_TICKETS_PER_MINUTE
 * admissions a minute (security/entryLimiter.ts; the admin token is not limited). A browser's
 * ticket and seat wait WEB_TICKET_TTL_MS for its stream, not JOIN_TICKET_TTL_SECONDS: the page
 * opens the microphone before it asks for the ticket, so an unused ticket frees its seat soon.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join as joinPath } from 'node:path';
import { fileURLToPath } from 'node:url';
import express, { type Request, type Response } from 'express';
import { z } from 'zod';
import { isValidRoomNumber } from '../rooms/roomNumber.js';
import type { Logger } from '../log.js';
import type { HttpErrorCode } from '../errors.js';
import type { Admission, PinResult, Refusal, WebEntry } from '../rooms/admission.js';
import { PIN_PATTERN } from '../rooms/pin.js';
import type { SeatLedger } from '../rooms/seats.js';
import { hasBearer } from '../security/bearer.js';
import { EntryLimiter } from '../security/entryLimiter.js';
import { FailureLimiter } from '../security/failureLimiter.js';
import type { Invites } from '../security/invite.js';
import { sendError } from './sendError.js';
import { MEDIA_PATH } from './webhooks.js';

const PUBLIC_DIR = joinPath(dirname(fileURLToPath(import.meta.url)), 'public', 'join');
/** The accountSid a browser stream carries (no Twilio account is involved). */
export const BROWSER_ACCOUNT_SID = 'ACbrowser';

/** How long a browser's ticket and reserved seat wait for its stream (ms). */
export const WEB_TICKET_TTL_MS = 10_000;

const ticketBody = z.strictObject({
  room: z.string(),
  pin: z.string().regex(PIN_PATTERN, 'a PIN is 4 to 12 digits').optional(),
  invite: z.string().min(1).max(300).optional(),
});

export interface JoinDeps {
  admission: Admission;
  seats: SeatLedger;
  invites: Invites;
  adminToken: string | undefined;
  /** What the page accepts besides the admin token (JOIN_PAGE). */
  mode: 'off' | 'invite' | 'pin';
  /** Seats one address may hold at once, admissions per minute. */
  seatsPerAddress: number;
  ticketsPerMinute: number;
  roomNumberMaxDigits: number;
  log: Logger;
  /** Monotonic ms, for the limiters. */
  nowMs: () => number;
}

/** Admission's refusals as the browser is told them (the phone hears the same in TwiML). */
const REFUSALS: Record<Refusal, { code: HttpErrorCode; detail?: string }> = {
  'not-found': { code: 'NOT_FOUND', detail: 'there is no conference with that number' },
  locked: { code: 'LOCKED' },
  'room-full': { code: 'ROOM_FULL' },
  'server-full': { code: 'SERVER_FULL' },
  'too-many-rooms': { code: 'TOO_MANY_ROOMS' },
  overloaded: { code: 'OVERLOADED' },
};

export function joinPage(deps: JoinDeps): express.Router {
  const router = express.Router();
  if (deps.mode === 'off') {
    router.all(['/join', '/join/*rest'], (req, res) => {
      deps.log.info({ remote: req.socket.remoteAddress, path: req.path }, 'join: refused, JOIN_PAGE=off');
      sendError(res, 'JOIN_OFF');
    });
    return router;
  }
  const html = readFileSync(joinPath(PUBLIC_DIR, 'index.html'), 'utf8');
  const failures = new FailureLimiter({ maxFailures: 10, windowMs: 60_000, maxAddresses: 10_000 });
  const entries = new EntryLimiter({ maxSeats: deps.seatsPerAddress, perMinute: deps.ticketsPerMinute, maxAddresses: 10_000 });
  const security = (res: Response) =>
    res.set({
      'Content-Security-Policy':
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; media-src 'self' blob:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
      'Referrer-Policy': 'no-referrer',
      'X-Content-Type-Options': 'nosniff',
      'Cache-Control': 'no-store',
      // The microphone for this page only.
      'Permissions-Policy': 'microphone=(self)',
    });
  router.get(['/join', '/join/'], (_req, res) => {
    security(res).type('html').send(html);
  });
  router.post('/join/ticket', express.json({ limit: '2kb' }), async (req: Request, res: Response) => {
    const address = req.socket.remoteAddress ?? 'unknown';
    const refuse = (code: HttpErrorCode, why: string, extra: Record<string, unknown> = {}, detail?: string) => {
      deps.log.warn({ remote: address, ...extra }, `join: refused, ${why}`);
      return sendError(res, code, detail);
    };
    const blocked = failures.blockedForMs(address, deps.nowMs());
    if (blocked !== null) {
      res.set('Retry-After', String(Math.ceil(blocked / 1000)));
      return refuse('RATE_LIMITED', 'too many wrong PINs, tokens or invites', {}, 'too many wrong PINs, tokens or invites: try again later');
    }
    const body = ticketBody.safeParse(req.body);
    if (!body.success) {
      const detail = `${body.error.issues[0]!.path.join('.') || 'body'}: ${body.error.issues[0]!.message}`;
      return refuse('BAD_REQUEST', `bad body (${detail})`, {}, detail);
    }
    const roomId = body.data.room.trim();
    if (!isValidRoomNumber(roomId, deps.roomNumberMaxDigits))
      return refuse('BAD_REQUEST', 'not a room number', {}, `room: a conference number is 1 to ${deps.roomNumberMaxDigits} digits`);
    const header = req.get('authorization');
    // How this browser asks in. Any Authorization header claims the admin's way: it is the admin token, or a failure.
    let entry: WebEntry;
    let inviteId: string | undefined;
    if (header) {
      if (!deps.adminToken || !hasBearer(header, deps.adminToken)) {
        failures.fail(address, deps.nowMs());
        return refuse('FORBIDDEN', 'wrong admin token');
      }
      entry = { kind: 'admin' };
    } else if (body.data.invite !== undefined) {
      const check = deps.invites.check(body.data.invite, roomId);
      if (!check.ok) {
        failures.fail(address, deps.nowMs());
        return refuse('INVITE_INVALID', `invite ${check.reason}`, { room: roomId, reason: check.reason });
      }
      entry = { kind: 'invite' };
      inviteId = check.claims.id;
    } else if (body.data.pin !== undefined && deps.mode === 'pin') {
      entry = { kind: 'pin', pin: body.data.pin };
    } else if (deps.mode === 'pin') {
      return refuse('PIN_REQUIRED', 'no PIN, invite or admin token', { room: roomId });
    } else {
      const detail = body.data.pin !== undefined ? 'this server takes no PINs from the browser (JOIN_PAGE=invite): ask for an invite link' : undefined;
      return refuse('INVITE_REQUIRED', 'no invite or admin token', { room: roomId }, detail);
    }
    // The administrator is not limited; everyone else per address.
    if (entry.kind !== 'admin') {
      const verdict = entries.check(address, deps.nowMs(), (sid) => deps.seats.holdingOf(sid) !== undefined, WEB_TICKET_TTL_MS);
      if (!verdict.ok) {
        res.set('Retry-After', String(Math.ceil(verdict.retryAfterMs / 1000)));
        return verdict.reason === 'seats'
          ? refuse('TOO_MANY_SEATS', `address holds ${deps.seatsPerAddress} seats`, { room: roomId })
          : refuse('TOO_MANY_JOINS', `over ${deps.ticketsPerMinute} admissions a minute`, { room: roomId });
      }
    }
    // A CallSid of our own for this browser "call": the ticket is bound to it.
    const callSid = `CA${randomBytes(16).toString('hex')}`;
    const call = { callSid, from: 'browser', ticketTtlMs: WEB_TICKET_TTL_MS };
    // Counted before the admission awaits (a PIN check, the store): a burst cannot pass the limits together.
    const reservedAtMs = deps.nowMs();
    if (entry.kind !== 'admin') entries.reserve(address, callSid, reservedAtMs);
    if (inviteId !== undefined) deps.invites.use(inviteId);
    let result: PinResult | null = null;
    try {
      result = await deps.admission.enterFromWeb(roomId, call, entry);
    } finally {
      const admitted = result?.kind === 'admitted';
      if (entry.kind !== 'admin') entries.settle(address, callSid, reservedAtMs, admitted);
      if (inviteId !== undefined && !admitted) deps.invites.giveBack(inviteId);
    }
    if (result.kind === 'pin-required') return refuse('PIN_REQUIRED', 'PIN required', { room: roomId });
    if (result.kind === 'wrong-pin') {
      failures.fail(address, deps.nowMs());
      return refuse('WRONG_PIN', 'wrong PIN', { room: roomId });
    }
    if (result.kind === 'refused') {
      const refusal = REFUSALS[result.reason];
      return refuse(refusal.code, result.reason, { room: roomId }, refusal.detail);
    }
    deps.log.info({ room: roomId, seat: result.seat, callSid, by: entry.kind, remote: address }, 'join: browser admitted');
    res.set('Cache-Control', 'no-store').json({
      callSid,
      streamSid: `MZ${randomBytes(16).toString('hex')}`,
      accountSid: BROWSER_ACCOUNT_SID,
      room: roomId,
      seat: result.seat,
      ticket: result.ticket,
      mediaPath: MEDIA_PATH,
    });
  });
  router.use(
    '/join',
    (_req, res, next) => {
      security(res);
      next();
    },
    express.static(PUBLIC_DIR, { index: false, dotfiles: 'deny' }),
  );
  return router;
}
