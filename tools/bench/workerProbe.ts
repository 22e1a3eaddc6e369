/**
 * `npm run bench -- --worker-probe` (issue 6: "measure whether moving the mixing tick to a worker
 * thread lowers tick lateness"). Inside the benchmarked server process, beside the server's own
 * 20 ms clock and under the same load, a worker thread runs a second 20 ms clock (the server's
 * Ticker: absolute deadlines) and on each tick
 *   - does the mixer's typed-array work for as many callers as the server has, on shared memory
 *     (mu-law decode, 32-bit room sum, mix-minus, mu-law encode: the src/audio functions), then
 *   - posts the tick's deadline to the main thread.
 * Lateness figures for the same seconds: the server's tick (measured by the server), the worker's
 * tick (how accurate a clock off the main thread is), and the main thread's receipt of the
 * worker's signal: the earliest the mixed frames could leave, because the sockets, and the sends
 * that are most of a tick's time, stay on the main thread.
 *
 * A Ticker records only the ticks it runs: after a stall of more than 6 periods it skips the
 * oldest deadlines, while every signal of the worker is received, however late. So both sides are
 * also measured per deadline, skipped ones included: how long after each 20 ms deadline the main
 * thread started the server tick that served it, or received the worker's signal (the next one,
 * if the worker skipped it).
 *
 * The worker runs half a period (10 ms) out of phase with the server's tick, so that its signal
 * does not routinely wait behind the very tick it would replace; receipts that may still have
 * waited for a server tick are counted (`receiptsBehindMainTick`).
 *
 * What it found on the 2-core VM (100 and 200 callers in rooms of 5, 25 s windows): the main thread
 * receives the worker's tick later than its own timer fires (p50 +0.6 to +1.3 ms, p99 higher), so
 * the mixing tick stays on the main thread; what makes a tick late is the main thread's own work.
 */
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { FRAME_MS, SAMPLES_PER_FRAME } from '../../src/audio/format.js';
import { accumulate, mixMinus } from '../../src/audio/mix.js';
import { decodeMulaw, encodeMulaw } from '../../src/audio/mulaw.js';
import type { Clock } from '../../src/timing/clock.js';
import { DurationHistogram } from '../../src/timing/histogram.js';
import { Ticker } from '../../src/timing/ticker.js';

type P3 = { p50: number; p99: number; max: number };

export interface WorkerProbeFigures {
  /** Every server deadline in the window, skipped ones included, to the start of the tick that served it (ms). */
  mainPerDeadlineMs: P3;
  mainDeadlines: number;
  /** Worker ticks run and skipped in the window. */
  workerTicks: number;
  workerSkippedTicks: number;
  /** Worker tick start after its deadline, ticks run (ms). */
  workerLatenessMs: P3;
  /** The worker's mixing work per tick (ms). */
  workerTickMs: P3;
  /** Every worker deadline, skipped ones included, to the main thread's receipt of its signal (ms). */
  receiptLatenessMs: P3;
  receiptDeadlines: number;
  /** Receipts after a server tick that ended past the worker's deadline (an upper bound of those that waited for one). */
  receiptsBehindMainTick: number;
  /**
   * The receipts that did not come after such a server tick (ms): an optimistic bound for a worker
   * design, where no second tick competes on the main thread; it leaves out the busiest moments too.
   */
  receiptClearMs: P3;
  /** Worker deadlines after the server's (ms, modulo 20). */
  phaseOffsetMs: number;
  /** Callers the worker mixed for at the last tick. */
  callersMixed: number;
}

/** One monotonic clock for both threads (performance.now() has a time origin per thread). */
const hrClock: Clock = {
  nowMs: () => {
    const [s, ns] = process.hrtime();
    return s * 1e3 + ns / 1e6;
  },
};

/** Mixing buffers for at most this many callers (2 x 1.6 MB of shared memory). */
const MAX_CALLERS = 10_000;
/** As the server's clock (src/app/mixerClock.ts): missed ticks made up at one wake-up before resyncing. */
const MAX_CATCH_UP_TICKS = 5;

interface WorkerInit {
  /** [callers, rooms], kept current by the main thread. */
  load: SharedArrayBuffer;
  input: SharedArrayBuffer;
  output: SharedArrayBuffer;
  /** A deadline on the worker's phase (hrClock ms): its deadlines are this + n * 20 ms. */
  phaseMs: number;
}
type ToWorker = 'reset' | 'stats';
type WorkerStats = { type: 'stats'; ticks: number; skippedTicks: number; lateness: P3; tickMs: P3; callers: number; firstDeadlineMs: number };

