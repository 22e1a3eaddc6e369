/**
 * Dial-out: the administrator calls a number into a room, as Twilio's Conference Participants
 * resource does (POST .../Conferences/{Sid}/Participants.json), over Twilio's Calls resource.
 *
 *   POST /api/rooms/:id/participants {to, from?, label?, moderator?, timeoutSeconds?}
 *        -> 201 {id, callSid, room, to, from, label, moderator, status: "queued"}
 *   GET  /api/rooms/:id/dial-outs  -> {dialOuts: [...]}: the calls placed and not yet over or in the room
 *
 *   POST /voice/invited?d=ID&room=N&pass=P          Twilio's Url: the callee answered; "press 1 to join"
 *   POST /voice/invited/answer?d=ID&room=N&pass=P   the key pressed: 1 joins the room (no PIN), else goodbye
 *   POST /voice/dial-status?d=ID&room=N&pass=P      Twilio's StatusCallback: initiated, ringing, answered, completed
 *
 * The `pass` is HMAC-SHA256 (the join tickets' key) of "dialout.<id>.<room>": only the URLs this
 * server gave Twilio are answered, and the invitation (`d`, 16 random bytes) must be one this
 * process placed. The /voice routes sit behind voiceWebhooks' body parser and signature check
 * (mounted after it): with TWILIO_AUTH_TOKEN, which a dial-out needs, every request must also be
 * signed by Twilio. An invitation admits one call, the one Twilio placed for it.
 *
 * Twilio's progress events go to the operator as status callbacks named like Twilio's call
 * progress events: call-initiated, call-ringing, call-answered, and call-completed whose
 * CallStatus says how it ended (completed, busy, no-answer, failed, canceled); each is counted
 * (GET /health `dialOuts`) and logged.
 */
import { createHmac, randomBytes } from 'node:crypto';
import express, { type NextFunction, type Request, type Response } from 'express';
import { z } from 'zod';
import type { Config } from '../config.js';
import { AppError } from '../errors.js';
import type { Logger } from '../log.js';
import type { JoinTickets } from '../security/joinTicket.js';
import type { Admission, EntryResult } from '../rooms/admission.js';
import { sameSecret } from '../security/bearer.js';
import { publicBaseUrl, websocketUrl } from '../security/publicUrl.js';
import { systemClock, type Clock } from '../timing/clock.js';
import { type Dialer, TwilioRefusal } from './callControl.js';
import { isoTime, named, operation } from './apiContract.js';
import { existingRoomParam, type RoomParamDeps } from './roomParam.js';
import { sendError } from './sendError.js';
import * as twiml from './twiml.js';
import { MEDIA_PATH, originOf, STREAM_STATUS_PATH } from './webhooks.js';

/** Where a dial-out is: Twilio's CallStatus values, and `joined` once its stream is in the room. */
export type DialOutStatus = 'queued' | 'initiated' | 'ringing' | 'in-progress' | 'joined' | 'completed' | 'busy' | 'no-answer' | 'failed' | 'canceled';

const FINAL: ReadonlySet<DialOutStatus> = new Set(['completed', 'busy', 'no-answer', 'failed', 'canceled']);
/** Twilio's CallStatus values a status callback may carry. */
const CALL_STATUSES = ['queued', 'initiated', 'ringing', 'in-progress', 'completed', 'busy', 'no-answer', 'failed', 'canceled'] as const;
export type DialOutCallStatus = (typeof CALL_STATUSES)[number];

/** The status callback events a dial-out sends the operator (src/events/statusCallbacks.ts). */
export type DialOutEvent = 'call-initiated' | 'call-ringing' | 'call-answered' | 'call-completed';

export interface DialOut {
  /** The invitation's id (in the URLs given to Twilio). */
  readonly id: string;
  readonly room: string;
  readonly to: string;
  readonly from: string;
  readonly label?: string;
  readonly moderator: boolean;
  /** Twilio's CallSid, once Twilio answered the create (or its first webhook came). */
  callSid: string | null;
  status: DialOutStatus;
  /** Wall-clock ms. */
  readonly createdAtMs: number;
}

