/**
 * The HTTP app alone, on a real port: the routes over a core built without the media server or a
 * running mixer clock. /health answers what it is given, /ready sees the stopped clock, unknown
 * paths get the JSON 404, and the admin API ends a room through the core's one `endRoom`.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { createCore, type Core, type EndRoomReason } from '../../src/app/core.js';
import { createHttpApp, mountHttpRoutes, type HttpRoutes } from '../../src/app/httpApp.js';
import { createMixerClock } from '../../src/app/mixerClock.js';
import { readServerStats } from '../../src/app/stats.js';
import { parseConfig } from '../../src/config.js';
import { silentLogger } from '../../src/log.js';
import { HealthMonitor } from '../../src/observability/health.js';
import { Metrics } from '../../src/observability/metrics.js';
import { ManualClock } from '../../src/timing/clock.js';
import { Caller } from '../helpers/mixer.js';
import { TEST_ENV_DEFAULTS } from '../helpers/server.js';

const ADMIN_TOKEN = 'http-app-test-admin-token-0123456789';

describe('mountHttpRoutes', () => {
  const ended: Array<[string, EndRoomReason]> = [];
  let core: Core;
  let routes: HttpRoutes;
  let baseUrl: string;
  let close: () => Promise<void>;

  before(async () => {
    const config = parseConfig({ ...TEST_ENV_DEFAULTS, ADMIN_TOKEN });
    const clock = new ManualClock();
    const health = new HealthMonitor();
    const log = silentLogger();
    const real = createCore(config, { log, clock, health });
    core = { ...real, endRoom: (room, reason) => (ended.push([room, reason]), real.endRoom(room, reason)) };
    const { ticker } = createMixerClock({ clock, conference: core.conference, ownership: core.ownership, load: core.load, health });
    const metrics = new Metrics({
      conference: core.conference,
      ticker,
      statusCallbacks: null,
      eventLoopDelayMs: () => health.loopDelayMs(),
      signatureChecks: false,
    });
    const { app, httpServer } = createHttpApp();
    routes = mountHttpRoutes(app, {
      config,
      log,
      clock,
      core,
      ticker,
      health,
      metrics,
      markBusy: () => {},
      isShuttingDown: () => false,
      stats: () => readServerStats({ conference: core.conference, ticker, health, load: core.load }),
      mode: 'development',
    });
    await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
    baseUrl = `http://127.0.0.1:${(httpServer.address() as AddressInfo).port}`;
    close = async () => {
      routes.live.close();
      await new Promise<void>((resolve) => httpServer.close(() => resolve()));
      await core.directory.close();
    };
  });
  after(() => close());

  test('/health: status, mode and the figures', async () => {
    const body = (await (await fetch(`${baseUrl}/health`)).json()) as Record<string, unknown>;
    assert.equal(body.status, 'ok');
    assert.equal(body.mode, 'development');
    assert.equal(body.participants, 0);
    assert.equal((body.mixer as { ticks: number }).ticks, 0);
  });

  test('/ready: 503 while the mixer clock is not running', async () => {
    const res = await fetch(`${baseUrl}/ready`);
    assert.equal(res.status, 503);
    const body = (await res.json()) as { mixerClock: { ok: boolean; detail: string } };
    assert.deepEqual(body.mixerClock, { ok: false, detail: 'mixer clock stopped' });
  });

  test('an unknown path: the JSON 404', async () => {
    const res = await fetch(`${baseUrl}/nowhere`);
    assert.equal(res.status, 404);
    assert.deepEqual(await res.json(), { error: { code: 'NOT_FOUND', message: 'no route for GET /nowhere' } });
  });

  test("DELETE /api/rooms/:id ends the room through the core's endRoom", async () => {
    const caller = new Caller('CAa');
    caller.participant = core.conference.join('4711', 'CAa', caller, 0);
    const res = await fetch(`${baseUrl}/api/rooms/4711`, { method: 'DELETE', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { id: '4711', deleted: true, participantsRemoved: 1 });
    assert.deepEqual(ended, [['4711', 'room-closed']]);
    assert.equal(caller.ended, 'room-closed');
  });
});
