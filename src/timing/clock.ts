/** Time as an input: the mixer's ticker reads a Clock, so tests can drive it by hand. */
export interface Clock {
  /** Milliseconds on a monotonic scale (never jumps with the wall clock). */
  nowMs(): number;
}

export const monotonicClock: Clock = { nowMs: () => performance.now() };

/** A clock that moves only when told to: for tests. */
export class ManualClock implements Clock {
  constructor(private now = 0) {}
  nowMs(): number {
    return this.now;
  }
  advance(ms: number): void {
    this.now += ms;
  }
  set(ms: number): void {
    this.now = ms;
  }
}
