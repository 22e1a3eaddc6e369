/**
 * Rooms as code (issue 18, part D): the whole room configuration as one file, for operators who keep
 * it in git (`npm run rooms -- export|import`, tools/rooms.ts). In the admin API, behind its token:
 *
 *   GET  /api/rooms-file          -> {rooms: [RoomsFileRoom]}  every stored room, PIN hashes included
 *   POST /api/rooms-file/import   {rooms, prune?, dryRun?} -> {dryRun, prune, created, updated, unchanged, deleted}
 *
 * The import is the file's whole truth for each room it names: a field left out is the default
 * (no label, no PIN, unlocked, the server's sound and music, no moderation). It is checked whole
 * before anything is written: one bad room refuses the file (BAD_REQUEST or LIMIT_EXCEEDED, the
 * message naming the room and the field) and nothing changes. Then rooms are deleted (prune: the
 * stored rooms the file does not name; their calls end, as DELETE /api/rooms/:id does), created and
 * updated; dryRun answers the same plan and writes nothing. Imports run one at a time.
 *
 * A room takes `pin` (hashed here; a PIN that matches the stored hash leaves it as it is) or
 * `pinHash` (a hash an export gave, of the form src/rooms/pin.ts makes), likewise moderatorPin /
 * moderatorPinHash. PINs and hashes are never logged nor echoed in an error.
 *
 * The settings of a room open on this node take effect at once (sound, moderation, music), as
 * PATCH /api/rooms/:id does. In a cluster the directory is shared, and a room open on another node
 * takes the new sound, moderation and music settings within a heartbeat (its node sees the
 * directory's revision change and reads its rooms' settings again: applyChangedSettings in
 * src/app/core.ts); a pruned room open there keeps its calls (end them with DELETE /api/rooms/:id,
 * which reaches the room's node).
 */
import express, { type NextFunction, type Request, type Response } from 'express';
import { z } from 'zod';
import type { Conference } from '../conference/conference.js';
import type { Moderation } from '../conference/moderation.js';
import { AppError } from '../errors.js';
import { operation } from './apiContract.js';
import type { AudioLibrary } from '../library/audioLibrary.js';
import { AUDIO_NAME_PATTERN, AUDIO_NAME_RULE } from '../library/audioLibrary.js';
import { roomMusicOf, type RoomMusic } from '../library/roomMusic.js';
import type { Logger } from '../log.js';
import type { Admission } from '../rooms/admission.js';
import type { RoomDirectory, RoomPatch, RoomRecord } from '../rooms/directory.js';
import { hashPin, isPinHash, PIN_PATTERN, verifyPin } from '../rooms/pin.js';
import { moderationSettings } from '../rooms/roomModeration.js';
import { isValidRoomNumber } from '../rooms/roomNumber.js';
import { roomSoundPatch } from '../rooms/roomSound.js';

/** The import's path: the admin API leaves its body to this router (larger than the API's 16 KB). */
export const ROOMS_FILE_IMPORT_PATH = '/rooms-file/import';
/** An import's JSON body at most: about 2,500 rooms with every field set. */
export const ROOMS_FILE_MAX_BYTES = 1024 * 1024;

const pin = z.string().regex(PIN_PATTERN, 'a PIN is 4 to 12 digits (write it quoted, "0042", so leading zeros stay)');
const pinHash = z.string().refine(isPinHash, 'not a PIN hash of the form this server makes (scrypt$N$r$p$salt$hash, as an export gives)');
const musicSetting = z.string().regex(AUDIO_NAME_PATTERN, AUDIO_NAME_RULE).nullable().optional();

/** One room of a rooms file. The room number is text: "0042" and "42" are two rooms. */
export const roomsFileRoom = z.strictObject({
  number: z.string('a room number is text: write it quoted, "1234"'),
  label: z.string().trim().min(1).max(100).nullable().optional(),
  pin: pin.optional(),
  pinHash: pinHash.optional(),
  moderatorPin: pin.optional(),
  moderatorPinHash: pinHash.optional(),
  maxParticipants: z.number().int().min(1).nullable().optional(),
  locked: z.boolean().optional(),
  backgroundGate: z.boolean().nullable().optional(),
  noiseSuppression: z.boolean().nullable().optional(),
  waitForModerator: z.boolean().optional(),
  endWhenModeratorLeaves: z.boolean().optional(),
  startMuted: z.boolean().optional(),
  waitMusic: musicSetting,
  holdMusic: musicSetting,
});
export type RoomsFileRoom = z.infer<typeof roomsFileRoom>;

