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

test('within a stretch of work with no pause the first mark stands, for 200 ms at most', () => {
  const clock = new ManualClock(1000);
  let idleMs = 50;
  const busy = new LoopBusySince(() => idleMs);
  busy.mark(clock.nowMs()); // a webhook at 1000
  clock.advance(30);
  busy.mark(clock.nowMs()); // the tick at 1030, the loop busy all along
  assert.equal(busy.sinceMs(), 1000, 'frames read now may have waited since the webhook');
  clock.advance(180);
  busy.mark(clock.nowMs()); // 210 ms of work without a pause: saturated, the stretch starts again
  assert.equal(busy.sinceMs(), 1210);
  idleMs += 1; // a pause
  clock.advance(10);
  busy.mark(clock.nowMs());
  assert.equal(busy.sinceMs(), 1220);
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
