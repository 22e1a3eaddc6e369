/**
 * Issue 16: what a call had in its room, kept for its rejoin (src/rooms/callStates.ts), the server
 * key that lets the next process accept the calls' passes (src/security/serverKey.ts), and the
 * seat a rejoining call asks for back (src/rooms/seats.ts).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join as joinPath } from 'node:path';
import Database from 'better-sqlite3';
import { CallStates, SqliteKeptCallStore, type KeptCall } from '../../src/rooms/callStates.js';
import { SeatLedger } from '../../src/rooms/seats.js';
import { loadOrCreateServerKey } from '../../src/security/serverKey.js';
import { ManualClock } from '../../src/timing/clock.js';

const state = (muted: boolean, onHold = false, listenVolumeDb = 0) => ({ muted, onHold, listenVolumeDb });

function withDir(run: (dir: string) => void): void {
  const dir = mkdtempSync(joinPath(tmpdir(), 'callstates-'));
  try {
    run(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('CallStates', () => {
  test('taken once, for its own room only, while fresh', () => {
    const clock = new ManualClock(1_000_000);
    const states = new CallStates({ clock, ttlMs: 60_000 });
    states.keep('CA1', { room: '10', seat: 2, state: state(true, false, -3) });
    assert.equal(states.take('CA1', '11'), null, 'another room: nothing (and the entry is gone)');
    states.keep('CA1', { room: '10', seat: 2, state: state(true, false, -3) });
    assert.deepEqual(states.take('CA1', '10'), { room: '10', seat: 2, state: state(true, false, -3), keptAtMs: 1_000_000 });
    assert.equal(states.take('CA1', '10'), null, 'once');
    states.keep('CA2', { room: '10', seat: 1, state: state(false) });
    clock.advance(60_001);
    assert.equal(states.take('CA2', '10'), null, 'too old');
  });

  test('the state is copied when kept: a later change to the caller does not leak in', () => {
    const states = new CallStates({ clock: new ManualClock(0) });
    const live = state(false);
    states.keep('CA1', { room: '1', seat: 1, state: live });
    live.muted = true;
    assert.equal(states.take('CA1', '1')?.state.muted, false);
  });

  test('bounded: past maxEntries the oldest go first', () => {
    const states = new CallStates({ clock: new ManualClock(0), maxEntries: 3 });
    for (let i = 1; i <= 5; i++) states.keep(`CA${i}`, { room: '1', seat: i, state: state(false) });
    assert.equal(states.size, 3);
    assert.equal(states.take('CA1', '1'), null);
    assert.equal(states.take('CA2', '1'), null);
    assert.equal(states.take('CA5', '1')?.seat, 5);
  });

  test('persisted to the rooms database and read back once by the next process; stale and malformed rows are dropped', () =>
    withDir((dir) => {
      const path = joinPath(dir, 'rooms.sqlite');
      const clock = new ManualClock(5_000_000);
      const before = new CallStates({ clock, store: new SqliteKeptCallStore(path) });
      before.keep('CAa', { room: '301', seat: 3, state: state(true, true, 6), role: { moderator: true, label: 'Host' } });
      before.keep('CAb', { room: '302', seat: 1, state: state(false) });
      // Coaching: whom a call coached, and the coaches of a call (their mute before its leave).
      const coach = { ...state(false), coaching: 'CAd' };
      const coached = {
        ...state(false),
        coaches: [
          { callSid: 'CAc', muted: false },
          { callSid: 'CAe', muted: true, hardMuted: true },
        ],
      };
      before.keep('CAc', { room: '303', seat: 1, state: coach });
      before.keep('CAd', { room: '303', seat: 2, state: coached });
      assert.equal(before.persist(), 4);
      before.close();
      // A row someone edited by hand, and one too old.
      const db = new Database(path);
      db.prepare('INSERT INTO kept_calls (call_sid, room, call) VALUES (?, ?, ?)').run('CAbad', '1', '{"room":1}');
      // A coaching that is not a CallSid, and a coach without its mute: left out, the call kept.
      db.prepare('INSERT INTO kept_calls (call_sid, room, call) VALUES (?, ?, ?)').run(
        'CAodd',
        '1',
        JSON.stringify({ room: '1', seat: 4, state: { ...state(false), coaching: 'x y', coaches: [{ callSid: 'CAf' }] }, keptAtMs: 5_000_000 }),
      );
      db.prepare('INSERT INTO kept_calls (call_sid, room, call) VALUES (?, ?, ?)').run(
        'CAold',
        '1',
        JSON.stringify({ room: '1', seat: 1, state: state(false), keptAtMs: 5_000_000 - 200_000 }),
      );
      db.close();

      const after = new CallStates({ clock, store: new SqliteKeptCallStore(path) });
      assert.equal(after.load(), 5, 'the five good, fresh rows');
      assert.deepEqual(after.take('CAc', '303')?.state, coach);
      assert.deepEqual(after.take('CAd', '303')?.state, coached);
      assert.deepEqual(after.take('CAa', '301'), {
        room: '301',
        seat: 3,
        state: state(true, true, 6),
        role: { moderator: true, label: 'Host' },
        keptAtMs: 5_000_000,
      });
      assert.deepEqual(after.take('CAb', '302'), { room: '302', seat: 1, state: state(false), keptAtMs: 5_000_000 }, 'no role: none made up');
      assert.equal(after.take('CAbad', '1'), null);
      assert.deepEqual(after.take('CAodd', '1')?.state, state(false));
      assert.equal(after.take('CAold', '1'), null);
      after.close();
      const third = new CallStates({ clock, store: new SqliteKeptCallStore(path) });
      assert.equal(third.load(), 0, 'read once: a third process finds nothing');
      third.close();
    }));

  test('memory only: nothing persisted, nothing loaded', () => {
    const states = new CallStates({ clock: new ManualClock(0) });
    states.keep('CA1', { room: '1', seat: 1, state: state(false) });
    assert.equal(states.persistent, false);
    assert.equal(states.persist(), 0);
    assert.equal(states.load(), 0);
  });
});

describe('CallStates shared with other nodes (a cluster)', () => {
  /** An in-memory stand-in for the Redis copy; `fail` makes its writes reject. */
  function fakeShared() {
    const map = new Map<string, KeptCall>();
    const store = {
      map,
      fail: false,
      async put(callSid: string, call: KeptCall) {
        if (store.fail) throw new Error('store down');
        map.set(callSid, call);
      },
      async take(callSid: string) {
        const call = map.get(callSid) ?? null;
        map.delete(callSid);
        return call;
      },
    };
    return store;
  }

  test('keep and share write the shared copy; another node takes it once, for its own room only', async () => {
    const shared = fakeShared();
    const here = new CallStates({ clock: new ManualClock(7), shared });
    here.share('CAlive', { room: '5', seat: 2, state: state(true) });
    here.keep('CAleft', { room: '5', seat: 3, state: state(false, true), role: { moderator: true } });
    await here.flushShared();
    const there = new CallStates({ clock: new ManualClock(9), shared });
    assert.deepEqual(await there.takeAnywhere('CAlive', '5'), { room: '5', seat: 2, state: state(true), keptAtMs: 7 });
    assert.equal(await there.takeAnywhere('CAlive', '5'), null, 'once');
    assert.equal(await there.takeAnywhere('CAleft', '6'), null, 'another room: nothing');
    assert.equal(await here.takeAnywhere('CAnone', '5'), null);
  });

  test('a failed write is reported, not thrown; after flushShared nothing more is written (the store is closing)', async () => {
    const shared = fakeShared();
    const errors: string[] = [];
    const states = new CallStates({ clock: new ManualClock(0), shared, onSharedError: (sid) => errors.push(sid) });
    shared.fail = true;
    states.share('CA1', { room: '1', seat: 1, state: state(false) });
    await states.flushShared();
    assert.deepEqual(errors, ['CA1']);
    shared.fail = false;
    states.keep('CA2', { room: '1', seat: 2, state: state(false) });
    await states.flushShared();
    assert.equal(shared.map.size, 0, 'not shared after the flush');
    assert.equal(states.take('CA2', '1')?.seat, 2, 'still kept here');
  });
});

