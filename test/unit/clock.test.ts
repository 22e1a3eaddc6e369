/**
 * The ManualClock's timers (src/timing/clock.ts): what every manual-clock test relies on. Timers
 * fire as the clock passes their due time, in due order, with the clock reading that due time;
 * a cleared one never fires; `jump` moves time without firing (a paused process).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { delay, ManualClock } from '../../src/timing/clock.js';

describe('ManualClock timers', () => {
  test('fire in due order (ties in the order set), each with the clock at its due time; not before', () => {
    const clock = new ManualClock(100);
    const fired: string[] = [];
    clock.setTimeout(() => fired.push(`b@${clock.nowMs()}`), 30);
    clock.setTimeout(() => fired.push(`a@${clock.nowMs()}`), 10);
    clock.setTimeout(() => fired.push(`c@${clock.nowMs()}`), 30);
    clock.advance(9);
    assert.deepEqual(fired, []);
    clock.advance(1);
    assert.deepEqual(fired, ['a@110']);
    clock.advance(100);
    assert.deepEqual(fired, ['a@110', 'b@130', 'c@130']);
    assert.equal(clock.nowMs(), 210, 'then the clock is where it was sent');
    assert.equal(clock.pendingTimers, 0);
  });

  test('a timer set by a firing timer fires in the same advance when it falls due within it', () => {
    const clock = new ManualClock(0);
    const fired: number[] = [];
    const every = (ms: number) => clock.setTimeout(() => (fired.push(clock.nowMs()), every(ms)), ms);
    every(25);
    clock.advance(100);
    assert.deepEqual(fired, [25, 50, 75, 100]);
  });

  test('a cleared timer never fires; clearing twice or a fired one is harmless', () => {
    const clock = new ManualClock(0);
    let fired = 0;
    const handle = clock.setTimeout(() => fired++, 10);
    clock.clearTimeout(handle);
    clock.clearTimeout(handle);
    clock.advance(100);
    assert.equal(fired, 0);
  });

  test('jump moves time without firing; the overdue timers run at the next advance', () => {
    const clock = new ManualClock(0);
    const fired: number[] = [];
    clock.setTimeout(() => fired.push(clock.nowMs()), 10);
    clock.jump(1000);
    assert.equal(clock.nowMs(), 1000);
    assert.deepEqual(fired, []);
    clock.advance(0);
    assert.deepEqual(fired, [1000], 'late, at the time the process woke');
  });

  test('delay() resolves when the clock passes it', async () => {
    const clock = new ManualClock(0);
    let done = false;
    void delay(clock, 50).then(() => (done = true));
    clock.advance(49);
    await Promise.resolve();
    assert.equal(done, false);
    clock.advance(1);
    await Promise.resolve();
    assert.equal(done, true);
  });
});
