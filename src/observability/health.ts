/**
 * The process's health, sampled in one place: the event loop's delay, CPU time and the mixer's
 * tick durations. /health, stats(), /metrics, the dashboard and a cluster node's heartbeat all read
 * this one object, so they all show the same figure for the same thing.
 *
 * Nothing here runs on the 20 ms path but the histograms' `record` (a log and an increment), which
 * the mixer clock calls; everything else is computed when someone reads it.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { DurationHistogram } from '../timing/histogram.js';

/** How often the event loop's delay is sampled (ms). */
export const LOOP_DELAY_RESOLUTION_MS = 10;

/** The part of node's IntervalHistogram the monitor reads (nanoseconds); a test may hand its own. */
export interface LoopDelayHistogram {
  enable(): boolean;
  disable(): boolean;
  reset(): void;
  percentile(percentile: number): number;
  readonly max: number;
  readonly mean: number;
}

export interface HealthMonitorOptions {
  /** Default: monitorEventLoopDelay at LOOP_DELAY_RESOLUTION_MS. */
  loopDelay?: LoopDelayHistogram;
  /** Default: process.cpuUsage. */
  cpuUsage?: (previous?: NodeJS.CpuUsage) => NodeJS.CpuUsage;
  /** Monotonic ms, for CPU % over a window. Default: performance.now. */
  nowMs?: () => number;
}

export interface Summary {
  count: number;
  p50: number;
  p99: number;
  max: number;
  mean: number;
}

/** Figures over the window since the previous `window()` call (the dashboard's once-a-second chart). */
export interface HealthWindow {
  cpuPercent: number;
  /** p99 of the ticks in the window (ms); 0 without ticks or on the first call. */
  tickP99Ms: number;
}

/** Bounds (ms) at which the tick histogram is read per window, for a p99 of that window alone. */
const WINDOW_TICK_BOUNDS_MS = Array.from({ length: 48 }, (_, i) => 0.005 * 1.25 ** i);

export class HealthMonitor {
  /** The whole tick (the mixer clock records it). */
  readonly tickMs = new DurationHistogram();
  /** How late each tick started after its deadline. */
  readonly latenessMs = new DurationHistogram();
  /** A tick's two parts: every room's mixing, then every socket write. */
  readonly mixMs = new DurationHistogram();
  readonly sendMs = new DurationHistogram();

  private readonly loopDelay: LoopDelayHistogram;
  private readonly cpuUsage: (previous?: NodeJS.CpuUsage) => NodeJS.CpuUsage;
  private readonly nowMs: () => number;
  private cpuBase: NodeJS.CpuUsage;
  private windowCpu: NodeJS.CpuUsage;
  private windowAtMs: number;
  private windowTickCounts: number[] | null = null;

  constructor(options: HealthMonitorOptions = {}) {
    this.loopDelay = options.loopDelay ?? monitorEventLoopDelay({ resolution: LOOP_DELAY_RESOLUTION_MS });
    this.cpuUsage = options.cpuUsage ?? ((previous) => process.cpuUsage(previous));
    this.nowMs = options.nowMs ?? (() => performance.now());
    this.cpuBase = this.windowCpu = this.cpuUsage();
    this.windowAtMs = this.nowMs();
  }

  start(): void {
    this.loopDelay.enable();
  }

  stop(): void {
    this.loopDelay.disable();
  }

  /**
   * The event loop's delay since start or reset (ms). The histogram holds whole sampling intervals
   * (resolution + delay): the delay is what exceeds the resolution.
   */
  loopDelayMs(): { p50: number; p99: number; max: number; mean: number } {
    const d = this.loopDelay;
    return { p50: delayMs(d.percentile(50)), p99: delayMs(d.percentile(99)), max: delayMs(d.max), mean: delayMs(d.mean) };
  }

  /** CPU time used since start or reset (us). */
  cpuMicros(): { user: number; system: number } {
    const { user, system } = this.cpuUsage(this.cpuBase);
    return { user, system };
  }

  /** Zeroes everything but the ticker's own histograms (the ticker resets those with its counters). */
  reset(): void {
    this.loopDelay.reset();
    this.mixMs.reset();
    this.sendMs.reset();
    this.cpuBase = this.cpuUsage();
  }

  /** CPU % and tick p99 since the previous call: for one reader, the dashboard's chart. */
  window(): HealthWindow {
    const now = this.nowMs();
    const cpu = this.cpuUsage(this.windowCpu);
    const cpuPercent = ((cpu.user + cpu.system) / 1000 / Math.max(1, now - this.windowAtMs)) * 100;
    this.windowCpu = this.cpuUsage();
    this.windowAtMs = now;
    // The window's p99 from the difference of cumulative bucket counts.
    const ticks = this.tickMs;
    const counts = WINDOW_TICK_BOUNDS_MS.map((ms) => ticks.countAtMost(ms));
    const total = ticks.count;
    let tickP99Ms = 0;
    const last = this.windowTickCounts;
    if (last) {
      const n = total - last[last.length - 1]!;
      if (n > 0) {
        const rank = Math.ceil(0.99 * n);
        const index = WINDOW_TICK_BOUNDS_MS.findIndex((_, i) => counts[i]! - last[i]! >= rank);
        tickP99Ms = index < 0 ? ticks.max : WINDOW_TICK_BOUNDS_MS[index]!;
      }
    }
    this.windowTickCounts = [...counts, total];
    return { cpuPercent: Math.round(cpuPercent * 10) / 10, tickP99Ms: Math.round(tickP99Ms * 1000) / 1000 };
  }
}

/** Nanoseconds of one sampling interval -> ms of delay beyond the resolution (0.001 ms steps). */
function delayMs(nanoseconds: number): number {
  return Math.max(0, Math.round(nanoseconds / 1000 - LOOP_DELAY_RESOLUTION_MS * 1000) / 1000);
}