describe('the server key', () => {
  test('made once (mode 0600, folder created), then the same key from the file', () =>
    withDir((dir) => {
      const path = joinPath(dir, 'data', 'server.key');
      const key = loadOrCreateServerKey(path);
      assert.equal(key.length, 32);
      assert.equal(statSync(path).mode & 0o777, 0o600);
      assert.deepEqual(loadOrCreateServerKey(path), key, 'the next process reads the same key');
      assert.equal(readFileSync(path, 'utf8').trim(), key.toString('hex'));
    }));

  test('a file that is not a key is refused with a message saying what to do', () =>
    withDir((dir) => {
      const path = joinPath(dir, 'server.key');
      writeFileSync(path, 'not a key\n');
      assert.throws(() => loadOrCreateServerKey(path), /is not a server key \(64 hex digits\); delete it to make a new one/);
    }));
});

describe('a rejoining call asks for its seat back', () => {
  test('its old number when free, else the lowest free one', () => {
    const seats = new SeatLedger(new ManualClock(0));
    assert.equal(seats.reserve('1', 'CAa', 10_000).seat, 1);
    assert.equal(seats.reserve('1', 'CAb', 10_000, { seat: 4 }).seat, 4, 'seat 4 is free: kept');
    assert.equal(seats.reserve('1', 'CAc', 10_000, { seat: 1 }).seat, 2, 'seat 1 is taken: the lowest free');
    assert.equal(seats.reserve('1', 'CAd', 10_000, { seat: 0 }).seat, 3, 'not a seat number: the lowest free');
  });
});
