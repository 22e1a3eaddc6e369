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

/** RMS level of a float signal relative to full scale (dBFS). */
function rmsOf(x: Float64Array): number {
  let acc = 0;
  for (const v of x) acc += v * v;
  return Math.sqrt(acc / Math.max(1, x.length));
}

/** Scales `x` to an RMS level of `rmsDbfs` and rounds to 16 bits (saturating). */
export function atLevel(x: Float64Array, rmsDbfs: number): Int16Array {
  const g = (FULL_SCALE * 10 ** (rmsDbfs / 20)) / rmsOf(x);
  return Int16Array.from(x, (v) => Math.max(-32768, Math.min(32767, Math.round(v * g))));
}

/** Gaussian pseudo-random numbers (Box-Muller over mulberry32). */
function gaussian(seed: number): () => number {
  const rand = prng(seed);
  return () => Math.sqrt(-2 * Math.log(Math.max(1e-12, rand()))) * Math.cos(2 * Math.PI * rand());
}

/** RBJ biquad, 2nd-order Butterworth high-pass or low-pass at `cutoffHz`, in place. */
function biquad(x: Float64Array, kind: 'highpass' | 'lowpass', cutoffHz: number): Float64Array {
  const w = (2 * Math.PI * cutoffHz) / SAMPLE_RATE_HZ;
  const c = Math.cos(w);
  const alpha = Math.sin(w) / (2 * Math.SQRT1_2);
  const [b0, b1, b2] = kind === 'highpass' ? [(1 + c) / 2, -(1 + c), (1 + c) / 2] : [(1 - c) / 2, 1 - c, (1 - c) / 2];
  const a0 = 1 + alpha;
  const a1 = -2 * c;
  const a2 = 1 - alpha;
  let x1 = 0;
  let x2 = 0;
  let y1 = 0;
  let y2 = 0;
  for (let i = 0; i < x.length; i++) {
    const y = (b0 * x[i]! + b1 * x1 + b2 * x2 - a1 * y1 - a2 * y2) / a0;
    x2 = x1;
    x1 = x[i]!;
    y2 = y1;
    y1 = y;
    x[i] = y;
  }
  return x;
}

/** What a phone line passes: 100 Hz (4th order) to 3400 Hz. */
function phoneBand(x: Float64Array): Float64Array {
  return biquad(biquad(biquad(x, 'highpass', 100), 'highpass', 100), 'lowpass', 3400);
}

/** Pink noise (Paul Kellet's filter over Gaussian noise) through the phone band, at `rmsDbfs`. */
export function pinkNoise(samples: number, rmsDbfs: number, seed = 1): Int16Array {
  return atLevel(phoneBand(pinkRaw(samples, seed)), rmsDbfs);
}

function pinkRaw(samples: number, seed: number): Float64Array {
  const g = gaussian(seed);
  let b0 = 0,
    b1 = 0,
    b2 = 0,
    b3 = 0,
    b4 = 0,
    b5 = 0,
    b6 = 0;
  const out = new Float64Array(samples);
  for (let i = 0; i < samples; i++) {
    const w = g();
    b0 = 0.99886 * b0 + w * 0.0555179;
    b1 = 0.99332 * b1 + w * 0.0750759;
    b2 = 0.969 * b2 + w * 0.153852;
    b3 = 0.8665 * b3 + w * 0.3104856;
    b4 = 0.55 * b4 + w * 0.5329522;
    b5 = -0.7616 * b5 - w * 0.016898;
    out[i] = b0 + b1 + b2 + b3 + b4 + b5 + b6 + w * 0.5362;
    b6 = w * 0.115926;
  }
  return out;
}

/**
 * Car-like noise through the phone band, at `rmsDbfs`: a low rumble (brown-ish noise), road hiss,
 * and an engine's firing frequency (33 Hz) with harmonics, which the phone band mostly removes.
 */
