/**
 * Issue 5: Twilio signatures as plain functions with literal inputs. Every expected signature is
 * computed here independently, with node:crypto, by the documented algorithm: base64 of
 * HMAC-SHA1(auth token, URL + each POST parameter name and value, sorted by name).
 */
import { describe, test } from 'node:test';
import { twilioSignature } from '../helpers/signing.js';
import assert from 'node:assert/strict';
import { checkStreamSignature, checkWebhookSignature, streamUrlFor, webhookUrl } from '../../src/security/twilioSignature.js';
import { FailureLimiter } from '../../src/security/failureLimiter.js';

const TOKEN = '12345';

describe('webhook signature (checkWebhookSignature)', () => {
  // Twilio's documented example: this URL, these parameters, token 12345.
  const url = 'https://mycompany.com/myapp.php?foo=1&bar=2';
  const params = { CallSid: 'CA1234567890ABCDE', Caller: '+12349013030', Digits: '1234', From: '+12349013030', To: '+18005551212' };

  test('the documented example verifies, and our independent computation agrees with it', () => {
    const signature = twilioSignature(TOKEN, url, params);
    assert.equal(signature, '0/KCTR6DLpKmkAf8muzZqo1nDgQ=' /* Twilio's documented value */);
    assert.deepEqual(checkWebhookSignature(TOKEN, signature, url, params), { ok: true });
  });

  test('missing header: missing; another token, URL, value or an added parameter: mismatch', () => {
    const signature = twilioSignature(TOKEN, url, params);
    assert.deepEqual(checkWebhookSignature(TOKEN, undefined, url, params), { ok: false, reason: 'missing' });
    assert.deepEqual(checkWebhookSignature(TOKEN, '', url, params), { ok: false, reason: 'missing' });
    assert.deepEqual(checkWebhookSignature('54321', signature, url, params), { ok: false, reason: 'mismatch' });
    assert.deepEqual(checkWebhookSignature(TOKEN, signature, url.replace('foo=1', 'foo=2'), params), { ok: false, reason: 'mismatch' });
    assert.deepEqual(checkWebhookSignature(TOKEN, signature, url, { ...params, Digits: '1235' }), { ok: false, reason: 'mismatch' });
    assert.deepEqual(checkWebhookSignature(TOKEN, signature, url, { ...params, Extra: '' }), { ok: false, reason: 'mismatch' });
    assert.deepEqual(checkWebhookSignature(TOKEN, 'x', url, params), { ok: false, reason: 'mismatch' });
  });

  test('a URL that is no URL (a forged Host header) is a mismatch, not a throw', () => {
    assert.deepEqual(checkWebhookSignature(TOKEN, 'x', 'http://exa mple/voice', params), { ok: false, reason: 'mismatch' });
    assert.deepEqual(checkWebhookSignature(TOKEN, 'x', 'http://[::1/voice', params), { ok: false, reason: 'mismatch' });
  });

  test('extra parameters Twilio adds are signed like the others (all of them count)', () => {
    const more = { ...params, CallerCountry: 'US', AddOns: '{"status":"successful"}', StirVerstat: 'TN-Validation-Passed-A' };
    assert.deepEqual(checkWebhookSignature(TOKEN, twilioSignature(TOKEN, url, more), url, more), { ok: true });
  });

  test('the URL: PUBLIC_URL + original URL, or the forwarding headers as publicUrl.ts reads them', () => {
    const origin = { protocol: 'http', host: '127.0.0.1:3000', forwardedProto: 'https', forwardedHost: 'abc.ngrok.app' };
    assert.equal(webhookUrl(undefined, origin, '/voice/room?attempt=2'), 'https://abc.ngrok.app/voice/room?attempt=2');
    assert.equal(webhookUrl('https://conf.example.com', origin, '/voice?room=4711'), 'https://conf.example.com/voice?room=4711');
    assert.equal(
      webhookUrl(undefined, { protocol: 'http', host: 'localhost:3000', forwardedProto: undefined, forwardedHost: undefined }, '/voice'),
      'http://localhost:3000/voice',
    );
  });
});

describe('stream upgrade signature (checkStreamSignature)', () => {
  const url = 'wss://abc.ngrok.app/media';

  test('over the exact wss URL, no parameters; the trailing-slash variant too', () => {
    assert.deepEqual(checkStreamSignature(TOKEN, twilioSignature(TOKEN, url), url), { ok: true });
    assert.deepEqual(checkStreamSignature(TOKEN, twilioSignature(TOKEN, `${url}/`), url), { ok: true });
  });

  test('not over the URL with a port added (twilio validateRequest would try wss://host:80/...)', () => {
    assert.deepEqual(checkStreamSignature(TOKEN, twilioSignature(TOKEN, 'wss://abc.ngrok.app:80/media'), url), { ok: false, reason: 'mismatch' });
    assert.deepEqual(checkStreamSignature(TOKEN, twilioSignature(TOKEN, 'wss://abc.ngrok.app:443/media'), url), { ok: false, reason: 'mismatch' });
    assert.deepEqual(checkStreamSignature(TOKEN, twilioSignature(TOKEN, 'wss://other.example/media'), url), { ok: false, reason: 'mismatch' });
    assert.deepEqual(checkStreamSignature(TOKEN, undefined, url), { ok: false, reason: 'missing' });
  });

  test('the stream URL of an upgrade: wss twin of the public base + /media; a proxy may say wss', () => {
    const viaProxy = (proto: string | undefined) =>
      streamUrlFor(undefined, { protocol: 'http', host: '127.0.0.1:3000', forwardedProto: proto, forwardedHost: 'abc.ngrok.app' }, '/media');
    assert.equal(viaProxy('https'), url);
    assert.equal(viaProxy('wss'), url);
    assert.equal(viaProxy('ws'), 'ws://abc.ngrok.app/media');
    assert.equal(
      streamUrlFor('https://conf.example.com', { protocol: 'http', host: 'x', forwardedProto: undefined, forwardedHost: undefined }, '/media'),
      'wss://conf.example.com/media',
    );
  });
});

describe('failed-attempt limiter (admin token)', () => {
  test('10 failures a minute per address, then blocked until the window ends; others unaffected', () => {
    const limiter = new FailureLimiter({ maxFailures: 10, windowMs: 60_000, maxAddresses: 100 });
    for (let i = 1; i <= 10; i++) {
      assert.equal(limiter.blockedForMs('10.0.0.1', i), null);
      assert.equal(limiter.fail('10.0.0.1', i), i);
    }
    assert.equal(limiter.blockedForMs('10.0.0.1', 1000), 59_001);
    assert.equal(limiter.blockedForMs('10.0.0.2', 1000), null);
    assert.equal(limiter.blockedForMs('10.0.0.1', 60_001), null, 'a new window');
    assert.equal(limiter.fail('10.0.0.1', 60_001), 1);
  });

  test('memory is bounded: at most maxAddresses remembered', () => {
    const limiter = new FailureLimiter({ maxFailures: 3, windowMs: 60_000, maxAddresses: 1000 });
    for (let i = 0; i < 50_000; i++) limiter.fail(`10.${i >> 16}.${(i >> 8) & 255}.${i & 255}`, i);
    assert.ok(limiter.size <= 1000, `${limiter.size} addresses`);
  });
});
