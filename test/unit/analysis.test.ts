/**
 * Audio measurements (src/audio/analysis.ts), against closed forms: a sine of amplitude A has RMS
 * A/sqrt(2) (-3.0103 dB below its peak); a whole number of periods of a tone at another DFT bin is
 * orthogonal to it; a shifted copy correlates at exactly 1; a known linear mix has known
 * least-squares gains.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { bestFrameLag, dB, estimateGains, peakDbfs, percentile, rmsDbfs, toneDbfs } from '../../src/audio/analysis.js';
import { prng } from '../helpers/audio.js';

const FULL_SCALE = 32768;
const RATE = 8000;
const FRAME = 160; // 20 ms at 8 kHz
const SINE_RMS_DB = 20 * Math.log10(1 / Math.SQRT2); // -3.0103

function sineF(frequencyHz: number, amplitude: number, n: number, phase = 0): Float64Array {
  return Float64Array.from({ length: n }, (_, i) => amplitude * Math.sin((2 * Math.PI * frequencyHz * i) / RATE + phase));
}

function noise(seed: number, n: number, amplitude: number): Int16Array {
  const random = prng(seed);
  return Int16Array.from({ length: n }, () => Math.round((random() * 2 - 1) * amplitude));
}

function close(actual: number, expected: number, tolerance: number, what: string): void {
  assert.ok(Math.abs(actual - expected) <= tolerance, `${what}: ${actual}, expected ${expected} +/- ${tolerance}`);
}

describe('levels', () => {
  test('dB of amplitude ratios', () => {
    close(dB(10), 20, 1e-12, 'x10');
    close(dB(0.5), -6.0206, 1e-4, 'x0.5');
    assert.equal(dB(1), 0);
    assert.equal(dB(0), -Infinity);
  });

  test('rmsDbfs of a full-scale sine is -3.01 dB, of a -20 dBFS-peak sine -23.01 dB', () => {
    // 1 s of 1 kHz at 8 kHz: 1000 whole periods, so the mean of sin^2 is exactly 1/2.
    close(rmsDbfs(sineF(1000, FULL_SCALE, RATE, 0.4)), SINE_RMS_DB, 1e-6, 'full scale');
    const minus20 = FULL_SCALE * 10 ** (-20 / 20);
    close(rmsDbfs(sineF(1000, minus20, RATE, 0.4)), -20 + SINE_RMS_DB, 1e-6, '-20 dBFS peak');
    // As Int16 (amplitude 32767 and rounding), still -3.01 to within 0.01 dB.
    const int16 = Int16Array.from(sineF(440, 32767, RATE));
    close(rmsDbfs(int16), SINE_RMS_DB, 0.01, 'Int16 near full scale');
  });

  test('rmsDbfs: full-scale square wave is 0 dBFS; silence -Infinity; start/end select a span', () => {
    const square = Float64Array.from({ length: 800 }, (_, i) => (i % 40 < 20 ? FULL_SCALE : -FULL_SCALE));
    close(rmsDbfs(square), 0, 1e-12, 'square');
    assert.equal(rmsDbfs(new Int16Array(100)), -Infinity);
    // First half loud, second half silent.
    const half = new Float64Array(1600);
    half.fill(FULL_SCALE / 10, 0, 800);
    close(rmsDbfs(half, 0, 800), -20, 1e-9, 'loud half');
    assert.equal(rmsDbfs(half, 800, 1600), -Infinity);
    close(rmsDbfs(half), -20 + 20 * Math.log10(Math.SQRT1_2), 1e-9, 'whole: half the power');
  });

  test('peakDbfs', () => {
    close(peakDbfs(Int16Array.of(0, -16384, 100, 8000)), 20 * Math.log10(0.5), 1e-9, 'negative peak');
    close(peakDbfs(Int16Array.of(-32768)), 0, 1e-12, 'full scale');
    close(peakDbfs(sineF(1000, FULL_SCALE / 100, RATE, Math.PI / 2)), -40, 1e-9, 'sine sampled at its crest');
    assert.equal(peakDbfs(new Int16Array(10)), -Infinity);
  });
});

describe('toneDbfs', () => {
  test("reads a sine's RMS level within 0.1 dB, at bin and off-bin frequencies, any phase", () => {
    const random = prng(3);
    for (const f of [300, 440, 1000, 1234.5, 3000, 3333.3]) {
      for (const peakDb of [-3, -20, -45]) {
        const amplitude = FULL_SCALE * 10 ** (peakDb / 20);
        const samples = sineF(f, amplitude, RATE, random() * 2 * Math.PI);
        close(toneDbfs(samples, f, RATE), peakDb + SINE_RMS_DB, 0.1, `${f} Hz at ${peakDb} dBFS peak`);
      }
    }
  });

  test('reads within a span (start/end) and on Int16 input', () => {
    const amplitude = 3000;
    const samples = new Int16Array(3 * RATE);
    samples.set(Int16Array.from(sineF(1000, amplitude, RATE)), RATE); // tone only in the middle second
    close(toneDbfs(samples, 1000, RATE, RATE, 2 * RATE), dB(amplitude / Math.SQRT2 / FULL_SCALE), 0.1, 'middle second');
    assert.ok(toneDbfs(samples, 1000, RATE, 0, RATE) < -100, 'silent first second');
  });

  test('rejects a tone at another frequency by more than 40 dB over 1 s', () => {
    const amplitude = FULL_SCALE / 2;
    const level = dB(amplitude / Math.SQRT2 / FULL_SCALE);
    for (const [present, probe] of [
      [1000, 440],
      [440, 1000],
      [1000, 1100],
      [1000, 1234.5],
      [3000, 2000],
    ] as const) {
      const samples = sineF(present, amplitude, RATE, 0.9);
      const read = toneDbfs(samples, probe, RATE);
      assert.ok(level - read > 40, `${present} Hz read at ${probe} Hz: only ${(level - read).toFixed(1)} dB down`);
    }
  });

  test('two tones are measured separately', () => {
    const a = sineF(440, 10000, RATE, 0.1);
    const b = sineF(1000, 1000, RATE, 2.0);
    const both = a.map((x, i) => x + b[i]!);
    close(toneDbfs(both, 440, RATE), dB(10000 / Math.SQRT2 / FULL_SCALE), 0.1, '440 Hz');
    close(toneDbfs(both, 1000, RATE), dB(1000 / Math.SQRT2 / FULL_SCALE), 0.1, '1000 Hz');
  });
});

describe('bestFrameLag', () => {
  /** received[t] = source[t - lagFrames * 160], zero where there is no source. */
  function shifted(source: Int16Array, lagFrames: number, length: number): Int16Array {
    const out = new Int16Array(length);
    const shift = lagFrames * FRAME;
    for (let t = 0; t < length; t++) {
      const s = t - shift;
      if (s >= 0 && s < source.length) out[t] = source[s]!;
    }
    return out;
  }

  test('finds a known positive or negative whole-frame shift of noise, with correlation ~1', () => {
    const source = noise(11, 2 * RATE, 8000);
    for (const lag of [0, 1, 3, 7, 25, -1, -4, -25]) {
      const received = shifted(source, lag, source.length);
      const found = bestFrameLag(source, received, -30, 30);
      assert.equal(found.lagFrames, lag, `lag ${lag}`);
      close(found.correlation, 1, 1e-9, `correlation at lag ${lag}`);
    }
  });

  test('finds the lag under added independent noise, with correlation well below 1', () => {
    const source = noise(12, 2 * RATE, 8000);
    const other = noise(13, 2 * RATE, 8000);
    const received = shifted(source, 5, source.length).map((x, i) => x + other[i]!);
    const found = bestFrameLag(source, received, -10, 10);
    assert.equal(found.lagFrames, 5);
    // Equal powers: correlation 1/sqrt(2).
    close(found.correlation, Math.SQRT1_2, 0.05, 'correlation of signal + equal noise');
  });

  test('unrelated noise correlates near 0 at every lag', () => {
    const found = bestFrameLag(noise(14, RATE, 8000), noise(15, RATE, 8000), -5, 5);
    assert.ok(Math.abs(found.correlation) < 0.1, `correlation ${found.correlation}`);
    assert.ok(found.lagFrames >= -5 && found.lagFrames <= 5);
  });
});

