/**
 * Mix-minus on 20 ms frames, as pure functions over typed arrays.
 *
 * The room's sum is accumulated in 32 bits (no saturation while adding), and each listener's
 * output is `sum - own`, clipped to 16 bits once at the very end. Because nothing is clipped
 * before the subtraction, a listener's own voice cancels exactly, however loud the room is
 * (the Asterisk failure mode, saturating at every addition, leaves a residue of yourself).
 * There is no divide-by-N: a lone talker is heard at unity gain.
 */
import { clip16 } from './format.js';

/** Adds `frame` into the 32-bit accumulator `sum`. */
export function accumulate(sum: Int32Array, frame: Int16Array): void {
  for (let i = 0; i < sum.length; i++) sum[i]! += frame[i]!;
}

/** Peak and energy (sum of squares) of the frames added by accumulateMeasured. */
export interface FrameMeasure {
  peak: number;
  energy: number;
}

/** accumulate(), also adding the frame's peak and energy into `measure` (one pass). */
export function accumulateMeasured(sum: Int32Array, frame: Int16Array | Int32Array, measure: FrameMeasure): void {
  let peak = 0;
  let energy = 0;
  for (let i = 0; i < sum.length; i++) {
    const v = frame[i]!;
    sum[i]! += v;
    const a = v < 0 ? -v : v;
    if (a > peak) peak = a;
    energy += v * v;
  }
  measure.peak += peak;
  measure.energy += energy;
}

/** Adds the frame's peak and energy into `measure`, without mixing it (a coach's whisper, for the limiter). */
export function measureFrame(frame: Int16Array, measure: FrameMeasure): void {
  let peak = 0;
  let energy = 0;
  for (let i = 0; i < frame.length; i++) {
    const v = frame[i]!;
    const a = v < 0 ? -v : v;
    if (a > peak) peak = a;
    energy += v * v;
  }
  measure.peak += peak;
  measure.energy += energy;
}

/** `out = clip16(sum)`. */
export function clipSum(sum: Int32Array, out: Int16Array): void {
  for (let i = 0; i < sum.length; i++) {
    const v = sum[i]!;
    out[i] = clip16(v);
  }
}

/** `out = clip16(sum - own)`: everyone but the listener. */
export function mixMinus(sum: Int32Array, own: Int16Array, out: Int16Array): void {
  for (let i = 0; i < sum.length; i++) {
    const v = sum[i]! - own[i]!;
    out[i] = clip16(v);
  }
}

/** True when every sample is 0 (mu-law +0 and -0 both decode to 0). */
export function isSilent(frame: Int16Array): boolean {
  for (let i = 0; i < frame.length; i++) if (frame[i] !== 0) return false;
  return true;
}

/**
 * The mixer's output stage: `out = clip16(volume * g * (sum - own))`, with `own` null for nothing
 * to subtract and `gains` null for the limiter at unity. With both at unity it is exact integer
 * arithmetic (the common case: nobody near full scale, normal volume).
 */
export function mixDown(sum: Int32Array, own: Int16Array | null, gains: Float32Array | null, volume: number, out: Int16Array): void {
  if (gains === null && volume === 1) {
    if (own === null) clipSum(sum, out);
    else mixMinus(sum, own, out);
    return;
  }
  for (let i = 0; i < sum.length; i++) {
    const g = (gains === null ? 1 : gains[i]!) * volume;
    const v = Math.round((sum[i]! - (own === null ? 0 : own[i]!)) * g);
    out[i] = clip16(v);
  }
}
