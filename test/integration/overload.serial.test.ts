/**
 * Admission by capacity through a real server (src/timing/capacity.ts, issue 13).
 *
 * 1. A busy event loop is not taken for load: with default settings, two callers stream while the
 *    loop is kept nearly all busy for 1.5 s (as a burst of call set-ups does); a new call dialled
 *    right after is admitted, /ready stays 200, and the two hear each other at the level sent.
 * 2. When the steady state with one more call would not fit (here: OVERLOAD_BUSY_PERCENT=1, below
 *    what an idle server's loop already takes), a new call hears busy.xml, /ready is 503 with the
 *    projection, /metrics says so, and one warn line is logged.
 *
 * (A burst of 200 callers dialled 16 at a time, all admitted with default settings, and a budget
 * that binds mid-burst: test/integration/capacity.serial.test.ts, with the benchmark's load generator.)
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join as joinPath } from 'node:path';
import { heardToneDbfs, join, sentToneDbfs, sleep, toneMulaw, until } from '../helpers/calls.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const normalise = (xml: string) =>
  xml
    .replace(/<!--[\s\S]*?-->/g, '')
    .replace(/>\s+</g, '><')
    .trim();
const BUSY_XML = normalise(readFileSync(joinPath(import.meta.dirname, '..', '..', 'twiml', 'busy.xml'), 'utf8'));

/** Keeps this event loop (and the server's) busy for `ms`, as a burst of set-ups would. */
function busyFor(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    // spin
  }
}

const newCall = (baseUrl: string, n: number) =>
  fetch(`${baseUrl}/voice?room=5150`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: `CallSid=CA${String(n).padStart(32, '0')}&From=%2B15005550006`,
  });

describe('a busy loop is not load: default settings', () => {
  let t: TestServer;
  before(async () => {
    // The product's default (the test helper's own default turns admission by capacity off).
    t = await startTestServer({ OVERLOAD_BUSY_PERCENT: '90', ADMIN_TOKEN: 'overload-test-admin-token-0123' });
  });
  after(() => t.close());

  test('after 1.5 s of a loop never free, a new call is admitted, /ready stays 200, the calls in hear each other', { timeout: 30_000 }, async () => {
    const a = await join(t.baseUrl, ['5150']);
    const b = await join(t.baseUrl, ['5150']);
    const durationMs = 5000;
    const startAtMs = performance.now() + 100;
    const plays = [a.stream.play(toneMulaw(700, -20, durationMs), startAtMs), b.stream.play(toneMulaw(1100, -20, durationMs), startAtMs)];
    await sleep(600);
    busyFor(1500);
    // The next sample sees the second nearly all busy.
    await until(() => t.server.stats().load.busyPercent >= 60, 'the sampler to see the busy second', 3000);
    assert.equal(t.server.stats().load.overloaded, false);
    const admitted = await newCall(t.baseUrl, 1);
    assert.match(
      await admitted.text(),
      /<Connect action="\/voice\/rejoin\?room=\d+&amp;n=0&amp;pass=[\w-]+" method="POST"><Stream url="ws:\/\/127\.0\.0\.1:\d+\/media" statusCallback="http:\/\/127\.0\.0\.1:\d+\/voice\/stream-status" statusCallbackMethod="POST">/,
    );
    assert.equal((await fetch(`${t.baseUrl}/ready`)).status, 200);
    assert.equal(t.captured.lines.filter((l) => /at capacity/.test(l.msg)).length, 0, 'no capacity warning');

    await Promise.all(plays);
    const windowEnd = startAtMs + durationMs - 200;
    const ba = heardToneDbfs(b.stream, 700, windowEnd - 1200, windowEnd) - sentToneDbfs(700, -20);
    const ab = heardToneDbfs(a.stream, 1100, windowEnd - 1200, windowEnd) - sentToneDbfs(1100, -20);
    assert.ok(Math.abs(ba) <= 1 && Math.abs(ab) <= 1, `b hears a at ${ba.toFixed(2)} dB, a hears b at ${ab.toFixed(2)} dB`);
    await a.stream.stop();
    await b.stream.stop();
  });
});

describe('at capacity: OVERLOAD_BUSY_PERCENT below what the loop already takes', () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer({ OVERLOAD_BUSY_PERCENT: '1', ADMIN_TOKEN: 'overload-test-admin-token-0123' });
  });
  after(() => t.close());

  test('a new call hears busy.xml, /ready 503 with the projection, /metrics says so, one warn line', { timeout: 30_000 }, async () => {
    const refused = await newCall(t.baseUrl, 1);
    assert.equal(refused.status, 200);
    assert.equal(normalise(await refused.text()), BUSY_XML);
    assert.equal(t.server.stats().load.overloaded, true);
    const ready = await fetch(`${t.baseUrl}/ready`);
    assert.equal(ready.status, 503);
    assert.match(((await ready.json()) as { load: { detail: string } }).load.detail, /^at capacity: /);
    const metrics = await (await fetch(`${t.baseUrl}/metrics`)).text();
    assert.match(metrics, /^conference_overloaded 1$/m);
    assert.match(metrics, /^conference_overload_episodes_total 1$/m);
    await until(() => t.captured.lines.some((l) => /at capacity: new calls hear busy\.xml/.test(l.msg)), 'the warn line', 3000);
    await sleep(1200);
    assert.equal(t.captured.lines.filter((l) => /at capacity/.test(l.msg)).length, 1, 'one warn line');
  });
});
