/**
 * The conference's own sounds, synthesized (nothing to ship or decode): join and leave beeps, the
 * in-call key confirmations, participant-count pips and the soft loop a lone caller hears.
 * Pure functions returning 8 kHz 16-bit PCM, made once at start and played through Room.play.
 *
 * Every note has raised-cosine edges (no clicks), and the cue frequencies sit between 400 and
 * 1200 Hz: clear on a narrowband phone line, and well away from the tones the tests talk with.
 */
import { FULL_SCALE, SAMPLE_RATE_HZ } from './format.js';

/** One note of a cue; frequencyHz 0 is a rest. */
export interface Note {
  frequencyHz: number;
  durationMs: number;
}

export interface NoteOptions {
  /** Peak level of every note (dBFS). */
  peakDbfs: number;
  /** Fade in/out of each note (ms). */
  edgeMs?: number;
  /** Exponential decay time constant of each note (ms): a chime rather than a beep. */
  decayMs?: number;
}

const samplesOf = (ms: number) => Math.round((ms / 1000) * SAMPLE_RATE_HZ);

/** Renders a sequence of sine notes and rests. */
export function renderNotes(sequence: readonly Note[], options: NoteOptions): Int16Array {
  const total = sequence.reduce((n, note) => n + samplesOf(note.durationMs), 0);
  const out = new Int16Array(total);
  const amplitude = FULL_SCALE * 10 ** (options.peakDbfs / 20);
  const edge = samplesOf(options.edgeMs ?? 5);
  let at = 0;
  for (const note of sequence) {
    const n = samplesOf(note.durationMs);
    if (note.frequencyHz > 0) {
      const w = (2 * Math.PI * note.frequencyHz) / SAMPLE_RATE_HZ;
      const e = Math.min(edge, Math.floor(n / 2));
      for (let i = 0; i < n; i++) {
        let envelope = 1;
        if (e > 0 && i < e) envelope = 0.5 - 0.5 * Math.cos((Math.PI * i) / e);
        else if (e > 0 && i >= n - e) envelope = 0.5 - 0.5 * Math.cos((Math.PI * (n - 1 - i)) / e);
        if (options.decayMs) envelope *= Math.exp(-i / samplesOf(options.decayMs));
        out[at + i] = Math.round(amplitude * envelope * Math.sin(w * i));
      }
    }
    at += n;
  }
  return out;
}

/** Peak of the beeps and key confirmations (dBFS): noticeable, below a talker's peaks. */
export const CUE_PEAK_DBFS = -16;
/** Peak of the lone caller's loop (dBFS): soft. */
export const WAIT_PEAK_DBFS = -28;

/** Someone joined: a short rising two-note beep (660 Hz, then 880 Hz; 180 ms). */
export function joinBeep(): Int16Array {
  return renderNotes(
    [
      { frequencyHz: 660, durationMs: 80 },
      { frequencyHz: 880, durationMs: 100 },
    ],
    { peakDbfs: CUE_PEAK_DBFS },
  );
}

/** Someone left: the same beep falling (880 Hz, then 660 Hz). */
export function leaveBeep(): Int16Array {
  return renderNotes(
    [
      { frequencyHz: 880, durationMs: 80 },
      { frequencyHz: 660, durationMs: 100 },
    ],
    { peakDbfs: CUE_PEAK_DBFS },
  );
}

/** *6, now muted: one low tone (494 Hz, 150 ms). */
export function mutedTone(): Int16Array {
  return renderNotes([{ frequencyHz: 494, durationMs: 150 }], { peakDbfs: CUE_PEAK_DBFS });
}

/** *6, now unmuted: two short high pips (988 Hz). */
export function unmutedTone(): Int16Array {
  return renderNotes(
    [
      { frequencyHz: 988, durationMs: 60 },
      { frequencyHz: 0, durationMs: 50 },
      { frequencyHz: 988, durationMs: 60 },
    ],
    { peakDbfs: CUE_PEAK_DBFS },
  );
}

/** A volume key took effect: one pip (740 Hz, 80 ms), heard at the new volume. */
export function volumeTone(): Int16Array {
  return renderNotes([{ frequencyHz: 740, durationMs: 80 }], { peakDbfs: CUE_PEAK_DBFS });
}

/** A volume key at its limit (+/-12 dB): two low pips, nothing changed. */
export function limitTone(): Int16Array {
  return renderNotes(
    [
      { frequencyHz: 440, durationMs: 60 },
      { frequencyHz: 0, durationMs: 50 },
      { frequencyHz: 440, durationMs: 60 },
    ],
    { peakDbfs: CUE_PEAK_DBFS },
  );
}

/** Pips per decimal digit of the participant count: the count read out in tones. */
export const COUNT_PIP: Note = { frequencyHz: 1175, durationMs: 80 };
const COUNT_PIP_GAP_MS = 120;
const COUNT_DIGIT_GAP_MS = 600;
const COUNT_ZERO_MS = 400;

/**
 * The participant count in tones, digit by digit: each digit d as d short pips, a 0 as one long
 * tone, digits 600 ms apart. 3 is three pips; 12 is one pip, a pause, two pips; 20 is two pips,
 * a pause, a long tone.
 */
export function countTones(count: number): Int16Array {
  const digits = String(Math.max(0, Math.floor(count)));
  const sequence: Note[] = [];
  for (const [k, ch] of [...digits].entries()) {
    if (k > 0) sequence.push({ frequencyHz: 0, durationMs: COUNT_DIGIT_GAP_MS });
    const d = Number(ch);
    if (d === 0) sequence.push({ frequencyHz: COUNT_PIP.frequencyHz, durationMs: COUNT_ZERO_MS });
    for (let i = 0; i < d; i++) {
      if (i > 0) sequence.push({ frequencyHz: 0, durationMs: COUNT_PIP_GAP_MS });
      sequence.push(COUNT_PIP);
    }
  }
  return renderNotes(sequence, { peakDbfs: CUE_PEAK_DBFS });
}

/**
 * What a caller alone in a room hears until someone joins: a soft descending chime (E5, C5, G4)
 * every 4 s, quiet enough to talk over. Loops seamlessly (it ends in silence).
 */
export function waitLoop(): Int16Array {
  return renderNotes(
    [
      { frequencyHz: 659, durationMs: 350 },
      { frequencyHz: 523, durationMs: 350 },
      { frequencyHz: 392, durationMs: 700 },
      { frequencyHz: 0, durationMs: 2600 },
    ],
    { peakDbfs: WAIT_PEAK_DBFS, edgeMs: 10, decayMs: 250 },
  );
}

/**
 * *6 refused, "the moderator has muted you": a low two-note drop (494 Hz, then 392 Hz, each 150 ms
 * with a 60 ms rest), distinct from *6's single muted tone. Also heard when a moderator mutes you.
 */
export function moderatorMutedTone(): Int16Array {
  return renderNotes(
    [
      { frequencyHz: 494, durationMs: 150 },
      { frequencyHz: 0, durationMs: 60 },
      { frequencyHz: 392, durationMs: 150 },
    ],
    { peakDbfs: CUE_PEAK_DBFS },
  );
}

/**
 * The conference is ending (the last moderator left): a falling three-note goodbye (880, 660,
 * 440 Hz; 600 ms), heard by everyone before the calls end.
 */
export function goodbyeTone(): Int16Array {
  return renderNotes(
    [
      { frequencyHz: 880, durationMs: 180 },
      { frequencyHz: 660, durationMs: 180 },
      { frequencyHz: 440, durationMs: 240 },
    ],
    { peakDbfs: CUE_PEAK_DBFS },
  );
}
