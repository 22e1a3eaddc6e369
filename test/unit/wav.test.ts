/**
 * WAV reading/writing (src/audio/wav.ts) on files built byte by byte here from the RIFF/WAVE
 * layout, and sample-rate conversion (src/audio/resample.ts) judged by measured levels.
 *
 * WAV facts used (Microsoft RIFF/WAVE): "RIFF" <size = file length - 8> "WAVE", then chunks of
 * <4-byte id><uint32 LE size><body><pad byte if size is odd>. "fmt " body: format tag (1 PCM,
 * 3 IEEE float, 7 mu-law, 0xFFFE extensible with the real tag in the first 2 bytes of the
 * SubFormat GUID at body offset 24), channels, sample rate, byte rate = rate * blockAlign,
 * blockAlign = channels * bits / 8, bits per sample. 8-bit PCM is unsigned (128 = zero); wider
 * PCM is signed little-endian; float is +/-1.0 full scale.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import alawmulaw from 'alawmulaw';

import { rmsDbfs, toneDbfs } from '../../src/audio/analysis.js';
import { resample } from '../../src/audio/resample.js';
import { encodeWav, parseWav, wavHeader, WavFormatError } from '../../src/audio/wav.js';
import { prng } from '../helpers/audio.js';

const FIXTURES_DIR = fileURLToPath(new URL('../fixtures/', import.meta.url));
const FULL_SCALE = 32768;

// ---- byte-level builders ---------------------------------------------------------------------

function ascii(text: string): Uint8Array {
  return Uint8Array.from(text, (c) => c.charCodeAt(0));
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** One RIFF chunk, with the pad byte after an odd-sized body. `size` overrides the size field. */
function chunk(id: string, body: Uint8Array, size = body.length): Uint8Array {
  const head = new Uint8Array(8);
  head.set(ascii(id), 0);
  new DataView(head.buffer).setUint32(4, size >>> 0, true);
  return concat(head, body, body.length & 1 ? new Uint8Array(1) : new Uint8Array(0));
}

function riff(...chunks: Uint8Array[]): Uint8Array {
  const body = concat(ascii('WAVE'), ...chunks);
  const head = new Uint8Array(8);
  head.set(ascii('RIFF'), 0);
  new DataView(head.buffer).setUint32(4, body.length, true);
  return concat(head, body);
}

function fmtBody(format: number, channels: number, rateHz: number, bits: number): Uint8Array {
  const b = new Uint8Array(16);
  const v = new DataView(b.buffer);
  const blockAlign = (channels * bits) / 8;
  v.setUint16(0, format, true);
  v.setUint16(2, channels, true);
  v.setUint32(4, rateHz, true);
  v.setUint32(8, rateHz * blockAlign, true);
  v.setUint16(12, blockAlign, true);
  v.setUint16(14, bits, true);
  return b;
}

/** fmt body of WAVE_FORMAT_EXTENSIBLE (40 bytes) with SubFormat {tag}-0000-0010-8000-00AA00389B71. */
function extensibleFmtBody(subFormat: number, channels: number, rateHz: number, bits: number): Uint8Array {
  const b = new Uint8Array(40);
  b.set(fmtBody(0xfffe, channels, rateHz, bits), 0);
  const v = new DataView(b.buffer);
  v.setUint16(16, 22, true); // cbSize
  v.setUint16(18, bits, true); // valid bits per sample
  v.setUint32(20, channels === 1 ? 0x4 : 0x3, true); // channel mask
  v.setUint16(24, subFormat, true);
  b.set([0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71], 26);
  return b;
}

function int16Le(values: number[]): Uint8Array {
  const b = new Uint8Array(values.length * 2);
  const v = new DataView(b.buffer);
  values.forEach((x, i) => v.setInt16(i * 2, x, true));
  return b;
}

