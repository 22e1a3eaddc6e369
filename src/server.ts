/**
 * createServer(config) -> { listen, close }: the composition root. It builds, in dependency order,
 * the health monitor, the conference core, the mixer's 20 ms clock, the metrics, the HTTP app, the
 * media WebSocket server and the HTTP routes, and says how they start and stop. No side effects
 * at import; each factory is in src/app/ and can be built alone.
 */
import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createCore, type Core } from './app/core.js';
import type { AudioLibrary } from './library/audioLibrary.js';
import { createHttpApp, mountHttpRoutes } from './app/httpApp.js';
import { createMediaServer } from './app/mediaServer.js';
import { createMixerClock } from './app/mixerClock.js';
import { readServerStats, type ServerStats } from './app/stats.js';
import type { Config } from './config.js';
import type { ClusterNode } from './cluster/node.js';
import type { RoomDirectory } from './rooms/directory.js';
import type { Conference } from './conference/conference.js';
import type { SpeechActivity } from './events/speech.js';
import type { StatusCallbacks } from './events/statusCallbacks.js';
import type { CallControl, TwilioHttpClient } from './http/callControl.js';
import { silentLogger, type Logger } from './log.js';
import { HealthMonitor } from './observability/health.js';
import { Metrics } from './observability/metrics.js';
import type { Recordings } from './recording/recordings.js';
import type { Admission } from './rooms/admission.js';
import type { SeatLedger } from './rooms/seats.js';
import type { JoinTickets } from './security/joinTicket.js';
import { monotonicClock, type Clock } from './timing/clock.js';
import type { Ticker } from './timing/ticker.js';

export type { ServerStats } from './app/stats.js';

export interface ServerDeps {
  log?: Logger;
  clock?: Clock;
  /** Wall clock (Unix ms) for join-ticket expiry. */
  wallClock?: Clock;
  /** Default: SQLite at ROOMS_DB_PATH (closed with the server). */
  directory?: RoomDirectory;
  /** Default: Twilio's REST API when TWILIO_ACCOUNT_SID/TWILIO_AUTH_TOKEN are set. */
  callControl?: CallControl;
  /** Where twilio's REST client sends its requests (default: api.twilio.com); tests pass a stand-in's. */
  twilioHttpClient?: TwilioHttpClient;
  /** Default: one sampling this process's event loop and CPU. */
  health?: HealthMonitor;
}

export interface ConferenceServer {
  /** Live figures since start or since resetStats(). */
  stats(): ServerStats;
  resetStats(): void;
  /** Starts listening (port 0: any free port) and the mixer clock; resolves with the bound port. */
  listen(port?: number, host?: string): Promise<{ port: number }>;
  /** Ordered shutdown: the `shutdown` steps in createServer, each logged. Idempotent. */
  close(): Promise<void>;
  readonly conference: Conference;
  readonly ticker: Ticker;
  readonly httpServer: http.Server;
  readonly admission: Admission;
  readonly seats: SeatLedger;
  readonly tickets: JoinTickets;
  /** The talk detector's hook: report(participant, talking) -> speaking indicator and speech events. */
  readonly speech: SpeechActivity;
  /** Null without STATUS_CALLBACK_URL. */
  readonly statusCallbacks: StatusCallbacks | null;
  /** Room recordings (admin API, RECORD_ROOMS=always). */
  readonly recordings: Recordings;
  /** The audio library: bundled music and uploads (GET/PUT/DELETE /api/audio). */
  readonly library: AudioLibrary;
  /** Prometheus metrics (GET /metrics). */
  readonly metrics: Metrics;
  /** This node of a cluster (REDIS_URL), or null for one process. */
  readonly cluster: ClusterNode | null;
  /** The one sampler of event-loop delay, CPU and tick times, read by every report. */
  readonly health: HealthMonitor;
  /** True once close() has begun: /ready answers 503. */
  isShuttingDown(): boolean;
  /**
   * 'production': TWILIO_AUTH_TOKEN is set and every webhook and /media upgrade must be signed by
   * Twilio. 'development': no signature checks (join tickets are still required).
   */
  readonly mode: 'production' | 'development';
  /**
   * The first step of shutdown, also on its own: webhooks answer twiml/restarting.xml, /media
   * upgrades 503, /ready 503; calls in progress go on. close() does this first.
   */
  stopAdmitting(): void;
}

