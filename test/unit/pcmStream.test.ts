/**
 * A program's raw PCM (issue 18): the 2:1 converters between 16 kHz and the mixer's 8 kHz, and
 * media/pcmStream.ts, which cuts little-endian payloads of any even length into 20 ms frames.
 * Levels are measured on real tones, in dB.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { toneDbfs } from '../../src/audio/analysis.js';
import { FULL_SCALE } from '../../src/audio/format.js';
import { Decimator2, Interpolator2 } from '../../src/audio/halfband.js';
import { PcmStream } from '../../src/media/pcmStream.js';

function toneAt(rateHz: number, frequencyHz: number, peakDbfs: number, samples: number): Int16Array {
  const amplitude = FULL_SCALE * 10 ** (peakDbfs / 20);
  return Int16Array.from({ length: samples }, (_, i) => Math.round(amplitude * Math.sin((2 * Math.PI * frequencyHz * i) / rateHz)));
}

/** `input` through `convert` in frames of `frame` samples; the outputs joined. */
function framewise(input: Int16Array, frame: number, ratio: number, convert: (x: Int16Array, out: Int16Array) => void): Int16Array {
  const out = new Int16Array(Math.round(input.length * ratio));
  for (let i = 0; i + frame <= input.length; i += frame)
    convert(input.subarray(i, i + frame), out.subarray(Math.round(i * ratio), Math.round((i + frame) * ratio)));
  return out;
}

describe('16 kHz <-> 8 kHz', () => {
  test('decimating: the telephone band passes within 0.2 dB, what would fold back is 50 dB down', () => {
    for (const f of [300, 1000, 2200, 3300]) {
      const x = toneAt(16_000, f, -10, 16_000);
      const d = new Decimator2(320);
      const joined = framewise(x, 320, 0.5, (a, b) => d.process(a, b));
      const gain = toneDbfs(joined, f, 8000, 800, 8000) - toneDbfs(x, f, 16_000, 1600, 16_000);
      assert.ok(Math.abs(gain) <= 0.2, `${f} Hz through at ${gain.toFixed(2)} dB`);
    }
    // 5 kHz at 16 kHz would fold to 3 kHz at 8 kHz.
    const x = toneAt(16_000, 5000, -10, 16_000);
    const d = new Decimator2(320);
    const y = framewise(x, 320, 0.5, (a, b) => d.process(a, b));
    const folded = toneDbfs(y, 3000, 8000, 800, 8000) - toneDbfs(x, 5000, 16_000, 1600, 16_000);
    assert.ok(folded <= -50, `5 kHz folds to 3 kHz at ${folded.toFixed(1)} dB`);
  });

  test('the same tone in frames of 320 or of 64 samples comes out identical (the history carries over)', () => {
    const x = toneAt(16_000, 1234, -6, 3200);
    const a = new Decimator2(320);
    const b = new Decimator2(320);
    assert.deepEqual(
      framewise(x, 320, 0.5, (i, o) => a.process(i, o)),
      framewise(x, 64, 0.5, (i, o) => b.process(i, o)),
    );
  });

  test('interpolating: the band passes within 0.2 dB at 16 kHz, its image above 4 kHz is 50 dB down', () => {
    for (const f of [300, 1000, 2200, 3300]) {
      const x = toneAt(8000, f, -10, 8000);
      const up = new Interpolator2(160);
      const y = framewise(x, 160, 2, (a, b) => up.process(a, b));
      const gain = toneDbfs(y, f, 16_000, 1600, 16_000) - toneDbfs(x, f, 8000, 800, 8000);
      assert.ok(Math.abs(gain) <= 0.2, `${f} Hz through at ${gain.toFixed(2)} dB`);
      const image = toneDbfs(y, 8000 - f, 16_000, 1600, 16_000) - toneDbfs(x, f, 8000, 800, 8000);
      if (8000 - f >= 4700) assert.ok(image <= -50, `${f} Hz leaves an image at ${8000 - f} Hz of ${image.toFixed(1)} dB`);
    }
  });
});

describe('PcmStream', () => {
  const bytesOf = (pcm: Int16Array) => {
    const b = Buffer.alloc(2 * pcm.length);
    pcm.forEach((s, i) => b.writeInt16LE(s, 2 * i));
    return b;
  };

  test('8 kHz: payloads of any even length become 20 ms frames of the same samples', () => {
    const frames: Int16Array[] = [];
    const s = new PcmStream('pcm16-8k', (f) => frames.push(f.slice()));
    const x = toneAt(8000, 1000, -10, 800);
    const bytes = bytesOf(x);
    // 100 ms in uneven pieces: 7 bytes would split a sample, so pieces of 2, 98, 300 ... bytes.
    for (const [from, to] of [
      [0, 2],
      [2, 100],
      [100, 400],
      [400, 1600],
    ] as const)
      assert.equal(s.push(bytes.subarray(from, to), to - from), true);
    assert.equal(frames.length, 5);
    assert.deepEqual(Int16Array.from(frames.flatMap((f) => [...f])), x);
  });

  test('16 kHz: 640 bytes make one 8 kHz frame at the same level; the mix goes out as 640 bytes', () => {
    const frames: Int16Array[] = [];
    const s = new PcmStream('pcm16-16k', (f) => frames.push(f.slice()));
    const x = toneAt(16_000, 2000, -10, 16_000);
    const bytes = bytesOf(x);
    for (let i = 0; i < bytes.length; i += 640) assert.equal(s.push(bytes.subarray(i, i + 640), 640), true);
    assert.equal(frames.length, 50);
    const y = Int16Array.from(frames.flatMap((f) => [...f]));
    const gain = toneDbfs(y, 2000, 8000, 800, 8000) - toneDbfs(x, 2000, 16_000, 1600, 16_000);
    assert.ok(Math.abs(gain) <= 0.2, `2 kHz in at ${gain.toFixed(2)} dB`);
    const out = Buffer.from(s.encode(toneAt(8000, 1000, -10, 160)), 'base64');
    assert.equal(out.length, 640);
  });

  test('an odd byte count is refused and nothing of it is taken', () => {
    let frames = 0;
    const s = new PcmStream('pcm16-8k', () => frames++);
    assert.equal(s.push(Buffer.alloc(321), 321), false);
    assert.equal(s.push(Buffer.alloc(320), 320), true);
    assert.equal(frames, 1);
  });
});
