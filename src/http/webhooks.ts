/**
 * Twilio Voice webhooks: the conference-number prompt, the PIN prompt, and the answer that
 * connects the call's audio to the media endpoint. Handlers only gather inputs and pick a TwiML
 * answer; every decision about entering a room is admission's (src/rooms/admission.ts).
 *
 *   POST /voice             new call: ask for the number (or ?room=N: straight to admission;
 *                           &restart=pin: back from a restart, the PIN prompt says why it asks again)
 *   POST /voice/room        the number keyed: admission -> PIN prompt / connect / refusal
 *   POST /voice/pin?room=N  the PIN keyed: admission -> connect / ask again / goodbye
 *   POST /voice/rejoin?room=N&n=K&pass=P  the call's stream ended: goodbye, or the room again
 *   POST /voice/stream-status  Twilio's <Stream statusCallback>: stream started / stopped / error, counted
 *
 * Every <Connect> has an action: when the stream ends Twilio asks /voice/rejoin, which says
 * goodbye to a call that left on purpose and otherwise sends it back to its room (no PIN: the
 * pass proves it was admitted; no seat announcement), REJOIN_ATTEMPTS times at most. While one
 * process shuts down with RESTART_PAUSE_SECONDS, a rejoin is answered with that pause and a
 * redirect to itself (&restart=1): the next process takes the call back with its seat, mute, hold
 * and volume (src/rooms/callStates.ts), and a restart does not count as an attempt. A caller in
 * a prompt (/voice, /voice/room, /voice/pin) hears the same pause and is redirected to
 * /voice?room=N&restart=1 (the number it keyed) or, after a PIN, &restart=pin: the next process asks
 * for the PIN again, saying why (a PIN never travels in a URL).
 *
 * In a cluster (REDIS_URL), before admission the room's owner is resolved; when it is
 * another node the answer is a <Redirect> to that node's public prefix (/p/<k>/voice?room=N), so
 * admission, the PIN and the stream all happen on the node that mixes the room; a rejoin goes to
 * the room's owner now (another node when its node died).
 *
 * With TWILIO_AUTH_TOKEN every request must carry Twilio's signature (checked by the
 * plain function in src/security/twilioSignature.ts over the public URL and every parameter);
 * while the server shuts down every other webhook answers twiml/restarting.xml.
 */
import express, { type Request, type Response } from 'express';
import type { Config } from '../config.js';
import { parseStreamStatus, TwilioStreamEvents } from '../events/twilioStreamEvents.js';
import { isValidRoomNumber } from '../rooms/roomNumber.js';
import type { Logger } from '../log.js';
import type { Admission, EntryResult, PinResult } from '../rooms/admission.js';
import type { CallStates, KeptCall } from '../rooms/callStates.js';
import { LocalOwnership, type CallOutcomes, type RoomOwnership } from '../rooms/ownership.js';
import { PIN_MAX_DIGITS } from '../rooms/pin.js';
import type { JoinTickets } from '../security/joinTicket.js';
import { checkWebhookSignature, webhookUrl } from '../security/twilioSignature.js';
import { publicBaseUrl, websocketUrl, type RequestOrigin } from '../security/publicUrl.js';
import { sendError } from './sendError.js';
import * as twiml from './twiml.js';

export interface WebhookDeps {
  config: Readonly<Config>;
  admission: Admission;
  log: Logger;
  /** False once the server is shutting down: every webhook answers twiml/restarting.xml. */
  isAdmitting?: () => boolean;
  /** Which node mixes which room (default: this process, every room). */
  ownership?: RoomOwnership;
  /** Calls that ended on purpose (their rejoin hears a goodbye). */
  outcomes: CallOutcomes;
  /** Signs the rejoin passes. */
  tickets: JoinTickets;
  /** What each call had in its room, for its rejoin. */
  callStates?: CallStates;
  /**
   * Ends a call's stream here, as if its socket had closed (true when it was open). A rejoin asks
   * once the stream has ended at Twilio, which can be before this process sees the socket close.
   */
  endStream?: (callSid: string) => boolean;
  /**
   * One process that calls survive: while it shuts down, a rejoin hears this many seconds of
   * silence and comes back to the next process. 0 (a cluster, or no database file): restarting.xml.
   */
  restartPauseSeconds?: number;
  /** Told of each rejoin answered while shutting down (the server waits for them before it exits). */
  onShutdownRejoin?: (callSid: string) => void;
  /** Where Twilio's stream events (POST /voice/stream-status) are counted. */
  streamEvents?: TwilioStreamEvents;
}

