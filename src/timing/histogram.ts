/**
 * A fixed-memory histogram of durations in milliseconds, for percentiles of tick time and
 * lateness without keeping samples: log-spaced buckets (~4 % wide) from 1 us to ~60 s.
 * Recording is a log and an increment: cheap enough for every tick.
 */
const MIN_MS = 0.001;
const GROWTH = 1.04;
const BUCKETS = Math.ceil(Math.log(60_000 / MIN_MS) / Math.log(GROWTH)) + 1;
const LOG_GROWTH = Math.log(GROWTH);

export class DurationHistogram {
  private readonly counts = new Uint32Array(BUCKETS);
  private n = 0;
  private maxMs = 0;
  private sumMs = 0;

  record(ms: number): void {
    const index = ms <= MIN_MS ? 0 : Math.min(BUCKETS - 1, Math.ceil(Math.log(ms / MIN_MS) / LOG_GROWTH));
    this.counts[index]!++;
    this.n++;
    this.sumMs += ms;
    if (ms > this.maxMs) this.maxMs = ms;
  }

  get count(): number {
    return this.n;
  }

  get max(): number {
    return this.maxMs;
  }

  get mean(): number {
    return this.n ? this.sumMs / this.n : 0;
  }

  /** Upper bound of the bucket holding the given fraction of records (0..1); 0 when empty. */
  percentile(fraction: number): number {
    if (this.n === 0) return 0;
    const rank = Math.max(1, Math.ceil(fraction * this.n));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i]!;
      if (seen >= rank) return i === BUCKETS - 1 ? this.maxMs : Math.min(this.maxMs, MIN_MS * GROWTH ** i);
    }
    return this.maxMs;
  }

  /**
   * Records at or below `ms` (bucket resolution, ~4 %): the cumulative count of a Prometheus
   * histogram bucket, computed when scraped rather than on the tick.
   */
  countAtMost(ms: number): number {
    if (ms >= this.maxMs) return this.n;
    let seen = 0;
    for (let i = 0; i < BUCKETS && MIN_MS * GROWTH ** i <= ms * 1.0000001; i++) seen += this.counts[i]!;
    return seen;
  }

  /** Sum of all records (ms). */
  get sum(): number {
    return this.sumMs;
  }

  reset(): void {
    this.counts.fill(0);
    this.n = 0;
    this.maxMs = 0;
    this.sumMs = 0;
  }

  summary(): { count: number; p50: number; p99: number; max: number; mean: number } {
    const r = (v: number) => Math.round(v * 1000) / 1000;
    return { count: this.n, p50: r(this.percentile(0.5)), p99: r(this.percentile(0.99)), max: r(this.maxMs), mean: r(this.mean) };
  }
}
