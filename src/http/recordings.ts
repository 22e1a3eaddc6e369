/**
 * Recording routes of the admin API (mounted behind its authentication, under /api):
 *
 *   POST   /api/rooms/:id/recording   {tracks?: boolean}  start recording a live room   201
 *   DELETE /api/rooms/:id/recording                       stop it (files complete)      200
 *   GET    /api/recordings                                every recording, newest first
 *   GET    /api/recordings/:rid[?track=seat2]             the WAV (audio/wav)
 *   DELETE /api/recordings/:rid                           delete it and its tracks
 *
 * Errors are thrown as AppError (BAD_REQUEST, NOT_FOUND, CONFLICT) and answered by the admin API's
 * error handler, as every other admin route's.
 */
import express, { type NextFunction, type Request, type Response } from 'express';
import { z } from 'zod';
import { AppError } from '../errors.js';
import type { Recordings } from '../recording/recordings.js';
import { isoTime, named, operation } from './apiContract.js';

const startBody = z.strictObject({ tracks: z.boolean().optional() });
export const recordingView = named(
  'Recording',
  z.object({
    id: z.string(),
    room: z.string(),
    startedAt: isoTime,
    stoppedAt: isoTime.nullable(),
    active: z.boolean(),
    durationSeconds: z.number(),
    bytes: z.number().int(),
    tracks: z.array(z.string()),
  }),
);
const listAnswer = named('RecordingList', z.object({ recordings: z.array(recordingView) }));
const deletedAnswer = named('RecordingDeleted', z.object({ id: z.string(), deleted: z.literal(true) }));
type RecordingView = z.infer<typeof recordingView>;

/** The routes below, in the admin API's contract (src/http/apiContract.ts). */
export const recordingsContract = [
  operation('post', '/rooms/:id/recording', 'startRecording', 'Start recording a live room', {
    body: startBody,
    responses: { 201: recordingView },
    errors: ['NOT_FOUND', 'CONFLICT'],
  }),
  operation('delete', '/rooms/:id/recording', 'stopRecording', "Stop a room's recording (its files complete)", {
    responses: { 200: recordingView },
    errors: ['NOT_FOUND', 'CONFLICT'],
  }),
  operation('get', '/recordings', 'listRecordings', 'Every recording, newest first', { responses: { 200: listAnswer } }),
  operation('get', '/recordings/:rid', 'downloadRecording', 'A recording as a WAV file (a track with ?track=seat2)', {
    query: { track: { description: 'a per-caller track (as listed in `tracks`) instead of the mix', schema: z.string() } },
    responses: { 200: { contentType: 'audio/wav', description: '8 kHz mono 16-bit WAV' } },
    errors: ['NOT_FOUND'],
  }),
  operation('delete', '/recordings/:rid', 'deleteRecording', 'Delete a recording and its tracks', {
    responses: { 200: deletedAnswer },
    errors: ['NOT_FOUND', 'CONFLICT'],
  }),
];

export function recordingsApi(recordings: Recordings): express.Router {
  const router = express.Router();
  const route = (handler: (req: Request, res: Response) => Promise<void>) => (req: Request, res: Response, next: NextFunction) => handler(req, res).catch(next);

  router.post(
    '/rooms/:id/recording',
    route(async (req, res) => {
      const body = startBody.safeParse(req.body ?? {});
      if (!body.success) throw new AppError('BAD_REQUEST', `${body.error.issues[0]!.path.join('.') || 'body'}: ${body.error.issues[0]!.message}`);
      const info = await recordings.start(String(req.params['id']), { tracks: body.data.tracks });
      res
        .status(201)
        .location(`/api/recordings/${info.id}`)
        .json(info satisfies RecordingView);
    }),
  );

  router.delete(
    '/rooms/:id/recording',
    route(async (req, res) => {
      res.json((await recordings.stop(String(req.params['id']))) satisfies RecordingView);
    }),
  );

  router.get(
    '/recordings',
    route(async (_req, res) => {
      res.json({ recordings: await recordings.list() } satisfies z.infer<typeof listAnswer>);
    }),
  );

  router.get(
    '/recordings/:rid',
    route(async (req, res) => {
      const track = typeof req.query['track'] === 'string' ? req.query['track'] : undefined;
      const path = await recordings.filePath(String(req.params['rid']), track);
      const name = path.slice(path.lastIndexOf('/') + 1);
      res.type('audio/wav').set('Content-Disposition', `attachment; filename="${name}"`);
      await new Promise<void>((resolve, reject) => res.sendFile(path, { dotfiles: 'deny' }, (error) => (error ? reject(error) : resolve())));
    }),
  );

  router.delete(
    '/recordings/:rid',
    route(async (req, res) => {
      await recordings.delete(String(req.params['rid']));
      res.json({ id: String(req.params['rid']), deleted: true } satisfies z.infer<typeof deletedAnswer>);
    }),
  );

  return router;
}