describe('estimateGains', () => {
  test('recovers 1.0, 0.5 and 0 for sources at different lags', () => {
    const n = 2 * RATE;
    const a = noise(21, n, 8000);
    const b = noise(22, n, 8000);
    const c = noise(23, n, 8000);
    const lags = [0, 3 * FRAME, 7 * FRAME];
    const received = new Int16Array(n + 8 * FRAME);
    for (let t = 0; t < received.length; t++) {
      const at = (s: Int16Array, lag: number) => (t - lag >= 0 && t - lag < s.length ? s[t - lag]! : 0);
      received[t] = Math.round(1.0 * at(a, lags[0]!) + 0.5 * at(b, lags[1]!) + 0 * at(c, lags[2]!));
    }
    const [ga, gb, gc] = estimateGains(received, [a, b, c], lags);
    close(ga!, 1.0, 1e-3, 'gain of a');
    close(gb!, 0.5, 1e-3, 'gain of b');
    close(gc!, 0, 1e-3, 'gain of c (absent)');
  });

  test('a source not in the signal at all gets ~0; a negated source gets -1', () => {
    const n = RATE;
    const a = noise(31, n, 10000);
    const absent = noise(32, n, 10000);
    const received = Int16Array.from(a, (x) => -x);
    const [ga, gAbsent] = estimateGains(received, [a, absent], [0, 0]);
    close(ga!, -1, 1e-3, 'negated');
    close(gAbsent!, 0, 1e-3, 'absent');
  });

  test('a single source at gain 0.25 with a lag, others accounted for jointly', () => {
    const n = RATE;
    const a = noise(41, n, 12000);
    const b = Int16Array.from(a, (x, i) => Math.round(x * 0.3 + (i % 7) * 100)); // correlated with a
    const lagA = 2 * FRAME;
    const received = new Int16Array(n + lagA);
    for (let t = 0; t < received.length; t++) {
      const fromA = t - lagA >= 0 && t - lagA < n ? a[t - lagA]! : 0;
      const fromB = t < n ? b[t]! : 0;
      received[t] = Math.round(0.25 * fromA + 1.0 * fromB);
    }
    const [ga, gb] = estimateGains(received, [a, b], [lagA, 0]);
    close(ga!, 0.25, 1e-3, 'gain of a');
    close(gb!, 1.0, 1e-3, 'gain of b');
  });
});

