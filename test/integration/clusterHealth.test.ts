/**
 * A cluster node's heartbeat reads the server's one health monitor: the loop delay and tick p99
 * other nodes place rooms by are the figures /health shows (a redis-server on a free port, as in
 * clusterStore.test.ts; the monitor reads a fake delay histogram so the figure is exact).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createCore, type Core } from '../../src/app/core.js';
import { parseConfig } from '../../src/config.js';
import { silentLogger } from '../../src/log.js';
import { HealthMonitor } from '../../src/observability/health.js';
import { ManualClock } from '../../src/timing/clock.js';
import { redisServerSkipReason, startRedisServer, type RedisServerHandle } from '../../tools/cluster/redisServer.js';
import { TEST_ENV_DEFAULTS } from '../helpers/server.js';

const MS = 1e6; // ns

describe('cluster heartbeat', { skip: redisServerSkipReason() ?? false }, () => {
  let redis: RedisServerHandle;
  let core: Core;
  const health = new HealthMonitor({
    loopDelay: { enable: () => true, disable: () => true, reset: () => {}, percentile: () => 13.5 * MS, max: 20 * MS, mean: 11 * MS },
  });

  before(async () => {
    redis = await startRedisServer();
    const config = parseConfig({ ...TEST_ENV_DEFAULTS, REDIS_URL: redis.url, NODE_ID: 'n1', JOIN_TICKET_SECRET: 'cluster-health-test-secret-0123456789' });
    core = createCore(config, { log: silentLogger(), clock: new ManualClock(), health });
  });
  after(async () => {
    await core?.cluster?.stop();
    await redis?.stop();
  });

  test("the node state carries the health monitor's loop delay and tick p99", () => {
    health.tickMs.record(0.5);
    const load = core.cluster!.state().load;
    assert.equal(load.loopDelayP99Ms, 3.5);
    assert.equal(load.loopDelayP99Ms, health.loopDelayMs().p99);
    assert.equal(load.tickP99Ms, health.tickMs.summary().p99);
    assert.ok(load.tickP99Ms > 0);
    assert.deepEqual({ rooms: load.rooms, calls: load.calls, overloaded: load.overloaded }, { rooms: 0, calls: 0, overloaded: false });
  });
});
