import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Limiter } from '../../src/audio/limiter.js';

const FS = 32768;
const lin = (db: number) => FS * 10 ** (db / 20);
const db = (g: number) => 20 * Math.log10(g);

describe('limiter curve', () => {
  const l = new Limiter();
  test('unity at and below -0.75 dBFS', () => {
    for (const p of [0, 100, lin(-20), lin(-0.75)]) assert.equal(l.targetGain(p), 1);
  });
  test('soft knee, then 5:1, continuous, output under the ceiling', () => {
    let previousOut = -Infinity;
    for (let inDb = -0.7; inDb <= 30; inDb += 0.05) {
      const outDb = inDb + db(l.targetGain(lin(inDb)));
      assert.ok(outDb >= previousOut - 1e-9, `monotonic at ${inDb.toFixed(2)}`);
      assert.ok(outDb <= -0.1 + 1e-9, `under the ceiling at ${inDb.toFixed(2)}: ${outDb}`);
      previousOut = outDb;
    }
    // In the knee's first dB the slope is near 1 (no corner), past it 1/5 until the ceiling.
    const out = (x: number) => x + db(l.targetGain(lin(x)));
    assert.ok(out(-0.6) - out(-0.7) > 0.09);
    assert.ok(Math.abs(out(-0.75 + 6.5) - out(-0.75 + 6) - 0.5 / 5) < 0.01 || out(-0.75 + 6.5) >= -0.1 - 1e-9);
  });
});

describe('limiter over frames', () => {
  test('a frame whose sources cannot reach full scale is untouched (returns true, writes nothing)', () => {
    const l = new Limiter();
    const gains = new Float32Array(160).fill(7);
    assert.equal(l.process(32767, 160 * 1e8, gains), true);
    assert.ok(gains.every((g) => g === 7));
  });

  test('attack in 5 ms, hold 0.5 s, then release at most 1 dB per frame back to exactly 1', () => {
    const l = new Limiter();
    const gains = new Float32Array(160);
    // Ten independent sources at 10000 peak / 5000 RMS: estimate min(100000, 4.5*sqrt(10)*5000).
    const peaks = 100_000;
    const energies = 10 * 160 * 5000 ** 2;
    assert.equal(l.process(peaks, energies, gains), false);
    const target = l.targetGain(l.peakEstimate(peaks, energies, 160));
    assert.ok(target < 0.5);
    assert.ok(gains[0]! > target && gains[39]! === Math.fround(target) && gains[159] === Math.fround(target), 'ramped in over 40 samples');
    let frames = 0;
    let last = l.gain;
    while (l.gain < 1 && frames < 1000) {
      l.process(0, 0, gains);
      frames++;
      if (frames <= 25) assert.equal(l.gain, last, `held during frame ${frames}`);
      else assert.ok(db(l.gain) - db(last) <= 1 + 1e-9, 'at most 1 dB per frame');
      last = l.gain;
    }
    assert.equal(l.gain, 1, 'lands exactly on unity');
    assert.ok(frames >= 25 + Math.floor(-db(target)), `took ${frames} frames`);
    assert.equal(l.process(0, 0, gains), true, 'then untouched again');
  });

  test('the peak estimate: exact for one source, RMS-based for many, never above their sum', () => {
    const l = new Limiter();
    assert.equal(l.peakEstimate(30000, 160 * 30000 ** 2, 160), 0, 'one full-scale source cannot clip');
    assert.equal(l.peakEstimate(40000, 160 * 2 * 20000 ** 2, 160), 40000, 'two in phase: the sum of peaks');
    const many = l.peakEstimate(20 * 20000, 160 * 20 * 10000 ** 2, 160);
    assert.ok(Math.abs(many - 4.5 * Math.sqrt(20) * 10000) < 1e-6);
  });
});
