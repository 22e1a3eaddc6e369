/**
 * The room directory: the configuration of the rooms an administrator set up (number, label, PIN
 * hash, seat limit, locked). Small and async on purpose, so the store can change (SQLite in one
 * process today, a shared store such as Redis when several processes serve one line) without the
 * admission logic, the webhooks or the admin API changing. It stores; it does not decide:
 * admission (src/rooms/admission.ts) makes every decision about who may enter.
 *
 * Rooms callers open by keying an unknown number (auto-create) are not in the directory: they
 * live only while someone is in them.
 */

/** One administered room. */
export interface RoomRecord {
  /** The number callers key (digits). */
  id: string;
  label: string | null;
  /** `scrypt$...` hash of the PIN (src/rooms/pin.ts), or null for no PIN. Never the PIN itself. */
  pinHash: string | null;
  /** Seat limit of this room, or null for the server's MAX_PARTICIPANTS_PER_ROOM. */
  maxParticipants: number | null;
  /** A locked room admits nobody new; who is in stays. */
  locked: boolean;
  /**
   * The room's sound settings (absent or null: the server's default). backgroundGate false: the talk
   * gate lets everything through (a music room); noiseSuppression: each caller's noise suppressed.
   */
  backgroundGate?: boolean | null;
  noiseSuppression?: boolean | null;
  /**
   * Moderation (issue 17). `scrypt$...` hash of the moderator PIN (callers keying it are moderators),
   * or null/absent for none. Never the PIN itself.
   */
  moderatorPinHash?: string | null;
  /** Callers wait (a wait sound, not mixed with each other) until the first moderator joins. */
  waitForModerator?: boolean;
  /** When the last moderator leaves, everyone else hears a goodbye and the calls end. */
  endWhenModeratorLeaves?: boolean;
  /** Callers other than moderators join muted (a hard mute: only a moderator or the API unmutes). */
  startMuted?: boolean;
  /**
   * Audio library clips (absent or null: the server's WAIT_MUSIC / HOLD_MUSIC): looped to a caller
   * alone in the room (or waiting for the moderator), and to a caller on hold.
   */
  waitMusic?: string | null;
  holdMusic?: string | null;
  /** ISO 8601 times. */
  createdAt: string;
  updatedAt: string;
}

/** The fields PATCH may change. */
export type RoomPatch = Partial<
  Pick<
    RoomRecord,
    | 'label'
    | 'pinHash'
    | 'maxParticipants'
    | 'locked'
    | 'backgroundGate'
    | 'noiseSuppression'
    | 'moderatorPinHash'
    | 'waitForModerator'
    | 'endWhenModeratorLeaves'
    | 'startMuted'
    | 'waitMusic'
    | 'holdMusic'
  >
>;

export interface RoomDirectory {
  get(id: string): Promise<RoomRecord | null>;
  /** Every room, ordered by id. */
  list(): Promise<RoomRecord[]>;
  count(): Promise<number>;
  /** Adds a room; 'exists' (and nothing changed) when the id is taken. */
  create(record: RoomRecord): Promise<'created' | 'exists'>;
  /** Applies `patch` (and `updatedAt`); null when there is no such room. */
  update(id: string, patch: RoomPatch, updatedAt: string): Promise<RoomRecord | null>;
  /** False when there was no such room. */
  delete(id: string): Promise<boolean>;
  /** Releases the store. Idempotent. */
  close(): Promise<void>;
}

/** A directory in memory: for tests, and the reference behaviour every adapter matches. */
export class MemoryRoomDirectory implements RoomDirectory {
  private readonly rooms = new Map<string, RoomRecord>();

  async get(id: string): Promise<RoomRecord | null> {
    const r = this.rooms.get(id);
    return r ? { ...r } : null;
  }

  async list(): Promise<RoomRecord[]> {
    return [...this.rooms.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)).map((r) => ({ ...r }));
  }

  async count(): Promise<number> {
    return this.rooms.size;
  }

  async create(record: RoomRecord): Promise<'created' | 'exists'> {
    if (this.rooms.has(record.id)) return 'exists';
    this.rooms.set(record.id, { ...record });
    return 'created';
  }

  async update(id: string, patch: RoomPatch, updatedAt: string): Promise<RoomRecord | null> {
    const r = this.rooms.get(id);
    if (!r) return null;
    const next = { ...r, ...definedOnly(patch), updatedAt };
    this.rooms.set(id, next);
    return { ...next };
  }

  async delete(id: string): Promise<boolean> {
    return this.rooms.delete(id);
  }

  async close(): Promise<void> {}
}

/** The patch without keys whose value is undefined (null is a value: "remove"). */
export function definedOnly(patch: RoomPatch): RoomPatch {
  return Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined)) as RoomPatch;
}
