/**
 * The operator's dashboard: a plain HTML/CSS/JS page at /dashboard (no build step) and the live
 * feed it reads, GET /api/live (server-sent events, behind the admin API's authentication).
 *
 * The page is public (it holds no data); everything it shows comes from /api with the admin token,
 * which the page keeps in sessionStorage and sends as a bearer header (fetch, not EventSource, so
 * the token is never in a URL the server logs). The one-click link the server prints at start
 * carries the token in the URL fragment, which browsers never send.
 *
 * One snapshot of every room is built per interval (4 per second) and the same text goes to every
 * connected dashboard, plus one at once on any conference event (join, leave, mute, hold, speech,
 * recording), coalesced: no polling, and the cost does not grow with the number of dashboards.
 * Nothing here runs on the mixer's 20 ms path.
 */
import { readFileSync } from 'node:fs';
import { dirname, join as joinPath } from 'node:path';
import { fileURLToPath } from 'node:url';
import express, { type Request, type Response } from 'express';
import type { Conference } from '../conference/conference.js';
import type { RoomDirectory, RoomRecord } from '../rooms/directory.js';
import type { Participant } from '../conference/participant.js';
import type { SpeechActivity } from '../events/speech.js';
import type { HealthMonitor } from '../observability/health.js';
import type { Recordings } from '../recording/recordings.js';
import type { Admission } from '../rooms/admission.js';
import type { Clock } from '../timing/clock.js';
import { z } from 'zod';
import { named, operation } from './apiContract.js';
import { recordingView } from './recordings.js';
import { sendError } from './sendError.js';
import { liveParticipantView, liveParticipantViewSchema, maskPhoneNumber, participantsInSeatOrder, roomView, roomViewSchema, sortRooms } from './views.js';

const PUBLIC_DIR = joinPath(dirname(fileURLToPath(import.meta.url)), 'public', 'dashboard');
/** Snapshots per second while anyone watches. */
const SNAPSHOT_INTERVAL_MS = 250;
/** Health samples: one a second, two minutes kept. */
const HEALTH_INTERVAL_MS = 1000;
const HEALTH_POINTS = 120;

/** A `health` event: one second of the server's health (the dashboard's charts). */
export const healthSampleSchema = named(
  'LiveHealthSample',
  z.object({
    /** Unix ms. */
    t: z.number().int(),
    callers: z.number().int().min(0),
    rooms: z.number().int().min(0),
    tickP99Ms: z.number().min(0),
    cpuPercent: z.number().min(0),
    /** The event loop's delay p99 (ms) as /health reports it: since start or resetStats(), its sampling interval subtracted. */
    eventLoopP99Ms: z.number().min(0),
    rssMb: z.number().min(0),
    /** Share of the last second the event loop was busy (%), and whether new calls are refused for it. */
    busyPercent: z.number().min(0),
    overloaded: z.boolean(),
    /** stream-error reports from Twilio (<Stream statusCallback>) since start. */
    twilioStreamErrors: z.number().int().min(0),
  }),
  "One second of the server's health: callers, rooms, the mixer tick's and the event loop's p99 (ms), CPU and busy %, resident MB.",
);
export type HealthSample = z.infer<typeof healthSampleSchema>;

/** A room in a `snapshot` event: the admin view, its recording in progress, its callers with their meters, its ringing dial-outs. */
export const liveRoomSchema = named(
  'LiveRoomView',
  roomViewSchema.extend({
    /** The recording in progress, or null. */
    recording: recordingView.nullable(),
    participants: z.array(liveParticipantViewSchema),
    /** Numbers called into the room, masked like callers', while they ring. */
    dialOuts: z.array(z.object({ to: z.string().nullable(), status: z.string() })),
  }),
  'A room in the live snapshot: RoomView, its recording in progress (or null), its callers in seat order with their meters, the numbers ringing into it.',
);

/**
 * The live feed's events, by the SSE `event:` name, each the zod schema of its `data:` (JSON). The
 * feed writes only these (broadcast is typed by them); the OpenAPI document publishes them under
 * the route's `x-events`.
 */
