/**
 * The server under test, in its own process: `main` (src/server.ts createServer, as `npm start`
 * builds it, logging off) or `baseline` (tools/bench/baseline). Listens on 127.0.0.1, any port,
 * and answers the benchmark over IPC. `main` runs as `npm start` runs it: this file compiled with
 * src/ by tools/build.mjs (dist/tools/bench/serverProcess.js, importing dist/src/) on plain node;
 * `baseline` runs from source through tsx (ipc.ts forkTs decides). Over IPC:
 *
 *   stats  -> ServerSample (tick figures from the server itself; CPU, RSS and event-loop delay
 *             measured here, the same way for both servers)
 *   reset  -> starts a measurement window (resetStats() and the figures measured here)
 *   close  -> ordered shutdown, then exit (so `--cpu-prof` writes its profile)
 *
 * Usage (forked by the benchmark): serverProcess.ts <main|baseline> [json env for parseConfig] [--worker-probe]
 * (--worker-probe: the main server only; see workerProbe.ts)
 */
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import { emit, serve } from './ipc.js';
import { startWorkerProbe, type WorkerProbe, type WorkerProbeFigures } from './workerProbe.js';

export type ServerImpl = 'main' | 'baseline';

/** Sampling interval of the event-loop delay histogram (ms). */
export const LOOP_RESOLUTION_MS = 10;

export interface ServerSample {
  impl: ServerImpl;
  /** Since the last reset (ms, this process's clock). */
  elapsedMs: number;
  cpuUserMicros: number;
  cpuSystemMicros: number;
  rssBytes: number;
  heapUsedBytes: number;
  eventLoopDelayMs: { p50: number; p99: number; max: number };
  /** Garbage-collection pauses of the main thread in the window. */
  gc: { count: number; totalMs: number; maxMs: number };
  ticks: number;
  lateTicks: number;
  skippedTicks: number;
  tickMs: { p50: number; p99: number; max: number };
  /** The tick's two parts (the main server only): mixing every room, then the socket writes. */
  mixMs?: { p50: number; p99: number; max: number };
  sendMs?: { p50: number; p99: number; max: number };
  latenessMs: { p50: number; p99: number; max: number };
  /** What the server itself counts as live (the main server only; -1 for the baseline). */
  participants: number;
  /**
   * The main server's input (jitter) buffers at the end of the window, mean over callers: the
   * target depth (frames), the frames held, and the arrival-jitter estimate that sets the target (ms).
   */
  inputBuffers?: { targetFrames: number; depthFrames: number; jitterMs: number; underrunPercent: number };
  /** With --worker-probe (main server only). */
  workerProbe?: WorkerProbeFigures;
}

export interface ServerReady {
  port: number;
  pid: number;
  /** RSS after start-up and a full GC, before any call. */
  idleRssBytes: number;
}

/** Mean over every caller of its input buffer's target, depth and jitter estimate. */
type BufferStats = { targetFrames: number; depth: number; jitterMs: number; underruns: number; framesPlayed: number };
function inputBuffers(conference: {
  listRooms(): readonly { participants(): Iterable<{ input: { stats: BufferStats } }> }[];
}): NonNullable<ServerSample['inputBuffers']> {
  let n = 0;
  let target = 0;
  let depth = 0;
  let jitter = 0;
  let underruns = 0;
  let played = 0;
  for (const room of conference.listRooms()) {
    for (const p of room.participants()) {
      const q = p.input.stats;
      n++;
      target += q.targetFrames;
      depth += q.depth;
      jitter += q.jitterMs;
      underruns += q.underruns;
      played += q.framesPlayed;
    }
  }
  const mean = (v: number, digits: number) => (n === 0 ? 0 : Math.round((v / n) * 10 ** digits) / 10 ** digits);
  // Since each call began (warm-up included): ticks with no frame to play, of all ticks played.
  const underrunPercent = played + underruns === 0 ? 0 : Math.round((underruns / (played + underruns)) * 100_000) / 1000;
  return { targetFrames: mean(target, 2), depthFrames: mean(depth, 2), jitterMs: mean(jitter, 1), underrunPercent };
}

interface Impl {
  listen(): Promise<number>;
  stats(): Pick<ServerSample, 'ticks' | 'lateTicks' | 'skippedTicks' | 'tickMs' | 'mixMs' | 'sendMs' | 'latenessMs' | 'participants' | 'inputBuffers'>;
  reset(): void;
  close(): Promise<void>;
  startWorkerProbe?: () => Promise<WorkerProbe>;
}

/**
 * The real server's configuration for a benchmark (the rest is its defaults, as `npm start` runs
 * it; --server-env overrides). Keys an older config does not know are ignored by its schema.
 */
