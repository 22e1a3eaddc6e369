/**
 * Issue 5, HTTP side: bad requests get a clear 4xx (JSON, never a stack trace); wrong admin tokens
 * are rate-limited per client address; a server that is shutting down answers webhooks with
 * twiml/restarting.xml and refuses new streams.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { randomSid, SimulatedStream } from '../../src/sim/simulatedStream.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const ADMIN = 'http-hardening-admin-token-0123';
const STACK = /at .*\.(ts|js):\d+|node_modules/;

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** A raw request (fetch would refuse some of these), optionally from another loopback address. */
function request(
  baseUrl: string,
  options: { method?: string; path: string; headers?: Record<string, string>; body?: string | Buffer; localAddress?: string },
): Promise<Answer> {
  const url = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: url.hostname,
        port: url.port,
        method: options.method ?? 'GET',
        path: options.path,
        headers: options.headers,
        localAddress: options.localAddress,
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }));
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

const form = { 'content-type': 'application/x-www-form-urlencoded' };
const CALL = `CallSid=${'CA' + '1'.repeat(32)}&From=%2B15005550006&To=%2B15005550001&AccountSid=AC${'0'.repeat(32)}`;

describe('bad HTTP requests: clear 4xx JSON, no stack traces', () => {
  let t: TestServer;
  const outcomes: string[] = [];
  before(async () => {
    t = await startTestServer({ ADMIN_TOKEN: ADMIN });
  });
  after(async () => {
    console.log(`# HTTP bad input outcomes:\n#   ${outcomes.join('\n#   ')}`);
    await t.close();
  });

  const cases: Array<[string, Parameters<typeof request>[1], number]> = [
    ['malformed form body', { method: 'POST', path: '/voice', headers: form, body: '%%%&&==&=%ZZ&CallSid' }, 400],
    ['JSON body to a form webhook', { method: 'POST', path: '/voice', headers: { 'content-type': 'application/json' }, body: '{"CallSid":' }, 400],
    ['no body at all', { method: 'POST', path: '/voice' }, 400],
    ['missing CallSid', { method: 'POST', path: '/voice/room?attempt=1', headers: form, body: 'Digits=4711&From=%2B1555' }, 400],
    ['CallSid that is not a SID', { method: 'POST', path: '/voice', headers: form, body: 'CallSid=<script>alert(1)</script>' }, 400],
    [
      'unsupported charset',
      { method: 'POST', path: '/voice', headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-7' }, body: CALL },
      415,
    ],
    ['huge body (1 MB)', { method: 'POST', path: '/voice', headers: form, body: `${CALL}&Junk=${'x'.repeat(1 << 20)}` }, 413],
    ['too many parameters (500)', { method: 'POST', path: '/voice', headers: form, body: Array.from({ length: 500 }, (_, i) => `p${i}=1`).join('&') }, 413],
    [
      'malformed JSON to the admin API',
      { method: 'POST', path: '/api/rooms', headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN}` }, body: '{"id": 12' },
      400,
    ],
    ['GET on a webhook', { method: 'GET', path: '/voice' }, 404],
    ['PUT on a webhook', { method: 'PUT', path: '/voice', headers: form, body: CALL }, 404],
    ['DELETE on a webhook', { method: 'DELETE', path: '/voice/room' }, 404],
    ['a long URL (8 KB)', { method: 'POST', path: `/voice/${'a'.repeat(8000)}`, headers: form, body: CALL }, 404],
    ['a very long URL (64 KB): refused by Node before Express', { method: 'GET', path: `/${'a'.repeat(64 * 1024)}` }, 431],
  ];
  for (const [name, options, status] of cases) {
    test(`${name}: ${status}`, async () => {
      const res = await request(t.baseUrl, options);
      outcomes.push(`${name}: ${res.status}${res.body ? ` ${res.body.slice(0, 100)}` : ''}`);
      assert.equal(res.status, status, res.body.slice(0, 200));
      assert.doesNotMatch(res.body, STACK, 'no stack trace');
      if (status !== 431) {
        assert.match(String(res.headers['content-type']), /application\/json/);
        const body = JSON.parse(res.body);
        assert.equal(
          body.error.code,
          status === 413 ? 'PAYLOAD_TOO_LARGE' : status === 415 ? 'UNSUPPORTED_MEDIA_TYPE' : status === 404 ? 'NOT_FOUND' : 'BAD_REQUEST',
        );
        assert.ok(body.error.message.length <= 300, 'the message does not echo a long input back');
      }
    });
  }

  test('the server still answers a good webhook after all that', async () => {
    const res = await request(t.baseUrl, { method: 'POST', path: '/voice', headers: form, body: CALL });
    assert.equal(res.status, 200);
    assert.match(res.body, /<Gather/);
  });
});

describe('upgrade requests the URL parser refuses', () => {
  test('an upgrade whose request target is no URL: 400, one warn line, the server stays up', async () => {
    const t = await startTestServer();
    const uncaught: Error[] = [];
    const onUncaught = (e: Error) => uncaught.push(e);
    process.on('uncaughtException', onUncaught);
    try {
      const { connect } = await import('node:net');
      const url = new URL(t.baseUrl);
      for (const target of ['http://x:99999/media', '//a%20b/media', 'http://[/media']) {
        const answer = await new Promise<string>((resolve) => {
          const s = connect(Number(url.port), url.hostname, () =>
            s.write(
              `GET ${target} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`,
            ),
          );
          let data = '';
          s.on('data', (d: Buffer) => (data += d.toString()));
          s.on('close', () => resolve(data.split('\r\n')[0] ?? ''));
          s.on('error', () => resolve(data.split('\r\n')[0] ?? ''));
          setTimeout(() => s.destroy(), 1000);
        });
        assert.match(answer, /^HTTP\/1\.1 4\d\d /, `${target}: ${answer}`);
      }
      assert.deepEqual(
        uncaught.map((e) => e.message),
        [],
      );
      const health = await request(t.baseUrl, { path: '/health' });
      assert.equal(health.status, 200);
    } finally {
      process.off('uncaughtException', onUncaught);
      await t.close();
    }
  });
});

describe('a flood of media sockets', () => {
  test('at most 2 x MAX_PARTICIPANTS sockets open at once; beyond, the upgrade gets 503 and one warn line', async () => {
    const t = await startTestServer({ MAX_PARTICIPANTS: '2' });
    const open: SimulatedStream[] = [];
    try {
      const url = t.baseUrl.replace('http', 'ws') + '/media';
      // Sockets that connect and say nothing (no start): each holds a place until START_TIMEOUT_MS.
      for (let i = 0; i < 4; i++) open.push(await SimulatedStream.open({ url, callSid: randomSid('CA'), customParameters: {}, autoStart: false }));
      const fifth = await SimulatedStream.open({ url, callSid: randomSid('CA'), customParameters: {}, autoStart: false }).then(
        (s) => (open.push(s), 'opened'),
        (e: Error) => e.message,
      );
      assert.equal(fifth, 'upgrade refused: HTTP 503');
      assert.equal(t.captured.warnings().filter((w) => /too many open media sockets/.test(w.msg)).length, 1);
      open.shift()!.terminate();
      await new Promise((r) => setTimeout(r, 50));
      open.push(await SimulatedStream.open({ url, callSid: randomSid('CA'), customParameters: {}, autoStart: false }));
    } finally {
      for (const s of open) s.terminate();
      await t.close();
    }
  });
});

describe('admin API: wrong tokens are rate-limited per client address', () => {
  test('10 wrong tokens a minute get 403; then 429 with Retry-After, even with the right token; another address is unaffected', async () => {
    const t = await startTestServer({ ADMIN_TOKEN: ADMIN });
    try {
      const api = (token: string, localAddress?: string) =>
        request(t.baseUrl, { path: '/api/rooms', headers: { authorization: `Bearer ${token}` }, localAddress });
      assert.equal((await api(ADMIN)).status, 200);
      for (let i = 0; i < 10; i++) assert.equal((await api(`wrong-token-${i}-0123456789`)).status, 403);
      const limited = await api('wrong-token-again-0123456789');
      assert.equal(limited.status, 429);
      assert.equal(JSON.parse(limited.body).error.code, 'RATE_LIMITED');
      const retryAfter = Number(limited.headers['retry-after']);
      assert.ok(retryAfter >= 1 && retryAfter <= 60, `Retry-After ${retryAfter}`);
      assert.equal((await api(ADMIN)).status, 429, 'the right token does not tell a guesser it was right');
      assert.equal((await api(ADMIN, '127.0.0.2')).status, 200, 'another address');
      assert.equal(t.captured.warnings().filter((w) => w.msg === 'admin: wrong token').length, 10, 'one warn line per wrong token');
    } finally {
      await t.close();
    }
  });
});

describe('shutting down: nobody new is admitted', () => {
  test('webhooks answer twiml/restarting.xml, /media upgrades get 503; the call in progress goes on until close', async () => {
    const t = await startTestServer();
    try {
      t.server.stopAdmitting();
      const expected = readFileSync(join(import.meta.dirname, '..', '..', 'twiml', 'restarting.xml'), 'utf8')
        .replace(/<!--[\s\S]*?-->/g, '')
        .replace(/>\s+</g, '><')
        .trim();
      for (const path of ['/voice', '/voice?room=4711', '/voice/room?attempt=1', '/voice/pin?room=4711']) {
        const res = await request(t.baseUrl, { method: 'POST', path, headers: form, body: `${CALL}&Digits=4711` });
        assert.equal(res.status, 200, path);
        assert.match(String(res.headers['content-type']), /text\/xml/);
        assert.equal(res.body.replace(/>\s+</g, '><').trim(), expected, path);
      }
      const refused = await SimulatedStream.open({ url: t.baseUrl.replace('http', 'ws') + '/media', callSid: randomSid('CA'), customParameters: {} }).then(
        () => 'opened',
        (e: Error) => e.message,
      );
      assert.equal(refused, 'upgrade refused: HTTP 503');
      const health = await request(t.baseUrl, { path: '/ready' });
      assert.equal(health.status, 503);
    } finally {
      await t.close();
    }
  });
});
