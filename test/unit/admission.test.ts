/**
 * Seats and admission (src/rooms/seats.ts, admission.ts) on a manual clock: seat numbers and
 * reuse, reservations that expire, limits, PINs and strikes, auto-create, the last-seat race, and
 * the start authorizer (ticket + reservation).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryRoomDirectory } from '../../src/rooms/directory.js';
import { record } from '../helpers/rooms.js';
import { Admission, type AdmissionLimits } from '../../src/rooms/admission.js';
import { hashPin } from '../../src/rooms/pin.js';
import { SeatLedger } from '../../src/rooms/seats.js';
import { JoinTickets } from '../../src/security/joinTicket.js';
import { ManualClock } from '../../src/timing/clock.js';

const TTL_MS = 30_000;
const call = (n: number) => ({ callSid: `CA${String(n).padStart(32, '0')}`, from: '+15005550006' });

function setup(
  options: {
    limits?: Partial<AdmissionLimits>;
    autoCreate?: boolean;
    pinAttempts?: number;
    admitsCallers?: (callers: number) => boolean;
    onSetup?: () => void;
  } = {},
) {
  const clock = new ManualClock(1000);
  const wall = new ManualClock(1_800_000_000_000);
  const directory = new MemoryRoomDirectory();
  const seats = new SeatLedger(clock);
  const tickets = new JoinTickets({ secret: Buffer.alloc(32, 7), ttlMs: TTL_MS, clock: wall });
  const admission = new Admission({
    directory,
    seats,
    tickets,
    clock,
    limits: { maxRooms: 100, maxParticipantsPerRoom: 250, maxParticipants: 1000, ...options.limits },
    autoCreate: options.autoCreate ?? true,
    pinAttempts: options.pinAttempts ?? 3,
    ...(options.admitsCallers ? { admitsCallers: options.admitsCallers } : {}),
    ...(options.onSetup ? { onSetup: options.onSetup } : {}),
  });
  const start = (callSid: string, ticket: string | undefined, room?: string) =>
    admission.authorizeStart({ callSid, customParameters: { ...(room ? { room } : {}), ...(ticket ? { ticket } : {}) } });
  return { clock, wall, directory, seats, admission, start };
}

describe('SeatLedger', () => {
  test('lowest free seat, reused when freed; one seat per call; counts per room and server', () => {
    const { seats } = setup();
    assert.equal(seats.reserve('1', 'a', TTL_MS).seat, 1);
    assert.equal(seats.reserve('1', 'b', TTL_MS).seat, 2);
    assert.equal(seats.reserve('1', 'c', TTL_MS).seat, 3);
    assert.equal(seats.release('1', 'b'), true);
    assert.equal(seats.reserve('1', 'd', TTL_MS).seat, 2);
    assert.equal(seats.reserve('1', 'a', TTL_MS).seat, 1, 'again: the same seat');
    assert.equal(seats.reserve('2', 'a', TTL_MS).seat, 1, 'moved to another room');
    assert.equal(seats.occupied('1'), 2);
    assert.equal(seats.total(), 3);
    assert.equal(seats.openRooms(), 2);
    assert.equal(seats.release('1', 'a'), false, 'a is not in room 1 any more');
  });

  test('a reservation expires at its TTL unless confirmed; a confirmed seat does not expire', () => {
    const { seats, clock } = setup();
    seats.reserve('1', 'a', TTL_MS);
    seats.reserve('1', 'b', TTL_MS);
    assert.ok(seats.confirm('1', 'a', 1));
    clock.advance(TTL_MS - 1);
    assert.equal(seats.occupied('1'), 2);
    clock.advance(1);
    assert.equal(seats.occupied('1'), 1, "b's reservation lapsed");
    assert.equal(seats.confirm('1', 'b', 2), null, 'too late to confirm');
    clock.advance(3_600_000);
    assert.equal(seats.occupied('1'), 1, 'a keeps its seat');
    assert.equal(seats.confirm('1', 'a', 2), null, 'another seat number is not confirmed');
  });

  test('releaseRoom frees every seat, reserved or taken', () => {
    const { seats } = setup();
    seats.reserve('1', 'a', TTL_MS);
    seats.confirm('1', 'a', 1);
    seats.reserve('1', 'b', TTL_MS);
    seats.reserve('2', 'c', TTL_MS);
    assert.equal(seats.releaseRoom('1'), 2);
    assert.equal(seats.isOpen('1'), false);
    assert.equal(seats.total(), 1);
  });
});

describe('Admission', () => {
  test('auto-create on: any number is admitted with seats 1, 2 ...; off: unknown numbers are "not-found"', async () => {
    const on = setup();
    assert.deepEqual(
      (await Promise.all([on.admission.enter('42', call(1)), on.admission.enter('42', call(2))])).map((r) => [r.kind, r.kind === 'admitted' && r.seat]),
      [
        ['admitted', 1],
        ['admitted', 2],
      ],
    );
    const off = setup({ autoCreate: false });
    assert.deepEqual(await off.admission.enter('42', call(1)), { kind: 'refused', roomId: '42', reason: 'not-found' });
    await off.directory.create(record('42'));
    assert.equal((await off.admission.enter('42', call(1))).kind, 'admitted');
  });

  test('locked rooms refuse; PIN rooms ask; wrong PINs count per call to PIN_ATTEMPTS', async () => {
    const { admission, directory } = setup({ pinAttempts: 3 });
    await directory.create(record('7', { locked: true }));
    await directory.create(record('8', { pinHash: await hashPin('2468', { N: 1024, r: 8, p: 1 }) }));
    assert.deepEqual(await admission.enter('7', call(1)), { kind: 'refused', roomId: '7', reason: 'locked' });
    assert.deepEqual(await admission.enter('8', call(1)), { kind: 'pin-required', roomId: '8' });
    assert.deepEqual(await admission.enterWithPin('8', call(1), '1111'), { kind: 'wrong-pin', roomId: '8', attemptsLeft: 2 });
    assert.deepEqual(await admission.enterWithPin('8', call(1), ''), { kind: 'wrong-pin', roomId: '8', attemptsLeft: 1 });
    assert.equal((await admission.enterWithPin('8', call(2), '2468')).kind, 'admitted', 'another call is not affected');
    assert.deepEqual(await admission.enterWithPin('8', call(1), '3333'), { kind: 'wrong-pin', roomId: '8', attemptsLeft: 0 });
    assert.deepEqual(
      await admission.enterWithPin('8', call(1), '2468'),
      { kind: 'wrong-pin', roomId: '8', attemptsLeft: 0 },
      'no tries left, even with the right PIN',
    );
  });

  test('limits: room seat limit (its own, capped by the server), MAX_PARTICIPANTS, MAX_ROOMS', async () => {
    const { admission, directory } = setup({ limits: { maxRooms: 2, maxParticipantsPerRoom: 3, maxParticipants: 4 } });
    await directory.create(record('1', { maxParticipants: 2 }));
    await directory.create(record('2', { maxParticipants: 50 }));
    assert.equal(admission.seatLimit(await directory.get('2')), 3, 'a room cannot exceed the server per-room limit');
    assert.equal((await admission.enter('1', call(1))).kind, 'admitted');
    assert.equal((await admission.enter('1', call(2))).kind, 'admitted');
    assert.deepEqual(await admission.enter('1', call(3)), { kind: 'refused', roomId: '1', reason: 'room-full' });
    assert.equal((await admission.enter('2', call(3))).kind, 'admitted');
    assert.deepEqual(await admission.enter('3', call(4)), { kind: 'refused', roomId: '3', reason: 'too-many-rooms' });
    assert.equal((await admission.enter('2', call(4))).kind, 'admitted');
    assert.deepEqual(await admission.enter('2', call(5)), { kind: 'refused', roomId: '2', reason: 'server-full' });
    assert.equal((await admission.enter('1', call(1))).kind, 'admitted', 'a call already holding a seat there keeps it');
  });

  test('at capacity: every new call refused (PIN rooms and rejoins too), a call holding its seat keeps it; admitted again after', async () => {
    let overloaded = false;
    const asked: number[] = [];
    const { admission, directory } = setup({ admitsCallers: (n) => (asked.push(n), !overloaded) });
    await directory.create(record('8', { pinHash: await hashPin('2468') }));
    assert.equal((await admission.enter('1', call(1))).kind, 'admitted');
    assert.deepEqual(asked, [1], 'asked for the callers with the new one');
    overloaded = true;
    assert.deepEqual(await admission.enter('1', call(2)), { kind: 'refused', roomId: '1', reason: 'overloaded' });
    assert.deepEqual(await admission.enter('2', call(2)), { kind: 'refused', roomId: '2', reason: 'overloaded' });
    assert.deepEqual(await admission.enterWithPin('8', call(2), '2468'), { kind: 'refused', roomId: '8', reason: 'overloaded' });
    assert.deepEqual(await admission.enterRejoin('1', call(3)), { kind: 'refused', roomId: '1', reason: 'overloaded' });
    assert.equal((await admission.enter('1', call(1))).kind, 'admitted', 'a repeated webhook of an admitted call');
    overloaded = false;
    assert.equal((await admission.enter('1', call(2))).kind, 'admitted');
  });

  test('capacity is asked with every seat reserved or taken, the new call included; set-ups are counted', async () => {
    const asked: number[] = [];
    let setups = 0;
    const { admission, start, directory } = setup({ admitsCallers: (n) => (asked.push(n), n <= 3), onSetup: () => setups++ });
    await directory.create(record('2', { maxParticipants: 1 }));
    const a = await admission.enter('1', call(1));
    const b = await admission.enter('2', call(2));
    const c = await admission.enter('1', call(3));
    assert.deepEqual([a.kind, b.kind, c.kind], ['admitted', 'admitted', 'admitted']);
    // A fourth seat would not fit; a full room says full, not busy, whatever the load.
    assert.deepEqual(await admission.enter('3', call(4)), { kind: 'refused', roomId: '3', reason: 'overloaded' });
    assert.deepEqual(await admission.enter('2', call(5)), { kind: 'refused', roomId: '2', reason: 'room-full' });
    assert.deepEqual(asked, [1, 2, 3, 4]);
    assert.equal(setups, 3, 'three seats reserved');
    if (a.kind !== 'admitted') throw new Error('unreachable');
    assert.equal(start(call(1).callSid, a.ticket, '1').ok, true);
    assert.equal(setups, 4, 'and one stream started');
  });

  test('the last-seat race: two callers at once, exactly one admitted; the seat frees when its reservation lapses', async () => {
    const { admission, directory, clock, start } = setup();
    await directory.create(record('9', { maxParticipants: 1 }));
    const [x, y] = await Promise.all([admission.enter('9', call(1)), admission.enter('9', call(2))]);
    assert.deepEqual([x.kind, y.kind].sort(), ['admitted', 'refused']);
    // The winner never opens its stream: after the TTL the seat goes to the next caller.
    clock.advance(TTL_MS);
    const z = await admission.enter('9', call(3));
    assert.equal(z.kind, 'admitted');
    const winner = x.kind === 'admitted' ? { r: x, c: call(1) } : { r: y, c: call(2) };
    if (winner.r.kind !== 'admitted') throw new Error('unreachable');
    assert.deepEqual(start(winner.c.callSid, winner.r.ticket, '9'), { ok: false, code: 'BAD_TICKET', detail: 'seat reservation expired or cancelled' });
  });

  test('authorizeStart: the ticket decides room and seat, once; refusals name the reason (1008 code)', async () => {
    const { admission, wall, start } = setup();
    const admitted = await admission.enter('55', call(1));
    if (admitted.kind !== 'admitted') throw new Error('not admitted');
    assert.deepEqual(start(call(2).callSid, admitted.ticket, '55'), { ok: false, code: 'BAD_TICKET', detail: 'join ticket other-call' });
    assert.deepEqual(start(call(1).callSid, admitted.ticket, '56'), { ok: false, code: 'BAD_TICKET', detail: 'join ticket is for another room' });
    assert.deepEqual(start(call(1).callSid, undefined, '55'), { ok: false, code: 'BAD_TICKET', detail: 'join ticket missing' });
    const again = await admission.enter('55', call(1));
    if (again.kind !== 'admitted') throw new Error('not admitted');
    assert.deepEqual(start(call(1).callSid, again.ticket), { ok: true, roomId: '55', info: { seat: 1, from: '+15005550006' } });
    assert.deepEqual(start(call(1).callSid, again.ticket), { ok: false, code: 'BAD_TICKET', detail: 'join ticket reused' });
    const late = await admission.enter('57', call(3));
    if (late.kind !== 'admitted') throw new Error('not admitted');
    wall.advance(TTL_MS);
    assert.deepEqual(start(call(3).callSid, late.ticket), { ok: false, code: 'BAD_TICKET', detail: 'join ticket expired' });
  });

  test('issue 17: an invited callee (a dial-out) enters a PIN room and a locked one, within the seat limits, with its role', async () => {
    const { admission, directory, start } = setup();
    await directory.create(record('8', { pinHash: await hashPin('2468', { N: 1024, r: 8, p: 1 }), locked: true, maxParticipants: 1 }));
    const role = { moderator: true, label: 'Bob' };
    const invited = await admission.enterInvited('8', { ...call(1), ...role });
    if (invited.kind !== 'admitted') throw new Error(`not admitted: ${JSON.stringify(invited)}`);
    assert.deepEqual(start(call(1).callSid, invited.ticket, '8'), {
      ok: true,
      roomId: '8',
      info: { seat: 1, from: '+15005550006', moderator: true, label: 'Bob' },
    });
    assert.deepEqual(await admission.enterInvited('8', call(2)), { kind: 'refused', roomId: '8', reason: 'room-full' }, 'the seat limit holds');
    assert.deepEqual(await admission.enter('8', call(3)), { kind: 'refused', roomId: '8', reason: 'locked' }, 'the lock still holds for callers');
  });

  test('leaving frees the seat (not when replaced); ending a room cancels its reservations', async () => {
    const { admission, seats } = setup();
    const a = await admission.enter('60', call(1));
    const b = await admission.enter('60', call(2));
    if (a.kind !== 'admitted' || b.kind !== 'admitted') throw new Error('not admitted');
    admission.authorizeStart({ callSid: call(1).callSid, customParameters: { ticket: a.ticket } });
    admission.participantLeft('60', call(1).callSid, 'replaced');
    assert.equal(seats.occupied('60'), 2);
    admission.participantLeft('60', call(1).callSid, 'hangup');
    assert.equal(seats.occupied('60'), 1);
    admission.roomEnded('60');
    assert.equal(seats.occupied('60'), 0);
    assert.deepEqual(admission.authorizeStart({ callSid: call(2).callSid, customParameters: { ticket: b.ticket } }), {
      ok: false,
      code: 'BAD_TICKET',
      detail: 'seat reservation expired or cancelled',
    });
  });
});

describe('moderators (issue 17)', () => {
  const cheap = (pin: string) => hashPin(pin, { N: 1024, r: 8, p: 1 });

  test('the moderator PIN admits a moderator, the PIN a participant; the start carries moderator and label', async () => {
    const { admission, directory, start } = setup();
    await directory.create(record('8', { pinHash: await cheap('2468'), moderatorPinHash: await cheap('97531') }));
    assert.equal((await admission.enter('8', call(1))).kind, 'pin-required');
    const m = await admission.enterWithPin('8', call(1), '97531');
    const p = await admission.enterWithPin('8', call(2), '2468');
    assert.ok(m.kind === 'admitted' && p.kind === 'admitted');
    assert.deepEqual(start(call(1).callSid, m.ticket), { ok: true, roomId: '8', info: { seat: 1, from: '+15005550006', moderator: true } });
    assert.deepEqual(start(call(2).callSid, p.ticket), { ok: true, roomId: '8', info: { seat: 2, from: '+15005550006' } });
    // Nothing keyed is a wrong PIN in a room with a PIN; a dial-out passes moderator and label itself.
    assert.deepEqual(await admission.enterWithPin('8', call(3), ''), { kind: 'wrong-pin', roomId: '8', attemptsLeft: 2 });
    const dialled = await admission.enter('1', { ...call(4), moderator: true, label: 'Chair' });
    assert.ok(dialled.kind === 'admitted');
    assert.deepEqual(start(call(4).callSid, dialled.ticket), {
      ok: true,
      roomId: '1',
      info: { seat: 1, from: '+15005550006', moderator: true, label: 'Chair' },
    });
  });

  test('a room with only a moderator PIN asks for one: # alone is a participant, a wrong PIN is wrong', async () => {
    const { admission, directory, start } = setup();
    await directory.create(record('9', { moderatorPinHash: await cheap('97531') }));
    assert.equal((await admission.enter('9', call(1))).kind, 'pin-required');
    const p = await admission.enterWithPin('9', call(1), '');
    assert.ok(p.kind === 'admitted');
    assert.deepEqual(start(call(1).callSid, p.ticket), { ok: true, roomId: '9', info: { seat: 1, from: '+15005550006' } });
    assert.deepEqual(await admission.enterWithPin('9', call(2), '1111'), { kind: 'wrong-pin', roomId: '9', attemptsLeft: 2 });
    assert.equal((await admission.enterWithPin('9', call(2), '97531')).kind, 'admitted');
  });
});

describe('programs (issue 18)', () => {
  test('a program takes a seat within the limits, skips the PIN and the lock, and its start must declare its format', async () => {
    const { admission, directory, seats } = setup({ limits: { maxParticipantsPerRoom: 2 } });
    await directory.create(record('7', { pinHash: await hashPin('2468'), locked: true }));
    const a = await admission.enterProgram('7', { ...call(1), program: { role: 'talker', format: 'pcm16-16k' } });
    assert.equal(a.kind, 'admitted');
    if (a.kind !== 'admitted') return;
    // A start that says mu-law for a PCM ticket: refused, and the seat is free again.
    const wrong = admission.authorizeStart({ callSid: call(1).callSid, customParameters: { ticket: a.ticket }, format: 'mulaw' });
    assert.deepEqual(wrong, { ok: false, code: 'UNSUPPORTED_FORMAT', detail: 'start declares mulaw, the ticket is for pcm16-16k' });
    assert.equal(seats.occupied('7'), 0);
    const b = await admission.enterProgram('7', { ...call(2), label: 'agent', program: { role: 'listener', format: 'pcm16-8k' } });
    assert.equal(b.kind, 'admitted');
    if (b.kind !== 'admitted') return;
    const ok = admission.authorizeStart({ callSid: call(2).callSid, customParameters: { ticket: b.ticket }, format: 'pcm16-8k' });
    assert.equal(ok.ok, true);
    if (ok.ok) assert.deepEqual(ok.info, { seat: 1, label: 'agent', program: { role: 'listener', format: 'pcm16-8k' }, from: '+15005550006' });
    // A third seat is past the room's limit of 2, for a program as for anyone.
    assert.equal((await admission.enterProgram('7', { ...call(3), program: { role: 'talker', format: 'mulaw' } })).kind, 'admitted');
    assert.deepEqual(await admission.enterProgram('7', { ...call(4), program: { role: 'talker', format: 'mulaw' } }), {
      kind: 'refused',
      roomId: '7',
      reason: 'room-full',
    });
  });
});
