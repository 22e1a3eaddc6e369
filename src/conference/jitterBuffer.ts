/**
 * A caller's input jitter buffer: between the socket (Twilio delivers over TCP, so frames come late
 * and in bunches rather than lost) and the mixer's clock (one frame every 20 ms).
 *
 * - Frames arrive in order (the reframer fills timestamp gaps), so nothing is ever discarded as
 *   "late": when the next frame is not there at its tick, the tick is concealed and the frame is
 *   played when it comes. Each such underrun adds a frame of delay, exactly as much as the network
 *   needed.
 * - Delay is then taken back gently: when the buffer never fell below `target + 1` frames for a
 *   whole window (1 s), one frame is standing delay and is dropped, a silent one when possible.
 *   This also absorbs clock drift (the caller's 8 kHz against ours) in either direction.
 * - The target grows at once with the arrival jitter observed (transit time against a drifting
 *   minimum) and shrinks back slowly (2 ms per second), within [minTargetFrames, maxTargetFrames].
 * - Concealment: the first missing tick plays the last frame mirrored in time (continuous at the
 *   seam) fading to zero; further missing ticks are silence. Audio resuming after a concealment
 *   fades in over 10 ms. No clicks either way.
 * - Fixed ring of preallocated slots: pushing copies in, popping copies out; nothing is allocated
 *   per frame.
 */
import { FRAME_MS, SAMPLES_PER_FRAME } from '../audio/format.js';
import { isSilent } from '../audio/mix.js';
import { decodeMulaw } from '../audio/mulaw.js';

export interface JitterBufferOptions {
  /** Most frames held; beyond it the oldest is dropped (a burst can never build more delay). */
  capacityFrames?: number;
  minTargetFrames?: number;
  maxTargetFrames?: number;
}

export interface JitterBufferStats {
  framesIn: number;
  framesPlayed: number;
  /** Ticks with no frame to play once playing (concealed or silent). */
  underruns: number;
  /** Ticks concealed with the faded mirror of the last frame (the first of an underrun). */
  concealed: number;
  /** Frames dropped to take back standing delay (after a burst, or clock drift). */
  driftDrops: number;
  /** Frames dropped because more than capacity arrived ahead of the clock. */
  overflowDrops: number;
  /** Frames held right now. */
  depth: number;
  targetFrames: number;
  /** Current arrival-jitter estimate (ms). */
  jitterMs: number;
}

/** What pop() produced this tick. */
export type PopKind = 'audio' | 'concealed' | 'silence';

const WINDOW_TICKS = 50;
/** Jitter estimate decay: 2 ms per second of frames (80 ms of jitter is forgotten in 40 s). */
const JITTER_DECAY_MS_PER_FRAME = (2 * FRAME_MS) / 1000;
/** How fast the minimum transit may rise (ms per frame): follows a caller clock up to 1 % slow. */
const MIN_TRANSIT_RISE_MS_PER_FRAME = 0.2;
const FADE_IN_SAMPLES = 80;

export class JitterBuffer {
  private readonly capacity: number;
  private readonly minTarget: number;
  private readonly maxTarget: number;
  private readonly slots: Int16Array[];
  private readonly silentSlot: Uint8Array;
  private readonly arrivalMs: Float64Array;
  private head = 0;
  private count = 0;
  private started = false;
  private pushed = 0;
  private minTransitMs = Infinity;
  private jitterEstimateMs = 0;
  private windowTicks = 0;
  private windowMinDepth = Infinity;
  private excessWindows = 0;
  private readonly last = new Int16Array(SAMPLES_PER_FRAME);
  private lastKind: PopKind = 'silence';
  readonly stats: JitterBufferStats;

  constructor(options: JitterBufferOptions = {}) {
    this.capacity = options.capacityFrames ?? 25;
    this.minTarget = options.minTargetFrames ?? 1;
    this.maxTarget = Math.min(options.maxTargetFrames ?? 10, this.capacity - 1);
    // One allocation for every slot, not one per slot (25 objects less per call set-up for the GC).
    const store = new Int16Array(this.capacity * SAMPLES_PER_FRAME);
    this.slots = Array.from({ length: this.capacity }, (_, i) => store.subarray(i * SAMPLES_PER_FRAME, (i + 1) * SAMPLES_PER_FRAME));
    this.silentSlot = new Uint8Array(this.capacity);
    this.arrivalMs = new Float64Array(this.capacity);
    this.stats = {
      framesIn: 0,
      framesPlayed: 0,
      underruns: 0,
      concealed: 0,
      driftDrops: 0,
      overflowDrops: 0,
      depth: 0,
      targetFrames: this.minTarget,
      jitterMs: 0,
    };
  }

  get depth(): number {
    return this.count;
  }

  get targetFrames(): number {
    return this.stats.targetFrames;
  }

  /**
   * One 20 ms mu-law frame (160 bytes), the next in the caller's sequence, read at `arrivalMs`.
   * `earliestMs` (default: the same): the frame may have come in as early as this, unseen while the
   * process was busy; for the jitter estimate it then counts as on time if it could have been.
   */
  pushMulaw(frame: Uint8Array, arrivalMs: number, earliestMs = arrivalMs): void {
    const index = this.nextSlot(arrivalMs, earliestMs);
    const slot = this.slots[index]!;
    decodeMulaw(frame, slot);
    this.stored(index, slot, arrivalMs);
  }

