/**
 * Twilio Voice webhooks: the conference-number prompt, the PIN prompt, and the answer that
 * connects the call's audio to the media endpoint. Handlers only gather inputs and pick a TwiML
 * answer; every decision about entering a room is admission's (src/rooms/admission.ts).
 *
 *   POST /voice             new call: ask for the number (or ?room=N: straight to admission)
 *   POST /voice/room        the number keyed: admission -> PIN prompt / connect / refusal
 *   POST /voice/pin?room=N  the PIN keyed: admission -> connect / ask again / goodbye
 *
 * Issue 5: with TWILIO_AUTH_TOKEN every request must carry Twilio's signature (checked by the
 * plain function in src/security/twilioSignature.ts over the public URL and every parameter);
 * while the server shuts down every webhook answers twiml/restarting.xml.
 */
import express, { type Request, type Response } from 'express';
import type { Config } from '../config.js';
import { isValidRoomNumber } from '../conference/roomNumber.js';
import type { Logger } from '../log.js';
import type { Admission, EntryResult, PinResult } from '../rooms/admission.js';
import { PIN_MAX_DIGITS } from '../rooms/pin.js';
import { checkWebhookSignature, webhookUrl } from '../security/twilioSignature.js';
import { publicBaseUrl, websocketUrl, type RequestOrigin } from './publicUrl.js';
import * as twiml from './twiml.js';

export interface WebhookDeps {
  config: Readonly<Config>;
  admission: Admission;
  log: Logger;
  /** False once the server is shutting down: every webhook answers twiml/restarting.xml. */
  isAdmitting?: () => boolean;
}

/** What publicUrl.ts needs of a request, from Express. */
export function originOf(req: Request): RequestOrigin {
  return { protocol: req.protocol, host: req.get('host'), forwardedProto: req.get('x-forwarded-proto'), forwardedHost: req.get('x-forwarded-host') };
}

/** A 4xx/5xx answer to something that is not a Twilio webhook: JSON, never a stack trace. */
function refuse(res: Response, status: number, code: string, message: string): void {
  res.status(status).json({ error: { code, message } });
}

/** The path of the media endpoint, as it appears in the stream URL. */
export const MEDIA_PATH = '/media';

