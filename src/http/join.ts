/**
 * Join a room from a browser (/join): the page (plain HTML/JS, an AudioWorklet for 8 kHz mu-law)
 * and the join ticket it needs.
 *
 *   POST /join/ticket  {room, pin?}  [Authorization: Bearer ADMIN_TOKEN]
 *     -> 200 {callSid, streamSid, accountSid, room, seat, ticket, mediaUrl}
 *
 * The browser then speaks the Media Streams protocol on /media exactly as Twilio does (connected,
 * start with the ticket as a custom parameter, media, mark echoes, stop): the media session
 * cannot tell it from a phone call, and nothing else lets it in. With the admin token no PIN is
 * asked; without it the room's PIN is (a room without a PIN is open to anyone who knows its
 * number, as on the phone). Wrong PINs and wrong tokens count against the client's address: 10 a
 * minute, then 429.
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
import type { Admission, EntryResult, PinResult, Refusal } from '../rooms/admission.js';
import { PIN_PATTERN } from '../rooms/pin.js';
import { hasBearer } from '../security/bearer.js';
import { FailureLimiter } from '../security/failureLimiter.js';
import { sendError } from './sendError.js';
import { MEDIA_PATH } from './webhooks.js';

const PUBLIC_DIR = joinPath(dirname(fileURLToPath(import.meta.url)), 'public', 'join');
/** The accountSid a browser stream carries (no Twilio account is involved). */
export const BROWSER_ACCOUNT_SID = 'ACbrowser';

const ticketBody = z.strictObject({ room: z.string(), pin: z.string().regex(PIN_PATTERN, 'a PIN is 4 to 12 digits').optional() });

export interface JoinDeps {
  admission: Admission;
  adminToken: string | undefined;
  roomNumberMaxDigits: number;
  log: Logger;
  /** Monotonic ms, for the failure limiter. */
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
  const html = readFileSync(joinPath(PUBLIC_DIR, 'index.html'), 'utf8');
  const failures = new FailureLimiter({ maxFailures: 10, windowMs: 60_000, maxAddresses: 10_000 });
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
    const blocked = failures.blockedForMs(address, deps.nowMs());
    if (blocked !== null) {
      res.set('Retry-After', String(Math.ceil(blocked / 1000)));
      return sendError(res, 'RATE_LIMITED', 'too many wrong PINs or tokens: try again later');
    }
    const body = ticketBody.safeParse(req.body);
    if (!body.success) return sendError(res, 'BAD_REQUEST', `${body.error.issues[0]!.path.join('.') || 'body'}: ${body.error.issues[0]!.message}`);
    const roomId = body.data.room.trim();
    if (!isValidRoomNumber(roomId, deps.roomNumberMaxDigits))
      return sendError(res, 'BAD_REQUEST', `room: a conference number is 1 to ${deps.roomNumberMaxDigits} digits`);
    const header = req.get('authorization');
    let admin = false;
    // Any Authorization header claims the admin's way in: it is the admin token, or a failure.
    if (header) {
      if (!deps.adminToken || !hasBearer(header, deps.adminToken)) {
        failures.fail(address, deps.nowMs());
        deps.log.warn({ remote: address }, 'join: wrong admin token');
        return sendError(res, 'FORBIDDEN');
      }
      admin = true;
    }
    // A CallSid of our own for this browser "call": the ticket is bound to it.
    const callSid = `CA${randomBytes(16).toString('hex')}`;
    const call = { callSid, from: 'browser' };
    let result: EntryResult | PinResult;
    if (admin) result = await deps.admission.enterAsAdministrator(roomId, call);
    else if (body.data.pin) result = await deps.admission.enterWithPin(roomId, call, body.data.pin);
    else result = await deps.admission.enter(roomId, call);
    if (result.kind === 'pin-required') return sendError(res, 'PIN_REQUIRED');
    if (result.kind === 'wrong-pin') {
      failures.fail(address, deps.nowMs());
      deps.log.warn({ remote: address, room: roomId }, 'join: wrong PIN');
      return sendError(res, 'WRONG_PIN');
    }
    if (result.kind === 'refused') {
      const refusal = REFUSALS[result.reason];
      return sendError(res, refusal.code, refusal.detail);
    }
    deps.log.info({ room: roomId, seat: result.seat, callSid, admin }, 'join: browser admitted');
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
