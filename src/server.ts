/**
 * createServer(config) -> { listen, close }: composes the conference core, its 20 ms clock, the
 * webhooks and the media endpoint into one HTTP server. No side effects at import.
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { AddressInfo } from 'node:net';
import express from 'express';
import expressWs from 'express-ws';
import { FRAME_MS, SAMPLES_PER_FRAME } from './audio/format.js';
import type { Config } from './config.js';
import { Conference } from './conference/conference.js';
import type { RoomDirectory } from './conference/directory.js';
import { InCallKeys } from './conference/inCallKeys.js';
import { RoomAudio } from './conference/roomAudio.js';
import { applyRoomSoundSettings } from './rooms/roomSound.js';
import { ERRORS } from './errors.js';
import { SpeechActivity } from './events/speech.js';
import { StatusCallbacks } from './events/statusCallbacks.js';
import { adminApi } from './http/admin.js';
import { twilioCallControl, type CallControl } from './http/callControl.js';
import { MEDIA_PATH, voiceWebhooks } from './http/webhooks.js';
import { silentLogger, type Logger } from './log.js';
import { mediaUpgradeCheck, mountMediaEndpoint } from './media/endpoint.js';
import { Metrics, ObservedSessions, observeUpgrades } from './observability/metrics.js';
import { ReadinessProbe } from './observability/readiness.js';
import { Recordings } from './recording/recordings.js';
import { recordingsApi } from './http/recordings.js';
import { dashboardPage, LiveFeed } from './http/dashboard.js';
import { joinPage } from './http/join.js';
import { resolve as resolvePath } from 'node:path';
import type { MediaSession } from './media/session.js';
import { Admission } from './rooms/admission.js';
import { createClusterNode, type ClusterNode } from './cluster/node.js';
import { LocalOwnership, type RoomOwnership } from './cluster/ownership.js';
import { clusterApi, forwardRoomRequests } from './cluster/forward.js';
import type { NodeLoad } from './cluster/types.js';
import { SeatLedger } from './rooms/seats.js';
import { SqliteRoomDirectory } from './rooms/sqliteDirectory.js';
import { JoinTickets } from './security/joinTicket.js';
import { monotonicClock, systemClock, type Clock } from './timing/clock.js';
import { Ticker } from './timing/ticker.js';
import { DurationHistogram } from './timing/histogram.js';
import { Capacity } from './timing/capacity.js';
import { LoadSampler } from './timing/loadSampler.js';
import { LoopBusySince } from './timing/busySince.js';

export interface ServerDeps {
  log?: Logger;
  clock?: Clock;
  /** Wall clock (Unix ms) for join-ticket expiry. */
  wallClock?: Clock;
  /** Default: SQLite at ROOMS_DB_PATH (closed with the server). */
  directory?: RoomDirectory;
  /** Default: Twilio's REST API when TWILIO_ACCOUNT_SID/TWILIO_AUTH_TOKEN are set. */
  callControl?: CallControl;
}

/** The figures an operator or a benchmark reads: what is live, and how the clock keeps up. */
export interface ServerStats {
  rooms: number;
  participants: number;
  framesMixed: number;
  framesSent: number;
  mixer: {
    ticks: number;
    lateTicks: number;
    skippedTicks: number;
    resyncs: number;
    /** The whole tick: mixMs + sendMs (and the ownership check). */
    tickMs: { count: number; p50: number; p99: number; max: number; mean: number };
    /** Every room's mixing: decode, jitter buffers, talk detection, sums, limiter, encode. */
    mixMs: { count: number; p50: number; p99: number; max: number; mean: number };
    /** Handing the frames to the sockets: one write per listener. */
    sendMs: { count: number; p50: number; p99: number; max: number; mean: number };
    latenessMs: { count: number; p50: number; p99: number; max: number; mean: number };
  };
  eventLoopDelayMs: { p50: number; p99: number; max: number; mean: number };
  /**
   * Share of the last second the event loop was busy (%); whether a new call would be refused for
   * load now; the callers the capacity model projects this process to hold (null: not yet known or
   * no limit; src/timing/capacity.ts).
   */
  load: { busyPercent: number; tickPercent: number; mediaToTick: number; overloaded: boolean; callersHeld: number | null };
  memory: { rssBytes: number; heapUsedBytes: number };
  cpuMicros: { user: number; system: number };
}

