/**
 * The capacity model (src/timing/capacity.ts, issue 13), fed with seconds recorded from the server's
 * /health while the benchmark dialled 200 callers 16 at a time into a default server on a 2-core VM
 * (rooms of 5; load.busyPercent, load.tickPercent and participants, one line a second).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Capacity, type CapacitySample } from '../../src/timing/capacity.js';

/** [busy %, tick %, callers before, callers after, set-ups] for each recorded second. */
type Row = [number, number, number, number, number];
const sample = ([busy, tick, before, after, setups]: Row): CapacitySample => ({
  busy: busy / 100,
  tick: tick / 100,
  callersBefore: before,
  callersAfter: after,
  setups,
});

/** The burst: 179 calls set up in the first second, the last 21 in the next; then steady. */
const BURST: Row[] = [
  [55.7, 5.7, 0, 179, 358],
  [42.8, 21.0, 179, 200, 42],
];
const STEADY_200: Row[] = [
  [33.3, 17.9, 200, 200, 0],
  [50.9, 25.6, 200, 200, 0],
  [38.1, 18.3, 200, 200, 0],
  [43.0, 26.1, 200, 200, 0],
  [51.5, 26.0, 200, 200, 0],
  [48.9, 24.3, 200, 200, 0],
  [48.1, 24.5, 200, 200, 0],
  [49.5, 32.8, 200, 200, 0],
];

test('a burst of set-ups that fills the loop is not taken for load: the 200 calls are admitted as they come', () => {
  const capacity = new Capacity({ budget: 0.9 });
  let admitted = 0;
  // 16 at a time: the calls ask one by one, the seconds' samples arrive between them.
  for (let callers = 1; callers <= 179; callers++) if (capacity.admits(callers)) admitted++;
  capacity.sample(sample(BURST[0]!));
  for (let callers = 180; callers <= 200; callers++) if (capacity.admits(callers)) admitted++;
  capacity.sample(sample(BURST[1]!));
  assert.equal(admitted, 200);
  assert.equal(capacity.episodes, 0);
  // The old guard's figure: 55.7 % busy with 179 callers would have read as 100 % at 358 callers.
  assert.ok(capacity.utilization < 0.9);
});

test('learns from steady seconds: 200 callers at 43 % busy and 24 % in ticks project about 370 held within 90 %', () => {
  const capacity = new Capacity({ budget: 0.9 });
  for (const row of [...BURST, ...STEADY_200]) capacity.sample(sample(row));
  const k = capacity.mediaToTickRatio;
  assert.ok(k > 1.7 && k < 2.0, `media/tick ratio ${k}`);
  const held = capacity.callersHeld;
  assert.ok(held > 300 && held < 450, `held ${held}`);
  assert.equal(capacity.fits(held), true);
  assert.equal(capacity.fits(held + 1), false);
  // The projection at today's load is what the loop shows.
  const now = capacity.projectedBusy(200);
  assert.ok(now > 0.4 && now < 0.55, `projected ${now}`);
});

test('refuses only when the steady state with the new call would not fit, and counts one episode per refusing spell', () => {
  const capacity = new Capacity({ budget: 0.9 });
  for (const row of [...BURST, ...STEADY_200]) capacity.sample(sample(row));
  const held = capacity.callersHeld;
  assert.deepEqual(
    [held - 1, held, held + 1, held + 2, held, held + 1].map((n) => capacity.admits(n)),
    [true, true, false, false, true, false],
  );
  assert.equal(capacity.episodes, 2);
});

test('a machine twice as slow per caller (ticks twice as long) holds half as many', () => {
  const fast = new Capacity({ budget: 0.9 });
  const slow = new Capacity({ budget: 0.9 });
  for (const row of STEADY_200) {
    fast.sample(sample(row));
    slow.sample(sample([row[0] * 2 - 2, row[1] * 2, row[2], row[3], row[4]]));
  }
  const ratio = slow.callersHeld / fast.callersHeld;
  assert.ok(ratio > 0.4 && ratio < 0.6, `slow/fast ${ratio}`);
});

test('seconds with set-ups may lower the tick cost per caller, never raise it, and leave the media/tick ratio alone', () => {
  const capacity = new Capacity({ budget: 0.9, initialK: 2, initialPerCallerTick: 0.0005 });
  // 100 callers, a second nearly all busy with 60 set-ups and its ticks long (joins, beeps): no change.
  capacity.sample(sample([98, 10, 100, 100, 60]));
  assert.equal(capacity.mediaToTickRatio, 2);
  assert.ok(Math.abs(capacity.projectedBusy(100) - (0.02 + 2 * 0.0005 * 100)) < 1e-9);
  assert.equal(capacity.isMeasured, false);
  // A burst second whose ticks were cheaper than the starting figure: the estimate comes down.
  capacity.sample(sample([60, 3, 100, 100, 60]));
  assert.ok(Math.abs(capacity.projectedBusy(100) - (0.02 + 2 * 0.00046 * 100)) < 1e-9);
  // The same second without set-ups is the media path's own cost: ratio and tick cost move to it.
  capacity.sample(sample([98, 10, 100, 100, 0]));
  assert.equal(capacity.isMeasured, true);
  assert.ok(capacity.mediaToTickRatio > 2.5);
  assert.ok(Math.abs(capacity.projectedBusy(100) - (0.02 + capacity.mediaToTickRatio * 0.001 * 100)) < 1e-9);
});

test('a saturated steady loop refuses the next call', () => {
  const capacity = new Capacity({ budget: 0.9 });
  for (let i = 0; i < 10; i++) capacity.sample(sample([100, 40, 600, 600, 0]));
  assert.equal(capacity.fits(601), false);
  assert.ok(capacity.callersHeld < 600, `held ${capacity.callersHeld}`);
});

test('before any measurement the starting figures hold 733 (the first burst comes before any sample); few callers say nothing of the cost per caller; no callers and no set-ups teach the idle base', () => {
  const capacity = new Capacity({ budget: 0.9, initialBase: 0.02 });
  assert.equal(capacity.isMeasured, false);
  assert.equal(capacity.callersHeld, 733);
  capacity.sample(sample([30, 1, 3, 3, 0]));
  assert.equal(capacity.isMeasured, false);
  assert.equal(capacity.callersHeld, 733);
  for (let i = 0; i < 30; i++) capacity.sample(sample([5, 0.5, 0, 0, 0]));
  assert.ok(Math.abs(capacity.projectedBusy(0) - 0.05) < 0.001);
});

test('budget 0 (or above 1): never refuses; utilisation still reported', () => {
  for (const budget of [0, 1.5]) {
    const capacity = new Capacity({ budget });
    capacity.sample(sample([100, 50, 500, 500, 0]));
    assert.equal(capacity.enabled, false);
    assert.equal(capacity.admits(100_000), true);
    assert.equal(capacity.callersHeld, Infinity);
    assert.equal(capacity.utilization, 1);
  }
});
