/**
 * Issue 3, rooms as a conference service, through real webhooks and real WebSockets: isolated
 * rooms with seats, PINs, full rooms (per room, per server, too many rooms), auto-create on and
 * off, locked rooms, and two callers racing for the last seat.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { SimulatedStream } from '../../src/sim/simulatedStream.js';
import { dial, heardToneDbfs, join, sentToneDbfs, sleep, toneMulaw, until } from '../helpers/calls.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const ADMIN = 'rooms-test-admin-token-0123456789';

function adminClient(baseUrl: string) {
  return async (method: string, path: string, body?: object) => {
    const res = await fetch(baseUrl + path, {
      method,
      headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : null };
  };
}

describe('rooms with auto-create on', () => {
  let t: TestServer;
  let admin: ReturnType<typeof adminClient>;
  before(async () => {
    t = await startTestServer({ ADMIN_TOKEN: ADMIN });
    admin = adminClient(t.baseUrl);
  });
  after(() => t.close());

  test('two rooms are isolated; each caller hears its seat; a freed seat is reused', async () => {
    const a = await join(t.baseUrl, ['100']);
    const b = await join(t.baseUrl, ['100']);
    const c = await join(t.baseUrl, ['200']);
    const d = await join(t.baseUrl, ['200']);
    assert.deepEqual(
      [a, b, c, d].map((x) => x.said.at(-1)),
      ['You are participant 1.', 'You are participant 2.', 'You are participant 1.', 'You are participant 2.'],
    );
    assert.equal(a.parameters['room'], '100');
    const calls = [
      { who: a, hz: 1300 },
      { who: b, hz: 1900 },
      { who: c, hz: 2500 },
      { who: d, hz: 3100 },
    ];
    const startAtMs = performance.now() + 100;
    await Promise.all(calls.map((x) => x.who.stream.play(toneMulaw(x.hz, -20, 1600), startAtMs)));
    const from = startAtMs + 400;
    const to = startAtMs + 1500;
    const ref = sentToneDbfs(1300, -20);
    const level = (listener: (typeof calls)[number], source: (typeof calls)[number]) => heardToneDbfs(listener.who.stream, source.hz, from, to) - ref;
    const [ca, cb, cc, cd] = calls as [(typeof calls)[number], (typeof calls)[number], (typeof calls)[number], (typeof calls)[number]];
    for (const [l, s] of [
      [ca, cb],
      [cb, ca],
      [cc, cd],
      [cd, cc],
    ] as const) {
      assert.ok(Math.abs(level(l, s)) <= 1, `same room: heard at ${level(l, s).toFixed(2)} dB`);
    }
    const cross = Math.max(level(ca, cc), level(ca, cd), level(cb, cc), level(cc, ca), level(cd, cb));
    console.log(`# measured: same room ${level(ca, cb).toFixed(2)} / ${level(cc, cd).toFixed(2)} dB; across rooms at most ${cross.toFixed(1)} dB`);
    for (const [l, s] of [
      [ca, cc],
      [ca, cd],
      [cb, cc],
      [cc, ca],
      [cd, cb],
    ] as const) {
      assert.ok(level(l, s) <= -40, `other room: heard at ${level(l, s).toFixed(1)} dB`);
    }
    // a hangs up: seat 1 of room 100 is free again and goes to the next caller.
    await a.stream.stop();
    await until(() => t.server.conference.room('100')?.size === 1, 'a has left');
    const e = await join(t.baseUrl, ['100']);
    assert.equal(e.said.at(-1), 'You are participant 1.');
    const room = await admin('GET', '/api/rooms/100');
    assert.deepEqual(
      room.body.participants.map((p: { seat: number }) => p.seat),
      [1, 2],
    );
    await Promise.all([b, c, d, e].map((x) => x.stream.stop()));
  });

  test('a PIN room: right PIN connects, one wrong then right connects, three wrong hang up', async () => {
    assert.equal((await admin('POST', '/api/rooms', { id: '300', pin: '2468', label: 'Board' })).status, 201);
    const right = await join(t.baseUrl, ['300', '2468']);
    assert.ok(right.said.includes('Please enter the conference PIN, followed by the pound key.'));
    const retry = await join(t.baseUrl, ['300', '1111', '2468']);
    assert.ok(retry.said.includes('That PIN is not correct.'));
    assert.equal(retry.said.at(-1), 'You are participant 2.');
    const strikes = await dial(t.baseUrl, ['300', '1111', '2222', '3333', '2468']);
    assert.equal(strikes.dial.kind, 'hangup');
    assert.equal(strikes.dial.said.at(-1), 'Sorry, that PIN is not correct. Goodbye.');
    assert.equal(strikes.dial.requests, 5, 'number, then three PIN tries: the fourth PIN is never asked for');
    assert.equal(t.server.conference.room('300')?.size, 2);
    await Promise.all([right, retry].map((x) => x.stream.stop()));
  });

  test('a full room: the third caller hears "full" before any stream; when one leaves, the seat is free', async () => {
    assert.equal((await admin('POST', '/api/rooms', { id: '400', maxParticipants: 2 })).status, 201);
    const a = await join(t.baseUrl, ['400']);
    const b = await join(t.baseUrl, ['400']);
    const third = await dial(t.baseUrl, ['400']);
    assert.equal(third.dial.kind, 'hangup');
    assert.equal(third.dial.said.at(-1), 'Sorry, this conference is full. Please try again later. Goodbye.');
    assert.equal(t.server.conference.room('400')?.size, 2, 'nobody else got in');
    await a.stream.stop();
    await until(() => t.server.conference.room('400')?.size === 1, 'a has left');
    const c = await join(t.baseUrl, ['400']);
    assert.equal(c.said.at(-1), 'You are participant 1.');
    await Promise.all([b, c].map((x) => x.stream.stop()));
  });

  test('the seat race: two callers for the last seat, exactly one gets in', async () => {
    assert.equal((await admin('POST', '/api/rooms', { id: '500', maxParticipants: 1 })).status, 201);
    for (let round = 0; round < 3; round++) {
      const both = await Promise.all([dial(t.baseUrl, ['500']), dial(t.baseUrl, ['500'])]);
      const winners = both.filter((x) => x.dial.kind === 'stream');
      assert.equal(winners.length, 1, `round ${round}: exactly one admitted`);
      const loser = both.find((x) => x.dial.kind === 'hangup')!;
      assert.match(loser.dial.said.join(' '), /conference is full/);
      const winner = winners[0]!;
      if (winner.dial.kind !== 'stream') throw new Error('unreachable');
      const stream = await SimulatedStream.open({ url: winner.dial.streamUrl, callSid: winner.callSid, customParameters: winner.dial.parameters });
      await until(() => t.server.conference.room('500')?.size === 1, 'the winner joined');
      await stream.stop();
      await until(() => !t.server.conference.room('500'), 'the room emptied');
    }
  });

  test('a locked room admits nobody new; who is in stays', async () => {
    const a = await join(t.baseUrl, ['600']);
    const locked = await admin('PATCH', '/api/rooms/600', { locked: true });
    assert.equal(locked.status, 200);
    assert.equal(locked.body.locked, true);
    const late = await dial(t.baseUrl, ['600']);
    assert.equal(late.dial.kind, 'hangup');
    assert.equal(late.dial.said.at(-1), 'Sorry, this conference is locked. Goodbye.');
    assert.ok(a.stream.isOpen);
    await a.stream.stop();
  });
});

describe('rooms with auto-create off', () => {
  test('an unknown number is "no such conference" and asked again; an administered one connects', async () => {
    const t = await startTestServer({ ADMIN_TOKEN: ADMIN, AUTO_CREATE_ROOMS: 'off', PROMPT_ATTEMPTS: '3' });
    try {
      const admin = adminClient(t.baseUrl);
      assert.equal((await admin('POST', '/api/rooms', { id: '700' })).status, 201);
      const unknownThenKnown = await join(t.baseUrl, ['999', '700']);
      assert.ok(unknownThenKnown.said.includes('There is no conference with that number.'));
      assert.equal(unknownThenKnown.said.at(-1), 'You are participant 1.');
      const never = await dial(t.baseUrl, ['991', '992', '993']);
      assert.equal(never.dial.kind, 'hangup');
      assert.equal(never.dial.said.filter((s) => s === 'There is no conference with that number.').length, 2);
      assert.equal(never.dial.said.at(-1), 'Sorry, we could not connect you to a conference. Goodbye.');
      assert.equal(t.server.conference.listRooms().length, 1);
      await unknownThenKnown.stream.stop();
    } finally {
      await t.close();
    }
  });
});

describe('server-wide limits', () => {
  test('MAX_ROOMS and MAX_PARTICIPANTS: the caller who would exceed one hears "full"', async () => {
    const t = await startTestServer({ MAX_ROOMS: '2', MAX_PARTICIPANTS: '3' });
    try {
      const a = await join(t.baseUrl, ['1']);
      const b = await join(t.baseUrl, ['2']);
      const thirdRoom = await dial(t.baseUrl, ['3']);
      assert.equal(thirdRoom.dial.kind, 'hangup', 'a third room would exceed MAX_ROOMS');
      assert.match(thirdRoom.dial.said.join(' '), /conference is full/);
      const c = await join(t.baseUrl, ['1']);
      const fourth = await dial(t.baseUrl, ['2']);
      assert.equal(fourth.dial.kind, 'hangup', 'a fourth participant would exceed MAX_PARTICIPANTS');
      assert.match(fourth.dial.said.join(' '), /conference is full/);
      assert.equal(t.server.stats().participants, 3);
      await c.stream.stop();
      await sleep(50);
      await until(() => t.server.stats().participants === 2, 'c has left');
      const again = await join(t.baseUrl, ['2']);
      assert.equal(again.said.at(-1), 'You are participant 2.');
      await Promise.all([a, b, again].map((x) => x.stream.stop()));
    } finally {
      await t.close();
    }
  });
});
