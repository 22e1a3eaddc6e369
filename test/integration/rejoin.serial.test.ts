/**
 * Issue 16: every <Connect> has an action, in one process too. When a call's stream ends, Twilio
 * asks /voice/rejoin what next: a call that left on purpose hears the goodbye; a call whose stream
 * broke is back in its room with its seat, mute and volume, without the seat announcement; one
 * that has hung up gets no seat; a stream that keeps breaking is let go after REJOIN_ATTEMPTS. While
 * the server shuts down, a rejoin is told to wait for the next process (RESTART_PAUSE_SECONDS and a
 * database file) or hears restarting.xml. The restart itself, across two real processes, is
 * test/integration/restart.serial.test.ts.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join as joinPath } from 'node:path';
import { ERRORS } from '../../src/errors.js';
import { PROMPTS } from '../../src/http/twiml.js';
import { rejoinPass } from '../../src/security/joinTicket.js';
import { dialIn } from '../../src/sim/twimlFollower.js';
import { randomSid, SimulatedStream } from '../../src/sim/simulatedStream.js';
import { sentToneDbfs, until } from '../helpers/calls.js';
import { ClusterCall } from '../helpers/clusterCalls.js';
import { documentOf, normalise } from '../helpers/twimlDocuments.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const SECRET = 'rejoin-test-secret-0123456789abcdef0123';
const ADMIN_TOKEN = 'rejoin-test-admin-token-0123456789';
const NOT_HEARD_DBFS = -60;

const form = (body: Record<string, string>) => ({
  method: 'POST',
  headers: { 'content-type': 'application/x-www-form-urlencoded' },
  body: new URLSearchParams(body).toString(),
});
const rejoinUrl = (base: string, callSid: string, room: string, n: number, extra = '') =>
  `${base}/voice/rejoin?room=${room}&n=${n}&pass=${rejoinPass(Buffer.from(SECRET), callSid, room, n)}${extra}`;

describe('one process: the <Connect action> after a stream ends', () => {
  let t: TestServer;
  const calls: ClusterCall[] = [];
  before(async () => {
    t = await startTestServer({ JOIN_TICKET_SECRET: SECRET, ADMIN_TOKEN });
  });
  after(async () => {
    await Promise.all(calls.map((c) => c.hangUp()));
    await t.close();
  });

  test('a broken stream: back in the room with its seat, mute and volume, no seat announcement; a caller who left with *8 hears the goodbye', {
    timeout: 30_000,
  }, async () => {
    const [a, b, c] = [
      await ClusterCall.start(t.baseUrl, '501', 440),
      await ClusterCall.start(t.baseUrl, '501', 660),
      await ClusterCall.start(t.baseUrl, '501', 880),
    ];
    calls.push(a, b, c);
    await until(() => calls.every((x) => x.heard.length > 25), 'the three to hear each other', 5000);
    await b.key('*6'); // B mutes itself
    await b.key('*7'); // and turns the room down 3 dB (a new sequence: *6 ended it)
    await until(() => t.server.conference.participant(b.callSid)?.listenVolumeDb === -3, 'B at -3 dB');
    // A leaves on purpose: seat 1 is free. A's action hears the goodbye.
    await a.key('*8');
    await a.ended;
    assert.deepEqual(a.finalSaid, [PROMPTS.goodbyeAfterCall]);
    assert.equal(a.streams.length, 1, 'A is not sent back');

    // B's socket drops without a stop: Twilio asks the action, B is back.
    b.dropStream();
    await until(() => b.streams.length === 2 && t.server.conference.participant(b.callSid) !== undefined, "B's new stream in the room", 10_000);
    const p = t.server.conference.participant(b.callSid)!;
    assert.equal(p.info.seat, 2, 'B keeps seat 2 (the lowest free one is 1)');
    assert.equal(p.muted, true, 'still muted');
    assert.equal(p.listenVolumeDb, -3, 'still at -3 dB');
    assert.deepEqual(b.streams[1]!.said, [], 'no seat announcement');
    assert.equal(b.isOver, false);

    // The audio: from the rejoin on, C does not hear the muted B; for a second from when B's new
    // stream carries the room, B hears C 3 dB down.
    const back = performance.now();
    await until(() => b.firstHeardAfter(880, back) !== null, "C in B's new stream", 5000);
    const from = b.firstHeardAfter(880, back)!;
    const to = from + 1000;
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, to - performance.now())));
    const bInC = c.heardDbfs(660, back, to);
    const cInB = b.heardDbfs(880, from, to);
    assert.ok(bInC < NOT_HEARD_DBFS, `C does not hear the muted B (${bInC.toFixed(1)} dBFS)`);
    const expected = sentToneDbfs(880, -20) - 3;
    assert.ok(Math.abs(cInB - expected) <= 1, `B hears C at ${cInB.toFixed(1)} dBFS (expected ${expected.toFixed(1)})`);
  });

  test("coaching kept: the coached call's stream breaks (its coach is muted meanwhile), back, it hears its coach again; the third caller does not", {
    timeout: 30_000,
  }, async () => {
    const [a, b, c] = [
      await ClusterCall.start(t.baseUrl, '503', 1040),
      await ClusterCall.start(t.baseUrl, '503', 1260),
      await ClusterCall.start(t.baseUrl, '503', 1480),
    ];
    calls.push(a, b, c);
    const coach = await fetch(`${t.baseUrl}/api/rooms/503/participants/${c.callSid}`, {
      method: 'PATCH',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ coaching: a.callSid }),
    });
    assert.equal(coach.status, 200);
    await until(() => [a, b, c].every((x) => x.heard.length > 25), 'the three to hear each other', 5000);
    const mutedMeanwhile = new Promise<boolean>((resolve) =>
      t.server.conference.once('participantMuted', (p, muted) => resolve(p.callSid === c.callSid && muted)),
    );
    a.dropStream();
    const dropAt = performance.now();
    try {
      await until(() => a.streams.length === 2 && t.server.conference.participant(a.callSid) !== undefined, "A's new stream in the room", 10_000);
    } catch (e) {
      console.log(
        'DEBUG streams',
        JSON.stringify(a.streams.map((s) => ({ ...s, openedAtMs: s.openedAtMs - dropAt, closedAtMs: s.closedAtMs && s.closedAtMs - dropAt }))),
        'final',
        a.finalSaid,
        'over',
        a.isOver,
        'participant',
        !!t.server.conference.participant(a.callSid),
      );
      for (const l of t.captured.lines.slice(-25)) console.log('DEBUG log', JSON.stringify(l));
      throw e;
    }
    assert.equal(await mutedMeanwhile, true, 'the coach was muted while A was away');
    const p = t.server.conference.participant(c.callSid)!;
    assert.equal(p.coaching, a.callSid, 'C coaches A again');
    assert.equal(p.muted, false, 'and is unmuted, as before A left');
    // Measured from when A's new stream carries its coach (the rejoin's set-up is not the point here).
    const back = performance.now();
    await until(() => a.firstHeardAfter(1480, back) !== null, "A's coach in A's new stream", 5000);
    const from = a.firstHeardAfter(1480, back)!;
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, from + 1000 - performance.now())));
    const to = from + 1000;
    const heard = a.heardDbfs(1480, from, to);
    const byB = b.heardDbfs(1480, from, to);
    assert.ok(Math.abs(heard - sentToneDbfs(1480, -20)) <= 1, `A hears its coach at ${heard.toFixed(1)} dBFS`);
    assert.ok(byB - heard <= -40, `B does not hear the coach (${(byB - heard).toFixed(1)} dB relative)`);
  });

  test('the <Connect action> arrives before the server sees the old stream close: that stream is ended, the call back with its seat and mute in one try', async () => {
    const callSid = randomSid('CA');
    const first = await dialIn({ baseUrl: t.baseUrl, callSid, keypresses: ['504'] });
    assert.equal(first.kind, 'stream');
    if (first.kind !== 'stream') return;
    const old = await SimulatedStream.open({ url: first.streamUrl, callSid, customParameters: first.parameters });
    await until(() => t.server.conference.participant(callSid) !== undefined, 'the call in room 504');
    const seat = t.server.conference.participant(callSid)!.info.seat;
    assert.equal(t.server.conference.setMuted(callSid, true), true);
    const warningsBefore = t.captured.warnings().length;
    // Twilio's stream has ended on its side; its socket's close has not reached the server yet.
    const again = await dialIn({ baseUrl: t.baseUrl, callSid, voicePath: first.action! });
    assert.equal(again.kind, 'stream', 'the rejoin connects the call');
    if (again.kind !== 'stream') return;
    const closed = await Promise.race([old.closed, new Promise<null>((resolve) => setTimeout(() => resolve(null), 3000))]);
    assert.equal(closed?.code, ERRORS.REPLACED.wsCode, 'the old stream closed by the server as replaced');
    const next = await SimulatedStream.open({ url: again.streamUrl, callSid, customParameters: again.parameters });
    await until(() => t.server.conference.participant(callSid)?.info.rejoined === true, 'the call back in room 504');
    const p = t.server.conference.participant(callSid)!;
    assert.equal(p.info.seat, seat, 'same seat');
    assert.equal(p.muted, true, 'still muted');
    assert.deepEqual(
      t.captured
        .warnings()
        .slice(warningsBefore)
        .map((l) => l.msg),
      [],
      'no refused ticket, no other warning',
    );
    next.terminate();
    await until(() => t.server.conference.participant(callSid) === undefined, 'the call gone');
  });

  test('a call that hung up gets no seat; a bad pass hears the goodbye; REJOIN_ATTEMPTS drops are the last, a restart is not counted', async () => {
    const sid = 'CA00000000000000000000000000000077';
    const seatsBefore = t.server.seats.total();
    const completed = await (await fetch(rejoinUrl(t.baseUrl, sid, '502', 0), form({ CallSid: sid, CallStatus: 'completed' }))).text();
    assert.match(completed, /<Say>You have left the conference\. Goodbye\.<\/Say><Hangup\/>/);
    assert.equal(t.server.seats.total(), seatsBefore, 'no seat reserved for a call that is over');
    const forged = await (await fetch(`${t.baseUrl}/voice/rejoin?room=502&n=0&pass=forged`, form({ CallSid: sid, CallStatus: 'in-progress' }))).text();
    assert.match(forged, /You have left the conference/);
    const last = await (await fetch(rejoinUrl(t.baseUrl, sid, '502', 3), form({ CallSid: sid, CallStatus: 'in-progress' }))).text();
    assert.match(last, new RegExp(PROMPTS.rejoinFailed.replace(/\./g, '\\.')));
    // The same count back from a restart: admitted, and its next action keeps the count.
    const restart = await (await fetch(rejoinUrl(t.baseUrl, sid, '502', 3, '&restart=1'), form({ CallSid: sid, CallStatus: 'in-progress' }))).text();
    assert.match(restart, /<Connect action="\/voice\/rejoin\?room=502&amp;n=3&amp;pass=/);
    assert.doesNotMatch(restart, /<Say>/, 'no seat announcement');
  });
});

describe('while one process shuts down, a call asking to rejoin', () => {
  /** Admits a call in `room`, opens its stream, starts shutting down and asks the action as Twilio would. */
  async function rejoinWhileClosing(t: TestServer, room: string): Promise<{ twiml: string; closeMs: number }> {
    const callSid = 'CA000000000000000000000000000000' + room.slice(-2);
    const dial = await dialIn({ baseUrl: t.baseUrl, callSid, voicePath: `/voice?room=${room}` });
    assert.equal(dial.kind, 'stream');
    if (dial.kind !== 'stream') return { twiml: '', closeMs: 0 };
    const stream = await SimulatedStream.open({ url: dial.streamUrl, callSid, customParameters: dial.parameters });
    await until(() => t.server.conference.participant(callSid) !== undefined, 'the call in its room');
    const started = performance.now();
    const closing = t.close();
    await stream.closed;
    const res = await fetch(dial.action!, form({ CallSid: callSid, CallStatus: 'in-progress' }));
    const twiml = await res.text();
    await closing;
    return { twiml, closeMs: performance.now() - started };
  }

  test('with a database file: RESTART_PAUSE_SECONDS of silence, then the same rejoin marked as a restart; the server exits once it was asked', async () => {
    const dir = mkdtempSync(joinPath(tmpdir(), 'conference-rejoin-'));
    try {
      const t = await startTestServer({ JOIN_TICKET_SECRET: SECRET, ROOMS_DB_PATH: joinPath(dir, 'rooms.sqlite'), RESTART_PAUSE_SECONDS: '2' });
      const { twiml, closeMs } = await rejoinWhileClosing(t, '611');
      assert.match(twiml, /<Pause length="2"\/><Redirect method="POST">\/voice\/rejoin\?room=611&amp;n=0&amp;pass=[^<]+&amp;restart=1<\/Redirect>/);
      assert.ok(closeMs < 1500, `closed once the one call had asked (${closeMs.toFixed(0)} ms), not after the 2 s wait`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a caller in a prompt: the same pause, then the next process from what was keyed (the room number; a PIN is asked again, never in the URL)', async () => {
    const dir = mkdtempSync(joinPath(tmpdir(), 'conference-rejoin-'));
    try {
      const t = await startTestServer({ JOIN_TICKET_SECRET: SECRET, ROOMS_DB_PATH: joinPath(dir, 'rooms.sqlite'), RESTART_PAUSE_SECONDS: '2' });
      t.server.stopAdmitting();
      const sid = 'CA00000000000000000000000000000088';
      const answers: Array<[path: string, body: Record<string, string>, next: string]> = [
        ['/voice', {}, '/voice?restart=1'],
        ['/voice?room=613', {}, '/voice?room=613&restart=1'],
        ['/voice/room?attempt=1', { Digits: '613' }, '/voice?room=613&restart=1'],
        ['/voice/room?attempt=2', { Digits: '' }, '/voice?restart=1'],
        ['/voice/pin?room=613', { Digits: '2468' }, '/voice?room=613&restart=pin'],
        ['/voice?room=613&restart=pin', {}, '/voice?room=613&restart=pin'],
      ];
      for (const [path, body, next] of answers) {
        const text = await (await fetch(`${t.baseUrl}${path}`, form({ CallSid: sid, CallStatus: 'in-progress', ...body }))).text();
        assert.equal(normalise(text), documentOf('rejoin-wait.xml', { pause: 2, url: next }), path);
        assert.doesNotMatch(text, /2468/, 'no PIN in the answer');
      }
      const started = performance.now();
      await t.close();
      assert.ok(performance.now() - started < 1500, 'no call in a room: the server does not wait for the prompts');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('RESTART_PAUSE_SECONDS=0, or the rooms in memory: restarting.xml', async () => {
    const dir = mkdtempSync(joinPath(tmpdir(), 'conference-rejoin-'));
    try {
      const envs: Array<Record<string, string>> = [{ ROOMS_DB_PATH: joinPath(dir, 'rooms.sqlite'), RESTART_PAUSE_SECONDS: '0' }, { ROOMS_DB_PATH: ':memory:' }];
      for (const env of envs) {
        const t = await startTestServer({ JOIN_TICKET_SECRET: SECRET, ...env });
        const { twiml } = await rejoinWhileClosing(t, '612');
        assert.match(twiml, new RegExp(PROMPTS.restarting.replace(/\./g, '\\.')), JSON.stringify(env));
        const u = await startTestServer({ JOIN_TICKET_SECRET: SECRET, ...env });
        u.server.stopAdmitting();
        const prompt = await (await fetch(`${u.baseUrl}/voice/pin?room=612`, form({ CallSid: 'CA1', Digits: '1234' }))).text();
        await u.close();
        assert.match(prompt, new RegExp(PROMPTS.restarting.replace(/\./g, '\\.')), `a caller in a prompt too: ${JSON.stringify(env)}`);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
