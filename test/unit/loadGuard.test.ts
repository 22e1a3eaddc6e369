import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LoadGuard } from '../../src/timing/loadGuard.js';

test('enters overload at the threshold and leaves only below threshold - hysteresis', () => {
  const guard = new LoadGuard({ threshold: 0.9, hysteresis: 0.1 });
  const states = [0.5, 0.89, 0.9, 0.85, 0.81, 0.8, 0.79, 0.95, 0.2].map((u) => {
    guard.sample(u);
    return guard.overloaded;
  });
  assert.deepEqual(states, [false, false, true, true, true, true, false, true, false]);
  assert.equal(guard.episodes, 2);
  assert.equal(guard.utilization, 0.2);
});

test('sample() says when the state changed, once per change', () => {
  const guard = new LoadGuard({ threshold: 0.5 });
  assert.deepEqual([0.6, 0.7, 0.3, 0.3].map((u) => guard.sample(u)), [true, false, true, false]);
});

test('threshold 0 (or above 1): never overloaded, utilisation still reported', () => {
  for (const threshold of [0, 1.5]) {
    const guard = new LoadGuard({ threshold });
    assert.equal(guard.enabled, false);
    assert.equal(guard.sample(1), false);
    assert.equal(guard.overloaded, false);
    assert.equal(guard.utilization, 1);
  }
});
