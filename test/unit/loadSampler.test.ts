/**
 * The capacity model's adapter (src/timing/loadSampler.ts): it feeds Capacity every interval with
 * the ticks' share and the set-ups, answers for the next call with every seat taken plus one, and
 * says once when admission starts and once when it stops refusing.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Capacity } from '../../src/timing/capacity.js';
import { LoadSampler } from '../../src/timing/loadSampler.js';
import { monotonicClock } from '../../src/timing/clock.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test('samples the ticks and set-ups each interval; the next call is judged with every seat plus one; one line per change', async () => {
  const capacity = new Capacity({ budget: 0.5, initialBase: 0, initialK: 1 });
  let seats = 0;
  const changes: boolean[] = [];
  const sampler = new LoadSampler({
    capacity,
    clock: monotonicClock,
    callers: () => 20,
    seatsTaken: () => seats,
    onChange: (overloaded) => changes.push(overloaded),
    intervalMs: 40,
  });
  sampler.start();
  // 20 callers whose ticks take about 20 % of each interval: ~1 % per caller, ~50 fit in 50 %
  // (more where the timer runs late: the share is of the time that really passed).
  for (let i = 0; i < 6; i++) {
    sampler.tickTook(8);
    await sleep(40);
  }
  const held = sampler.callersHeld!;
  assert.ok(held > 20 && held < 200, `held ${held}`);
  seats = held - 1;
  assert.equal(sampler.overloaded, false);
  seats = held;
  assert.equal(sampler.overloaded, true, 'the next call is one more than the seats');
  await sleep(60);
  seats = 0;
  await sleep(60);
  sampler.stop();
  assert.deepEqual(changes, [true, false]);
  assert.equal(sampler.admits(held + 1), false);
  assert.equal(sampler.episodes, 1);
});