export interface ConferenceServer {
  /** Live figures since start or since resetStats(). */
  stats(): ServerStats;
  resetStats(): void;
  /** Starts listening (port 0: any free port) and the mixer clock; resolves with the bound port. */
  listen(port?: number, host?: string): Promise<{ port: number }>;
  /**
   * Ordered shutdown: stop the clock, end every stream (1001), close the HTTP server, send the last
   * status callbacks (1 s at most), close the room database. Idempotent.
   */
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
  /** Prometheus metrics (GET /metrics). */
  readonly metrics: Metrics;
  /** Issue 8: this node of a cluster (REDIS_URL), or null for one process. */
  readonly cluster: ClusterNode | null;
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

/** Largest WebSocket message accepted: a 20 ms media message is ~330 bytes; this allows ~400 ms. */
const WS_MAX_PAYLOAD_BYTES = 8 * 1024;
/** Largest media payload accepted, decoded (400 ms of audio). */
const MAX_MEDIA_PAYLOAD_BYTES = 20 * SAMPLES_PER_FRAME;
/** ~1 s of outbound media messages: past this a caller's socket is not draining. */
const MAX_BUFFERED_BYTES = 50 * 330;
/** Missed ticks made up at one late wake-up before the clock resynchronises (100 ms). */
const MAX_CATCH_UP_TICKS = 5;

export function createServer(config: Readonly<Config>, deps: ServerDeps = {}): ConferenceServer {
  const log = deps.log ?? silentLogger();
  const clock = deps.clock ?? monotonicClock;
  // Issue 8: with REDIS_URL this process is one node of a cluster: rooms, leases and nodes in Redis.
  // Everything the node needs of this server is read lazily (the conference is built below).
  let nodeLoad = (): NodeLoad => ({ rooms: 0, calls: 0, tickP99Ms: 0, loopDelayP99Ms: 0 });
  let roomInUse = (_room: string): boolean => false;
  const cluster: ClusterNode | null = config.redisUrl
    ? createClusterNode({ config, clock: deps.clock ?? monotonicClock, log, load: () => nodeLoad(), inUse: (room) => roomInUse(room) })
    : null;
  const ownership: RoomOwnership = cluster?.ownership ?? new LocalOwnership();
  const directory = deps.directory ?? cluster?.directory ?? new SqliteRoomDirectory(config.roomsDbPath);
  const callControl =
    deps.callControl ?? (config.twilioAccountSid && config.twilioAuthToken ? twilioCallControl(config.twilioAccountSid, config.twilioAuthToken) : undefined);

  const conference = new Conference({
    echoWhenAlone: config.echoWhenAlone,
    maxActiveSpeakers: config.maxActiveSpeakers,
    agc: config.agc,
    comfortNoiseDbfs: config.comfortNoiseDbfs,
    talk: { floorCeilingDbfs: config.talkFloorCeilingDbfs },
    audio: { noiseSuppression: config.noiseSuppression },
    log,
  });
  conference.on('roomOpened', (room) => log.info({ room: room.id }, 'room opened'));
  conference.on('roomClosed', (room) => log.info({ room: room.id }, 'room closed'));
  conference.on('roomFailed', (room, error) => log.error({ room: room.id, err: error }, 'room tick failed; room closed, others keep mixing'));

  // Rooms as a service: seats, join tickets and admission; sounds, keys, events.
  const seats = new SeatLedger(clock);
  // Without JOIN_TICKET_SECRET a random key: tickets are good in this process only (enough for one).
  const tickets = new JoinTickets({
    secret: config.joinTicketSecret ? Buffer.from(config.joinTicketSecret, 'utf8') : randomBytes(32),
    ttlMs: config.joinTicketTtlSeconds * 1000,
    clock: deps.wallClock ?? systemClock,
  });
  // Admission by capacity: a new call is refused when the steady state with it would not fit.
  const load = new LoadSampler({
    capacity: new Capacity({ budget: config.overloadBusyFraction }),
    clock,
    callers: () => conference.stats().participants,
    seatsTaken: () => seats.total(),
    onChange: (overloaded, figures) => {
      if (overloaded) log.warn(figures, 'at capacity: new calls hear busy.xml until calls leave; calls in progress go on');
      else log.info(figures, 'below capacity again: admitting new calls');
    },
  });
  const admission = new Admission({
    directory,
    seats,
    tickets,
    clock,
    limits: { maxRooms: config.maxRooms, maxParticipantsPerRoom: config.maxParticipantsPerRoom, maxParticipants: config.maxParticipants },
    autoCreate: config.autoCreateRooms,
    pinAttempts: config.pinAttempts,
    ...(ownership.clustered ? { mayStart: (room: string, epoch: number) => ownership.mayStart(room, epoch) } : {}),
    admitsCallers: (callers) => load.admits(callers),
    onSetup: () => load.setUp(),
  });
  roomInUse = (room) => conference.room(room) !== undefined || seats.isOpen(room);
  // The fence: a room whose lease this node lost is not mixed one more tick; its callers rejoin.
  ownership.on('fenced', (room) => {
    conference.closeRoom(room, 'moved');
    admission.roomEnded(room);
  });
  // A call that ended on purpose is not rejoined by the cluster's rejoin webhook.
  if (cluster) {
    conference.on('participantLeft', (p, _room, reason) => {
      if (reason === 'left' || reason === 'kicked' || reason === 'room-closed') cluster.outcomes.markEnded(p.callSid, reason);
    });
  }
  const speech = new SpeechActivity();
  // The talk detector's confirmed talk -> speaking indicator (admin API) and speech callbacks.
  conference.on('participantSpeech', (p, talking) => speech.report(p, talking));
  conference.on('participantLeft', (p, room, reason) => {
    admission.participantLeft(room.id, p.callSid, reason);
    if (reason !== 'replaced') speech.forget(p.callSid);
  });
  new RoomAudio(conference, { beep: config.beep, waitTone: config.waitTone, echoWhenAlone: config.echoWhenAlone });
  applyRoomSoundSettings(conference, directory, log);
  new InCallKeys(conference, clock, log);
  const statusCallbacks = config.statusCallbackUrl ? new StatusCallbacks({ url: config.statusCallbackUrl, log }) : null;
  statusCallbacks?.attach(conference, speech);
  const recordings = new Recordings({
    conference,
    dir: resolvePath(config.recordingsDir),
    mode: config.recordRooms,
    tracks: config.recordTracks,
    clock,
    log,
  });
  recordings.on('started', (r) => statusCallbacks?.enqueue('recording-started', { FriendlyName: r.room, Room: r.room, RecordingSid: r.id }));
  recordings.on('stopped', (r) => statusCallbacks?.enqueue('recording-stopped', { FriendlyName: r.room, Room: r.room, RecordingSid: r.id, RecordingDuration: String(Math.round(r.durationSeconds)) }));
  // Frames read while the loop has been busy since the tick began may have come in at its start.
  const busySince = new LoopBusySince();
  // A tick's two parts (the Ticker times the whole): every room's mixing, then every socket write.
  const mixDuration = new DurationHistogram();
  const sendDuration = new DurationHistogram();
  const ticker = new Ticker({
    clock,
    periodMs: FRAME_MS,
    maxCatchUpTicks: MAX_CATCH_UP_TICKS,
    onTick: (deadlineMs) => {
      const startMs = clock.nowMs();
      busySince.mark(startMs);
      ownership.enforce(startMs);
      conference.mix(deadlineMs);
      const mixedMs = clock.nowMs();
      conference.send();
      const endMs = clock.nowMs();
      mixDuration.record(mixedMs - startMs);
      sendDuration.record(endMs - mixedMs);
      load.tickTook(endMs - startMs);
    },
  });

  const app = express();
  app.disable('x-powered-by');
  // No ETag on webhook and API answers (res.send hashed every body: 1 % of a call set-up's CPU).
  app.set('etag', false);
  const httpServer = http.createServer(app);
  // Slow senders (slowloris) are cut off: Twilio sends a webhook in one go and waits 15 s at most.
  httpServer.headersTimeout = 15_000;
  httpServer.requestTimeout = 30_000;
  // Sessions tell the metrics their counters when their socket closes.
  let metrics: Metrics | null = null;
  const sessions = new ObservedSessions((session) => metrics?.sessionEnded(session));
  let shuttingDown = false;
  const mode = config.twilioAuthToken ? ('production' as const) : ('development' as const);
  const wsInstance = expressWs(app, httpServer, {
    wsOptions: {
      maxPayload: WS_MAX_PAYLOAD_BYTES,
      perMessageDeflate: false,
      // Refuse before the WebSocket opens: another path (404; Twilio reports 31920), shutting down
      // (503), and with TWILIO_AUTH_TOKEN an unsigned or wrongly signed upgrade (403).
      verifyClient: observeUpgrades(
        mediaUpgradeCheck({ markBusy: () => busySince.mark(clock.nowMs()), path: MEDIA_PATH, authToken: config.twilioAuthToken, publicUrl: config.publicUrl, isAdmitting: () => !shuttingDown, ticketAccepted: (ticket) => tickets.isRedeemable(ticket), log,
          // Every seat, and room for that many again waiting for their start: beyond, 503.
          hasRoom: () => wsInstance.getWss().clients.size < 2 * config.maxParticipants, publicPrefix: config.nodePublicPrefix }),
        (status, hasSignature) => metrics?.upgradeRefused(status, hasSignature),
      ),
    },
  });

  // The WebSocket route first: no middleware may run (or defer) before its handlers attach.
  const mediaEndpoint = mountMediaEndpoint(
    wsInstance.app,
    MEDIA_PATH,
    {
      conference,
      clock,
      busySinceMs: () => busySince.sinceMs(),
      log,
      // The join ticket from the webhook decides the room and seat; nothing else gets in.
      authorizeStart: (claim) => admission.authorizeStart(claim),
      startTimeoutMs: config.startTimeoutMs,
      maxBufferedBytes: MAX_BUFFERED_BYTES,
      maxPayloadBytes: MAX_MEDIA_PAYLOAD_BYTES,
      maxMessageBytes: WS_MAX_PAYLOAD_BYTES,
      markBusy: () => busySince.mark(clock.nowMs()),
      maxLeadMs: config.outboundMaxLeadMs,
      framesPerMessage: config.outboundMessageMs === 40 ? 2 : 1,
      heartbeatIntervalMs: config.heartbeatIntervalMs,
    },
    sessions,
  );
  wsInstance.getWss().on('connection', (ws) => ws.once('close', (code: number) => metrics?.webSocketClosed(code)));
  // Call set-ups hold the loop too: frames read after them may have been waiting (busySince.ts).
  app.use((_req, _res, next) => {
    busySince.mark(clock.nowMs());
    next();
  });
  const live = new LiveFeed({ conference, directory, admission, speech, recordings, ticker, clock, load: () => load });
  // Issue 8: a request about one room goes to the node that mixes it.
  if (cluster) app.use('/api', forwardRoomRequests({ selfId: cluster.id, adminToken: config.adminToken, ownerOf: (room) => cluster.ownership.ownerOf(room), log }));
  app.use(
    '/api',
    adminApi({ routers: [recordingsApi(recordings), live.router(), ...(cluster ? [clusterApi(cluster, log)] : [])], adminToken: config.adminToken, roomNumberMaxDigits: config.roomNumberMaxDigits, directory, admission, seats, conference, speech, clock, callControl, log }),
  );
  const startedAtMs = Date.now();
  // The histogram holds whole sampling intervals (resolution + delay): the delay is what exceeds it.
  const LOOP_DELAY_RESOLUTION_MS = 10;
  const loopDelay = monitorEventLoopDelay({ resolution: LOOP_DELAY_RESOLUTION_MS });
  const loopDelayMs = (nanoseconds: number) => Math.max(0, Math.round(nanoseconds / 1000 - LOOP_DELAY_RESOLUTION_MS * 1000) / 1000);
  loopDelay.enable();
  metrics = new Metrics({
    conference,
    ticker,
    tickParts: { mix: mixDuration, send: sendDuration },
    load: () => load,
    sessions: () => sessions,
    statusCallbacks,
    eventLoopDelayMs: () => ({ p99: loopDelayMs(loopDelay.percentile(99)), max: loopDelayMs(loopDelay.max) }),
    activeRecordings: () => recordings.activeCount,
    signatureChecks: Boolean(config.twilioAuthToken),
  });
  const readiness = new ReadinessProbe({ ticker, directory, isShuttingDown: () => shuttingDown, load: () => load, nowMs: () => clock.nowMs() });
  app.use(dashboardPage());
  app.use(joinPage({ admission, adminToken: config.adminToken, roomNumberMaxDigits: config.roomNumberMaxDigits, log, nowMs: () => clock.nowMs() }));
  app.use(metrics.webhookTimer());
  app.use(voiceWebhooks({ config, admission, log, isAdmitting: () => !shuttingDown, ownership, tickets, ...(cluster ? { outcomes: cluster.outcomes } : {}) }));
  nodeLoad = () => {
    const c = conference.stats();
    return { rooms: c.rooms, calls: c.participants, tickP99Ms: ticker.tickDuration.summary().p99, loopDelayP99Ms: loopDelayMs(loopDelay.percentile(99)), overloaded: load.overloaded };
  };
  let cpuBase = process.cpuUsage();
  const stats = (): ServerStats => {
    const c = conference.stats();
    const t = ticker.stats;
    const cpu = process.cpuUsage(cpuBase);
    const mem = process.memoryUsage();
    return {
      rooms: c.rooms,
      participants: c.participants,
      framesMixed: c.framesMixed,
      framesSent: c.framesSent,
      mixer: {
        ticks: t.ticks,
        lateTicks: t.lateTicks,
        skippedTicks: t.skippedTicks,
        resyncs: t.resyncs,
        tickMs: ticker.tickDuration.summary(),
        mixMs: mixDuration.summary(),
        sendMs: sendDuration.summary(),
        latenessMs: ticker.lateness.summary(),
      },
      eventLoopDelayMs: { p50: loopDelayMs(loopDelay.percentile(50)), p99: loopDelayMs(loopDelay.percentile(99)), max: loopDelayMs(loopDelay.max), mean: loopDelayMs(loopDelay.mean) },
      load: { busyPercent: Math.round(load.utilization * 1000) / 10, tickPercent: Math.round(load.tickShare * 1000) / 10, mediaToTick: Math.round(load.mediaToTickRatio * 100) / 100, overloaded: load.overloaded, callersHeld: load.callersHeld },
      memory: { rssBytes: mem.rss, heapUsedBytes: mem.heapUsed },
      cpuMicros: { user: cpu.user, system: cpu.system },
    };
  };
  app.get('/health', (_req, res) => {
    res.json({ status: 'ok', mode, node: config.redisUrl ? config.nodeId : undefined, uptimeSeconds: Math.round((Date.now() - startedAtMs) / 1000), ...stats() });
  });
  app.get('/ready', async (_req, res) => {
    const r = await readiness.check();
    res.status(r.ready ? 200 : 503).json({ status: r.ready ? 'ready' : 'not ready', ...r.checks });
  });
  app.get('/metrics', async (_req, res) => {
    res.type(metrics!.contentType).send(await metrics!.render());
  });
  app.use((req, res) => {
    res.status(404).json({ error: { code: 'NOT_FOUND', message: `no route for ${req.method.slice(0, 16)} ${req.path.slice(0, 100)}` } });
  });
  app.use((error: Error & { status?: number; type?: string }, req: express.Request, res: express.Response, _next: express.NextFunction) => {
    const status = error.status && error.status >= 400 && error.status < 500 ? error.status : 500;
    if (status === 500) log.error({ err: error, path: req.path }, 'request failed');
    else log.warn({ path: req.path, status, type: error.type }, `request refused: ${error.message}`);
    const code = status === 500 ? 'INTERNAL' : status === 413 ? 'PAYLOAD_TOO_LARGE' : status === 415 ? 'UNSUPPORTED_MEDIA_TYPE' : 'BAD_REQUEST';
    res.status(status).json({ error: { code, message: status === 500 ? ERRORS.INTERNAL.text : error.message.slice(0, 200) } });
  });

  let closing: Promise<void> | null = null;
  return {
    conference,
    ticker,
    httpServer,
    admission,
    seats,
    tickets,
    speech,
    statusCallbacks,
    metrics,
    recordings,
    cluster,
    isShuttingDown: () => shuttingDown,
    mode,
    stopAdmitting() {
      if (!shuttingDown) log.info('not admitting new calls (shutting down)');
      shuttingDown = true;
      cluster?.setDraining(true);
    },
    stats,
    resetStats() {
      ticker.resetStats();
      mixDuration.reset();
      sendDuration.reset();
      loopDelay.reset();
      cpuBase = process.cpuUsage();
    },
    async listen(port = config.port, host = config.host) {
      await new Promise<void>((resolve, reject) => {
        httpServer.once('error', reject);
        httpServer.listen(port, host, () => {
          httpServer.off('error', reject);
          resolve();
        });
      });
      ticker.start();
      load.start();
      cluster?.start();
      return { port: (httpServer.address() as AddressInfo).port };
    },
    close() {
      shuttingDown = true;
      cluster?.setDraining(true);
      closing ??= (async () => {
        ticker.stop();
        load.stop();
        // A cluster: no more mixing here, so the rooms are given back before their callers are let
        // go; their rejoin then finds them free and another node takes them.
        await cluster?.stop().catch((error) => log.error({ err: error }, 'cluster: stopping the node failed'));
        mediaEndpoint.stop();
        loopDelay.disable();
        const closed = new Promise<void>((resolve) => httpServer.close(() => resolve()));
        live.close();
        // Recordings first: their files get their last samples and true sizes.
        await recordings.close().catch((error) => log.error({ err: error }, 'recordings: close failed'));
        conference.close('shutdown');
        // Sockets that never started a stream are not in any room: end them too.
        for (const client of wsInstance.getWss().clients) client.close(ERRORS.SHUTTING_DOWN.wsCode, ERRORS.SHUTTING_DOWN.text);
        const grace = setTimeout(() => {
          for (const client of wsInstance.getWss().clients) client.terminate();
          httpServer.closeAllConnections();
        }, 2000);
        httpServer.closeIdleConnections();
        await closed;
        clearTimeout(grace);
        sessions.clear();
        // The rooms' last events (participant-leave, conference-end) get a moment to go out.
        await statusCallbacks?.close(1000);
        if (!cluster) await directory.close();
      })();
      return closing;
    },
  };
}