export interface DialOutTotals {
  placed: number;
  /** Twilio refused to place the call (the API answered TWILIO_REFUSED). */
  refused: number;
  ringing: number;
  answered: number;
  joined: number;
  completed: number;
  busy: number;
  noAnswer: number;
  failed: number;
  canceled: number;
}

export interface DialOutsOptions {
  /** The HMAC key of the passes (the join tickets' key, at least 32 bytes). */
  secret: Buffer;
  clock?: Clock;
  /** Told of each progress event Twilio reports, with its CallStatus (the status callbacks to the operator). */
  onEvent?: (event: DialOutEvent, d: DialOut, callStatus: DialOutCallStatus) => void;
}

/** Invitations kept at most; one not over after this long (ms) is forgotten (its callbacks never came). */
const MAX_DIAL_OUTS = 10_000;
const FORGET_AFTER_MS = 6 * 3600_000;

/** The dial-outs this process placed: their passes, statuses and counts (memory only). */
export class DialOuts {
  private readonly byId = new Map<string, DialOut>();
  private readonly clock: Clock;
  readonly totals: DialOutTotals = { placed: 0, refused: 0, ringing: 0, answered: 0, joined: 0, completed: 0, busy: 0, noAnswer: 0, failed: 0, canceled: 0 };

  constructor(private readonly options: DialOutsOptions) {
    if (options.secret.length < 32) throw new Error('dial-out secret must be at least 32 bytes');
    this.clock = options.clock ?? systemClock;
  }

  /** A new invitation (before Twilio is asked). */
  create(fields: { room: string; to: string; from: string; label?: string; moderator: boolean }): DialOut {
    const nowMs = this.clock.nowMs();
    for (const [id, d] of this.byId) if (d.createdAtMs + FORGET_AFTER_MS <= nowMs || this.byId.size >= MAX_DIAL_OUTS) this.byId.delete(id);
    const d: DialOut = { id: randomBytes(16).toString('base64url'), ...fields, callSid: null, status: 'queued', createdAtMs: nowMs };
    this.byId.set(d.id, d);
    return d;
  }

  /** The pass that goes with invitation `id` to `room` in the URLs given to Twilio. */
  pass(id: string, room: string): string {
    return createHmac('sha256', this.options.secret).update(`dialout.${id}.${room}`).digest('base64url').slice(0, 32);
  }

  /** The invitation the query names, when its pass is right and this process placed it. */
  find(query: Readonly<Record<string, unknown>>): DialOut | null {
    const { d: id, room, pass } = query;
    if (typeof id !== 'string' || typeof room !== 'string' || typeof pass !== 'string') return null;
    if (!sameSecret(pass, this.pass(id, room))) return null;
    const d = this.byId.get(id);
    return d && d.room === room ? d : null;
  }

  /** Twilio placed the call. */
  placed(d: DialOut, callSid: string): void {
    d.callSid ??= callSid;
    this.totals.placed++;
  }

  /** Twilio refused to place it: forgotten. */
  refused(d: DialOut): void {
    this.byId.delete(d.id);
    this.totals.refused++;
  }

  /** A status Twilio reported (its StatusCallback). Final ones forget the invitation. */
  progress(d: DialOut, status: DialOutCallStatus): void {
    if (FINAL.has(d.status)) return;
    const event: DialOutEvent | null =
      status === 'initiated' || status === 'queued'
        ? 'call-initiated'
        : status === 'ringing'
          ? 'call-ringing'
          : status === 'in-progress'
            ? 'call-answered'
            : FINAL.has(status)
              ? 'call-completed'
              : null;
    if (status === 'ringing') this.totals.ringing++;
    if (status === 'in-progress') this.totals.answered++;
    if (status === 'completed') this.totals.completed++;
    if (status === 'busy') this.totals.busy++;
    if (status === 'no-answer') this.totals.noAnswer++;
    if (status === 'failed') this.totals.failed++;
    if (status === 'canceled') this.totals.canceled++;
    // A stream in the room outranks "in-progress" (they may come in either order).
    if (!(d.status === 'joined' && status === 'in-progress')) d.status = status;
    if (FINAL.has(status)) this.byId.delete(d.id);
    if (event) this.options.onEvent?.(event, d, status);
  }

