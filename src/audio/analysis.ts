/**
 * Measurements on audio: levels, tones, alignment and the gain of one signal inside another.
 * Used by the call simulator's report and by the tests that judge what callers hear.
 * Not on the 20 ms path.
 */
import { FULL_SCALE, SAMPLES_PER_FRAME } from './format.js';

/** Decibels of an amplitude ratio; -Infinity for 0. */
export function dB(ratio: number): number {
  return 20 * Math.log10(ratio);
}

/** RMS level relative to full scale (a full-scale square wave is 0 dBFS, a full-scale sine -3). */
export function rmsDbfs(samples: ArrayLike<number>, start = 0, end = samples.length): number {
  let acc = 0;
  for (let i = start; i < end; i++) acc += samples[i]! * samples[i]!;
  const n = Math.max(1, end - start);
  return dB(Math.sqrt(acc / n) / FULL_SCALE);
}

/** Peak level relative to full scale. */
export function peakDbfs(samples: ArrayLike<number>): number {
  let peak = 0;
  for (let i = 0; i < samples.length; i++) peak = Math.max(peak, Math.abs(samples[i]!));
  return dB(peak / FULL_SCALE);
}

/**
 * RMS level (dBFS) of the component of `samples` at `frequencyHz`, by the Goertzel algorithm over
 * the whole span. A sine of amplitude A reads 20*log10(A/sqrt(2)/32768), the same as its rmsDbfs,
 * and is nearly blind to tones at other frequencies (use spans of many periods).
 */
export function toneDbfs(samples: ArrayLike<number>, frequencyHz: number, sampleRateHz: number, start = 0, end = samples.length): number {
  const n = end - start;
  const w = (2 * Math.PI * frequencyHz) / sampleRateHz;
  const coeff = 2 * Math.cos(w);
  let s1 = 0;
  let s2 = 0;
  for (let i = start; i < end; i++) {
    const s0 = samples[i]! + coeff * s1 - s2;
    s2 = s1;
    s1 = s0;
  }
  const power = s1 * s1 + s2 * s2 - coeff * s1 * s2; // |X(k)|^2
  const amplitude = (2 * Math.sqrt(Math.max(0, power))) / n;
  return dB(amplitude / Math.SQRT2 / FULL_SCALE);
}

function dot(a: ArrayLike<number>, aStart: number, b: ArrayLike<number>, bStart: number, n: number): number {
  let acc = 0;
  for (let i = 0; i < n; i++) acc += a[aStart + i]! * b[bStart + i]!;
  return acc;
}

/**
 * The whole-frame delay at which `source` best matches `received` (received[t] ~ source[t - lag]),
 * searching lags minLagFrames..maxLagFrames (negative: the received recording started later), by
 * normalised cross-correlation. The server mixes whole 20 ms frames, so the true lag is a whole
 * number of frames. Returns the lag and its correlation (-1..1).
 */
export function bestFrameLag(source: Int16Array, received: Int16Array, minLagFrames: number, maxLagFrames: number): { lagFrames: number; correlation: number } {
  let best = { lagFrames: minLagFrames, correlation: -Infinity };
  for (let lag = minLagFrames; lag <= maxLagFrames; lag++) {
    const shift = lag * SAMPLES_PER_FRAME;
    // received[t] pairs with source[t - shift] for t in [max(0, shift), min(received, source + shift)).
    const t0 = Math.max(0, shift);
    const t1 = Math.min(received.length, source.length + shift);
    const n = t1 - t0;
    if (n <= SAMPLES_PER_FRAME) continue;
    const num = dot(source, t0 - shift, received, t0, n);
    const den = Math.sqrt(dot(source, t0 - shift, source, t0 - shift, n) * dot(received, t0, received, t0, n));
    const correlation = den > 0 ? num / den : 0;
    if (correlation > best.correlation) best = { lagFrames: lag, correlation };
  }
  return best;
}

/**
 * Least-squares gains g of `received[t] ~ sum_j g_j * sources[j][t - lags[j]]`, jointly, so each
 * source's gain is measured with the others accounted for. A gain of 1 means heard at 0 dB; a
 * cancelled source comes out near 0. Only samples where every shifted source exists are used.
 */
