/**
 * The reframer (src/media/reframer.ts): any payload sizes in, 160-byte (20 ms of 8 kHz mu-law)
 * frames out, in order; gaps in Twilio's `timestamp` (ms since stream start, ~19.97 ms steps)
 * filled with mu-law silence 0xFF when they are at least half a frame (10 ms) and at most
 * `maxGapFillMs`; longer gaps and large backward jumps are counted, not filled.
 *
 * Payload bytes here never contain 0xFF (values cycle 0..254), so every 0xFF in the output is fill.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { Reframer } from '../../src/media/reframer.js';
import { prng } from '../helpers/audio.js';

const FRAME_BYTES = 160;
const BYTES_PER_MS = 8;
const SILENCE = 0xff;

/** Payloads with distinct, non-0xFF content: a running counter mod 255. */
function payloadMaker(): (length: number) => Uint8Array {
  let counter = 0;
  return (length) => Uint8Array.from({ length }, () => counter++ % 255);
}

/** A reframer whose frames are copied (it lends a reused buffer) into `frames`. */
function collecting(maxGapFillMs?: number): { reframer: Reframer; frames: Uint8Array[]; bytes: () => Uint8Array } {
  const frames: Uint8Array[] = [];
  const reframer = new Reframer((frame) => {
    assert.equal(frame.length, FRAME_BYTES, 'every frame is 160 bytes');
    frames.push(frame.slice());
  }, maxGapFillMs);
  const bytes = () => {
    const out = new Uint8Array(frames.length * FRAME_BYTES);
    frames.forEach((f, i) => out.set(f, i * FRAME_BYTES));
    return out;
  };
  return { reframer, frames, bytes };
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** The whole frames of a byte stream: what the reframer must have emitted so far. */
function wholeFrames(stream: Uint8Array): Uint8Array {
  return stream.subarray(0, Math.floor(stream.length / FRAME_BYTES) * FRAME_BYTES);
}

const silence = (n: number) => new Uint8Array(n).fill(SILENCE);

describe('Reframer: framing', () => {
  test('payloads of arbitrary sizes come out as the same bytes in 160-byte frames', () => {
    const make = payloadMaker();
    const { reframer, frames, bytes } = collecting();
    const sizes = [1, 7, 160, 333, 80, 80, 159, 1, 2, 320, 479, 161];
    const sent: Uint8Array[] = [];
    let timestampMs = 155;
    for (const size of sizes) {
      const payload = make(size);
      sent.push(payload);
      reframer.push(payload, timestampMs);
      timestampMs += size / BYTES_PER_MS; // contiguous
      // After each push, exactly the whole frames so far have been emitted.
      assert.equal(frames.length, Math.floor(concat(sent).length / FRAME_BYTES));
    }
    const total = sizes.reduce((a, b) => a + b, 0);
    assert.deepEqual(bytes(), wholeFrames(concat(sent)));
    assert.deepEqual(reframer.stats, {
      bytesIn: total,
      framesOut: Math.floor(total / FRAME_BYTES),
      gapFillSamples: 0,
      discontinuities: 0,
    });
  });

  test('a payload is copied: changing it after push does not change later frames', () => {
    const { reframer, bytes } = collecting();
    const payload = Uint8Array.from({ length: 100 }, (_, i) => i);
    reframer.push(payload, 0);
    payload.fill(0);
    reframer.push(
      Uint8Array.from({ length: 60 }, (_, i) => 100 + i),
      12.5,
    );
    assert.deepEqual(
      bytes(),
      Uint8Array.from({ length: 160 }, (_, i) => i),
    );
  });

  test('Twilio-style integer-millisecond timestamps (rounded) insert nothing', () => {
    const make = payloadMaker();
    const { reframer, bytes } = collecting();
    const sent: Uint8Array[] = [];
    let exactMs = 155;
    for (const size of [7, 333, 1, 99, 160, 160, 13, 250, 90, 1000]) {
      const payload = make(size);
      sent.push(payload);
      reframer.push(payload, Math.round(exactMs));
      exactMs += size / BYTES_PER_MS;
    }
    assert.deepEqual(bytes(), wholeFrames(concat(sent)));
    assert.equal(reframer.stats.gapFillSamples, 0);
    assert.equal(reframer.stats.discontinuities, 0);
  });

  test("19/21 ms jitter and Twilio's real 19.97 ms cadence insert nothing", () => {
    for (const timestampOf of [(k: number) => 155 + 20 * k - (k % 2) /* steps of 19, 21, 19, ... ms */, (k: number) => Math.round(155 + 19.97 * k)]) {
      const make = payloadMaker();
      const { reframer, bytes } = collecting();
      const sent: Uint8Array[] = [];
      for (let k = 0; k < 200; k++) {
        const payload = make(FRAME_BYTES);
        sent.push(payload);
        reframer.push(payload, timestampOf(k));
      }
      assert.deepEqual(bytes(), concat(sent));
      assert.equal(reframer.stats.gapFillSamples, 0);
      assert.equal(reframer.stats.framesOut, 200);
      assert.equal(reframer.stats.discontinuities, 0);
    }
  });
});

describe('Reframer: gaps', () => {
  test('a 40 ms gap (2 frames) inserts exactly 320 bytes of 0xFF between the payloads', () => {
    const make = payloadMaker();
    const { reframer, frames } = collecting();
    const a = make(160);
    const b = make(160);
    reframer.push(a, 155);
    reframer.push(b, 155 + 20 + 40);
    assert.equal(frames.length, 4);
    assert.deepEqual(frames[0], a);
    assert.deepEqual(frames[1], silence(160));
    assert.deepEqual(frames[2], silence(160));
    assert.deepEqual(frames[3], b);
    assert.equal(reframer.stats.gapFillSamples, 320);
    assert.equal(reframer.stats.bytesIn, 320);
    assert.equal(reframer.stats.framesOut, 4);
  });

  test('a 40 ms gap in the middle of a frame lands at the right byte position', () => {
    const make = payloadMaker();
    const { reframer, bytes } = collecting();
    const a = make(100); // 12.5 ms
    const b = make(300);
    reframer.push(a, 0);
    reframer.push(b, 12.5 + 40);
    // 100 + 320 + 300 = 720 bytes: 4 whole frames (640), 80 held back.
    assert.deepEqual(bytes(), wholeFrames(concat([a, silence(320), b])));
    assert.equal(bytes().length, 640);
    assert.equal(reframer.stats.gapFillSamples, 320);
  });

  test('a 10 ms gap (half a frame) inserts 80 samples; 9 ms inserts none', () => {
    const make = payloadMaker();
    const filled = collecting();
    const a = make(160);
    const b = make(160);
    const c = make(160);
    filled.reframer.push(a, 1000);
    filled.reframer.push(b, 1020 + 10);
    filled.reframer.push(c, 1040 + 10);
    assert.deepEqual(filled.bytes(), wholeFrames(concat([a, silence(80), b, c])));
    assert.equal(filled.reframer.stats.gapFillSamples, 80);

    const notFilled = collecting();
    notFilled.reframer.push(a, 1000);
    notFilled.reframer.push(b, 1020 + 9);
    notFilled.reframer.push(c, 1040 + 9);
    assert.deepEqual(notFilled.bytes(), concat([a, b, c]));
    assert.equal(notFilled.reframer.stats.gapFillSamples, 0);
  });

  test('a gap of exactly maxGapFillMs is filled; one larger is a discontinuity, not filled', () => {
    const make = payloadMaker();
    const a = make(160);
    const b = make(160);

    const atMax = collecting(); // default maxGapFillMs = 100
    atMax.reframer.push(a, 0);
    atMax.reframer.push(b, 20 + 100);
    assert.deepEqual(atMax.bytes(), concat([a, silence(800), b]));
    assert.equal(atMax.reframer.stats.gapFillSamples, 800);
    assert.equal(atMax.reframer.stats.discontinuities, 0);

    const beyond = collecting();
    beyond.reframer.push(a, 0);
    beyond.reframer.push(b, 20 + 120);
    assert.deepEqual(beyond.bytes(), concat([a, b]));
    assert.equal(beyond.reframer.stats.gapFillSamples, 0);
    assert.equal(beyond.reframer.stats.discontinuities, 1);
    // The stream continues from the new timestamp: a contiguous next payload is not a gap.
    const c = make(160);
    beyond.reframer.push(c, 20 + 120 + 20);
    assert.deepEqual(beyond.bytes(), concat([a, b, c]));
    assert.equal(beyond.reframer.stats.discontinuities, 1);
  });

  test('maxGapFillMs is configurable', () => {
    const make = payloadMaker();
    const a = make(160);
    const b = make(160);
    const c = make(160);
    const { reframer, bytes } = collecting(60);
    reframer.push(a, 0);
    reframer.push(b, 20 + 60); // filled: 480 samples
    reframer.push(c, 100 + 80); // 80 > 60: discontinuity
    assert.deepEqual(bytes(), concat([a, silence(480), b, c]));
    assert.equal(reframer.stats.gapFillSamples, 480);
    assert.equal(reframer.stats.discontinuities, 1);
  });

  test('timestamps going backwards insert nothing (a large jump back is counted)', () => {
    const make = payloadMaker();
    const a = make(160);
    const b = make(160);
    const c = make(160);

    const small = collecting();
    small.reframer.push(a, 1000);
    small.reframer.push(b, 980); // 40 ms before where it was expected (1020)
    small.reframer.push(c, 1000); // contiguous after b
    assert.deepEqual(small.bytes(), concat([a, b, c]));
    assert.equal(small.reframer.stats.gapFillSamples, 0);

    const large = collecting();
    large.reframer.push(a, 1000);
    large.reframer.push(b, 500); // went back 520 ms
    large.reframer.push(c, 520);
    assert.deepEqual(large.bytes(), concat([a, b, c]));
    assert.equal(large.reframer.stats.gapFillSamples, 0);
    assert.equal(large.reframer.stats.discontinuities, 1);
  });

  test('the first payload is never preceded by fill, whatever its timestamp', () => {
    const make = payloadMaker();
    const a = make(160);
    const { reframer, bytes } = collecting();
    reframer.push(a, 5000);
    assert.deepEqual(bytes(), a);
    assert.equal(reframer.stats.gapFillSamples, 0);
    assert.equal(reframer.stats.discontinuities, 0);
  });
});

describe('Reframer: property over random payload-size and timestamp sequences', () => {
  test('500 seeded sequences: output = whole frames of (fill + payload)*, stats match', () => {
    const random = prng(0xf4a3e);
    const maxGapFillMs = 100;
    const covered = { fills: 0, discontinuities: 0, frames: 0 };
    for (let run = 0; run < 500; run++) {
      const make = payloadMaker();
      const { reframer, bytes } = collecting();
      const expected: Uint8Array[] = [];
      let bytesIn = 0;
      let fillSamples = 0;
      let discontinuities = 0;
      let expectedTimestampMs: number | null = null;
      const pushes = 1 + Math.floor(random() * 60);
      for (let p = 0; p < pushes; p++) {
        const r = random();
        const size = r < 0.3 ? FRAME_BYTES : r < 0.35 ? 0 : 1 + Math.floor(random() * 500);
        let timestampMs: number;
        if (expectedTimestampMs === null) {
          timestampMs = Math.floor(random() * 1000);
        } else {
          const kind = random();
          let deltaMs = 0;
          if (kind < 0.55) deltaMs = 0;
          else if (kind < 0.75)
            deltaMs = (random() * 2 - 1) * 4; // jitter, |delta| < half a frame
          else if (kind < 0.88)
            deltaMs = 10 + Math.floor(random() * 181) / 2; // 10..100 ms, half-ms steps
          else if (kind < 0.94)
            deltaMs = 100.5 + Math.floor(random() * 2000); // too long to fill
          else deltaMs = -(150 + Math.floor(random() * 500)); // went far backwards
          timestampMs = expectedTimestampMs + deltaMs;
          if (deltaMs >= 10 && deltaMs <= maxGapFillMs) {
            const samples = Math.round(deltaMs * BYTES_PER_MS);
            expected.push(silence(samples));
            fillSamples += samples;
          } else if (deltaMs > maxGapFillMs || deltaMs < -maxGapFillMs) {
            discontinuities++;
          }
        }
        const payload = make(size);
        expected.push(payload);
        bytesIn += size;
        reframer.push(payload, timestampMs);
        expectedTimestampMs = timestampMs + size / BYTES_PER_MS;
      }
      const stream = concat(expected);
      const got = bytes();
      const want = wholeFrames(stream);
      if (got.length !== want.length || !got.every((x, i) => x === want[i])) {
        assert.deepEqual(got, want, `run ${run}`);
      }
      assert.deepEqual(
        reframer.stats,
        { bytesIn, framesOut: Math.floor(stream.length / FRAME_BYTES), gapFillSamples: fillSamples, discontinuities },
        `run ${run}`,
      );
      covered.fills += fillSamples;
      covered.discontinuities += discontinuities;
      covered.frames += reframer.stats.framesOut;
    }
    // The generator really exercised every path.
    assert.ok(covered.fills > 0 && covered.discontinuities > 0 && covered.frames > 0, JSON.stringify(covered));
  });
});