  /** A participant joined a room: when it is a dial-out's call, that dial-out is done waiting. */
  joined(callSid: string): void {
    for (const d of this.byId.values()) {
      if (d.callSid === callSid && d.status !== 'joined') {
        d.status = 'joined';
        this.totals.joined++;
      }
    }
  }

  /** The dial-outs of `room` still ringing or answered but not in the room, oldest first. */
  pending(room: string): DialOut[] {
    return [...this.byId.values()].filter((d) => d.room === room && d.status !== 'joined');
  }
}

const e164 = z.string().regex(/^\+[1-9][0-9]{1,14}$/, 'a phone number in E.164 form, e.g. +15005550006');
const createBody = z.strictObject({
  to: e164,
  from: e164.optional(),
  label: z.string().trim().min(1).max(100).optional(),
  moderator: z.boolean().optional(),
  /** Twilio's Timeout: 5 to 600 s (Twilio's limits), 60 by default (Twilio's). */
  timeoutSeconds: z.number().int().min(5).max(600).optional(),
});

const dialOutView = named(
  'DialOut',
  z.object({
    id: z.string(),
    callSid: z.string().nullable(),
    room: z.string(),
    to: z.string(),
    from: z.string(),
    label: z.string().nullable(),
    moderator: z.boolean(),
    status: z.enum(['queued', 'initiated', 'ringing', 'in-progress', 'joined', 'completed', 'busy', 'no-answer', 'failed', 'canceled']),
    createdAt: isoTime,
  }),
  "A number called into a room, and where the call is (Twilio's CallStatus, or `joined`).",
);
const listAnswer = named('DialOutList', z.object({ dialOuts: z.array(dialOutView) }));

/** The routes of dialOutApi, in the admin API's contract (src/http/apiContract.ts). */
export const dialOutContract = [
  operation('post', '/rooms/:id/participants', 'dialOut', 'Call a number into the room (Twilio REST)', {
    body: createBody,
    responses: { 201: dialOutView },
    errors: ['NOT_FOUND', 'TWILIO_NOT_CONFIGURED', 'TWILIO_REFUSED'],
  }),
  operation('get', '/rooms/:id/dial-outs', 'listDialOuts', 'The numbers called into the room and not yet in it', {
    responses: { 200: listAnswer },
    errors: ['NOT_FOUND'],
  }),
];

const view = (d: DialOut): z.infer<typeof dialOutView> => ({
  id: d.id,
  callSid: d.callSid,
  room: d.room,
  to: d.to,
  from: d.from,
  label: d.label ?? null,
  moderator: d.moderator,
  status: d.status,
  createdAt: new Date(d.createdAtMs).toISOString(),
});

/** Also what the room lookup needs (directory, seats, isLive, roomNumberMaxDigits). */
export interface DialOutApiDeps extends RoomParamDeps {
  /** Undefined without Twilio credentials: POST answers TWILIO_NOT_CONFIGURED. */
  dialer: Dialer | undefined;
  dialOuts: DialOuts;
  /** PUBLIC_URL, for the URLs given to Twilio; else derived from the request as the webhooks do. */
  publicUrl: string | undefined;
  /** This node's public path prefix ('' for one process): Twilio's webhooks must come back here. */
  nodePublicPrefix: string;
  /** TWILIO_CALLER_ID: `from` when the request names none. */
  callerId: string | undefined;
  log: Logger;
}

