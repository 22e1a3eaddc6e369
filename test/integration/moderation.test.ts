/**
 * Issue 17, moderated conferences, through real webhooks and real WebSockets: the moderator PIN,
 * a room that waits for its moderator (the wait sound, callers not mixed), the end when the last
 * moderator leaves (a goodbye, then the calls end), startMuted and the hard mute (*6 cannot undo
 * it; the API or the moderator's *1 can), mute-all except the moderators, and POST /end keeping
 * the room's configuration. Every audio claim is measured in what the callers received.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { bestFrameLag, estimateGains, rmsDbfs, toneDbfs } from '../../src/audio/analysis.js';
import { SAMPLE_RATE_HZ, SAMPLES_PER_FRAME } from '../../src/audio/format.js';
import { waitLoop } from '../../src/audio/tones.js';
import { bundledPrompt } from '../../src/library/audioLibrary.js';
import type { SimulatedStream } from '../../src/sim/simulatedStream.js';
import { fromMulaw, toMulaw, wav } from '../helpers/audio.js';
import { dial, heardToneDbfs, join, sentToneDbfs, sleep, toneMulaw, until } from '../helpers/calls.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const ADMIN = 'moderation-test-admin-token-0123456789';
const MODERATOR_PIN = '9999';

describe('moderated rooms (issue 17)', () => {
  let t: TestServer;
  const admin = async (method: string, path: string, body?: object) => {
    const res = await fetch(t.baseUrl + path, {
      method,
      headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : null };
  };
  before(async () => {
    t = await startTestServer({ ADMIN_TOKEN: ADMIN });
  });
  after(() => t.close());

  const ref = () => sentToneDbfs(1300, -20);
  /** Level (dB relative to what was sent) of `hz` heard by `stream` in the window. */
  const level = (stream: SimulatedStream, hz: number, fromMs: number, toMs: number) => heardToneDbfs(stream, hz, fromMs, toMs) - ref();
  /** `n` frames `stream` received from the first at or after `fromMs`, as PCM. */
  const framesFrom = (stream: SimulatedStream, fromMs: number, n: number): Int16Array => {
    const first = stream.receivedAtMs.findIndex((at) => at >= fromMs);
    assert.ok(first >= 0 && first + n <= stream.receivedAtMs.length, `${n} frames received after the moment (${stream.receivedAtMs.length - first})`);
    return fromMulaw(stream.receivedMulaw()).subarray(first * SAMPLES_PER_FRAME, (first + n) * SAMPLES_PER_FRAME);
  };
  const inRoom = (room: string, n: number) => until(() => t.server.conference.room(room)?.size === n, `${n} in room ${room}`);
  const press = (stream: SimulatedStream, keys: string) => [...keys].forEach((k) => stream.sendDtmf(k));
  /** Waits until the room's stored lock (GET /api/rooms/:id) is `locked`. */
  const untilLocked = async (room: string, locked: boolean) => {
    const deadline = performance.now() + 3000;
    while ((await admin('GET', `/api/rooms/${room}`)).body.locked !== locked) {
      assert.ok(performance.now() < deadline, `room ${room} ${locked ? 'locked' : 'unlocked'} in time`);
      await sleep(30);
    }
  };

  test('waitForModerator: callers hear the wait sound, not each other; the moderator starts the conference', async () => {
    const created = await admin('POST', '/api/rooms', { id: '500', moderatorPin: MODERATOR_PIN, waitForModerator: true });
    assert.equal(created.status, 201);
    assert.equal(created.body.hasModeratorPin, true);
    assert.equal(created.body.hasPin, false);
    assert.ok(!JSON.stringify(created.body).includes(MODERATOR_PIN) && !JSON.stringify(created.body).includes('scrypt'), 'no PIN nor hash shown');
    // A room with only a moderator PIN still asks for a PIN; # alone enters as a participant.
    const a = await join(t.baseUrl, ['500', '']);
    assert.ok(a.said.includes('If you are the moderator, please enter your PIN, followed by the pound key. Otherwise, just press the pound key.'));
    const b = await join(t.baseUrl, ['500', '']);
    await inRoom('500', 2);
    assert.equal(t.server.conference.room('500')?.waitingForModerator, true);
    // Both talk for 4.3 s; a full 4 s period of the wait loop is measured in each.
    const startAtMs = performance.now() + 100;
    await Promise.all([a.stream.play(toneMulaw(1300, -20, 4300), startAtMs), b.stream.play(toneMulaw(1900, -20, 4300), startAtMs)]);
    const loop = waitLoop();
    const loopDbfs = rmsDbfs(fromMulaw(toMulaw(loop)));
    const periodFrames = loop.length / SAMPLES_PER_FRAME;
    for (const [name, s] of [
      ['a', a.stream],
      ['b', b.stream],
    ] as const) {
      const heard = rmsDbfs(framesFrom(s, startAtMs + 150, periodFrames));
      console.log(`# measured: ${name} hears the wait sound at ${heard.toFixed(2)} dBFS RMS (the loop is ${loopDbfs.toFixed(2)})`);
      assert.ok(Math.abs(heard - loopDbfs) <= 1, `${name} hears the wait sound at ${heard.toFixed(2)} dBFS (loop ${loopDbfs.toFixed(2)})`);
    }
    const aHearsB = level(a.stream, 1900, startAtMs + 150, startAtMs + 4100);
    const bHearsA = level(b.stream, 1300, startAtMs + 150, startAtMs + 4100);
    console.log(`# measured: waiting callers hear each other at ${aHearsB.toFixed(1)} / ${bHearsA.toFixed(1)} dB`);
    assert.ok(aHearsB <= -60 && bHearsA <= -60, `not mixed while waiting: ${aHearsB.toFixed(1)} / ${bHearsA.toFixed(1)} dB`);

    // The moderator joins: within 1 s all three hear each other as sent.
    const m = await join(t.baseUrl, ['500', MODERATOR_PIN]);
    await inRoom('500', 3);
    const joinedAtMs = performance.now();
    assert.equal(t.server.conference.room('500')?.waitingForModerator, false);
    const talkAtMs = joinedAtMs + 20;
    const callers = [
      { s: a.stream, hz: 1300 },
      { s: b.stream, hz: 1900 },
      { s: m.stream, hz: 2500 },
    ];
    await Promise.all(callers.map((c) => c.s.play(toneMulaw(c.hz, -20, 1200), talkAtMs)));
    const levels: string[] = [];
    for (const listener of callers) {
      for (const source of callers) {
        if (listener === source) continue;
        const heard = level(listener.s, source.hz, joinedAtMs + 300, joinedAtMs + 1000);
        levels.push(heard.toFixed(2));
        assert.ok(Math.abs(heard) <= 1, `started: ${source.hz} Hz heard at ${heard.toFixed(2)} dB by the ${listener.hz} Hz caller`);
      }
    }
    console.log(`# measured: after the moderator joined, 300-1000 ms: ${levels.join(' / ')} dB`);
    const view = await admin('GET', '/api/rooms/500');
    assert.deepEqual(
      view.body.participants.map((p: { moderator: boolean }) => p.moderator),
      [false, false, true],
    );
    await Promise.all([a, b, m].map((x) => x.stream.stop()));
  });

  test('settings changed in an open room apply now: waitForModerator on and off, the wait and hold music; a started room stays started', async () => {
    // Three clips: steady tones at -20 dBFS peak, so what a caller hears can be measured by frequency.
    for (const [name, hz] of [
      ['modwait700', 700],
      ['modwait1100', 1100],
      ['modhold500', 500],
    ] as const) {
      const res = await fetch(`${t.baseUrl}/api/audio/${name}`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'audio/wav' },
        body: wav(8000, 1, hz, -20, 1000),
      });
      assert.equal(res.status, 201);
    }
    assert.equal((await admin('POST', '/api/rooms', { id: '910', moderatorPin: MODERATOR_PIN, waitMusic: 'modwait700' })).status, 201);
    const a = await join(t.baseUrl, ['910', '']);
    const b = await join(t.baseUrl, ['910', '']);
    await inRoom('910', 2);
    const startAtMs = performance.now() + 20;
    const talking = [a.stream.play(toneMulaw(1300, -20, 8000), startAtMs), b.stream.play(toneMulaw(1900, -20, 8000), startAtMs)];
    /** Level (dB relative to the same tone sent at -20 dBFS peak) of `hz` heard by `stream` in the window. */
    const at = (stream: SimulatedStream, hz: number, fromMs: number, toMs: number) => heardToneDbfs(stream, hz, fromMs, toMs) - sentToneDbfs(hz, -20);
    const patchRoom = async (body: object) => {
      const res = await admin('PATCH', '/api/rooms/910', body);
      assert.equal(res.status, 200);
      return { view: res.body, atMs: performance.now() };
    };
    await sleep(500);
    const before = [at(a.stream, 1900, startAtMs + 100, startAtMs + 480), at(b.stream, 1300, startAtMs + 100, startAtMs + 480)];

    // On, no moderator has been here: the callers wait now (the room's wait music, not each other).
    const on = await patchRoom({ waitForModerator: true });
    assert.equal(on.view.waitingForModerator, true);
    await sleep(500);
    const waiting = {
      music: [at(a.stream, 700, on.atMs + 60, on.atMs + 480), at(b.stream, 700, on.atMs + 60, on.atMs + 480)],
      others: [at(a.stream, 1900, on.atMs + 60, on.atMs + 480), at(b.stream, 1300, on.atMs + 60, on.atMs + 480)],
    };
    // The wait music changed: the new clip from the next frames on.
    const music = await patchRoom({ waitMusic: 'modwait1100' });
    await sleep(400);
    const changed = [at(a.stream, 1100, music.atMs + 60, music.atMs + 380), at(a.stream, 700, music.atMs + 60, music.atMs + 380)];
    // Off: released into the mix at once, no moderator needed (past the start beep's 180 ms).
    const off = await patchRoom({ waitForModerator: false });
    assert.equal(off.view.waitingForModerator, false);
    await sleep(550);
    const released = [at(a.stream, 1900, off.atMs + 250, off.atMs + 530), at(b.stream, 1300, off.atMs + 250, off.atMs + 530)];
    const releasedMusic = at(a.stream, 1100, off.atMs + 250, off.atMs + 530);
    console.log(
      `# measured: before ${before.map((x) => x.toFixed(2)).join(' / ')} dB; waitForModerator on: the wait music ${waiting.music.map((x) => x.toFixed(2)).join(' / ')} dB, ` +
        `each other ${waiting.others.map((x) => x.toFixed(1)).join(' / ')} dB; new wait music ${changed[0]!.toFixed(2)} dB (old ${changed[1]!.toFixed(1)} dB); ` +
        `off: each other ${released.map((x) => x.toFixed(2)).join(' / ')} dB, the music ${releasedMusic.toFixed(1)} dB`,
    );
    for (const x of [...before, ...waiting.music, changed[0]!, ...released]) assert.ok(Math.abs(x) <= 1, `heard as sent: ${x.toFixed(2)} dB`);
    // Not heard: the music's mu-law quantization noise is all there is at the other frequencies (-40 dB: the cross-room bar).
    for (const x of [...waiting.others, changed[1]!, releasedMusic]) assert.ok(x <= -40, `not heard: ${x.toFixed(1)} dB`);

    // A moderator comes and goes: the room has started, and turning waitForModerator on again keeps it so.
    const m = await join(t.baseUrl, ['910', MODERATOR_PIN]);
    await inRoom('910', 3);
    await m.stream.stop();
    await inRoom('910', 2);
    const again = await patchRoom({ waitForModerator: true });
    assert.equal(again.view.waitingForModerator, false, 'a started room stays started');
    await sleep(500);
    // (Past the moderator's leave beep, which the limiter makes room for.)
    const stillMixed = at(b.stream, 1300, again.atMs + 200, again.atMs + 480);
    // b on hold hears the room's hold music; changed, the new one from the next frames on.
    assert.equal((await admin('PATCH', `/api/rooms/910/participants/${b.callSid}`, { hold: true })).status, 200);
    const hold = await patchRoom({ holdMusic: 'modhold500' });
    await sleep(400);
    const onHold = [at(b.stream, 500, hold.atMs + 60, hold.atMs + 380), at(b.stream, 1300, hold.atMs + 60, hold.atMs + 380)];
    console.log(
      `# measured: started room, waitForModerator on: b hears a at ${stillMixed.toFixed(2)} dB; on hold, the new hold music ${onHold[0]!.toFixed(2)} dB, a ${onHold[1]!.toFixed(1)} dB`,
    );
    assert.ok(Math.abs(stillMixed) <= 1, `still mixed: ${stillMixed.toFixed(2)} dB`);
    assert.ok(Math.abs(onHold[0]!) <= 1 && onHold[1]! <= -40, `hold music ${onHold[0]!.toFixed(2)} dB, a ${onHold[1]!.toFixed(1)} dB`);
    await Promise.all([a.stream.stop(), b.stream.stop(), ...talking]);
    // Everyone left: the conference is over, and the room's next opening waits for a moderator again.
    await until(() => t.server.conference.room('910') === undefined, 'room 910 closed');
    const c = await join(t.baseUrl, ['910', '']);
    await inRoom('910', 1);
    assert.equal(t.server.conference.room('910')?.waitingForModerator, true, 'a new conference waits again');
    await c.stream.stop();
  });

  test('endWhenModeratorLeaves: the moderator hangs up; the others hear the goodbye and their calls end within 2 s', async () => {
    assert.equal((await admin('POST', '/api/rooms', { id: '600', moderatorPin: MODERATOR_PIN, endWhenModeratorLeaves: true })).status, 201);
    const m = await join(t.baseUrl, ['600', MODERATOR_PIN]);
    const a = await join(t.baseUrl, ['600', '']);
    const b = await join(t.baseUrl, ['600', '']);
    await inRoom('600', 3);
    await sleep(200);
    const leftAtMs = performance.now();
    await m.stream.stop();
    const [closeA, closeB] = await Promise.all(
      [a.stream, b.stream].map(async (s) => {
        const info = await s.closed;
        return { ...info, afterMs: performance.now() - leftAtMs };
      }),
    );
    for (const [name, s, c] of [
      ['a', a.stream, closeA!],
      ['b', b.stream, closeB!],
    ] as const) {
      // The goodbye: 880, 660, 440 Hz notes at -16 dBFS peak, heard in the 700 ms before the end.
      const goodbye = toneDbfs(framesFrom(s, leftAtMs, 30), 660, SAMPLE_RATE_HZ);
      console.log(
        `# measured: ${name} heard the goodbye (660 Hz) at ${goodbye.toFixed(1)} dBFS; call ended ${c.afterMs.toFixed(0)} ms after the moderator left`,
      );
      assert.ok(goodbye > -35, `${name} heard the goodbye at ${goodbye.toFixed(1)} dBFS`);
      assert.ok(c.afterMs <= 2000, `${name}'s call ended ${c.afterMs.toFixed(0)} ms after`);
      assert.equal(c.code, 1000);
      assert.equal(c.reason, 'the conference has ended');
    }
    assert.equal(t.server.conference.room('600'), undefined);
    assert.equal((await admin('GET', '/api/rooms/600')).status, 200, 'the room stays stored');
  });

  test('startMuted is a hard mute: *6 does not unmute; the API, then the moderator (*1), do, heard within a tick', async () => {
    assert.equal((await admin('POST', '/api/rooms', { id: '700', pin: '1234', moderatorPin: MODERATOR_PIN, startMuted: true })).status, 201);
    const m = await join(t.baseUrl, ['700', MODERATOR_PIN]);
    const a = await join(t.baseUrl, ['700', '1234']);
    await inRoom('700', 2);
    const pa = t.server.conference.participant(a.callSid)!;
    assert.equal(pa.muted, true);
    assert.equal(pa.hardMuted, true);
    assert.equal(t.server.conference.participant(m.callSid)!.muted, false, 'a moderator does not start muted');
    // a talks throughout; keys *6, which a hard mute refuses.
    const talkAtMs = performance.now() + 50;
    const talking = a.stream.play(toneMulaw(1300, -20, 4000), talkAtMs);
    await sleep(300);
    press(a.stream, '*6');
    await sleep(400);
    assert.equal(pa.muted, true, '*6 did not unmute');
    const whileMuted = level(m.stream, 1300, talkAtMs + 100, performance.now());
    assert.ok(whileMuted <= -60, `muted (and after *6): heard at ${whileMuted.toFixed(1)} dB`);
    // The API unmutes: heard from the next tick on.
    const patch = await admin('PATCH', `/api/rooms/700/participants/${a.callSid}`, { muted: false });
    const unmutedAtMs = performance.now();
    assert.equal(patch.body.muted, false);
    assert.equal(pa.muted, false);
    await sleep(700);
    // The first frame mixed after the change ramps in over 10 ms; the ones after carry a in full.
    const first = toneDbfs(framesFrom(m.stream, unmutedAtMs, 3).subarray(SAMPLES_PER_FRAME), 1300, SAMPLE_RATE_HZ) - ref();
    const after = level(m.stream, 1300, unmutedAtMs + 100, unmutedAtMs + 600);
    console.log(`# measured: hard-muted ${whileMuted.toFixed(1)} dB; after the API's unmute, frames 2-3: ${first.toFixed(2)} dB, then ${after.toFixed(2)} dB`);
    assert.ok(Math.abs(first) <= 1 && Math.abs(after) <= 1, `unmuted: ${first.toFixed(2)} / ${after.toFixed(2)} dB`);
    // The moderator's *1 mutes everyone but the moderators, hard; a's *6 cannot undo it; *1 again unmutes.
    press(m.stream, '*1');
    await until(() => pa.muted && pa.hardMuted, 'a muted by *1');
    press(a.stream, '*6');
    await sleep(300);
    assert.equal(pa.muted, true, '*6 did not undo the moderator');
    const keyMuted = level(m.stream, 1300, performance.now() - 250, performance.now());
    press(m.stream, '*1');
    await until(() => !pa.muted, 'a unmuted by *1');
    const keyUnmutedAtMs = performance.now();
    await sleep(400);
    const keyUnmuted = level(m.stream, 1300, keyUnmutedAtMs + 60, keyUnmutedAtMs + 380);
    console.log(`# measured: moderator *1: ${keyMuted.toFixed(1)} dB; *1 again: ${keyUnmuted.toFixed(2)} dB`);
    // The moderator hears its own key confirmation meanwhile: its mu-law noise is all there is at 1300 Hz.
    assert.ok(keyMuted <= -50, `muted by *1: ${keyMuted.toFixed(1)} dB`);
    assert.ok(Math.abs(keyUnmuted) <= 1, `unmuted by *1: ${keyUnmuted.toFixed(2)} dB`);
    await talking;
    // The moderator's *2 locks the room (a newcomer hears "locked"); *2 again unlocks it.
    press(m.stream, '*2');
    await untilLocked('700', true);
    const refused = await dial(t.baseUrl, ['700']);
    assert.equal(refused.dial.said.at(-1), 'Sorry, this conference is locked. Goodbye.');
    press(a.stream, '*2'); // not a moderator: nothing
    await sleep(200);
    assert.equal((await admin('GET', '/api/rooms/700')).body.locked, true);
    press(m.stream, '*2');
    await untilLocked('700', false);
    await Promise.all([a, m].map((x) => x.stream.stop()));
  });

  test('a hard-muted caller hears "The moderator has muted you." (the bundled spoken prompt), at its level; the moderator does not', async () => {
    assert.equal((await admin('POST', '/api/rooms', { id: '701', moderatorPin: MODERATOR_PIN, startMuted: true })).status, 201);
    const m = await join(t.baseUrl, ['701', MODERATOR_PIN]);
    const a = await join(t.baseUrl, ['701', '']);
    await inRoom('701', 2);
    assert.equal(t.server.conference.participant(a.callSid)?.hardMuted, true);
    const prompt = bundledPrompt('moderator-muted');
    await sleep((prompt.length / SAMPLE_RATE_HZ) * 1000 + 600);
    const heard = fromMulaw(a.stream.receivedMulaw());
    const { lagFrames, correlation } = bestFrameLag(prompt, heard, 0, Math.floor(heard.length / SAMPLES_PER_FRAME) - 10);
    const [gain] = estimateGains(heard, [prompt], [lagFrames * SAMPLES_PER_FRAME]);
    const levelDb = 20 * Math.log10(gain!);
    console.log(`# measured: the muted caller hears the prompt at ${levelDb.toFixed(2)} dB, correlation ${correlation.toFixed(3)}`);
    assert.ok(correlation > 0.95, `the spoken prompt is what a hears (correlation ${correlation.toFixed(3)})`);
    assert.ok(Math.abs(levelDb) <= 1, `at its level (${levelDb.toFixed(2)} dB)`);
    const mHeard = fromMulaw(m.stream.receivedMulaw());
    assert.ok(rmsDbfs(mHeard) < -60, `the moderator hears none of it (${rmsDbfs(mHeard).toFixed(1)} dBFS)`);
    await Promise.all([a.stream.stop(), m.stream.stop()]);
  });

  test('mute-all with exceptModerators; POST /end ends the calls and keeps the room; DELETE forgets it', async () => {
    assert.equal((await admin('POST', '/api/rooms', { id: '800', moderatorPin: MODERATOR_PIN, label: 'Board' })).status, 201);
    const m = await join(t.baseUrl, ['800', MODERATOR_PIN]);
    const a = await join(t.baseUrl, ['800', '']);
    const b = await join(t.baseUrl, ['800', '']);
    await inRoom('800', 3);
    assert.equal((await admin('POST', '/api/rooms/800/mute-all', { muted: 'yes' })).status, 400);
    assert.equal((await admin('POST', '/api/rooms/801/mute-all', { muted: true })).status, 404);
    const muted = await admin('POST', '/api/rooms/800/mute-all', { muted: true, exceptModerators: true });
    assert.equal(muted.status, 200);
    assert.equal(muted.body.changed, 2);
    assert.deepEqual(
      muted.body.participants.map((p: { moderator: boolean; muted: boolean; mutedByModerator: boolean }) => [p.moderator, p.muted, p.mutedByModerator]),
      [
        [true, false, false],
        [false, true, true],
        [false, true, true],
      ],
    );
    const callers = [
      { s: m.stream, hz: 1300 },
      { s: a.stream, hz: 1900 },
      { s: b.stream, hz: 2500 },
    ] as const;
    const startAtMs = performance.now() + 50;
    await Promise.all(callers.map((c) => c.s.play(toneMulaw(c.hz, -20, 1200), startAtMs)));
    const heard = (l: number, s: number) => level(callers[l]!.s, callers[s]!.hz, startAtMs + 300, startAtMs + 1100);
    console.log(
      `# measured: mute-all except moderators: a hears m ${heard(1, 0).toFixed(2)} dB, b hears m ${heard(2, 0).toFixed(2)} dB; m hears a ${heard(0, 1).toFixed(1)}, b ${heard(0, 2).toFixed(1)} dB; a hears b ${heard(1, 2).toFixed(1)}, b hears a ${heard(2, 1).toFixed(1)} dB`,
    );
    assert.ok(Math.abs(heard(1, 0)) <= 1 && Math.abs(heard(2, 0)) <= 1, 'the moderator is heard');
    // Not heard: nothing from a or b reaches the moderator; a and b hear the moderator's tone, whose
    // mu-law quantization noise is all there is at the other's frequency (-40 dB: the cross-room bar).
    assert.ok(heard(0, 1) <= -60 && heard(0, 2) <= -60, `the moderator hears a ${heard(0, 1).toFixed(1)}, b ${heard(0, 2).toFixed(1)} dB`);
    assert.ok(heard(1, 2) <= -40 && heard(2, 1) <= -40, `a hears b ${heard(1, 2).toFixed(1)}, b hears a ${heard(2, 1).toFixed(1)} dB`);

    const ended = await admin('POST', '/api/rooms/800/end');
    assert.deepEqual(ended.body, { id: '800', ended: true, participantsRemoved: 3, deleted: false });
    const closes = await Promise.all(callers.map((c) => c.s.closed));
    assert.deepEqual(
      closes.map((c) => c.reason),
      ['the conference has ended', 'the conference has ended', 'the conference has ended'],
    );
    const kept = await admin('GET', '/api/rooms/800');
    assert.equal(kept.status, 200);
    assert.equal(kept.body.label, 'Board');
    assert.equal(kept.body.hasModeratorPin, true);
    assert.equal(kept.body.participants.length, 0);
    assert.equal((await admin('POST', '/api/rooms/802/end')).status, 404);
    // The moderator PIN's rules: 4 to 12 digits, not the room's PIN; null removes it.
    assert.equal((await admin('PATCH', '/api/rooms/800', { moderatorPin: '12' })).status, 400);
    const same = await admin('POST', '/api/rooms', { id: '803', pin: '4242', moderatorPin: '4242' });
    assert.deepEqual([same.status, same.body.error.message], [400, 'moderatorPin: must differ from pin']);
    // The configuration still works: the moderator PIN still makes a moderator.
    const again = await join(t.baseUrl, ['800', MODERATOR_PIN]);
    await inRoom('800', 1);
    assert.equal(t.server.conference.participant(again.callSid)?.info.moderator, true);
    await again.stream.stop();
    const removed = await admin('PATCH', '/api/rooms/800', { moderatorPin: null, startMuted: true });
    assert.deepEqual([removed.body.hasModeratorPin, removed.body.startMuted], [false, true]);
    assert.equal((await admin('DELETE', '/api/rooms/800')).status, 200);
    assert.equal((await admin('GET', '/api/rooms/800')).status, 404);
  });
});