/**
 * Records, for each 20 ms deadline from the last one seen up to `deadlineMs`, how long before
 * `atMs` it was: deadlines a clock skipped count as late as the next one it served.
 */
class PerDeadline {
  readonly histogram = new DurationHistogram();
  private lastMs = NaN;
  record(deadlineMs: number, atMs: number): void {
    const missed = Number.isNaN(this.lastMs) ? 0 : Math.max(0, Math.round((deadlineMs - this.lastMs) / FRAME_MS) - 1);
    for (let k = missed; k >= 0; k--) this.histogram.record(atMs - (deadlineMs - k * FRAME_MS));
    this.lastMs = deadlineMs;
  }
}

const p3 = (h: DurationHistogram): P3 => {
  const s = h.summary();
  return { p50: s.p50, p99: s.p99, max: s.max };
};

export interface WorkerProbe {
  stats(): Promise<WorkerProbeFigures>;
  /** Opens the measurement window (both threads). */
  reset(): void;
  stop(): Promise<void>;
}

/**
 * Starts the probe beside a running server: wraps `conference.mix` and `conference.send` (the
 * server's tick calls one, then the other) to learn the server tick's phase and when each tick
 * ends, then starts the worker 10 ms out of phase.
 */
export async function startWorkerProbe(
  conference: { mix(deadlineMs: number): void; send(): void },
  load: () => { participants: number; rooms: number },
): Promise<WorkerProbe> {
  // The server's clock is performance.now() of this thread; the probe's is hrClock.
  const toHr = hrClock.nowMs() - performance.now();
  const serverMix = conference.mix.bind(conference);
  const serverSend = conference.send.bind(conference);
  const mainDue = new PerDeadline();
  let mainDeadlineHr = NaN;
  let mainTickEndHr = -Infinity;
  let firstTick: () => void = () => undefined;
  const ticking = new Promise<void>((resolve) => (firstTick = resolve));
  conference.mix = (deadlineMs) => {
    mainDeadlineHr = deadlineMs + toHr;
    mainDue.record(mainDeadlineHr, hrClock.nowMs());
    serverMix(deadlineMs);
  };
  conference.send = () => {
    serverSend();
    mainTickEndHr = hrClock.nowMs();
    firstTick();
  };
  await ticking;

  const loadView = new Int32Array(new SharedArrayBuffer(8));
  const updateLoad = () => {
    const l = load();
    Atomics.store(loadView, 0, Math.min(MAX_CALLERS, l.participants));
    Atomics.store(loadView, 1, l.rooms);
  };
  updateLoad();
  const loadTimer = setInterval(updateLoad, 1000);
  const input = new SharedArrayBuffer(MAX_CALLERS * SAMPLES_PER_FRAME);
  // Any mu-law codes: decode and encode are table look-ups, as fast for speech as for noise.
  const inputBytes = new Uint8Array(input);
  for (let i = 0; i < inputBytes.length; i++) inputBytes[i] = (i * 2654435761) >>> 24;
  const init: WorkerInit = {
    load: loadView.buffer as SharedArrayBuffer,
    input,
    output: new SharedArrayBuffer(input.byteLength),
    phaseMs: mainDeadlineHr + FRAME_MS / 2,
  };

  // Through tsx like the rest of the benchmark: a worker does not inherit the --import hooks on Node 20.
  const bootstrap = `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}).then((tsx) => { tsx.register(); return import(${JSON.stringify(import.meta.url)}); })`;
  const worker = new Worker(bootstrap, { eval: true, workerData: init });
  let failure: Error | null = null;
  worker.on('error', (error) => {
    failure = error;
    console.error('worker probe failed:', error);
  });

  const receipt = new PerDeadline();
  const receiptClear = new DurationHistogram();
  let behindMainTick = 0;
  let pendingStats: Array<(s: WorkerStats) => void> = [];
  worker.on('message', (m: number | WorkerStats) => {
    if (typeof m === 'number') {
      const nowMs = hrClock.nowMs();
      receipt.record(m, nowMs);
      if (mainTickEndHr > m) behindMainTick++;
      else receiptClear.record(nowMs - m);
      return;
    }
    const waiting = pendingStats;
    pendingStats = [];
    for (const resolve of waiting) resolve(m);
  });
  const post = (m: ToWorker) => worker.postMessage(m);

  return {
    async stats() {
      if (failure) throw failure;
      const w = await new Promise<WorkerStats>((resolve) => {
        pendingStats.push(resolve);
        post('stats');
      });
      const phase = (((w.firstDeadlineMs - mainDeadlineHr) % FRAME_MS) + FRAME_MS) % FRAME_MS;
      return {
        mainPerDeadlineMs: p3(mainDue.histogram),
        mainDeadlines: mainDue.histogram.count,
        workerTicks: w.ticks,
        workerSkippedTicks: w.skippedTicks,
        workerLatenessMs: w.lateness,
        workerTickMs: w.tickMs,
        receiptLatenessMs: p3(receipt.histogram),
        receiptDeadlines: receipt.histogram.count,
        receiptsBehindMainTick: behindMainTick,
        receiptClearMs: p3(receiptClear),
        phaseOffsetMs: Math.round(phase * 1000) / 1000,
        callersMixed: w.callers,
      };
    },
    reset() {
      mainDue.histogram.reset();
      receipt.histogram.reset();
      receiptClear.reset();
      behindMainTick = 0;
      post('reset');
    },
    async stop() {
      clearInterval(loadTimer);
      conference.mix = serverMix;
      conference.send = serverSend;
      await worker.terminate();
    },
  };
}

