/**
 * One health monitor for every report: an idle server's /health and its dashboard's live feed
 * show the same event-loop delay, read from the one object, with its 10 ms sampling interval
 * subtracted (the dashboard used to show the raw ~11 ms of an idle loop). The monitor reads a
 * fake delay histogram so the figure is known exactly, whatever the machine's load.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { HealthMonitor, type LoopDelayHistogram } from '../../src/observability/health.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { firstLiveEvent } from '../helpers/live.js';

const ADMIN_TOKEN = 'health-test-admin-token-0123456789';
const MS = 1e6; // ns

/** An idle loop as node's monitor sees it: each 10 ms sample a little over 10 ms. */
const idleLoop: LoopDelayHistogram = {
  enable: () => true,
  disable: () => true,
  reset: () => {},
  percentile: (p) => (p === 99 ? 11.25 * MS : 10.1 * MS),
  max: 12.5 * MS,
  mean: 10.05 * MS,
};

/** The live feed's first `health` event (one a second once a dashboard watches). */
const firstHealthSample = (baseUrl: string) => firstLiveEvent<{ eventLoopP99Ms: number }>(baseUrl, ADMIN_TOKEN, 'health');

describe('one health monitor', () => {
  let t: TestServer;
  const health = new HealthMonitor({ loopDelay: idleLoop });
  before(async () => (t = await startTestServer({ ADMIN_TOKEN }, { health })));
  after(() => t.close());

  test('/health, stats() and the dashboard report the same loop delay, its sampling interval subtracted', async () => {
    assert.equal(t.server.health, health);
    const body = (await (await fetch(`${t.baseUrl}/health`)).json()) as { eventLoopDelayMs: { p50: number; p99: number; max: number } };
    assert.deepEqual(body.eventLoopDelayMs, { p50: 0.1, p99: 1.25, max: 2.5, mean: 0.05 });
    assert.deepEqual(t.server.stats().eventLoopDelayMs, body.eventLoopDelayMs);
    const sample = await firstHealthSample(t.baseUrl);
    assert.equal(sample.eventLoopP99Ms, body.eventLoopDelayMs.p99);
  });

  test('/metrics reads it too', async () => {
    const text = await (await fetch(`${t.baseUrl}/metrics`)).text();
    assert.match(text, /\nconference_event_loop_delay_seconds\{stat="p99"\} 0\.00125\n/);
    assert.match(text, /\nconference_event_loop_delay_seconds\{stat="max"\} 0\.0025\n/);
  });
});