/** GET /api/rooms-file answers this (and an import takes its `rooms` as they are). */
export const roomsFile = z.strictObject({ rooms: z.array(roomsFileRoom) });

/** POST /api/rooms-file/import's body. */
export const roomsFileImportBody = z.strictObject({
  rooms: z.array(roomsFileRoom).max(10_000),
  /** Delete the stored rooms the file does not name. */
  prune: z.boolean().optional(),
  /** Answer the plan; change nothing. */
  dryRun: z.boolean().optional(),
});

/** What an import did (or, dryRun, would do): room numbers. */
export const roomsFilePlan = z.strictObject({
  dryRun: z.boolean(),
  prune: z.boolean(),
  created: z.array(z.string()),
  updated: z.array(z.string()),
  unchanged: z.array(z.string()),
  deleted: z.array(z.string()),
});
export type RoomsFilePlan = z.infer<typeof roomsFilePlan>;

export interface RoomsFileApiDeps {
  directory: RoomDirectory;
  admission: Admission;
  conference: Conference;
  moderation?: Moderation;
  library: AudioLibrary;
  music: RoomMusic;
  /** Ends a pruned room's calls on this node (the core's endRoom). */
  endRoom: (room: string) => boolean;
  roomNumberMaxDigits: number;
  log: Logger;
}

/** The stored settings a rooms file carries, defaults filled in. */
type Settings = Required<RoomPatch>;
const SETTING_KEYS = [
  'label',
  'pinHash',
  'moderatorPinHash',
  'maxParticipants',
  'locked',
  'backgroundGate',
  'noiseSuppression',
  'waitForModerator',
  'endWhenModeratorLeaves',
  'startMuted',
  'waitMusic',
  'holdMusic',
] as const satisfies readonly (keyof Settings)[];

/** What a room has when the file leaves a field out (null sound settings: the server's default; false is a setting). */
const DEFAULTS: Settings = {
  label: null,
  pinHash: null,
  moderatorPinHash: null,
  maxParticipants: null,
  locked: false,
  backgroundGate: null,
  noiseSuppression: null,
  waitForModerator: false,
  endWhenModeratorLeaves: false,
  startMuted: false,
  waitMusic: null,
  holdMusic: null,
};

function storedSettings(r: RoomRecord): Settings {
  return Object.fromEntries(SETTING_KEYS.map((key) => [key, r[key] ?? DEFAULTS[key]])) as Settings;
}

/** A stored room as a rooms file writes it: the number, then only what differs from the default. */
export function fileRoomOf(r: RoomRecord): RoomsFileRoom {
  const s = storedSettings(r);
  const room: Record<string, unknown> = { number: r.id };
  for (const key of SETTING_KEYS) if (s[key] !== DEFAULTS[key]) room[key] = s[key];
  return room as RoomsFileRoom;
}

/** `room 1234 (rooms[3])`: how an error names a room of the file. */
function roomName(raw: unknown, index: number): string {
  const number = (raw as { number?: unknown } | null)?.number;
  const shown = typeof number === 'string' || typeof number === 'number' ? JSON.stringify(String(number).slice(0, 40)) : '?';
  return `room ${shown} (rooms[${index}])`;
}

function parseImport(body: unknown): z.infer<typeof roomsFileImportBody> {
  const result = roomsFileImportBody.safeParse(body);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const [top, index, ...field] = issue.path;
  if (top === 'rooms' && typeof index === 'number') {
    const raw = (body as { rooms: unknown[] }).rooms[index];
    if (issue.code === 'unrecognized_keys') {
      const fields = issue.keys.map((k) => JSON.stringify(k.slice(0, 40))).join(', ');
      throw new AppError('BAD_REQUEST', `${roomName(raw, index)}: ${fields}: unknown field (a room takes ${roomsFileRoom.keyof().options.join(', ')})`);
    }
    const where = field.length ? `${field.join('.')}: ` : '';
    throw new AppError('BAD_REQUEST', `${roomName(raw, index)}: ${where}${issue.message}`);
  }
  throw new AppError('BAD_REQUEST', `${issue.path.length ? `${issue.path.join('.')}: ` : ''}${issue.message}`);
}