export function carNoise(samples: number, rmsDbfs: number, seed = 1): Int16Array {
  const g = gaussian(seed);
  const out = new Float64Array(samples);
  let rumble = 0;
  let hiss = 0;
  for (let i = 0; i < samples; i++) {
    const w = g();
    rumble += 0.02 * (w - rumble);
    hiss += 0.1 * (w - hiss);
    const t = i / SAMPLE_RATE_HZ;
    out[i] =
      6 * rumble + 0.8 * hiss + 0.3 * Math.sin(2 * Math.PI * 33 * t) + 0.2 * Math.sin(2 * Math.PI * 66 * t + 1) + 0.1 * Math.sin(2 * Math.PI * 99 * t + 2);
  }
  return atLevel(phoneBand(out), rmsDbfs);
}

/** Street-like noise through the phone band, at `rmsDbfs`: pink noise whose loudness wanders (-4 to +3 dB every 0.5 s, smoothed) as traffic passes. */
export function streetNoise(samples: number, rmsDbfs: number, seed = 1): Int16Array {
  const pink = pinkRaw(samples, seed);
  const rand = prng(seed + 7);
  let envelope = 1;
  let target = 1;
  for (let i = 0; i < samples; i++) {
    if (i % 4000 === 0) target = 0.6 + 0.8 * rand();
    envelope += 0.0005 * (target - envelope);
    pink[i]! *= envelope;
  }
  return atLevel(phoneBand(pink), rmsDbfs);
}

/** Mains hum: 50 Hz and its harmonics (as a bad earth or a transformer puts on a line), at `rmsDbfs`. */
export function hum(samples: number, rmsDbfs: number): Int16Array {
  const out = new Float64Array(samples);
  for (let i = 0; i < samples; i++) {
    const t = i / SAMPLE_RATE_HZ;
    out[i] =
      Math.sin(2 * Math.PI * 50 * t) +
      0.6 * Math.sin(2 * Math.PI * 100 * t + 0.3) +
      0.4 * Math.sin(2 * Math.PI * 150 * t + 0.7) +
      0.2 * Math.sin(2 * Math.PI * 250 * t + 1.1) +
      0.1 * Math.sin(2 * Math.PI * 350 * t);
  }
  return atLevel(out, rmsDbfs);
}

/** A 16-bit PCM WAV at `rateHz` with `channels` identical channels of `frequencyHz` at `peakDbfs`. */
export function wav(rateHz: number, channels: number, frequencyHz: number, peakDbfs: number, durationMs: number): Uint8Array {
  const n = Math.round((rateHz * durationMs) / 1000);
  const amplitude = 32768 * 10 ** (peakDbfs / 20);
  const bytes = new Uint8Array(44 + n * channels * 2);
  const view = new DataView(bytes.buffer);
  const ascii = (at: number, s: string) => [...s].forEach((c, i) => view.setUint8(at + i, c.charCodeAt(0)));
  ascii(0, 'RIFF');
  view.setUint32(4, 36 + n * channels * 2, true);
  ascii(8, 'WAVE');
  ascii(12, 'fmt ');
  view.setUint32(16, 16, true);
  view.setUint16(20, 1, true);
  view.setUint16(22, channels, true);
  view.setUint32(24, rateHz, true);
  view.setUint32(28, rateHz * channels * 2, true);
  view.setUint16(32, channels * 2, true);
  view.setUint16(34, 16, true);
  ascii(36, 'data');
  view.setUint32(40, n * channels * 2, true);
  for (let i = 0; i < n; i++) {
    // 5 ms fades: no click at either end.
    const fade = Math.min(1, i / (rateHz / 200), (n - 1 - i) / (rateHz / 200));
    const v = Math.round(amplitude * fade * Math.sin((2 * Math.PI * frequencyHz * i) / rateHz));
    for (let c = 0; c < channels; c++) view.setInt16(44 + (i * channels + c) * 2, v, true);
  }
  return bytes;
}
