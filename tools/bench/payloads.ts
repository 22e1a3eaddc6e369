/**
 * Everything the load generator sends, encoded before the run: speech clips as base64 20 ms
 * frames, Twilio's "silence", and the delay marker; plus the marker's detector for what comes back.
 *
 * The delay marker is one 20 ms frame of a caller who is not talking, carrying a 6 ms burst at the
 * Nyquist frequency (samples alternating +/- full scale) at a fixed place in the frame. It is found
 * in another caller's mix by a matched statistic, |sum of (-1)^i * x[i]| over the burst's samples,
 * compared with the same statistic elsewhere in the frame. Telephone speech has almost no energy at
 * 4 kHz: over 30,000 frames of the fixtures, the statistic of 1, 2, 3 and 10 voices summed and
 * clipped reached 1.7, 2.2, 2.5 and 4 % of the marker's. With the threshold at 20 %, a loud room, a
 * limiter turning the mix down (to a quarter of the level), a talk gate (the frame is loud) or
 * comfort noise does not hide it or fake it.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { SAMPLES_PER_FRAME, SAMPLE_RATE_HZ } from '../../src/audio/format.js';
import { encodeMulaw, MULAW_DECODE } from '../../src/audio/mulaw.js';
import { resample } from '../../src/audio/resample.js';
import { parseWav } from '../../src/audio/wav.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));

/** The committed speech fixtures the talkers play (each ~4.3 s, natural pauses included). */
export const VOICE_FIXTURES = ['alice', 'bob', 'carol'].map((name) => `${REPO}test/fixtures/voices/${name}.wav`);
/** Real captured Twilio media messages (their payloads are real Twilio silence). */
export const CAPTURED_TRAFFIC = `${REPO}test/fixtures/twilio-captured.jsonl`;

/** How non-talkers' frames look: `zero` = 0xFF/0x7F only (+0/-0); `captured` = Twilio's real frames. */
export type SilenceKind = 'zero' | 'captured';

/** Base64 of each 20 ms frame of `mulaw` (the last one padded with 0xFF). */
export function frameBase64(mulaw: Uint8Array): string[] {
  const frames: string[] = [];
  for (let offset = 0; offset < mulaw.length; offset += SAMPLES_PER_FRAME) {
    const frame = Buffer.alloc(SAMPLES_PER_FRAME, 0xff);
    frame.set(mulaw.subarray(offset, Math.min(mulaw.length, offset + SAMPLES_PER_FRAME)));
    frames.push(frame.toString('base64'));
  }
  return frames;
}

/** Each voice fixture as a clip of base64 frames, at the fixture's own level. */
export function speechClips(): string[][] {
  return VOICE_FIXTURES.map((path) => {
    const wav = parseWav(readFileSync(path));
    const pcm = wav.sampleRateHz === SAMPLE_RATE_HZ ? wav.samples : resample(wav.samples, wav.sampleRateHz, SAMPLE_RATE_HZ);
    const mulaw = new Uint8Array(pcm.length);
    encodeMulaw(pcm, mulaw);
    return frameBase64(mulaw);
  });
}

/** Deterministic 0..1 numbers (mulberry32), so runs are repeatable. */
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

/**
 * Frames a silent caller sends. `zero`: 0xFF and 0x7F (mu-law +0 and -0) in Twilio's irregular mix,
 * all decoding to 0. `captured`: the payloads of the real capture, which also hold a stray 0x7E/0xFE
 * (+/-8): real Twilio silence is not always digital zero.
 */
export function silenceFrames(kind: SilenceKind): string[] {
  if (kind === 'captured') {
    const payloads = readFileSync(CAPTURED_TRAFFIC, 'utf8')
      .split('\n')
      .filter((line) => line.includes('"media"'))
      .map((line) => (JSON.parse(line) as { media: { payload: string } }).media.payload);
    if (payloads.length === 0) throw new Error(`no media payloads in ${CAPTURED_TRAFFIC}`);
    return payloads;
  }
  const rand = prng(0x7f7f);
  return Array.from({ length: 8 }, () => {
    const frame = Buffer.alloc(SAMPLES_PER_FRAME);
    for (let i = 0; i < frame.length; i++) frame[i] = rand() < 0.5 ? 0xff : 0x7f;
    return frame.toString('base64');
  });
}

/** Where the marker burst sits in its 160-sample frame, and how long it is (6 ms). */
export const MARKER_FROM = 64;
export const MARKER_TO = 112;
const MARKER_LEN = MARKER_TO - MARKER_FROM;
/** The statistic of a full-scale burst (mu-law's largest magnitude is 32124). */
const MARKER_FULL = MARKER_LEN * 32124;
/** Found when the burst's statistic is above 20 % of full scale and 3x anything else in the frame. */
const MARKER_THRESHOLD = 0.2 * MARKER_FULL;

/** A silent frame with the marker burst: +/- full scale alternating at samples 64..111. */
export function markerFrameBase64(): string {
  const pcm = new Int16Array(SAMPLES_PER_FRAME);
  for (let i = MARKER_FROM; i < MARKER_TO; i++) pcm[i] = i & 1 ? -32767 : 32767;
  const mulaw = new Uint8Array(SAMPLES_PER_FRAME);
  encodeMulaw(pcm, mulaw);
  return Buffer.from(mulaw).toString('base64');
}

/** Base64 alphabet value of each byte (255: not base64). */
const B64 = new Uint8Array(256).fill(255);
for (let i = 0; i < 64; i++) B64['ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'.charCodeAt(i)] = i;

/** Received payloads are decoded here: up to 20 frames (400 ms) per message are probed. */
const MAX_PROBED_FRAMES = 20;
const scratch = new Uint8Array(MAX_PROBED_FRAMES * SAMPLES_PER_FRAME + 3);

/**
 * Which 20 ms frame of the base64 text `bytes[start, end)` (a received media payload of one or
 * more 160-byte frames) holds the marker burst: its index, or -1. Decodes into a scratch buffer:
 * no allocation.
 */
export function markerFrameIndex(bytes: Uint8Array, start: number, end: number): number {
  const frames = Math.floor((((end - start) / 4) * 3) / SAMPLES_PER_FRAME);
  if (frames < 1 || frames > MAX_PROBED_FRAMES) return -1;
  let o = 0;
  for (let i = start; i + 3 < end; i += 4) {
    const a = B64[bytes[i]!]!;
    const b = B64[bytes[i + 1]!]!;
    const c = B64[bytes[i + 2]!]!;
    const d = B64[bytes[i + 3]!]!;
    scratch[o++] = (a << 2) | (b >> 4);
    scratch[o++] = ((b & 15) << 4) | ((c & 255) >> 2);
    scratch[o++] = ((c & 3) << 6) | (d & 63);
  }
  for (let f = 0; f < frames; f++) {
    const base = f * SAMPLES_PER_FRAME;
    const inside = nyquist(base + MARKER_FROM, base + MARKER_TO);
    if (inside < MARKER_THRESHOLD) continue;
    const before = nyquist(base, base + MARKER_LEN);
    const after = nyquist(base + SAMPLES_PER_FRAME - MARKER_LEN, base + SAMPLES_PER_FRAME);
    if (inside > 3 * Math.max(before, after)) return f;
  }
  return -1;
}

function nyquist(from: number, to: number): number {
  let s = 0;
  for (let i = from; i < to; i++) {
    const x = MULAW_DECODE[scratch[i]!]!;
    s += i & 1 ? -x : x;
  }
  return s < 0 ? -s : s;
}
