/**
 * The figures an operator or a benchmark reads (GET /health, server.stats()): what is live, how the
 * mixer's clock keeps up, and the process's health, all read from the one health monitor.
 */
import type { Conference } from '../conference/conference.js';
import type { HealthMonitor, Summary } from '../observability/health.js';
import type { LoadSampler } from '../timing/loadSampler.js';
import type { Ticker } from '../timing/ticker.js';

export interface ServerStats {
  rooms: number;
  participants: number;
  framesMixed: number;
  framesSent: number;
  mixer: {
    ticks: number;
    lateTicks: number;
    skippedTicks: number;
    resyncs: number;
    /** The whole tick: mixMs + sendMs (and the ownership check). */
    tickMs: Summary;
    /** Every room's mixing: decode, jitter buffers, talk detection, sums, limiter, encode. */
    mixMs: Summary;
    /** Handing the frames to the sockets: one write per listener. */
    sendMs: Summary;
    latenessMs: Summary;
  };
  eventLoopDelayMs: { p50: number; p99: number; max: number; mean: number };
  /**
   * Share of the last second the event loop was busy (%); whether a new call would be refused for
   * load now; the callers the capacity model projects this process to hold (null: not yet known or
   * no limit; src/timing/capacity.ts).
   */
  load: { busyPercent: number; tickPercent: number; mediaToTick: number; overloaded: boolean; callersHeld: number | null };
  memory: { rssBytes: number; heapUsedBytes: number };
  cpuMicros: { user: number; system: number };
}

export interface StatsSources {
  conference: Pick<Conference, 'stats'>;
  ticker: Pick<Ticker, 'stats'>;
  health: HealthMonitor;
  load: Pick<LoadSampler, 'utilization' | 'tickShare' | 'mediaToTickRatio' | 'overloaded' | 'callersHeld'>;
}

export function readServerStats({ conference, ticker, health, load }: StatsSources): ServerStats {
  const c = conference.stats();
  const t = ticker.stats;
  const mem = process.memoryUsage();
  return {
    rooms: c.rooms,
    participants: c.participants,
    framesMixed: c.framesMixed,
    framesSent: c.framesSent,
    mixer: {
      ticks: t.ticks,
      lateTicks: t.lateTicks,
      skippedTicks: t.skippedTicks,
      resyncs: t.resyncs,
      tickMs: health.tickMs.summary(),
      mixMs: health.mixMs.summary(),
      sendMs: health.sendMs.summary(),
      latenessMs: health.latenessMs.summary(),
    },
    eventLoopDelayMs: health.loopDelayMs(),
    load: {
      busyPercent: Math.round(load.utilization * 1000) / 10,
      tickPercent: Math.round(load.tickShare * 1000) / 10,
      mediaToTick: Math.round(load.mediaToTickRatio * 100) / 100,
      overloaded: load.overloaded,
      callersHeld: load.callersHeld,
    },
    memory: { rssBytes: mem.rss, heapUsedBytes: mem.heapUsed },
    cpuMicros: health.cpuMicros(),
  };
}
