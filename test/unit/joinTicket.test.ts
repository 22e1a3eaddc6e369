/** Join tickets (src/security/joinTicket.ts): format, signature, CallSid binding, expiry, single use. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeTicket, encodeTicket, JoinTickets } from '../../src/security/joinTicket.js';
import { ManualClock } from '../../src/timing/clock.js';

const SECRET = Buffer.from('unit-test-secret-0123456789abcdef0123');
const CALL = 'CA0123456789abcdef0123456789abcdef';
const claims = { callSid: CALL, room: '4711', seat: 3, expiresAtSeconds: 1_800_000_030, nonce: 'AAAAAAAAAAAAAAAAAAAAAA' };
const NOW_MS = 1_800_000_000_000;

describe('ticket codec', () => {
  test('the documented format, well under the 500 characters of a <Parameter>', () => {
    const ticket = encodeTicket(SECRET, claims);
    assert.match(ticket, /^v1\.CA0123456789abcdef0123456789abcdef\.4711\.3\.1800000030\.A{22}\.[A-Za-z0-9_-]{43}$/);
    assert.ok(ticket.length < 200);
    assert.deepEqual(decodeTicket(SECRET, ticket, CALL, NOW_MS), { ok: true, claims });
  });

  test('missing, malformed, tampered in any field, signed with another key: refused', () => {
    const ticket = encodeTicket(SECRET, claims);
    assert.deepEqual(decodeTicket(SECRET, undefined, CALL, NOW_MS), { ok: false, reason: 'missing' });
    assert.deepEqual(decodeTicket(SECRET, '', CALL, NOW_MS), { ok: false, reason: 'missing' });
    for (const bad of ['v1', 'garbage', ticket + '.x', ticket.replace('v1', 'v2'), ticket.replace('.4711.', '.47a1.'), ticket.replace('.3.', '.-3.')]) {
      assert.deepEqual(decodeTicket(SECRET, bad, CALL, NOW_MS), { ok: false, reason: 'malformed' }, bad);
    }
    const parts = ticket.split('.');
    const changes: Array<[number, string]> = [
      [2, '4712'],
      [3, '4'],
      [4, '1800000099'],
      [5, 'B'.repeat(22)],
    ];
    for (const [i, value] of changes) {
      const forged = [...parts];
      forged[i] = value;
      assert.deepEqual(decodeTicket(SECRET, forged.join('.'), CALL, NOW_MS), { ok: false, reason: 'bad-signature' }, `field ${i}`);
    }
    assert.deepEqual(decodeTicket(Buffer.from('another-secret-0123456789abcdef0123'), ticket, CALL, NOW_MS), { ok: false, reason: 'bad-signature' });
  });

  test('bound to the CallSid: another call presenting it is refused (the CallSid in the ticket is signed too)', () => {
    const ticket = encodeTicket(SECRET, claims);
    assert.deepEqual(decodeTicket(SECRET, ticket, 'CA' + 'f'.repeat(32), NOW_MS), { ok: false, reason: 'other-call' });
    const swapped = ticket.replace(CALL, 'CA' + 'f'.repeat(32));
    assert.deepEqual(decodeTicket(SECRET, swapped, 'CA' + 'f'.repeat(32), NOW_MS), { ok: false, reason: 'bad-signature' });
  });

  test('expired at its second, not before', () => {
    const ticket = encodeTicket(SECRET, claims);
    assert.equal(decodeTicket(SECRET, ticket, CALL, 1_800_000_029_999).ok, true);
    assert.deepEqual(decodeTicket(SECRET, ticket, CALL, 1_800_000_030_000), { ok: false, reason: 'expired' });
  });
});

describe('JoinTickets', () => {
  test('issue then redeem once; a second redeem is "reused"; unique nonces', () => {
    const clock = new ManualClock(NOW_MS);
    const tickets = new JoinTickets({ secret: SECRET, ttlMs: 30_000, clock });
    const a = tickets.issue(CALL, '4711', 2);
    const b = tickets.issue(CALL, '4711', 2);
    assert.notEqual(a.ticket, b.ticket);
    assert.equal(a.claims.expiresAtSeconds, (NOW_MS + 30_000) / 1000);
    const first = tickets.redeem(a.ticket, CALL);
    assert.ok(first.ok);
    assert.deepEqual(tickets.redeem(a.ticket, CALL), { ok: false, reason: 'reused' });
    assert.ok(tickets.redeem(b.ticket, CALL).ok, 'the other ticket is still good');
  });

  test('a ticket is good for the TTL (ManualClock), and used nonces are forgotten once expired', () => {
    const clock = new ManualClock(NOW_MS);
    const tickets = new JoinTickets({ secret: SECRET, ttlMs: 30_000, clock });
    const used = tickets.issue(CALL, '1', 1);
    const late = tickets.issue(CALL, '1', 1);
    assert.ok(tickets.redeem(used.ticket, CALL).ok);
    assert.equal(tickets.rememberedNonces, 1);
    clock.advance(29_999);
    assert.deepEqual(tickets.redeem(used.ticket, CALL), { ok: false, reason: 'reused' });
    clock.advance(1);
    assert.deepEqual(tickets.redeem(late.ticket, CALL), { ok: false, reason: 'expired' });
    assert.equal(tickets.rememberedNonces, 0, 'nothing kept past expiry');
    assert.deepEqual(tickets.redeem(used.ticket, CALL), { ok: false, reason: 'expired' });
  });

  test('a secret shorter than 32 bytes is refused', () => {
    assert.throws(() => new JoinTickets({ secret: Buffer.from('short'), ttlMs: 1000 }), /32 bytes/);
  });
});
