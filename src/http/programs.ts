/**
 * Programs as participants (issue 18): an administrator admits a program (an AI agent, a
 * transcriber, a recorder, an announcer) into a room; it then joins over a WebSocket like any call.
 *
 *   POST /api/rooms/:id/programs  {label, role?: "talker"|"listener", format?: "mulaw"|"pcm16-8k"|"pcm16-16k", ttlSeconds?}
 *     -> 201 {room, seat, callSid, streamSid, accountSid, ticket, url, role, format, expiresAt, mediaFormat}
 *
 * The answer is what the program's `start` must carry: the ticket (single use, signed, expiring,
 * bound to this callSid) as customParameters.ticket, and `mediaFormat` as its ticket says. The
 * program takes a seat and counts against the room's and the server's limits like any caller; an
 * unused ticket frees its seat when it expires. A listener is muted for good: it hears the room and
 * is never heard. The administrator's choice stands for the room's PIN and lock (as for a dial-out).
 */
import { randomBytes } from 'node:crypto';
import express, { type NextFunction, type Request, type Response } from 'express';
import { z } from 'zod';
import { STREAM_FORMATS, streamRateHz, type StreamFormat } from '../audio/format.js';
import { AppError, type HttpErrorCode } from '../errors.js';
import type { Logger } from '../log.js';
import type { Admission, Refusal } from '../rooms/admission.js';
import type { RoomOwnership } from '../rooms/ownership.js';
import { publicBaseUrl } from '../security/publicUrl.js';
import { isoTime, named, operation } from './apiContract.js';
import { existingRoomParam, type RoomParamDeps } from './roomParam.js';
import { MEDIA_PATH, originOf } from './webhooks.js';

/** The accountSid a program's stream carries (no Twilio account is involved). */
export const PROGRAM_ACCOUNT_SID = 'ACprogram';
/** A program's ticket is good for this long unless it asks (s); at most PROGRAM_MAX_TTL_SECONDS. */
export const PROGRAM_TICKET_TTL_SECONDS = 30;
export const PROGRAM_MAX_TTL_SECONDS = 3600;

/** The body of POST /api/rooms/:id/programs (exported for the OpenAPI document). */
export const programTicketBody = z.strictObject({
  label: z.string().trim().min(1).max(100),
  role: z.enum(['talker', 'listener']).default('talker'),
  format: z.enum(STREAM_FORMATS as [StreamFormat, ...StreamFormat[]]).default('mulaw'),
  ttlSeconds: z.number().int().min(1).max(PROGRAM_MAX_TTL_SECONDS).default(PROGRAM_TICKET_TTL_SECONDS),
});

/** The mediaFormat a program's `start` declares for `format`. */
export function mediaFormatOf(format: StreamFormat): { encoding: string; sampleRate: number; channels: 1 } {
  return { encoding: format === 'mulaw' ? 'audio/x-mulaw' : 'audio/L16', sampleRate: streamRateHz(format), channels: 1 };
}

/** Also what the room lookup needs (directory, seats, isLive, roomNumberMaxDigits). */
export interface ProgramsApiDeps extends RoomParamDeps {
  admission: Admission;
  /** PUBLIC_URL, for the WebSocket URL; else derived from the request as the webhooks do. */
  publicUrl: string | undefined;
  /** A cluster: this node's public path prefix (NODE_PUBLIC_PREFIX), so the stream reaches the node that mixes the room. */
  nodePublicPrefix: string;
  /**
   * Which node mixes the room (one process: this one, epoch 0). In a cluster the ticket carries this
   * node's lease epoch, as a caller's does, or the stream is refused at `start`.
   */
  ownership: Pick<RoomOwnership, 'resolve'>;
  log: Logger;
}

const REFUSALS: Record<Refusal, HttpErrorCode> = {
  'not-found': 'NOT_FOUND',
  locked: 'LOCKED',
  'room-full': 'ROOM_FULL',
  'server-full': 'SERVER_FULL',
  'too-many-rooms': 'TOO_MANY_ROOMS',
  overloaded: 'OVERLOADED',
};

