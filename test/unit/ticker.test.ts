/**
 * The mixer's 20 ms clock (src/timing/ticker.ts), driven by a ManualClock and a fake Timers that
 * records the one pending callback and its delay; the test moves the clock and fires it. Ticks
 * must land on the absolute grid start + 20 * n whatever the wake-up lateness, catch up a bounded
 * number of missed ticks, skip and resync beyond that, and stop cleanly.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { ManualClock, type Timers } from '../../src/timing/clock.js';
import { Ticker, type TickerOptions } from '../../src/timing/ticker.js';
import { prng } from '../helpers/audio.js';

const PERIOD = 20;

interface Pending {
  id: number;
  fn: () => void;
  delayMs: number;
  scheduledAtMs: number;
}

/** A Timers that only records: the test decides when (on the ManualClock) a callback fires. */
class FakeTimers implements Timers {
  readonly pending = new Map<number, Pending>();
  readonly delays: number[] = [];
  readonly cleared: unknown[] = [];
  private nextId = 1;
  constructor(private readonly clock: ManualClock) {}

  setTimeout(fn: () => void, ms: number): unknown {
    const id = this.nextId++;
    this.pending.set(id, { id, fn, delayMs: ms, scheduledAtMs: this.clock.nowMs() });
    this.delays.push(ms);
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.cleared.push(handle);
    this.pending.delete(handle as number);
  }

  /** The single pending timer (the ticker never has more than one). */
  only(): Pending {
    assert.equal(this.pending.size, 1, 'exactly one pending timer');
    return [...this.pending.values()][0]!;
  }

  /** Moves the clock to `lateMs` after the pending timer's due time and fires it. */
  fireLate(lateMs: number): void {
    const timer = this.only();
    this.pending.delete(timer.id);
    this.clock.set(timer.scheduledAtMs + timer.delayMs + lateMs);
    timer.fn();
  }
}

interface Harness {
  clock: ManualClock;
  timers: FakeTimers;
  ticker: Ticker;
  ticks: { deadlineMs: number; index: number; nowMs: number }[];
}

function harness(startMs: number, options: Partial<TickerOptions> = {}): Harness {
  const clock = new ManualClock(startMs);
  const timers = new FakeTimers(clock);
  const ticks: Harness['ticks'] = [];
  const ticker = new Ticker({
    clock,
    periodMs: PERIOD,
    maxCatchUpTicks: 5,
    timers,
    onTick: (deadlineMs, index) => ticks.push({ deadlineMs, index, nowMs: clock.nowMs() }),
    ...options,
  });
  return { clock, timers, ticker, ticks };
}