function int24Le(values: number[]): Uint8Array {
  const b = new Uint8Array(values.length * 3);
  values.forEach((x, i) => {
    const u = x & 0xffffff;
    b[i * 3] = u & 0xff;
    b[i * 3 + 1] = (u >> 8) & 0xff;
    b[i * 3 + 2] = (u >> 16) & 0xff;
  });
  return b;
}

function int32Le(values: number[]): Uint8Array {
  const b = new Uint8Array(values.length * 4);
  const v = new DataView(b.buffer);
  values.forEach((x, i) => v.setInt32(i * 4, x, true));
  return b;
}

function float32Le(values: number[]): Uint8Array {
  const b = new Uint8Array(values.length * 4);
  const v = new DataView(b.buffer);
  values.forEach((x, i) => v.setFloat32(i * 4, x, true));
  return b;
}

function float64Le(values: number[]): Uint8Array {
  const b = new Uint8Array(values.length * 8);
  const v = new DataView(b.buffer);
  values.forEach((x, i) => v.setFloat64(i * 8, x, true));
  return b;
}

function sine(frequencyHz: number, amplitude: number, rateHz: number, n: number, phase = 0): Int16Array {
  const out = new Int16Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.round(amplitude * Math.sin((2 * Math.PI * frequencyHz * i) / rateHz + phase));
  return out;
}

// ---- WAV -------------------------------------------------------------------------------------

