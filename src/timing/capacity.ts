/**
 * Admission by capacity: a new call is refused only when the steady state with it would
 * not fit in the event loop, judged from what the calls in progress cost, never from how busy the
 * loop was while calls were being set up.
 *
 * Why: the guard before this one refused new calls at 90 % event-loop utilisation over a second. A
 * burst of dial-ins (webhooks, join tickets, WebSocket upgrades, 16 at a time at the top of the
 * hour) fills the loop for a second or two although the calls, once set up, need far less: it
 * refused 72 of 200 callers on a 2-core VM while the server used half a core.
 *
 * The model. In a second with no call set-ups, the loop is busy
 *
 *     busy = base + k * tick
 *
 * where `tick` is the share of the second the mixer's ticks took (every room's mixing and every
 * listener's socket write; measured in every second, set-ups or not, since nothing else runs inside
 * a tick) and `k` the ratio of the whole media path (socket reads, message parsing, the tick) to its
 * tick part, a property of the platform: a loopback read costs about what a write does. `base`
 * is the loop's own cost with no calls (timers, the 50 Hz tick itself). The tick grows with the
 * callers: `tick = perCallerTick * callers`, measured each second. So the steady state with N
 * callers is projected as
 *
 *     base + k * perCallerTick * N
 *
 * and a call is admitted when that, for the callers with it, stays within `budget`. All three are
 * learnt from seconds without set-ups (smoothed), starting from the figures the benchmark measured.
 * A second with set-ups may only lower the tick cost per caller: its ticks run longer than they
 * will (joins and their beeps, the set-ups competing for the processor: measured at 0.09 % of a
 * second per caller during a burst of 500 dial-ins, 0.05 % once they were in).
 *
 * Pure: the server feeds it one sample a second and asks it before each admission.
 */
export interface CapacityOptions {
  /**
   * Share of the event loop (0..1) the calls' steady media work may take: a new call is refused
   * when the projection with it exceeds this. 0 (or above 1): never refuse for load.
   */
  budget: number;
  /** Starting ratio of the media path's whole loop time to its tick time (default 2.0). */
  initialK?: number;
  /** Starting busy share with no calls (default 0.02). */
  initialBase?: number;
  /** Starting tick share per caller, until a steady second with callers was measured (default 0.0006). */
  initialPerCallerTick?: number;
}

/** One interval's figures. */
export interface CapacitySample {
  /** Event-loop utilisation over the interval (0..1). */
  busy: number;
  /** Share of the interval the mixer's ticks took (0..1). */
  tick: number;
  /** Callers streaming at the start and at the end of the interval. */
  callersBefore: number;
  callersAfter: number;
  /** Call set-ups in the interval (webhook admissions and stream starts). */
  setups: number;
}

/** Callers needed for a second to say something about the cost per caller. */
const MIN_CALLERS = 10;
/** Weight of a new second in the smoothed figures. */
const SMOOTHING = 0.2;
/** Bounds on k: the tick is part of the media path (k >= 1); anything far above is a bad second. */
const K_MIN = 1;
const K_MAX = 6;
/**
 * The benchmark's figures on a 2-core VM: the loop busy 1.75-2 times as long as its ticks
 * took at 200-500 callers, ~2 % busy with no calls, and the ticks 0.056-0.065 % of each second per
 * caller (13 % at 200 callers, 28 % at 500, the machine quiet). Only where to start (the first burst
 * of dial-ins comes before any measurement: about 730 callers fit by these): all three are learnt.
 */
const DEFAULT_K = 2.0;
const DEFAULT_BASE = 0.02;
const DEFAULT_PER_CALLER_TICK = 0.0006;

export class Capacity {
  private k: number;
  private base: number;
  /** Tick share per caller. */
  private perCallerTick: number;
  /** Has a steady second with enough callers been measured? */
  private measured = false;
  private lastBusy = 0;
  private lastTick = 0;
  private refusing = false;
  /** Times admission went from taking calls to refusing them. */
  episodes = 0;

  constructor(private readonly options: CapacityOptions) {
    this.k = options.initialK ?? DEFAULT_K;
    this.base = options.initialBase ?? DEFAULT_BASE;
    this.perCallerTick = options.initialPerCallerTick ?? DEFAULT_PER_CALLER_TICK;
  }

  get enabled(): boolean {
    return this.options.budget > 0 && this.options.budget <= 1;
  }

  /** The last interval's event-loop utilisation (0..1). */
  get utilization(): number {
    return this.lastBusy;
  }

  /** The last interval's share taken by the mixer's ticks (0..1). */
  get tickShare(): number {
    return this.lastTick;
  }

  /** The learnt ratio of the media path's loop time to its tick time. */
  get mediaToTickRatio(): number {
    return this.k;
  }

  /** Projected steady busy share (0..1) with `callers` calls. */
  projectedBusy(callers: number): number {
    return this.base + this.k * this.perCallerTick * callers;
  }

  /** How many callers the budget holds, by the projection (Infinity when unlimited). */
  get callersHeld(): number {
    if (!this.enabled) return Infinity;
    return Math.max(0, Math.floor((this.options.budget - this.base) / (this.k * Math.max(this.perCallerTick, 1e-9))));
  }

  /** False until a steady second with enough callers was measured: the projection is the starting figures'. */
  get isMeasured(): boolean {
    return this.measured;
  }

  /** Would the steady state with `callers` calls fit the budget? */
  fits(callers: number): boolean {
    return !this.enabled || this.projectedBusy(callers) <= this.options.budget;
  }

  /**
   * An admission decision: may the server hold `callers` calls, the new one included? Counts an
   * episode each time it starts refusing.
   */
  admits(callers: number): boolean {
    const ok = this.fits(callers);
    if (!ok && !this.refusing) this.episodes++;
    this.refusing = !ok;
    return ok;
  }

  /** One interval's figures. */
  sample(s: CapacitySample): void {
    this.lastBusy = s.busy;
    this.lastTick = s.tick;
    const callers = (s.callersBefore + s.callersAfter) / 2;
    const steady = s.setups === 0 || s.setups <= callers / 100;
    if (callers === 0) {
      if (s.setups === 0) this.base = smooth(this.base, Math.min(s.busy, 0.5));
      return;
    }
    if (callers < MIN_CALLERS || s.tick <= 0) return;
    const perCallerTick = s.tick / callers;
    if (steady) {
      this.perCallerTick = this.measured ? smooth(this.perCallerTick, perCallerTick) : perCallerTick;
      this.measured = true;
      this.k = smooth(this.k, clamp((s.busy - this.base) / s.tick, K_MIN, K_MAX));
    } else if (perCallerTick < this.perCallerTick) {
      // While calls are set up the ticks run longer than they will (joins, beeps, and the set-ups
      // competing for the processor): such a second may lower the estimate, never raise it.
      this.perCallerTick = smooth(this.perCallerTick, perCallerTick);
    }
  }
}

function smooth(previous: number, value: number): number {
  return previous + SMOOTHING * (value - previous);
}

function clamp(value: number, min: number, max: number): number {
  return value < min ? min : value > max ? max : value;
}
