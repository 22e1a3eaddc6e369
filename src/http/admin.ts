/**
 * The administrator's API (JSON under /api, `Authorization: Bearer $ADMIN_TOKEN`): rooms ahead of
 * time (number, label, PIN, seat limit, locked, sound settings, moderation, wait and hold music), the
 * live participants of a room, mute / hold / coach / kick, mute-all, announcements, ending a room's calls
 * (POST /end, the room stays stored) or deleting it. Handlers validate the body (zod) and call the directory, admission and the
 * conference; nothing here decides who may enter a room.
 *
 * Errors are the catalog's (src/errors.ts), thrown as AppError and answered by sendError:
 * BAD_REQUEST, UNAUTHORIZED, FORBIDDEN, NOT_FOUND, CONFLICT, PAYLOAD_TOO_LARGE, LIMIT_EXCEEDED,
 * RATE_LIMITED (with Retry-After), ADMIN_DISABLED.
 */
import express, { type NextFunction, type Request, type Response } from 'express';
import { z } from 'zod';
import type { Conference } from '../conference/conference.js';
import type { RoomDirectory, RoomPatch, RoomRecord } from '../rooms/directory.js';
import type { Moderation } from '../conference/moderation.js';
import type { Participant } from '../conference/participant.js';
import { moderationSettings } from '../rooms/roomModeration.js';
import { isValidRoomNumber } from '../rooms/roomNumber.js';
import type { SpeechActivity } from '../events/speech.js';
import type { Logger } from '../log.js';
import type { Admission } from '../rooms/admission.js';
import { hashPin, PIN_PATTERN } from '../rooms/pin.js';
import { roomSoundPatch } from '../rooms/roomSound.js';
import type { SeatLedger } from '../rooms/seats.js';
import type { Clock } from '../timing/clock.js';
import { AppError } from '../errors.js';
import { bearerToken, sameSecret } from '../security/bearer.js';
import { FailureLimiter, type FailureLimiterOptions } from '../security/failureLimiter.js';
import type { Announcements } from '../library/announcements.js';
import { AUDIO_NAME_PATTERN, AUDIO_NAME_RULE, type AudioLibrary } from '../library/audioLibrary.js';
import { roomMusicOf, type RoomMusic } from '../library/roomMusic.js';
import { named, operation } from './apiContract.js';
import type { CallControl } from './callControl.js';
import { errorHandler, noRoute, sendError } from './sendError.js';
import * as views from './views.js';

/** Wrong admin tokens allowed per client address: 10 a minute; 10,000 addresses remembered. */
export const ADMIN_AUTH_FAILURES: FailureLimiterOptions = { maxFailures: 10, windowMs: 60_000, maxAddresses: 10_000 };

export interface AdminDeps {
  /** undefined: the API answers 503 with how to enable it. */
  adminToken: string | undefined;
  roomNumberMaxDigits: number;
  directory: RoomDirectory;
  admission: Admission;
  seats: SeatLedger;
  conference: Conference;
  /** Ends a room: closes its streams and releases its seats (the server's one way to do it). */
  endRoom: (room: string) => boolean;
  /** Moderated rooms: told of a change of a room's moderation settings. */
  moderation?: Moderation;
  speech: SpeechActivity;
  /** The conference's clock, to turn join times into wall-clock times. */
  clock: Clock;
  /** Present with Twilio credentials: `?hangup=true` on a kick also ends the call. */
  callControl: CallControl | undefined;
  log: Logger;
  /** Clips that rooms name as music and announcements play. */
  library: AudioLibrary;
  /** Applies a room's changed wait/hold music at once when it is open. */
  music: RoomMusic;
  announcements: Announcements;
  /** More routes behind the same authentication (recordings, the dashboard's live events). */
  routers?: express.Router[];
  /** Paths (under /api) whose router reads its own, larger, JSON body (the rooms file import). */
  ownBodyPaths?: readonly string[];
  /** Wrong-token limit per client address (default ADMIN_AUTH_FAILURES). */
  authFailures?: FailureLimiterOptions;
}

