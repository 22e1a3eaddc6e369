/**
 * The invites of /join (src/security/invite.ts) in a table of the rooms database, so that they,
 * their uses and their revocations survive a restart of one process. Its own connection to the
 * file (the directory keeps its own). Written through on every change; read once at start.
 */
import Database from 'better-sqlite3';
import type { InviteInfo, InviteStore } from '../security/invite.js';

interface Row {
  id: string;
  room: string;
  expires_at_ms: number;
  uses: number | null;
  used: number;
  revoked: number;
}

export class SqliteInviteStore implements InviteStore {
  private readonly db: Database.Database;
  private readonly upsert: Database.Statement;
  private readonly remove: Database.Statement;

  constructor(path: string) {
    this.db = new Database(path, { timeout: 2000 });
    this.db.exec(
      'CREATE TABLE IF NOT EXISTS invites (id TEXT PRIMARY KEY, room TEXT NOT NULL, expires_at_ms INTEGER NOT NULL, uses INTEGER, used INTEGER NOT NULL, revoked INTEGER NOT NULL)',
    );
    this.upsert = this.db.prepare('INSERT OR REPLACE INTO invites (id, room, expires_at_ms, uses, used, revoked) VALUES (?, ?, ?, ?, ?, ?)');
    this.remove = this.db.prepare('DELETE FROM invites WHERE id = ?');
  }

  load(): InviteInfo[] {
    const rows = this.db.prepare('SELECT id, room, expires_at_ms, uses, used, revoked FROM invites').all() as Row[];
    return rows.map((r) => ({ id: r.id, room: r.room, expiresAtMs: r.expires_at_ms, uses: r.uses, used: r.used, revoked: r.revoked === 1 }));
  }

  put(info: InviteInfo): void {
    this.upsert.run(info.id, info.room, info.expiresAtMs, info.uses, info.used, info.revoked ? 1 : 0);
  }

  delete(id: string): void {
    this.remove.run(id);
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}
