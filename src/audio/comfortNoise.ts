/**
 * Comfort noise, off by default: a faint, soft hiss added to what listeners hear while nobody in
 * the room talks, so a gated, silent line does not sound dead. White noise through a one-pole
 * low-pass (a gentler, pinker spectrum), at an RMS level in dBFS. Deterministic (seeded).
 */
import { clip16, FULL_SCALE } from './format.js';
export class ComfortNoise {
  private state: number;
  private lowpass = 0;
  private readonly scale: number;

  constructor(levelDbfs: number, seed = 0x9e3779b9) {
    this.state = seed >>> 0 || 1;
    // Uniform noise in [-1, 1) has RMS 1/sqrt(3); the low-pass (a = 0.5) keeps 1/sqrt(3) of that.
    this.scale = FULL_SCALE * 10 ** (levelDbfs / 20) * Math.sqrt(3) * Math.sqrt(3);
  }

  /** Adds this frame's noise into `out` (saturating). */
  addTo(out: Int16Array): void {
    for (let i = 0; i < out.length; i++) {
      // xorshift32
      let x = this.state;
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      this.state = x >>> 0;
      const white = this.state / 2147483648 - 1;
      this.lowpass += 0.5 * (white - this.lowpass);
      const v = out[i]! + Math.round(this.lowpass * this.scale);
      out[i] = clip16(v);
    }
  }
}
