/**
 * Sample-rate conversion for audio brought into the product (WAV files given to the simulator).
 * Not on the 20 ms path: the mixer only ever sees 8 kHz.
 *
 * A windowed-sinc interpolator (Blackman window, 32 zero crossings each side) whose cut-off is
 * placed at 0.45 of the lower of the two rates, so downsampling 16/22.05/44.1/48 kHz speech to
 * 8 kHz does not fold energy above 4 kHz back into the band.
 */
import { clip16 } from './format.js';

const HALF_TAPS = 32;

export function resample(samples: Int16Array, fromHz: number, toHz: number): Int16Array {
  if (fromHz === toHz) return samples.slice();
  const out = new Int16Array(resampledLength(samples.length, fromHz, toHz));
  resampleInto(samples, fromHz, toHz, out, 0, out.length);
  return out;
}

/** How many samples resample() makes of `length` samples. */
export function resampledLength(length: number, fromHz: number, toHz: number): number {
  return fromHz === toHz ? length : Math.floor(length * (toHz / fromHz));
}

/** Output samples `start` to `end` (exclusive) of resample(samples, fromHz, toHz), into `out`. */
export function resampleInto(samples: Int16Array, fromHz: number, toHz: number, out: Int16Array, start: number, end: number): void {
  if (fromHz === toHz) {
    out.set(samples.subarray(start, end), start);
    return;
  }
  const ratio = toHz / fromHz;
  // Normalised cut-off (cycles per input sample).
  const cutoff = (0.45 * Math.min(fromHz, toHz)) / fromHz;
  const halfWidth = HALF_TAPS / (2 * cutoff); // input samples each side of the centre
  for (let n = start; n < end; n++) {
    const centre = n / ratio;
    const first = Math.max(0, Math.ceil(centre - halfWidth));
    const last = Math.min(samples.length - 1, Math.floor(centre + halfWidth));
    let acc = 0;
    let weightSum = 0;
    for (let k = first; k <= last; k++) {
      const t = k - centre;
      const x = 2 * cutoff * t;
      const sinc = x === 0 ? 1 : Math.sin(Math.PI * x) / (Math.PI * x);
      const w = 0.42 + 0.5 * Math.cos((Math.PI * t) / halfWidth) + 0.08 * Math.cos((2 * Math.PI * t) / halfWidth);
      const weight = 2 * cutoff * sinc * w;
      acc += samples[k]! * weight;
      weightSum += weight;
    }
    // Normalising by the weights' sum keeps DC gain exactly 1, also near the edges.
    const value = weightSum > 0 ? acc / weightSum : 0;
    out[n] = clip16(Math.round(value));
  }
}