export function estimateGains(received: Int16Array, sources: Int16Array[], lagsSamples: number[]): number[] {
  const k = sources.length;
  let start = 0;
  let end = received.length;
  for (let j = 0; j < k; j++) {
    start = Math.max(start, lagsSamples[j]!);
    end = Math.min(end, sources[j]!.length + lagsSamples[j]!);
  }
  const ata = Array.from({ length: k }, () => new Float64Array(k));
  const atb = new Float64Array(k);
  for (let t = start; t < end; t++) {
    const y = received[t]!;
    for (let a = 0; a < k; a++) {
      const xa = sources[a]![t - lagsSamples[a]!]!;
      atb[a]! += xa * y;
      for (let b = a; b < k; b++) ata[a]![b]! += xa * sources[b]![t - lagsSamples[b]!]!;
    }
  }
  for (let a = 0; a < k; a++) for (let b = 0; b < a; b++) ata[a]![b] = ata[b]![a]!;
  return solve(ata, atb);
}

/** Gaussian elimination with partial pivoting; singular columns give 0. */
function solve(m: Float64Array[], v: Float64Array): number[] {
  const n = v.length;
  const a = m.map((row, i) => [...row, v[i]!]);
  for (let col = 0; col < n; col++) {
    let pivot = col;
    for (let r = col + 1; r < n; r++) if (Math.abs(a[r]![col]!) > Math.abs(a[pivot]![col]!)) pivot = r;
    [a[col], a[pivot]] = [a[pivot]!, a[col]!];
    const p = a[col]![col]!;
    if (Math.abs(p) < 1e-9) continue;
    for (let r = 0; r < n; r++) {
      if (r === col) continue;
      const f = a[r]![col]! / p;
      for (let c = col; c <= n; c++) a[r]![c]! -= f * a[col]![c]!;
    }
  }
  return a.map((row, i) => (Math.abs(row[i]!) < 1e-9 ? 0 : row[n]! / row[i]!));
}

/** The value below which `fraction` of `values` lie (nearest rank); NaN for none. */
export function percentile(values: ArrayLike<number>, fraction: number): number {
  if (values.length === 0) return NaN;
  const sorted = Float64Array.from(values).sort();
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(fraction * sorted.length) - 1));
  return sorted[rank]!;
}

export interface SegmentMatch {
  /** First sample of the segment in the source. */
  sourceStart: number;
  lagFrames: number;
  correlation: number;
  /** Level of the matched stretch of `received` relative to the source segment (dB). */
  levelDb: number;
}

/**
 * Follows `source` through `received` segment by segment: each segment of `segmentFrames` frames
 * that has energy (RMS above `minDbfs`) is matched at its own best whole-frame lag within
 * +/- searchFrames of `approxLagFrames`. A live mixer may slip a frame now and then (a late tick,
 * an input frame dropped to cut delay), which moves the alignment; per-segment matching measures
 * the level and clarity of what was heard regardless.
 */
export function followSource(
  source: Int16Array,
  received: Int16Array,
  approxLagFrames: number,
  options: { segmentFrames?: number; searchFrames?: number; minDbfs?: number } = {},
): SegmentMatch[] {
  const segment = (options.segmentFrames ?? 25) * SAMPLES_PER_FRAME;
  const search = options.searchFrames ?? 5;
  const minDbfs = options.minDbfs ?? -45;
  const matches: SegmentMatch[] = [];
  for (let start = 0; start + segment <= source.length; start += segment) {
    if (rmsDbfs(source, start, start + segment) < minDbfs) continue;
    const piece = source.subarray(start, start + segment);
    const offsetFrames = start / SAMPLES_PER_FRAME;
    const { lagFrames, correlation } = bestFrameLag(piece, received, approxLagFrames + offsetFrames - search, approxLagFrames + offsetFrames + search);
    const at = lagFrames * SAMPLES_PER_FRAME;
    if (at < 0 || at + segment > received.length) continue;
    matches.push({
      sourceStart: start,
      lagFrames: lagFrames - offsetFrames,
      correlation,
      levelDb: rmsDbfs(received, at, at + segment) - rmsDbfs(piece),
    });
  }
  return matches;
}
