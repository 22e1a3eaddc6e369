/**
 * Since when this process's event loop has been busy without a pause. A frame read while the loop
 * has been busy since the mixer's tick began may have been waiting in the kernel all that time:
 * the media session hands that moment to the jitter buffer as the frame's earliest possible
 * arrival, so that the process's own lag is not taken for network jitter (measured with the
 * benchmark, issue 6: at 500 callers the buffers' jitter estimate was 21-52 ms with the read time
 * alone, and 0.3-8.9 ms with this; the delay p50 went from 38-73 ms to 17-34 ms).
 *
 * The loop's idle time is libuv's (time spent waiting in epoll): unchanged since the mark means
 * the loop has not waited for anything since.
 */
import { performance } from 'node:perf_hooks';

/** Idle time below this since the mark (ms) is a poll that found work waiting, not a pause. */
const PAUSE_MS = 0.2;

export class LoopBusySince {
  private markMs: number | null = null;
  private idleAtMarkMs = 0;

  /** `idleTimeMs`: the event loop's cumulative idle time (ms). */
  constructor(private readonly idleTimeMs: () => number = () => performance.nodeTiming.idleTime) {}

  /** The loop is busy from `nowMs` on (the mixer tick starts). */
  mark(nowMs: number): void {
    this.markMs = nowMs;
    this.idleAtMarkMs = this.idleTimeMs();
  }

  /** The last mark, when the loop has not paused since; otherwise null. */
  sinceMs(): number | null {
    if (this.markMs === null) return null;
    return this.idleTimeMs() - this.idleAtMarkMs < PAUSE_MS ? this.markMs : null;
  }
}
