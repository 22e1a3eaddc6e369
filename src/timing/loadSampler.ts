/**
 * The capacity model's adapter: once a second it hands Capacity (capacity.ts) the event
 * loop's utilisation, the ticks' share of the second, the callers and the call set-ups, and says
 * when admission goes from taking calls to refusing them and back. It is also the view of the load
 * the rest of the server reads (/ready, /metrics, the dashboard, a cluster node's heartbeat).
 *
 * The timer and the event loop's utilisation live here; the decisions live in Capacity.
 */
import { performance } from 'node:perf_hooks';
import type { Capacity } from './capacity.js';
import type { Clock } from './clock.js';

export interface LoadSamplerOptions {
  capacity: Capacity;
  clock: Clock;
  /** Callers streaming now. */
  callers: () => number;
  /** Seats reserved or taken now (the next call is judged with one more). */
  seatsTaken: () => number;
  /** Admission started (true) or stopped (false) refusing calls for capacity, with the figures. */
  onChange?: (overloaded: boolean, figures: { busyPercent: number; calls: number; seats: number; callersHeld: number | null }) => void;
  /** Sampling interval (default 1000 ms). */
  intervalMs?: number;
}

export class LoadSampler {
  private tickMs = 0;
  private setups = 0;
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly options: LoadSamplerOptions) {}

  /** A tick took `ms` (the mixer's clock calls this). */
  tickTook(ms: number): void {
    this.tickMs += ms;
  }

  /** A call set-up happened: a seat reserved for a new call, or a stream started. */
  setUp(): void {
    this.setups++;
  }

  /** The last second's event-loop utilisation (0..1). */
  get utilization(): number {
    return this.options.capacity.utilization;
  }

  /** Would the next call be refused now? */
  get overloaded(): boolean {
    return !this.options.capacity.fits(this.options.seatsTaken() + 1);
  }

  /** Times admission began refusing calls for capacity. */
  get episodes(): number {
    return this.options.capacity.episodes;
  }

  /** An admission decision (Capacity.admits): may the process hold `callers` calls, the new one included? */
  admits(callers: number): boolean {
    return this.options.capacity.admits(callers);
  }

  /** The last second's share taken by the mixer's ticks (0..1), and the learnt media/tick ratio. */
  get tickShare(): number {
    return this.options.capacity.tickShare;
  }

  get mediaToTickRatio(): number {
    return this.options.capacity.mediaToTickRatio;
  }

  /** Callers the model projects this process to hold; null without a limit. */
  get callersHeld(): number | null {
    const held = this.options.capacity.callersHeld;
    return Number.isFinite(held) ? held : null;
  }

  start(): void {
    if (this.timer) return;
    const { capacity, clock, callers, seatsTaken, onChange } = this.options;
    let loopBase = performance.eventLoopUtilization();
    let sampledAtMs = clock.nowMs();
    let callersBefore = callers();
    let wasOverloaded = false;
    this.tickMs = 0;
    this.setups = 0;
    this.timer = setInterval(() => {
      const loopNow = performance.eventLoopUtilization();
      const { utilization } = performance.eventLoopUtilization(loopNow, loopBase);
      const nowMs = clock.nowMs();
      const callersAfter = callers();
      capacity.sample({ busy: utilization, tick: this.tickMs / Math.max(1, nowMs - sampledAtMs), callersBefore, callersAfter, setups: this.setups });
      loopBase = loopNow;
      sampledAtMs = nowMs;
      callersBefore = callersAfter;
      this.tickMs = 0;
      this.setups = 0;
      const overloaded = this.overloaded;
      if (overloaded === wasOverloaded) return;
      wasOverloaded = overloaded;
      onChange?.(overloaded, { busyPercent: Math.round(utilization * 1000) / 10, calls: callersAfter, seats: seatsTaken(), callersHeld: this.callersHeld });
    }, this.options.intervalMs ?? 1000);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}