const pin = z.string().regex(PIN_PATTERN, 'a PIN is 4 to 12 digits');
const seats = z.number().int().min(1);
const label = z.string().trim().min(1).max(100);
/** A room's sound settings; null: the server's default. */
const soundSetting = z.boolean().nullable().optional();
/** An audio library clip (checked against the library by the route); null: the server's default. */
const musicSetting = z.string().regex(AUDIO_NAME_PATTERN, AUDIO_NAME_RULE).nullable().optional();
const callSid = z.string().min(1).max(64);
const createBody = z.strictObject({
  id: z.string(),
  label: label.optional(),
  pin: pin.optional(),
  moderatorPin: pin.optional(),
  maxParticipants: seats.optional(),
  backgroundGate: soundSetting,
  noiseSuppression: soundSetting,
  waitForModerator: z.boolean().optional(),
  endWhenModeratorLeaves: z.boolean().optional(),
  startMuted: z.boolean().optional(),
  waitMusic: musicSetting,
  holdMusic: musicSetting,
});
const patchRoomBody = z.strictObject({
  label: label.nullable().optional(),
  pin: pin.nullable().optional(),
  moderatorPin: pin.nullable().optional(),
  maxParticipants: seats.nullable().optional(),
  locked: z.boolean().optional(),
  backgroundGate: soundSetting,
  noiseSuppression: soundSetting,
  waitForModerator: z.boolean().optional(),
  endWhenModeratorLeaves: z.boolean().optional(),
  startMuted: z.boolean().optional(),
  waitMusic: musicSetting,
  holdMusic: musicSetting,
});
/** coaching: the CallSid this caller coaches (Twilio's callSidToCoach), null to stop. */
const patchParticipantBody = z.strictObject({ muted: z.boolean().optional(), hold: z.boolean().optional(), coaching: callSid.nullable().optional() });
const muteAllBody = z.strictObject({ muted: z.boolean(), exceptModerators: z.boolean().optional() });
const announcementBody = z.strictObject({ audio: z.string().regex(AUDIO_NAME_PATTERN, AUDIO_NAME_RULE), to: callSid.optional() });

const listRoomsAnswer = named('RoomList', z.object({ rooms: z.array(views.roomViewSchema) }));
const endAnswer = named('RoomEnded', z.object({ id: z.string(), ended: z.literal(true), participantsRemoved: z.number().int(), deleted: z.literal(false) }));
const deleteAnswer = named('RoomDeleted', z.object({ id: z.string(), deleted: z.literal(true), participantsRemoved: z.number().int() }));
const muteAllAnswer = named(
  'MuteAllResult',
  z.object({
    id: z.string(),
    muted: z.boolean(),
    exceptModerators: z.boolean(),
    changed: z.number().int(),
    participants: z.array(views.participantViewSchema),
  }),
);
const kickAnswer = named('ParticipantKicked', z.object({ callSid: z.string(), kicked: z.literal(true), callEnded: z.boolean() }));
const announcementAnswer = named(
  'Announcement',
  z.object({ id: z.string(), room: z.string(), audio: z.string(), to: z.string().nullable(), durationMs: z.number().int() }),
  'An announcement playing: to one caller (`to`, a CallSid) or the whole room (null).',
);
const hangupQuery = {
  hangup: { description: '`true`: also end the call over Twilio REST (needs Twilio credentials)', schema: z.enum(['true', 'false']) },
};