/** The dial-out routes of the admin API (behind its bearer token and JSON parser). */
export function dialOutApi(deps: DialOutApiDeps): express.Router {
  const router = express.Router();
  const roomOf = existingRoomParam(deps);

  router.post(
    '/rooms/:id/participants',
    route(async (req, res) => {
      const room = await roomOf(req);
      /** A refusal: one warn line, then the catalog's answer. */
      const refuse = (error: AppError): never => {
        deps.log.warn({ room, code: error.code }, `admin: dial-out refused: ${error.message}`);
        throw error;
      };
      const parsed = createBody.safeParse(req.body);
      if (!parsed.success) {
        const issue = parsed.error.issues[0]!;
        return refuse(new AppError('BAD_REQUEST', `${issue.path.join('.') || 'body'}: ${issue.message}`));
      }
      const body = parsed.data;
      if (!deps.dialer) return refuse(new AppError('TWILIO_NOT_CONFIGURED'));
      const from = body.from ?? deps.callerId;
      if (!from) return refuse(new AppError('BAD_REQUEST', 'from: no caller ID: send "from" (a number of your Twilio account) or set TWILIO_CALLER_ID'));
      const d = deps.dialOuts.create({ room, to: body.to, from, moderator: body.moderator ?? false, ...(body.label ? { label: body.label } : {}) });
      const query = `d=${d.id}&room=${room}&pass=${deps.dialOuts.pass(d.id, room)}`;
      const base = publicBaseUrl(deps.publicUrl, originOf(req)) + deps.nodePublicPrefix;
      try {
        const placed = await deps.dialer.call({
          to: d.to,
          from,
          url: `${base}/voice/invited?${query}`,
          statusCallback: `${base}/voice/dial-status?${query}`,
          statusCallbackEvent: ['initiated', 'ringing', 'answered', 'completed'],
          timeoutSeconds: body.timeoutSeconds ?? 60,
        });
        deps.dialOuts.placed(d, placed.callSid);
        deps.log.info({ room, callSid: d.callSid, to: d.to, moderator: d.moderator, dialOut: d.id }, 'admin: calling a number into the room');
        res.status(201).json(view(d));
      } catch (error) {
        deps.dialOuts.refused(d);
        const refusal = error instanceof TwilioRefusal ? error : new TwilioRefusal(String(error), undefined, undefined);
        deps.log.warn({ room, to: d.to, twilioStatus: refusal.status, twilioCode: refusal.code, err: refusal.message }, 'admin: Twilio did not place the call');
        const code = refusal.code !== undefined ? ` (Twilio error ${refusal.code})` : '';
        throw new AppError('TWILIO_REFUSED', `Twilio did not place the call to ${d.to}${code}: ${refusal.message.slice(0, 300)}`);
      }
    }),
  );

  router.get(
    '/rooms/:id/dial-outs',
    route(async (req, res) => {
      const room = await roomOf(req);
      res.json({ dialOuts: deps.dialOuts.pending(room).map(view) } satisfies z.infer<typeof listAnswer>);
    }),
  );
  return router;
}

export interface DialOutWebhookDeps {
  config: Readonly<Config>;
  admission: Admission;
  dialOuts: DialOuts;
  log: Logger;
  /** False once the server is shutting down: the invitation answers twiml/restarting.xml. */
  isAdmitting?: () => boolean;
  /** Signs the callee's rejoin pass (its <Connect action>, as every call's). */
  tickets: JoinTickets;
}

/**
 * The webhooks of a dial-out's call. Mounted after voiceWebhooks, whose `/voice` middleware parses
 * the form and checks X-Twilio-Signature for these paths too.
 */
