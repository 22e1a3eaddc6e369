/**
 * Issue 3: the administrator's API and what it does to live calls (measured in what callers hear),
 * in-call keys, rooms surviving a restart, the room's own sounds, and status callbacks arriving in
 * order at a real HTTP receiver.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join as joinPath } from 'node:path';
import { heardToneDbfs, join, sentToneDbfs, sleep, toneMulaw, until } from '../helpers/calls.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const ADMIN = 'admin-test-token-0123456789abcdef';

interface ApiResponse {
  status: number;
  body: any;
  headers: Headers;
}

function api(baseUrl: string, token: string | null = ADMIN) {
  return async (method: string, path: string, body?: unknown, raw?: string): Promise<ApiResponse> => {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (token !== null) headers['authorization'] = `Bearer ${token}`;
    const res = await fetch(baseUrl + path, { method, headers, body: raw ?? (body === undefined ? undefined : JSON.stringify(body)) });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : null, headers: res.headers };
  };
}

/** Figures worth reporting, printed once at the end. */
const measured: string[] = [];
after(() => {
  if (measured.length) console.log(`# measured: ${measured.join('; ')}`);
});

describe('admin API', () => {
  let t: TestServer;
  let call: ReturnType<typeof api>;
  before(async () => {
    t = await startTestServer({ ADMIN_TOKEN: ADMIN, MAX_ROOMS: '6', MAX_PARTICIPANTS_PER_ROOM: '10' });
    call = api(t.baseUrl);
  });
  after(() => t.close());

  test('/join/ticket answers its refusals as the admin API does (the catalog in src/errors.ts)', async () => {
    assert.equal((await call('POST', '/api/rooms', { id: '8300', pin: '2468' })).status, 201);
    const ticket = (body: unknown, authorization?: string, raw?: string) =>
      fetch(`${t.baseUrl}/join/ticket`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) },
        body: raw ?? JSON.stringify(body),
      }).then(async (res) => ({ status: res.status, error: ((await res.json()) as { error: unknown }).error }));
    assert.deepEqual(await ticket({ room: '8300' }, `Bearer ${ADMIN}x`), {
      status: 403,
      error: { code: 'FORBIDDEN', message: 'the bearer token is not the admin token' },
    });
    assert.deepEqual(await ticket({ room: '8300' }), {
      status: 401,
      error: { code: 'INVITE_REQUIRED', message: 'joining from a browser needs an invite link (or the admin token)' },
    });
    assert.deepEqual(await ticket({ room: '8300', invite: 'i1.8300.x.1.y' }), {
      status: 403,
      error: { code: 'INVITE_INVALID', message: 'this invite link is not valid (expired, revoked or used up): ask for a new one' },
    });
    assert.deepEqual(await ticket(undefined, undefined, '{"room": '), { status: 400, error: { code: 'BAD_REQUEST', message: 'the body is not valid JSON' } });
    const admitted = await fetch(`${t.baseUrl}/join/ticket`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `bearer   ${ADMIN}` },
      body: JSON.stringify({ room: '8300' }),
    });
    assert.equal(admitted.status, 200, "the admin API's bearer form is the rule here too");
    assert.equal((await call('DELETE', '/api/rooms/8300')).status, 200);
  });

  test('without ADMIN_TOKEN: 503 saying how to enable it', async () => {
    const off = await startTestServer();
    try {
      const res = await api(off.baseUrl)('GET', '/api/rooms');
      assert.equal(res.status, 503);
      assert.equal(res.body.error.code, 'ADMIN_DISABLED');
      assert.match(res.body.error.message, /set ADMIN_TOKEN/);
    } finally {
      await off.close();
    }
  });

  test('401 without a bearer token, 403 with a wrong one (one warn line)', async () => {
    const none = await api(t.baseUrl, null)('GET', '/api/rooms');
    assert.equal(none.status, 401);
    assert.equal(none.body.error.code, 'UNAUTHORIZED');
    assert.match(none.headers.get('www-authenticate') ?? '', /^Bearer/);
    const before = t.captured.warnings().length;
    const wrong = await api(t.baseUrl, ADMIN.slice(0, -1) + 'x')('GET', '/api/rooms');
    assert.equal(wrong.status, 403);
    assert.equal(wrong.body.error.code, 'FORBIDDEN');
    assert.equal(t.captured.warnings().length, before + 1);
  });

  test('create, read, list, change, delete; 400 / 404 / 409 / 422 with {error: {code, message}}', async () => {
    const created = await call('POST', '/api/rooms', { id: '8100', label: 'Weekly sync', pin: '1234', maxParticipants: 5 });
    assert.equal(created.status, 201);
    assert.equal(created.headers.get('location'), '/api/rooms/8100');
    assert.deepEqual(
      { ...created.body, createdAt: undefined, updatedAt: undefined },
      {
        id: '8100',
        label: 'Weekly sync',
        hasPin: true,
        hasModeratorPin: false,
        locked: false,
        maxParticipants: 5,
        seatLimit: 5,
        administered: true,
        backgroundGate: null,
        noiseSuppression: null,
        soundInForce: null,
        waitForModerator: false,
        endWhenModeratorLeaves: false,
        startMuted: false,
        waitingForModerator: false,
        waitMusic: null,
        holdMusic: null,
        participants: 0,
        createdAt: undefined,
        updatedAt: undefined,
      },
    );
    assert.doesNotMatch(JSON.stringify(created.body), /1234|scrypt/, 'neither the PIN nor its hash is shown');
    assert.equal((await call('POST', '/api/rooms', { id: '8100' })).status, 409);
    for (const [body, why] of [
      [{ id: 'abc' }, 'id not digits'],
      [{ id: '12345678901' }, 'id too long'],
      [{ id: '8101', pin: '12' }, 'PIN too short'],
      [{ id: '8101', pin: 1234 }, 'PIN not a string'],
      [{ id: '8101', extra: true }, 'unknown field'],
      [{ id: '8101', maxParticipants: 0 }, 'no seats'],
      [[], 'not an object'],
    ] as const) {
      const res = await call('POST', '/api/rooms', body);
      assert.equal(res.status, 400, why);
      assert.equal(res.body.error.code, 'BAD_REQUEST', why);
      assert.equal(typeof res.body.error.message, 'string');
    }
    const notJson = await call('POST', '/api/rooms', undefined, '{"id": ');
    assert.equal(notJson.status, 400);
    assert.match(notJson.body.error.message, /not valid JSON/);
    // Too large is 413 here as on every other route (it was a 400 in the admin API alone).
    const tooLarge = await call('POST', '/api/rooms', undefined, JSON.stringify({ id: '8101', label: 'x'.repeat(17 * 1024) }));
    assert.equal(tooLarge.status, 413);
    assert.equal(tooLarge.body.error.code, 'PAYLOAD_TOO_LARGE');
    const tooMany = await call('POST', '/api/rooms', { id: '8101', maxParticipants: 11 });
    assert.equal(tooMany.status, 422);
    assert.match(tooMany.body.error.message, /MAX_PARTICIPANTS_PER_ROOM/);

    const one = await call('GET', '/api/rooms/8100');
    assert.equal(one.status, 200);
    assert.deepEqual(one.body.participants, []);
    assert.equal((await call('GET', '/api/rooms/8199')).status, 404);
    assert.equal((await call('GET', '/api/rooms/not-a-number')).status, 404);

    const changed = await call('PATCH', '/api/rooms/8100', { pin: null, locked: true, maxParticipants: null, label: null });
    assert.equal(changed.status, 200);
    assert.equal(changed.body.hasPin, false);
    assert.equal(changed.body.locked, true);
    assert.equal(changed.body.seatLimit, 10);
    assert.equal((await call('PATCH', '/api/rooms/8100', {})).status, 400);
    assert.equal((await call('PATCH', '/api/rooms/8100', { locked: 'yes' })).status, 400);
    assert.equal((await call('PATCH', '/api/rooms/8199', { locked: true })).status, 404);

    const list = await call('GET', '/api/rooms');
    assert.ok(list.body.rooms.some((r: { id: string }) => r.id === '8100'));
    assert.equal((await call('DELETE', '/api/rooms/8100')).status, 200);
    assert.equal((await call('GET', '/api/rooms/8100')).status, 404);
    assert.equal((await call('DELETE', '/api/rooms/8100')).status, 404);
    assert.equal((await call('GET', '/api/nothing')).status, 404);

    // MAX_ROOMS=6 bounds the rooms an administrator can create.
    for (let i = 0; i < 6; i++) assert.equal((await call('POST', '/api/rooms', { id: String(8200 + i) })).status, 201);
    const over = await call('POST', '/api/rooms', { id: '8299' });
    assert.equal(over.status, 422);
    assert.equal(over.body.error.code, 'LIMIT_EXCEEDED');
    for (let i = 0; i < 6; i++) assert.equal((await call('DELETE', `/api/rooms/${8200 + i}`)).status, 200);
  });

  test('issue 14: sound settings per room: stored, applied when the room opens, changed live, null for the default', async () => {
    const created = await call('POST', '/api/rooms', { id: '8150', label: 'Music', backgroundGate: false });
    assert.equal(created.status, 201);
    assert.equal(created.body.backgroundGate, false);
    assert.equal(created.body.noiseSuppression, null);
    for (const bad of [{ backgroundGate: 'off' }, { noiseSuppression: 1 }]) assert.equal((await call('PATCH', '/api/rooms/8150', bad)).status, 400);
    // A caller joins (straight into the core: no socket needed for what the room does).
    const conference = t.server.conference;
    conference.join('8150', 'CA' + '5'.repeat(32), { sendFrame: () => undefined, end: () => undefined });
    const room = conference.room('8150')!;
    await until(() => room.audio.backgroundGate === false, 'the stored settings applied to the opened room');
    const live = await call('GET', '/api/rooms/8150');
    assert.deepEqual(live.body.soundInForce, { backgroundGate: false, noiseSuppression: false });
    const on = await call('PATCH', '/api/rooms/8150', { noiseSuppression: true });
    assert.equal(on.status, 200);
    assert.deepEqual(on.body.soundInForce, { backgroundGate: false, noiseSuppression: true });
    assert.equal(room.participants()[0]!.noiseSuppression, true, 'the caller in the room is suppressed at once');
    const back = await call('PATCH', '/api/rooms/8150', { backgroundGate: null, noiseSuppression: null });
    assert.deepEqual([back.body.backgroundGate, back.body.noiseSuppression], [null, null]);
    assert.deepEqual(back.body.soundInForce, { backgroundGate: true, noiseSuppression: false });
    assert.equal(room.participants()[0]!.noiseSuppression, false);
    assert.equal((await call('DELETE', '/api/rooms/8150')).status, 200);
  });

  test('a live room lists its participants: seat, callSid, masked number, muted, talking, joined at', async () => {
    const a = await join(t.baseUrl, ['8300'], { from: '+12025550100' });
    const b = await join(t.baseUrl, ['8300'], { from: '+447700900123' });
    try {
      const room = await call('GET', '/api/rooms/8300');
      assert.equal(room.status, 200);
      assert.equal(room.body.administered, false);
      assert.equal(room.body.participants.length, 2);
      const [pa, pb] = room.body.participants;
      assert.deepEqual(
        { ...pa, joinedAt: undefined },
        {
          seat: 1,
          callSid: a.callSid,
          from: '+1******0100',
          label: null,
          moderator: false,
          program: null,
          muted: false,
          mutedByModerator: false,
          hold: false,
          coaching: false,
          callSidToCoach: null,
          talking: false,
          listenVolumeDb: 0,
          joinedAt: undefined,
        },
      );
      assert.equal(pb.from, '+4*******0123');
      assert.ok(Math.abs(Date.parse(pa.joinedAt) - Date.now()) < 10_000, pa.joinedAt);
      assert.doesNotMatch(JSON.stringify(room.body), /2025550100|7700900123/);
      assert.ok((await call('GET', '/api/rooms')).body.rooms.some((r: { id: string; participants: number }) => r.id === '8300' && r.participants === 2));
      assert.equal((await call('PATCH', `/api/rooms/8300/participants/CA${'0'.repeat(32)}`, { muted: true })).status, 404);
      assert.equal((await call('PATCH', `/api/rooms/8301/participants/${a.callSid}`, { muted: true })).status, 404, 'not in that room');
      assert.equal((await call('PATCH', `/api/rooms/8300/participants/${a.callSid}`, { muted: 1 })).status, 400);
      const held = await call('PATCH', `/api/rooms/8300/participants/${a.callSid}`, { hold: true });
      assert.equal(held.status, 200);
      assert.equal(held.body.hold, true);
      assert.equal(t.server.conference.participant(a.callSid)?.onHold, true);
      const noCreds = await call('DELETE', `/api/rooms/8300/participants/${a.callSid}?hangup=true`);
      assert.equal(noCreds.status, 422, 'a REST hangup needs Twilio credentials');
      assert.ok(a.stream.isOpen, 'and nothing was done');
    } finally {
      await Promise.all([a, b].map((x) => x.stream.stop()));
    }
  });

  test('mute by API and by *6 silence that caller for the others (>= 40 dB); *6 confirms to the muter only', async () => {
    const [a1, b1, a2, b2] = [
      await join(t.baseUrl, ['8401']),
      await join(t.baseUrl, ['8401']),
      await join(t.baseUrl, ['8402']),
      await join(t.baseUrl, ['8402']),
    ];
    const startAtMs = performance.now() + 100;
    const plays = [a1!.stream.play(toneMulaw(1300, -20, 2600), startAtMs), a2!.stream.play(toneMulaw(1300, -20, 2600), startAtMs)];
    await sleep(startAtMs + 1000 - performance.now());
    const mutedAtMs = performance.now();
    const [muted] = await Promise.all([
      call('PATCH', `/api/rooms/8401/participants/${a1!.callSid}`, { muted: true }),
      (async () => {
        a2!.stream.sendDtmf('*');
        a2!.stream.sendDtmf('6');
      })(),
    ]);
    assert.equal(muted.status, 200);
    assert.equal(muted.body.muted, true);
    await Promise.all(plays);
    await sleep(100);
    const ref = sentToneDbfs(1300, -20);
    for (const [name, b] of [
      ['API', b1!],
      ['*6', b2!],
    ] as const) {
      const before = heardToneDbfs(b.stream, 1300, startAtMs + 400, startAtMs + 950) - ref;
      const afterMute = heardToneDbfs(b.stream, 1300, mutedAtMs + 300, startAtMs + 2500) - ref;
      // (Only that it was heard: mix accuracy is call.test.ts's; here the drop is what counts.)
      assert.ok(Math.abs(before) <= 3, `${name}: heard at ${before.toFixed(2)} dB before the mute`);
      assert.ok(
        before - afterMute >= 40,
        `${name}: muting took ${(before - afterMute).toFixed(1)} dB off (before ${before.toFixed(1)}, after ${afterMute.toFixed(1)})`,
      );
      // Muted, the listener gets digital silence at that frequency (-Infinity dBFS): say so plainly.
      const off = Number.isFinite(afterMute) ? `${(before - afterMute).toFixed(1)} dB` : 'all of it (digital silence)';
      t.captured.log.info({ mute: name, beforeDb: +before.toFixed(2), afterDb: afterMute }, `mute by ${name} took ${off} off`);
      measured.push(`mute by ${name}: ${off}`);
    }
    assert.equal(t.server.conference.participant(a2!.callSid)?.muted, true, '*6 muted a2');
    // The confirmation tone (494 Hz) reached a2, not b2.
    const confirmMuter = heardToneDbfs(a2!.stream, 494, mutedAtMs, mutedAtMs + 500);
    const confirmOther = heardToneDbfs(b2!.stream, 494, mutedAtMs, mutedAtMs + 500);
    assert.ok(confirmMuter > -40, `a2 hears the confirmation at ${confirmMuter.toFixed(1)} dBFS`);
    assert.ok(confirmOther < -60, `b2 does not (${confirmOther.toFixed(1)} dBFS)`);
    // *6 again unmutes.
    a2!.stream.sendDtmf('*');
    a2!.stream.sendDtmf('6');
    await until(() => t.server.conference.participant(a2!.callSid)?.muted === false, 'a2 unmuted');
    await Promise.all([a1, b1, a2, b2].map((x) => x!.stream.stop()));
  });

  test('keys: *9 / *7 listening volume in 3 dB steps (to +12), *5 count in tones to the caller only, *8 leaves', async () => {
    const a = await join(t.baseUrl, ['8500']);
    const b = await join(t.baseUrl, ['8500']);
    const keys = (k: string) => [...k].forEach((d) => a.stream.sendDtmf(d));
    const volume = async () =>
      (await call('GET', '/api/rooms/8500')).body.participants.find((p: { callSid: string }) => p.callSid === a.callSid).listenVolumeDb;
    keys('*9');
    await until(() => t.server.conference.participant(a.callSid)?.listenVolumeDb === 3, '*9');
    assert.equal(await volume(), 3);
    keys('*9*9*9*9*9');
    await until(() => t.server.conference.participant(a.callSid)?.listenVolumeDb === 12, 'clamped at +12');
    keys('*7');
    await until(() => t.server.conference.participant(a.callSid)?.listenVolumeDb === 9, '*7');
    keys('9'); // no star: nothing
    await sleep(60);
    assert.equal(t.server.conference.participant(a.callSid)?.listenVolumeDb, 9);
    const countAtMs = performance.now();
    keys('*5');
    await sleep(500);
    // Two participants: two pips of 1175 Hz, to a only.
    const pipsA = heardToneDbfs(a.stream, 1175, countAtMs, countAtMs + 450);
    const pipsB = heardToneDbfs(b.stream, 1175, countAtMs, countAtMs + 450);
    assert.ok(pipsA > -40, `a hears the count at ${pipsA.toFixed(1)} dBFS`);
    assert.ok(pipsB < -60, `b does not (${pipsB.toFixed(1)} dBFS)`);
    keys('*8');
    const closed = await a.stream.closed;
    assert.equal(closed.code, 1000);
    await until(() => t.server.conference.room('8500')?.size === 1, 'a left');
    await b.stream.stop();
  });

  test('kick ends that stream (1000); DELETE of a room ends every stream in it', async () => {
    const a = await join(t.baseUrl, ['8600']);
    const b = await join(t.baseUrl, ['8600']);
    const c = await join(t.baseUrl, ['8600']);
    const kicked = await call('DELETE', `/api/rooms/8600/participants/${a.callSid}`);
    assert.equal(kicked.status, 200);
    assert.deepEqual(kicked.body, { callSid: a.callSid, kicked: true, callEnded: false });
    assert.deepEqual(await a.stream.closed, { code: 1000, reason: 'removed from the conference' });
    assert.equal(t.server.conference.room('8600')?.size, 2);
    const framesBefore = b.stream.receivedAtMs.length;
    await sleep(200);
    assert.ok(b.stream.receivedAtMs.length >= framesBefore + 5, 'the others keep getting frames');
    const ended = await call('DELETE', '/api/rooms/8600');
    assert.equal(ended.status, 200);
    assert.equal(ended.body.participantsRemoved, 2);
    for (const x of [b, c]) assert.deepEqual(await x.stream.closed, { code: 1000, reason: 'the conference has ended' });
    assert.equal(t.server.conference.room('8600'), undefined);
    // The room and its seats are gone: a new caller opens it afresh in seat 1.
    const d = await join(t.baseUrl, ['8600']);
    assert.equal(d.said.at(-1), 'You are participant 1.');
    await d.stream.stop();
  });

  test('kick with ?hangup=true also ends the call through the call control (Twilio REST)', async () => {
    const ended: string[] = [];
    const withRest = await startTestServer({ ADMIN_TOKEN: ADMIN }, { callControl: { endCall: async (sid) => void ended.push(sid) } });
    try {
      const a = await join(withRest.baseUrl, ['8700']);
      const res = await api(withRest.baseUrl)('DELETE', `/api/rooms/8700/participants/${a.callSid}?hangup=true`);
      assert.deepEqual(res.body, { callSid: a.callSid, kicked: true, callEnded: true });
      assert.deepEqual(ended, [a.callSid]);
      assert.equal((await a.stream.closed).code, 1000);
    } finally {
      await withRest.close();
    }
  });
});

