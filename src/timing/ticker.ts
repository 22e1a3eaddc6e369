/**
 * The mixer's 20 ms clock: calls `onTick` on absolute deadlines `start + n * periodMs` measured on
 * a monotonic clock, so the rate never drifts however late each timer fires (no setInterval and no
 * "setTimeout(20) after each tick" accumulation).
 *
 * A late wake-up runs the ticks it missed, at most `maxCatchUpTicks` extra, so every caller still
 * gets one frame per 20 ms on average. Past that (the process was paused or overloaded) the
 * remaining missed ticks are skipped and the schedule resynchronises to now; both are counted.
 */
import { nodeTimers, type Clock, type Timers } from './clock.js';
import { DurationHistogram } from './histogram.js';

export interface TickerOptions {
  clock: Clock;
  periodMs: number;
  /** Missed ticks run late, at most this many at one wake-up, before the schedule resyncs. */
  maxCatchUpTicks: number;
  /** A tick running this many ms or more after its deadline is counted late. */
  lateThresholdMs?: number;
  timers?: Timers;
  /** Where tick durations and lateness are recorded (default: histograms of its own). */
  tickDuration?: DurationHistogram;
  lateness?: DurationHistogram;
  /** Runs the tick; gets the tick's deadline (not the wake-up time) and its index. */
  onTick(deadlineMs: number, index: number): void;
}

export interface TickerStats {
  ticks: number;
  lateTicks: number;
  skippedTicks: number;
  resyncs: number;
  /** Lateness of the last tick (ms after its deadline). */
  lastLatenessMs: number;
  maxLatenessMs: number;
}

export class Ticker {
  private readonly timers: Timers;
  private readonly lateThresholdMs: number;
  private handle: unknown = null;
  private running = false;
  private nextDeadlineMs = 0;
  private index = 0;
  readonly stats: TickerStats = { ticks: 0, lateTicks: 0, skippedTicks: 0, resyncs: 0, lastLatenessMs: 0, maxLatenessMs: 0 };
  /** How long each tick's work took (ms). */
  readonly tickDuration: DurationHistogram;
  /** How late each tick started after its deadline (ms). */
  readonly lateness: DurationHistogram;

  constructor(private readonly options: TickerOptions) {
    this.tickDuration = options.tickDuration ?? new DurationHistogram();
    this.lateness = options.lateness ?? new DurationHistogram();
    this.timers = options.timers ?? nodeTimers;
    this.lateThresholdMs = options.lateThresholdMs ?? options.periodMs / 2;
  }

  get isRunning(): boolean {
    return this.running;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.nextDeadlineMs = this.options.clock.nowMs() + this.options.periodMs;
    this.schedule();
  }

  /** Zeroes the counters and histograms (a benchmark's measurement window). */
  resetStats(): void {
    Object.assign(this.stats, { ticks: 0, lateTicks: 0, skippedTicks: 0, resyncs: 0, lastLatenessMs: 0, maxLatenessMs: 0 });
    this.tickDuration.reset();
    this.lateness.reset();
  }

  stop(): void {
    this.running = false;
    if (this.handle !== null) this.timers.clearTimeout(this.handle);
    this.handle = null;
  }

  /** Runs every tick that is due now; the timer calls it, and tests may too. */
  runDue(): void {
    if (!this.running) return;
    const { clock, periodMs, maxCatchUpTicks } = this.options;
    let now = clock.nowMs();
    const due = Math.floor((now - this.nextDeadlineMs) / periodMs) + 1;
    if (due > maxCatchUpTicks + 1) {
      const skip = due - (maxCatchUpTicks + 1);
      this.nextDeadlineMs += skip * periodMs;
      this.index += skip;
      this.stats.skippedTicks += skip;
      this.stats.resyncs++;
    }
    // Bounded, so a slow tick cannot make one wake-up run forever; what is still due runs at
    // the next wake-up (scheduled at once), after pending I/O has had its turn.
    let budget = maxCatchUpTicks + 1;
    while (this.running && budget-- > 0 && this.nextDeadlineMs <= now) {
      const lateness = now - this.nextDeadlineMs;
      this.stats.ticks++;
      this.stats.lastLatenessMs = lateness;
      if (lateness > this.stats.maxLatenessMs) this.stats.maxLatenessMs = lateness;
      if (lateness >= this.lateThresholdMs) this.stats.lateTicks++;
      this.lateness.record(lateness);
      this.options.onTick(this.nextDeadlineMs, this.index++);
      this.nextDeadlineMs += periodMs;
      const after = clock.nowMs();
      this.tickDuration.record(after - now);
      now = after;
    }
  }

  private schedule(): void {
    if (!this.running) return;
    const waitMs = Math.max(0, this.nextDeadlineMs - this.options.clock.nowMs());
    this.handle = this.timers.setTimeout(() => {
      this.handle = null;
      this.runDue();
      this.schedule();
    }, waitMs);
  }
}
