/**
 * What each call had in its room (seat number, mute, hold, listening volume), kept for the
 * moment it rejoins: in memory when its stream ends without the call ending (Twilio asks the
 * `<Connect action>` within a second or two), and, when the server shuts down, written to the rooms
 * database so that the next process reads it at start. The rejoin webhook takes a call's entry
 * once. Entries older than `ttlMs` are forgotten (a call that hung up is never asked for).
 *
 * Not on the 20 ms path: written from leave events and at shutdown, read by a webhook.
 */
import Database from 'better-sqlite3';
import type { CallState } from '../conference/participant.js';
import type { Clock } from '../timing/clock.js';
import type { CallRole } from './seats.js';

/** One call, as it was in its room. */
export interface KeptCall {
  room: string;
  seat: number;
  state: CallState;
  /** Who the call is in the room (a moderator, a label), when anything. */
  role?: CallRole;
  /** Wall-clock ms when it was kept. */
  keptAtMs: number;
}

/** Where kept calls wait for the next process. */
export interface KeptCallStore {
  /** Every call saved, and the store emptied (read once, at start). */
  drain(): Array<[callSid: string, call: KeptCall]>;
  save(calls: ReadonlyArray<[callSid: string, call: KeptCall]>): void;
  close(): void;
}

export interface CallStatesOptions {
  /** Wall clock (Unix ms): entries cross a restart. */
  clock: Clock;
  /** How long an entry waits for its rejoin (ms). Default 2 minutes. */
  ttlMs?: number;
  /** Entries kept at most (the oldest go first). Default 100,000. */
  maxEntries?: number;
  /** Null: memory only (nothing crosses a restart). */
  store?: KeptCallStore | null;
}

export class CallStates {
  private readonly kept = new Map<string, KeptCall>();
  private readonly ttlMs: number;
  private readonly maxEntries: number;

  constructor(private readonly options: CallStatesOptions) {
    this.ttlMs = options.ttlMs ?? 120_000;
    this.maxEntries = options.maxEntries ?? 100_000;
  }

  /** True when kept calls cross a restart. */
  get persistent(): boolean {
    return Boolean(this.options.store);
  }

  /** Keeps what `callSid` had, replacing an older entry. */
  keep(callSid: string, call: Omit<KeptCall, 'keptAtMs'>): void {
    this.kept.delete(callSid);
    this.kept.set(callSid, { ...call, state: { ...call.state }, ...(call.role ? { role: { ...call.role } } : {}), keptAtMs: this.options.clock.nowMs() });
    // Insertion order is age order: the oldest go first.
    for (const sid of this.kept.keys()) {
      if (this.kept.size <= this.maxEntries) break;
      this.kept.delete(sid);
    }
  }

  /** What `callSid` had in `room`, once; null when nothing (or something too old) was kept. */
  take(callSid: string, room: string): KeptCall | null {
    const call = this.kept.get(callSid);
    if (!call) return null;
    this.kept.delete(callSid);
    if (call.room !== room || this.options.clock.nowMs() - call.keptAtMs > this.ttlMs) return null;
    return call;
  }

  /** Entries waiting. */
  get size(): number {
    return this.kept.size;
  }

  /** At start: the calls the previous process saved (fresh ones only). Returns how many. */
  load(): number {
    const store = this.options.store;
    if (!store) return 0;
    const now = this.options.clock.nowMs();
    let loaded = 0;
    for (const [callSid, call] of store.drain()) {
      if (now - call.keptAtMs > this.ttlMs) continue;
      this.kept.set(callSid, call);
      loaded++;
    }
    return loaded;
  }

  /** At shutdown: every fresh entry to the store for the next process. Returns how many. */
  persist(): number {
    const store = this.options.store;
    if (!store) return 0;
    const now = this.options.clock.nowMs();
    const fresh = [...this.kept].filter(([, call]) => now - call.keptAtMs <= this.ttlMs);
    store.save(fresh);
    return fresh.length;
  }

  close(): void {
    this.options.store?.close();
  }
}

/** Kept calls in a table of the rooms database (its own connection; the directory keeps its own). */
export class SqliteKeptCallStore implements KeptCallStore {
  private readonly db: Database.Database;

  constructor(path: string) {
    this.db = new Database(path, { timeout: 2000 });
    this.db.exec('CREATE TABLE IF NOT EXISTS kept_calls (call_sid TEXT PRIMARY KEY, room TEXT NOT NULL, call TEXT NOT NULL)');
  }

  drain(): Array<[string, KeptCall]> {
    const rows = this.db.transaction(() => {
      const all = this.db.prepare('SELECT call_sid, call FROM kept_calls').all() as Array<{ call_sid: string; call: string }>;
      this.db.prepare('DELETE FROM kept_calls').run();
      return all;
    })();
    const calls: Array<[string, KeptCall]> = [];
    for (const row of rows) {
      const call = parseKeptCall(row.call);
      if (call) calls.push([row.call_sid, call]);
    }
    return calls;
  }

  save(calls: ReadonlyArray<[string, KeptCall]>): void {
    const insert = this.db.prepare('INSERT OR REPLACE INTO kept_calls (call_sid, room, call) VALUES (?, ?, ?)');
    this.db.transaction(() => {
      for (const [callSid, call] of calls) insert.run(callSid, call.room, JSON.stringify(call));
    })();
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}

/** A stored row back to a KeptCall; null for anything malformed (a hand-edited or older row). */
function parseKeptCall(text: string): KeptCall | null {
  try {
    const v = JSON.parse(text) as Partial<KeptCall> & { state?: Partial<CallState>; role?: Partial<CallRole> };
    const s = v.state;
    const r = v.role;
    if (
      typeof v.room !== 'string' ||
      !Number.isInteger(v.seat) ||
      typeof v.keptAtMs !== 'number' ||
      !s ||
      typeof s.muted !== 'boolean' ||
      typeof s.onHold !== 'boolean' ||
      typeof s.listenVolumeDb !== 'number'
    )
      return null;
    const role: CallRole = {};
    if (r?.moderator === true) role.moderator = true;
    if (typeof r?.label === 'string') role.label = r.label;
    return {
      room: v.room,
      seat: v.seat!,
      keptAtMs: v.keptAtMs,
      state: { muted: s.muted, ...(s.hardMuted === true ? { hardMuted: true } : {}), onHold: s.onHold, listenVolumeDb: s.listenVolumeDb },
      ...(role.moderator || role.label !== undefined ? { role } : {}),
    };
  } catch {
    return null;
  }
}
