/**
 * Tells broadband noise (hiss, a fan, traffic, a car) from tonal sound (a held note, a test tone,
 * music, a sung vowel, hum), for the talk gate's noise floor: a steady noise may become
 * the floor and be gated; a steady tonal sound may not.
 *
 * The measure is a *local* spectral flatness: the power spectrum, averaged over several frames
 * (Welch), is divided by its own smoothed envelope (+/- ~190 Hz) and the flatness (geometric mean /
 * arithmetic mean) of that ratio is taken over 300-3400 Hz, the telephone band. Dividing by the
 * envelope makes coloured noise (pink, brown, a car's rumble) as flat as white noise, while
 * harmonics, partials and tones stand out as peaks whatever the spectrum's overall tilt. Averaged
 * noise reads about -0.2 dB; a tone, a chord or a vowel several dB lower.
 *
 * Each spectrum is a 512-point FFT of the last two frames (320 samples, Hann window): 15.6 Hz bins,
 * enough to resolve the harmonics of a low male voice (~85 Hz). Not on every frame: the talk
 * detector asks only while a line's quietest sound of the second is above the floor ceiling, a
 * few times a second. No allocation after construction.
 */
import { SAMPLE_RATE_HZ, SAMPLES_PER_FRAME } from './format.js';

const FFT_SIZE = 512;
const WINDOW = 2 * SAMPLES_PER_FRAME; // 320 samples, 40 ms
const BIN_HZ = SAMPLE_RATE_HZ / FFT_SIZE;
const LOW_BIN = Math.round(300 / BIN_HZ);
const HIGH_BIN = Math.round(3400 / BIN_HZ);
/** Half-width of the envelope's moving average, in bins (~190 Hz). */
const SMOOTH_BINS = 12;

/** Complex FFT size: the 512 real samples are packed two per complex value. */
const HALF = FFT_SIZE / 2;

export class TonalityMeter {
  private readonly re = new Float64Array(HALF);
  private readonly im = new Float64Array(HALF);
  private readonly power = new Float64Array(FFT_SIZE / 2 + 1);
  private readonly window = new Float64Array(WINDOW);
  /** Twiddles of the 256-point FFT, and of the split into the 512-point real spectrum. */
  private readonly cos = new Float64Array(HALF / 2);
  private readonly sin = new Float64Array(HALF / 2);
  private readonly splitCos = new Float64Array(HALF);
  private readonly splitSin = new Float64Array(HALF);
  private readonly reversed = new Uint16Array(HALF);
  /** The previous frame, so each spectrum spans two frames. */
  private readonly previous = new Int16Array(SAMPLES_PER_FRAME);
  private hasPrevious = false;
  /** Spectra summed since reset(). */
  spectra = 0;

  constructor() {
    for (let i = 0; i < WINDOW; i++) this.window[i] = 0.5 - 0.5 * Math.cos((2 * Math.PI * (i + 0.5)) / WINDOW);
    for (let i = 0; i < HALF / 2; i++) {
      this.cos[i] = Math.cos((2 * Math.PI * i) / HALF);
      this.sin[i] = -Math.sin((2 * Math.PI * i) / HALF);
    }
    for (let k = 0; k < HALF; k++) {
      this.splitCos[k] = Math.cos((2 * Math.PI * k) / FFT_SIZE);
      this.splitSin[k] = -Math.sin((2 * Math.PI * k) / FFT_SIZE);
    }
    const bits = Math.log2(HALF);
    for (let i = 0; i < HALF; i++) {
      let r = 0;
      for (let b = 0; b < bits; b++) r |= ((i >> b) & 1) << (bits - 1 - b);
      this.reversed[i] = r;
    }
  }

  /** Forgets the summed spectra (not the previous frame). */
  reset(): void {
    this.power.fill(0);
    this.spectra = 0;
  }

  /** Keeps `frame` as the previous frame without adding a spectrum (cheap: a copy). */
  remember(frame: Int16Array): void {
    this.previous.set(frame);
    this.hasPrevious = true;
  }

