/**
 * Failed-attempt limiting per client address, so that the admin token cannot be guessed at line
 * rate. Each address may fail `maxFailures` times in a fixed window of `windowMs`; after that,
 * every request from it is refused (even with the right token: otherwise the limit would still
 * tell a guesser when it hit) until the window ends.
 *
 * Memory is bounded: at most `maxAddresses` windows are remembered; when full, expired ones are
 * swept, then the oldest is forgotten. Pure: time comes from the caller.
 */

export interface FailureLimiterOptions {
  maxFailures: number;
  windowMs: number;
  maxAddresses: number;
}

interface Window {
  startMs: number;
  failures: number;
}

export class FailureLimiter {
  private readonly windows = new Map<string, Window>();

  constructor(private readonly options: FailureLimiterOptions) {}

  /** Null when `address` may try; else how long until it may (ms, at least 1). */
  blockedForMs(address: string, nowMs: number): number | null {
    const w = this.windows.get(address);
    if (!w) return null;
    const leftMs = w.startMs + this.options.windowMs - nowMs;
    if (leftMs <= 0) {
      this.windows.delete(address);
      return null;
    }
    return w.failures >= this.options.maxFailures ? Math.max(1, Math.ceil(leftMs)) : null;
  }

  /** Counts a failure; returns the failures of this address in its window so far. */
  fail(address: string, nowMs: number): number {
    let w = this.windows.get(address);
    if (w && w.startMs + this.options.windowMs <= nowMs) {
      this.windows.delete(address);
      w = undefined;
    }
    if (!w) {
      if (this.windows.size >= this.options.maxAddresses) this.makeRoom(nowMs);
      w = { startMs: nowMs, failures: 0 };
      this.windows.set(address, w);
    }
    return ++w.failures;
  }

  /** Addresses remembered (for tests and metrics). */
  get size(): number {
    return this.windows.size;
  }

  private makeRoom(nowMs: number): void {
    for (const [address, w] of this.windows) if (w.startMs + this.options.windowMs <= nowMs) this.windows.delete(address);
    // Still full: forget the oldest window (Map order is insertion order).
    while (this.windows.size >= this.options.maxAddresses) {
      const oldest = this.windows.keys().next().value;
      if (oldest === undefined) break;
      this.windows.delete(oldest);
    }
  }
}