export function voiceWebhooks({ config, admission, log, isAdmitting = () => true }: WebhookDeps): express.Router {
  const router = express.Router();
  router.use('/voice', express.urlencoded({ extended: false, limit: '32kb', parameterLimit: 200 }));
  // Issue 5: with TWILIO_AUTH_TOKEN, only requests Twilio signed get past here (missing: 400,
  // wrong: 403, one warn line each). Without it: development mode, said at start and in /health.
  const authToken = config.twilioAuthToken;
  if (authToken) {
    router.use('/voice', (req, res, next) => {
      const url = webhookUrl(config.publicUrl, originOf(req), req.originalUrl);
      const params = req.body && typeof req.body === 'object' ? (req.body as Record<string, string | string[]>) : {};
      const verdict = checkWebhookSignature(authToken, req.get('x-twilio-signature'), url, params);
      if (verdict.ok) return next();
      // The URL it was checked over is what an operator needs to see a proxy/PUBLIC_URL mismatch.
      log.warn({ path: req.path, url: url.slice(0, 200), remote: req.socket.remoteAddress, reason: verdict.reason }, `webhook refused: X-Twilio-Signature ${verdict.reason === 'missing' ? 'missing' : 'does not match'}`);
      if (verdict.reason === 'missing') return refuse(res, 400, 'SIGNATURE_MISSING', 'missing X-Twilio-Signature (this endpoint is for Twilio voice webhooks)');
      return refuse(res, 403, 'SIGNATURE_INVALID', 'X-Twilio-Signature does not match this request');
    });
  }
  // Shutting down: no new callers and no next prompt; a polite "call again" instead.
  router.post(['/voice', '/voice/room', '/voice/pin'], (req, res, next) => {
    if (isAdmitting()) return next();
    const callSid = typeof req.body?.CallSid === 'string' ? req.body.CallSid.slice(0, 64) : undefined;
    log.info({ callSid, path: req.path }, 'webhook: shutting down; asking the caller to call again');
    sendTwiml(res, twiml.restarting());
  });

  const gather = (attempt: number): twiml.GatherParams => ({
    action: `/voice/room?attempt=${attempt}`,
    timeoutSeconds: config.gatherTimeoutSeconds,
    maxDigits: config.roomNumberMaxDigits,
  });
  const gatherPin = (room: string): twiml.GatherParams => ({
    action: `/voice/pin?room=${room}`,
    timeoutSeconds: config.gatherTimeoutSeconds,
    maxDigits: PIN_MAX_DIGITS,
  });

  const sendTwiml = (res: Response, xml: string) => res.type('text/xml').send(xml);

  /** Turns admission's answer into TwiML (and one log line). */
  const answer = (req: Request, res: Response, callSid: string, result: EntryResult | PinResult, attempt: number) => {
    const room = result.roomId;
    switch (result.kind) {
      case 'admitted': {
        const base = publicBaseUrl(config.publicUrl, originOf(req));
        const streamUrl = websocketUrl(base, MEDIA_PATH);
        log.info({ callSid, room, seat: result.seat, streamUrl }, 'webhook: admitted; connecting call to room');
        return sendTwiml(res, twiml.connectToRoom({ streamUrl, room, seat: result.seat, ticket: result.ticket }));
      }
      case 'pin-required':
        log.info({ callSid, room }, 'webhook: room has a PIN; asking for it');
        return sendTwiml(res, twiml.askPin(gatherPin(room)));
      case 'wrong-pin':
        if (result.attemptsLeft <= 0) {
          log.info({ callSid, room }, 'webhook: wrong PIN, no tries left; hanging up');
          return sendTwiml(res, twiml.pinGoodbye());
        }
        log.info({ callSid, room, attemptsLeft: result.attemptsLeft }, 'webhook: wrong PIN; asking again');
        return sendTwiml(res, twiml.askPinAgain(gatherPin(room), 'wrong'));
      case 'refused':
        log.info({ callSid, room, reason: result.reason }, 'webhook: room refused');
        if (result.reason === 'locked') return sendTwiml(res, twiml.conferenceLocked());
        if (result.reason !== 'not-found') return sendTwiml(res, twiml.conferenceFull());
        if (attempt >= config.promptAttempts) return sendTwiml(res, twiml.goodbye());
        return sendTwiml(res, twiml.askRoomAgain(gather(attempt + 1), 'not-found'));
      default: {
        const never: never = result;
        return never;
      }
    }
  };

  /** Every Twilio webhook carries a CallSid; a request without one is not Twilio's. */
  const callSidOf = (req: Request, res: Response): string | null => {
    const callSid = req.body?.CallSid;
    if (typeof callSid === 'string' && /^[A-Za-z0-9]{1,64}$/.test(callSid)) return callSid;
    log.warn({ path: req.path }, 'webhook: request without a valid CallSid');
    refuse(res, 400, 'BAD_REQUEST', 'missing CallSid (this endpoint is for Twilio voice webhooks)');
    return null;
  };
  const fromOf = (req: Request): string | undefined => (typeof req.body?.From === 'string' && req.body.From.length <= 64 ? req.body.From : undefined);

  router.post('/voice', async (req, res) => {
    const callSid = callSidOf(req, res);
    if (!callSid) return;
    const room = req.query['room'];
    if (room !== undefined) {
      if (isValidRoomNumber(room, config.roomNumberMaxDigits)) {
        return answer(req, res, callSid, await admission.enter(room, { callSid, from: fromOf(req) }), config.promptAttempts);
      }
      log.warn({ callSid, room: String(room).slice(0, 40) }, 'webhook: ?room= is not a room number; prompting instead');
    }
    log.info({ callSid }, 'webhook: new call, asking for a conference number');
    sendTwiml(res, twiml.askRoom(gather(1)));
  });

  router.post('/voice/room', async (req, res) => {
    const callSid = callSidOf(req, res);
    if (!callSid) return;
    const attemptParam = Number(req.query['attempt']);
    const attempt = Number.isInteger(attemptParam) && attemptParam >= 1 ? attemptParam : 1;
    const digits = typeof req.body.Digits === 'string' ? req.body.Digits : '';
    if (isValidRoomNumber(digits, config.roomNumberMaxDigits)) {
      return answer(req, res, callSid, await admission.enter(digits, { callSid, from: fromOf(req) }), attempt);
    }
    const why = digits === '' ? 'no-input' : 'invalid';
    if (attempt >= config.promptAttempts) {
      log.info({ callSid, attempt, why }, 'webhook: no valid conference number, hanging up');
      return sendTwiml(res, twiml.goodbye());
    }
    log.info({ callSid, attempt, why }, 'webhook: asking for the conference number again');
    sendTwiml(res, twiml.askRoomAgain(gather(attempt + 1), why));
  });

  router.post('/voice/pin', async (req, res) => {
    const callSid = callSidOf(req, res);
    if (!callSid) return;
    const room = req.query['room'];
    if (!isValidRoomNumber(room, config.roomNumberMaxDigits)) {
      log.warn({ callSid, room: String(room ?? '').slice(0, 40) }, 'webhook: PIN for no valid room; asking for the number');
      return sendTwiml(res, twiml.askRoom(gather(1)));
    }
    const digits = typeof req.body.Digits === 'string' ? req.body.Digits : '';
    // Nothing keyed counts as a wrong try (or the prompt could go round forever).
    const result = await admission.enterWithPin(room, { callSid, from: fromOf(req) }, /^[0-9]{1,32}$/.test(digits) ? digits : '');
    if (result.kind === 'wrong-pin' && result.attemptsLeft > 0 && digits === '') {
      log.info({ callSid, room, attemptsLeft: result.attemptsLeft }, 'webhook: no PIN keyed; asking again');
      return sendTwiml(res, twiml.askPinAgain(gatherPin(room), 'no-input'));
    }
    answer(req, res, callSid, result, config.promptAttempts);
  });

  return router;
}
