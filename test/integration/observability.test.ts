/**
 * Issue 7: /metrics (Prometheus text from prom-client), /health and /ready, and the per-call
 * child logger, against a real server with Twilio-like callers.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import WebSocket from 'ws';
import { createLogger } from '../../src/log.js';
import { SqliteRoomDirectory } from '../../src/rooms/sqliteDirectory.js';
import { join, sleep, toneMulaw, until } from '../helpers/calls.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/** `name{labels} value` lines of an exposition, as a map from the series to its value. */
function parseMetrics(text: string): Map<string, number> {
  const series = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    series.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return series;
}

async function scrape(baseUrl: string): Promise<Map<string, number>> {
  const res = await fetch(`${baseUrl}/metrics`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  return parseMetrics(await res.text());
}

describe('metrics, health and readiness', () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer();
  });
  after(() => t.close());

  test('/metrics: callers, rooms, ticks, tick histogram, frames, closes by code, webhooks', async () => {
    const a = await join(t.baseUrl, ['7100']);
    const b = await join(t.baseUrl, ['7100']);
    const startAtMs = performance.now() + 50;
    await Promise.all([a.stream.play(toneMulaw(700, -20, 600), startAtMs), b.stream.play(toneMulaw(1100, -20, 600), startAtMs)]);
    await sleep(100);
    const live = await scrape(t.baseUrl);
    assert.equal(live.get('conference_callers'), 2);
    assert.equal(live.get('conference_rooms'), 1);
    assert.ok(live.get('conference_ticks_total')! > 20, 'ticks counted');
    const count = live.get('conference_tick_duration_seconds_count')!;
    assert.ok(count > 20);
    assert.equal(live.get('conference_tick_duration_seconds_bucket{le="+Inf"}'), count);
    let previous = 0;
    for (const le of ['0.00005', '0.0001', '0.00025', '0.0005', '0.001', '0.002', '0.005', '0.01', '0.02', '0.05']) {
      const v = live.get(`conference_tick_duration_seconds_bucket{le="${le}"}`);
      assert.ok(v !== undefined && v >= previous && v <= count, `bucket le=${le} cumulative (${v})`);
      previous = v;
    }
    // The tick's two parts: as many of each as ticks, and together no longer than the ticks (the
    // scrape reads one metric after another: a tick or two may fall between, hence the slack).
    const mixCount = live.get('conference_tick_mix_seconds_count')!;
    const sendCount = live.get('conference_tick_send_seconds_count')!;
    assert.ok(Math.abs(mixCount - count) <= 2 && Math.abs(sendCount - count) <= 2, `mix ${mixCount}, send ${sendCount}, ticks ${count}`);
    const partsSum = live.get('conference_tick_mix_seconds_sum')! + live.get('conference_tick_send_seconds_sum')!;
    assert.ok(partsSum > 0 && partsSum <= live.get('conference_tick_duration_seconds_sum')! + 0.005, `parts ${partsSum} s`);
    assert.ok(live.get('conference_frames_in_total')! >= 50, `frames in: ${live.get('conference_frames_in_total')}`);
    assert.ok(live.get('conference_frames_out_total')! >= 50);
    assert.ok(live.has('conference_frames_concealed_total'));
    assert.ok(live.has('conference_frames_dropped_total{reason="slow_socket"}'));
    assert.ok(live.has('conference_jitter_buffer_depth_frames{stat="max"}'));
    assert.ok(live.has('conference_outbound_lead_seconds{stat="max"}'));
    assert.ok(live.has('conference_late_ticks_total'));
    assert.equal(live.get('conference_webhook_duration_seconds_count{route="/voice/room",status="200"}'), 2);
    assert.ok(live.has('conference_process_cpu_user_seconds_total'), 'process metrics');

    const framesInBefore = live.get('conference_frames_in_total')!;
    await a.stream.stop();
    await b.stream.stop();
    await until(() => t.server.conference.stats().participants === 0, 'both gone');
    await sleep(50);
    const gone = await scrape(t.baseUrl);
    assert.equal(gone.get('conference_callers'), 0);
    assert.equal(gone.get('conference_rooms'), 0);
    assert.ok(gone.get('conference_frames_in_total')! >= framesInBefore, 'totals keep the calls that left');
    const closes = [...gone.entries()].filter(([k]) => k.startsWith('conference_websocket_closes_total')).reduce((n, [, v]) => n + v, 0);
    assert.equal(closes, 2, 'two stream sockets closed, counted by code');
  });

  test('/health is liveness; /ready checks the clock, the database and shutdown', async () => {
    const health = await fetch(`${t.baseUrl}/health`);
    assert.equal(health.status, 200);
    const ready = await fetch(`${t.baseUrl}/ready`);
    assert.equal(ready.status, 200);
    const body = (await ready.json()) as any;
    assert.equal(body.status, 'ready');
    assert.equal(body.mixerClock.ok, true);
    assert.equal(body.database.ok, true);
    assert.equal(body.shutdown.ok, true);
    assert.equal(t.server.isShuttingDown(), false);
  });

  test('/ready is 503 when the room database is closed', async () => {
    const directory = new SqliteRoomDirectory(':memory:');
    const s = await startTestServer({}, { directory });
    try {
      await directory.close();
      const res = await fetch(`${s.baseUrl}/ready`);
      assert.equal(res.status, 503);
      const body = (await res.json()) as any;
      assert.equal(body.database.ok, false);
      assert.equal(body.mixerClock.ok, true);
    } finally {
      await s.close().catch(() => {});
    }
  });

  test('/ready is 503 with the clock stopped, and isShuttingDown() once close() began', async () => {
    const s = await startTestServer();
    s.server.ticker.stop();
    const res = await fetch(`${s.baseUrl}/ready`);
    assert.equal(res.status, 503);
    assert.equal(((await res.json()) as any).mixerClock.detail, 'mixer clock stopped');
    const closing = s.close();
    assert.equal(s.server.isShuttingDown(), true);
    await closing;
  });
});

