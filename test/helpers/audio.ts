/** Signals for tests: tones and noise as 8 kHz 16-bit PCM, and mu-law conversions. */
import { FULL_SCALE, SAMPLE_RATE_HZ } from '../../src/audio/format.js';
import { decodeMulaw, encodeMulaw } from '../../src/audio/mulaw.js';

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

export function toMulaw(pcm: Int16Array): Uint8Array {
  const out = new Uint8Array(pcm.length);
  encodeMulaw(pcm, out);
  return out;
}

export function fromMulaw(mulaw: Uint8Array): Int16Array {
  const out = new Int16Array(mulaw.length);
  decodeMulaw(mulaw, out);
  return out;
}
