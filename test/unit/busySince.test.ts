import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LoopBusySince } from '../../src/timing/busySince.js';
import { ManualClock } from '../../src/timing/clock.js';

test('the mark while the loop has not paused since; null once it has, and before any mark', () => {
  const clock = new ManualClock(1000);
  let idleMs = 50;
  const busy = new LoopBusySince(() => idleMs);
  assert.equal(busy.sinceMs(), null, 'no mark yet');
  busy.mark(clock.nowMs());
  clock.advance(12);
  idleMs += 0.05; // a poll that found work waiting
  assert.equal(busy.sinceMs(), 1000);
  idleMs += 3; // the loop waited for something: not busy since the mark
  assert.equal(busy.sinceMs(), null);
  clock.advance(8);
  busy.mark(clock.nowMs());
  assert.equal(busy.sinceMs(), 1020);
});

test('with the real event loop: busy since the mark while this code runs, null after a wait', async () => {
  const busy = new LoopBusySince();
  const markedAt = performance.now();
  busy.mark(markedAt);
  const end = markedAt + 20;
  while (performance.now() < end) {
    // busy
  }
  const since = busy.sinceMs();
  assert.ok(since !== null && since <= markedAt, `busy since the mark (${since})`);
  await new Promise((resolve) => setTimeout(resolve, 30));
  assert.equal(busy.sinceMs(), null, 'the loop waited 30 ms for the timer');
});