describe('one view of rooms and callers (src/http/views.ts)', () => {
  test('the admin API and the dashboard feed list rooms in room number order, callers with the same fields', async () => {
    const t = await startTestServer({ ADMIN_TOKEN: ADMIN });
    const call = api(t.baseUrl);
    const a = await join(t.baseUrl, ['9'], { from: '+12025550100' });
    const feed = new AbortController();
    try {
      for (const id of ['100', '10']) assert.equal((await call('POST', '/api/rooms', { id })).status, 201);
      const listed = (await call('GET', '/api/rooms')).body.rooms;
      assert.deepEqual(
        listed.map((r: { id: string }) => r.id),
        ['9', '10', '100'],
        'numeric, not text order (10, 100, 9)',
      );
      const adminCaller = (await call('GET', '/api/rooms/9')).body.participants[0];

      // The dashboard's feed: server-sent events; read until the first room snapshot.
      const res = await fetch(`${t.baseUrl}/api/live`, { headers: { authorization: `Bearer ${ADMIN}` }, signal: feed.signal });
      assert.equal(res.status, 200);
      const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
      let text = '';
      let snapshot: any = null;
      while (!snapshot) {
        const { value, done } = await reader.read();
        assert.ok(!done, 'the feed sent a snapshot before ending');
        text += value;
        const m = /event: snapshot\ndata: (.*)\n\n/.exec(text);
        if (m) snapshot = JSON.parse(m[1]!);
      }
      assert.deepEqual(
        snapshot.rooms.map((r: { id: string }) => r.id),
        ['9', '10', '100'],
      );
      const [liveCaller] = snapshot.rooms[0].participants;
      // joinedAt is computed from two clocks at each read, so it may differ by a millisecond.
      for (const key of Object.keys(adminCaller)) if (key !== 'joinedAt') assert.deepEqual(liveCaller[key], adminCaller[key], key);
      assert.ok(Math.abs(Date.parse(liveCaller.joinedAt) - Date.parse(adminCaller.joinedAt)) <= 1, liveCaller.joinedAt);
      assert.equal(liveCaller.from, '+1******0100');
      assert.equal(typeof liveCaller.levelDbfs, 'number', 'and the meters the dashboard draws');
    } finally {
      feed.abort();
      await a.stream.stop();
      await t.close();
    }
  });
});

