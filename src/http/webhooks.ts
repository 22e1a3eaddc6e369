/**
 * Twilio Voice webhooks: the conference-number prompt, the PIN prompt, and the answer that
 * connects the call's audio to the media endpoint. Handlers only gather inputs and pick a TwiML
 * answer; every decision about entering a room is admission's (src/rooms/admission.ts).
 *
 *   POST /voice             new call: ask for the number (or ?room=N: straight to admission)
 *   POST /voice/room        the number keyed: admission -> PIN prompt / connect / refusal
 *   POST /voice/pin?room=N  the PIN keyed: admission -> connect / ask again / goodbye
 */
import express, { type Request, type Response } from 'express';
import type { Config } from '../config.js';
import { isValidRoomNumber } from '../conference/roomNumber.js';
import type { Logger } from '../log.js';
import type { Admission, EntryResult, PinResult } from '../rooms/admission.js';
import { PIN_MAX_DIGITS } from '../rooms/pin.js';
import { publicBaseUrl, websocketUrl } from './publicUrl.js';
import * as twiml from './twiml.js';

export interface WebhookDeps {
  config: Readonly<Config>;
  admission: Admission;
  log: Logger;
}

/** The path of the media endpoint, as it appears in the stream URL. */
export const MEDIA_PATH = '/media';

export function voiceWebhooks({ config, admission, log }: WebhookDeps): express.Router {
  const router = express.Router();
  router.use('/voice', express.urlencoded({ extended: false, limit: '32kb', parameterLimit: 200 }));

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
        const base = publicBaseUrl(config.publicUrl, {
          protocol: req.protocol,
          host: req.get('host'),
          forwardedProto: req.get('x-forwarded-proto'),
          forwardedHost: req.get('x-forwarded-host'),
        });
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
    res.status(400).type('text/plain').send('Bad Request: missing CallSid (this endpoint is for Twilio voice webhooks)\n');
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