/** The routes below, in the admin API's contract (src/http/apiContract.ts). */
export const adminContract = [
  operation('get', '/rooms', 'listRooms', 'Every room: stored ones and those callers opened', { responses: { 200: listRoomsAnswer } }),
  operation('post', '/rooms', 'createRoom', 'Create a room', {
    body: createBody,
    responses: { 201: views.roomViewSchema },
    errors: ['CONFLICT', 'LIMIT_EXCEEDED'],
  }),
  operation('get', '/rooms/:id', 'getRoom', 'A room and its callers in seat order', { responses: { 200: views.roomDetailSchema }, errors: ['NOT_FOUND'] }),
  operation('patch', '/rooms/:id', 'updateRoom', "Change a room's settings (null: back to the default)", {
    body: patchRoomBody,
    responses: { 200: views.roomViewSchema },
    errors: ['NOT_FOUND', 'LIMIT_EXCEEDED'],
  }),
  operation('delete', '/rooms/:id', 'deleteRoom', "End a room's calls and forget the room", { responses: { 200: deleteAnswer }, errors: ['NOT_FOUND'] }),
  operation('post', '/rooms/:id/end', 'endRoom', "End a room's calls, keep its settings", { responses: { 200: endAnswer }, errors: ['NOT_FOUND'] }),
  operation('post', '/rooms/:id/mute-all', 'muteAll', 'Mute or unmute everyone (moderators too, unless excepted)', {
    body: muteAllBody,
    responses: { 200: muteAllAnswer },
    errors: ['NOT_FOUND'],
  }),
  operation('patch', '/rooms/:id/participants/:callSid', 'updateParticipant', 'Mute, hold or coach a caller', {
    body: patchParticipantBody,
    responses: { 200: views.participantViewSchema },
    errors: ['NOT_FOUND', 'CONFLICT'],
  }),
  operation('delete', '/rooms/:id/participants/:callSid', 'kickParticipant', 'Remove a caller (hangup=true: end the call too)', {
    query: hangupQuery,
    responses: { 200: kickAnswer },
    errors: ['NOT_FOUND', 'LIMIT_EXCEEDED'],
  }),
  operation('post', '/rooms/:id/announcements', 'playAnnouncement', 'Play a library clip to the room or one caller', {
    body: announcementBody,
    responses: { 202: announcementAnswer },
    errors: ['NOT_FOUND'],
  }),
];

function parse<T>(schema: z.ZodType<T>, body: unknown): T {
  const result = schema.safeParse(body);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const where = issue.path.length ? `${issue.path.join('.')}: ` : '';
    throw new AppError('BAD_REQUEST', `${where}${issue.message}`);
  }
  if (result.data && typeof result.data === 'object' && Object.keys(result.data).length === 0) {
    throw new AppError('BAD_REQUEST', 'nothing to change: the body names no field');
  }
  return result.data;
}