/** The worker: a Ticker on hrClock, the mixing work, a signal per tick. */
function runWorker(init: WorkerInit, port: NonNullable<typeof parentPort>): void {
  const load = new Int32Array(init.load);
  const input = new Uint8Array(init.input);
  const output = new Uint8Array(init.output);
  const sum = new Int32Array(SAMPLES_PER_FRAME);
  const mixed = new Int16Array(SAMPLES_PER_FRAME);
  // Per caller: views of its input and output frame, and its decoded frame (grown as callers come).
  const inFrames: Uint8Array[] = [];
  const outFrames: Uint8Array[] = [];
  const pcm: Int16Array[] = [];
  let callers = 0;
  let firstDeadlineMs = NaN;

  const mix = () => {
    callers = Atomics.load(load, 0);
    const perRoom = Math.max(1, Math.ceil(callers / Math.max(1, Atomics.load(load, 1))));
    while (pcm.length < callers) {
      const at = pcm.length * SAMPLES_PER_FRAME;
      inFrames.push(input.subarray(at, at + SAMPLES_PER_FRAME));
      outFrames.push(output.subarray(at, at + SAMPLES_PER_FRAME));
      pcm.push(new Int16Array(SAMPLES_PER_FRAME));
    }
    for (let first = 0; first < callers; first += perRoom) {
      const end = Math.min(callers, first + perRoom);
      sum.fill(0);
      for (let c = first; c < end; c++) {
        decodeMulaw(inFrames[c]!, pcm[c]!);
        accumulate(sum, pcm[c]!);
      }
      for (let c = first; c < end; c++) {
        mixMinus(sum, pcm[c]!, mixed);
        encodeMulaw(mixed, outFrames[c]!);
      }
    }
  };

  // The worker's Ticker reads hrClock + correctionMs: set once after start() so that its first
  // deadline, one period after start, falls on the wanted phase (Ticker.start() anchors deadlines
  // to the moment it is called, which a timer cannot hit to the millisecond).
  let correctionMs = 0;
  const ticker = new Ticker({
    clock: { nowMs: () => hrClock.nowMs() + correctionMs },
    periodMs: FRAME_MS,
    maxCatchUpTicks: MAX_CATCH_UP_TICKS,
    onTick: (deadlineMs) => {
      const realMs = deadlineMs - correctionMs;
      if (Number.isNaN(firstDeadlineMs)) firstDeadlineMs = realMs;
      mix();
      port.postMessage(realMs);
    },
  });
  const startedMs = hrClock.nowMs();
  ticker.start();
  // Its first deadline (Ticker clock) is startedMs + 20 (a few us later at most): due at the first
  // deadline on the phase at least a period ahead, by which time the start timer has not fired.
  const firstMs = init.phaseMs + Math.ceil((startedMs + 1.5 * FRAME_MS - init.phaseMs) / FRAME_MS) * FRAME_MS;
  correctionMs = startedMs + FRAME_MS - firstMs;

  port.on('message', (m: ToWorker) => {
    if (m === 'reset') ticker.resetStats();
    else
      port.postMessage({
        type: 'stats',
        ticks: ticker.stats.ticks,
        skippedTicks: ticker.stats.skippedTicks,
        lateness: p3(ticker.lateness),
        tickMs: p3(ticker.tickDuration),
        callers,
        firstDeadlineMs,
      } satisfies WorkerStats);
  });
}

if (!isMainThread && parentPort && (workerData as WorkerInit | undefined)?.input instanceof SharedArrayBuffer) runWorker(workerData as WorkerInit, parentPort);
