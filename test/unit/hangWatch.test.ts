/**
 * The launcher's watch for a frozen node (tools/cluster/hangWatch.ts, issue 16 item 5) on a
 * ManualClock: a node that answers is never killed, one that stops answering is killed once at
 * the threshold (to one probe interval), whatever its probes do (refused, or never answered).
 * test/integration/cluster.serial.test.ts does it with a real node under kill -STOP.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ManualClock } from '../../src/timing/clock.js';
import { watchForHang } from '../../tools/cluster/hangWatch.js';

const HUNG_AFTER_MS = 5000;
const INTERVAL_MS = 250;

/** Lets the probe's promise (and its .then) run; no time passes on the clock. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Advances the clock in probe intervals, letting each probe's answer arrive. */
async function run(clock: ManualClock, ms: number): Promise<void> {
  for (let done = 0; done < ms; done += INTERVAL_MS) {
    clock.advance(INTERVAL_MS);
    await settle();
  }
}

type Mode = 'answer' | 'refuse' | 'hang';

function setup() {
  const clock = new ManualClock(1000);
  const state = { mode: 'answer' as Mode, probes: 0, inFlight: 0, maxInFlight: 0 };
  const hung: Array<{ atMs: number; silentMs: number }> = [];
  const watch = watchForHang({
    probe: () => {
      state.probes++;
      if (state.mode === 'answer') return Promise.resolve(true);
      if (state.mode === 'refuse') return Promise.reject(new Error('ECONNREFUSED'));
      state.inFlight++;
      state.maxInFlight = Math.max(state.maxInFlight, state.inFlight);
      return new Promise<boolean>(() => {}); // a frozen node: no answer, ever
    },
    onHung: (silentMs) => hung.push({ atMs: clock.nowMs(), silentMs }),
    hungAfterMs: HUNG_AFTER_MS,
    intervalMs: INTERVAL_MS,
    clock,
    timers: clock,
  });
  return { clock, state, hung, watch };
}

describe('watchForHang: a supervisor kills a node that stopped answering', () => {
  test('a node that answers is probed every interval and never found hung', async () => {
    const { clock, state, hung, watch } = setup();
    await settle();
    await run(clock, 60_000);
    assert.deepEqual(hung, []);
    assert.equal(state.probes, 60_000 / INTERVAL_MS + 1, 'one probe at the start, then one per interval');
    watch.stop();
  });

  test('a frozen node (probes never answered) is found hung once, between the threshold and one interval later', async () => {
    const { clock, state, hung } = setup();
    await settle();
    await run(clock, 10_000); // alive for 10 s
    state.mode = 'hang';
    const frozeAtMs = clock.nowMs();
    await run(clock, 20_000);
    assert.equal(hung.length, 1, 'onHung called once');
    const after = hung[0]!.atMs - frozeAtMs;
    assert.ok(after >= HUNG_AFTER_MS - INTERVAL_MS && after <= HUNG_AFTER_MS + INTERVAL_MS, `found hung ${after} ms after freezing`);
    assert.ok(hung[0]!.silentMs >= HUNG_AFTER_MS, `silent ${hung[0]!.silentMs} ms`);
    assert.equal(state.maxInFlight, 1, 'a probe that hangs is not joined by others');
    assert.equal(clock.pendingTimers, 0, 'the watch is over: no timer left');
  });

  test('refused probes count as silence; an answer in time resets it', async () => {
    const { clock, state, hung } = setup();
    await settle();
    state.mode = 'refuse';
    await run(clock, HUNG_AFTER_MS - 1000);
    state.mode = 'answer';
    await run(clock, INTERVAL_MS);
    state.mode = 'refuse';
    await run(clock, HUNG_AFTER_MS - 1000);
    assert.deepEqual(hung, [], 'never silent for the whole threshold');
    await run(clock, 2000);
    assert.equal(hung.length, 1);
  });

  test('stop() ends the watch: a node stopped on purpose is not killed; safe twice', async () => {
    const { clock, state, hung, watch } = setup();
    await settle();
    state.mode = 'hang';
    watch.stop();
    watch.stop();
    await run(clock, 20_000);
    assert.deepEqual(hung, []);
    assert.equal(clock.pendingTimers, 0);
  });
});
