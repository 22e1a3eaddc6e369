/** PIN hashing (src/rooms/pin.ts) and the SQLite room directory (src/rooms/sqliteDirectory.ts). */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryRoomDirectory } from '../../src/rooms/directory.js';
import { contract, record } from '../helpers/rooms.js';
import { hashPin, isPinHash, verifyPin } from '../../src/rooms/pin.js';
import { SqliteRoomDirectory } from '../../src/rooms/sqliteDirectory.js';
import Database from 'better-sqlite3';

const FAST = { N: 1024, r: 8, p: 1 };

describe('PIN hashes', () => {
  test('salted scrypt: the right PIN verifies, others do not, two hashes of one PIN differ', async () => {
    const a = await hashPin('2468', FAST);
    const b = await hashPin('2468', FAST);
    assert.match(a, /^scrypt\$1024\$8\$1\$[A-Za-z0-9+/=]{24}\$[A-Za-z0-9+/=]{44}$/);
    assert.notEqual(a, b);
    assert.doesNotMatch(a, /2468/);
    assert.equal(await verifyPin('2468', a), true);
    assert.equal(await verifyPin('2469', a), false);
    assert.equal(await verifyPin('', a), false);
    for (const bad of ['', 'plain', 'scrypt$x$8$1$aa$bb', a.replace(/\$[^$]+$/, '$AAAA')]) assert.equal(await verifyPin('2468', bad), false, bad);
  });

  test('isPinHash (issue 18, a hash from a rooms file): the form hashPin makes, and nothing else', async () => {
    const made = await hashPin('2468');
    const fast = await hashPin('2468', FAST);
    assert.equal(isPinHash(made), true);
    assert.equal(isPinHash(fast), true);
    const [, , , , salt, key] = made.split('$') as string[];
    const bad = [
      '',
      'plain',
      made.replace('scrypt$', 'bcrypt$'),
      `${made}$x`,
      made.replace('$16384$', '$16383$'), // N not a power of two
      made.replace('$16384$', '$512$'), // too cheap
      made.replace('$16384$8$', '$1048576$8$'), // 1 GiB per check: more than a check may use
      made.replace('$16384$', '$016384$'),
      made.replace(salt!, 'c2hvcnQ='), // a 5-byte salt
      made.replace(key!, 'AAAA'), // a 3-byte key
      made.replace(key!, `${key!.slice(0, -2)}!=`), // not base64
      made.replace(key!, key!.replace(/=$/, '')), // base64 without its padding: not the canonical text
    ];
    for (const hash of bad) assert.equal(isPinHash(hash), false, hash);
  });
});

describe('room directories', () => {
  test('MemoryRoomDirectory keeps the contract', async () => {
    await contract(new MemoryRoomDirectory());
  });

  test('SqliteRoomDirectory keeps the contract, and its rooms survive closing and reopening the file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'rooms-unit-'));
    try {
      const path = join(dir, 'a', 'b', 'rooms.sqlite');
      const first = new SqliteRoomDirectory(path);
      await contract(first);
      await first.close();
      await first.close(); // idempotent
      const second = new SqliteRoomDirectory(path);
      assert.deepEqual(await second.list(), [record('10', { locked: true, maxParticipants: 5, updatedAt: '2026-02-02T00:00:00.000Z' })]);
      await second.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('issue 14: a schema-1 database (before the sound settings) opens, keeps its rooms and takes the settings', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'rooms-unit-'));
    try {
      const path = join(dir, 'rooms.sqlite');
      const old = new Database(path);
      old.exec(`CREATE TABLE rooms (id TEXT PRIMARY KEY NOT NULL, label TEXT, pin_hash TEXT, max_participants INTEGER,
        locked INTEGER NOT NULL DEFAULT 0, created_at TEXT NOT NULL, updated_at TEXT NOT NULL) STRICT;
        INSERT INTO rooms VALUES ('4711', 'sync', NULL, 20, 1, '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z');
        PRAGMA user_version = 1;`);
      old.close();
      const d = new SqliteRoomDirectory(path);
      assert.deepEqual(await d.get('4711'), record('4711', { label: 'sync', maxParticipants: 20, locked: true }));
      assert.equal((await d.update('4711', { backgroundGate: false }, 'u'))?.backgroundGate, false);
      await d.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test(':memory: keeps the contract and writes no file', async () => {
    const d = new SqliteRoomDirectory(':memory:');
    await contract(d);
    await d.close();
  });
});