describe('encodeWav / parseWav', () => {
  test('round trip is exact (random samples including both extremes, several rates)', () => {
    const random = prng(7);
    for (const sampleRateHz of [8000, 16000, 44100]) {
      const samples = new Int16Array(1001);
      for (let i = 0; i < samples.length; i++) samples[i] = Math.floor(random() * 65536) - 32768;
      samples[0] = -32768;
      samples[1] = 32767;
      samples[2] = 0;
      const parsed = parseWav(encodeWav({ sampleRateHz, samples }));
      assert.equal(parsed.sampleRateHz, sampleRateHz);
      assert.deepEqual(parsed.samples, samples);
    }
    const empty = parseWav(encodeWav({ sampleRateHz: 8000, samples: new Int16Array(0) }));
    assert.equal(empty.samples.length, 0);
  });

  test('header fields are those of 16-bit PCM mono per the WAV spec', () => {
    const n = 101;
    const rate = 16000;
    const samples = sine(440, 1000, rate, n);
    const bytes = encodeWav({ sampleRateHz: rate, samples });
    const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const tag = (at: number) => String.fromCharCode(...bytes.subarray(at, at + 4));
    assert.equal(bytes.length, 44 + 2 * n);
    assert.equal(tag(0), 'RIFF');
    assert.equal(v.getUint32(4, true), bytes.length - 8, 'RIFF size = file length - 8 = 36 + data size');
    assert.equal(tag(8), 'WAVE');
    assert.equal(tag(12), 'fmt ');
    assert.equal(v.getUint32(16, true), 16, 'PCM fmt chunk is 16 bytes');
    assert.equal(v.getUint16(20, true), 1, 'format tag PCM');
    assert.equal(v.getUint16(22, true), 1, 'mono');
    assert.equal(v.getUint32(24, true), rate);
    assert.equal(v.getUint32(28, true), rate * 1 * 2, 'byte rate = rate * channels * bytes per sample');
    assert.equal(v.getUint16(32, true), 2, 'block align = channels * bytes per sample');
    assert.equal(v.getUint16(34, true), 16);
    assert.equal(tag(36), 'data');
    assert.equal(v.getUint32(40, true), 2 * n, 'data size');
    for (let i = 0; i < n; i++) assert.equal(v.getInt16(44 + 2 * i, true), samples[i]);
    assert.deepEqual(wavHeader(rate, n), bytes.subarray(0, 44));
  });

  test('8-bit PCM is unsigned with 128 as zero, scaled by 256', () => {
    const codes = [0, 1, 64, 127, 128, 129, 192, 255];
    const wav = riff(chunk('fmt ', fmtBody(1, 1, 8000, 8)), chunk('data', Uint8Array.from(codes)));
    const { sampleRateHz, samples } = parseWav(wav);
    assert.equal(sampleRateHz, 8000);
    assert.deepEqual(
      Array.from(samples),
      codes.map((c) => (c - 128) * 256),
    );
  });

  test('24-bit PCM keeps the top 16 bits', () => {
    const exact = [0, 1000 * 256, -1000 * 256, 0x7fff00, -0x800000, 0x7fffff];
    const wav = riff(chunk('fmt ', fmtBody(1, 1, 22050, 24)), chunk('data', int24Le(exact)));
    const { sampleRateHz, samples } = parseWav(wav);
    assert.equal(sampleRateHz, 22050);
    assert.deepEqual(Array.from(samples), [0, 1000, -1000, 32767, -32768, 32767]);

    // Arbitrary values: within one 16-bit step of value / 256.
    const random = prng(24);
    const values = Array.from({ length: 500 }, () => Math.floor(random() * 0x1000000) - 0x800000);
    const parsed = parseWav(riff(chunk('fmt ', fmtBody(1, 1, 8000, 24)), chunk('data', int24Le(values)))).samples;
    values.forEach((x, i) => assert.ok(Math.abs(parsed[i]! - x / 256) <= 1, `${x} -> ${parsed[i]}`));
  });

  test('32-bit integer PCM scales by 2^-16', () => {
    const values = [0, 1000 * 65536, -1000 * 65536, 2 ** 31 - 1, -(2 ** 31)];
    const { samples } = parseWav(riff(chunk('fmt ', fmtBody(1, 1, 8000, 32)), chunk('data', int32Le(values))));
    assert.deepEqual(Array.from(samples), [0, 1000, -1000, 32767, -32768]);
  });

  test('32-bit and 64-bit float: +/-1.0 is full scale, beyond is clipped', () => {
    const values = [0, 0.5, -0.25, 1.0, -1.0, 1.5, -2, 1000 / 32768];
    const expected = [0, 16384, -8192, 32767, -32768, 32767, -32768, 1000];
    const f32 = parseWav(riff(chunk('fmt ', fmtBody(3, 1, 48000, 32)), chunk('data', float32Le(values))));
    assert.equal(f32.sampleRateHz, 48000);
    assert.deepEqual(Array.from(f32.samples), expected);
    const f64 = parseWav(riff(chunk('fmt ', fmtBody(3, 1, 48000, 64)), chunk('data', float64Le(values))));
    assert.deepEqual(Array.from(f64.samples), expected);
  });

  test('mu-law (format 7) decodes every code as G.711 does (alawmulaw)', () => {
    const codes = Uint8Array.from({ length: 256 }, (_, i) => i);
    const { sampleRateHz, samples } = parseWav(riff(chunk('fmt ', fmtBody(7, 1, 8000, 8)), chunk('data', codes)));
    assert.equal(sampleRateHz, 8000);
    assert.deepEqual(
      Array.from(samples),
      Array.from(codes, (c) => alawmulaw.mulaw.decodeSample(c) | 0),
    );
  });

  test('stereo (and 3-channel) frames are averaged to mono', () => {
    const left = [1000, -32768, 32767, 0, 20000];
    const right = [3000, -32768, 32765, -4000, -20000];
    const interleaved = left.flatMap((l, i) => [l, right[i]!]);
    const stereo = parseWav(riff(chunk('fmt ', fmtBody(1, 2, 8000, 16)), chunk('data', int16Le(interleaved))));
    assert.deepEqual(
      Array.from(stereo.samples),
      left.map((l, i) => (l + right[i]!) / 2),
    );

    const three = parseWav(riff(chunk('fmt ', fmtBody(1, 3, 8000, 16)), chunk('data', int16Le([300, 600, 900, -3, -6, -9]))));
    assert.deepEqual(Array.from(three.samples), [600, -6]);

    // A trailing partial frame (one sample of a stereo pair) is not a sample.
    const partial = parseWav(riff(chunk('fmt ', fmtBody(1, 2, 8000, 16)), chunk('data', int16Le([10, 20, 30]))));
    assert.deepEqual(Array.from(partial.samples), [15]);
  });

  test('WAVE_FORMAT_EXTENSIBLE takes the format from the SubFormat GUID', () => {
    const pcm = parseWav(riff(chunk('fmt ', extensibleFmtBody(1, 2, 16000, 16)), chunk('data', int16Le([100, 300, -100, -300]))));
    assert.equal(pcm.sampleRateHz, 16000);
    assert.deepEqual(Array.from(pcm.samples), [200, -200]);
    const float = parseWav(riff(chunk('fmt ', extensibleFmtBody(3, 1, 8000, 32)), chunk('data', float32Le([0.5, -0.5]))));
    assert.deepEqual(Array.from(float.samples), [16384, -16384]);
    const pcm24 = parseWav(riff(chunk('fmt ', extensibleFmtBody(1, 1, 8000, 24)), chunk('data', int24Le([256 * 7, -256 * 7]))));
    assert.deepEqual(Array.from(pcm24.samples), [7, -7]);
  });

  test('chunks before and between fmt and data, of odd size with a pad byte, are skipped', () => {
    const data = [1, -2, 3, -4, 32767, -32768];
    const wav = riff(
      chunk('LIST', ascii('abc')), // 3 bytes + pad
      chunk('fmt ', fmtBody(1, 1, 8000, 16)),
      chunk('junk', Uint8Array.of(0x64, 0x61, 0x74, 0x61, 0xff)), // 5 bytes ("data" inside) + pad
      chunk('fact', Uint8Array.of(6, 0, 0, 0)),
      chunk('data', int16Le(data)),
      chunk('id3 ', ascii('x')), // after data: ignored
    );
    // The builder really produced the pad bytes: 12 + (8+4) + (8+16) + (8+6) + (8+4) + (8+12) + (8+2).
    assert.equal(wav.length, 12 + 12 + 24 + 14 + 12 + 20 + 10);
    const { sampleRateHz, samples } = parseWav(wav);
    assert.equal(sampleRateHz, 8000);
    assert.deepEqual(Array.from(samples), data);
  });

  test('an odd-sized 8-bit data chunk is read whole', () => {
    const { samples } = parseWav(riff(chunk('fmt ', fmtBody(1, 1, 8000, 8)), chunk('data', Uint8Array.of(128, 129, 127))));
    assert.deepEqual(Array.from(samples), [0, 256, -256]);
  });

  test('a streaming writer\'s data size (0 or 0xFFFFFFFF) means "to the end of the file"', () => {
    const body = int16Le([5, 6, 7]);
    for (const size of [0, 0xffffffff]) {
      const { samples } = parseWav(riff(chunk('fmt ', fmtBody(1, 1, 8000, 16)), chunk('data', body, size)));
      assert.deepEqual(Array.from(samples), [5, 6, 7], `size field ${size}`);
    }
  });

  test('a WAV inside a larger buffer (non-zero byteOffset) parses the same', () => {
    const wav = encodeWav({ sampleRateHz: 8000, samples: Int16Array.of(1, 2, 3, -4) });
    const big = new Uint8Array(wav.length + 3);
    big.set(wav, 3);
    assert.deepEqual(Array.from(parseWav(big.subarray(3)).samples), [1, 2, 3, -4]);
  });

  describe('errors', () => {
    const fmt = chunk('fmt ', fmtBody(1, 1, 8000, 16));
    const data = chunk('data', int16Le([1, 2]));

    test('not RIFF/WAVE', () => {
      assert.throws(() => parseWav(new Uint8Array(0)), WavFormatError);
      assert.throws(() => parseWav(ascii('RIFF')), WavFormatError);
      const rifx = riff(fmt, data);
      rifx.set(ascii('RIFX'), 0);
      assert.throws(() => parseWav(rifx), WavFormatError);
      const avi = riff(fmt, data);
      avi.set(ascii('AVI '), 8);
      assert.throws(() => parseWav(avi), WavFormatError);
      assert.throws(() => parseWav(ascii('ID3\u0004 this is an mp3 file, not a wav')), WavFormatError);
    });

    test('missing fmt chunk', () => {
      assert.throws(
        () => parseWav(riff(data)),
        (e: unknown) => e instanceof WavFormatError && /fmt/.test(e.message),
      );
    });

    test('missing data chunk', () => {
      assert.throws(
        () => parseWav(riff(fmt)),
        (e: unknown) => e instanceof WavFormatError && /data/.test(e.message),
      );
      assert.throws(() => parseWav(riff(fmt, chunk('LIST', ascii('data')))), WavFormatError);
    });

    test('unsupported encodings', () => {
      for (const [format, bits] of [
        [2, 4], // MS ADPCM
        [6, 8], // A-law
        [1, 12],
        [3, 16],
        [7, 16],
        [0x55, 0], // MP3
      ] as const) {
        assert.throws(
          () => parseWav(riff(chunk('fmt ', fmtBody(format, 1, 8000, bits)), chunk('data', new Uint8Array(8)))),
          WavFormatError,
          `format ${format}, ${bits} bits`,
        );
      }
      assert.throws(() => parseWav(riff(chunk('fmt ', extensibleFmtBody(6, 1, 8000, 8)), chunk('data', new Uint8Array(8)))), WavFormatError);
    });

    test('a fmt chunk shorter than 16 bytes', () => {
      assert.throws(() => parseWav(riff(chunk('fmt ', fmtBody(1, 1, 8000, 16).subarray(0, 14)), data)), WavFormatError);
    });

    test('a file truncated inside its fmt chunk (size says 16, 6 bytes present)', () => {
      // A cut-off download or copy: still a malformed WAV, so a WavFormatError, not a RangeError.
      const truncated = riff(chunk('fmt ', fmtBody(1, 1, 8000, 16))).subarray(0, 12 + 8 + 6);
      assert.throws(() => parseWav(truncated), WavFormatError);
    });
  });

  test('parses the committed test/fixtures/voices/alice.wav as 8000 Hz mono, byte-exact on re-encoding', () => {
    const bytes = readFileSync(`${FIXTURES_DIR}voices/alice.wav`);
    const { sampleRateHz, samples } = parseWav(bytes);
    assert.equal(sampleRateHz, 8000);
    // Find the data chunk by walking the chunks here, independently of parseWav.
    const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    let at = 12;
    let dataAt = -1;
    let dataSize = 0;
    while (at + 8 <= bytes.length) {
      const id = bytes.subarray(at, at + 4).toString('latin1');
      const size = v.getUint32(at + 4, true);
      if (id === 'data') {
        dataAt = at + 8;
        dataSize = size;
        break;
      }
      at += 8 + size + (size & 1);
    }
    assert.ok(dataAt > 0, 'alice.wav has a data chunk');
    assert.equal(samples.length, dataSize / 2);
    assert.ok(samples.length / 8000 > 4 && samples.length / 8000 < 5, `duration ${samples.length / 8000} s`);
    for (let i = 0; i < samples.length; i += 97) assert.equal(samples[i], v.getInt16(dataAt + 2 * i, true));
    assert.deepEqual(encodeWav({ sampleRateHz, samples }), new Uint8Array(bytes));
  });
});