/** Twilio's CallStatus values of a call that is over. */
const ENDED_CALL_STATUSES = new Set(['completed', 'canceled', 'failed', 'busy', 'no-answer']);

/** Redirects between nodes for one webhook before the answer is "try again" (a placement race settles in one). */
const MAX_HOPS = 3;

/** What publicUrl.ts needs of a request, from Express. */
export function originOf(req: Request): RequestOrigin {
  return { protocol: req.protocol, host: req.get('host'), forwardedProto: req.get('x-forwarded-proto'), forwardedHost: req.get('x-forwarded-host') };
}

/** The path of the media endpoint, as it appears in the stream URL. */
export const MEDIA_PATH = '/media';
/** The <Stream statusCallback> path: no node prefix, any node counts it. */
export const STREAM_STATUS_PATH = '/voice/stream-status';

export function voiceWebhooks({
  config,
  admission,
  log,
  isAdmitting = () => true,
  ownership = new LocalOwnership(),
  outcomes,
  tickets,
  callStates,
  endStream,
  restartPauseSeconds = 0,
  onShutdownRejoin,
  streamEvents = new TwilioStreamEvents(),
}: WebhookDeps): express.Router {
  const clustered = ownership.clustered;
  /** This node's public path prefix ('' for one process): where its streams and PIN prompts go. */
  const ownPrefix = config.nodePublicPrefix;
  /** The proxy's X-Forwarded-Prefix, believed only when it names this node's own prefix. */
  const prefixOf = (req: Request): string => (ownPrefix !== '' && req.get('x-forwarded-prefix') === ownPrefix ? ownPrefix : '');
  const router = express.Router();
  router.use('/voice', express.urlencoded({ extended: false, limit: '32kb', parameterLimit: 200 }));
  // With TWILIO_AUTH_TOKEN, only requests Twilio signed get past here (missing: 400, wrong: 403,
  // one warn line each). Without it: development mode, said at start and in /health.
  const authToken = config.twilioAuthToken;
  if (authToken) {
    router.use('/voice', (req, res, next) => {
      const url = webhookUrl(config.publicUrl, originOf(req), prefixOf(req) + req.originalUrl);
      const params = req.body && typeof req.body === 'object' ? (req.body as Record<string, string | string[]>) : {};
      const verdict = checkWebhookSignature(authToken, req.get('x-twilio-signature'), url, params);
      if (verdict.ok) return next();
      // The URL it was checked over is what an operator needs to see a proxy/PUBLIC_URL mismatch.
      log.warn(
        { path: req.path, url: url.slice(0, 200), remote: req.socket.remoteAddress, reason: verdict.reason },
        `webhook refused: X-Twilio-Signature ${verdict.reason === 'missing' ? 'missing' : 'does not match'}`,
      );
      // Not a Twilio webhook, so JSON (the catalog's answer), not TwiML.
      if (verdict.reason === 'missing') return sendError(res, 'SIGNATURE_MISSING', 'missing X-Twilio-Signature (this endpoint is for Twilio voice webhooks)');
      return sendError(res, 'SIGNATURE_INVALID', 'X-Twilio-Signature does not match this request');
    });
  }
  // Shutting down: no new callers and no next prompt; a polite "call again" instead.
  router.post(['/voice', '/voice/room', '/voice/pin', '/voice/rejoin'], async (req, res, next) => {
    if (isAdmitting()) return next();
    const callSid = typeof req.body?.CallSid === 'string' ? req.body.CallSid.slice(0, 64) : undefined;
    if (req.path === '/voice/rejoin' && callSid) {
      const again = req.originalUrl.slice(req.originalUrl.indexOf('/voice/rejoin'));
      if (clustered) {
        // A node going down: the call goes on, through another node (the proxy picks one in a second).
        log.info({ callSid }, 'webhook: shutting down; the rejoining call asks again in a second');
        return sendTwiml(res, twiml.rejoinWait(again, 1));
      }
      // Told once the answer is out: the server then stops, and this connection is idle by then.
      res.once('finish', () => setImmediate(() => onShutdownRejoin?.(callSid)));
      if (restartPauseSeconds > 0 && !(await endedOnPurpose(callSid))) {
        // One process restarting: the call waits in silence and comes back to the next process.
        log.info({ callSid, pauseSeconds: restartPauseSeconds }, 'webhook: restarting; the call rejoins the next process after a pause');
        return sendTwiml(res, twiml.rejoinWait(/[?&]restart=1(&|$)/.test(again) ? again : `${again}&restart=1`, restartPauseSeconds));
      }
    }
    if (callSid && !clustered && restartPauseSeconds > 0 && req.path !== '/voice/rejoin') {
      // One process restarting, a caller in a prompt: the same pause, then the next process goes on
      // from what was typed (the room number; never a PIN: it is asked again).
      const next = promptAfterRestart(req);
      log.info(
        { callSid, path: req.path, next, pauseSeconds: restartPauseSeconds },
        'webhook: restarting; the caller goes on with the next process after a pause',
      );
      return sendTwiml(res, twiml.rejoinWait(next, restartPauseSeconds));
    }
    log.info({ callSid, path: req.path }, 'webhook: shutting down; asking the caller to call again');
    sendTwiml(res, twiml.restarting());
  });

  /**
   * Where a caller in a prompt goes on, with the next process: the room number it keyed (or its
   * ?room=) travels in the URL, which Twilio signs; a PIN never does (URLs are logged by proxies
   * and by Twilio): `restart=pin` has the next process ask for it again, saying why.
   */
  const promptAfterRestart = (req: Request): string => {
    const digits = typeof req.body?.Digits === 'string' ? req.body.Digits : '';
    const queryRoom = req.query['room'];
    const max = config.roomNumberMaxDigits;
    if (req.path === '/voice/room' && isValidRoomNumber(digits, max)) return `/voice?room=${digits}&restart=1`;
    if (req.path === '/voice/pin' && isValidRoomNumber(queryRoom, max)) return `/voice?room=${queryRoom}&restart=pin`;
    if (req.path === '/voice' && isValidRoomNumber(queryRoom, max)) return `/voice?room=${queryRoom}&restart=${req.query['restart'] === 'pin' ? 'pin' : '1'}`;
    return '/voice?restart=1';
  };

  const gather = (attempt: number): twiml.GatherParams => ({
    action: `/voice/room?attempt=${attempt}`,
    timeoutSeconds: config.gatherTimeoutSeconds,
    maxDigits: config.roomNumberMaxDigits,
  });
  const gatherPin = (room: string): twiml.GatherParams => ({
    // On a cluster, the PIN goes straight back to this node (it owns the room).
    action: `${ownPrefix}/voice/pin?room=${room}`,
    timeoutSeconds: config.gatherTimeoutSeconds,
    maxDigits: PIN_MAX_DIGITS,
  });

  const sendTwiml = (res: Response, xml: string) => res.type('text/xml').send(xml);

  /** The rejoin webhook's URL for `callSid` in `room` after `count` rejoins (relative: any node). */
  const rejoinUrl = (callSid: string, room: string, count: number) => `/voice/rejoin?room=${room}&n=${count}&pass=${tickets.rejoinPass(callSid, room, count)}`;

  /** True (once) when `callSid` ended on purpose; a store that cannot answer says no (the call rejoins). */
  const endedOnPurpose = async (callSid: string): Promise<boolean> => {
    try {
      return await outcomes.takeEnded(callSid);
    } catch (error) {
      log.warn({ callSid, err: error }, 'webhook: could not read whether the call ended on purpose; rejoining it');
      return false;
    }
  };

  /**
   * On a cluster: the epoch of this node's lease on `room`, or null after answering a redirect to
   * the owner (`path` on its prefix) or a "try again". One process: always 0.
   */
  const ownRoom = async (
    req: Request,
    res: Response,
    callSid: string,
    room: string,
    path: string,
    unavailable: () => string,
    suspectOwner = false,
  ): Promise<number | null> => {
    if (!clustered) return 0;
    const hop = Number(req.query['hop']) || 0;
    let resolution: Awaited<ReturnType<RoomOwnership['resolve']>>;
    try {
      resolution = await ownership.resolve(room, { suspectOwner });
    } catch (error) {
      resolution = { kind: 'unavailable', why: error instanceof Error ? error.message : String(error) };
    }
    if (resolution.kind === 'self') return resolution.epoch;
    if (resolution.kind === 'remote' && hop < MAX_HOPS) {
      const url = `${resolution.node.publicPrefix}${path}${path.includes('?') ? '&' : '?'}hop=${hop + 1}`;
      log.info({ callSid, room, owner: resolution.node.id, url }, 'webhook: the room is mixed by another node; redirecting the call there');
      sendTwiml(res, twiml.redirect(url));
      return null;
    }
    const why = resolution.kind === 'remote' ? `still moving after ${hop} redirects` : resolution.why;
    log.warn({ callSid, room, why }, 'webhook: no node can take the room now');
    sendTwiml(res, unavailable());
    return null;
  };

  /** Turns admission's answer into TwiML (and one log line). `rejoins`: rejoins so far. */
  const answer = (req: Request, res: Response, callSid: string, result: EntryResult | PinResult, attempt: number, rejoins = 0, rejoin = false) => {
    const room = result.roomId;
    switch (result.kind) {
      case 'admitted': {
        const base = publicBaseUrl(config.publicUrl, originOf(req));
        const streamUrl = websocketUrl(base, `${ownPrefix}${MEDIA_PATH}`);
        const connect = { streamUrl, streamStatusUrl: `${base}${STREAM_STATUS_PATH}`, room, seat: result.seat, ticket: result.ticket };
        log.info({ callSid, room, seat: result.seat, streamUrl, rejoins: rejoins || undefined }, 'webhook: admitted; connecting call to room');
        const action = rejoinUrl(callSid, room, rejoins);
        return sendTwiml(res, twiml.connect({ ...connect, action, announceSeat: !rejoin }));
      }
      case 'pin-required':
        log.info({ callSid, room, moderatorOnly: result.moderatorOnly }, 'webhook: room has a PIN; asking for it');
        return sendTwiml(res, result.moderatorOnly ? twiml.askModeratorPin(gatherPin(room)) : twiml.askPin(gatherPin(room)));
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
        if (result.reason === 'overloaded') return sendTwiml(res, twiml.busy());
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
    sendError(res, 'BAD_REQUEST', 'missing CallSid (this endpoint is for Twilio voice webhooks)');
    return null;
  };
  const fromOf = (req: Request): string | undefined => (typeof req.body?.From === 'string' && req.body.From.length <= 64 ? req.body.From : undefined);

  router.post('/voice', async (req, res) => {
    const callSid = callSidOf(req, res);
    if (!callSid) return;
    const room = req.query['room'];
    // Sent on by a process that was restarting while this caller was in a prompt (any value: a
    // call this process never saw is answered as a new one; 'pin': the PIN it keyed is asked again).
    const restart = req.query['restart'];
    if (restart !== undefined)
      log.info({ callSid, room: typeof room === 'string' ? room.slice(0, 40) : undefined }, 'webhook: a caller back from a restart of the server');
    if (room !== undefined) {
      if (isValidRoomNumber(room, config.roomNumberMaxDigits)) {
        const epoch = await ownRoom(req, res, callSid, room, `/voice?room=${room}`, twiml.restarting);
        if (epoch === null) return;
        const result = await admission.enter(room, { callSid, from: fromOf(req), epoch });
        if (restart === 'pin' && result.kind === 'pin-required') {
          log.info({ callSid, room, moderatorOnly: result.moderatorOnly }, 'webhook: back after a restart before the PIN was checked; asking for it again');
          return sendTwiml(res, twiml.askPinAfterRestart(gatherPin(room), result.moderatorOnly === true));
        }
        return answer(req, res, callSid, result, config.promptAttempts);
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
      const epoch = await ownRoom(req, res, callSid, digits, `/voice?room=${digits}`, twiml.restarting);
      if (epoch === null) return;
      return answer(req, res, callSid, await admission.enter(digits, { callSid, from: fromOf(req), epoch }), attempt);
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
    // The room moved between the prompt and the PIN (rare): the new owner asks for it again.
    const epoch = await ownRoom(req, res, callSid, room, `/voice?room=${room}`, twiml.restarting);
    if (epoch === null) return;
    // Nothing keyed counts as a wrong try (or the prompt could go round forever).
    const result = await admission.enterWithPin(room, { callSid, from: fromOf(req), epoch }, /^[0-9]{1,32}$/.test(digits) ? digits : '');
    if (result.kind === 'wrong-pin' && result.attemptsLeft > 0 && digits === '') {
      log.info({ callSid, room, attemptsLeft: result.attemptsLeft }, 'webhook: no PIN keyed; asking again');
      return sendTwiml(res, twiml.askPinAgain(gatherPin(room), 'no-input'));
    }
    answer(req, res, callSid, result, config.promptAttempts);
  });

  // Twilio's <Stream statusCallback> (connect.xml): its own view of each stream, signed like every
  // webhook above. Counted (/metrics, /health); an error is one warn line with Twilio's code.
  // Answered also while shutting down: the streams stopping then are what it reports.
  router.post(STREAM_STATUS_PATH, (req, res) => {
    const parsed = parseStreamStatus(req.body && typeof req.body === 'object' ? req.body : {});
    if (!parsed.ok) {
      log.warn({ path: req.path, why: parsed.why }, 'stream status callback refused: not a Twilio stream event');
      return sendError(res, 'BAD_REQUEST', `${parsed.why} (this endpoint is for Twilio's <Stream statusCallback>)`);
    }
    const status = parsed.status;
    streamEvents.record(status);
    const fields = { callSid: status.callSid, streamSid: status.streamSid, event: status.event };
    if (status.event === 'stream-error') {
      log.warn({ ...fields, errorCode: status.errorCode, error: status.error }, `Twilio reports a media stream error (${status.errorCode})`);
    } else {
      log.debug(fields, `Twilio reports ${status.event}`);
    }
    res.status(204).end();
  });

  // Every <Connect>'s action. Twilio asks it whenever the call's stream ended.
  router.post('/voice/rejoin', async (req, res) => {
    const callSid = callSidOf(req, res);
    if (!callSid) return;
    const room = req.query['room'];
    const count = Number(req.query['n']);
    if (
      !isValidRoomNumber(room, config.roomNumberMaxDigits) ||
      !Number.isInteger(count) ||
      count < 0 ||
      !tickets.rejoinPassValid(req.query['pass'], callSid, room, count)
    ) {
      log.warn({ callSid, room: String(room ?? '').slice(0, 40) }, 'webhook: rejoin without a valid pass; saying goodbye');
      return sendTwiml(res, twiml.left());
    }
    if (await endedOnPurpose(callSid)) {
      log.info({ callSid, room }, 'webhook: the call left the conference; goodbye');
      return sendTwiml(res, twiml.left());
    }
    // The caller hung up (Twilio reports the action all the same): no seat for a call that is over.
    if (ENDED_CALL_STATUSES.has(String(req.body?.CallStatus))) {
      log.info({ callSid, room, callStatus: req.body.CallStatus }, 'webhook: the call is over; nothing to rejoin');
      return sendTwiml(res, twiml.left());
    }
    // Back from a restart of the server (not a fault of the call's): not counted as an attempt.
    const restart = req.query['restart'] === '1';
    if (!restart && count >= config.rejoinAttempts) {
      log.warn({ callSid, room, rejoins: count }, 'webhook: out of rejoin attempts; apologising');
      return sendTwiml(res, twiml.rejoinFailed());
    }
    const rejoins = restart ? count : count + 1;
    const here = rejoinUrl(callSid, room, count) + (restart ? '&restart=1' : '');
    // The stream dropped: its node may have died a moment ago (heartbeat still fresh), so ask it.
    const epoch = await ownRoom(req, res, callSid, room, here, () => twiml.rejoinWait(rejoinUrl(callSid, room, count + 1), 1), true);
    if (epoch === null) return;
    // Its old stream still open here: ended now, so its state is kept and its seat free for this rejoin.
    if (endStream?.(callSid)) log.info({ callSid, room }, "webhook: the call's old stream was still open here; ended it for the rejoin");
    let kept: KeptCall | null = null;
    try {
      kept = (await callStates?.takeAnywhere(callSid, room)) ?? null;
    } catch (error) {
      log.warn({ callSid, err: error }, "webhook: could not read the call's kept state; it rejoins afresh");
    }
    log.info(
      { callSid, room, rejoins, epoch, restart: restart || undefined, seat: kept?.seat, muted: kept?.state.muted || undefined },
      restart ? 'webhook: the call is back after a restart; rejoining it to its room' : "webhook: the call's stream dropped; rejoining it to its room",
    );
    const result = await admission.enterRejoin(room, { callSid, from: fromOf(req), epoch }, kept ?? undefined);
    answer(req, res, callSid, result, config.promptAttempts, rejoins, true);
  });

  return router;
}
