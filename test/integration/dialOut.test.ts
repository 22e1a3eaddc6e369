/**
 * Issue 17 (part C), dial-out: POST /api/rooms/:id/participants calls a number through twilio's
 * REST client, here sent to a local stand-in for Twilio (test/helpers/twilioStandIn.ts) that plays
 * the call as Twilio would: signed webhooks, the TwiML followed, the Media Stream opened, the
 * progress events posted. The callee presses 1 and is in the room without the PIN, with the role
 * given; both sides hear each other at the level sent; Twilio's progress comes back to the
 * operator as status callbacks; refusals are the catalog's.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { randomSid, SimulatedStream } from '../../src/sim/simulatedStream.js';
import { dialIn } from '../../src/sim/twimlFollower.js';
import { invitedPrompt, PROMPTS, seatPrompt } from '../../src/http/twiml.js';
import { heardToneDbfs, sentToneDbfs, sleep, toneMulaw, until } from '../helpers/calls.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { firstLiveEvent } from '../helpers/live.js';
import { twilioSignature } from '../helpers/signing.js';
import { TwilioStandIn } from '../helpers/twilioStandIn.js';
import { documentOf, normalise } from '../helpers/twimlDocuments.js';

const ACCOUNT = 'AC0123456789abcdef0123456789abcdef';
const TOKEN = 'dial-out-test-auth-token-0123';
const ADMIN = 'dial-out-test-admin-token-0123456789';
const CALLER_ID = '+15005550006';
const CALLBACK_SECRET = 'dial-out-callback-secret-0123456789abcdef';

interface Received {
  StatusCallbackEvent: string;
  [field: string]: string;
}

/** The operator's status callback receiver. */
async function startReceiver(): Promise<{ server: Server; url: string; events: Received[] }> {
  const events: Received[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      events.push(Object.fromEntries(new URLSearchParams(Buffer.concat(chunks).toString('utf8'))) as Received);
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as { port: number }).port}/events`, events };
}

async function api(t: TestServer, method: string, path: string, body?: unknown) {
  const res = await fetch(t.baseUrl + path, {
    method,
    headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, any> };
}

/** A signed webhook POST, as Twilio sends one. */
async function postSigned(url: string, params: Record<string, string>) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': twilioSignature(TOKEN, url, params) },
    body: new URLSearchParams(params).toString(),
  });
  return { status: res.status, text: await res.text() };
}

/** The dashboard's live feed: the first snapshot's room `room`. */
async function liveRoom(t: TestServer, room: string): Promise<Record<string, any>> {
  const snapshot = await firstLiveEvent<{ rooms: Record<string, any>[] }>(t.baseUrl, ADMIN, 'snapshot');
  return snapshot.rooms.find((r) => r['id'] === room)!;
}

const sign = (url: string, params: Readonly<Record<string, string>>) => ({ 'x-twilio-signature': twilioSignature(TOKEN, url, params) });

describe('dial-out: calling a number into a room', () => {
  let t: TestServer;
  let twilioApi: TwilioStandIn;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  before(async () => {
    twilioApi = await TwilioStandIn.start(ACCOUNT, TOKEN);
    receiver = await startReceiver();
    t = await startTestServer(
      {
        ADMIN_TOKEN: ADMIN,
        TWILIO_ACCOUNT_SID: ACCOUNT,
        TWILIO_AUTH_TOKEN: TOKEN,
        TWILIO_CALLER_ID: CALLER_ID,
        STATUS_CALLBACK_URL: receiver.url,
        STATUS_CALLBACK_SECRET: CALLBACK_SECRET,
      },
      { twilioHttpClient: twilioApi.httpClient() },
    );
    assert.equal((await api(t, 'POST', '/api/rooms', { id: '4711', pin: '2468' })).status, 201);
  });
  after(async () => {
    await t.close();
    await twilioApi.close();
    receiver.server.close();
  });

  test('the callee presses 1, joins without the PIN as a moderator with its label, and both sides hear each other at 0 dB', async () => {
    // Alice dials in with the PIN, as Twilio would (signed webhooks, signed upgrade).
    const aliceSid = randomSid('CA');
    const aliceDial = await dialIn({ baseUrl: t.baseUrl, callSid: aliceSid, keypresses: ['4711', '2468'], sign });
    assert.equal(aliceDial.kind, 'stream');
    if (aliceDial.kind !== 'stream') return;
    const alice = await SimulatedStream.open({
      url: aliceDial.streamUrl,
      callSid: aliceSid,
      customParameters: aliceDial.parameters,
      headers: { 'x-twilio-signature': twilioSignature(TOKEN, aliceDial.streamUrl) },
    });

    twilioApi.script('+15005550100', { answer: true, keys: ['1'], ringMs: 400 });
    const placed = await api(t, 'POST', '/api/rooms/4711/participants', { to: '+15005550100', label: 'Bob', moderator: true });
    assert.equal(placed.status, 201, JSON.stringify(placed.body));
    const call = twilioApi.calls.at(-1)!;
    assert.equal(placed.body['callSid'], call.sid, "the answer carries Twilio's CallSid");
    assert.equal(placed.body['status'], 'queued');
    assert.deepEqual([placed.body['to'], placed.body['from'], placed.body['label'], placed.body['moderator']], ['+15005550100', CALLER_ID, 'Bob', true]);
    // What Twilio was asked: basic auth, From = TWILIO_CALLER_ID, every progress event, Twilio's default Timeout.
    assert.ok(twilioApi.requests.every((r) => r.authorized));
    assert.equal(call.from, CALLER_ID);
    assert.deepEqual(call.statusCallbackEvents, ['initiated', 'ringing', 'answered', 'completed']);
    assert.equal(call.timeoutSeconds, 60);
    assert.match(call.url, new RegExp(`^${t.baseUrl}/voice/invited\\?d=[A-Za-z0-9_-]+&room=4711&pass=[A-Za-z0-9_-]+$`));

    // While it rings, the room's dial-outs list it.
    await until(() => call.posted.some((p) => p.status === 'ringing'), 'ringing posted');
    const ringing = await api(t, 'GET', '/api/rooms/4711/dial-outs');
    assert.equal(ringing.status, 200);
    assert.deepEqual(
      ringing.body['dialOuts'].map((d: Record<string, unknown>) => [d['callSid'], d['status'], d['label']]),
      [[call.sid, 'ringing', 'Bob']],
    );
    // The dashboard's feed shows it on the room, the number masked like a caller's.
    assert.deepEqual((await liveRoom(t, '4711'))['dialOuts'], [{ to: '+1******0100', status: 'ringing' }]);

    await call.played;
    assert.equal(call.dial?.kind, 'stream', `connected: ${call.dial?.said.join(' | ')}`);
    assert.deepEqual(call.dial?.said, [invitedPrompt('4711'), seatPrompt(2)]);
    await until(() => t.server.conference.room('4711')?.size === 2, 'Bob in the room');
    const bob = t.server.conference.participant(call.sid)!;
    assert.deepEqual(bob.info, { seat: 2, from: '+15005550100', moderator: true, label: 'Bob' });
    assert.deepEqual(t.server.conference.participant(aliceSid)!.info, { seat: 1, from: '+15005550006' }, 'a caller who dialled in has no role');
    assert.deepEqual((await api(t, 'GET', '/api/rooms/4711/dial-outs')).body['dialOuts'], [], 'in the room: no longer pending');
    assert.deepEqual((await liveRoom(t, '4711'))['dialOuts'], []);

    // Alice sends 450 Hz, Bob 1050 Hz (whole cycles per 20 ms frame), both at -20 dBFS peak; each hears the other at the level sent.
    const startAtMs = performance.now() + 100;
    await Promise.all([alice.play(toneMulaw(450, -20, 1500), startAtMs), call.stream!.play(toneMulaw(1050, -20, 1500), startAtMs)]);
    const bobHeardAlice = heardToneDbfs(call.stream!, 450, startAtMs + 300, startAtMs + 1400) - sentToneDbfs(450, -20);
    const aliceHeardBob = heardToneDbfs(alice, 1050, startAtMs + 300, startAtMs + 1400) - sentToneDbfs(1050, -20);
    console.log(`dial-out: the callee hears the room at ${bobHeardAlice.toFixed(2)} dB, the room hears the callee at ${aliceHeardBob.toFixed(2)} dB`);
    assert.ok(Math.abs(bobHeardAlice) <= 1, `the callee hears Alice at ${bobHeardAlice.toFixed(2)} dB`);
    assert.ok(Math.abs(aliceHeardBob) <= 1, `Alice hears the callee at ${aliceHeardBob.toFixed(2)} dB`);

    await call.hangUp();
    await alice.stop();
    assert.deepEqual(
      call.posted.map((p) => `${p.status} ${p.answer}`),
      ['initiated 204', 'ringing 204', 'in-progress 204', 'completed 204'],
    );
    // The operator heard each progress event, named as Twilio names a call's, and the join.
    await until(() => receiver.events.some((e) => e.StatusCallbackEvent === 'call-completed' && e['CallSid'] === call.sid), 'call-completed');
    // (Bob's speech events come too: not the dial-out's.)
    const mine = receiver.events.filter((e) => e['CallSid'] === call.sid && !e.StatusCallbackEvent.startsWith('participant-speech'));
    assert.deepEqual(
      mine.map((e) => e.StatusCallbackEvent),
      ['call-initiated', 'call-ringing', 'call-answered', 'participant-join', 'participant-leave', 'call-completed'],
    );
    const completed = mine.find((e) => e.StatusCallbackEvent === 'call-completed')!;
    assert.deepEqual(
      [completed['CallStatus'], completed['Room'], completed['To'], completed['Label'], completed['Moderator']],
      ['completed', '4711', '+15005550100', 'Bob', 'true'],
    );
    const health = (await (await fetch(`${t.baseUrl}/health`)).json()) as { dialOuts: Record<string, number> };
    assert.ok(health.dialOuts['placed']! >= 1 && health.dialOuts['joined']! >= 1 && health.dialOuts['completed']! >= 1, JSON.stringify(health.dialOuts));
  });

  test('a callee who does not answer: call-completed with CallStatus no-answer reaches the operator, counted, nothing pending', async () => {
    twilioApi.script('+15005550101', { answer: false, status: 'no-answer', ringMs: 50 });
    const placed = await api(t, 'POST', '/api/rooms/4711/participants', { to: '+15005550101', timeoutSeconds: 15 });
    assert.equal(placed.status, 201);
    const call = twilioApi.calls.at(-1)!;
    assert.equal(call.timeoutSeconds, 15);
    await call.played;
    await until(() => receiver.events.some((e) => e.StatusCallbackEvent === 'call-completed' && e['CallSid'] === call.sid), 'the no-answer event');
    const events = receiver.events.filter((e) => e['CallSid'] === call.sid);
    assert.deepEqual(
      events.map((e) => `${e.StatusCallbackEvent} ${e['CallStatus']}`),
      ['call-initiated initiated', 'call-ringing ringing', 'call-completed no-answer'],
    );
    assert.equal(events[2]!['Moderator'], 'false');
    assert.equal(events[2]!['Label'], undefined, 'no label given, none sent');
    assert.deepEqual((await api(t, 'GET', '/api/rooms/4711/dial-outs')).body['dialOuts'], []);
    const health = (await (await fetch(`${t.baseUrl}/health`)).json()) as { dialOuts: Record<string, number> };
    assert.equal(health.dialOuts['noAnswer'], 1);
    assert.ok(
      t.captured.lines.some((l) => l.msg === 'dial-out: Twilio reports the call no-answer'),
      'logged',
    );
  });

  test('a callee who presses 2 or nothing hears goodbye and is not in the room; the invitation answers its twiml/ documents', async () => {
    for (const keys of [['2'], ['']]) {
      twilioApi.script('+15005550102', { answer: true, keys });
      assert.equal((await api(t, 'POST', '/api/rooms/4711/participants', { to: '+15005550102' })).status, 201);
      const call = twilioApi.calls.at(-1)!;
      await call.played;
      assert.equal(call.dial?.kind, 'hangup');
      assert.deepEqual(call.dial?.said, [invitedPrompt('4711'), PROMPTS.invitedGoodbye]);
      assert.equal(t.server.conference.participant(call.sid), undefined);
      assert.equal(call.posted.at(-1)?.status, 'completed');
    }
    // The same webhooks, read as raw TwiML: the reviewed documents.
    twilioApi.script('+15005550103', { answer: false, status: 'busy' });
    assert.equal((await api(t, 'POST', '/api/rooms/4711/participants', { to: '+15005550103' })).status, 201);
    const call = twilioApi.calls.at(-1)!;
    const params = { AccountSid: ACCOUNT, CallSid: call.sid, CallStatus: 'in-progress', Direction: 'outbound-api', From: CALLER_ID, To: call.to };
    const invitation = await postSigned(call.url, params);
    assert.equal(invitation.status, 200);
    const query = new URL(call.url).search;
    assert.equal(normalise(invitation.text), documentOf('invited.xml', { room: '4711', timeoutSeconds: 8, action: `/voice/invited/answer${query}` }));
    const nothing = await postSigned(`${t.baseUrl}/voice/invited/answer${query}`, { ...params, Digits: '' });
    assert.equal(normalise(nothing.text), documentOf('invited-goodbye.xml', {}));
    await call.played;
  });

  test('an invitation cannot be forged or taken by another call', async () => {
    twilioApi.script('+15005550104', { answer: false, status: 'busy', ringMs: 300 });
    assert.equal((await api(t, 'POST', '/api/rooms/4711/participants', { to: '+15005550104' })).status, 201);
    const call = twilioApi.calls.at(-1)!;
    const url = new URL(call.url);
    const params = (callSid: string) => ({ AccountSid: ACCOUNT, CallSid: callSid, From: CALLER_ID, To: call.to, Digits: '1' });
    const answerUrl = `${t.baseUrl}/voice/invited/answer${url.search}`;
    const n = t.captured.warnings().length;
    // Unsigned: refused by the webhooks' signature check (this route is behind it too).
    const unsigned = await fetch(answerUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(params(call.sid)),
    });
    assert.equal(unsigned.status, 400);
    // Signed, but with the pass of another room, or by another call: goodbye, not the room.
    const otherRoom = `${t.baseUrl}/voice/invited/answer${url.search.replace('room=4711', 'room=4712')}`;
    assert.equal(normalise((await postSigned(otherRoom, params(call.sid))).text), documentOf('invited-goodbye.xml', {}));
    assert.equal(normalise((await postSigned(answerUrl, params(randomSid('CA')))).text), documentOf('invited-goodbye.xml', {}));
    assert.equal(t.captured.warnings().length - n, 3, 'one warn line each');
    assert.equal(t.server.conference.participant(call.sid), undefined, 'not in the room');
    await call.played;
  });

  test('bad requests: the catalog answers, and Twilio refusing is TWILIO_REFUSED with its code', async () => {
    const n = t.captured.warnings().length;
    const bad = await api(t, 'POST', '/api/rooms/4711/participants', { to: '5550100' });
    assert.equal(bad.status, 400);
    assert.equal(bad.body['error'].code, 'BAD_REQUEST');
    assert.match(bad.body['error'].message, /^to: a phone number in E\.164 form/);
    assert.equal((await api(t, 'POST', '/api/rooms/4711/participants', { to: '+15005550100', timeoutSeconds: 601 })).status, 400);
    assert.equal((await api(t, 'POST', '/api/rooms/4711/participants', { to: '+15005550100', extra: 1 })).status, 400);
    assert.deepEqual(
      t.captured
        .warnings()
        .slice(n)
        .map((l) => l['code']),
      ['BAD_REQUEST', 'BAD_REQUEST', 'BAD_REQUEST'],
      'one warn line each',
    );
    assert.equal((await api(t, 'POST', '/api/rooms/9999/participants', { to: '+15005550100' })).status, 404);
    twilioApi.script('+15005550001', { refuse: { status: 400, code: 21211, message: "The 'To' number +15005550001 is not a valid phone number." } });
    const refused = await api(t, 'POST', '/api/rooms/4711/participants', { to: '+15005550001' });
    assert.equal(refused.status, 502);
    assert.equal(refused.body['error'].code, 'TWILIO_REFUSED');
    assert.match(refused.body['error'].message, /Twilio error 21211.*not a valid phone number/);
    assert.deepEqual((await api(t, 'GET', '/api/rooms/4711/dial-outs')).body['dialOuts'], []);
  });
});

describe('dial-out without Twilio credentials or a caller ID', () => {
  test('no credentials: 503 TWILIO_NOT_CONFIGURED naming the variables; no caller ID: 400 naming TWILIO_CALLER_ID', async () => {
    const bare = await startTestServer({ ADMIN_TOKEN: ADMIN });
    const twilioApi = await TwilioStandIn.start(ACCOUNT, TOKEN);
    const noCallerId = await startTestServer(
      { ADMIN_TOKEN: ADMIN, TWILIO_ACCOUNT_SID: ACCOUNT, TWILIO_AUTH_TOKEN: TOKEN },
      { twilioHttpClient: twilioApi.httpClient() },
    );
    try {
      for (const s of [bare, noCallerId]) assert.equal((await api(s, 'POST', '/api/rooms', { id: '4711' })).status, 201);
      const off = await api(bare, 'POST', '/api/rooms/4711/participants', { to: '+15005550100' });
      assert.equal(off.status, 503);
      assert.equal(off.body['error'].code, 'TWILIO_NOT_CONFIGURED');
      assert.match(off.body['error'].message, /TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN/);
      assert.deepEqual(
        bare.captured.warnings().map((l) => l['code']),
        ['TWILIO_NOT_CONFIGURED'],
        'one warn line',
      );
      const noFrom = await api(noCallerId, 'POST', '/api/rooms/4711/participants', { to: '+15005550100' });
      assert.equal(noFrom.status, 400);
      assert.match(noFrom.body['error'].message, /^from: .*TWILIO_CALLER_ID/);
      assert.equal(twilioApi.requests.length, 0, 'Twilio was not asked');
      // With a from: placed.
      const placed = await api(noCallerId, 'POST', '/api/rooms/4711/participants', { to: '+15005550100', from: '+15005550009' });
      assert.equal(placed.status, 201);
      assert.equal(twilioApi.calls[0]?.from, '+15005550009');
      await twilioApi.calls[0]!.played;
      await sleep(10);
      // Twilio unreachable (the stand-in gone): 502 TWILIO_REFUSED saying so, nothing pending.
      await twilioApi.close();
      const unreachable = await api(noCallerId, 'POST', '/api/rooms/4711/participants', { to: '+15005550100', from: '+15005550009' });
      assert.equal(unreachable.status, 502);
      assert.equal(unreachable.body['error'].code, 'TWILIO_REFUSED');
      assert.match(unreachable.body['error'].message, /^Twilio did not place the call to \+15005550100: (.*ECONNREFUSED|socket hang up)/);
      assert.deepEqual((await api(noCallerId, 'GET', '/api/rooms/4711/dial-outs')).body['dialOuts'], []);
    } finally {
      await bare.close();
      await noCallerId.close();
      await twilioApi.close();
    }
  });
});
