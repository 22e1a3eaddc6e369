/**
 * Admin API from any node: a request about one room (`/api/rooms/<id>...`) that reaches a
 * node which does not mix the room is passed, as it came (method, path, body, Authorization), to the
 * node that does, over its internal URL, and the owner's answer goes back unchanged. So mute, kick,
 * end and the participant list work whichever node the proxy picked; the owner checks the token
 * itself. A forwarded request is never forwarded again (one hop). No owner (no lease, or its node
 * is gone): the node answers itself, from the shared directory.
 *
 * (Not Redis pub/sub for these commands: a direct HTTP hop to the owner does the same with one
 * moving part less: the owner's address is in its heartbeat, and "no owner" is
 * known before sending.)
 */
import express, { type NextFunction, type Request, type Response } from 'express';
import { z } from 'zod';
import type { HttpErrorCode } from '../errors.js';
import { type ApiOperation, operation } from '../http/apiContract.js';
import type { ClusterNode } from './node.js';
import { isValidRoomNumber } from '../rooms/roomNumber.js';
import type { Logger } from '../log.js';
import { hasBearer } from '../security/bearer.js';
import { sendError } from '../http/sendError.js';
import type { NodeState } from './types.js';

const FORWARDED_HEADER = 'x-conference-forwarded-by';
/** A request about one room: `/rooms/<id>...` under /api (the contract's '/rooms/:id/...' too). */
const ROOM_PATH = /^\/rooms\/([^/?]+)/;

/**
 * What the forwarder itself answers to a room request it passes on (the owner's own answers go back
 * unchanged): the owner did not answer, or the body is too large to pass. The admin API's contract
 * lists them on every route it forwards (forwardedContract).
 */
export const FORWARD_ERRORS = ['OWNER_UNAVAILABLE', 'PAYLOAD_TOO_LARGE'] as const satisfies readonly HttpErrorCode[];
type ForwardError = (typeof FORWARD_ERRORS)[number];

/** `operations` as a cluster node answers them: each route the forwarder passes on also answers FORWARD_ERRORS. */
export function forwardedContract(operations: readonly ApiOperation[]): ApiOperation[] {
  return operations.map((op) =>
    ROOM_PATH.test(op.path) ? { ...op, errors: [...(op.errors ?? []), ...FORWARD_ERRORS.filter((code) => !op.errors?.includes(code))] } : op,
  );
}

class BodyTooLarge extends Error {}
const FORWARD_TIMEOUT_MS = 3000;
const MAX_BODY_BYTES = 64 * 1024;

export interface ForwardDeps {
  selfId: string;
  /** Only requests with this bearer token are forwarded (the others get this node's own refusal). */
  adminToken: string | undefined;
  ownerOf: (room: string) => Promise<NodeState | null>;
  log: Logger;
}

export function forwardRoomRequests({ selfId, adminToken, ownerOf, log }: ForwardDeps) {
  return async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    const match = ROOM_PATH.exec(req.path);
    const room = match?.[1];
    if (!room || !isValidRoomNumber(room, 32) || req.get(FORWARDED_HEADER)) return next();
    // Wrong tokens are refused (and counted) here, not passed on to lock this node out at the owner;
    // the header is read as the admin API reads it, so what the owner accepts is forwarded.
    if (!adminToken || !hasBearer(req.get('authorization'), adminToken)) return next();
    let owner: NodeState | null;
    try {
      owner = await ownerOf(room);
    } catch (error) {
      log.warn({ room, err: error }, 'admin: could not find the room owner; answering here');
      return next();
    }
    if (!owner || owner.id === selfId) return next();
    try {
      const body = await readBody(req);
      const headers: Record<string, string> = { [FORWARDED_HEADER]: selfId };
      for (const name of ['authorization', 'content-type', 'accept']) {
        const value = req.get(name);
        if (value) headers[name] = value;
      }
      const answer = await fetch(`${owner.internalUrl}${req.originalUrl}`, {
        method: req.method,
        headers,
        ...(body.length > 0 ? { body } : {}),
        signal: AbortSignal.timeout(FORWARD_TIMEOUT_MS),
      });
      res.status(answer.status);
      const type = answer.headers.get('content-type');
      if (type) res.type(type);
      res.send(Buffer.from(await answer.arrayBuffer()));
    } catch (error) {
      const refusal: ForwardError = error instanceof BodyTooLarge ? 'PAYLOAD_TOO_LARGE' : 'OWNER_UNAVAILABLE';
      if (refusal === 'PAYLOAD_TOO_LARGE') log.warn({ room, owner: owner.id }, 'admin: a room request too large to forward');
      else log.warn({ room, owner: owner.id, err: error instanceof Error ? error.message : String(error) }, 'admin: the room owner did not answer');
      if (!res.headersSent)
        sendError(
          res,
          refusal,
          refusal === 'PAYLOAD_TOO_LARGE'
            ? `a request forwarded to room ${room}'s node carries at most ${MAX_BODY_BYTES} bytes`
            : `the node mixing room ${room} (${owner.id}) did not answer; try again`,
        );
    }
  };
}

async function readBody(req: Request): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new BodyTooLarge('body too large to forward');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/**
 * The cluster's own admin routes (behind the admin API's token):
 *   GET  /api/cluster/nodes         every live node: id, prefix, load, draining
 *   POST /api/cluster/drain         {"draining": true|false}: this node (reach it at /p/<k>/api/...)
 *                                   takes no new rooms; its rooms stay until they end
 */
const drainBody = z.object({ draining: z.boolean() });
const nodesAnswer = z.object({
  self: z.string(),
  nodes: z.array(
    z.object({
      id: z.string(),
      publicPrefix: z.string(),
      internalUrl: z.string(),
      draining: z.boolean(),
      load: z.object({ rooms: z.number(), calls: z.number(), tickP99Ms: z.number(), loopDelayP99Ms: z.number(), overloaded: z.boolean().optional() }),
      at: z.number(),
    }),
  ),
});
const drainAnswer = z.object({ node: z.string(), draining: z.boolean(), rooms: z.number().int() });

/** clusterApi's routes, in the admin API's contract (src/http/apiContract.ts); only a cluster has them. */
export const clusterContract = [
  operation('get', '/cluster/nodes', 'listNodes', 'Every live node of the cluster (cluster only)', { responses: { 200: nodesAnswer } }),
  operation('post', '/cluster/drain', 'drainNode', 'This node takes no new rooms, or takes them again (cluster only)', {
    body: drainBody,
    responses: { 200: drainAnswer },
  }),
];

export function clusterApi(node: ClusterNode, log: Logger): express.Router {
  const router = express.Router();
  router.get('/cluster/nodes', async (_req, res, next) => {
    try {
      res.json({ self: node.id, nodes: await node.registry.live() } satisfies z.infer<typeof nodesAnswer>);
    } catch (error) {
      next(error);
    }
  });
  router.post('/cluster/drain', express.json({ limit: '1kb' }), (req, res) => {
    const parsed = drainBody.safeParse(req.body);
    if (!parsed.success) {
      sendError(res, 'BAD_REQUEST', 'body: {"draining": true} or {"draining": false}');
      return;
    }
    const { draining } = parsed.data;
    node.setDraining(draining);
    log.info({ node: node.id, draining }, 'admin: node drain changed');
    res.json({ node: node.id, draining, rooms: node.ownership.heldRooms() } satisfies z.infer<typeof drainAnswer>);
  });
  return router;
}