/** How long the last status callbacks may take to go out (ms). */
const STATUS_CALLBACK_FLUSH_MS = 1000;
/** How long a restarting process waits for Twilio to ask what next for the calls it closed (ms). */
const REJOIN_REQUESTS_WAIT_MS = 2000;

export function createServer(config: Readonly<Config>, deps: ServerDeps = {}): ConferenceServer {
  const log = deps.log ?? silentLogger();
  const clock = deps.clock ?? monotonicClock;
  const mode = config.twilioAuthToken ? ('production' as const) : ('development' as const);
  let shuttingDown = false;

  const health = deps.health ?? new HealthMonitor();
  const core: Core = createCore(config, { ...deps, log, clock, health });
  const { conference, admission, tickets, cluster, recordings, statusCallbacks, directory } = core;
  const mixer = createMixerClock({ clock, conference, ownership: core.ownership, load: core.load, health });
  const { ticker, busySince, markBusy } = mixer;
  const metrics = new Metrics({
    conference,
    ticker,
    tickParts: { mix: health.mixMs, send: health.sendMs },
    load: () => core.load,
    statusCallbacks,
    streamEvents: core.streamEvents,
    eventLoopDelayMs: () => health.loopDelayMs(),
    activeRecordings: () => recordings.activeCount,
    ...(cluster
      ? { clusterNodes: () => cluster.registry.live().then((nodes) => ({ live: nodes.length, draining: nodes.filter((n) => n.draining).length })) }
      : {}),
    signatureChecks: Boolean(config.twilioAuthToken),
  });
  const stats = () => readServerStats({ conference, ticker, health, load: core.load });

  const web = createHttpApp();
  const { app, httpServer } = web;
  const isAdmitting = () => !shuttingDown;
  // The calls closed at shutdown whose rejoin request (the <Connect action>) is not answered yet.
  const rejoinsDue = new Set<string>();
  let rejoinsAnswered: (() => void) | null = null;
  const onShutdownRejoin = (callSid: string) => {
    if (rejoinsDue.delete(callSid) && rejoinsDue.size === 0) rejoinsAnswered?.();
  };
  // The WebSocket route first: no middleware may run (or defer) before its handlers attach.
  const media = createMediaServer(app, httpServer, { config, clock, log, conference, admission, tickets, metrics, busySince, markBusy, isAdmitting });
  const routes = mountHttpRoutes(app, {
    config,
    log,
    clock,
    core,
    ticker,
    health,
    metrics,
    markBusy,
    isShuttingDown: () => shuttingDown,
    stats,
    mode,
    onShutdownRejoin,
  });

  const stopAdmitting = () => {
    if (!shuttingDown) log.info('not admitting new calls (shutting down)');
    shuttingDown = true;
    cluster?.setDraining(true);
  };
  const logFailure = (what: string) => (error: unknown) => log.error({ err: error }, `${what} failed`);
  /** Until every call closed at shutdown has asked to rejoin, or `ms` passed. */
  const waitForRejoins = (ms: number) =>
    new Promise<void>((resolve) => {
      if (rejoinsDue.size === 0) return resolve();
      const deadline = setTimeout(() => {
        log.warn({ calls: rejoinsDue.size }, 'shutdown: some calls did not ask to rejoin in time (hung up, or Twilio is late)');
        resolve();
      }, ms);
      rejoinsAnswered = () => {
        clearTimeout(deadline);
        resolve();
      };
    });
  // One process keeps answering until each call it closed has asked what next (its <Connect
  // action>): told to wait for the next process when calls survive a restart (RESTART_PAUSE_SECONDS,
  // a database file), else restarting.xml. In a cluster the other nodes answer: this node stops
  // accepting connections first.
  const acceptUntilRejoined: Array<[step: string, run: () => unknown]> = cluster
    ? []
    : [
        ...(core.restartable
          ? ([
              ['save the calls for the next process', () => log.info({ calls: core.callStates.persist() }, 'shutdown: calls saved for the next process')],
            ] as Array<[string, () => unknown]>)
          : []),
        [`wait for the calls to ask what next (at most ${REJOIN_REQUESTS_WAIT_MS / 1000} s)`, () => waitForRejoins(REJOIN_REQUESTS_WAIT_MS)],
        ['stop accepting connections', () => web.stopAccepting()],
      ];
  /** Shutdown, in order, each step logged as it begins. */
  const shutdown: Array<[step: string, run: () => unknown]> = [
    ['stop the mixer clock', () => ticker.stop()],
    ['stop the capacity sampler', () => core.load.stop()],
    // In a cluster each call's state goes to Redis first (the node that takes its room reads it),
    // then the rooms are given back before their callers are let go: their rejoin then finds them
    // free and another node takes them.
    ["cluster: share each call's state for its rejoin", () => (cluster ? core.shareCallStates() : undefined)],
    ["cluster: give back this node's rooms", () => cluster?.stop().catch(logFailure('cluster: stopping the node'))],
    ["stop the media sockets' heartbeat", () => media.stopHeartbeat()],
    ['stop sampling health', () => health.stop()],
    ...(cluster ? ([['stop accepting connections', () => web.stopAccepting()]] as Array<[string, () => unknown]>) : []),
    ["end the dashboards' live feeds", () => routes.live.close()],
    // Recordings before the rooms: their files get their last samples and true sizes.
    ['close recordings', () => recordings.close().catch(logFailure('recordings: close'))],
    [
      'close every room (1001)',
      () => {
        for (const room of conference.listRooms()) for (const p of room.participants()) rejoinsDue.add(p.callSid);
        conference.close('shutdown');
      },
    ],
    // Sockets that never started a stream are not in any room: end them too.
    ['close media sockets not in a room', () => media.closeAll()],
    ...acceptUntilRejoined,
    ['close the HTTP server (2 s for the last connections)', () => web.close(() => media.terminateAll())],
    ['forget the media sessions', () => media.clearSessions()],
    // The rooms' last events (participant-leave, conference-end) get a moment to go out.
    ['send the last status callbacks', () => statusCallbacks?.close(STATUS_CALLBACK_FLUSH_MS)],
    // A cluster node's directory is Redis, closed with the node.
    [
      'close the room directory',
      () => {
        core.close();
        if (!cluster) return directory.close();
      },
    ],
  ];

  let closing: Promise<void> | null = null;
  return {
    conference,
    ticker,
    httpServer,
    admission,
    seats: core.seats,
    tickets,
    speech: core.speech,
    statusCallbacks,
    metrics,
    recordings,
    library: core.library,
    cluster,
    health,
    isShuttingDown: () => shuttingDown,
    mode,
    stopAdmitting,
    stats,
    resetStats() {
      ticker.resetStats();
      health.reset();
    },
    async listen(port = config.port, host = config.host) {
      await new Promise<void>((resolve, reject) => {
        httpServer.once('error', reject);
        httpServer.listen(port, host, () => {
          httpServer.off('error', reject);
          resolve();
        });
      });
      health.start();
      ticker.start();
      core.load.start();
      cluster?.start();
      return { port: (httpServer.address() as AddressInfo).port };
    },
    close() {
      shuttingDown = true;
      cluster?.setDraining(true);
      closing ??= (async () => {
        for (const [i, [step, run]] of shutdown.entries()) {
          log.info({ step: i + 1, of: shutdown.length }, `shutdown: ${step}`);
          await run();
        }
      })();
      return closing;
    },
  };
}
