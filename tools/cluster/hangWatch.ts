/**
 * A node that stops answering is killed, so its callers come back (issue 16, item 5).
 *
 * A node frozen for good (kill -STOP, a process stuck in a loop) keeps its TCP connections open:
 * the kernel still acknowledges what nginx sends it. nginx cannot notice by itself: on an upgraded
 * connection it restarts `proxy_read_timeout` on traffic in either direction, and Twilio sends a
 * frame every 20 ms, so the timeout never fires (measured on nginx 1.22: a stream whose upstream
 * sent nothing for 20 s, its client sending every 20 ms, stayed open under a 3 s timeout). The
 * callers would hear silence for as long as the call lasts.
 *
 * The supervisor can notice: it asks the node's GET /health every `intervalMs` and kills the
 * process (SIGKILL) once no answer came for `hungAfterMs`. The kernel then closes its sockets,
 * nginx closes the streams, Twilio requests each call's `<Connect action>` and the rejoin places
 * the room on a live node (its lease ran out long before: LEASE_TTL_MS is 2 s by default).
 *
 * Why a few seconds is safe: /health answers from memory in well under a millisecond; a node
 * whose event loop cannot answer it for seconds has starved every stream it serves anyway (50
 * frames a second each), and its fence gave up its rooms after LEASE_TTL_MS. The watch starts
 * only after the node first answered (tsx compiling on start takes seconds).
 *
 * Pure scheduling on an injected clock and timers (test/unit/hangWatch.test.ts drives it by hand);
 * the launcher gives it the real probe and the kill.
 */
import type { Clock, Timers } from '../../src/timing/clock.js';

/** The launcher's default: a node silent this long (ms) is killed. */
export const DEFAULT_HUNG_AFTER_MS = 5000;
/** How often the launcher asks each node (ms). */
export const DEFAULT_PROBE_INTERVAL_MS = 250;

export interface HangWatchOptions {
  /** Asks the node: resolves true when it answered (false or a rejection: no answer). */
  probe: () => Promise<boolean>;
  /** Called once, when no probe was answered for `hungAfterMs`; the watch is over then. */
  onHung: (silentMs: number) => void;
  hungAfterMs: number;
  intervalMs: number;
  clock: Clock;
  timers: Timers;
}

export interface HangWatch {
  /** Ends the watch (the node stopped on purpose); safe twice. */
  stop(): void;
}

/**
 * Probes every `intervalMs` (one probe in flight at most: a probe that hangs does not pile up) and
 * judges on the clock, not on the probe's answer: a node that never answers is found hung at
 * `hungAfterMs` (to one interval), whatever the probe's own timeout.
 */
export function watchForHang(options: HangWatchOptions): HangWatch {
  const { probe, onHung, hungAfterMs, intervalMs, clock, timers } = options;
  let lastAnswerMs = clock.nowMs();
  let inFlight = false;
  let over = false;
  let timer: unknown = null;

  const tick = () => {
    if (over) return;
    const silentMs = clock.nowMs() - lastAnswerMs;
    if (silentMs >= hungAfterMs) {
      over = true;
      onHung(silentMs);
      return;
    }
    if (!inFlight) {
      inFlight = true;
      probe().then(
        (answered) => {
          inFlight = false;
          if (answered) lastAnswerMs = clock.nowMs();
        },
        () => {
          inFlight = false;
        },
      );
    }
    timer = timers.setTimeout(tick, intervalMs);
  };
  tick();

  return {
    stop() {
      over = true;
      if (timer !== null) timers.clearTimeout(timer);
      timer = null;
    },
  };
}
