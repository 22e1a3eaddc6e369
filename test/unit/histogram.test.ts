import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DurationHistogram } from '../../src/timing/histogram.js';
import { prng } from '../helpers/audio.js';

test('percentiles are within one bucket (4 %) of the exact order statistics', () => {
  const h = new DurationHistogram();
  const rand = prng(3);
  const values = Array.from({ length: 20_000 }, () => 0.01 + rand() * rand() * 30);
  for (const v of values) h.record(v);
  const sorted = [...values].sort((a, b) => a - b);
  for (const f of [0.1, 0.5, 0.9, 0.99, 0.999]) {
    const exact = sorted[Math.ceil(f * sorted.length) - 1]!;
    const got = h.percentile(f);
    assert.ok(got >= exact && got <= exact * 1.041, `p${f * 100}: ${got} vs exact ${exact}`);
  }
  assert.equal(h.count, values.length);
  assert.equal(h.max, sorted.at(-1));
  assert.ok(Math.abs(h.mean - values.reduce((a, b) => a + b, 0) / values.length) < 1e-9);
});

test('empty, zero, huge, and reset', () => {
  const h = new DurationHistogram();
  assert.equal(h.percentile(0.99), 0);
  h.record(0);
  h.record(1e9);
  assert.equal(h.percentile(1), 1e9, 'capped by the true max');
  assert.ok(h.percentile(0.5) <= 0.001);
  h.reset();
  assert.deepEqual(h.summary(), { count: 0, p50: 0, p99: 0, max: 0, mean: 0 });
});
