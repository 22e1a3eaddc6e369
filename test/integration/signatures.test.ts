/**
 * Issue 5: with TWILIO_AUTH_TOKEN set, only what Twilio signed gets in: every webhook (over the
 * public URL and every posted parameter) and the /media upgrade (over the wss URL, refused before
 * the WebSocket opens). Signatures are computed here with node:crypto, by the documented algorithm.
 * Without the token: development mode, said in GET /health.
 */
import { after, before, describe, test } from 'node:test';
import { twilioSignature } from '../helpers/signing.js';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { randomSid, SimulatedStream } from '../../src/sim/simulatedStream.js';
import { dialIn } from '../../src/sim/twimlFollower.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const TOKEN = 'signatures-test-auth-token-0123';
const ACCOUNT = 'AC0123456789abcdef0123456789abcdef';

function sign(url: string, params: Record<string, string> = {}): string {
  return twilioSignature(TOKEN, url, params);
}

const callParams = (callSid: string, extra: Record<string, string> = {}) => ({
  AccountSid: ACCOUNT,
  ApiVersion: '2010-04-01',
  CallSid: callSid,
  CallStatus: 'ringing',
  Direction: 'inbound',
  From: '+15005550006',
  To: '+15005550001',
  ...extra,
});

async function post(baseUrl: string, path: string, params: Record<string, string>, headers: Record<string, string> = {}) {
  const res = await fetch(baseUrl + path, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(params).toString(),
  });
  return { status: res.status, text: await res.text(), type: res.headers.get('content-type') ?? '' };
}

