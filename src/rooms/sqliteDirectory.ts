/**
 * The room directory in an embedded SQLite database (better-sqlite3), so the rooms an
 * administrator created survive a restart. One file (ROOMS_DB_PATH; `:memory:` for none), WAL
 * journal, a versioned schema. better-sqlite3 is synchronous and each statement here touches one
 * row of a small table (microseconds), so the mixer's clock never waits on it noticeably; the
 * interface stays async for stores that are not.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { definedOnly, type RoomDirectory, type RoomPatch, type RoomRecord } from './directory.js';

/**
 * 1: the rooms table; 2: background_gate, noise_suppression (NULL: the server's default);
 * 3: moderator_pin_hash, wait_for_moderator, end_when_moderator_leaves, start_muted (issue 17).
 * 4: wait_music, hold_music (audio library names; NULL: the server's default).
 */
const SCHEMA_VERSION = 4;

interface Row {
  id: string;
  label: string | null;
  pin_hash: string | null;
  max_participants: number | null;
  locked: number;
  background_gate: number | null;
  noise_suppression: number | null;
  moderator_pin_hash: string | null;
  wait_for_moderator: number;
  end_when_moderator_leaves: number;
  start_muted: number;
  wait_music: string | null;
  hold_music: string | null;
  created_at: string;
  updated_at: string;
}