/** A PIN for a stored hash: the stored hash when the PIN matches it (nothing changes), else a new one. */
async function hashFor(pinText: string | undefined, hash: string | undefined, stored: string | null, dryRun: boolean): Promise<string | null> {
  if (hash !== undefined) return hash;
  if (pinText === undefined) return null;
  if (stored && (await verifyPin(pinText, stored))) return stored;
  return dryRun ? 'new' : hashPin(pinText);
}

/** The routes below, as the OpenAPI document shows them (src/http/apiContract.ts). */
export const roomsFileContract = [
  operation('get', '/rooms-file', 'exportRoomsFile', 'Every stored room as a rooms file (with PIN hashes; npm run rooms -- export)', {
    responses: { 200: roomsFile },
  }),
  operation('post', ROOMS_FILE_IMPORT_PATH, 'importRoomsFile', 'Apply a rooms file: create, update and (prune) delete; dryRun answers the plan only', {
    body: roomsFileImportBody,
    responses: { 200: roomsFilePlan },
    errors: ['BAD_REQUEST', 'LIMIT_EXCEEDED'],
  }),
];

export function roomsFileApi(deps: RoomsFileApiDeps): express.Router {
  const { directory, admission, log } = deps;
  const router = express.Router();
  // One import at a time: each plans against what the one before it wrote.
  let queue: Promise<unknown> = Promise.resolve();

  router.get(
    '/rooms-file',
    route(async (_req, res) => {
      const rooms = (await directory.list()).map(fileRoomOf);
      log.info({ rooms: rooms.length }, 'admin: rooms file exported');
      res.json({ rooms } satisfies z.infer<typeof roomsFile>);
    }),
  );

  router.post(
    ROOMS_FILE_IMPORT_PATH,
    express.json({ limit: ROOMS_FILE_MAX_BYTES, strict: true }),
    route(async (req, res) => {
      const run = queue.then(() => importFile(req.body));
      // One line for a refused file (the message names room and field, never a PIN or hash).
      run.catch((error: unknown) => {
        if (error instanceof AppError) log.warn({ code: error.code }, `admin: rooms file refused: ${error.detail ?? error.message}`);
      });
      queue = run.catch(() => {});
      res.json((await run) satisfies z.infer<typeof roomsFilePlan>);
    }),
  );

  async function importFile(body: unknown): Promise<RoomsFilePlan> {
    const file = parseImport(body);
    const dryRun = file.dryRun ?? false;
    const prune = file.prune ?? false;
    // Everything checked before anything is written.
    const seen = new Set<string>();
    const maxSeats = admission.limits.maxParticipantsPerRoom;
    file.rooms.forEach((room, i) => {
      const name = roomName(room, i);
      if (!isValidRoomNumber(room.number, deps.roomNumberMaxDigits)) {
        throw new AppError('BAD_REQUEST', `${name}: number: a room number is 1 to ${deps.roomNumberMaxDigits} digits (what callers key)`);
      }
      if (seen.has(room.number)) throw new AppError('BAD_REQUEST', `${name}: number: the file names room ${room.number} twice`);
      seen.add(room.number);
      if (room.pin !== undefined && room.pinHash !== undefined) throw new AppError('BAD_REQUEST', `${name}: pin: give pin or pinHash, not both`);
      if (room.moderatorPin !== undefined && room.moderatorPinHash !== undefined) {
        throw new AppError('BAD_REQUEST', `${name}: moderatorPin: give moderatorPin or moderatorPinHash, not both`);
      }
      if (room.pin !== undefined && room.pin === room.moderatorPin) throw new AppError('BAD_REQUEST', `${name}: moderatorPin: must differ from pin`);
      if (room.maxParticipants != null && room.maxParticipants > maxSeats) {
        throw new AppError(
          'LIMIT_EXCEEDED',
          `${name}: maxParticipants: ${room.maxParticipants} is above this server's MAX_PARTICIPANTS_PER_ROOM (${maxSeats})`,
        );
      }
      for (const key of ['waitMusic', 'holdMusic'] as const) {
        const clip = room[key];
        if (clip != null && !deps.library.has(clip))
          throw new AppError('BAD_REQUEST', `${name}: ${key}: no audio "${clip}" in the library (GET /api/audio lists it)`);
      }
    });

    const stored = new Map((await directory.list()).map((r) => [r.id, r]));
    const plan: RoomsFilePlan = { dryRun, prune, created: [], updated: [], unchanged: [], deleted: [] };
    const writes: { id: string; settings: Settings; create: boolean }[] = [];
    // PIN checks run on the thread pool, so the rooms are worked out together.
    const wanted = await Promise.all(
      file.rooms.map(async (room) => {
        const before = stored.get(room.number);
        const settings: Settings = {
          label: room.label ?? null,
          pinHash: await hashFor(room.pin, room.pinHash, before?.pinHash ?? null, dryRun),
          moderatorPinHash: await hashFor(room.moderatorPin, room.moderatorPinHash, before?.moderatorPinHash ?? null, dryRun),
          maxParticipants: room.maxParticipants ?? null,
          locked: room.locked ?? false,
          backgroundGate: room.backgroundGate ?? null,
          noiseSuppression: room.noiseSuppression ?? null,
          waitForModerator: room.waitForModerator ?? false,
          endWhenModeratorLeaves: room.endWhenModeratorLeaves ?? false,
          startMuted: room.startMuted ?? false,
          waitMusic: room.waitMusic ?? null,
          holdMusic: room.holdMusic ?? null,
        };
        return { id: room.number, before, settings };
      }),
    );
    for (const { id, before, settings } of wanted) {
      if (!before) {
        plan.created.push(id);
        writes.push({ id, settings, create: true });
      } else {
        const now = storedSettings(before);
        if (SETTING_KEYS.every((k) => now[k] === settings[k])) plan.unchanged.push(id);
        else {
          plan.updated.push(id);
          writes.push({ id, settings, create: false });
        }
      }
    }
    if (prune) plan.deleted = [...stored.keys()].filter((id) => !seen.has(id));
    const total = stored.size - plan.deleted.length + plan.created.length;
    if (plan.created.length > 0 && total > admission.limits.maxRooms) {
      throw new AppError('LIMIT_EXCEEDED', `the file would make ${total} rooms; MAX_ROOMS is ${admission.limits.maxRooms}`);
    }
    if (dryRun) return plan;

    for (const id of plan.deleted) {
      await directory.delete(id);
      deps.endRoom(id);
    }
    const at = new Date().toISOString();
    for (const w of writes) {
      let record: RoomRecord | null = null;
      if (w.create && (await directory.create({ id: w.id, ...w.settings, createdAt: at, updatedAt: at })) === 'created') {
        record = await directory.get(w.id);
      } else {
        record = await directory.update(w.id, w.settings, at); // an update, or a create that another request beat
        record ??= (await directory.create({ id: w.id, ...w.settings, createdAt: at, updatedAt: at })) === 'created' ? await directory.get(w.id) : null;
      }
      if (!record) continue;
      deps.conference.configureRoom(w.id, roomSoundPatch(record));
      deps.moderation?.configure(w.id, moderationSettings(record));
      deps.music.set(w.id, roomMusicOf(record));
    }
    log.info(
      { created: plan.created.length, updated: plan.updated.length, unchanged: plan.unchanged.length, deleted: plan.deleted.length, prune },
      'admin: rooms file imported',
    );
    return plan;
  }

  return router;
}

/** Express 5 passes rejected promises to the error handler; this only types the handler. */
function route(handler: (req: Request, res: Response) => Promise<void>) {
  return (req: Request, res: Response, next: NextFunction) => handler(req, res).catch(next);
}