  /** Adds the spectrum of the previous frame and `frame` to the average, then remembers `frame`. */
  add(frame: Int16Array): void {
    if (!this.hasPrevious) {
      this.remember(frame);
      return;
    }
    const re = this.re;
    const im = this.im;
    const rev = this.reversed;
    const w = this.window;
    const prev = this.previous;
    const n = SAMPLES_PER_FRAME;
    re.fill(0);
    im.fill(0);
    // z[m] = x[2m] + i x[2m+1] (x: the windowed 320 samples, zero-padded to 512), bit-reversed.
    for (let m = 0; m < n; m++) {
      const i0 = 2 * m;
      const a = i0 < n ? prev[i0]! : frame[i0 - n]!;
      const b = i0 + 1 < n ? prev[i0 + 1]! : frame[i0 + 1 - n]!;
      const j = rev[m]!;
      re[j] = a * w[i0]!;
      im[j] = b * w[i0 + 1]!;
    }
    // Iterative radix-2 FFT of the 256 complex values.
    for (let size = 2; size <= HALF; size <<= 1) {
      const half = size >> 1;
      const step = HALF / size;
      for (let start = 0; start < HALF; start += size) {
        for (let k = 0, t = 0; k < half; k++, t += step) {
          const c = this.cos[t]!;
          const s = this.sin[t]!;
          const a = start + k;
          const b = a + half;
          const br = re[b]!;
          const bi = im[b]!;
          const tr = br * c - bi * s;
          const ti = br * s + bi * c;
          re[b] = re[a]! - tr;
          im[b] = im[a]! - ti;
          re[a]! += tr;
          im[a]! += ti;
        }
      }
    }
    // Split: X[k] = E[k] + W^k O[k], with E, O the spectra of the even and odd samples.
    const p = this.power;
    for (let k = 0; k <= HALF; k++) {
      const k1 = k & (HALF - 1);
      const k2 = (HALF - k) & (HALF - 1);
      const zr = re[k1]!;
      const zi = im[k1]!;
      const cr = re[k2]!;
      const ci = -im[k2]!;
      const er = (zr + cr) / 2;
      const ei = (zi + ci) / 2;
      // O[k] = (Z[k] - conj(Z[N/2-k])) / 2i
      const or = (zi - ci) / 2;
      const oi = -(zr - cr) / 2;
      const c = k < HALF ? this.splitCos[k]! : -1;
      const s = k < HALF ? this.splitSin[k]! : 0;
      const xr = er + or * c - oi * s;
      const xi = ei + or * s + oi * c;
      p[k]! += xr * xr + xi * xi;
    }
    this.spectra++;
    this.remember(frame);
  }

  /**
   * Local spectral flatness of the averaged spectrum, in dB (0: perfectly noise-like; lower:
   * tonal), or NaN before any spectrum or for silence.
   */
  flatnessDb(): number {
    if (this.spectra === 0) return NaN;
    const p = this.power;
    let logSum = 0;
    let sum = 0;
    let count = 0;
    // Running sum for the envelope: bins k-SMOOTH..k+SMOOTH.
    let window = 0;
    for (let j = LOW_BIN - SMOOTH_BINS; j <= LOW_BIN + SMOOTH_BINS; j++) window += p[j]!;
    const width = 2 * SMOOTH_BINS + 1;
    for (let k = LOW_BIN; k <= HIGH_BIN; k++) {
      if (k > LOW_BIN) window += p[k + SMOOTH_BINS]! - p[k - SMOOTH_BINS - 1]!;
      const envelope = window / width;
      if (envelope <= 0) continue;
      const ratio = Math.max(p[k]! / envelope, 1e-12);
      logSum += Math.log(ratio);
      sum += ratio;
      count++;
    }
    if (count === 0 || sum <= 0) return NaN;
    return 10 * Math.log10(Math.exp(logSum / count) / (sum / count));
  }
}
