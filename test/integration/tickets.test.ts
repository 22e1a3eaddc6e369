/**
 * Issue 3: a Media Stream is bound to the call the webhook admitted. Streams whose start carries
 * no ticket, a forged one, a used one, an expired one, or one for another CallSid are closed with
 * 1008 and one log line each, while the room beside them keeps mixing without a gap.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { encodeTicket } from '../../src/security/joinTicket.js';
import { randomSid, SimulatedStream, type CloseInfo } from '../../src/sim/simulatedStream.js';
import { dial, heardToneDbfs, join, sentToneDbfs, sleep, toneMulaw } from '../helpers/calls.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const SECRET = 'tickets-test-secret-0123456789abcdef';

describe('join tickets at the media endpoint', () => {
  let t: TestServer;
  const refusals: Record<string, CloseInfo> = {};
  let a: Awaited<ReturnType<typeof join>>;
  let b: Awaited<ReturnType<typeof join>>;
  let c: Awaited<ReturnType<typeof join>>;
  let window = { from: 0, to: 0 };
  let warnings: Array<Record<string, unknown> & { msg: string }> = [];

  before(async () => {
    t = await startTestServer({ JOIN_TICKET_SECRET: SECRET, ADMIN_TOKEN: 'tickets-admin-token-0123' });
    const res = await fetch(`${t.baseUrl}/api/rooms`, {
      method: 'POST',
      headers: { authorization: 'Bearer tickets-admin-token-0123', 'content-type': 'application/json' },
      body: JSON.stringify({ id: '4242', pin: '8642' }),
    });
    assert.equal(res.status, 201);
    a = await join(t.baseUrl, ['4242', '8642']);
    b = await join(t.baseUrl, ['4242', '8642']);
    const startAtMs = performance.now() + 100;
    const durationMs = 2600;
    const plays = [a.stream.play(toneMulaw(1300, -20, durationMs), startAtMs), b.stream.play(toneMulaw(1900, -20, durationMs), startAtMs)];

    // Meanwhile, one bad start after another, each on its own socket.
    // c is admitted through the PIN prompt; its ticket is used below (by c, and by others).
    const admitted = await dial(t.baseUrl, ['4242', '8642']);
    const cDial = admitted.dial;
    if (cDial.kind !== 'stream') throw new Error('c not admitted');
    const attempt = async (name: string, callSid: string, customParameters: Record<string, string>) => {
      const s = await SimulatedStream.open({ url: cDial.streamUrl, callSid, customParameters });
      refusals[name] = await s.closed;
    };
    await sleep(400);
    await attempt('missing', randomSid('CA'), { room: '4242' });
    // A real ticket for a real admitted call, with one character of its MAC changed.
    const forgedFrom = await dial(t.baseUrl, ['4242', '8642']);
    if (forgedFrom.dial.kind !== 'stream') throw new Error('not admitted');
    const real = forgedFrom.dial.parameters['ticket']!;
    const forged = real.slice(0, -2) + (real.at(-2) === 'A' ? 'B' : 'A') + real.at(-1);
    await attempt('forged', forgedFrom.callSid, { room: '4242', ticket: forged });
    // Well-formed, signed with another secret.
    const otherSecret = encodeTicket(randomBytes(32), {
      callSid: forgedFrom.callSid,
      room: '4242',
      seat: 3,
      expiresAtSeconds: Math.floor(Date.now() / 1000) + 30,
      nonce: 'n0nce',
    });
    await attempt('other-secret', forgedFrom.callSid, { room: '4242', ticket: otherSecret });
    await sleep(200);
    // Signed with the server's secret, for this call, but expired a second ago.
    const expired = encodeTicket(Buffer.from(SECRET), {
      callSid: forgedFrom.callSid,
      room: '4242',
      seat: 3,
      expiresAtSeconds: Math.floor(Date.now() / 1000) - 1,
      nonce: 'expired-nonce',
    });
    await attempt('expired', forgedFrom.callSid, { room: '4242', ticket: expired });
    // A good ticket presented by another CallSid.
    await attempt('other-call', randomSid('CA'), cDial.parameters);
    await sleep(200);
    // c uses its ticket (joins), then the same ticket again on a second socket.
    c = {
      callSid: admitted.callSid,
      stream: await SimulatedStream.open({ url: cDial.streamUrl, callSid: admitted.callSid, customParameters: cDial.parameters }),
      said: cDial.said,
      parameters: cDial.parameters,
    };
    await attempt('reused', admitted.callSid, cDial.parameters);
    // And the PIN room entered by a socket that never saw the webhook, naming the room.
    await attempt('direct', randomSid('CA'), { room: '4242', pin: '8642' });

    await Promise.all(plays);
    window = { from: startAtMs + 300, to: startAtMs + durationMs - 100 };
    warnings = t.captured.warnings();
  });
  after(async () => {
    await Promise.all([a, b, c].filter(Boolean).map((x) => x.stream.stop()));
    await t.close();
  });

  test('every bad start is closed with 1008', () => {
    assert.deepEqual(Object.keys(refusals).sort(), ['direct', 'expired', 'forged', 'missing', 'other-call', 'other-secret', 'reused']);
    for (const [name, close] of Object.entries(refusals)) assert.equal(close.code, 1008, name);
  });

  test('one warn line per refusal, naming why', () => {
    const reasons = warnings.map((w) => /join ticket (\S+)/.exec(w.msg)?.[1]);
    assert.equal(warnings.length, 7, JSON.stringify(warnings.map((w) => w.msg)));
    assert.deepEqual(reasons.sort(), ['bad-signature', 'bad-signature', 'expired', 'missing', 'missing', 'other-call', 'reused']);
    for (const w of warnings) assert.equal(w['wsCode'], 1008);
  });

  test('the room kept mixing: a and b hear each other at 0 dB +/- 1 dB, with no gap over 60 ms', () => {
    const ref = sentToneDbfs(1300, -20);
    const ab = heardToneDbfs(a.stream, 1900, window.from, window.to) - ref;
    const ba = heardToneDbfs(b.stream, 1300, window.from, window.to) - ref;
    console.log(`# measured: while 7 bad starts were refused, a heard b at ${ab.toFixed(2)} dB and b heard a at ${ba.toFixed(2)} dB`);
    assert.ok(Math.abs(ab) <= 1, `a hears b at ${ab.toFixed(2)} dB`);
    assert.ok(Math.abs(ba) <= 1, `b hears a at ${ba.toFixed(2)} dB`);
    for (const s of [a.stream, b.stream]) {
      const times = s.receivedAtMs.filter((x) => x >= window.from && x <= window.to);
      let gap = 0;
      for (let i = 1; i < times.length; i++) gap = Math.max(gap, times[i]! - times[i - 1]!);
      assert.ok(gap <= 60, `longest gap ${gap.toFixed(1)} ms`);
      assert.deepEqual(s.protocolErrors, []);
    }
  });

  test('the one good stream (c) is in the room, the refused ones are not', () => {
    const room = t.server.conference.room('4242');
    assert.equal(room?.size, 3);
    assert.ok(c.stream.isOpen);
  });
});