test('signature failures are counted by route and reason; refused /media upgrades by status', async () => {
  const t = await startTestServer({ TWILIO_ACCOUNT_SID: 'AC0123456789abcdef0123456789abcdef', TWILIO_AUTH_TOKEN: 'test-auth-token' });
  try {
    const post = (headers: Record<string, string>) =>
      fetch(`${t.baseUrl}/voice`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
        body: 'CallSid=CA1&From=%2B1',
      });
    assert.equal((await post({})).status, 400);
    assert.equal((await post({ 'x-twilio-signature': 'bm90IGl0' })).status, 403);
    const status = await new Promise<number>((resolve, reject) => {
      const ws = new WebSocket(`${t.baseUrl.replace('http', 'ws')}/media`);
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.on('open', () => reject(new Error('opened without a signature or ticket')));
      ws.on('error', () => {});
    });
    assert.ok(status === 400 || status === 403, `upgrade refused (${status})`);
    const m = await scrape(t.baseUrl);
    assert.equal(m.get('conference_signature_failures_total{route="/voice",reason="missing"}'), 1);
    assert.equal(m.get('conference_signature_failures_total{route="/voice",reason="invalid"}'), 1);
    assert.equal(m.get('conference_signature_failures_total{route="/media",reason="missing"}'), 1);
    assert.equal(m.get(`conference_media_upgrades_refused_total{status="${status}"}`), 1);
    assert.equal(m.get('conference_webhook_duration_seconds_count{route="/voice",status="403"}'), 1);
  } finally {
    await t.close();
  }
});

describe('logs', () => {
  test('a child logger per call: stream lines carry callSid, streamSid and room', async () => {
    const t = await startTestServer();
    try {
      const a = await join(t.baseUrl, ['7200']);
      await until(() => t.captured.lines.some((l) => l.msg === 'stream started'), 'stream started logged');
      await a.stream.stop();
      await until(() => t.captured.lines.some((l) => l.msg === 'stream ended'), 'stream ended logged');
      for (const msg of ['stream started', 'stream ended']) {
        const line = t.captured.lines.find((l) => l.msg === msg)!;
        assert.equal(line['callSid'], a.callSid, msg);
        assert.equal(line['room'], '7200', msg);
        assert.match(String(line['streamSid']), /^MZ/, msg);
      }
    } finally {
      await t.close();
    }
  });

  test('LOG_LEVEL is respected; pretty output is readable text, not JSON', async () => {
    const lines: string[] = [];
    const warnOnly = createLogger('warn', { write: (s: string) => void lines.push(s) });
    warnOnly.info('hidden');
    warnOnly.warn({ room: '1' }, 'shown');
    assert.equal(lines.length, 1);
    assert.equal(JSON.parse(lines[0]!).msg, 'shown');

    // pino-pretty to a captured stream (the server's pretty logger writes to stdout).
    const { default: pinoPretty } = await import('pino-pretty');
    const { pino } = await import('pino');
    const out = new PassThrough();
    let text = '';
    out.on('data', (c: Buffer) => (text += c.toString()));
    const pretty = pino({ level: 'info' }, pinoPretty({ destination: out, sync: true, colorize: false }));
    pretty.info({ callSid: 'CA1' }, 'stream started');
    await sleep(20);
    assert.match(text, /INFO.*stream started/);
    assert.match(text, /callSid: "CA1"/);
    assert.throws(() => JSON.parse(text));
    // And createLogger's pretty mode builds (it writes to stdout, so nothing is logged here).
    assert.equal(createLogger('silent', undefined, { pretty: true }).level, 'silent');
  });
});
