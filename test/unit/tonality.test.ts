/**
 * Issue 14: the talk gate's noise floor may rise above its ceiling only under broadband noise. The
 * tonality measure behind that, on the signals the gate meets.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SAMPLE_RATE_HZ, SAMPLES_PER_FRAME } from '../../src/audio/format.js';
import { TonalityMeter } from '../../src/audio/tonality.js';
import { parseWav } from '../../src/audio/wav.js';
import { carNoise, hum, noise, pinkNoise, streetNoise, tone } from '../helpers/audio.js';

const FS = SAMPLE_RATE_HZ;
const fixture = (path: string) => parseWav(readFileSync(join(import.meta.dirname, '..', 'fixtures', path))).samples;

/** Local flatness (dB) of each second of `x`, from `spectra` spectra of two frames each. */
function flatness(x: Int16Array, spectra = 8, seconds = 4): number[] {
  const out: number[] = [];
  for (let s = 0; s + FS <= x.length && out.length < seconds; s += FS) {
    const m = new TonalityMeter();
    for (let k = 0; k < 2 * spectra; k++) {
      const frame = x.subarray(s + k * SAMPLES_PER_FRAME, s + (k + 1) * SAMPLES_PER_FRAME);
      if (k % 2 === 0) m.remember(frame);
      else m.add(frame);
    }
    out.push(m.flatnessDb());
  }
  return out;
}

describe('tonality: broadband noise against tonal sound', () => {
  test('noise of any colour reads above -1 dB from 8 spectra', () => {
    const signals = {
      white: noise(5 * FS, 3000, 1),
      pink: pinkNoise(5 * FS, -45, 2),
      car: carNoise(5 * FS, -30, 3),
      street: streetNoise(5 * FS, -30, 4),
    };
    for (const [name, x] of Object.entries(signals)) {
      const f = flatness(x);
      console.log(`# ${name}: ${f.map((v) => v.toFixed(2)).join(' ')} dB`);
      assert.ok(
        f.every((v) => v > -1),
        `${name}: ${f.join(', ')}`,
      );
    }
  });

  test('tones, hum, chords and a sung vowel read below -3 dB', () => {
    const signals = {
      'tone 1 kHz': tone(1000, -20, 5000),
      hum: hum(5 * FS, -40),
      music: fixture('music/chords.wav'),
      'sung vowel': fixture('music/sung-vowel.wav'),
    };
    for (const [name, x] of Object.entries(signals)) {
      const f = flatness(x);
      console.log(`# ${name}: ${f.map((v) => v.toFixed(2)).join(' ')} dB`);
      assert.ok(
        f.every((v) => v < -3),
        `${name}: ${f.join(', ')}`,
      );
    }
  });
});