/** The 201 answer: what the program's WebSocket and its `start` need. */
export const programTicketAnswer = named(
  'ProgramTicket',
  z.object({
    room: z.string(),
    seat: z.number().int(),
    label: z.string(),
    role: z.enum(['talker', 'listener']),
    format: z.enum(STREAM_FORMATS as [StreamFormat, ...StreamFormat[]]),
    callSid: z.string(),
    streamSid: z.string(),
    accountSid: z.string(),
    ticket: z.string(),
    url: z.string(),
    mediaFormat: z.object({ encoding: z.string(), sampleRate: z.number().int(), channels: z.literal(1) }),
    expiresAt: isoTime,
  }),
  "A program's ticket: connect to `url` and send `start` with `customParameters.ticket` and this `mediaFormat`.",
);

/** The routes below, as the OpenAPI document shows them (src/http/apiContract.ts). */
export const programsContract = [
  operation('post', '/rooms/:id/programs', 'createProgramTicket', 'Admit a program (an agent, transcriber, recorder) as a participant: a ticket for /media', {
    body: programTicketBody,
    responses: { 201: programTicketAnswer },
    errors: ['BAD_REQUEST', 'NOT_FOUND', 'LOCKED', 'ROOM_FULL', 'SERVER_FULL', 'TOO_MANY_ROOMS', 'OVERLOADED', 'CONFLICT'],
  }),
];

export function programsApi(deps: ProgramsApiDeps): express.Router {
  const router = express.Router();
  const roomOf = existingRoomParam(deps);
  router.post(
    '/rooms/:id/programs',
    route(async (req, res) => {
      const room = await roomOf(req);
      const parsed = programTicketBody.safeParse(req.body ?? {});
      if (!parsed.success) {
        const issue = parsed.error.issues[0]!;
        throw new AppError('BAD_REQUEST', `${issue.path.join('.') || 'body'}: ${issue.message}`);
      }
      const { label, role, format, ttlSeconds } = parsed.data;
      // A room a cluster mixes elsewhere was forwarded there (src/cluster/forward.ts); here it is
      // this node's, or placed now (on another node: asked again, the request goes there).
      const owner = await deps.ownership.resolve(room);
      if (owner.kind !== 'self') {
        deps.log.warn({ room, label, owner: owner.kind === 'remote' ? owner.node.id : owner.why }, 'admin: program refused: the room is not mixed here');
        throw new AppError(
          'OWNER_UNAVAILABLE',
          owner.kind === 'remote' ? `room ${room} was just placed on node ${owner.node.id}; ask again` : `no node can mix room ${room} now; try again`,
        );
      }
      const callSid = `CA${randomBytes(16).toString('hex')}`;
      const ticketTtlMs = ttlSeconds * 1000;
      const result = await deps.admission.enterProgram(room, { callSid, from: 'program', label, ticketTtlMs, program: { role, format }, epoch: owner.epoch });
      if (result.kind !== 'admitted') {
        const code = result.kind === 'refused' ? REFUSALS[result.reason] : 'CONFLICT';
        deps.log.warn({ room, label, result: result.kind === 'refused' ? result.reason : result.kind }, 'admin: program refused');
        throw new AppError(code);
      }
      const base = publicBaseUrl(deps.publicUrl, originOf(req));
      // The ticket in the query lets the upgrade in without a Twilio signature; `start` redeems it.
      const url = `${base.replace(/^http/, 'ws')}${deps.nodePublicPrefix}${MEDIA_PATH}?ticket=${encodeURIComponent(result.ticket)}`;
      deps.log.info({ room, seat: result.seat, callSid, label, role, format, ttlSeconds }, 'admin: program admitted');
      res
        .status(201)
        .set('Cache-Control', 'no-store')
        .json({
          room,
          seat: result.seat,
          label,
          role,
          format,
          callSid,
          streamSid: `MZ${randomBytes(16).toString('hex')}`,
          accountSid: PROGRAM_ACCOUNT_SID,
          ticket: result.ticket,
          url,
          mediaFormat: mediaFormatOf(format),
          expiresAt: new Date(Date.now() + ttlSeconds * 1000).toISOString(),
        } satisfies z.infer<typeof programTicketAnswer>);
    }),
  );
  return router;
}

/** Express 5 passes rejected promises to the error handler; this only types the handler. */
function route(handler: (req: Request, res: Response) => Promise<void>) {
  return (req: Request, res: Response, next: NextFunction) => handler(req, res).catch(next);
}
