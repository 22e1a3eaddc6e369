/**
 * Invite links in the admin API (behind its bearer token):
 *
 *   POST   /api/rooms/:id/invites            {ttlSeconds, uses?} -> 201 {id, room, url, token, expiresAt, uses, used, revoked}
 *   GET    /api/rooms/:id/invites            -> {invites: [{id, room, expiresAt, uses, used, revoked}]}
 *   DELETE /api/rooms/:id/invites/:inviteId  -> {id, revoked: true}
 *
 * The room must be stored or open now (an invite never opens a room). `url` is the /join page
 * with the room in the query and the invite in the fragment (`#invite=`), which a browser never
 * sends to a server: the invite stays out of proxies' logs and Referer headers. The token is
 * shown once, at creation; the list names invites by id only.
 */
import express, { type NextFunction, type Request, type Response } from 'express';
import { z } from 'zod';
import { AppError } from '../errors.js';
import type { Logger } from '../log.js';
import type { RoomDirectory } from '../rooms/directory.js';
import type { SeatLedger } from '../rooms/seats.js';
import { INVITE_MAX_TTL_SECONDS, type InviteInfo, type Invites } from '../security/invite.js';
import { publicBaseUrl } from '../security/publicUrl.js';
import { isoTime, named, operation } from './apiContract.js';
import { existingRoomParam } from './roomParam.js';
import { originOf } from './webhooks.js';

export interface InvitesApiDeps {
  invites: Invites;
  directory: RoomDirectory;
  seats: SeatLedger;
  /** Is a stream open in this room now (a room callers opened, not stored)? */
  isLive: (room: string) => boolean;
  roomNumberMaxDigits: number;
  /** PUBLIC_URL, for the link; else derived from the request as the webhooks do. */
  publicUrl: string | undefined;
  log: Logger;
}

const createBody = z.strictObject({
  ttlSeconds: z.number().int().min(1).max(INVITE_MAX_TTL_SECONDS),
  uses: z.number().int().min(1).max(100_000).optional(),
});

const inviteView = named(
  'Invite',
  z.object({ id: z.string(), room: z.string(), expiresAt: isoTime, uses: z.number().int().nullable(), used: z.number().int(), revoked: z.boolean() }),
);
const createdAnswer = named(
  'InviteCreated',
  inviteView.extend({ url: z.string(), token: z.string() }),
  'A new invite: `url` is the /join link (the invite in its #fragment), `token` the invite itself; both shown only now.',
);
const listAnswer = named('InviteList', z.object({ invites: z.array(inviteView) }));
const revokedAnswer = named('InviteRevoked', z.object({ id: z.string(), revoked: z.literal(true) }));

/** The routes below, in the admin API's contract (src/http/apiContract.ts). */
export const invitesContract = [
  operation('post', '/rooms/:id/invites', 'createInvite', 'Create an invite link to the /join page', {
    body: createBody,
    responses: { 201: createdAnswer },
    errors: ['NOT_FOUND'],
  }),
  operation('get', '/rooms/:id/invites', 'listInvites', "A room's invites (without their tokens)", { responses: { 200: listAnswer }, errors: ['NOT_FOUND'] }),
  operation('delete', '/rooms/:id/invites/:inviteId', 'revokeInvite', 'Revoke an invite', { responses: { 200: revokedAnswer }, errors: ['NOT_FOUND'] }),
];

const view = (i: InviteInfo): z.infer<typeof inviteView> => ({
  id: i.id,
  room: i.room,
  expiresAt: new Date(i.expiresAtMs).toISOString(),
  uses: i.uses,
  used: i.used,
  revoked: i.revoked,
});

export function invitesApi(deps: InvitesApiDeps): express.Router {
  const router = express.Router();
  const roomOf = existingRoomParam(deps);

  router.post(
    '/rooms/:id/invites',
    route(async (req, res) => {
      const room = await roomOf(req);
      const body = createBody.safeParse(req.body);
      if (!body.success) {
        const issue = body.error.issues[0]!;
        throw new AppError('BAD_REQUEST', `${issue.path.join('.') || 'body'}: ${issue.message}`);
      }
      const { token, info } = deps.invites.create(room, body.data.ttlSeconds, body.data.uses);
      const base = publicBaseUrl(deps.publicUrl, originOf(req));
      const url = `${base}/join?room=${room}#invite=${token}`;
      deps.log.info({ room, invite: info.id, ttlSeconds: body.data.ttlSeconds, uses: info.uses }, 'admin: invite created');
      res.status(201).json({ ...view(info), url, token } satisfies z.infer<typeof createdAnswer>);
    }),
  );
  router.get(
    '/rooms/:id/invites',
    route(async (req, res) => {
      const room = await roomOf(req);
      res.json({ invites: deps.invites.list(room).map(view) } satisfies z.infer<typeof listAnswer>);
    }),
  );
  router.delete(
    '/rooms/:id/invites/:inviteId',
    route(async (req, res) => {
      const room = String(req.params['id']);
      const id = String(req.params['inviteId']);
      if (!deps.invites.revoke(room, id)) throw new AppError('NOT_FOUND', `no invite ${JSON.stringify(id.slice(0, 40))} for room ${room.slice(0, 40)}`);
      deps.log.info({ room, invite: id }, 'admin: invite revoked');
      res.json({ id, revoked: true } satisfies z.infer<typeof revokedAnswer>);
    }),
  );
  return router;
}

/** Express 5 passes rejected promises to the error handler; this only types the handler. */
function route(handler: (req: Request, res: Response) => Promise<void>) {
  return (req: Request, res: Response, next: NextFunction) => handler(req, res).catch(next);
}
