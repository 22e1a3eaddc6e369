/**
 * Issue 16: signed status callbacks (src/events/verifyStatusCallback.ts), with literal inputs: a
 * good signature passes; a tampered body or URL, a wrong secret, a replay outside the window (either
 * way), a missing or malformed header fail, each with its reason. And StatusCallbacks signs every
 * attempt, a retry anew, over the exact body it posts.
 */
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { describe, test } from 'node:test';
import { StatusCallbacks, type PostForm } from '../../src/events/statusCallbacks.js';
import {
  signStatusCallback,
  STATUS_CALLBACK_SIGNATURE_HEADER,
  verifyStatusCallback,
  type VerifyStatusCallbackInput,
} from '../../src/events/verifyStatusCallback.js';
import { captureLog } from '../helpers/log.js';

const SECRET = 'status-callback-secret-0123456789abcdef';
const URL_ = 'https://hooks.example.com/conference-events?site=1';
const BODY = 'StatusCallbackEvent=participant-join&SequenceNumber=7&Room=4711&CallSid=CA0123';
const T = 1_796_246_852;

const input = (over: Partial<VerifyStatusCallbackInput> = {}): VerifyStatusCallbackInput => ({
  secret: SECRET,
  header: signStatusCallback(SECRET, URL_, BODY, T),
  url: URL_,
  body: BODY,
  nowSeconds: T + 2,
  ...over,
});

describe('verifyStatusCallback', () => {
  test('the header is t=<unix>,v1=<HMAC-SHA256 hex of "t.url.body">, as the README documents', () => {
    const expected = createHmac('sha256', SECRET).update(`${T}.${URL_}.${BODY}`).digest('hex');
    assert.equal(signStatusCallback(SECRET, URL_, BODY, T + 0.9), `t=${T},v1=${expected}`);
    assert.equal(STATUS_CALLBACK_SIGNATURE_HEADER, 'X-Conference-Signature');
  });

  test('good: passes, and says when it was signed', () => {
    assert.deepEqual(verifyStatusCallback(input()), { ok: true, timestamp: T });
    // Within the window either way (the receiver's clock may be behind).
    assert.equal(verifyStatusCallback(input({ nowSeconds: T + 300 })).ok, true);
    assert.equal(verifyStatusCallback(input({ nowSeconds: T - 300 })).ok, true);
  });

  test('tampered body, tampered URL, wrong secret: mismatch', () => {
    assert.deepEqual(verifyStatusCallback(input({ body: BODY.replace('Room=4711', 'Room=4712') })), { ok: false, reason: 'mismatch' });
    assert.deepEqual(verifyStatusCallback(input({ body: `${BODY}&Muted=true` })), { ok: false, reason: 'mismatch' });
    assert.deepEqual(verifyStatusCallback(input({ url: URL_.replace('site=1', 'site=2') })), { ok: false, reason: 'mismatch' });
    assert.deepEqual(verifyStatusCallback(input({ url: URL_.replace('https:', 'http:') })), { ok: false, reason: 'mismatch' });
    assert.deepEqual(verifyStatusCallback(input({ secret: `${SECRET}x` })), { ok: false, reason: 'mismatch' });
    // The timestamp is signed: moving it forward to beat the window breaks the signature.
    const v1 = input().header!.split('v1=')[1];
    assert.deepEqual(verifyStatusCallback(input({ header: `t=${T + 1000},v1=${v1}`, nowSeconds: T + 1000 })), { ok: false, reason: 'mismatch' });
  });

  test('replayed after the window (5 minutes), or stamped too far ahead: expired', () => {
    assert.deepEqual(verifyStatusCallback(input({ nowSeconds: T + 301 })), { ok: false, reason: 'expired' });
    assert.deepEqual(verifyStatusCallback(input({ nowSeconds: T + 86_400 })), { ok: false, reason: 'expired' });
    assert.deepEqual(verifyStatusCallback(input({ nowSeconds: T - 301 })), { ok: false, reason: 'expired' });
    assert.deepEqual(verifyStatusCallback(input({ nowSeconds: T + 31, toleranceSeconds: 30 })), { ok: false, reason: 'expired' });
  });

  test('missing or malformed header', () => {
    assert.deepEqual(verifyStatusCallback(input({ header: undefined })), { ok: false, reason: 'missing' });
    assert.deepEqual(verifyStatusCallback(input({ header: '' })), { ok: false, reason: 'missing' });
    const v1 = input().header!.split('v1=')[1]!;
    for (const bad of [`v1=${v1}`, `t=${T}`, `t=abc,v1=${v1}`, `t=${T},v1=${v1.slice(2)}`, `t=${T},v1=${v1.toUpperCase()}`, 'garbage']) {
      assert.deepEqual(verifyStatusCallback(input({ header: bad })), { ok: false, reason: 'malformed' }, bad);
    }
    // Order of the parts and spaces after commas do not matter.
    assert.equal(verifyStatusCallback(input({ header: `v1=${v1}, t=${T}` })).ok, true);
  });
});

describe('StatusCallbacks sign what they send', () => {
  test('every attempt carries X-Conference-Signature over the URL and the exact body; a retry is signed at its own time', async () => {
    const sent: Array<{ url: string; body: string; header: string | undefined }> = [];
    let nowMs = T * 1000;
    const post: PostForm = async (url, body, _timeout, headers) => {
      sent.push({ url, body, header: headers[STATUS_CALLBACK_SIGNATURE_HEADER] });
      nowMs += 60_000; // each attempt a minute after the last
      return sent.length === 1 ? 503 : 204;
    };
    const cb = new StatusCallbacks({ url: URL_, secret: SECRET, log: captureLog().log, post, retryDelaysMs: [1], now: () => new Date(nowMs) });
    cb.enqueue('participant-join', { Room: '4711', CallSid: 'CA0123' });
    await cb.idle();
    assert.equal(sent.length, 2, 'the first attempt failed and was retried');
    assert.equal(sent[0]!.body, sent[1]!.body, 'a retry sends the same body');
    assert.notEqual(sent[0]!.header, sent[1]!.header, 'a retry is signed anew');
    for (const [i, s] of sent.entries()) {
      const signedAt = T + 60 * i;
      assert.match(s.header!, new RegExp(`^t=${signedAt},v1=[0-9a-f]{64}$`));
      assert.deepEqual(verifyStatusCallback({ secret: SECRET, header: s.header, url: s.url, body: s.body, nowSeconds: signedAt + 1 }), {
        ok: true,
        timestamp: signedAt,
      });
    }
  });

  test('without a secret nothing is added (the config requires one with STATUS_CALLBACK_URL)', async () => {
    const headers: Array<Readonly<Record<string, string>>> = [];
    const cb = new StatusCallbacks({ url: URL_, log: captureLog().log, post: async (_u, _b, _t, h) => (headers.push(h), 204) });
    cb.enqueue('conference-start', { Room: '1' });
    await cb.idle();
    assert.deepEqual(headers, [{}]);
  });
});
