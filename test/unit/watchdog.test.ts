/**
 * The proxy's watchdog (tools/cluster/watchdog.ts, issue 16 item 5) on a ManualClock, with fake
 * probes and a recorded cut: a silent node is cut at the threshold, cut again every interval while
 * it stays silent (new connections nginx made to it), watched as before once it answers; a node
 * that answers is never cut. test/integration/cluster.serial.test.ts does it with real nginx and ss -K.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ManualClock } from '../../src/timing/clock.js';
import { startWatchdog, type WatchedNode } from '../../tools/cluster/watchdog.js';

const settle = async () => {
  for (let i = 0; i < 5; i++) await new Promise<void>((resolve) => setImmediate(resolve));
};

test('the watchdog cuts a silent node at 5 s, every 250 ms while silent, and watches it again once it answers', async () => {
  const clock = new ManualClock(0);
  const a: WatchedNode = { host: '127.0.0.1', port: 3001 };
  const b: WatchedNode = { host: '127.0.0.1', port: 3002 };
  const silent = new Set<number>();
  const cuts: Array<{ port: number; atMs: number }> = [];
  const lines: string[] = [];
  const watchdog = startWatchdog({
    nodes: [a, b],
    probe: (n) => (silent.has(n.port) ? new Promise<boolean>(() => {}) : Promise.resolve(true)),
    cut: async (n) => void cuts.push({ port: n.port, atMs: clock.nowMs() }),
    log: (line) => lines.push(line),
    clock,
    timers: clock,
  });
  const run = async (ms: number) => {
    for (let t = 0; t < ms; t += 50) {
      clock.advance(50);
      await settle();
    }
  };
  await run(2000);
  silent.add(3001);
  const frozeAtMs = clock.nowMs();
  await run(4500);
  assert.equal(cuts.length, 0, 'not cut before 5 s of silence');
  await run(1000);
  assert.ok(cuts.length >= 1, 'cut after 5 s of silence');
  const firstCut = cuts[0]!.atMs - frozeAtMs;
  assert.ok(firstCut >= 4750 && firstCut <= 5250, `first cut ${firstCut} ms after the node went silent`);
  await run(2000);
  const whileSilent = cuts.length;
  assert.ok(whileSilent >= 8 && whileSilent <= 13, `cut again every 250 ms while silent: ${whileSilent} cuts in about 2.5 s`);
  assert.ok(
    cuts.every((c) => c.port === 3001),
    'the node that answers is never cut',
  );
  assert.equal(watchdog.cuts, 1, 'one finding');

  silent.delete(3001);
  await run(1000);
  assert.ok(
    lines.some((l) => l.includes('127.0.0.1:3001 answers again')),
    lines.join('\n'),
  );
  const afterRecovery = cuts.length;
  await run(4000);
  assert.equal(cuts.length, afterRecovery, 'no cut once it answers');

  silent.add(3001);
  await run(6000);
  assert.ok(cuts.length > afterRecovery, 'silent again: cut again');
  assert.equal(watchdog.cuts, 2);
  watchdog.stop();
  const stoppedCuts = cuts.length;
  await run(2000);
  assert.equal(cuts.length, stoppedCuts, 'stop() ends the cutting');
});
