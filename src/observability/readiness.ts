/**
 * Readiness (GET /ready): may this process take new calls? Yes when the mixer clock is ticking on
 * time, the room database answers, the server is not shutting down and not at capacity. Liveness
 * (GET /health) is only "the process answers".
 */
import type { RoomDirectory } from '../rooms/directory.js';
import type { Ticker } from '../timing/ticker.js';

/** A clock that has not ticked for this long (ms) is stuck. */
export const CLOCK_STALL_MS = 1000;
/** How long the database may take to answer a count (ms). */
const DATABASE_TIMEOUT_MS = 1000;

export interface ReadinessSources {
  ticker: Ticker;
  directory: RoomDirectory;
  isShuttingDown: () => boolean;
  /**
   * Admission by capacity (src/timing/capacity.ts): would the next call be refused, the last
   * second's event-loop utilisation (0..1), and the callers the model projects to fit (null:
   * not known yet). Absent: not checked.
   */
  load?: () => { overloaded: boolean; utilization: number; callersHeld: number | null };
  /** Monotonic ms. */
  nowMs: () => number;
}

export interface ReadinessCheck {
  ok: boolean;
  detail: string;
}

export interface Readiness {
  ready: boolean;
  checks: { mixerClock: ReadinessCheck; database: ReadinessCheck; shutdown: ReadinessCheck; load: ReadinessCheck };
}

/** Remembers when the tick count last moved, to tell a running clock from a stuck one. */
export class ReadinessProbe {
  private lastTicks = -1;
  private lastMoveMs: number;

  constructor(private readonly sources: ReadinessSources) {
    this.lastMoveMs = sources.nowMs();
  }

  async check(): Promise<Readiness> {
    const { ticker, directory } = this.sources;
    const now = this.sources.nowMs();
    if (ticker.stats.ticks !== this.lastTicks) {
      this.lastTicks = ticker.stats.ticks;
      this.lastMoveMs = now;
    }
    const stalledMs = now - this.lastMoveMs;
    const mixerClock: ReadinessCheck = !ticker.isRunning
      ? { ok: false, detail: 'mixer clock stopped' }
      : stalledMs > CLOCK_STALL_MS && ticker.stats.ticks > 0
        ? { ok: false, detail: `no tick for ${Math.round(stalledMs)} ms` }
        : ticker.stats.lastLatenessMs > CLOCK_STALL_MS
          ? { ok: false, detail: `last tick ${Math.round(ticker.stats.lastLatenessMs)} ms late` }
          : { ok: true, detail: `${ticker.stats.ticks} ticks, last ${ticker.stats.lastLatenessMs.toFixed(1)} ms late` };
    let database: ReadinessCheck;
    try {
      let timer: NodeJS.Timeout | undefined;
      const rooms = await Promise.race([
        directory.count(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no answer in ${DATABASE_TIMEOUT_MS} ms`)), DATABASE_TIMEOUT_MS);
        }),
      ]).finally(() => clearTimeout(timer));
      database = { ok: true, detail: `${rooms} administered rooms` };
    } catch (error) {
      database = { ok: false, detail: error instanceof Error ? error.message : String(error) };
    }
    const shuttingDown = this.sources.isShuttingDown();
    const shutdown: ReadinessCheck = shuttingDown ? { ok: false, detail: 'shutting down' } : { ok: true, detail: 'running' };
    const l = this.sources.load?.();
    const held = l?.callersHeld == null ? '' : `; about ${l.callersHeld} callers fit`;
    const busy = l ? `event loop busy ${(l.utilization * 100).toFixed(1)} % of the last second${held}` : 'not checked';
    const load: ReadinessCheck = l?.overloaded ? { ok: false, detail: `at capacity: one more call would not fit (${busy})` } : { ok: true, detail: busy };
    return { ready: mixerClock.ok && database.ok && shutdown.ok && load.ok, checks: { mixerClock, database, shutdown, load } };
  }
}
