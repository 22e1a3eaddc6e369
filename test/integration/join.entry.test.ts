/**
 * Issue 16: the browser entry by invitation, on a real server with default settings. An
 * anonymous browser gets no ticket for a PIN-less room or an unknown number (and cannot tell
 * them apart); 60 ticket requests from one address hold at most 5 seats; an invite link works
 * (its ticket takes a seat in the mix) until it expires, is revoked or is used up; the web entry
 * never opens a room; JOIN_PAGE=pin and off. One warn line per refusal.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { SimulatedStream } from '../../src/sim/simulatedStream.js';
import { ManualClock } from '../../src/timing/clock.js';
import { join, until } from '../helpers/calls.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const ADMIN = 'entry-test-admin-token-0123456789';

interface Answer {
  status: number;
  body: any;
  retryAfter: string | null;
}

async function ticket(t: TestServer, body: Record<string, unknown>, authorization?: string): Promise<Answer> {
  const res = await fetch(`${t.baseUrl}/join/ticket`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: await res.json(), retryAfter: res.headers.get('retry-after') };
}

async function admin(t: TestServer, method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(t.baseUrl + path, {
    method,
    headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, body: await res.json() };
}

const measured: string[] = [];
after(() => {
  if (measured.length) console.log(`# measured: ${measured.join('; ')}`);
});

describe('anonymous browsers, default settings (JOIN_PAGE=invite)', () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer({ ADMIN_TOKEN: ADMIN });
  });
  after(() => t.close());

  test('no ticket for a PIN-less room or an unknown number: the same 401, one warn line each, no room opened', async () => {
    const phone = await join(t.baseUrl, ['4242']);
    try {
      const warnings = t.captured.warnings().length;
      const open = await ticket(t, { room: '4242' });
      const unknown = await ticket(t, { room: '9876' });
      const withPin = await ticket(t, { room: '4242', pin: '1234' });
      assert.equal(open.status, 401);
      assert.equal(open.body.error.code, 'INVITE_REQUIRED');
      assert.deepEqual(unknown, open, 'an unknown number is answered exactly as an open room');
      assert.equal(withPin.status, 401);
      assert.match(withPin.body.error.message, /takes no PINs from the browser \(JOIN_PAGE=invite\)/);
      assert.equal(t.captured.warnings().length, warnings + 3);
      assert.match(t.captured.warnings().at(-1)!.msg, /^join: refused, no invite or admin token$/);
      assert.equal(t.server.seats.isOpen('9876'), false);
      assert.equal(t.server.seats.occupied('4242'), 1, 'only the phone caller');
    } finally {
      await phone.stream.stop();
    }
  });

  test('the admin token gets in, but never opens a room', async () => {
    const res = await ticket(t, { room: '5151' }, `Bearer ${ADMIN}`);
    assert.equal(res.status, 404);
    assert.equal(res.body.error.code, 'NOT_FOUND');
    assert.equal(t.server.seats.isOpen('5151'), false);
    assert.equal((await admin(t, 'POST', '/api/rooms', { id: '5151' })).status, 201);
    assert.equal((await ticket(t, { room: '5151' }, `Bearer ${ADMIN}`)).status, 200, 'a stored room');
  });

  test('an invite for a room that is neither stored nor open: 404; the invite API names bad bodies', async () => {
    assert.equal((await admin(t, 'POST', '/api/rooms/7777/invites', { ttlSeconds: 60 })).status, 404);
    const bad = await admin(t, 'POST', '/api/rooms/5151/invites', { ttlSeconds: 0 });
    assert.equal(bad.status, 400);
    assert.match(bad.body.error.message, /^ttlSeconds: /);
    assert.equal((await admin(t, 'DELETE', '/api/rooms/5151/invites/nope')).status, 404);
  });

  test('JOIN_PAGE=off: no /join at all', async () => {
    const off = await startTestServer({ ADMIN_TOKEN: ADMIN, JOIN_PAGE: 'off' });
    try {
      const page = await fetch(`${off.baseUrl}/join?room=1`);
      assert.equal(page.status, 404);
      assert.equal(((await page.json()) as any).error.code, 'JOIN_OFF');
      const res = await ticket(off, { room: '1' }, `Bearer ${ADMIN}`);
      assert.equal(res.status, 404);
      assert.equal(res.body.error.code, 'JOIN_OFF');
    } finally {
      await off.close();
    }
  });
});

describe('60 ticket requests from one address', () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer({ ADMIN_TOKEN: ADMIN });
  });
  after(() => t.close());

  test('hold at most 5 seats; the rest get 429 TOO_MANY_SEATS with Retry-After, one warn line each', async () => {
    assert.equal((await admin(t, 'POST', '/api/rooms', { id: '6000' })).status, 201);
    const invite = await admin(t, 'POST', '/api/rooms/6000/invites', { ttlSeconds: 600 });
    assert.equal(invite.status, 201);
    const warnings = t.captured.warnings().length;
    // All at once, as a script sends them: the limit must hold while earlier requests are still in flight.
    const answers: Answer[] = await Promise.all(Array.from({ length: 60 }, () => ticket(t, { room: '6000', invite: invite.body.token })));
    const admitted = answers.filter((a) => a.status === 200);
    const refused = answers.filter((a) => a.status === 429);
    measured.push(`60 requests from one address: ${admitted.length} tickets, ${refused.length} x 429, ${t.server.seats.occupied('6000')} seats held`);
    assert.equal(admitted.length, 5);
    assert.equal(refused.length, 55);
    for (const a of refused) {
      assert.equal(a.body.error.code, 'TOO_MANY_SEATS');
      assert.equal(a.retryAfter, '10');
    }
    assert.equal(t.server.seats.occupied('6000'), 5);
    assert.equal(t.captured.warnings().length, warnings + 55);
    // The admin token is not limited by the address's seats.
    assert.equal((await ticket(t, { room: '6000' }, `Bearer ${ADMIN}`)).status, 200);
  });
});

describe('invite links', () => {
  let t: TestServer;
  const wall = new ManualClock(Date.now());
  before(async () => {
    // The wall clock is the test's: invites (and tickets) expire when it says.
    t = await startTestServer({ ADMIN_TOKEN: ADMIN, JOIN_SEATS_PER_ADDRESS: '50', JOIN_TICKETS_PER_MINUTE: '50' }, { wallClock: wall });
  });
  after(() => t.close());

  test('an invite admits into the mix; listed with its uses; other rooms refuse it', async () => {
    const phone = await join(t.baseUrl, ['3100']);
    try {
      const made = await admin(t, 'POST', '/api/rooms/3100/invites', { ttlSeconds: 3600 });
      assert.equal(made.status, 201);
      assert.equal(made.body.url, `${t.baseUrl}/join?room=3100#invite=${made.body.token}`);
      assert.equal(made.body.expiresAt, new Date(Math.ceil(wall.nowMs() / 1000 + 3600) * 1000).toISOString());
      const res = await ticket(t, { room: '3100', invite: made.body.token });
      assert.equal(res.status, 200);
      const stream = await SimulatedStream.open({
        url: `${t.baseUrl.replace('http', 'ws')}${res.body.mediaPath}`,
        callSid: res.body.callSid,
        customParameters: { room: '3100', ticket: res.body.ticket },
      });
      await until(() => t.server.conference.room('3100')?.size === 2, 'the invited browser in the room', 3000);
      await stream.stop();
      const list = await admin(t, 'GET', '/api/rooms/3100/invites');
      assert.deepEqual(
        list.body.invites.map((i: any) => [i.id, i.used, i.revoked, 'token' in i]),
        [[made.body.id, 1, false, false]],
      );
      const elsewhere = await ticket(t, { room: '3101', invite: made.body.token });
      assert.equal(elsewhere.status, 403);
      assert.equal(elsewhere.body.error.code, 'INVITE_INVALID');
    } finally {
      await phone.stream.stop();
    }
  });

  test('works until it expires', async () => {
    assert.equal((await admin(t, 'POST', '/api/rooms', { id: '3200' })).status, 201);
    const made = await admin(t, 'POST', '/api/rooms/3200/invites', { ttlSeconds: 120 });
    assert.equal((await ticket(t, { room: '3200', invite: made.body.token })).status, 200);
    const expiresAtMs = Date.parse(made.body.expiresAt);
    assert.ok(expiresAtMs - wall.nowMs() >= 120_000, 'never shorter than asked (rounded up to the second)');
    wall.set(expiresAtMs - 1);
    assert.equal((await ticket(t, { room: '3200', invite: made.body.token })).status, 200);
    wall.set(expiresAtMs);
    const expired = await ticket(t, { room: '3200', invite: made.body.token });
    assert.equal(expired.status, 403);
    assert.equal(expired.body.error.code, 'INVITE_INVALID');
    assert.match(t.captured.warnings().at(-1)!.msg, /^join: refused, invite expired$/);
  });

  test('works until revoked, or until its uses are used up', async () => {
    assert.equal((await admin(t, 'POST', '/api/rooms', { id: '3300' })).status, 201);
    const a = await admin(t, 'POST', '/api/rooms/3300/invites', { ttlSeconds: 600 });
    assert.equal((await ticket(t, { room: '3300', invite: a.body.token })).status, 200);
    assert.deepEqual((await admin(t, 'DELETE', `/api/rooms/3300/invites/${a.body.id}`)).body, { id: a.body.id, revoked: true });
    const revoked = await ticket(t, { room: '3300', invite: a.body.token });
    assert.equal(revoked.status, 403);
    assert.match(t.captured.warnings().at(-1)!.msg, /^join: refused, invite revoked$/);

    const once = await admin(t, 'POST', '/api/rooms/3300/invites', { ttlSeconds: 600, uses: 1 });
    assert.equal((await ticket(t, { room: '3300', invite: once.body.token })).status, 200);
    assert.equal((await ticket(t, { room: '3300', invite: once.body.token })).status, 403);
    assert.match(t.captured.warnings().at(-1)!.msg, /^join: refused, invite used-up$/);
    // A tampered invite (the room changed under its MAC) is refused too.
    const tampered = await ticket(t, { room: '3301', invite: once.body.token.replace('i1.3300.', 'i1.3301.') });
    assert.equal(tampered.status, 403);
  });
});

describe('JOIN_PAGE=pin', () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer({ ADMIN_TOKEN: ADMIN, JOIN_PAGE: 'pin' });
  });
  after(() => t.close());

  test("the room's PIN admits; a PIN for a PIN-less room or an unknown number is the same wrong PIN; none: 401", async () => {
    assert.equal((await admin(t, 'POST', '/api/rooms', { id: '8100', pin: '2468' })).status, 201);
    assert.equal((await admin(t, 'POST', '/api/rooms', { id: '8200' })).status, 201);
    assert.equal((await ticket(t, { room: '8100', pin: '2468' })).status, 200);
    const wrong = await ticket(t, { room: '8100', pin: '1111' });
    assert.deepEqual(wrong.body, { error: { code: 'WRONG_PIN', message: 'that PIN is not right' } });
    assert.deepEqual(await ticket(t, { room: '8200', pin: '1111' }), wrong, 'a room without a PIN');
    assert.deepEqual(await ticket(t, { room: '9999', pin: '1111' }), wrong, 'no such room');
    assert.equal(t.server.seats.isOpen('9999'), false);
    const none = await ticket(t, { room: '8200' });
    assert.equal(none.status, 401);
    assert.equal(none.body.error.code, 'PIN_REQUIRED');
  });

  test('60 requests at once with the right PIN still hold at most 5 seats (the PIN check is asynchronous)', async () => {
    assert.equal((await admin(t, 'POST', '/api/rooms', { id: '8300', pin: '1357' })).status, 201);
    // This address still holds the seat its ticket into 8100 reserved above (the limit is per address).
    const heldBefore = t.server.seats.occupied('8100');
    const answers = await Promise.all(Array.from({ length: 60 }, () => ticket(t, { room: '8300', pin: '1357' })));
    const admitted = answers.filter((a) => a.status === 200).length;
    measured.push(`60 PIN requests at once from one address holding ${heldBefore} seat: ${admitted} tickets, ${t.server.seats.occupied('8300')} seats held`);
    assert.equal(heldBefore + admitted, 5);
    assert.equal(t.server.seats.occupied('8300'), admitted);
    assert.ok(answers.every((a) => a.status === 200 || a.status === 429));
  });
});