const toRecord = (r: Row): RoomRecord => ({
  id: r.id,
  label: r.label,
  pinHash: r.pin_hash,
  maxParticipants: r.max_participants,
  locked: r.locked === 1,
  backgroundGate: r.background_gate === null ? null : r.background_gate === 1,
  noiseSuppression: r.noise_suppression === null ? null : r.noise_suppression === 1,
  moderatorPinHash: r.moderator_pin_hash,
  waitForModerator: r.wait_for_moderator === 1,
  endWhenModeratorLeaves: r.end_when_moderator_leaves === 1,
  startMuted: r.start_muted === 1,
  waitMusic: r.wait_music,
  holdMusic: r.hold_music,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

export class SqliteRoomDirectory implements RoomDirectory {
  private readonly db: Database.Database;
  private readonly statements;
  private closed = false;

  /** Opens (creating the file and its folder if needed) and migrates the database at `path`. */
  constructor(readonly path: string) {
    if (path !== ':memory:' && path !== '') mkdirSync(dirname(path), { recursive: true });
    this.db = new Database(path, { timeout: 2000 });
    if (path !== ':memory:' && path !== '') this.db.pragma('journal_mode = WAL');
    const version = this.db.pragma('user_version', { simple: true }) as number;
    if (version > SCHEMA_VERSION) {
      this.db.close();
      throw new Error(`${path}: rooms database schema ${version} is newer than this server's (${SCHEMA_VERSION})`);
    }
    if (version < 1) {
      this.db.exec(`
        CREATE TABLE IF NOT EXISTS rooms (
          id TEXT PRIMARY KEY NOT NULL,
          label TEXT,
          pin_hash TEXT,
          max_participants INTEGER,
          locked INTEGER NOT NULL DEFAULT 0,
          created_at TEXT NOT NULL,
          updated_at TEXT NOT NULL
        ) STRICT;
        PRAGMA user_version = 1;
      `);
    }
    if (version < 2) {
      this.db.exec(`
        ALTER TABLE rooms ADD COLUMN background_gate INTEGER;
        ALTER TABLE rooms ADD COLUMN noise_suppression INTEGER;
        PRAGMA user_version = 2;
      `);
    }
    if (version < 3) {
      this.db.exec(`
        ALTER TABLE rooms ADD COLUMN moderator_pin_hash TEXT;
        ALTER TABLE rooms ADD COLUMN wait_for_moderator INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE rooms ADD COLUMN end_when_moderator_leaves INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE rooms ADD COLUMN start_muted INTEGER NOT NULL DEFAULT 0;
        PRAGMA user_version = 3;
      `);
    }
    if (version < 4) {
      this.db.exec(`
        ALTER TABLE rooms ADD COLUMN wait_music TEXT;
        ALTER TABLE rooms ADD COLUMN hold_music TEXT;
        PRAGMA user_version = 4;
      `);
    }
    this.statements = {
      get: this.db.prepare<[string], Row>('SELECT * FROM rooms WHERE id = ?'),
      list: this.db.prepare<[], Row>('SELECT * FROM rooms ORDER BY id'),
      count: this.db.prepare<[], { n: number }>('SELECT COUNT(*) AS n FROM rooms'),
      insert: this.db.prepare<[Row]>(
        `INSERT INTO rooms (id, label, pin_hash, max_participants, locked, background_gate, noise_suppression,
           moderator_pin_hash, wait_for_moderator, end_when_moderator_leaves, start_muted, wait_music, hold_music, created_at, updated_at)
         VALUES (@id, @label, @pin_hash, @max_participants, @locked, @background_gate, @noise_suppression,
           @moderator_pin_hash, @wait_for_moderator, @end_when_moderator_leaves, @start_muted, @wait_music, @hold_music, @created_at, @updated_at)
         ON CONFLICT (id) DO NOTHING`,
      ),
      update: this.db.prepare<[Row]>(
        `UPDATE rooms SET label = @label, pin_hash = @pin_hash, max_participants = @max_participants,
         locked = @locked, background_gate = @background_gate, noise_suppression = @noise_suppression,
         moderator_pin_hash = @moderator_pin_hash, wait_for_moderator = @wait_for_moderator,
         end_when_moderator_leaves = @end_when_moderator_leaves, start_muted = @start_muted,
         wait_music = @wait_music, hold_music = @hold_music,
         updated_at = @updated_at WHERE id = @id`,
      ),
      delete: this.db.prepare<[string]>('DELETE FROM rooms WHERE id = ?'),
    };
  }

  async get(id: string): Promise<RoomRecord | null> {
    const row = this.statements.get.get(id);
    return row ? toRecord(row) : null;
  }

  async list(): Promise<RoomRecord[]> {
    return this.statements.list.all().map(toRecord);
  }

  async count(): Promise<number> {
    return this.statements.count.get()!.n;
  }

  async create(record: RoomRecord): Promise<'created' | 'exists'> {
    const info = this.statements.insert.run(toRow(record));
    return info.changes === 1 ? 'created' : 'exists';
  }

  async update(id: string, patch: RoomPatch, updatedAt: string): Promise<RoomRecord | null> {
    // Read-modify-write in one transaction: no other writer slips in between (synchronous anyway).
    return this.db.transaction(() => {
      const row = this.statements.get.get(id);
      if (!row) return null;
      const next: RoomRecord = { ...toRecord(row), ...definedOnly(patch), updatedAt };
      this.statements.update.run(toRow(next));
      return next;
    })();
  }

  async delete(id: string): Promise<boolean> {
    return this.statements.delete.run(id).changes === 1;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.db.close();
  }
}

function toRow(r: RoomRecord): Row {
  return {
    id: r.id,
    label: r.label,
    pin_hash: r.pinHash,
    max_participants: r.maxParticipants,
    locked: r.locked ? 1 : 0,
    background_gate: r.backgroundGate == null ? null : r.backgroundGate ? 1 : 0,
    noise_suppression: r.noiseSuppression == null ? null : r.noiseSuppression ? 1 : 0,
    moderator_pin_hash: r.moderatorPinHash ?? null,
    wait_for_moderator: r.waitForModerator ? 1 : 0,
    end_when_moderator_leaves: r.endWhenModeratorLeaves ? 1 : 0,
    start_muted: r.startMuted ? 1 : 0,
    wait_music: r.waitMusic ?? null,
    hold_music: r.holdMusic ?? null,
    created_at: r.createdAt,
    updated_at: r.updatedAt,
  };
}
