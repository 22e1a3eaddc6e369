/**
 * Overload protection through a real server (src/timing/loadGuard.ts): while the event loop was
 * busy OVERLOAD_BUSY_PERCENT of the last second, a new call hears twiml/busy.xml, /ready is 503
 * and /metrics says so; the calls already in go on hearing each other; and once the loop is quiet
 * again new calls are admitted. The server runs in this process, so blocking this event loop is
 * loading the server's.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join as joinPath } from 'node:path';
import { heardToneDbfs, join, sentToneDbfs, sleep, toneMulaw, until } from '../helpers/calls.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const normalise = (xml: string) => xml.replace(/<!--[\s\S]*?-->/g, '').replace(/>\s+</g, '><').trim();
const BUSY_XML = normalise(readFileSync(joinPath(import.meta.dirname, '..', '..', 'twiml', 'busy.xml'), 'utf8'));

/** Keeps this event loop (and the server's) busy for `ms`, as a flood of work would. */
function busyFor(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    // spin
  }
}

const newCall = (baseUrl: string, n: number) =>
  fetch(`${baseUrl}/voice?room=5150`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `CallSid=CA${String(n).padStart(32, '0')}&From=%2B15005550006` });

describe('overload protection', () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer({ OVERLOAD_BUSY_PERCENT: '60', ADMIN_TOKEN: 'overload-test-admin-token-0123' });
  });
  after(() => t.close());

  test('a busy loop: new calls hear busy.xml, /ready 503, the calls in go on; quiet again: admitted', { timeout: 30_000 }, async () => {
    const a = await join(t.baseUrl, ['5150']);
    const b = await join(t.baseUrl, ['5150']);
    const durationMs = 7000;
    const startAtMs = performance.now() + 100;
    const plays = [a.stream.play(toneMulaw(700, -20, durationMs), startAtMs), b.stream.play(toneMulaw(1100, -20, durationMs), startAtMs)];
    await sleep(600);
    assert.equal(t.server.stats().load.overloaded, false);

    // 1.5 s with the loop never free: the next sample sees it nearly all busy.
    busyFor(1500);
    await until(() => t.server.stats().load.overloaded, 'the server to call itself overloaded', 3000);
    const overloadedAtMs = performance.now();
    assert.ok(t.server.stats().load.busyPercent >= 60, `busy ${t.server.stats().load.busyPercent} %`);
    const refused = await newCall(t.baseUrl, 1);
    assert.equal(refused.status, 200);
    assert.equal(normalise(await refused.text()), BUSY_XML);
    const ready = await fetch(`${t.baseUrl}/ready`);
    assert.equal(ready.status, 503);
    assert.match(((await ready.json()) as { load: { detail: string } }).load.detail, /^overloaded: event loop busy/);
    const metrics = await (await fetch(`${t.baseUrl}/metrics`)).text();
    assert.match(metrics, /^conference_overloaded 1$/m);
    assert.match(metrics, /^conference_overload_episodes_total 1$/m);
    assert.equal(t.captured.lines.filter((l) => /overloaded: refusing new calls/.test(l.msg)).length, 1, 'one warn line');

    // Quiet again: within a couple of samples the server admits.
    await until(() => !t.server.stats().load.overloaded, 'the overload to end', 4000);
    const admitted = await newCall(t.baseUrl, 2);
    assert.match(await admitted.text(), /<Connect><Stream url="ws:\/\/127\.0\.0\.1:\d+\/media">/);
    assert.equal((await fetch(`${t.baseUrl}/ready`)).status, 200);
    assert.equal(t.captured.lines.filter((l) => /load back to normal/.test(l.msg)).length, 1);

    // The two callers stayed in and hear each other after the stall, at the level sent (the last
    // 1.2 s of their tones, well after the stall and the overload).
    await Promise.all(plays);
    assert.ok(startAtMs + durationMs - 1400 > overloadedAtMs + 1000, 'the window starts after the overload');
    const ref = sentToneDbfs(700, -20);
    const windowEnd = startAtMs + durationMs - 200;
    const ba = heardToneDbfs(b.stream, 700, windowEnd - 1200, windowEnd) - ref;
    const ab = heardToneDbfs(a.stream, 1100, windowEnd - 1200, windowEnd) - sentToneDbfs(1100, -20);
    assert.ok(Math.abs(ba) <= 1 && Math.abs(ab) <= 1, `b hears a at ${ba.toFixed(2)} dB, a hears b at ${ab.toFixed(2)} dB`);
    assert.equal(t.server.stats().participants, 2);
    await a.stream.stop();
    await b.stream.stop();
  });
});