describe('Ticker', () => {
  test('deadlines are start + 20 * n exactly when every wake-up is 3 ms late', () => {
    const start = 1000;
    const { timers, ticker, ticks } = harness(start);
    ticker.start();
    assert.equal(ticker.isRunning, true);
    assert.equal(timers.only().delayMs, PERIOD, 'first wake-up one period after start');
    for (let n = 1; n <= 200; n++) {
      timers.fireLate(3);
      assert.equal(ticks.length, n, 'one tick per wake-up');
      // The next wake-up is asked for at the next deadline, not 20 ms after this (late) one.
      assert.equal(timers.only().delayMs, PERIOD - 3);
    }
    ticks.forEach((t, n) => {
      assert.equal(t.deadlineMs, start + PERIOD * (n + 1), `deadline of tick ${n}`);
      assert.equal(t.index, n);
      assert.equal(t.nowMs - t.deadlineMs, 3);
    });
    assert.equal(ticker.stats.ticks, 200);
    assert.equal(ticker.stats.lateTicks, 0, '3 ms is under the default threshold of half a period');
    assert.equal(ticker.stats.lastLatenessMs, 3);
    assert.equal(ticker.stats.maxLatenessMs, 3);
    assert.equal(ticker.stats.skippedTicks, 0);
    assert.equal(ticker.stats.resyncs, 0);
  });

  test('a wake-up 59 ms late runs the 3 deadlines that passed at once, all counted late', () => {
    const start = 0;
    const { timers, ticker, ticks } = harness(start);
    ticker.start();
    timers.fireLate(0); // tick at 20, on time
    timers.fireLate(59); // now 99: deadlines 40, 60, 80 have passed; 100 has not
    assert.deepEqual(
      ticks.map((t) => t.deadlineMs),
      [20, 40, 60, 80],
    );
    assert.deepEqual(
      ticks.map((t) => t.index),
      [0, 1, 2, 3],
    );
    assert.equal(ticker.stats.lateTicks, 3, 'lateness 59, 39 and 19 ms are all >= 10 ms');
    assert.equal(ticker.stats.maxLatenessMs, 59);
    assert.equal(ticker.stats.lastLatenessMs, 19);
    assert.equal(timers.only().delayMs, 1, 'next wake-up at the deadline 100');
    timers.fireLate(0);
    assert.equal(ticks.at(-1)!.deadlineMs, 100);
    assert.equal(ticker.stats.skippedTicks, 0);
  });

  test('a wake-up exactly 60 ms late runs 4 ticks (the 4th is due now), 3 of them late', () => {
    const { timers, ticker, ticks } = harness(0);
    ticker.start();
    timers.fireLate(60); // now 80: deadlines 20, 40, 60, 80
    assert.deepEqual(
      ticks.map((t) => t.deadlineMs),
      [20, 40, 60, 80],
    );
    assert.equal(ticker.stats.lateTicks, 3, 'lateness 60, 40, 20 late; 0 on time');
    assert.equal(ticker.stats.lastLatenessMs, 0);
    assert.equal(timers.only().delayMs, PERIOD);
  });

  test('a custom lateThresholdMs decides what counts late', () => {
    const { timers, ticker } = harness(0, { lateThresholdMs: 3 });
    ticker.start();
    timers.fireLate(2);
    timers.fireLate(3);
    timers.fireLate(4);
    assert.equal(ticker.stats.lateTicks, 2);
  });

  test('a wake-up 1 s late runs maxCatchUpTicks + 1 ticks, skips the rest, resyncs once, then stays on the grid', () => {
    const start = 500;
    const maxCatchUpTicks = 5;
    const { clock, timers, ticker, ticks } = harness(start, { maxCatchUpTicks });
    ticker.start();
    timers.fireLate(0); // tick 0 at 520
    timers.fireLate(1000); // now 1540: deadlines 540 .. 1540 (51 of them) have passed
    const passed = 1000 / PERIOD + 1;
    const ran = ticks.slice(1);
    assert.equal(ran.length, maxCatchUpTicks + 1);
    assert.equal(ticker.stats.skippedTicks, passed - (maxCatchUpTicks + 1));
    assert.equal(ticker.stats.resyncs, 1);
    // The ticks that ran are the latest ones, on the grid, ending at now.
    assert.deepEqual(
      ran.map((t) => t.deadlineMs),
      Array.from({ length: maxCatchUpTicks + 1 }, (_, i) => clock.nowMs() - PERIOD * (maxCatchUpTicks - i)),
    );
    for (const t of ran) {
      assert.equal((t.deadlineMs - start) % PERIOD, 0);
      assert.equal(t.index, (t.deadlineMs - start) / PERIOD - 1, 'index keeps counting grid positions');
    }
    // Afterwards, on time again: deadlines continue 20 ms apart from the resynced point.
    assert.equal(timers.only().delayMs, PERIOD);
    for (let n = 0; n < 10; n++) timers.fireLate(2);
    const after = ticks.slice(1 + maxCatchUpTicks + 1);
    assert.deepEqual(
      after.map((t) => t.deadlineMs),
      Array.from({ length: 10 }, (_, i) => 1540 + PERIOD * (i + 1)),
    );
    assert.equal(ticker.stats.resyncs, 1);
    assert.equal(ticker.stats.ticks + ticker.stats.skippedTicks, Math.floor((clock.nowMs() - start) / PERIOD));
  });

  test('boundary: exactly maxCatchUpTicks + 1 due ticks all run; one more and one is skipped', () => {
    const maxCatchUpTicks = 5;
    const exact = harness(0, { maxCatchUpTicks });
    exact.ticker.start();
    exact.timers.fireLate(PERIOD * maxCatchUpTicks); // deadlines 20 .. 120: 6 due
    assert.equal(exact.ticks.length, maxCatchUpTicks + 1);
    assert.equal(exact.ticker.stats.skippedTicks, 0);
    assert.equal(exact.ticker.stats.resyncs, 0);

    const oneMore = harness(0, { maxCatchUpTicks });
    oneMore.ticker.start();
    oneMore.timers.fireLate(PERIOD * (maxCatchUpTicks + 1)); // deadlines 20 .. 140: 7 due
    assert.equal(oneMore.ticks.length, maxCatchUpTicks + 1);
    assert.equal(oneMore.ticks[0]!.deadlineMs, 40, 'the oldest deadline (20) is the one skipped');
    assert.equal(oneMore.ticker.stats.skippedTicks, 1);
    assert.equal(oneMore.ticker.stats.resyncs, 1);
  });

  test('10,000 ticks with random 0-5 ms wake-up lateness: ticks = floor(elapsed / 20), no drift', () => {
    const random = prng(20);
    const start = 12345;
    const { clock, timers, ticker, ticks } = harness(start);
    ticker.start();
    while (ticks.length < 10_000) {
      timers.fireLate(random() * 5);
      assert.equal(ticker.stats.ticks, Math.floor((clock.nowMs() - start) / PERIOD));
    }
    assert.equal(ticks.length, 10_000);
    const last = ticks.at(-1)!;
    assert.equal(last.deadlineMs, start + PERIOD * 10_000, 'the 10,000th deadline is exactly 200 s after start');
    for (let n = 0; n < ticks.length; n += 997) assert.equal(ticks[n]!.deadlineMs, start + PERIOD * (n + 1));
    assert.ok(ticker.stats.maxLatenessMs <= 5);
    assert.equal(ticker.stats.skippedTicks, 0);
    assert.equal(ticker.stats.lateTicks, 0);
  });

  test('random lateness up to 95 ms (catch-up, no skips): still ticks = floor(elapsed / 20)', () => {
    const random = prng(95);
    const start = 0;
    const { clock, timers, ticker } = harness(start, { maxCatchUpTicks: 5 });
    ticker.start();
    for (let wake = 0; wake < 3000; wake++) {
      const before = ticker.stats.ticks;
      timers.fireLate(random() < 0.2 ? random() * 95 : random() * 5);
      assert.ok(ticker.stats.ticks - before <= 6, 'at most maxCatchUpTicks + 1 per wake-up');
      assert.equal(ticker.stats.ticks, Math.floor((clock.nowMs() - start) / PERIOD));
    }
    assert.equal(ticker.stats.skippedTicks, 0);
    assert.equal(ticker.stats.resyncs, 0);
  });

  test('stop() cancels the pending timer and no further ticks run', () => {
    const { clock, timers, ticker, ticks } = harness(0);
    ticker.start();
    timers.fireLate(0);
    timers.fireLate(0);
    const handle = timers.only().id;
    ticker.stop();
    assert.equal(ticker.isRunning, false);
    assert.deepEqual(timers.cleared, [handle]);
    assert.equal(timers.pending.size, 0);
    clock.advance(10_000);
    ticker.runDue(); // even if called directly
    assert.equal(ticks.length, 2);
    assert.equal(ticker.stats.ticks, 2);
    assert.equal(timers.pending.size, 0);
    ticker.stop(); // idempotent
    assert.equal(timers.pending.size, 0);
  });

  test('stop() from inside onTick ends a catch-up at once and schedules nothing', () => {
    const clock = new ManualClock(0);
    const timers = new FakeTimers(clock);
    const deadlines: number[] = [];
    const ticker: Ticker = new Ticker({
      clock,
      periodMs: PERIOD,
      maxCatchUpTicks: 5,
      timers,
      onTick: (deadlineMs) => {
        deadlines.push(deadlineMs);
        if (deadlines.length === 2) ticker.stop();
      },
    });
    ticker.start();
    timers.fireLate(80); // 5 deadlines due
    assert.deepEqual(deadlines, [20, 40]);
    assert.equal(timers.pending.size, 0);
    assert.equal(ticker.isRunning, false);
  });

  test('start() twice keeps a single timer', () => {
    const { timers, ticker } = harness(0);
    ticker.start();
    ticker.start();
    assert.equal(timers.pending.size, 1);
    assert.equal(timers.delays.length, 1);
  });
});