  /** pushMulaw for a frame already in PCM (160 samples at 8 kHz): a program's raw audio. */
  pushPcm(frame: Int16Array, arrivalMs: number, earliestMs = arrivalMs): void {
    const index = this.nextSlot(arrivalMs, earliestMs);
    const slot = this.slots[index]!;
    slot.set(frame);
    this.stored(index, slot, arrivalMs);
  }

  /** The slot the next frame goes in (the oldest is dropped when the ring is full). */
  private nextSlot(arrivalMs: number, earliestMs: number): number {
    this.observeArrival(arrivalMs, earliestMs);
    if (this.count === this.capacity) {
      this.head = (this.head + 1) % this.capacity;
      this.count--;
      this.stats.overflowDrops++;
    }
    return (this.head + this.count) % this.capacity;
  }

  private stored(index: number, slot: Int16Array, arrivalMs: number): void {
    this.silentSlot[index] = isSilent(slot) ? 1 : 0;
    this.arrivalMs[index] = arrivalMs;
    this.count++;
    this.stats.framesIn++;
    this.stats.depth = this.count;
  }

  /**
   * This tick's 20 ms into `out`. `info.arrivalMs` is the played frame's arrival time (for delay
   * figures); `info.silent` is true when `out` is all zeros.
   */
  pop(out: Int16Array, info: { arrivalMs: number; silent: boolean }): PopKind {
    if (!this.started) {
      if (this.count < this.stats.targetFrames) return this.silence(out, info, false);
      this.started = true;
    }
    this.trackDepth();
    if (this.count === 0) {
      this.stats.underruns++;
      if (this.lastKind === 'audio') return this.conceal(out, info);
      return this.silence(out, info, true);
    }
    const index = this.head;
    this.head = (this.head + 1) % this.capacity;
    this.count--;
    this.stats.depth = this.count;
    this.stats.framesPlayed++;
    out.set(this.slots[index]!);
    info.arrivalMs = this.arrivalMs[index]!;
    info.silent = this.silentSlot[index] === 1;
    if (this.lastKind !== 'audio' && !info.silent) {
      // Resuming after a gap: fade in, so the first sample does not jump out of silence.
      for (let i = 0; i < FADE_IN_SAMPLES; i++) out[i] = Math.round((out[i]! * (i + 1)) / (FADE_IN_SAMPLES + 1));
    }
    this.last.set(out);
    this.lastKind = 'audio';
    return 'audio';
  }

  private observeArrival(arrivalMs: number, earliestMs: number): void {
    // Transit against our clock, relative: arrival of frame n minus n frame periods; where the
    // frame may have come in earlier (read late by a busy process), as on time as it could be.
    const onTime = this.minTransitMs + MIN_TRANSIT_RISE_MS_PER_FRAME;
    const transit = Math.max(earliestMs - this.pushed * FRAME_MS, Math.min(arrivalMs - this.pushed * FRAME_MS, onTime));
    this.pushed++;
    this.minTransitMs = Math.min(transit, onTime);
    const jitter = transit - this.minTransitMs;
    this.jitterEstimateMs = Math.max(jitter, this.jitterEstimateMs - JITTER_DECAY_MS_PER_FRAME);
    const target = Math.ceil((this.jitterEstimateMs + 2) / FRAME_MS);
    this.stats.targetFrames = Math.max(this.minTarget, Math.min(this.maxTarget, target));
    this.stats.jitterMs = Math.round(this.jitterEstimateMs * 10) / 10;
  }

  /** Once per window: if the buffer never went below target + 1, drop a frame of standing delay. */
  private trackDepth(): void {
    if (this.count < this.windowMinDepth) this.windowMinDepth = this.count;
    if (++this.windowTicks < WINDOW_TICKS) return;
    const excess = this.windowMinDepth - this.stats.targetFrames;
    this.excessWindows = excess >= 1 ? this.excessWindows + 1 : 0;
    // Prefer a silent frame; after three windows of excess, drop the oldest anyway.
    if (excess >= 1 && this.count > 0 && (this.silentSlot[this.head] === 1 || this.excessWindows >= 3)) {
      this.head = (this.head + 1) % this.capacity;
      this.count--;
      this.stats.depth = this.count;
      this.stats.driftDrops++;
      this.excessWindows = 0;
    }
    this.windowTicks = 0;
    this.windowMinDepth = Infinity;
  }

  private conceal(out: Int16Array, info: { arrivalMs: number; silent: boolean }): PopKind {
    // The last frame mirrored in time: sample 0 continues from the last sample played.
    for (let i = 0; i < SAMPLES_PER_FRAME; i++) {
      const fade = (SAMPLES_PER_FRAME - i) / (SAMPLES_PER_FRAME + 1);
      out[i] = Math.round(this.last[SAMPLES_PER_FRAME - 1 - i]! * fade);
    }
    this.stats.concealed++;
    this.lastKind = 'concealed';
    info.silent = false;
    info.arrivalMs = NaN;
    return 'concealed';
  }

  private silence(out: Int16Array, info: { arrivalMs: number; silent: boolean }, counted: boolean): PopKind {
    out.fill(0);
    if (counted) this.lastKind = 'silence';
    info.silent = true;
    info.arrivalMs = NaN;
    return 'silence';
  }
}
