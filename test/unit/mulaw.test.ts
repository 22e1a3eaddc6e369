/**
 * G.711 mu-law (src/audio/mulaw.ts) against alawmulaw, the reference implementation, for every
 * code and every 16-bit input, plus the properties G.711 itself defines: the sign bit, monotonic
 * segments with step 2^(e+3) (16-bit scale), +/-32124 full scale, two codes for zero.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import alawmulaw from 'alawmulaw';

import { decodeMulaw, encodeMulaw, MULAW_DECODE, MULAW_ENCODE, MULAW_SILENCE } from '../../src/audio/mulaw.js';
import { prng } from '../helpers/audio.js';

const ref = alawmulaw.mulaw;

/** Small seeded PRNG (mulberry32), so failures reproduce. */
describe('mu-law tables against alawmulaw', () => {
  test('MULAW_DECODE equals mulaw.decodeSample for all 256 codes', () => {
    assert.equal(MULAW_DECODE.length, 256);
    for (let code = 0; code < 256; code++) {
      // `| 0`: the reference returns -0 for 0x7F; a 16-bit sample has one zero.
      assert.equal(MULAW_DECODE[code], ref.decodeSample(code) | 0, `code 0x${code.toString(16)}`);
    }
  });

  test('MULAW_ENCODE equals mulaw.encodeSample(s) & 0xff for every 16-bit input', () => {
    assert.equal(MULAW_ENCODE.length, 65536);
    let mismatches = 0;
    let first = '';
    for (let s = -32768; s <= 32767; s++) {
      const expected = ref.encodeSample(s) & 0xff;
      const actual = MULAW_ENCODE[s & 0xffff];
      if (actual !== expected) {
        if (!first) first = `sample ${s}: got ${actual}, expected ${expected}`;
        mismatches++;
      }
    }
    assert.equal(mismatches, 0, first);
  });

  test('decodeMulaw / encodeMulaw over arrays equal mulaw.decode / mulaw.encode on a random signal', () => {
    const random = prng(0x5eed);
    const n = 10_000;
    const codes = new Uint8Array(n);
    const pcm = new Int16Array(n);
    for (let i = 0; i < n; i++) {
      codes[i] = Math.floor(random() * 256);
      pcm[i] = Math.floor(random() * 65536) - 32768;
    }
    const decoded = new Int16Array(n);
    decodeMulaw(codes, decoded);
    assert.deepEqual(decoded, ref.decode(codes));

    const encoded = new Uint8Array(n);
    encodeMulaw(pcm, encoded);
    assert.deepEqual(encoded, ref.encode(pcm));
  });

  test('decodeMulaw / encodeMulaw write only the first src.length entries of a longer dst', () => {
    const dst = new Int16Array(4).fill(1234);
    decodeMulaw(Uint8Array.of(0xff, 0x80), dst);
    assert.deepEqual(Array.from(dst), [0, ref.decodeSample(0x80), 1234, 1234]);
    const dst8 = new Uint8Array(3).fill(0x55);
    encodeMulaw(Int16Array.of(0, -32768), dst8);
    assert.deepEqual(Array.from(dst8), [0xff, ref.encodeSample(-32768) & 0xff, 0x55]);
  });
});

