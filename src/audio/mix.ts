/**
 * Mix-minus on 20 ms frames, as pure functions over typed arrays.
 *
 * The room's sum is accumulated in 32 bits (no saturation while adding), and each listener's
 * output is `sum - own`, clipped to 16 bits once at the very end. Because nothing is clipped
 * before the subtraction, a listener's own voice cancels exactly, however loud the room is
 * (the Asterisk failure mode, saturating at every addition, leaves a residue of yourself).
 * There is no divide-by-N: a lone talker is heard at unity gain.
 */

/** Adds `frame` into the 32-bit accumulator `sum`. */
export function accumulate(sum: Int32Array, frame: Int16Array): void {
  for (let i = 0; i < sum.length; i++) sum[i]! += frame[i]!;
}

/** `out = clip16(sum)`. */
export function clipSum(sum: Int32Array, out: Int16Array): void {
  for (let i = 0; i < sum.length; i++) {
    const v = sum[i]!;
    out[i] = v > 32767 ? 32767 : v < -32768 ? -32768 : v;
  }
}

/** `out = clip16(sum - own)`: everyone but the listener. */
export function mixMinus(sum: Int32Array, own: Int16Array, out: Int16Array): void {
  for (let i = 0; i < sum.length; i++) {
    const v = sum[i]! - own[i]!;
    out[i] = v > 32767 ? 32767 : v < -32768 ? -32768 : v;
  }
}

/** True when every sample is 0 (mu-law +0 and -0 both decode to 0). */
export function isSilent(frame: Int16Array): boolean {
  for (let i = 0; i < frame.length; i++) if (frame[i] !== 0) return false;
  return true;
}

/** `out = clip16(gain * (sum - own))`; `own` null for nothing to subtract. A listener's volume. */
export function mixMinusGain(sum: Int32Array, own: Int16Array | null, gain: number, out: Int16Array): void {
  for (let i = 0; i < sum.length; i++) {
    const v = Math.round((sum[i]! - (own === null ? 0 : own[i]!)) * gain);
    out[i] = v > 32767 ? 32767 : v < -32768 ? -32768 : v;
  }
}
