/**
 * What each call had in its room (seat number, mute, hold, listening volume, coaching), kept for the
 * moment it rejoins: in memory when its stream ends without the call ending (Twilio asks the
 * `<Connect action>` within a second or two), and, when the server shuts down, written to the rooms
 * database so that the next process reads it at start. The rejoin webhook takes a call's entry
 * once. Entries older than `ttlMs` are forgotten (a call that hung up is never asked for).
 *
 * Not on the 20 ms path: written from leave events and at shutdown, read by a webhook.
 */
import Database from 'better-sqlite3';
import type { CallState, CoachKept } from '../conference/participant.js';
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

/**
 * A cluster's shared copy (Redis): written as a call joins, changes and leaves, so that the node a
 * call rejoins on (its old node stopped, crashed or lost the room) knows what it had. Entries live
 * as long as the store keeps them (hours), not `ttlMs`: a live call's copy is as old as its last change.
 */
export interface SharedKeptCalls {
  put(callSid: string, call: KeptCall): Promise<void>;
  /** The call's copy, removed; null when none. */
  take(callSid: string): Promise<KeptCall | null>;
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
  /** A cluster: the copy other nodes read. */
  shared?: SharedKeptCalls | null;
  /** Told when writing the shared copy failed (the call then rejoins another node without it). */
  onSharedError?: (callSid: string, error: unknown) => void;
}

export class CallStates {
  private readonly kept = new Map<string, KeptCall>();
  /** How long an entry waits for its rejoin (ms). */
  readonly ttlMs: number;
  private readonly maxEntries: number;
  /** Writes of the shared copy not yet answered. */
  private readonly pending = new Set<Promise<void>>();
  private sharingStopped = false;

  constructor(private readonly options: CallStatesOptions) {
    this.ttlMs = options.ttlMs ?? 120_000;
    this.maxEntries = options.maxEntries ?? 100_000;
  }

  /** True when kept calls cross a restart. */
  get persistent(): boolean {
    return Boolean(this.options.store);
  }

  /** True when other nodes share the kept calls (a cluster). */
  get shared(): boolean {
    return Boolean(this.options.shared);
  }

  /** Keeps what `callSid` had (here, and in the shared copy), replacing an older entry. */
  keep(callSid: string, call: Omit<KeptCall, 'keptAtMs'>): void {
    const entry: KeptCall = { ...call, state: copyState(call.state), ...(call.role ? { role: { ...call.role } } : {}), keptAtMs: this.options.clock.nowMs() };
    this.kept.delete(callSid);
    this.kept.set(callSid, entry);
    // Insertion order is age order: the oldest go first.
    for (const sid of this.kept.keys()) {
      if (this.kept.size <= this.maxEntries) break;
      this.kept.delete(sid);
    }
    this.share(callSid, entry);
  }

  /** Writes only the shared copy (a live call's change: nothing to take here while it is live). */
  share(callSid: string, call: Omit<KeptCall, 'keptAtMs'> | KeptCall): void {
    const shared = this.options.shared;
    if (!shared || this.sharingStopped) return;
    const entry: KeptCall = { ...call, keptAtMs: this.options.clock.nowMs() };
    const write = shared.put(callSid, entry).catch((error) => this.options.onSharedError?.(callSid, error));
    this.pending.add(write);
    void write.finally(() => this.pending.delete(write));
  }

  /**
   * Until every shared write so far has been answered; later changes stay here (the cluster's store
   * is about to close: its node is shutting down).
   */
  async flushShared(): Promise<void> {
    await Promise.all([...this.pending]);
    this.sharingStopped = true;
  }

  /**
   * What `callSid` had in `room`, once: from this process, else from the shared copy (a cluster:
   * the call left another node). Null when nothing was kept, or only for another room.
   */
  async takeAnywhere(callSid: string, room: string): Promise<KeptCall | null> {
    const here = this.take(callSid, room);
    if (here || !this.options.shared) return here;
    const there = await this.options.shared.take(callSid);
    return there && there.room === room ? there : null;
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

function copyState(state: CallState): CallState {
  return { ...state, ...(state.coaches ? { coaches: state.coaches.map((c) => ({ ...c })) } : {}) };
}

const CALL_SID = /^[A-Za-z0-9]{1,64}$/;

/** The coaches of a stored state, the malformed ones left out (at most 8: a room's coaches of one call). */
function parseCoaches(v: unknown): CoachKept[] {
  if (!Array.isArray(v)) return [];
  const coaches: CoachKept[] = [];
  for (const c of v.slice(0, 8) as Array<Partial<CoachKept> | null>) {
    if (!c || typeof c.callSid !== 'string' || !CALL_SID.test(c.callSid) || typeof c.muted !== 'boolean') continue;
    coaches.push({ callSid: c.callSid, muted: c.muted, ...(c.hardMuted === true ? { hardMuted: true } : {}) });
  }
  return coaches;
}

/** A stored row back to a KeptCall; null for anything malformed (a hand-edited or older row). */
export function parseKeptCall(text: string): KeptCall | null {
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
    const coaching = typeof s.coaching === 'string' && CALL_SID.test(s.coaching) ? s.coaching : undefined;
    const coaches = parseCoaches(s.coaches);
    if (r?.moderator === true) role.moderator = true;
    if (typeof r?.label === 'string') role.label = r.label;
    return {
      room: v.room,
      seat: v.seat!,
      keptAtMs: v.keptAtMs,
      state: {
        muted: s.muted,
        ...(s.hardMuted === true ? { hardMuted: true } : {}),
        onHold: s.onHold,
        listenVolumeDb: s.listenVolumeDb,
        ...(coaching ? { coaching } : {}),
        ...(coaches.length > 0 ? { coaches } : {}),
      },
      ...(role.moderator || role.label !== undefined ? { role } : {}),
    };
  } catch {
    return null;
  }
}
