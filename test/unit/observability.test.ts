/**
 * Issue 7: the pieces behind /metrics and /ready, with literal inputs and a manual clock: the
 * tick histogram's cumulative bucket counts, and readiness telling a stuck mixer clock, a closed
 * database and a shutdown apart.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ReadinessProbe } from '../../src/observability/readiness.js';
import { DurationHistogram } from '../../src/timing/histogram.js';
import type { Ticker } from '../../src/timing/ticker.js';
import type { RoomDirectory } from '../../src/rooms/directory.js';

describe('DurationHistogram.countAtMost (Prometheus buckets)', () => {
  test('cumulative counts at bucket bounds, all records at or past the maximum', () => {
    const h = new DurationHistogram();
    for (const ms of [0.01, 0.2, 0.2, 0.9, 3, 12]) h.record(ms);
    assert.equal(h.countAtMost(0.005), 0);
    assert.equal(h.countAtMost(0.1), 1);
    assert.equal(h.countAtMost(0.25), 3);
    assert.equal(h.countAtMost(1), 4);
    assert.equal(h.countAtMost(5), 5);
    assert.equal(h.countAtMost(12), 6);
    assert.equal(h.countAtMost(50), 6);
    assert.ok(Math.abs(h.sum - 16.31) < 1e-9);
  });
});

describe('ReadinessProbe', () => {
  const make = (over: { running?: boolean; lateness?: number; count?: () => Promise<number> } = {}) => {
    let now = 0;
    const ticker = { isRunning: over.running ?? true, stats: { ticks: 0, lastLatenessMs: over.lateness ?? 0 } } as unknown as Ticker & {
      stats: { ticks: number };
    };
    const directory = { count: over.count ?? (async () => 3) } as unknown as RoomDirectory;
    let shuttingDown = false;
    const probe = new ReadinessProbe({ ticker, directory, isShuttingDown: () => shuttingDown, nowMs: () => now });
    return { probe, ticker, advance: (ms: number) => (now += ms), shutDown: () => (shuttingDown = true) };
  };

  test('ready while the clock ticks; not ready once no tick came for over a second', async () => {
    const p = make();
    p.ticker.stats.ticks = 10;
    assert.equal((await p.probe.check()).ready, true);
    p.advance(500);
    p.ticker.stats.ticks = 35;
    assert.equal((await p.probe.check()).ready, true);
    p.advance(1200); // no new tick
    const stuck = await p.probe.check();
    assert.equal(stuck.ready, false);
    assert.match(stuck.checks.mixerClock.detail, /no tick for 1200 ms/);
  });

  test('not ready: clock stopped, database failing, shutting down', async () => {
    assert.equal((await make({ running: false }).probe.check()).checks.mixerClock.ok, false);
    const db = await make({ count: () => Promise.reject(new Error('The database connection is not open')) }).probe.check();
    assert.deepEqual([db.ready, db.checks.database.detail], [false, 'The database connection is not open']);
    const p = make();
    p.shutDown();
    const r = await p.probe.check();
    assert.deepEqual([r.ready, r.checks.shutdown.ok, r.checks.mixerClock.ok, r.checks.database.ok], [false, false, true, true]);
  });
});
