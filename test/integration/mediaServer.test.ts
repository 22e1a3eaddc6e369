/**
 * The media WebSocket server alone, on a real port: the HTTP app and /media with a real conference
 * but no webhooks, admin API or mixer clock. Upgrades open or are refused before the socket opens;
 * shutdown closes every socket with 1001; the metrics hear of each.
 */
import { afterEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import WebSocket from 'ws';
import { createHttpApp } from '../../src/app/httpApp.js';
import { createMediaServer, type MediaServer } from '../../src/app/mediaServer.js';
import { parseConfig } from '../../src/config.js';
import { Conference } from '../../src/conference/conference.js';
import { silentLogger } from '../../src/log.js';
import type { MediaSession } from '../../src/media/session.js';
import { LoopBusySince } from '../../src/timing/busySince.js';
import { monotonicClock } from '../../src/timing/clock.js';
import { until } from '../helpers/calls.js';
import { TEST_ENV_DEFAULTS } from '../helpers/server.js';

describe('createMediaServer', () => {
  let stop: () => Promise<void> = async () => {};
  afterEach(() => stop());

  async function start(env: Record<string, string> = {}) {
    const { app, httpServer } = createHttpApp();
    const refused: number[] = [];
    const closed: number[] = [];
    let admitting = true;
    const metrics = {
      sessions: new Set<MediaSession>(),
      upgradeRefused: (status: number) => void refused.push(status),
      webSocketClosed: (code: number) => void closed.push(code),
    };
    const media: MediaServer = createMediaServer(app, httpServer, {
      config: parseConfig({ ...TEST_ENV_DEFAULTS, HEARTBEAT_INTERVAL_MS: '0', ...env }),
      clock: monotonicClock,
      log: silentLogger(),
      conference: new Conference({ echoWhenAlone: false }),
      admission: { authorizeStart: () => ({ ok: false, code: 'BAD_TICKET', detail: 'no tickets here' }) },
      tickets: { isRedeemable: () => false },
      metrics,
      busySince: new LoopBusySince(),
      markBusy: () => {},
      isAdmitting: () => admitting,
    });
    await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
    const url = `ws://127.0.0.1:${(httpServer.address() as AddressInfo).port}/media`;
    stop = async () => {
      media.stopHeartbeat();
      media.terminateAll();
      await new Promise<void>((resolve) => httpServer.close(() => resolve()));
    };
    const connect = () =>
      new Promise<{ ws: WebSocket; closed: Promise<number> }>((resolve, reject) => {
        const ws = new WebSocket(url);
        const closedCode = new Promise<number>((r) => ws.once('close', (code) => r(code)));
        ws.once('open', () => resolve({ ws, closed: closedCode }));
        ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
      });
    return { media, metrics, refused, closed, connect, stopAdmitting: () => (admitting = false) };
  }

  test('an upgrade opens a session; closeAll ends it with 1001 and the metrics hear the code', async () => {
    const s = await start();
    const a = await s.connect();
    await until(() => s.metrics.sessions.size === 1, 'the session');
    s.media.closeAll();
    assert.equal(await a.closed, 1001);
    await until(() => s.closed.length === 1, 'the close to be counted');
    assert.deepEqual(s.closed, [1001]);
  });

  test('past twice MAX_PARTICIPANTS open sockets (closed ones do not count), and while shutting down, upgrades get 503', async () => {
    const s = await start({ MAX_PARTICIPANTS: '1' });
    await s.connect();
    await s.connect();
    await assert.rejects(s.connect(), /HTTP 503/);
    s.media.closeAll();
    await until(() => s.closed.length === 2, 'both sockets closed');
    await s.connect(); // closed sockets no longer count
    s.stopAdmitting();
    await assert.rejects(s.connect(), /HTTP 503/);
    assert.deepEqual(s.refused, [503, 503]);
  });
});
