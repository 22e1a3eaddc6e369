/**
 * Issue 16, real server on a real port:
 * - status callbacks: a real receiver checks every callback the server sends with
 *   verifyStatusCallback, and with the README's snippet (run as written): all pass; the same
 *   requests tampered with, replayed after the window, or checked with another secret fail.
 * - Twilio's <Stream statusCallback>: connect.xml points it at /voice/stream-status, which takes
 *   only what Twilio signed (missing: 400, wrong: 403) and counts stream-started / -stopped /
 *   -error by Twilio's error code in /metrics and /health, one warn line per error.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join as joinPath } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, test } from 'node:test';
import { STATUS_CALLBACK_SIGNATURE_HEADER, verifyStatusCallback } from '../../src/events/verifyStatusCallback.js';
import { randomSid } from '../../src/sim/simulatedStream.js';
import { join, until } from '../helpers/calls.js';
import { startTestServer } from '../helpers/server.js';
import { twilioSignature } from '../helpers/signing.js';

const SECRET = 'integration-callback-secret-0123456789abcdef';

type Verify = (secret: string, header: string | undefined, url: string, rawBody: string, nowSeconds?: number) => boolean;

/** The README's verification snippet, run exactly as printed there. */
async function readmeSnippet(): Promise<Verify> {
  const readme = await readFile(joinPath(import.meta.dirname, '..', '..', 'README.md'), 'utf8');
  const marker = readme.indexOf('<!-- status-callback-verify-snippet');
  assert.ok(marker > 0, 'the README has the snippet');
  const code = /```js\n([\s\S]*?)```/.exec(readme.slice(marker))![1]!;
  const dir = await mkdtemp(joinPath(tmpdir(), 'snippet-'));
  try {
    const file = joinPath(dir, 'verify.mjs');
    await writeFile(file, `${code}\nexport { verifyConferenceSignature };\n`);
    return ((await import(pathToFileURL(file).href)) as { verifyConferenceSignature: Verify }).verifyConferenceSignature;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

describe('signed status callbacks, end to end', () => {
  test('a real receiver verifies every callback a real server sends; tampered, replayed or wrongly keyed, none pass', async () => {
    const snippet = await readmeSnippet();
    const received: Array<{ header: string | undefined; body: string; receivedAt: number }> = [];
    let url = '';
    const receiver = http.createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (chunk: string) => (body += chunk));
      req.on('end', () => {
        const header = req.headers[STATUS_CALLBACK_SIGNATURE_HEADER.toLowerCase()] as string | undefined;
        received.push({ header, body, receivedAt: Date.now() / 1000 });
        // What a receiver does: refuse what does not verify (the server would retry, then give up).
        const verdict = verifyStatusCallback({ secret: SECRET, header, url, body });
        res.writeHead(verdict.ok ? 204 : 401).end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks/conference?site=a&x=1`;
    const t = await startTestServer({ STATUS_CALLBACK_URL: url, STATUS_CALLBACK_SECRET: SECRET });
    try {
      const a = await join(t.baseUrl, ['5150']);
      const b = await join(t.baseUrl, ['5150']);
      await a.stream.stop();
      await b.stream.stop();
      await until(() => received.length >= 6, 'six events (start, 2 joins, 2 leaves, end)', 8000);
      await t.server.statusCallbacks!.idle();
      const events = received.map((r) => new URLSearchParams(r.body).get('StatusCallbackEvent'));
      assert.deepEqual(events, ['conference-start', 'participant-join', 'participant-join', 'participant-leave', 'participant-leave', 'conference-end']);
      assert.equal(t.server.statusCallbacks!.stats.delivered, 6, 'the receiver accepted every one (401 would have failed them)');
      assert.equal(t.server.statusCallbacks!.stats.failed, 0);
      for (const r of received) {
        assert.match(r.header ?? '', /^t=\d+,v1=[0-9a-f]{64}$/);
        const now = r.receivedAt;
        assert.equal(verifyStatusCallback({ secret: SECRET, header: r.header, url, body: r.body, nowSeconds: now }).ok, true);
        assert.equal(snippet(SECRET, r.header, url, r.body, now), true, 'the README snippet accepts it');
        // Tampered in transit: a field changed, one added, the URL another.
        const tampered = r.body.replace('Room=5150', 'Room=5151');
        assert.notEqual(tampered, r.body);
        assert.equal(verifyStatusCallback({ secret: SECRET, header: r.header, url, body: tampered, nowSeconds: now }).ok, false);
        assert.equal(snippet(SECRET, r.header, url, tampered, now), false);
        assert.equal(snippet(SECRET, r.header, url, `${r.body}&Muted=true`, now), false);
        assert.equal(snippet(SECRET, r.header, url.replace('site=a', 'site=b'), r.body, now), false);
        // Replayed six minutes later.
        assert.deepEqual(verifyStatusCallback({ secret: SECRET, header: r.header, url, body: r.body, nowSeconds: now + 360 }), {
          ok: false,
          reason: 'expired',
        });
        assert.equal(snippet(SECRET, r.header, url, r.body, now + 360), false);
        // Checked with another secret.
        assert.equal(snippet(`${SECRET}-other`, r.header, url, r.body, now), false);
        assert.equal(snippet(SECRET, undefined, url, r.body, now), false, 'no header: refused');
      }
    } finally {
      await t.close();
      await new Promise((resolve) => receiver.close(resolve));
    }
  });
});

const TOKEN = 'stream-status-test-auth-token-0123';
const ACCOUNT = 'AC0123456789abcdef0123456789abcdef';

async function postForm(url: string, params: Record<string, string>, signature?: string) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...(signature ? { 'x-twilio-signature': signature } : {}) },
    body: new URLSearchParams(params).toString(),
  });
  return { status: res.status, text: await res.text() };
}

describe("Twilio's <Stream statusCallback>", () => {
  test('connect.xml names /voice/stream-status; signed events are counted in /metrics and /health, errors by code with one warn line; unsigned or forged refused', async () => {
    const t = await startTestServer({ TWILIO_ACCOUNT_SID: ACCOUNT, TWILIO_AUTH_TOKEN: TOKEN });
    try {
      // A call admitted as Twilio would have it: the answer names the status callback URL.
      const callSid = randomSid('CA');
      const voiceParams = { AccountSid: ACCOUNT, CallSid: callSid, From: '+15005550006', To: '+15005550001' };
      const voiceUrl = `${t.baseUrl}/voice?room=7070`;
      const admitted = await postForm(voiceUrl, voiceParams, twilioSignature(TOKEN, voiceUrl, voiceParams));
      assert.equal(admitted.status, 200);
      const statusUrl = /<Stream [^>]*statusCallback="([^"]+)" statusCallbackMethod="POST"/.exec(admitted.text)?.[1];
      assert.equal(statusUrl, `${t.baseUrl}/voice/stream-status`);

      const streamSid = randomSid('MZ');
      const event = (StreamEvent: string, extra: Record<string, string> = {}) => ({
        AccountSid: ACCOUNT,
        CallSid: callSid,
        StreamSid: streamSid,
        StreamName: streamSid,
        StreamEvent,
        Timestamp: new Date().toISOString(),
        ...extra,
      });
      const signed = (params: Record<string, string>) => postForm(statusUrl!, params, twilioSignature(TOKEN, statusUrl!, params));
      const warningsBefore = t.captured.warnings().length;

      assert.equal((await signed(event('stream-started'))).status, 204);
      const failure = event('stream-error', { StreamError: 'Stream - WebSocket - Handshake Error (31920)' });
      assert.equal((await signed(failure)).status, 204);
      assert.equal((await signed(event('stream-error', { StreamError: 'Stream - WebSocket - Connection Error (31920)' }))).status, 204);
      assert.equal((await signed(event('stream-error', { StreamError: 'Connection lost' }))).status, 204);
      assert.equal((await signed(event('stream-stopped'))).status, 204);

      const errorLines = t.captured.warnings().slice(warningsBefore);
      assert.equal(errorLines.length, 3, 'one warn line per stream-error, none for started/stopped');
      assert.deepEqual(
        errorLines.map((l) => [l['callSid'], l['streamSid'], l['errorCode']]),
        [
          [callSid, streamSid, '31920'],
          [callSid, streamSid, '31920'],
          [callSid, streamSid, 'unknown'],
        ],
      );
      assert.match(errorLines[0]!.msg, /media stream error \(31920\)/);

      // Not Twilio's: no signature (400), a forged one (403), a tampered body (403); none counted.
      const unsigned = await postForm(statusUrl!, failure);
      assert.equal(unsigned.status, 400);
      assert.match(unsigned.text, /"code":"SIGNATURE_MISSING"/);
      assert.equal((await postForm(statusUrl!, failure, twilioSignature('not-the-token', statusUrl!, failure))).status, 403);
      const tampered = { ...failure, StreamError: 'something else (31999)' };
      assert.equal((await postForm(statusUrl!, tampered, twilioSignature(TOKEN, statusUrl!, failure))).status, 403);
      // Signed but no stream event: 400 from the catalog, one warn line.
      const before = t.captured.warnings().length;
      const bogus = await signed(event('stream-exploded'));
      assert.equal(bogus.status, 400);
      assert.match(bogus.text, /"code":"BAD_REQUEST"/);
      assert.equal(t.captured.warnings().length - before, 1);

      const metrics = await (await fetch(`${t.baseUrl}/metrics`)).text();
      assert.match(metrics, /^conference_twilio_stream_events_total\{event="stream-started",code=""\} 1$/m);
      assert.match(metrics, /^conference_twilio_stream_events_total\{event="stream-stopped",code=""\} 1$/m);
      assert.match(metrics, /^conference_twilio_stream_events_total\{event="stream-error",code="31920"\} 2$/m);
      assert.match(metrics, /^conference_twilio_stream_events_total\{event="stream-error",code="unknown"\} 1$/m);
      assert.doesNotMatch(metrics, /code="31999"/, 'a refused request is not counted');
      const health = (await (await fetch(`${t.baseUrl}/health`)).json()) as { twilioStreams: unknown };
      assert.deepEqual(health.twilioStreams, { started: 1, stopped: 1, errors: 3, errorsByCode: { '31920': 2, unknown: 1 } });
    } finally {
      await t.close();
    }
  });
});