describe('percentile (nearest rank)', () => {
  test('basic cases', () => {
    const one2ten = [10, 1, 9, 2, 8, 3, 7, 4, 6, 5];
    assert.equal(percentile(one2ten, 0.5), 5);
    assert.equal(percentile(one2ten, 0.9), 9);
    assert.equal(percentile(one2ten, 0.95), 10);
    assert.equal(percentile(one2ten, 1), 10);
    assert.equal(percentile(one2ten, 0), 1);
    assert.equal(percentile(one2ten, 0.1), 1);
    assert.equal(percentile(one2ten, 0.11), 2);
    assert.equal(percentile([42], 0.5), 42);
    assert.ok(Number.isNaN(percentile([], 0.5)));
  });

  test('sorts numerically (negatives, multi-digit) and does not modify its input', () => {
    const values = [100, -5, 20, 3, -40];
    assert.equal(percentile(values, 0.2), -40);
    assert.equal(percentile(values, 0.4), -5);
    assert.equal(percentile(values, 0.6), 3);
    assert.equal(percentile(values, 0.8), 20);
    assert.equal(percentile(values, 1), 100);
    assert.deepEqual(values, [100, -5, 20, 3, -40]);
    assert.equal(percentile(Float64Array.of(0.5, 0.25, 0.75), 0.5), 0.5);
  });
});
