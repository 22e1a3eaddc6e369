/**
 * Streaming 2:1 sample-rate conversion between 16 kHz and the mixer's 8 kHz, one 20 ms frame at a
 * time, for programs that speak 16 kHz PCM (media/pcmStream.ts). Unlike resample.ts (whole files)
 * these keep their filter history between frames, so consecutive frames join without a seam, and
 * allocate nothing per frame.
 *
 * One linear-phase low-pass FIR (63 taps, Hamming window, cut-off 3.7 kHz at 16 kHz): flat within
 * 0.1 dB to 3.3 kHz (the telephone band), at least 50 dB down from 4.3 kHz, so what would fold
 * around 4 kHz when decimating (and the images when interpolating) is removed. Delay: 31 samples
 * at 16 kHz (~1.9 ms) each way.
 */
import { clip16 } from './format.js';

const TAPS = 63;
const CUTOFF = 3700 / 16_000; // cycles per 16 kHz sample

/** The filter's taps, normalised to a DC gain of exactly 1. */
const H: Float64Array = (() => {
  const h = new Float64Array(TAPS);
  const mid = (TAPS - 1) / 2;
  let sum = 0;
  for (let i = 0; i < TAPS; i++) {
    const t = i - mid;
    const sinc = t === 0 ? 2 * CUTOFF : Math.sin(2 * Math.PI * CUTOFF * t) / (Math.PI * t);
    h[i] = sinc * (0.54 - 0.46 * Math.cos((2 * Math.PI * i) / (TAPS - 1)));
    sum += h[i]!;
  }
  for (let i = 0; i < TAPS; i++) h[i]! /= sum;
  return h;
})();

/** 16 kHz in, 8 kHz out: low-pass, then every other sample. */
export class Decimator2 {
  /** The last TAPS - 1 inputs, then the frame being converted. */
  private readonly work: Float64Array;

  /** `maxInput`: the longest frame given to process() (16 kHz samples, even). */
  constructor(private readonly maxInput: number) {
    this.work = new Float64Array(TAPS - 1 + maxInput);
  }

  /** `input` (16 kHz, an even length up to maxInput) into `out` (8 kHz, half as long). */
  process(input: Int16Array, out: Int16Array): void {
    const n = input.length;
    if (n % 2 !== 0 || n > this.maxInput || out.length < n / 2) throw new RangeError('Decimator2: an even length up to maxInput, out half as long');
    const w = this.work;
    for (let i = 0; i < n; i++) w[TAPS - 1 + i] = input[i]!;
    for (let o = 0; o < n / 2; o++) {
      // Output o is centred on input 2o + 1 - (TAPS - 1) / 2 ... : a causal FIR over w.
      const base = 2 * o + 1;
      let acc = 0;
      for (let k = 0; k < TAPS; k++) acc += H[k]! * w[base + k]!;
      out[o] = clip16(Math.round(acc));
    }
    w.copyWithin(0, n, n + TAPS - 1);
  }
}

/** 8 kHz in, 16 kHz out: a zero between every two samples, then the low-pass (gain 2). */
export class Interpolator2 {
  /** The last HALF inputs, then the frame being converted. */
  private readonly work: Float64Array;
  private static readonly HALF = (TAPS + 1) / 2; // inputs under the filter at once

  /** `maxInput`: the longest frame given to process() (8 kHz samples). */
  constructor(private readonly maxInput: number) {
    this.work = new Float64Array(Interpolator2.HALF + maxInput);
  }

  /** `input` (8 kHz, up to maxInput) into `out` (16 kHz, twice as long). */
  process(input: Int16Array, out: Int16Array): void {
    const n = input.length;
    const half = Interpolator2.HALF;
    if (n > this.maxInput || out.length < 2 * n) throw new RangeError('Interpolator2: up to maxInput, out twice as long');
    const w = this.work;
    for (let i = 0; i < n; i++) w[half + i] = input[i]!;
    for (let m = 0; m < n; m++) {
      // Polyphase: the even outputs use the even taps, the odd ones the odd taps.
      let even = 0;
      let odd = 0;
      for (let j = 0; j < half; j++) {
        const x = w[m + half - j]!;
        even += H[2 * j]! * x;
        if (2 * j + 1 < TAPS) odd += H[2 * j + 1]! * x;
      }
      out[2 * m] = clip16(Math.round(2 * even));
      out[2 * m + 1] = clip16(Math.round(2 * odd));
    }
    w.copyWithin(0, n, n + half);
  }
}