export const liveEvents = {
  history: z.array(healthSampleSchema).describe('On connecting: the health samples of the last two minutes, oldest first.'),
  snapshot: named(
    'LiveSnapshot',
    z.object({ t: z.number().int(), rooms: z.array(liveRoomSchema) }),
    'Every room (stored, or opened by callers) in room number order: at most 4 a second while anything changes, and at once on connecting.',
  ),
  health: healthSampleSchema,
} as const;
export type LiveEventName = keyof typeof liveEvents;
type LiveEvent<E extends LiveEventName> = z.infer<(typeof liveEvents)[E]>;

export interface LiveDeps {
  conference: Conference;
  directory: RoomDirectory;
  admission: Admission;
  speech: SpeechActivity;
  recordings: Recordings;
  /** The server's one health monitor: CPU % and tick p99 per second, the event loop's delay. */
  health: Pick<HealthMonitor, 'window' | 'loopDelayMs'>;
  clock: Clock;
  /** Admission by capacity (src/timing/capacity.ts). Absent: busy 0 %, never at capacity. */
  load?: () => { utilization: number; overloaded: boolean };
  /** Twilio's stream-error reports since start (src/events/twilioStreamEvents.ts). Absent: 0. */
  twilioStreamErrors?: () => number;
  /** The calls placed into a room and not yet in it or over (dial-outs, src/http/dialOut.ts). Absent: none. */
  dialOuts?: (room: string) => readonly { to: string; status: string }[];
}

/** Static files of the page: /dashboard, /dashboard/app.js, /dashboard/style.css. */
export function dashboardPage(): express.Router {
  const router = express.Router();
  const html = readFileSync(joinPath(PUBLIC_DIR, 'index.html'), 'utf8');
  const security = (res: Response) =>
    res.set({
      'Content-Security-Policy':
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
      'Referrer-Policy': 'no-referrer',
      'X-Content-Type-Options': 'nosniff',
      'Cache-Control': 'no-store',
    });
  router.get(['/dashboard', '/dashboard/'], (_req, res) => {
    security(res).type('html').send(html);
  });
  router.use(
    '/dashboard',
    (_req, res, next) => {
      security(res);
      next();
    },
    express.static(PUBLIC_DIR, { index: false, dotfiles: 'deny', fallthrough: true }),
  );
  return router;
}

/** LiveFeed's route, in the admin API's contract (src/http/apiContract.ts). */
export const liveContract = [
  operation('get', '/live', 'liveFeed', "The dashboard's live feed (Server-Sent Events)", {
    responses: {
      200: {
        contentType: 'text/event-stream',
        description:
          'Server-sent events: `history` (the health samples so far, on connecting), `snapshot` (every room with its callers, on each change) and `health` (once a second); each `data:` is JSON, its schema under `x-events` by event name',
        events: liveEvents,
      },
    },
    errors: ['SHUTTING_DOWN'],
  }),
];

/** The live feed, GET /live (mount behind the admin API's authentication). */
export class LiveFeed {
  private readonly clients = new Set<Response>();
  private snapshotTimer: NodeJS.Timeout | null = null;
  private healthTimer: NodeJS.Timeout | null = null;
  private readonly history: HealthSample[] = [];
  private pending = false;
  private building = false;
  private closed = false;

  constructor(private readonly deps: LiveDeps) {
    const soon = () => this.soon();
    const c = deps.conference;
    c.on('participantJoined', soon);
    c.on('participantLeft', soon);
    c.on('participantMuted', soon);
    c.on('participantHeld', soon);
    c.on('participantSpeech', soon);
    c.on('roomClosed', soon);
    deps.recordings.on('started', soon);
    deps.recordings.on('stopped', soon);
  }

  router(): express.Router {
    const router = express.Router();
    router.get('/live', (req: Request, res: Response) => this.attach(req, res));
    return router;
  }

