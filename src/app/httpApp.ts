/**
 * The HTTP side: the Express app and its server (hardened against slow senders), then every HTTP
 * route in the order they are matched: Twilio's voice webhooks, the admin API (with the
 * dashboard's live feed, recordings and, in a cluster, forwarding to a room's node), the dashboard
 * and join pages, /health, /ready, /metrics, and last the 404 and error answers.
 *
 * The media WebSocket route is mounted between `createHttpApp` and `mountHttpRoutes`: before any
 * middleware, so nothing runs (or defers) before its handlers attach.
 */
import http from 'node:http';
import express from 'express';
import type { Config } from '../config.js';
import { clusterApi, clusterContract, forwardedContract, forwardRoomRequests } from '../cluster/forward.js';
import { adminApi, adminContract } from '../http/admin.js';
import type { ApiOperation } from '../http/apiContract.js';
import { audioApi, audioContract } from '../http/audio.js';
import { dashboardPage, LiveFeed, liveContract } from '../http/dashboard.js';
import { dialOutApi, dialOutContract, dialOutWebhooks } from '../http/dialOut.js';
import { invitesApi, invitesContract } from '../http/invites.js';
import { joinPage } from '../http/join.js';
import { openApiContract, openApiDocument, openApiRouter } from '../http/openapi.js';
import { recordingsApi, recordingsContract } from '../http/recordings.js';
import { ROOMS_FILE_IMPORT_PATH, roomsFileApi, roomsFileContract } from '../http/roomsFile.js';
import { programsApi, programsContract } from '../http/programs.js';
import type { RoomParamDeps } from '../http/roomParam.js';
import { errorHandler, noRoute, sendError } from '../http/sendError.js';
import { webhookTimer } from '../http/webhookTimer.js';
import { voiceWebhooks } from '../http/webhooks.js';
import type { Logger } from '../log.js';
import type { HealthMonitor } from '../observability/health.js';
import type { Metrics } from '../observability/metrics.js';
import { ReadinessProbe } from '../observability/readiness.js';
import type { Clock } from '../timing/clock.js';
import type { Ticker } from '../timing/ticker.js';
import type { Core } from './core.js';
import type { ServerStats } from './stats.js';

/** After this long (ms) at shutdown the connections that have not closed are dropped. */
const SHUTDOWN_GRACE_MS = 2000;

export interface HttpApp {
  readonly app: express.Express;
  readonly httpServer: http.Server;
  /** Shutdown's first HTTP step: no new connections; those open go on. */
  stopAccepting(): void;
  /**
   * Shutdown's last HTTP step: idle connections close at once; the rest, and the sockets
   * `terminateSockets` drops, after SHUTDOWN_GRACE_MS. Resolves once the server has closed.
   */
  close(terminateSockets: () => void): Promise<void>;
}

export function createHttpApp(): HttpApp {
  const app = express();
  app.disable('x-powered-by');
  // No ETag on webhook and API answers (res.send hashed every body: 1 % of a call set-up's CPU).
  app.set('etag', false);
  const httpServer = http.createServer(app);
  // Slow senders (slowloris) are cut off: Twilio sends a webhook in one go and waits 15 s at most.
  httpServer.headersTimeout = 15_000;
  httpServer.requestTimeout = 30_000;
  let closed: Promise<void> | null = null;
  const stopAccepting = () => {
    closed ??= new Promise<void>((resolve) => httpServer.close(() => resolve()));
  };
  return {
    app,
    httpServer,
    stopAccepting,
    async close(terminateSockets) {
      stopAccepting();
      const grace = setTimeout(() => {
        terminateSockets();
        httpServer.closeAllConnections();
      }, SHUTDOWN_GRACE_MS);
      httpServer.closeIdleConnections();
      await closed;
      clearTimeout(grace);
    },
  };
}

/**
 * Every admin API route, as GET /api/openapi.json describes it: one list per router mounted below
 * (a router added to the admin API's `routers` adds its contract list here). `cluster`: with the
 * cluster's own routes, and the forwarder's refusals on the room routes it forwards.
 */
export function adminApiContract(cluster: boolean): ApiOperation[] {
  const operations = [
    ...openApiContract,
    ...adminContract,
    ...invitesContract,
    ...dialOutContract,
    ...recordingsContract,
    ...audioContract,
    ...liveContract,
    ...roomsFileContract,
    ...programsContract,
    ...(cluster ? clusterContract : []),
  ];
  // A cluster node passes a room's requests to the node mixing it: those routes answer its refusals too.
  return cluster ? forwardedContract(operations) : operations;
}

export interface HttpRoutesDeps {
  config: Readonly<Config>;
  log: Logger;
  clock: Clock;
  core: Core;
  ticker: Ticker;
  health: HealthMonitor;
  metrics: Metrics;
  /** A call set-up holds the loop: frames read after it may have been waiting (timing/busySince.ts). */
  markBusy: () => void;
  /** True once shutdown has begun: webhooks answer twiml/restarting.xml, /ready 503. */
  isShuttingDown: () => boolean;
  stats: () => ServerStats;
  mode: 'production' | 'development';
  /** Told of each call's rejoin answered while shutting down (the server waits for them). */
  onShutdownRejoin?: (callSid: string) => void;
}

export interface HttpRoutes {
  /** The dashboard's live feed (ended at shutdown). */
  readonly live: LiveFeed;
}

