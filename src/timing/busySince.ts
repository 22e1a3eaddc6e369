/**
 * Since when this process's event loop has been busy without a pause. A frame read while the loop
 * has been busy since the mixer's tick began may have been waiting in the kernel all that time:
 * the media session hands that moment to the jitter buffer as the frame's earliest possible
 * arrival, so that the process's own lag is not taken for network jitter (measured with the
 * benchmark: at 500 callers the buffers' jitter estimate was 21-52 ms with the read time
 * alone, and 0.3-8.9 ms with this; the delay p50 went from 38-73 ms to 17-34 ms).
 *
 * The loop's idle time is libuv's (time spent waiting in epoll): unchanged since the mark means
 * the loop has not waited for anything since. Call set-ups mark too: a burst of
 * webhooks and upgrades holds the loop for tens of ms, and the frames read after it had been
 * waiting; taken for network jitter, they raised every caller's input buffer for half a minute
 * (delay p50 61 ms at 500 callers dialled 16 at a time, against 15-23 ms without such a stall).
 */
import { performance } from 'node:perf_hooks';

/** Idle time below this since the mark (ms) is a poll that found work waiting, not a pause. */
const PAUSE_MS = 0.2;
/**
 * A busy stretch keeps its first mark for at most this long (ms): a loop busy for longer than that
 * is saturated, and its lag is then real delay for everyone, not something to look through.
 */
const MAX_STRETCH_MS = 200;

export class LoopBusySince {
  private markMs: number | null = null;
  private idleAtMarkMs = 0;

  /** `idleTimeMs`: the event loop's cumulative idle time (ms). */
  constructor(private readonly idleTimeMs: () => number = () => performance.nodeTiming.idleTime) {}

  /**
   * The loop is busy from `nowMs` on (the mixer tick starts, a webhook or an upgrade is handled).
   * Within a stretch of work with no pause, the first mark stands (up to MAX_STRETCH_MS): frames
   * read at its end may have been waiting since its start.
   */
  mark(nowMs: number): void {
    const idleMs = this.idleTimeMs();
    if (this.markMs !== null && idleMs - this.idleAtMarkMs < PAUSE_MS && nowMs - this.markMs <= MAX_STRETCH_MS) return;
    this.markMs = nowMs;
    this.idleAtMarkMs = idleMs;
  }

  /** The last mark, when the loop has not paused since; otherwise null. */
  sinceMs(): number | null {
    if (this.markMs === null) return null;
    return this.idleTimeMs() - this.idleAtMarkMs < PAUSE_MS ? this.markMs : null;
  }
}
