/**
 * The health monitor alone: the event loop's delay with its sampling interval subtracted (so an
 * idle loop reads ~0, not ~10 ms), CPU time since reset, and the dashboard's per-window CPU % and
 * tick p99, all from fakes (no real loop delay, CPU or time).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { HealthMonitor, LOOP_DELAY_RESOLUTION_MS, type LoopDelayHistogram } from '../../src/observability/health.js';

const MS = 1e6; // ns

/** An event-loop delay histogram that reports what it is told (ns), and what was asked of it. */
function fakeLoop(values: { p50: number; p99: number; max: number; mean: number }) {
  const calls: string[] = [];
  const loop: LoopDelayHistogram = {
    enable: () => (calls.push('enable'), true),
    disable: () => (calls.push('disable'), true),
    reset: () => void calls.push('reset'),
    percentile: (p) => (p === 50 ? values.p50 : p === 99 ? values.p99 : NaN),
    get max() {
      return values.max;
    },
    get mean() {
      return values.mean;
    },
  };
  return { loop, calls };
}

/** process.cpuUsage's contract: the total now, or the difference from `previous`. */
function fakeCpu() {
  const total = { user: 0, system: 0 };
  const cpuUsage = (previous?: NodeJS.CpuUsage) => (previous ? { user: total.user - previous.user, system: total.system - previous.system } : { ...total });
  return { total, cpuUsage };
}

describe('HealthMonitor', () => {
  test('loop delay: the 10 ms sampling interval is subtracted, never below 0', () => {
    const { loop } = fakeLoop({ p50: 10.2 * MS, p99: 13.5 * MS, max: 42 * MS, mean: 9.9 * MS });
    const health = new HealthMonitor({ loopDelay: loop });
    assert.equal(LOOP_DELAY_RESOLUTION_MS, 10);
    assert.deepEqual(health.loopDelayMs(), { p50: 0.2, p99: 3.5, max: 32, mean: 0 });
  });

  test("start, stop and reset reach the sampler; reset zeroes CPU and the tick parts, not the ticker's own", () => {
    const { loop, calls } = fakeLoop({ p50: 0, p99: 0, max: 0, mean: 0 });
    const { total, cpuUsage } = fakeCpu();
    total.user = 5000;
    const health = new HealthMonitor({ loopDelay: loop, cpuUsage });
    total.user += 700;
    total.system += 300;
    assert.deepEqual(health.cpuMicros(), { user: 700, system: 300 });
    health.mixMs.record(1);
    health.sendMs.record(1);
    health.tickMs.record(2);
    health.start();
    health.reset();
    health.stop();
    assert.deepEqual(calls, ['enable', 'reset', 'disable']);
    assert.deepEqual(health.cpuMicros(), { user: 0, system: 0 });
    assert.equal(health.mixMs.count, 0);
    assert.equal(health.sendMs.count, 0);
    assert.equal(health.tickMs.count, 1, 'the ticker resets its histograms with its counters');
  });

  test('window(): CPU % and tick p99 since the previous call', () => {
    const { loop } = fakeLoop({ p50: 0, p99: 0, max: 0, mean: 0 });
    const { total, cpuUsage } = fakeCpu();
    let nowMs = 0;
    const health = new HealthMonitor({ loopDelay: loop, cpuUsage, nowMs: () => nowMs });
    for (let i = 0; i < 100; i++) health.tickMs.record(9);
    assert.deepEqual(health.window(), { cpuPercent: 0, tickP99Ms: 0 }, 'the first call starts the window');
    nowMs += 1000;
    total.user += 250_000; // 250 ms of CPU in 1000 ms
    for (let i = 0; i < 100; i++) health.tickMs.record(0.1);
    const w = health.window();
    assert.equal(w.cpuPercent, 25);
    assert.ok(w.tickP99Ms >= 0.1 && w.tickP99Ms < 0.2, `the 9 ms ticks of the window before are not in this one (${w.tickP99Ms})`);
    nowMs += 1000;
    assert.deepEqual(health.window(), { cpuPercent: 0, tickP99Ms: 0 }, 'no ticks, no CPU');
  });
});
