/**
 * Time as an input. The mixer's ticker, the session's start timeout and the cluster's lease fence
 * read a Clock and wait through Timers, so tests drive them by hand with a ManualClock and never
 * sleep.
 */
export interface Clock {
  /** Milliseconds: monotonic for `monotonicClock` (never jumps with the wall clock), Unix ms for `systemClock`. */
  nowMs(): number;
}

/** For durations and deadlines inside this process. */
export const monotonicClock: Clock = { nowMs: () => performance.now() };

/** Wall-clock time (Unix ms), for times other processes must agree on: ticket expiries, heartbeats. */
export const systemClock: Clock = { nowMs: () => Date.now() };

/** One-shot timers. A handle is whatever `setTimeout` returned; `clearTimeout` of a fired or cleared one does nothing. */
export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** Node's timers. */
export const nodeTimers: Timers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/**
 * Node's timers, unref'd: a background timer (a lease renewal, a session's start timeout) never
 * keeps the process alive on its own.
 */
export const backgroundTimers: Timers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms).unref(),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/** Resolves after `ms` on `timers`. */
export function delay(timers: Timers, ms: number): Promise<void> {
  return new Promise((resolve) => timers.setTimeout(resolve, ms));
}

interface ManualTimer {
  id: number;
  dueMs: number;
  fn: () => void;
}

/**
 * A clock that moves only when told to, with timers that fire as it moves: for tests. `advance`
 * and `set` run every timer that falls due on the way, in due order (ties in the order they were
 * set), with the clock at each timer's due time while it runs.
 */
export class ManualClock implements Clock, Timers {
  private readonly timers = new Map<number, ManualTimer>();
  private nextId = 1;

  constructor(private now = 0) {}

  nowMs(): number {
    return this.now;
  }

  advance(ms: number): void {
    this.set(this.now + ms);
  }

  set(ms: number): void {
    for (let next = this.nextDue(ms); next !== undefined; next = this.nextDue(ms)) {
      this.timers.delete(next.id);
      this.now = Math.max(this.now, next.dueMs);
      next.fn();
    }
    this.now = ms;
  }

  /**
   * Moves the clock without running timers: a process paused (SIGSTOP, a long GC) wakes to find the
   * time gone. The overdue timers run at the next `advance` or `set`.
   */
  jump(ms: number): void {
    this.now += ms;
  }

  setTimeout(fn: () => void, ms: number): unknown {
    const id = this.nextId++;
    this.timers.set(id, { id, dueMs: this.now + Math.max(0, ms), fn });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as number);
  }

  /** Timers set and not yet fired or cleared. */
  get pendingTimers(): number {
    return this.timers.size;
  }

  private nextDue(untilMs: number): ManualTimer | undefined {
    let next: ManualTimer | undefined;
    for (const t of this.timers.values()) if (t.dueMs <= untilMs && (next === undefined || t.dueMs < next.dueMs)) next = t;
    return next;
  }
}
