/**
 * The mixer clock alone, on a manual clock and fake timers: each tick enforces ownership before it
 * mixes, mixes before it sends, and records its parts in the health monitor and the capacity sampler.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createMixerClock } from '../../src/app/mixerClock.js';
import { HealthMonitor } from '../../src/observability/health.js';
import { ManualClock } from '../../src/timing/clock.js';

test('a tick: enforce, mix (at its deadline), send; durations to health and load', () => {
  const clock = new ManualClock(1000);
  const calls: string[] = [];
  const took: number[] = [];
  const health = new HealthMonitor();
  const mixer = createMixerClock({
    clock,
    health,
    timers: { setTimeout: () => 1, clearTimeout: () => {} },
    ownership: { enforce: (nowMs) => void calls.push(`enforce ${nowMs}`) },
    conference: {
      mix: (deadlineMs) => {
        calls.push(`mix ${deadlineMs}`);
        clock.advance(3);
      },
      send: () => {
        calls.push('send');
        clock.advance(1);
      },
    },
    load: { tickTook: (ms) => void took.push(ms) },
  });
  mixer.ticker.start();
  clock.advance(25); // 5 ms late
  mixer.ticker.runDue();
  assert.deepEqual(calls, ['enforce 1025', 'mix 1020', 'send']);
  assert.deepEqual(took, [4]);
  assert.equal(health.mixMs.max, 3);
  assert.equal(health.sendMs.max, 1);
  assert.equal(health.tickMs.max, 4, "the ticker records into the monitor's histogram");
  assert.equal(health.latenessMs.max, 5);
  assert.equal(mixer.ticker.tickDuration, health.tickMs);
  mixer.ticker.stop();
});