  /** Ends every stream and stops the timers (server shutdown). */
  close(): void {
    this.closed = true;
    for (const res of this.clients) res.end();
    this.clients.clear();
    this.stopTimers();
  }

  private attach(req: Request, res: Response): void {
    if (this.closed) return sendError(res, 'SHUTTING_DOWN');
    res
      .status(200)
      .set({ 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-store', Connection: 'keep-alive', 'X-Accel-Buffering': 'no' });
    res.flushHeaders();
    req.socket.setNoDelay(true);
    this.clients.add(res);
    res.write(`retry: 2000\nevent: history\ndata: ${JSON.stringify(this.history satisfies LiveEvent<'history'>)}\n\n`);
    req.on('close', () => {
      this.clients.delete(res);
      if (this.clients.size === 0) this.stopTimers();
    });
    this.startTimers();
    this.soon();
  }

  private startTimers(): void {
    if (!this.snapshotTimer) {
      this.snapshotTimer = setInterval(() => this.soon(), SNAPSHOT_INTERVAL_MS);
      this.snapshotTimer.unref();
    }
    if (!this.healthTimer) {
      this.deps.health.window(); // starts the per-second window
      this.healthTimer = setInterval(() => this.broadcast('health', this.sampleHealth()), HEALTH_INTERVAL_MS);
      this.healthTimer.unref();
    }
  }

  private stopTimers(): void {
    if (this.snapshotTimer) clearInterval(this.snapshotTimer);
    if (this.healthTimer) clearInterval(this.healthTimer);
    this.snapshotTimer = this.healthTimer = null;
  }

  /** A snapshot goes out on the next turn of the event loop (events in one tick coalesce). */
  private soon(): void {
    if (this.pending || this.clients.size === 0) return;
    this.pending = true;
    setImmediate(() => {
      this.pending = false;
      if (this.building) return void this.soon();
      this.building = true;
      this.snapshot()
        .then((s) => this.broadcast('snapshot', s))
        .catch(() => {})
        .finally(() => (this.building = false));
    });
  }

  private broadcast<E extends LiveEventName>(event: E, data: LiveEvent<E>): void {
    if (this.clients.size === 0) return;
    const text = `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
    for (const res of this.clients) res.write(text);
  }

  private async snapshot(): Promise<LiveEvent<'snapshot'>> {
    const { conference, directory, recordings } = this.deps;
    const records = await directory.list();
    const byId = new Map<string, RoomRecord>(records.map((r) => [r.id, r]));
    const ids = new Set<string>([...byId.keys(), ...conference.listRooms().map((r) => r.id)]);
    const live = (p: Participant) => liveParticipantView(this.deps, p);
    const rooms = sortRooms(
      [...ids].map((id) => {
        const record = byId.get(id) ?? null;
        return {
          ...roomView(this.deps, id, record),
          recording: recordings.isRecording(id),
          participants: participantsInSeatOrder(conference.room(id), live),
          // Numbers called into the room, masked like callers', while they ring (dial-outs).
          dialOuts: (this.deps.dialOuts?.(id) ?? []).map((d) => ({ to: maskPhoneNumber(d.to), status: d.status })),
        };
      }),
    );
    return { t: Date.now(), rooms };
  }

  private sampleHealth(): HealthSample {
    const { conference, health } = this.deps;
    const { cpuPercent, tickP99Ms } = health.window();
    const stats = conference.stats();
    const load = this.deps.load?.();
    const sample: HealthSample = {
      t: Date.now(),
      callers: conference.stats().participants,
      rooms: stats.rooms,
      tickP99Ms,
      cpuPercent,
      eventLoopP99Ms: health.loopDelayMs().p99,
      rssMb: Math.round(process.memoryUsage.rss() / 1e5) / 10,
      busyPercent: Math.round((load?.utilization ?? 0) * 1000) / 10,
      overloaded: load?.overloaded ?? false,
      twilioStreamErrors: this.deps.twilioStreamErrors?.() ?? 0,
    };
    this.history.push(sample);
    if (this.history.length > HEALTH_POINTS) this.history.shift();
    return sample;
  }
}