export function mountHttpRoutes(app: express.Express, deps: HttpRoutesDeps): HttpRoutes {
  const { config, log, clock, core, ticker, health, metrics, isShuttingDown } = deps;
  const { conference, directory, admission, seats, speech, recordings, cluster, load } = core;
  app.use((_req, _res, next) => {
    deps.markBusy();
    next();
  });
  const streamErrors = () => core.streamEvents.totals.errors;
  const live = new LiveFeed({
    conference,
    directory,
    admission,
    speech,
    recordings,
    health,
    clock,
    load: () => load,
    twilioStreamErrors: streamErrors,
    dialOuts: (room) => core.dialOuts.pending(room),
  });
  // A request about one room goes to the node that mixes it.
  if (cluster) {
    app.use('/api', forwardRoomRequests({ selfId: cluster.id, adminToken: config.adminToken, ownerOf: (room) => cluster.ownership.ownerOf(room), log }));
  }
  /** How the routers that take a room in their path look it up (src/http/roomParam.ts). */
  const roomParam: RoomParamDeps = {
    directory,
    seats,
    isLive: (room) => conference.room(room) !== undefined,
    roomNumberMaxDigits: config.roomNumberMaxDigits,
  };
  // The contract needs no token: mounted before the admin API's authentication.
  app.use('/api', openApiRouter(openApiDocument(adminApiContract(cluster !== null))));
  app.use(
    '/api',
    adminApi({
      routers: [
        recordingsApi(recordings),
        audioApi({ library: core.library, maxBytes: config.audioMaxBytes, log }),
        live.router(),
        invitesApi({
          invites: core.invites,
          ...roomParam,
          publicUrl: config.publicUrl,
          log,
        }),
        dialOutApi({
          dialer: core.dialer,
          dialOuts: core.dialOuts,
          ...roomParam,
          publicUrl: config.publicUrl,
          nodePublicPrefix: config.nodePublicPrefix,
          callerId: config.twilioCallerId,
          log,
        }),
        roomsFileApi({
          directory,
          admission,
          conference,
          moderation: core.moderation,
          library: core.library,
          music: core.music,
          endRoom: (room) => core.endRoom(room, 'room-closed'),
          roomNumberMaxDigits: config.roomNumberMaxDigits,
          log,
        }),
        programsApi({
          admission,
          ...roomParam,
          publicUrl: config.publicUrl,
          nodePublicPrefix: config.nodePublicPrefix,
          ownership: core.ownership,
          log,
        }),
        ...(cluster ? [clusterApi(cluster, log)] : []),
      ],
      ownBodyPaths: [ROOMS_FILE_IMPORT_PATH],
      adminToken: config.adminToken,
      roomNumberMaxDigits: config.roomNumberMaxDigits,
      directory,
      admission,
      seats,
      conference,
      endRoom: (room) => core.endRoom(room, 'room-closed'),
      moderation: core.moderation,
      speech,
      clock,
      callControl: core.callControl,
      library: core.library,
      music: core.music,
      announcements: core.announcements,
      log,
    }),
  );
  app.use(dashboardPage());
  app.use(
    joinPage({
      admission,
      seats,
      invites: core.invites,
      adminToken: config.adminToken,
      mode: config.joinPage,
      seatsPerAddress: config.joinSeatsPerAddress,
      ticketsPerMinute: config.joinTicketsPerMinute,
      roomNumberMaxDigits: config.roomNumberMaxDigits,
      log,
      nowMs: () => clock.nowMs(),
    }),
  );
  app.use(webhookTimer(metrics));
  app.use(
    voiceWebhooks({
      config,
      admission,
      log,
      isAdmitting: () => !isShuttingDown(),
      ownership: core.ownership,
      tickets: core.tickets,
      streamEvents: core.streamEvents,
      outcomes: core.outcomes,
      callStates: core.callStates,
      endStream: (callSid) => core.conference.endStream(callSid),
      restartPauseSeconds: core.restartable ? config.restartPauseSeconds : 0,
      onShutdownRejoin: deps.onShutdownRejoin,
    }),
  );
  // After voiceWebhooks: its /voice middleware (form parser, signature check) runs for these too.
  app.use(dialOutWebhooks({ config, admission, dialOuts: core.dialOuts, log, tickets: core.tickets, isAdmitting: () => !isShuttingDown() }));

  const startedAtMs = Date.now();
  app.get('/health', (_req, res) => {
    res.json({
      status: 'ok',
      mode: deps.mode,
      node: config.redisUrl ? config.nodeId : undefined,
      uptimeSeconds: Math.round((Date.now() - startedAtMs) / 1000),
      ...deps.stats(),
      // Twilio's own reports on the media streams (<Stream statusCallback>) since start.
      twilioStreams: { ...core.streamEvents.totals, errorsByCode: Object.fromEntries(core.streamEvents.errorsByCode) },
      // Calls placed by the admin API (POST /api/rooms/:id/participants) and how they went.
      dialOuts: core.dialOuts.totals,
    });
  });
  const readiness = new ReadinessProbe({ ticker, directory, isShuttingDown, load: () => load, nowMs: () => clock.nowMs() });
  app.get('/ready', async (_req, res) => {
    const r = await readiness.check();
    res.status(r.ready ? 200 : 503).json({ status: r.ready ? 'ready' : 'not ready', ...r.checks });
  });
  app.get('/metrics', async (_req, res) => {
    res.type(metrics.contentType).send(await metrics.render());
  });

  app.use((req, res) => sendError(res, 'NOT_FOUND', noRoute(req)));
  app.use(errorHandler(log));
  return { live };
}