describe('persistence', () => {
  test('rooms made by the administrator survive a restart (same database file, new server)', async () => {
    const dir = await mkdtemp(joinPath(tmpdir(), 'rooms-db-'));
    const env = { ADMIN_TOKEN: ADMIN, ROOMS_DB_PATH: joinPath(dir, 'nested', 'rooms.sqlite'), AUTO_CREATE_ROOMS: 'off' };
    try {
      const first = await startTestServer(env);
      assert.equal((await api(first.baseUrl)('POST', '/api/rooms', { id: '9100', label: 'Standup', pin: '24680', maxParticipants: 4 })).status, 201);
      assert.equal((await api(first.baseUrl)('POST', '/api/rooms', { id: '9200' })).status, 201);
      assert.equal((await api(first.baseUrl)('PATCH', '/api/rooms/9200', { locked: true })).status, 200);
      await first.close();

      const second = await startTestServer(env);
      try {
        const rooms = (await api(second.baseUrl)('GET', '/api/rooms')).body.rooms;
        assert.deepEqual(
          rooms.map((r: Record<string, unknown>) => [r['id'], r['label'], r['hasPin'], r['maxParticipants'], r['locked']]),
          [
            ['9100', 'Standup', true, 4, false],
            ['9200', null, false, null, true],
          ],
        );
        // The PIN (its hash) came through too: only the right one gets in.
        const a = await join(second.baseUrl, ['9100', '13579', '24680']);
        assert.ok(a.said.includes('That PIN is not correct.'));
        await a.stream.stop();
      } finally {
        await second.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('room sounds', () => {
  test('alone: the wait loop; someone joins: it stops and the others (not the joiner) hear a rising beep', async () => {
    const t = await startTestServer({ BEEP: 'on', WAIT_TONE: 'on' });
    try {
      const a = await join(t.baseUrl, ['9300']);
      const aJoinedAtMs = performance.now();
      await sleep(300);
      const b = await join(t.baseUrl, ['9300']);
      const bJoinedAtMs = performance.now();
      await sleep(1300);
      // The loop's first note (659 Hz) before b came; its third (392 Hz, 700-1400 ms in) never.
      const loop = heardToneDbfs(a.stream, 659, aJoinedAtMs + 20, bJoinedAtMs - 20);
      const third = heardToneDbfs(a.stream, 392, aJoinedAtMs + 750, aJoinedAtMs + 1350);
      assert.ok(loop > -50, `a alone hears the wait loop at ${loop.toFixed(1)} dBFS`);
      assert.ok(third < -70, `the loop stopped when b joined (${third.toFixed(1)} dBFS)`);
      // The join beep's second note (880 Hz) to a, not to b.
      const beepA = heardToneDbfs(a.stream, 880, bJoinedAtMs, bJoinedAtMs + 500);
      const beepB = heardToneDbfs(b.stream, 880, bJoinedAtMs, bJoinedAtMs + 500);
      assert.ok(beepA > -40, `a hears the join beep at ${beepA.toFixed(1)} dBFS`);
      measured.push(`join beep: ${beepA.toFixed(1)} dBFS to a, ${beepB.toFixed(1)} dBFS to the joiner; wait loop ${loop.toFixed(1)} dBFS`);
      assert.ok(beepB < -60, `b does not (${beepB.toFixed(1)} dBFS)`);
      // b leaves: a hears the falling beep.
      const leftAtMs = performance.now();
      await b.stream.stop();
      await sleep(450);
      const leave = heardToneDbfs(a.stream, 880, leftAtMs, leftAtMs + 400);
      assert.ok(leave > -40, `a hears the leave beep at ${leave.toFixed(1)} dBFS`);
      await a.stream.stop();
    } finally {
      await t.close();
    }
  });
});

describe('status callbacks', () => {
  test('events arrive in order at the receiver, form-encoded, with room, callSid, seat, timestamp, sequence; a failed POST is retried in place', async () => {
    const received: URLSearchParams[] = [];
    let failedOnce = false;
    const receiver = http.createServer((req, res) => {
      let body = '';
      req.on('data', (chunk) => (body += chunk));
      req.on('end', () => {
        const params = new URLSearchParams(body);
        assert.equal(req.headers['content-type'], 'application/x-www-form-urlencoded');
        if (params.get('SequenceNumber') === '3' && !failedOnce) {
          failedOnce = true;
          res.writeHead(500).end();
          return;
        }
        received.push(params);
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/conference-events?site=test`;
    const t = await startTestServer({ ADMIN_TOKEN: ADMIN, STATUS_CALLBACK_URL: url, STATUS_CALLBACK_SECRET: 'admin-test-callback-secret-0123456789' });
    try {
      const call = api(t.baseUrl);
      const a = await join(t.baseUrl, ['9400']);
      const b = await join(t.baseUrl, ['9400']);
      assert.equal((await call('PATCH', `/api/rooms/9400/participants/${a.callSid}`, { muted: true })).status, 200);
      assert.equal((await call('PATCH', `/api/rooms/9400/participants/${a.callSid}`, { muted: false })).status, 200);
      // a talks for 600 ms: the talk detector confirms it, then its hangover ends it.
      await a.stream.play(toneMulaw(1300, -20, 600), performance.now() + 20);
      await until(() => received.some((p) => p.get('StatusCallbackEvent') === 'participant-speech-stop'), 'speech-stop', 4000);
      await a.stream.stop();
      await until(() => t.server.conference.room('9400')?.size === 1, 'a left');
      assert.equal((await call('DELETE', `/api/rooms/9400/participants/${b.callSid}`)).status, 200);
      await until(() => received.length >= 10, 'ten events', 8000);
      const events = received.map((p) => [
        p.get('StatusCallbackEvent'),
        p.get('CallSid') === a.callSid ? 'a' : p.get('CallSid') === b.callSid ? 'b' : '',
        p.get('Reason') ?? p.get('ReasonConferenceEnded') ?? '',
      ]);
      assert.deepEqual(events, [
        ['conference-start', '', ''],
        ['participant-join', 'a', ''],
        ['participant-join', 'b', ''],
        ['participant-mute', 'a', ''],
        ['participant-unmute', 'a', ''],
        ['participant-speech-start', 'a', ''],
        ['participant-speech-stop', 'a', ''],
        ['participant-leave', 'a', 'hangup'],
        ['participant-leave', 'b', 'kicked'],
        ['conference-end', '', 'last-participant-kicked'],
      ]);
      assert.ok(failedOnce, 'the third event failed once and was retried before the fourth');
      assert.deepEqual(
        received.map((p) => Number(p.get('SequenceNumber'))),
        [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
      );
      for (const p of received) {
        assert.equal(p.get('Room'), '9400');
        assert.equal(p.get('FriendlyName'), '9400');
        assert.match(p.get('Timestamp')!, /^\w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} \+0000$/);
      }
      assert.equal(received[1]!.get('Seat'), '1');
      assert.equal(received[2]!.get('Seat'), '2');
      assert.equal(received[3]!.get('Muted'), 'true');
      assert.equal(t.server.statusCallbacks?.stats.delivered, 10);
    } finally {
      await t.close();
      await new Promise((resolve) => receiver.close(resolve));
    }
  });
});