export function adminApi(deps: AdminDeps): express.Router {
  const { directory, admission, conference, log } = deps;
  const router = express.Router();

  const failures = new FailureLimiter(deps.authFailures ?? ADMIN_AUTH_FAILURES);
  // Authentication before anything reads the body.
  router.use((req, res, next) => {
    if (!deps.adminToken) {
      return sendError(res, 'ADMIN_DISABLED');
    }
    // The socket's address, not X-Forwarded-For (anyone can write that). Behind a proxy every
    // client shares the proxy's address: the limit then protects the token, not availability.
    const address = req.socket.remoteAddress ?? 'unknown';
    const blockedMs = failures.blockedForMs(address, deps.clock.nowMs());
    if (blockedMs !== null) {
      res.set('Retry-After', String(Math.ceil(blockedMs / 1000)));
      return sendError(res, 'RATE_LIMITED', `too many wrong admin tokens from this address; try again in ${Math.ceil(blockedMs / 1000)} s`);
    }
    const token = bearerToken(req.get('authorization'));
    if (token === null) {
      res.set('WWW-Authenticate', 'Bearer realm="conference-admin"');
      return sendError(res, 'UNAUTHORIZED');
    }
    if (!sameSecret(token, deps.adminToken)) {
      const count = failures.fail(address, deps.clock.nowMs());
      log.warn({ path: req.path, remote: address, failures: count }, 'admin: wrong token');
      return sendError(res, 'FORBIDDEN');
    }
    next();
  });
  const json = express.json({ limit: '16kb', strict: true });
  router.use((req, res, next) => (deps.ownBodyPaths?.includes(req.path) ? next() : json(req, res, next)));
  for (const extra of deps.routers ?? []) router.use(extra);

  const roomId = (req: Request): string => {
    const id: unknown = req.params['id'];
    if (!isValidRoomNumber(id, deps.roomNumberMaxDigits)) throw new AppError('NOT_FOUND', `no room ${JSON.stringify(String(id).slice(0, 40))}`);
    return id;
  };

  const roomView = (id: string, record: RoomRecord | null) => views.roomView(deps, id, record);
  const participantView = (p: Participant) => views.participantView(deps, p);

  const participantIn = (req: Request): Participant => {
    const id = roomId(req);
    const callSid = String(req.params['callSid'] ?? '');
    const p = conference.participant(callSid);
    if (!p || p.roomId !== id) throw new AppError('NOT_FOUND', `no participant ${JSON.stringify(callSid.slice(0, 64))} in room ${id}`);
    return p;
  };

  const checkPins = (roomPin: string | null | undefined, moderatorPin: string | null | undefined) => {
    if (roomPin && moderatorPin && roomPin === moderatorPin) throw new AppError('BAD_REQUEST', 'moderatorPin: must differ from pin');
  };

  /** A room's music must name a clip the library has (BAD_REQUEST otherwise). */
  const checkMusic = (body: { waitMusic?: string | null; holdMusic?: string | null }) => {
    for (const key of ['waitMusic', 'holdMusic'] as const) {
      const name = body[key];
      if (name != null && !deps.library.has(name)) throw new AppError('BAD_REQUEST', `${key}: no audio "${name}" in the library (GET /api/audio lists it)`);
    }
  };

  const checkSeatLimit = (maxParticipants: number | null | undefined) => {
    const server = admission.limits.maxParticipantsPerRoom;
    if (maxParticipants != null && maxParticipants > server) {
      throw new AppError('LIMIT_EXCEEDED', `maxParticipants ${maxParticipants} is above this server's MAX_PARTICIPANTS_PER_ROOM (${server})`);
    }
  };

  router.post(
    '/rooms',
    route(async (req, res) => {
      const body = parse(createBody, req.body);
      if (!isValidRoomNumber(body.id, deps.roomNumberMaxDigits)) {
        throw new AppError('BAD_REQUEST', `id: a room number is 1 to ${deps.roomNumberMaxDigits} digits (what callers key)`);
      }
      checkSeatLimit(body.maxParticipants);
      checkPins(body.pin, body.moderatorPin);
      checkMusic(body);
      if ((await directory.count()) >= admission.limits.maxRooms) {
        throw new AppError('LIMIT_EXCEEDED', `MAX_ROOMS (${admission.limits.maxRooms}) rooms exist already`);
      }
      const now = new Date().toISOString();
      const record: RoomRecord = {
        id: body.id,
        label: body.label ?? null,
        pinHash: body.pin ? await hashPin(body.pin) : null,
        maxParticipants: body.maxParticipants ?? null,
        locked: false,
        backgroundGate: body.backgroundGate ?? null,
        noiseSuppression: body.noiseSuppression ?? null,
        moderatorPinHash: body.moderatorPin ? await hashPin(body.moderatorPin) : null,
        waitForModerator: body.waitForModerator ?? false,
        endWhenModeratorLeaves: body.endWhenModeratorLeaves ?? false,
        startMuted: body.startMuted ?? false,
        waitMusic: body.waitMusic ?? null,
        holdMusic: body.holdMusic ?? null,
        createdAt: now,
        updatedAt: now,
      };
      if ((await directory.create(record)) === 'exists') throw new AppError('CONFLICT', `room ${body.id} exists`);
      conference.configureRoom(body.id, roomSoundPatch(record));
      deps.moderation?.configure(body.id, moderationSettings(record));
      deps.music.set(body.id, roomMusicOf(record));
      log.info(
        { room: body.id, hasPin: Boolean(body.pin), hasModeratorPin: Boolean(body.moderatorPin), maxParticipants: record.maxParticipants },
        'admin: room created',
      );
      res.status(201).location(`/api/rooms/${body.id}`).json(roomView(body.id, record));
    }),
  );

  router.get(
    '/rooms',
    route(async (_req, res) => {
      const records = await directory.list();
      const ids = new Set(records.map((r) => r.id));
      const live = conference
        .listRooms()
        .filter((r) => !ids.has(r.id))
        .map((r) => roomView(r.id, null));
      const rooms = views.sortRooms([...records.map((r) => roomView(r.id, r)), ...live]);
      res.json({ rooms } satisfies z.infer<typeof listRoomsAnswer>);
    }),
  );

  router.get(
    '/rooms/:id',
    route(async (req, res) => {
      const id = roomId(req);
      const record = await directory.get(id);
      const room = conference.room(id);
      if (!record && !room) throw new AppError('NOT_FOUND', `no room ${id}`);
      const participants = views.participantsInSeatOrder(room, participantView);
      res.json({ ...roomView(id, record), participants } satisfies z.infer<typeof views.roomDetailSchema>);
    }),
  );

  router.patch(
    '/rooms/:id',
    route(async (req, res) => {
      const id = roomId(req);
      const body = parse(patchRoomBody, req.body);
      checkSeatLimit(body.maxParticipants);
      checkPins(body.pin, body.moderatorPin);
      checkMusic(body);
      const now = new Date().toISOString();
      let record = await directory.get(id);
      if (!record) {
        // A room callers opened: from now on it is administered (and kept).
        if (!conference.room(id) && !deps.seats.isOpen(id)) throw new AppError('NOT_FOUND', `no room ${id}`);
        if ((await directory.count()) >= admission.limits.maxRooms)
          throw new AppError('LIMIT_EXCEEDED', `MAX_ROOMS (${admission.limits.maxRooms}) rooms exist already`);
        await directory.create({ id, label: null, pinHash: null, maxParticipants: null, locked: false, createdAt: now, updatedAt: now });
      }
      const patch: RoomPatch = {
        label: body.label,
        maxParticipants: body.maxParticipants,
        locked: body.locked,
        backgroundGate: body.backgroundGate,
        noiseSuppression: body.noiseSuppression,
        waitForModerator: body.waitForModerator,
        endWhenModeratorLeaves: body.endWhenModeratorLeaves,
        startMuted: body.startMuted,
        waitMusic: body.waitMusic,
        holdMusic: body.holdMusic,
      };
      if (body.pin !== undefined) patch.pinHash = body.pin === null ? null : await hashPin(body.pin);
      if (body.moderatorPin !== undefined) patch.moderatorPinHash = body.moderatorPin === null ? null : await hashPin(body.moderatorPin);
      record = await directory.update(id, patch, now);
      if (!record) throw new AppError('NOT_FOUND', `no room ${id}`); // deleted meanwhile
      // The sound settings take effect at once in an open room, not only for later callers.
      if (body.backgroundGate !== undefined || body.noiseSuppression !== undefined) conference.configureRoom(id, roomSoundPatch(record));
      deps.moderation?.configure(id, moderationSettings(record));
      if (body.waitMusic !== undefined || body.holdMusic !== undefined) deps.music.set(id, roomMusicOf(record));
      log.info({ room: id, changed: Object.keys(body) }, 'admin: room changed');
      res.json(roomView(id, record));
    }),
  );

  // Ends the calls in a room and keeps its stored configuration (DELETE ends them and forgets it).
  router.post(
    '/rooms/:id/end',
    route(async (req, res) => {
      const id = roomId(req);
      const participants = conference.room(id)?.size ?? 0;
      const reserved = deps.seats.isOpen(id);
      const stored = (await directory.get(id)) !== null;
      const ended = deps.endRoom(id);
      if (!stored && !ended && !reserved) throw new AppError('NOT_FOUND', `no room ${id}`);
      log.info({ room: id, participants, administered: stored }, 'admin: room ended (configuration kept)');
      res.json({ id, ended: true, participantsRemoved: participants, deleted: false } satisfies z.infer<typeof endAnswer>);
    }),
  );

  router.post(
    '/rooms/:id/mute-all',
    route(async (req, res) => {
      const id = roomId(req);
      const body = parse(muteAllBody, req.body);
      const exceptModerators = body.exceptModerators ?? false;
      const changed = conference.muteAll(id, body.muted, exceptModerators);
      if (changed === null) throw new AppError('NOT_FOUND', `room ${id} has nobody in it`);
      log.info({ room: id, muted: body.muted, exceptModerators, changed }, 'admin: mute-all');
      const participants = views.participantsInSeatOrder(conference.room(id), participantView);
      res.json({ id, muted: body.muted, exceptModerators, changed, participants } satisfies z.infer<typeof muteAllAnswer>);
    }),
  );

  router.delete(
    '/rooms/:id',
    route(async (req, res) => {
      const id = roomId(req);
      const participants = conference.room(id)?.size ?? 0;
      const reserved = deps.seats.isOpen(id);
      const deleted = await directory.delete(id);
      // Every stream is closed; Twilio then plays the goodbye after </Connect>.
      const ended = deps.endRoom(id);
      if (!deleted && !ended && !reserved) throw new AppError('NOT_FOUND', `no room ${id}`);
      log.info({ room: id, participants, administered: deleted }, 'admin: room ended and deleted');
      res.json({ id, deleted: true, participantsRemoved: participants } satisfies z.infer<typeof deleteAnswer>);
    }),
  );

  router.patch(
    '/rooms/:id/participants/:callSid',
    route(async (req, res) => {
      const p = participantIn(req);
      const body = parse(patchParticipantBody, req.body);
      if (body.coaching !== undefined) {
        const refused = conference.setCoaching(p.callSid, body.coaching);
        if (refused === 'no-coached') throw new AppError('BAD_REQUEST', `coaching: no participant ${JSON.stringify(body.coaching)} in room ${p.roomId}`);
        if (refused === 'self') throw new AppError('BAD_REQUEST', 'coaching: a participant cannot coach itself');
        if (refused === 'chain') throw new AppError('CONFLICT', 'coaching: a coach cannot be coached, nor a coached participant coach');
        if (refused === 'no-coach') throw new AppError('NOT_FOUND', `no participant ${JSON.stringify(p.callSid)} in room ${p.roomId}`);
      }
      if (body.muted !== undefined) conference.setMuted(p.callSid, body.muted);
      if (body.hold !== undefined) conference.setHold(p.callSid, body.hold);
      log.info({ room: p.roomId, callSid: p.callSid, ...body }, 'admin: participant changed');
      res.json(participantView(p));
    }),
  );

  router.post(
    '/rooms/:id/announcements',
    route(async (req, res) => {
      const id = roomId(req);
      const body = parse(announcementBody, req.body);
      const room = conference.room(id);
      if (!room) throw new AppError('NOT_FOUND', `room ${id} is not open: nobody would hear it`);
      if (body.to !== undefined && room.get(body.to) === undefined) throw new AppError('NOT_FOUND', `no participant ${JSON.stringify(body.to)} in room ${id}`);
      const pcm = deps.library.get(body.audio);
      if (!pcm) throw new AppError('BAD_REQUEST', `audio: no audio "${body.audio}" in the library (GET /api/audio lists it)`);
      const a = deps.announcements.play(room, body.audio, pcm, body.to ?? null);
      log.info({ room: id, announcement: a.id, audio: a.audio, to: a.to }, 'admin: announcement started');
      res.status(202).json(a satisfies z.infer<typeof announcementAnswer>);
    }),
  );

  router.delete(
    '/rooms/:id/participants/:callSid',
    route(async (req, res) => {
      const p = participantIn(req);
      const hangup = req.query['hangup'] === 'true';
      if (hangup && !deps.callControl) {
        throw new AppError(
          'LIMIT_EXCEEDED',
          'hangup=true needs TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN; without it the kick closes the stream and Twilio says goodbye',
        );
      }
      conference.kick(p.callSid);
      log.info({ room: p.roomId, callSid: p.callSid, hangup }, 'admin: participant kicked');
      let callEnded = false;
      if (hangup) {
        try {
          await deps.callControl!.endCall(p.callSid);
          callEnded = true;
        } catch (error) {
          log.warn({ callSid: p.callSid, err: error instanceof Error ? error.message : String(error) }, 'admin: Twilio did not end the call');
        }
      }
      res.json({ callSid: p.callSid, kicked: true, callEnded } satisfies z.infer<typeof kickAnswer>);
    }),
  );

  router.use((req: Request, res: Response) => sendError(res, 'NOT_FOUND', noRoute(req)));
  router.use(errorHandler(log));
  return router;
}

/** Express 5 passes rejected promises to the error handler; this only types the handler. */
function route(handler: (req: Request, res: Response) => Promise<void>) {
  return (req: Request, res: Response, next: NextFunction) => handler(req, res).catch(next);
}