export function dialOutWebhooks({ config, admission, dialOuts, log, tickets, isAdmitting = () => true }: DialOutWebhookDeps): express.Router {
  const router = express.Router();
  const prefix = config.nodePublicPrefix;
  const sendTwiml = (res: Response, xml: string) => res.type('text/xml').send(xml);

  /** The invitation a request is for, and its CallSid; null after answering (goodbye, or 400). */
  const invitationOf = (req: Request, res: Response): { d: DialOut; callSid: string } | null => {
    const callSid = req.body?.CallSid;
    if (typeof callSid !== 'string' || !/^[A-Za-z0-9]{1,64}$/.test(callSid)) {
      log.warn({ path: req.path }, 'dial-out webhook: request without a valid CallSid');
      sendError(res, 'BAD_REQUEST', 'missing CallSid (this endpoint is for Twilio voice webhooks)');
      return null;
    }
    const d = dialOuts.find(req.query);
    // Only the call Twilio placed for this invitation (its CallSid came with the create's answer).
    if (!d || (d.callSid !== null && d.callSid !== callSid)) {
      log.warn({ callSid, path: req.path, known: Boolean(d) }, 'dial-out webhook: no such invitation, or another call; goodbye');
      sendTwiml(res, twiml.invitedGoodbye());
      return null;
    }
    d.callSid ??= callSid;
    return { d, callSid };
  };
  const query = (d: DialOut) => `d=${d.id}&room=${d.room}&pass=${dialOuts.pass(d.id, d.room)}`;

  router.post(['/voice/invited', '/voice/invited/answer'], (req, res, next) => {
    if (isAdmitting()) return next();
    log.info({ path: req.path }, 'dial-out webhook: shutting down; asking the callee to call again');
    sendTwiml(res, twiml.restarting());
  });

  router.post('/voice/invited', (req, res) => {
    const found = invitationOf(req, res);
    if (!found) return;
    const { d, callSid } = found;
    log.info({ callSid, room: d.room, dialOut: d.id }, 'dial-out: the callee answered; inviting them');
    sendTwiml(res, twiml.invited({ room: d.room, action: `${prefix}/voice/invited/answer?${query(d)}`, timeoutSeconds: config.gatherTimeoutSeconds }));
  });

  router.post(
    '/voice/invited/answer',
    route(async (req, res) => {
      const found = invitationOf(req, res);
      if (!found) return;
      const { d, callSid } = found;
      const digits = typeof req.body.Digits === 'string' ? req.body.Digits : '';
      if (digits !== '1') {
        log.info({ callSid, room: d.room, pressed: digits.slice(0, 4) || 'nothing' }, 'dial-out: the callee did not press 1; goodbye');
        sendTwiml(res, twiml.invitedGoodbye());
        return;
      }
      const role = { ...(d.moderator ? { moderator: true } : {}), ...(d.label ? { label: d.label } : {}) };
      const result = await admission.enterInvited(d.room, { callSid, from: d.to, ...role });
      answer(req, res, callSid, result);
    }),
  );

  /** Admission's answer as TwiML, as the dial-in webhooks answer it: the stream's end goes to /voice/rejoin. */
  const answer = (req: Request, res: Response, callSid: string, result: EntryResult) => {
    const room = result.roomId;
    if (result.kind === 'admitted') {
      const base = publicBaseUrl(config.publicUrl, originOf(req));
      const streamUrl = websocketUrl(base, `${prefix}${MEDIA_PATH}`);
      log.info({ callSid, room, seat: result.seat }, 'dial-out: the callee pressed 1; connecting them to the room');
      const action = `/voice/rejoin?room=${room}&n=0&pass=${tickets.rejoinPass(callSid, room, 0)}`;
      return sendTwiml(
        res,
        twiml.connect({
          streamUrl,
          streamStatusUrl: `${base}${STREAM_STATUS_PATH}`,
          room,
          seat: result.seat,
          ticket: result.ticket,
          action,
          announceSeat: true,
        }),
      );
    }
    const reason = result.kind === 'refused' ? result.reason : result.kind;
    log.info({ callSid, room, reason }, 'dial-out: the room refused the callee');
    if (reason === 'overloaded') return sendTwiml(res, twiml.busy());
    if (reason === 'room-full' || reason === 'server-full' || reason === 'too-many-rooms') return sendTwiml(res, twiml.conferenceFull());
    return sendTwiml(res, twiml.goodbye());
  };

  router.post('/voice/dial-status', (req, res) => {
    const d = dialOuts.find(req.query);
    const status: unknown = req.body?.CallStatus;
    const callSid: unknown = req.body?.CallSid;
    if (!d || typeof callSid !== 'string' || (d.callSid !== null && d.callSid !== callSid)) {
      // Late (the invitation is over) or not ours: nothing to report, and nothing for Twilio to retry.
      log.debug({ path: req.path }, 'dial-out status: no such invitation (over already)');
      return res.status(204).end();
    }
    if (!CALL_STATUSES.includes(status as (typeof CALL_STATUSES)[number])) {
      log.warn({ callSid, status: String(status).slice(0, 40) }, "dial-out status refused: CallStatus is not one of Twilio's");
      return sendError(res, 'BAD_REQUEST', `CallStatus: expected one of ${CALL_STATUSES.join(', ')}`);
    }
    d.callSid ??= callSid;
    dialOuts.progress(d, status as (typeof CALL_STATUSES)[number]);
    log.info({ callSid, room: d.room, to: d.to, status }, `dial-out: Twilio reports the call ${status}`);
    res.status(204).end();
  });

  return router;
}

/** Express 5 passes rejected promises to the error handler; this only types the handler. */
function route(handler: (req: Request, res: Response) => Promise<void>) {
  return (req: Request, res: Response, next: NextFunction) => handler(req, res).catch(next);
}
