/**
 * Writes the audio library's bundled clips (issue 17): `wait` (a caller alone in a room, or waiting
 * for the moderator) and `hold` (a caller on hold), 8 kHz mono 16-bit WAV, into src/library/bundled/.
 * Synthesized here, no third-party recordings:
 *
 *   npx tsx tools/make-library-music.ts
 *
 * Both are soft arpeggios over sustained chords with raised-cosine attacks and exponential decays,
 * 12 s long (80 beats a minute), made to loop without a seam: every note has decayed to silence before the end, and the
 * pad fades out over the last beat and in over the first. Peaks at -20 dBFS: music under a
 * conversation, never over it. Pure arithmetic: the same bytes on every machine.
 */
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodeWav } from '../src/audio/wav.js';

const RATE_HZ = 8000;
/** Peak of each clip (dBFS). */
export const MUSIC_PEAK_DBFS = -20;

const midiHz = (note: number) => 440 * 2 ** ((note - 69) / 12);

interface Piece {
  /** One chord per bar: MIDI notes, lowest first. */
  bars: number[][];
  beatS: number;
  /** Arpeggio notes per beat. */
  perBeat: number;
  /** Pattern through the chord's notes (indices, an octave up past the end). */
  pattern: number[];
  noteDecayS: number;
}

/** I - vi - IV - V in C, a gentle 8th-note arpeggio at 80 beats a minute. */
const WAIT: Piece = {
  bars: [
    [48, 60, 64, 67],
    [45, 57, 60, 64],
    [41, 57, 60, 65],
    [43, 55, 59, 62],
  ],
  beatS: 0.75,
  perBeat: 2,
  pattern: [1, 2, 3, 4, 3, 2, 1, 2],
  noteDecayS: 0.6,
};

/** IV - I - vi - V in F, lower and longer-ringing, a rising pattern: clearly another tune than WAIT. */
const HOLD: Piece = {
  bars: [
    [46, 58, 62, 65],
    [41, 57, 60, 65],
    [38, 57, 62, 65],
    [36, 55, 60, 64],
  ],
  beatS: 0.75,
  perBeat: 2,
  pattern: [1, 3, 2, 4, 3, 5, 4, 3],
  noteDecayS: 0.8,
};

export function render(piece: Piece): Int16Array {
  const barS = 4 * piece.beatS;
  const totalS = piece.bars.length * barS;
  const n = Math.round(totalS * RATE_HZ);
  const x = new Float64Array(n);
  const noteS = piece.beatS / piece.perBeat;
  const attack = Math.round(0.012 * RATE_HZ);
  // The arpeggio: soft sine-plus-octave notes, each decaying exponentially, cut off smoothly.
  piece.bars.forEach((chord, b) => {
    const upper = chord.slice(1);
    for (let k = 0; k < 4 * piece.perBeat; k++) {
      const step = piece.pattern[k % piece.pattern.length]!;
      const note = upper[(step - 1) % upper.length]! + 12 * Math.floor((step - 1) / upper.length);
      const f = midiHz(note);
      const start = Math.round((b * barS + k * noteS) * RATE_HZ);
      const length = Math.round(Math.min(piece.noteDecayS * 5, totalS - b * barS - k * noteS) * RATE_HZ);
      for (let i = 0; i < length && start + i < n; i++) {
        const t = i / RATE_HZ;
        const rise = i < attack ? 0.5 - 0.5 * Math.cos((Math.PI * i) / attack) : 1;
        const tail = length - i < attack ? 0.5 - 0.5 * Math.cos((Math.PI * (length - i)) / attack) : 1;
        const env = rise * tail * Math.exp(-t / piece.noteDecayS);
        x[start + i]! += env * (Math.sin(2 * Math.PI * f * t) + 0.25 * Math.sin(4 * Math.PI * f * t));
      }
    }
  });
  // The pad: the chord's root and fifth held under the bar, crossfaded from bar to bar.
  for (let i = 0; i < n; i++) {
    const t = i / RATE_HZ;
    const b = Math.min(piece.bars.length - 1, Math.floor(t / barS));
    const inBar = t - b * barS;
    const fadeS = 0.25;
    const env = Math.min(1, inBar / fadeS, (barS - inBar) / fadeS);
    const root = piece.bars[b]![0]! + 12;
    const level = 0.35 * (0.5 - 0.5 * Math.cos(Math.PI * Math.max(0, env)));
    x[i]! += level * (Math.sin(2 * Math.PI * midiHz(root) * t) + 0.6 * Math.sin(2 * Math.PI * midiHz(root + 7) * t));
  }
  let peak = 0;
  for (const v of x) peak = Math.max(peak, Math.abs(v));
  const g = (32768 * 10 ** (MUSIC_PEAK_DBFS / 20)) / peak;
  return Int16Array.from(x, (v) => Math.round(v * g));
}

const dir = join(dirname(fileURLToPath(import.meta.url)), '..', 'src', 'library', 'bundled');
for (const [name, piece] of [
  ['wait', WAIT],
  ['hold', HOLD],
] as const) {
  const samples = render(piece);
  writeFileSync(join(dir, `${name}.wav`), encodeWav({ sampleRateHz: RATE_HZ, samples }));
  console.log(`${name}.wav: ${(samples.length / RATE_HZ).toFixed(1)} s`);
}
