/**
 * Per-address limits on the browser entry (src/security/entryLimiter.ts), and with
 * admission on a manual clock: 60 tries from one address hold at most 5 seats; an unused ticket's
 * seat lapses after WEB_TICKET_TTL_MS and the address may take it again; 10 admissions a minute.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { WEB_TICKET_TTL_MS } from '../../src/http/join.js';
import { Admission } from '../../src/rooms/admission.js';
import { MemoryRoomDirectory } from '../../src/rooms/directory.js';
import { SeatLedger } from '../../src/rooms/seats.js';
import { EntryLimiter } from '../../src/security/entryLimiter.js';
import { JoinTickets } from '../../src/security/joinTicket.js';
import { ManualClock } from '../../src/timing/clock.js';
import { record } from '../helpers/rooms.js';

describe('EntryLimiter', () => {
  test('at most maxSeats held per address; a seat given up frees its place at once', () => {
    const limiter = new EntryLimiter({ maxSeats: 2, perMinute: 100, maxAddresses: 10 });
    const holding = new Set<string>();
    const check = (address: string) => limiter.check(address, 0, (sid) => holding.has(sid), 7000);
    for (const sid of ['a', 'b']) {
      assert.deepEqual(check('1.2.3.4'), { ok: true });
      limiter.reserve('1.2.3.4', sid, 0);
      holding.add(sid);
      limiter.settle('1.2.3.4', sid, 0, true);
    }
    assert.deepEqual(check('1.2.3.4'), { ok: false, reason: 'seats', retryAfterMs: 7000 });
    assert.deepEqual(check('5.6.7.8'), { ok: true }, 'another address is not affected');
    holding.delete('a');
    assert.deepEqual(check('1.2.3.4'), { ok: true });
  });

  test('at most perMinute admissions in any 60 s; Retry-After is when the oldest leaves the window', () => {
    const limiter = new EntryLimiter({ maxSeats: 100, perMinute: 3, maxAddresses: 10 });
    const none = () => false;
    for (const t of [0, 10_000, 20_000]) limiter.reserve('a', `s${t}`, t);
    assert.deepEqual(limiter.check('a', 30_000, none, 1), { ok: false, reason: 'rate', retryAfterMs: 30_000 });
    assert.deepEqual(limiter.check('a', 60_000, none, 1), { ok: true });
  });

  test('memory is bounded: at most maxAddresses remembered', () => {
    const limiter = new EntryLimiter({ maxSeats: 1, perMinute: 1, maxAddresses: 3 });
    for (let i = 0; i < 10; i++) limiter.reserve(`10.0.0.${i}`, `s${i}`, i);
    assert.equal(limiter.size, 3);
  });

  test('an admission still being decided counts against both limits; one that failed is forgotten', () => {
    const limiter = new EntryLimiter({ maxSeats: 2, perMinute: 3, maxAddresses: 10 });
    const none = () => false; // no seat yet: the admissions are still awaiting their PIN check
    limiter.reserve('a', 's1', 0);
    limiter.reserve('a', 's2', 0);
    assert.deepEqual(limiter.check('a', 1, none, 500), { ok: false, reason: 'seats', retryAfterMs: 500 }, 'two in flight fill both seats');
    limiter.settle('a', 's1', 0, false);
    assert.deepEqual(limiter.check('a', 1, none, 500), { ok: true }, 'a refused admission frees its place and its minute');
    limiter.reserve('a', 's3', 1);
    limiter.settle('a', 's2', 0, false);
    limiter.settle('a', 's3', 1, false);
    for (const sid of ['s4', 's5', 's6']) limiter.reserve('a', sid, 2);
    for (const sid of ['s4', 's5', 's6']) limiter.settle('a', sid, 2, true);
    assert.deepEqual(limiter.check('a', 3, none, 500), { ok: false, reason: 'rate', retryAfterMs: 59_999 }, 'admitted ones keep counting');
  });
});

describe('the browser entry with admission on a manual clock', () => {
  test('60 tries from one address hold at most 5 seats; unused tickets free them after the web TTL', async () => {
    const clock = new ManualClock(1000);
    const directory = new MemoryRoomDirectory();
    await directory.create(record('4242'));
    const seats = new SeatLedger(clock);
    const tickets = new JoinTickets({ secret: Buffer.alloc(32, 7), ttlMs: 30_000, clock: new ManualClock(1_800_000_000_000) });
    const limits = { maxRooms: 100, maxParticipantsPerRoom: 250, maxParticipants: 1000 };
    const admission = new Admission({ directory, seats, tickets, clock, limits, autoCreate: true, pinAttempts: 3 });
    const limiter = new EntryLimiter({ maxSeats: 5, perMinute: 100, maxAddresses: 100 });
    const tryOnce = async (n: number) => {
      const verdict = limiter.check('203.0.113.9', clock.nowMs(), (sid) => seats.holdingOf(sid) !== undefined, WEB_TICKET_TTL_MS);
      if (!verdict.ok) return verdict.reason;
      const callSid = `CA${String(n).padStart(32, '0')}`;
      const at = clock.nowMs();
      limiter.reserve('203.0.113.9', callSid, at);
      const result = await admission.enterFromWeb('4242', { callSid, ticketTtlMs: WEB_TICKET_TTL_MS }, { kind: 'invite' });
      limiter.settle('203.0.113.9', callSid, at, result.kind === 'admitted');
      return result.kind;
    };
    const outcomes: string[] = [];
    for (let n = 0; n < 60; n++) {
      outcomes.push(await tryOnce(n));
      clock.advance(50);
    }
    assert.equal(outcomes.filter((o) => o === 'admitted').length, 5);
    assert.equal(outcomes.filter((o) => o === 'seats').length, 55);
    assert.equal(seats.occupied('4242'), 5);
    // The five were reserved at 1000..1200 ms and never used: each lapses WEB_TICKET_TTL_MS later.
    clock.set(1000 + WEB_TICKET_TTL_MS - 1);
    assert.equal(seats.occupied('4242'), 5);
    assert.equal(await tryOnce(99), 'seats');
    clock.set(1200 + WEB_TICKET_TTL_MS);
    assert.equal(seats.occupied('4242'), 0);
    assert.equal(await tryOnce(100), 'admitted');
  });

  test('the web entry never opens a room; a PIN for a room without one, or for no room, is a wrong PIN', async () => {
    const clock = new ManualClock(1000);
    const directory = new MemoryRoomDirectory();
    await directory.create(record('1000'));
    const seats = new SeatLedger(clock);
    const tickets = new JoinTickets({ secret: Buffer.alloc(32, 7), ttlMs: 30_000 });
    const limits = { maxRooms: 100, maxParticipantsPerRoom: 250, maxParticipants: 1000 };
    const admission = new Admission({ directory, seats, tickets, clock, limits, autoCreate: true, pinAttempts: 3 });
    const call = { callSid: 'CA' + '1'.repeat(32) };
    for (const entry of [{ kind: 'admin' as const }, { kind: 'invite' as const }]) {
      assert.deepEqual(await admission.enterFromWeb('5555', call, entry), { kind: 'refused', roomId: '5555', reason: 'not-found' });
    }
    assert.deepEqual(await admission.enterFromWeb('5555', call, { kind: 'pin', pin: '1234' }), { kind: 'wrong-pin', roomId: '5555', attemptsLeft: 0 });
    assert.deepEqual(await admission.enterFromWeb('1000', call, { kind: 'pin', pin: '1234' }), { kind: 'wrong-pin', roomId: '1000', attemptsLeft: 0 });
    assert.equal(seats.openRooms(), 0);
    // A room callers opened (not stored) may be joined by the admin or an invite.
    seats.reserve('5555', 'CA' + '2'.repeat(32), 30_000);
    assert.equal((await admission.enterFromWeb('5555', call, { kind: 'admin' })).kind, 'admitted');
  });
});
