/**
 * Issue 16: invite links for the browser entry (src/security/invite.ts) on a manual wall clock:
 * good until it expires, is revoked or is used up; forged, tampered, other-room and unknown
 * (another process, same key) invites are refused with the reason; with the rooms database they
 * survive a restart.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join as joinPath } from 'node:path';
import { SqliteInviteStore } from '../../src/rooms/sqliteInviteStore.js';
import { decodeInvite, encodeInvite, Invites } from '../../src/security/invite.js';
import { encodeTicket } from '../../src/security/joinTicket.js';
import { ManualClock } from '../../src/timing/clock.js';

const SECRET = Buffer.alloc(32, 9);
const T0 = 1_800_000_000_000;

describe('invite codec', () => {
  test('encodes, decodes, and names what is wrong', () => {
    const claims = { room: '4242', id: 'abcdefABCDEF0123', expiresAtSeconds: T0 / 1000 + 60 };
    const invite = encodeInvite(SECRET, claims);
    assert.match(invite, /^i1\.4242\.abcdefABCDEF0123\.1800000060\.[A-Za-z0-9_-]{43}$/);
    assert.deepEqual(decodeInvite(SECRET, invite, '4242', T0), { ok: true, claims });
    assert.deepEqual(decodeInvite(SECRET, invite, '4243', T0), { ok: false, reason: 'other-room' });
    assert.deepEqual(decodeInvite(SECRET, invite, '4242', T0 + 60_000), { ok: false, reason: 'expired' });
    assert.deepEqual(decodeInvite(Buffer.alloc(32, 1), invite, '4242', T0), { ok: false, reason: 'bad-signature' });
    // One character of the MAC changed; the room changed under the same MAC; the expiry pushed out.
    const tampered = invite.slice(0, -1) + (invite.endsWith('A') ? 'B' : 'A');
    assert.deepEqual(decodeInvite(SECRET, tampered, '4242', T0), { ok: false, reason: 'bad-signature' });
    assert.deepEqual(decodeInvite(SECRET, invite.replace('i1.4242.', 'i1.4243.'), '4243', T0), { ok: false, reason: 'bad-signature' });
    assert.deepEqual(decodeInvite(SECRET, invite.replace('.1800000060.', '.1900000060.'), '4242', T0), { ok: false, reason: 'bad-signature' });
    for (const bad of ['', 'i1', 'i2.4242.x.1.y', 'i1.42a.x.1.y', 'i1.4242.x.1.y.z', 'i1.4242.x!.1.y']) {
      assert.deepEqual(decodeInvite(SECRET, bad, '4242', T0), { ok: false, reason: 'malformed' }, bad);
    }
  });

  test('a join ticket signed with the same key never reads as an invite', () => {
    const ticket = encodeTicket(SECRET, { callSid: 'CA1', room: '4242', seat: 1, expiresAtSeconds: T0 / 1000 + 60, nonce: 'n' });
    assert.equal(decodeInvite(SECRET, ticket, '4242', T0).ok, false);
  });
});

describe('Invites', () => {
  const setup = () => {
    const wall = new ManualClock(T0);
    return { wall, invites: new Invites({ secret: SECRET, clock: wall }) };
  };

  test('works until it expires (to the second, rounded up)', () => {
    const { wall, invites } = setup();
    const { token, info } = invites.create('4242', 90);
    assert.equal(info.expiresAtMs, T0 + 90_000);
    assert.equal(invites.check(token, '4242').ok, true);
    wall.advance(89_999);
    assert.equal(invites.check(token, '4242').ok, true);
    wall.advance(1);
    assert.deepEqual(invites.check(token, '4242'), { ok: false, reason: 'expired' });
    assert.deepEqual(invites.list('4242'), [], 'forgotten once expired');
  });

  test('works until revoked; revoking names the room', () => {
    const { invites } = setup();
    const a = invites.create('4242', 600);
    const b = invites.create('4242', 600);
    assert.equal(invites.revoke('9999', a.info.id), false, 'not an invite of room 9999');
    assert.equal(invites.revoke('4242', a.info.id), true);
    assert.deepEqual(invites.check(a.token, '4242'), { ok: false, reason: 'revoked' });
    assert.equal(invites.check(b.token, '4242').ok, true, 'the other invite still works');
    assert.deepEqual(
      invites.list('4242').map((i) => [i.id, i.revoked]),
      [
        [a.info.id, true],
        [b.info.id, false],
      ],
    );
  });

  test('a use count: good for that many admissions, then used-up', () => {
    const { invites } = setup();
    const { token, info } = invites.create('4242', 600, 2);
    for (let i = 0; i < 2; i++) {
      const check = invites.check(token, '4242');
      assert.equal(check.ok, true);
      invites.use(info.id);
    }
    assert.deepEqual(invites.check(token, '4242'), { ok: false, reason: 'used-up' });
    assert.equal(invites.list('4242')[0]!.used, 2);
    invites.giveBack(info.id);
    assert.equal(invites.check(token, '4242').ok, true, 'an admission that failed gives its use back');
  });

  test('an invite this process did not make (a restart without a database, same key) is unknown: revocations cannot come back', () => {
    const { wall, invites } = setup();
    const { token } = invites.create('4242', 600);
    const restarted = new Invites({ secret: SECRET, clock: wall });
    assert.deepEqual(restarted.check(token, '4242'), { ok: false, reason: 'unknown' });
  });

  test('with the rooms database: invites, their uses and revocations survive a restart; expired ones are dropped from it', () => {
    const dir = mkdtempSync(joinPath(tmpdir(), 'invites-'));
    const path = joinPath(dir, 'rooms.sqlite');
    try {
      const wall = new ManualClock(T0);
      const store = new SqliteInviteStore(path);
      const before = new Invites({ secret: SECRET, clock: wall, store });
      const kept = before.create('4242', 600);
      const counted = before.create('4242', 600, 2);
      const revoked = before.create('4242', 600);
      const shortLived = before.create('4242', 5);
      before.use(counted.info.id);
      assert.equal(before.revoke('4242', revoked.info.id), true);
      store.close();

      wall.advance(10_000);
      const restartedStore = new SqliteInviteStore(path);
      const after = new Invites({ secret: SECRET, clock: wall, store: restartedStore });
      assert.equal(after.check(kept.token, '4242').ok, true, 'still good after the restart');
      assert.deepEqual(after.check(revoked.token, '4242'), { ok: false, reason: 'revoked' }, 'still revoked');
      assert.deepEqual(after.check(shortLived.token, '4242'), { ok: false, reason: 'expired' });
      after.use(counted.info.id);
      assert.deepEqual(after.check(counted.token, '4242'), { ok: false, reason: 'used-up' }, 'one use before, one after: used up');
      assert.deepEqual(
        restartedStore
          .load()
          .map((i) => i.id)
          .sort(),
        [kept.info.id, counted.info.id, revoked.info.id].sort(),
        'the expired invite is gone from the database',
      );
      restartedStore.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('the secret must be 32 bytes or more', () => {
    assert.throws(() => new Invites({ secret: Buffer.alloc(31) }), /at least 32 bytes/);
  });
});