describe('signatures required (TWILIO_AUTH_TOKEN set)', () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer({ TWILIO_ACCOUNT_SID: ACCOUNT, TWILIO_AUTH_TOKEN: TOKEN });
  });
  after(() => t.close());
  const warningsSince = (n: number) => t.captured.warnings().slice(n);

  test('GET /health says production mode', async () => {
    const health = (await (await fetch(`${t.baseUrl}/health`)).json()) as { mode: string };
    assert.equal(health.mode, 'production');
    assert.equal(t.server.mode, 'production');
  });

  test('a webhook without the header: 400 JSON, one warn line, never the token', async () => {
    const n = t.captured.warnings().length;
    const res = await post(t.baseUrl, '/voice', callParams(randomSid('CA')));
    assert.equal(res.status, 400);
    assert.match(res.type, /json/);
    assert.equal(JSON.parse(res.text).error.code, 'SIGNATURE_MISSING');
    const w = warningsSince(n);
    assert.equal(w.length, 1);
    assert.match(w[0]!.msg, /X-Twilio-Signature missing/);
    assert.ok(!JSON.stringify(t.captured.lines).includes(TOKEN), 'the token is never logged');
  });

  test('a wrong signature (other token, other URL, a tampered or added parameter): 403, one warn line each', async () => {
    const params = callParams(randomSid('CA'));
    const url = `${t.baseUrl}/voice`;
    const other = createHmac('sha1', 'not-the-token')
      .update(
        url +
          Object.keys(params)
            .sort()
            .map((k) => k + params[k as keyof typeof params])
            .join(''),
      )
      .digest('base64');
    const n = t.captured.warnings().length;
    const attempts = [
      await post(t.baseUrl, '/voice', params, { 'x-twilio-signature': other }),
      await post(t.baseUrl, '/voice', params, { 'x-twilio-signature': sign(`${t.baseUrl}/voice/room`, params) }),
      await post(t.baseUrl, '/voice', { ...params, From: '+15005550007' }, { 'x-twilio-signature': sign(url, params) }),
      await post(t.baseUrl, '/voice', { ...params, Digits: '4711' }, { 'x-twilio-signature': sign(url, params) }),
    ];
    for (const a of attempts) {
      assert.equal(a.status, 403);
      assert.equal(JSON.parse(a.text).error.code, 'SIGNATURE_INVALID');
    }
    const w = warningsSince(n);
    assert.equal(w.length, 4);
    for (const line of w) assert.match(line.msg, /X-Twilio-Signature does not match/);
  });

  test('a Host header that is no host (the URL cannot be parsed): 403, not a 500', async () => {
    const http = await import('node:http');
    const url = new URL(t.baseUrl);
    const status = await new Promise<number>((resolve, reject) => {
      const req = http.request(
        {
          host: url.hostname,
          port: url.port,
          method: 'POST',
          path: '/voice',
          headers: { host: 'exa mple', 'x-twilio-signature': 'x', 'content-type': 'application/x-www-form-urlencoded' },
        },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on('error', reject);
      req.end('CallSid=CA1');
    });
    assert.equal(status, 403);
    assert.equal(t.captured.lines.filter((l) => l.level >= 50).length, 0, 'no error line');
  });

  test('signed over the URL as called, with a query string and the extra parameters Twilio adds: answered', async () => {
    const params = callParams(randomSid('CA'), {
      CallerCountry: 'US',
      CallerZip: '94105',
      StirVerstat: 'TN-Validation-Passed-A',
      AddOns: '{"status":"successful","results":{}}',
    });
    const res = await post(t.baseUrl, '/voice?room=4711', params, { 'x-twilio-signature': sign(`${t.baseUrl}/voice?room=4711`, params) });
    assert.equal(res.status, 200, res.text);
    assert.match(
      res.text,
      /<Connect action="\/voice\/rejoin\?room=\d+&amp;n=0&amp;pass=[\w-]+" method="POST"><Stream url="ws:\/\/127\.0\.0\.1:\d+\/media" statusCallback="http:\/\/127\.0\.0\.1:\d+\/voice\/stream-status" statusCallbackMethod="POST">/,
    );
  });

  test('behind a proxy (X-Forwarded-Proto/Host): signed over the public https URL', async () => {
    const params = callParams(randomSid('CA'));
    const proxy = { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'conf.example.test' };
    const good = await post(
      t.baseUrl,
      '/voice/room?attempt=2',
      { ...params, Digits: '' },
      { ...proxy, 'x-twilio-signature': sign('https://conf.example.test/voice/room?attempt=2', { ...params, Digits: '' }) },
    );
    assert.equal(good.status, 200, good.text);
    // The same signature without the proxy's headers is over another URL.
    const bad = await post(
      t.baseUrl,
      '/voice/room?attempt=2',
      { ...params, Digits: '' },
      { 'x-twilio-signature': sign('https://conf.example.test/voice/room?attempt=2', { ...params, Digits: '' }) },
    );
    assert.equal(bad.status, 403);
  });

  test('a whole call: signed webhook, then a signed upgrade joins; unsigned, wrong and :80 upgrades get 403 before any WebSocket', async () => {
    const callSid = randomSid('CA');
    const params = callParams(callSid);
    const dial = await dialIn({
      baseUrl: t.baseUrl,
      callSid,
      voicePath: '/voice?room=5150',
      accountSid: ACCOUNT,
      from: params.From,
      to: params.To,
      headers: { 'x-twilio-signature': sign(`${t.baseUrl}/voice?room=5150`, params) },
    });
    assert.equal(dial.kind, 'stream');
    if (dial.kind !== 'stream') return;
    const n = t.captured.warnings().length;
    const refused = async (headers: Record<string, string>) => {
      const error = await SimulatedStream.open({ url: dial.streamUrl, callSid, customParameters: dial.parameters, headers }).then(
        (s) => (s.terminate(), null),
        (e: Error) => e.message,
      );
      return error;
    };
    assert.equal(await refused({}), 'upgrade refused: HTTP 403');
    assert.equal(
      await refused({ 'x-twilio-signature': sign(dial.streamUrl, params) }),
      'upgrade refused: HTTP 403',
      'params are not part of the upgrade signature',
    );
    assert.equal(await refused({ 'x-twilio-signature': sign(dial.streamUrl.replace(/:\d+\//, ':80/')) }), 'upgrade refused: HTTP 403');
    assert.equal(await refused({ 'x-twilio-signature': sign(dial.streamUrl, {}).slice(0, -2) + 'AA' }), 'upgrade refused: HTTP 403');
    const w = warningsSince(n);
    assert.equal(w.length, 4);
    for (const line of w) assert.match(line.msg, /^media upgrade refused: /);
    assert.equal(t.server.conference.room('5150'), undefined, 'nobody got in');
    // Signed over the stream URL with a trailing slash (Twilio's advice): accepted, and joins.
    const stream = await SimulatedStream.open({
      url: dial.streamUrl,
      callSid,
      customParameters: dial.parameters,
      headers: { 'x-twilio-signature': sign(`${dial.streamUrl}/`) },
    });
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(t.server.conference.room('5150')?.size, 1);
    await stream.stop();
  });

  test('a browser (no headers on an upgrade) gets in with a redeemable join ticket in ?ticket=, not with a forged or used one', async () => {
    const callSid = randomSid('CA');
    const params = callParams(callSid);
    const dial = await dialIn({
      baseUrl: t.baseUrl,
      callSid,
      voicePath: '/voice?room=5152',
      accountSid: ACCOUNT,
      from: params.From,
      to: params.To,
      headers: { 'x-twilio-signature': sign(`${t.baseUrl}/voice?room=5152`, params) },
    });
    if (dial.kind !== 'stream') return assert.fail('not admitted');
    const ticket = dial.parameters['ticket']!;
    const open = (query: string) =>
      SimulatedStream.open({ url: `${dial.streamUrl}?ticket=${encodeURIComponent(query)}`, callSid, customParameters: dial.parameters }).then(
        (s) => s,
        (e: Error) => e.message,
      );
    assert.equal(await open(ticket.slice(0, -2) + (ticket.at(-2) === 'A' ? 'B' : 'A') + ticket.at(-1)), 'upgrade refused: HTTP 403');
    const stream = await open(ticket);
    if (typeof stream === 'string') return assert.fail(stream);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(t.server.conference.room('5152')?.size, 1);
    assert.equal(await open(ticket), 'upgrade refused: HTTP 403', 'redeemed by the start: no second socket');
    await stream.stop();
  });

  test('behind a proxy the upgrade is checked over the public wss URL', async () => {
    const callSid = randomSid('CA');
    const params = callParams(callSid);
    const proxy = { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'conf.example.test' };
    const dial = await dialIn({
      baseUrl: t.baseUrl,
      callSid,
      voicePath: '/voice?room=5151',
      accountSid: ACCOUNT,
      from: params.From,
      to: params.To,
      headers: { ...proxy, 'x-twilio-signature': sign('https://conf.example.test/voice?room=5151', params) },
    });
    assert.equal(dial.kind, 'stream');
    if (dial.kind !== 'stream') return;
    assert.equal(dial.streamUrl, 'wss://conf.example.test/media');
    const local = t.baseUrl.replace('http', 'ws') + '/media';
    const stream = await SimulatedStream.open({
      url: local,
      callSid,
      customParameters: dial.parameters,
      headers: { ...proxy, 'x-twilio-signature': sign(dial.streamUrl) },
    });
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(t.server.conference.room('5151')?.size, 1);
    await stream.stop();
  });
});

describe('PUBLIC_URL decides the signed URL', () => {
  test('webhook and upgrade are checked over PUBLIC_URL, whatever the Host header says', async () => {
    const t = await startTestServer({ TWILIO_ACCOUNT_SID: ACCOUNT, TWILIO_AUTH_TOKEN: TOKEN, PUBLIC_URL: 'https://public.example.test' });
    try {
      const callSid = randomSid('CA');
      const params = callParams(callSid);
      const good = await post(t.baseUrl, '/voice?room=6001', params, { 'x-twilio-signature': sign('https://public.example.test/voice?room=6001', params) });
      assert.equal(good.status, 200);
      const local = await post(t.baseUrl, '/voice?room=6001', params, { 'x-twilio-signature': sign(`${t.baseUrl}/voice?room=6001`, params) });
      assert.equal(local.status, 403);
    } finally {
      await t.close();
    }
  });
});

describe('development mode (TWILIO_AUTH_TOKEN unset)', () => {
  test('no signature needed, said in GET /health; join tickets still required', async () => {
    const t = await startTestServer();
    try {
      const health = (await (await fetch(`${t.baseUrl}/health`)).json()) as { mode: string };
      assert.equal(health.mode, 'development');
      const res = await post(t.baseUrl, '/voice', callParams(randomSid('CA')));
      assert.equal(res.status, 200);
      const s = await SimulatedStream.open({ url: t.baseUrl.replace('http', 'ws') + '/media', callSid: randomSid('CA'), customParameters: { room: '4711' } });
      assert.equal((await s.closed).code, 1008, 'no ticket: refused');
    } finally {
      await t.close();
    }
  });
});
