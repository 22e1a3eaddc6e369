/**
 * A participant's small bounded input buffer, between the socket (frames arrive whenever the
 * network delivers them) and the mixer's clock (one frame taken every 20 ms).
 *
 * - Fixed ring of preallocated 20 ms PCM slots: pushing copies, popping lends a slot: no allocation.
 * - Bounded: past `capacityFrames` the oldest frame is dropped, so a burst can never build delay
 *   beyond capacity * 20 ms.
 * - Drift: the caller's 8 kHz clock is not ours (Twilio's frames come every ~19.97 ms). When the
 *   queue never fell below 2 frames during a whole window (1 s), one frame is standing delay and
 *   is dropped, so delay does not creep up over a long call.
 */
import { SAMPLES_PER_FRAME } from '../audio/format.js';
import { decodeMulaw } from '../audio/mulaw.js';
import { isSilent } from '../audio/mix.js';

export interface InputQueueStats {
  framesIn: number;
  /** Ticks at which no frame was there. */
  underruns: number;
  /** Frames dropped because the queue was full. */
  overflowDrops: number;
  /** Frames dropped to remove standing delay (clock drift, a burst that was absorbed). */
  driftDrops: number;
  depth: number;
}

const DRIFT_WINDOW_TICKS = 50;

export class InputQueue {
  private readonly slots: Int16Array[];
  private readonly arrivalMs: Float64Array;
  private readonly silent: Uint8Array;
  private head = 0; // index of the oldest frame
  private count = 0;
  private windowTicks = 0;
  private windowMinDepth = Infinity;
  readonly stats: InputQueueStats = { framesIn: 0, underruns: 0, overflowDrops: 0, driftDrops: 0, depth: 0 };

  constructor(readonly capacityFrames = 5) {
    this.slots = Array.from({ length: capacityFrames }, () => new Int16Array(SAMPLES_PER_FRAME));
    this.arrivalMs = new Float64Array(capacityFrames);
    this.silent = new Uint8Array(capacityFrames);
  }

  get depth(): number {
    return this.count;
  }

  /** Decodes one 20 ms mu-law frame (160 bytes) into the queue. */
  pushMulaw(frame: Uint8Array, arrivalMs: number): void {
    if (this.count === this.capacityFrames) {
      this.head = (this.head + 1) % this.capacityFrames;
      this.count--;
      this.stats.overflowDrops++;
    }
    const index = (this.head + this.count) % this.capacityFrames;
    const slot = this.slots[index]!;
    decodeMulaw(frame, slot);
    this.silent[index] = isSilent(slot) ? 1 : 0;
    this.arrivalMs[index] = arrivalMs;
    this.count++;
    this.stats.framesIn++;
    this.stats.depth = this.count;
  }

  /**
   * Takes the oldest frame for this tick. Returns the lent slot (valid until the next push that
   * wraps onto it, i.e. for the rest of the tick) or null when the queue is empty.
   * `out.arrivalMs` and `out.silent` describe the frame.
   */
  pop(out: { arrivalMs: number; silent: boolean }): Int16Array | null {
    this.trackDrift();
    if (this.count === 0) {
      this.stats.underruns++;
      this.stats.depth = 0;
      return null;
    }
    const index = this.head;
    this.head = (this.head + 1) % this.capacityFrames;
    this.count--;
    this.stats.depth = this.count;
    out.arrivalMs = this.arrivalMs[index]!;
    out.silent = this.silent[index] === 1;
    return this.slots[index]!;
  }

  private trackDrift(): void {
    if (this.count < this.windowMinDepth) this.windowMinDepth = this.count;
    if (++this.windowTicks < DRIFT_WINDOW_TICKS) return;
    if (this.windowMinDepth >= 2) {
      this.head = (this.head + 1) % this.capacityFrames;
      this.count--;
      this.stats.driftDrops++;
    }
    this.windowTicks = 0;
    this.windowMinDepth = Infinity;
  }

  clear(): void {
    this.head = 0;
    this.count = 0;
    this.stats.depth = 0;
    this.windowTicks = 0;
    this.windowMinDepth = Infinity;
  }
}
