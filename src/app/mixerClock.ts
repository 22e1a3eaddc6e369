/**
 * The mixer's 20 ms clock wired to the conference: each tick enforces room ownership (the
 * cluster's fence), mixes every room, then hands the frames to the sockets, and records how long
 * each part took in the health monitor and the capacity sampler.
 */
import { FRAME_MS } from '../audio/format.js';
import type { Conference } from '../conference/conference.js';
import type { HealthMonitor } from '../observability/health.js';
import { LoopBusySince } from '../timing/busySince.js';
import type { Clock, Timers } from '../timing/clock.js';
import { Ticker } from '../timing/ticker.js';

/** Missed ticks made up at one late wake-up before the clock resynchronises (100 ms). */
const MAX_CATCH_UP_TICKS = 5;

export interface MixerClockDeps {
  clock: Clock;
  conference: Pick<Conference, 'mix' | 'send'>;
  /** The fence: rooms this node no longer owns are closed before they are mixed again. */
  ownership: { enforce(nowMs: number): void };
  /** Told each tick's whole duration (admission by capacity). */
  load: { tickTook(ms: number): void };
  health: HealthMonitor;
  /** Default: node's timers. */
  timers?: Timers;
}

export interface MixerClock {
  readonly ticker: Ticker;
  /**
   * Since when the event loop has been busy (timing/busySince.ts): marked at each tick's start and
   * by call set-ups (`markBusy`), read by the media sessions for their frames' arrival times.
   */
  readonly busySince: LoopBusySince;
  markBusy(): void;
}

export function createMixerClock({ clock, conference, ownership, load, health, timers }: MixerClockDeps): MixerClock {
  const busySince = new LoopBusySince();
  const ticker = new Ticker({
    clock,
    periodMs: FRAME_MS,
    maxCatchUpTicks: MAX_CATCH_UP_TICKS,
    tickDuration: health.tickMs,
    lateness: health.latenessMs,
    ...(timers ? { timers } : {}),
    onTick: (deadlineMs) => {
      const startMs = clock.nowMs();
      busySince.mark(startMs);
      ownership.enforce(startMs);
      conference.mix(deadlineMs);
      const mixedMs = clock.nowMs();
      conference.send();
      const endMs = clock.nowMs();
      health.mixMs.record(mixedMs - startMs);
      health.sendMs.record(endMs - mixedMs);
      load.tickTook(endMs - startMs);
    },
  });
  return { ticker, busySince, markBusy: () => busySince.mark(clock.nowMs()) };
}
