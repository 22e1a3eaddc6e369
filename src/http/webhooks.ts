/**
 * Twilio Voice webhooks: the conference-number prompt and the answer that connects the call's
 * audio to the media endpoint. Handlers only gather inputs and pick a TwiML answer; room
 * admission is the room directory's decision.
 */
import express, { type Request, type Response } from 'express';
import type { Config } from '../config.js';
import type { RoomDirectory } from '../conference/directory.js';
import { isValidRoomNumber } from '../conference/roomNumber.js';
import type { Logger } from '../log.js';
import { publicBaseUrl, websocketUrl } from './publicUrl.js';
import * as twiml from './twiml.js';

export interface WebhookDeps {
  config: Readonly<Config>;
  directory: RoomDirectory;
  log: Logger;
}

/** The path of the media endpoint, as it appears in the stream URL. */
export const MEDIA_PATH = '/media';

export function voiceWebhooks({ config, directory, log }: WebhookDeps): express.Router {
  const router = express.Router();
  router.use(express.urlencoded({ extended: false, limit: '32kb', parameterLimit: 200 }));

  const gather = (attempt: number): twiml.GatherParams => ({
    action: `/voice/room?attempt=${attempt}`,
    timeoutSeconds: config.gatherTimeoutSeconds,
    maxDigits: config.roomNumberMaxDigits,
  });

  const sendTwiml = (res: Response, xml: string) => res.type('text/xml').send(xml);

  const connect = async (req: Request, res: Response, room: string, callSid: string) => {
    const admission = await directory.admit(room, callSid);
    if (!admission.ok) {
      log.info({ callSid, room, reason: admission.reason }, 'webhook: room refused');
      return sendTwiml(res, twiml.goodbye());
    }
    const base = publicBaseUrl(config.publicUrl, {
      protocol: req.protocol,
      host: req.get('host'),
      forwardedProto: req.get('x-forwarded-proto'),
      forwardedHost: req.get('x-forwarded-host'),
    });
    const streamUrl = websocketUrl(base, MEDIA_PATH);
    log.info({ callSid, room, streamUrl }, 'webhook: connecting call to room');
    sendTwiml(res, twiml.connectToRoom({ streamUrl, room }));
  };

  /** Every Twilio webhook carries a CallSid; a request without one is not Twilio's. */
  const callSidOf = (req: Request, res: Response): string | null => {
    const callSid = req.body?.CallSid;
    if (typeof callSid === 'string' && /^[A-Za-z0-9]{1,64}$/.test(callSid)) return callSid;
    log.warn({ path: req.path }, 'webhook: request without a valid CallSid');
    res.status(400).type('text/plain').send('Bad Request: missing CallSid (this endpoint is for Twilio voice webhooks)\n');
    return null;
  };

  router.post('/voice', async (req, res) => {
    const callSid = callSidOf(req, res);
    if (!callSid) return;
    const room = req.query['room'];
    if (room !== undefined) {
      if (isValidRoomNumber(room, config.roomNumberMaxDigits)) return connect(req, res, room, callSid);
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
    if (isValidRoomNumber(digits, config.roomNumberMaxDigits)) return connect(req, res, digits, callSid);
    const why = digits === '' ? 'no-input' : 'invalid';
    if (attempt >= config.promptAttempts) {
      log.info({ callSid, attempt, why }, 'webhook: no valid conference number, hanging up');
      return sendTwiml(res, twiml.goodbye());
    }
    log.info({ callSid, attempt, why }, 'webhook: asking for the conference number again');
    sendTwiml(res, twiml.askRoomAgain(gather(attempt + 1), why));
  });

  return router;
}