const BENCH_ENV: Record<string, string> = {
  LOG_LEVEL: 'silent',
  HOST: '127.0.0.1',
  // Never the repository's room database.
  ROOMS_DB_PATH: ':memory:',
  // One room of 1,000 is a pass-line scenario, and --find-max goes past 1,000 callers.
  MAX_PARTICIPANTS_PER_ROOM: '1000',
  MAX_PARTICIPANTS: '100000',
  MAX_ROOMS: '100000',
};

const pick3 = (s: { p50: number; p99: number; max: number }) => ({ p50: s.p50, p99: s.p99, max: s.max });

async function createImpl(impl: ServerImpl, env: Record<string, string>): Promise<Impl> {
  if (impl === 'main') {
    const { createServer } = await import('../../src/server.js');
    const { parseConfig } = await import('../../src/config.js');
    const server = createServer(parseConfig({ ...BENCH_ENV, ...env }));
    return {
      listen: async () => (await server.listen(0, '127.0.0.1')).port,
      stats: () => {
        const s = server.stats();
        const m = s.mixer;
        return {
          ticks: m.ticks,
          lateTicks: m.lateTicks,
          skippedTicks: m.skippedTicks,
          tickMs: pick3(m.tickMs),
          mixMs: pick3(m.mixMs),
          sendMs: pick3(m.sendMs),
          latenessMs: pick3(m.latenessMs),
          participants: s.participants,
          inputBuffers: inputBuffers(server.conference),
        };
      },
      reset: () => server.resetStats(),
      close: () => server.close(),
      startWorkerProbe: () => startWorkerProbe(server.conference, () => server.stats()),
    };
  }
  const { createBaselineServer } = await import('./baseline/server.js');
  const server = createBaselineServer();
  return {
    listen: async () => (await server.listen(0, '127.0.0.1')).port,
    stats: () => ({ ...server.stats(), participants: -1 }),
    reset: () => server.resetStats(),
    close: () => server.close(),
  };
}

async function main(): Promise<void> {
  const impl = (process.argv[2] ?? 'main') as ServerImpl;
  if (impl !== 'main' && impl !== 'baseline') throw new Error(`unknown server "${impl}"`);
  const env = JSON.parse(process.argv[3] ?? '{}') as Record<string, string>;
  const server = await createImpl(impl, env);
  const port = await server.listen();
  const probe = process.argv.includes('--worker-probe') ? ((await server.startWorkerProbe?.()) ?? null) : null;

  const loopDelay = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
  loopDelay.enable();
  let cpuBase = process.cpuUsage();
  let since = performance.now();
  const gc = { count: 0, totalMs: 0, maxMs: 0 };
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      gc.count++;
      gc.totalMs += entry.duration;
      if (entry.duration > gc.maxMs) gc.maxMs = entry.duration;
    }
  }).observe({ entryTypes: ['gc'] });
  // The histogram records each interval between its timer's runs, so every sample includes the
  // resolution itself (nodejs/node#62935): subtract it to get the delay.
  const ms = (ns: number) => Math.max(0, Math.round(ns / 1000) / 1000 - LOOP_RESOLUTION_MS);

  serve({
    stats: async (): Promise<ServerSample> => {
      const cpu = process.cpuUsage(cpuBase);
      const mem = process.memoryUsage();
      return {
        impl,
        elapsedMs: performance.now() - since,
        cpuUserMicros: cpu.user,
        cpuSystemMicros: cpu.system,
        rssBytes: mem.rss,
        heapUsedBytes: mem.heapUsed,
        eventLoopDelayMs: { p50: ms(loopDelay.percentile(50)), p99: ms(loopDelay.percentile(99)), max: ms(loopDelay.max) },
        gc: { count: gc.count, totalMs: Math.round(gc.totalMs * 100) / 100, maxMs: Math.round(gc.maxMs * 100) / 100 },
        ...server.stats(),
        ...(probe ? { workerProbe: await probe.stats() } : {}),
      };
    },
    reset: () => {
      server.reset();
      probe?.reset();
      loopDelay.reset();
      gc.count = 0;
      gc.totalMs = 0;
      gc.maxMs = 0;
      cpuBase = process.cpuUsage();
      since = performance.now();
      return true;
    },
    close: async () => {
      await probe?.stop();
      await server.close();
      setImmediate(() => process.exit(0));
      return true;
    },
  });

  (globalThis as { gc?: () => void }).gc?.();
  emit('ready', { port, pid: process.pid, idleRssBytes: process.memoryUsage().rss } satisfies ServerReady);
}

main().catch((error: unknown) => {
  console.error('server process failed:', error);
  process.exit(1);
});
