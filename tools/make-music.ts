/**
 * Writes the synthesized music fixture (issue 14): 60 s of chords with rhythm, 8 kHz mono 16-bit,
 * for the tests that hold the talk gate to letting music through from start to end.
 *
 *   npx tsx tools/make-music.ts OUT.wav
 *
 * 120 beats a minute, one chord a bar (C, Am, F, G, over and over): an electric-piano stab of the
 * chord on every beat (accented on 1 and 3) decaying to a held tone, a bass note on 1 and 3, and a
 * soft hi-hat on the off-beats. Pure arithmetic with a fixed seed: the same bytes on every machine.
 */
import { writeFileSync } from 'node:fs';
import { encodeWav } from '../src/audio/wav.js';

const RATE_HZ = 8000;
const SECONDS = 60;
const BEAT_S = 0.5;
/** Peak of the result (dBFS). */
const PEAK_DBFS = -6;

const midiHz = (note: number) => 440 * 2 ** ((note - 69) / 12);
/** C major, A minor, F major, G major: root-position triads around middle C, and the bass note. */
const BARS = [
  { chord: [60, 64, 67], bass: 48 },
  { chord: [57, 60, 64], bass: 45 },
  { chord: [53, 57, 60], bass: 41 },
  { chord: [55, 59, 62], bass: 43 },
];

export function chords(): Int16Array {
  const n = SECONDS * RATE_HZ;
  const x = new Float64Array(n);
  let seed = 0x1234567;
  const rand = () => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return (seed >>> 0) / 4294967296 - 0.5;
  };
  let hatLowpass = 0;
  for (let i = 0; i < n; i++) {
    const t = i / RATE_HZ;
    const beat = Math.floor(t / BEAT_S);
    const inBeat = t - beat * BEAT_S;
    const bar = BARS[Math.floor(beat / 4) % BARS.length]!;
    const accent = beat % 2 === 0 ? 1 : 0.7;
    // The stab decays to 35 % of its attack, then holds (a sustained chord under the rhythm).
    const stab = accent * Math.min(1, inBeat / 0.005) * (0.35 + 0.65 * Math.exp(-inBeat / 0.12));
    let v = 0;
    for (const note of bar.chord) {
      const f = midiHz(note);
      for (let h = 1; h <= 5; h++) v += (stab / h) * Math.sin(2 * Math.PI * f * h * t + h);
    }
    // Bass on beats 1 and 3 of the bar, decaying over the two beats.
    const bassAge = t - Math.floor(t / (2 * BEAT_S)) * 2 * BEAT_S;
    const bassEnv = Math.min(1, bassAge / 0.01) * Math.exp(-bassAge / 0.6);
    const fb = midiHz(bar.bass + 12);
    v += 1.2 * bassEnv * (Math.sin(2 * Math.PI * fb * t) + 0.5 * Math.sin(4 * Math.PI * fb * t));
    // Hi-hat on the off-beats: 30 ms of high-passed noise.
    const offBeat = inBeat - BEAT_S / 2;
    const white = rand();
    hatLowpass += 0.5 * (white - hatLowpass);
    if (offBeat >= 0 && offBeat < 0.03) v += 0.6 * Math.exp(-offBeat / 0.008) * (white - hatLowpass);
    x[i] = v;
  }
  // 10 ms fades, then the peak to PEAK_DBFS.
  const fade = RATE_HZ / 100;
  for (let i = 0; i < fade; i++) {
    x[i]! *= i / fade;
    x[n - 1 - i]! *= i / fade;
  }
  let peak = 0;
  for (const v of x) peak = Math.max(peak, Math.abs(v));
  const g = (32767 * 10 ** (PEAK_DBFS / 20)) / peak;
  return Int16Array.from(x, (v) => Math.round(v * g));
}

const out = process.argv[2];
if (!out) {
  console.error('usage: npx tsx tools/make-music.ts OUT.wav');
  process.exit(2);
}
writeFileSync(out, encodeWav({ sampleRateHz: RATE_HZ, samples: chords() }));
