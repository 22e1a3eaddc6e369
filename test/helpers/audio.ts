/** Signals for tests: tones and noise as 8 kHz 16-bit PCM, and mu-law conversions. */
import { FULL_SCALE, SAMPLE_RATE_HZ } from '../../src/audio/format.js';

/** A sine of `frequencyHz` whose peak is `peakDbfs` relative to full scale. */
export function tone(frequencyHz: number, peakDbfs: number, durationMs: number, phase = 0): Int16Array {
  const n = Math.round((durationMs / 1000) * SAMPLE_RATE_HZ);
  const amplitude = FULL_SCALE * 10 ** (peakDbfs / 20);
  const out = new Int16Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.round(amplitude * Math.sin(phase + (2 * Math.PI * frequencyHz * i) / SAMPLE_RATE_HZ));
  return out;
}

/** Deterministic pseudo-random numbers (mulberry32). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Uniform white noise with peak `peak` (linear). */
export function noise(samples: number, peak: number, seed = 1): Int16Array {
  const rand = prng(seed);
  return Int16Array.from({ length: samples }, () => Math.round((rand() * 2 - 1) * peak));
}

export { fromMulaw, toMulaw } from '../../src/audio/mulaw.js';

/**
 * Speech-like test signal: bursts of noise 150-500 ms long ("syllables") separated by 60-250 ms
 * of silence, peak `peakDbfs`. Unlike a steady tone or steady noise (which the talk detector
 * rightly takes for background after ~5 s), it keeps a talker talking for as long as it lasts.
 */
export function speechLike(durationMs: number, peakDbfs: number, seed = 1): Int16Array {
  const rand = prng(seed);
  const n = Math.round((durationMs / 1000) * SAMPLE_RATE_HZ);
  const out = new Int16Array(n);
  const peak = FULL_SCALE * 10 ** (peakDbfs / 20);
  let i = 0;
  while (i < n) {
    const burst = Math.round((0.15 + rand() * 0.35) * SAMPLE_RATE_HZ);
    for (let k = 0; k < burst && i < n; k++, i++) out[i] = Math.round((rand() * 2 - 1) * peak);
    i += Math.round((0.06 + rand() * 0.19) * SAMPLE_RATE_HZ);
  }
  return out;
}