describe('mu-law as G.711 defines it', () => {
  test('both zeros: 0xFF (+0) and 0x7F (-0) decode to 0, and MULAW_SILENCE is 0xFF', () => {
    assert.equal(MULAW_DECODE[0xff], 0);
    assert.equal(MULAW_DECODE[0x7f], 0);
    assert.equal(MULAW_SILENCE, 0xff);
    assert.equal(MULAW_ENCODE[0], 0xff, 'linear 0 encodes as +0');
    // No other code decodes to 0.
    for (let code = 0; code < 256; code++) {
      if (code !== 0xff && code !== 0x7f) assert.notEqual(MULAW_DECODE[code], 0, `code 0x${code.toString(16)}`);
    }
  });

  test('encode(decode(c)) === c for every code except 0x7F (-0 -> 0 -> +0 = 0xFF)', () => {
    const exceptions: number[] = [];
    for (let code = 0; code < 256; code++) {
      const back = MULAW_ENCODE[MULAW_DECODE[code]! & 0xffff];
      if (back !== code) exceptions.push(code);
    }
    // Linear 0 has one representation, so one of the two mu-law zeros cannot survive the round trip.
    assert.deepEqual(exceptions, [0x7f]);
    assert.equal(MULAW_ENCODE[MULAW_DECODE[0x7f]! & 0xffff], 0xff);
  });

  test('sign: codes 0x00..0x7F are negative (or -0), 0x80..0xFF positive (or +0), and c, c^0x80 are opposites', () => {
    for (let code = 0; code < 0x80; code++) {
      assert.ok(MULAW_DECODE[code]! <= 0, `code 0x${code.toString(16)} should be <= 0`);
      assert.ok(MULAW_DECODE[code | 0x80]! >= 0, `code 0x${(code | 0x80).toString(16)} should be >= 0`);
      assert.equal(MULAW_DECODE[code]!, -MULAW_DECODE[code | 0x80]! | 0);
    }
  });

  test('monotonic: magnitude strictly decreases from 0x00 to 0x7F and from 0x80 to 0xFF', () => {
    for (let code = 1; code < 0x80; code++) {
      assert.ok(MULAW_DECODE[code]! > MULAW_DECODE[code - 1]!, `negative half at 0x${code.toString(16)}`);
      assert.ok(MULAW_DECODE[0x80 + code]! < MULAW_DECODE[0x80 + code - 1]!, `positive half at 0x${(0x80 + code).toString(16)}`);
    }
  });

  test('full scale is +/-32124 (G.711: 8031 on the 14-bit scale, times 4)', () => {
    assert.equal(MULAW_DECODE[0x80], 8031 * 4);
    assert.equal(MULAW_DECODE[0x00], -8031 * 4);
  });

  test('eight segments of 16 codes; step within segment e is 2^(e+3) on the 16-bit scale', () => {
    // Positive code c = 0xFF - m, m = 16 * e + mantissa (bits inverted on the wire).
    for (let m = 1; m < 128; m++) {
      const e = m >> 4;
      if ((m & 15) === 0) continue; // segment boundary
      const step = MULAW_DECODE[0xff - m]! - MULAW_DECODE[0xff - m + 1]!;
      assert.equal(step, 1 << (e + 3), `m=${m}`);
    }
    // Values are interval midpoints, so across a segment boundary the gap is half of each
    // neighbouring step: (2^(e+3) + 2^(e+4)) / 2 = 12 * 2^e. Segment 0 starts at 0.
    assert.equal(MULAW_DECODE[0xff], 0);
    for (let e = 0; e < 7; e++) {
      const lastOfE = MULAW_DECODE[0xff - (16 * e + 15)]!;
      const firstOfNext = MULAW_DECODE[0xff - 16 * (e + 1)]!;
      assert.equal(firstOfNext - lastOfE, 12 << e, `boundary after segment ${e}`);
    }
  });

  test('encoding quantises to the nearest-interval midpoint: error <= half a step, clipping beyond', () => {
    let previous = -Infinity;
    for (let s = -32768; s <= 32767; s++) {
      const code = MULAW_ENCODE[s & 0xffff]!;
      const back = MULAW_DECODE[code]!;
      // Reconstruction never decreases as the input increases.
      assert.ok(back >= previous, `decode(encode(${s})) = ${back} < ${previous}`);
      previous = back;
      // Biased magnitude |s| + 132 above 32635 is clipped (G.711's 8159 on the 14-bit scale).
      if (Math.abs(s) + 132 > 32635) {
        assert.equal(Math.abs(back), 32124, `clipped input ${s}`);
        continue;
      }
      const exponent = ((~code & 0xff) >> 4) & 7;
      const halfStep = 1 << (exponent + 2);
      if (Math.abs(back - s) > halfStep) assert.fail(`input ${s}: decoded ${back}, error > ${halfStep}`);
      // Sign is kept (the two zeros aside).
      if (s > 0) assert.ok(code >= 0x80, `positive ${s} -> 0x${code.toString(16)}`);
      if (s < 0) assert.ok(code < 0x80, `negative ${s} -> 0x${code.toString(16)}`);
    }
  });
});