// ---- resample --------------------------------------------------------------------------------

describe('resample', () => {
  const amplitude = 10000;
  const expectedToneDb = 20 * Math.log10(amplitude / Math.SQRT2 / FULL_SCALE);

  test('16 kHz -> 8 kHz keeps a 1 kHz sine within 0.2 dB', () => {
    const input = sine(1000, amplitude, 16000, 32000, 0.3);
    const out = resample(input, 16000, 8000);
    assert.equal(out.length, 16000);
    // One second from the middle, away from the edges.
    const level = toneDbfs(out, 1000, 8000, 4000, 12000);
    assert.ok(Math.abs(level - expectedToneDb) <= 0.2, `1 kHz at ${level.toFixed(3)} dBFS, expected ${expectedToneDb.toFixed(3)}`);
    // And nothing else: total level equals the tone's.
    assert.ok(Math.abs(rmsDbfs(out, 4000, 12000) - expectedToneDb) <= 0.2);
  });

  test('44.1 kHz and 48 kHz -> 8 kHz also keep a 1 kHz sine within 0.2 dB; 8 kHz -> 16 kHz too', () => {
    for (const [from, to] of [
      [44100, 8000],
      [48000, 8000],
      [8000, 16000],
    ] as const) {
      // 1 s in, level read over the middle 0.5 s (500 whole periods).
      const input = sine(1000, amplitude, from, from, 1.1);
      const out = resample(input, from, to);
      const level = toneDbfs(out, 1000, to, to / 4, (3 * to) / 4);
      assert.ok(Math.abs(level - expectedToneDb) <= 0.2, `${from} -> ${to}: ${level.toFixed(3)} dBFS`);
    }
  });

  test('a 5 kHz sine at 16 kHz (above the 4 kHz Nyquist of 8 kHz) is attenuated by >= 40 dB', () => {
    const input = sine(5000, amplitude, 16000, 32000, 0.7);
    const inputDb = rmsDbfs(input, 8000, 24000);
    const out = resample(input, 16000, 8000);
    const outDb = rmsDbfs(out, 4000, 12000);
    assert.ok(inputDb - outDb >= 40, `attenuation ${(inputDb - outDb).toFixed(1)} dB`);
    // It would alias to 8000 - 5000 = 3 kHz: that tone in particular is absent.
    assert.ok(inputDb - toneDbfs(out, 3000, 8000, 4000, 12000) >= 40);
  });

  test('8 kHz -> 8 kHz is an exact copy (a new array)', () => {
    const random = prng(8);
    const input = Int16Array.from({ length: 1000 }, () => Math.floor(random() * 65536) - 32768);
    const out = resample(input, 8000, 8000);
    assert.deepEqual(out, input);
    assert.notEqual(out, input);
    out[0] = out[0]! ^ 1;
    assert.notEqual(out[0], input[0], 'the copy does not share memory with the input');
  });

  test('output length is floor(n * to / from)', () => {
    for (const [from, to] of [
      [16000, 8000],
      [44100, 8000],
      [22050, 8000],
      [48000, 8000],
      [11025, 8000],
      [8000, 16000],
      [8000, 44100],
    ] as const) {
      for (const n of [0, 1, 2, 5, 7, 99, 100, 441, 1000, 1001, 4410, 4411]) {
        const expected = Math.floor((n * to) / from);
        assert.equal(resample(new Int16Array(n), from, to).length, expected, `${n} samples ${from} -> ${to}`);
      }
    }
  });

  test('DC gain is 1: a constant stays the same constant away from the edges', () => {
    for (const [from, to] of [
      [16000, 8000],
      [44100, 8000],
      [48000, 8000],
      [8000, 16000],
    ] as const) {
      for (const value of [12345, -20000, 1]) {
        const out = resample(new Int16Array(from / 5).fill(value), from, to); // 200 ms
        const margin = Math.ceil(to / 100); // 10 ms each side
        for (let i = margin; i < out.length - margin; i++) {
          if (out[i] !== value) assert.fail(`${from} -> ${to}: sample ${i} is ${out[i]}, expected ${value}`);
        }
      }
    }
  });
});
