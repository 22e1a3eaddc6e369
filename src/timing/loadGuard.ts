/**
 * Overload protection: a process whose event loop is busy nearly all the time cannot take more
 * calls without every caller already in hearing it (late ticks, growing delay, dropped frames).
 * Measured with the benchmark (issue 6) on a 2-core VM: at 1,000 callers one process was saturated
 * and everyone suffered (97 % of frames delivered, delay p50 423 ms, handshakes timing out), while
 * at 400 callers (71 % of a core) every frame arrived. So past a threshold of event-loop
 * utilisation new calls are refused politely (twiml/busy.xml) and /ready says so, and the calls
 * already in keep what they had.
 *
 * Pure: it is fed one utilisation figure per interval (performance.eventLoopUtilization() over the
 * last second, in the server) and says whether the process is overloaded. It enters the state at
 * the threshold and leaves it only when utilisation falls `hysteresis` below, so that a process at
 * the edge does not flap between admitting and refusing every second.
 */
export interface LoadGuardOptions {
  /** Event-loop utilisation (0..1) at which new calls are refused; 0 or above 1: never. */
  threshold: number;
  /** How far below the threshold utilisation must fall to admit again (default 0.1). */
  hysteresis?: number;
}

export class LoadGuard {
  private state = false;
  private last = 0;
  /** Times the state went to overloaded. */
  episodes = 0;

  constructor(private readonly options: LoadGuardOptions) {}

  get enabled(): boolean {
    return this.options.threshold > 0 && this.options.threshold <= 1;
  }

  /** True while new calls are refused. */
  get overloaded(): boolean {
    return this.state;
  }

  /** The last utilisation sampled (0..1). */
  get utilization(): number {
    return this.last;
  }

  /** One interval's utilisation (0..1). Returns true when the state changed. */
  sample(utilization: number): boolean {
    this.last = utilization;
    if (!this.enabled) return false;
    const before = this.state;
    if (!this.state && utilization >= this.options.threshold) {
      this.state = true;
      this.episodes++;
    } else if (this.state && utilization < this.options.threshold - (this.options.hysteresis ?? 0.1)) {
      this.state = false;
    }
    return this.state !== before;
  }
}
