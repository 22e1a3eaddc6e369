import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { clip16 } from '../../src/audio/format.js';
import { clipSum, mixDown, mixMinus } from '../../src/audio/mix.js';

describe('clip16', () => {
  test('passes the 16-bit range through and limits what lies past it', () => {
    assert.deepEqual([-32768, -1, 0, 1, 32767].map(clip16), [-32768, -1, 0, 1, 32767]);
    assert.deepEqual([-32769, -100000, 32768, 100000].map(clip16), [-32768, -32768, 32767, 32767]);
  });

  test('the mix functions clip once, at the end: a loud room still cancels the listener exactly', () => {
    const sum = Int32Array.of(50000, -50000, 40000, 1000);
    const own = Int16Array.of(30000, -30000, 0, 1000);
    const out = new Int16Array(4);
    mixMinus(sum, own, out);
    assert.deepEqual(Array.from(out), [20000, -20000, 32767, 0]);
    clipSum(sum, out);
    assert.deepEqual(Array.from(out), [32767, -32768, 32767, 1000]);
    mixDown(sum, own, Float32Array.of(0.5, 0.5, 0.5, 0.5), 1, out);
    assert.deepEqual(Array.from(out), [10000, -10000, 20000, 0]);
    mixDown(sum, null, null, 2, out);
    assert.deepEqual(Array.from(out), [32767, -32768, 32767, 2000]);
  });
});
