/**
 * CI smoke of `npm run bench` (issues 6 and 13): a few seconds with a few dozen callers against
 * both the real server and the baseline, each in its own process with the load generator in
 * another, and a few dozen call set-ups. Asserts only that the benchmark completes and reports:
 * every figure a finite number, frames delivered, calls refused counted, microseconds per set-up.
 * The figures themselves are not judged here (CI machines vary); the pass line is the
 * benchmark's to print.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseOptions, runBench } from '../../tools/bench/bench.js';
import { numericLeaves } from '../../tools/bench/report.js';
import { measureSendPath } from '../../tools/bench/sendPath.js';

test('the benchmark runs a short load against the real server and the baseline and reports every figure', { timeout: 60_000 }, async () => {
  const options = parseOptions(['--callers', '30', '--room-size', '5', '--seconds', '2', '--warmup', '1', '--out', '-']);
  assert.notEqual(options, 'help');
  if (options === 'help') return;
  options.log = () => undefined;
  const startedMs = Date.now();
  const report = await runBench(options, () => undefined);
  const tookMs = Date.now() - startedMs;
  assert.ok(tookMs < 30_000, `took ${tookMs} ms`);

  assert.equal(report.scenarios.length, 1);
  const scenario = report.scenarios[0]!;
  for (const run of [scenario.main, scenario.baseline]) {
    assert.ok(run, 'both servers ran');
    const leaves = numericLeaves(run.figures);
    assert.ok(leaves.length > 40, `${leaves.length} figures`);
    for (const [path, value] of leaves) {
      assert.ok(typeof value === 'number' && Number.isFinite(value), `${run.impl}: ${path} is ${String(value)}`);
    }
    assert.equal(run.figures.callers, 30, `${run.impl}: every caller connected`);
    assert.equal(run.figures.callsRefused, 0, `${run.impl}: calls refused counted (none at 30 callers)`);
    assert.equal(run.scenario.dialConcurrency, 16, 'users dial 16 at a time by default');
    assert.ok(run.figures.messagesOutPerSecond > 0, `${run.impl}: frames delivered`);
    assert.ok(run.figures.framesDeliveredPercent > 0, `${run.impl}: frames delivered`);
    assert.ok(run.figures.delaySamples > 0, `${run.impl}: delay markers measured`);
  }
  assert.ok(scenario.ratios, 'ratios against the baseline');
  assert.equal(scenario.passLine.main?.length, 7, 'the pass line has its seven criteria');
  assert.deepEqual(
    scenario.held.main?.map((c) => c.id),
    ['admitted', 'delivered', 'gaps'],
    "issue 13's criteria: every call admitted, frames delivered, intervals over 60 ms",
  );
});

test('--setup-cost reports the server CPU per call set-up, main and baseline', { timeout: 30_000 }, async () => {
  const options = parseOptions(['--setup-cost', '--callers', '16', '--out', '-']);
  assert.notEqual(options, 'help');
  if (options === 'help') return;
  options.log = () => undefined;
  const report = await runBench(options, () => undefined);
  const setup = report.setupCost;
  assert.ok(setup, 'a set-up report');
  for (const run of [setup.main, setup.baseline]) {
    assert.ok(run, 'both servers ran');
    assert.equal(run.admitted + run.refused + run.failed, 16, `${run.impl}: every call dialled`);
    assert.ok(run.admitted > 0, `${run.impl}: calls admitted`);
    const { cpuUsPerSetup, userUsPerSetup, systemUsPerSetup, setupsPerSecond, setupMs, idleCpuPercentOfCore, cpuPercentOfCore, otherProcessesPercentOfCore } =
      run;
    const figures = {
      cpuUsPerSetup,
      userUsPerSetup,
      systemUsPerSetup,
      setupsPerSecond,
      setupMs,
      idleCpuPercentOfCore,
      cpuPercentOfCore,
      otherProcessesPercentOfCore,
    };
    for (const [path, value] of numericLeaves(figures)) {
      assert.ok(typeof value === 'number' && Number.isFinite(value), `${run.impl}: ${path} is ${String(value)}`);
    }
    assert.ok(run.cpuUsPerSetup > 0, `${run.impl}: ${run.cpuUsPerSetup} us per set-up`);
  }
  assert.ok(setup.ratio !== null && setup.ratio > 0, 'the ratio against the baseline');
});

test('--worker-probe reports the server tick, the worker tick and the main thread receipt side by side', { timeout: 30_000 }, async () => {
  const options = parseOptions(['--callers', '10', '--seconds', '1', '--warmup', '0', '--no-baseline', '--worker-probe', '--out', '-']);
  assert.notEqual(options, 'help');
  if (options === 'help') return;
  options.log = () => undefined;
  const report = await runBench(options, () => undefined);
  const run = report.scenarios[0]?.main;
  assert.ok(run, 'the server ran');
  const probe = run.figures.workerProbe;
  assert.ok(probe, 'probe figures reported');
  assert.equal(probe.callersMixed, 10, 'the worker mixed for every caller');
  // ~50 ticks in a 1 s window on each clock; a loaded CI machine may drop a few.
  for (const ticks of [run.figures.ticks, probe.mainDeadlines, probe.workerTicks, probe.receiptDeadlines])
    assert.ok(ticks >= 25 && ticks <= 60, `${ticks} ticks`);
  for (const p of [run.figures.tickLatenessMs, probe.mainPerDeadlineMs, probe.workerLatenessMs, probe.receiptLatenessMs]) {
    assert.ok(Number.isFinite(p.p99) && p.p50 >= 0 && p.p50 <= p.p99 && p.p99 <= p.max, JSON.stringify(p));
  }
});

test('the send-path measurement sends through real WebSockets both ways and reports each cost', { timeout: 60_000 }, async () => {
  const cost = await measureSendPath();
  assert.equal(cost.sockets, 300);
  // 305 bytes of JSON + a 4-byte header: the media message the server sends.
  assert.equal(cost.messageBytes, 309);
  for (const us of [cost.wsSendUs, cost.frameWriteUs]) assert.ok(Number.isFinite(us) && us > 0 && us < 1000, `${us} us`);
});
