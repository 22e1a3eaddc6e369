/**
 * The audio library's routes, behind the admin API's authentication (issue 17):
 *
 *   GET    /api/audio          every clip: name, bundled, durationMs
 *   PUT    /api/audio/:name    a WAV body (any rate, channels, 8-32 bits): converted once to 8 kHz
 *                              mono and stored; 201 new, 200 replaced; 413 above AUDIO_MAX_BYTES
 *   DELETE /api/audio/:name    an upload (a bundled clip: 409)
 *
 * A room or a server default naming a deleted clip falls back to the next choice (src/library/roomMusic.ts).
 */
import express, { type NextFunction, type Request, type Response } from 'express';
import { z } from 'zod';
import { AppError } from '../errors.js';
import { type AudioLibrary, checkName } from '../library/audioLibrary.js';
import type { Logger } from '../log.js';
import { named, operation } from './apiContract.js';

const audioView = named(
  'Audio',
  z.object({ name: z.string(), bundled: z.boolean(), durationMs: z.number().int() }),
  'A clip of the audio library (8 kHz mono).',
);
const listAnswer = named('AudioList', z.object({ audio: z.array(audioView) }));
const storedAnswer = named('AudioStored', audioView.extend({ sourceRateHz: z.number().int() }));
const deletedAnswer = named('AudioDeleted', z.object({ name: z.string(), deleted: z.literal(true) }));
const wavBody = { contentType: 'audio/wav', description: 'a WAV file: any rate, mono or stereo, 8 to 32 bits (any Content-Type is read as WAV)' };

/** The routes below, in the admin API's contract (src/http/apiContract.ts). */
export const audioContract = [
  operation('get', '/audio', 'listAudio', 'Every clip of the audio library', { responses: { 200: listAnswer } }),
  operation('put', '/audio/:name', 'putAudio', 'Store a WAV as a clip (converted to 8 kHz mono)', {
    body: wavBody,
    responses: { 200: storedAnswer, 201: storedAnswer },
    errors: ['BAD_REQUEST', 'CONFLICT', 'PAYLOAD_TOO_LARGE'],
  }),
  operation('delete', '/audio/:name', 'deleteAudio', 'Delete an uploaded clip (a bundled one: 409)', {
    responses: { 200: deletedAnswer },
    errors: ['BAD_REQUEST', 'NOT_FOUND', 'CONFLICT'],
  }),
];

export interface AudioApiDeps {
  library: AudioLibrary;
  /** AUDIO_MAX_BYTES: a larger body answers 413. */
  maxBytes: number;
  log: Logger;
}

export function audioApi(deps: AudioApiDeps): express.Router {
  const { library, log } = deps;
  const router = express.Router();
  // Any content type: curl's --data-binary sends application/x-www-form-urlencoded unless told.
  const body = express.raw({ type: () => true, limit: deps.maxBytes });

  router.get('/audio', (_req, res) => {
    res.json({ audio: library.list() } satisfies z.infer<typeof listAnswer>);
  });

  router.put(
    '/audio/:name',
    body,
    route(async (req, res) => {
      const name = String(req.params['name']);
      const bytes: unknown = req.body;
      try {
        if (!(bytes instanceof Buffer) || bytes.length === 0) throw new AppError('BAD_REQUEST', 'send the WAV file as the body');
        const stored = await library.put(name, bytes);
        log.info({ audio: name, durationMs: stored.durationMs, sourceRateHz: stored.sourceRateHz, bytes: bytes.length }, 'admin: audio stored');
        res
          .status(stored.replaced ? 200 : 201)
          .location(`/api/audio/${name}`)
          .json({ name: stored.name, bundled: false, durationMs: stored.durationMs, sourceRateHz: stored.sourceRateHz } satisfies z.infer<typeof storedAnswer>);
      } catch (error) {
        // The one log line of a refused upload (the error handler logs only what is not an AppError).
        if (error instanceof AppError) log.warn({ audio: name.slice(0, 64), code: error.code, detail: error.detail }, 'admin: audio refused');
        throw error;
      }
    }),
  );

  router.delete(
    '/audio/:name',
    route(async (req, res) => {
      const name = String(req.params['name']);
      checkName(name);
      if (!(await library.delete(name))) throw new AppError('NOT_FOUND', `no audio "${name}"`);
      log.info({ audio: name }, 'admin: audio deleted');
      res.json({ name, deleted: true } satisfies z.infer<typeof deletedAnswer>);
    }),
  );

  return router;
}

/** Express 5 passes rejected promises to the error handler; this only types the handler. */
function route(handler: (req: Request, res: Response) => Promise<void>) {
  return (req: Request, res: Response, next: NextFunction) => handler(req, res).catch(next);
}
