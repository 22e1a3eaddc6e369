/**
 * The room directory in Redis, shared by every node of a cluster: `room:<id>` is a HASH
 * of one RoomRecord, `rooms` a ZSET of the ids (all score 0, so Redis orders them by id). Create,
 * update and delete are each one Lua script, so two nodes creating one id get one 'created' and a
 * PATCH never overwrites another's fields with stale ones; each also raises `rooms:revision`, which
 * nodes poll to re-read the settings of the rooms they mix (revision()).
 *
 * In the HASH a null field is an absent one (label, pinHash, maxParticipants, backgroundGate,
 * noiseSuppression, moderatorPinHash, waitMusic, holdMusic); maxParticipants is decimal text, locked and
 * the two sound settings "1" or "0"; the three moderation flags (waitForModerator, endWhenModeratorLeaves,
 * startMuted) "1" when on and absent when off. The same RoomRecord comes back as went in.
 *
 * Ownership: the directory uses the client it is given and does not close it (other adapters share
 * it); close() only stops this directory from being used. Whoever called connectRedis closes the client.
 */
import { definedOnly, type RoomDirectory, type RoomPatch, type RoomRecord } from '../rooms/directory.js';
import { LuaScript, type Redis } from './redisClient.js';

export interface RedisRoomDirectoryOptions {
  /** Key prefix (REDIS_KEY_PREFIX). Default "conf:". */
  prefix?: string;
}

/** KEYS: room, rooms, revision. ARGV: id, field1, value1, ... Returns 1 created, 0 exists. */
const CREATE = new LuaScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
redis.call('ZADD', KEYS[2], 0, ARGV[1])
redis.call('INCR', KEYS[3])
return 1
`);

/**
 * KEYS: room, revision. ARGV: n, then n field/value pairs to set, then the fields to remove.
 * Returns the HASH afterwards (HGETALL), or nil when there is no such room.
 */
const UPDATE = new LuaScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return nil end
local n = tonumber(ARGV[1])
if n > 0 then redis.call('HSET', KEYS[1], unpack(ARGV, 2, 1 + 2 * n)) end
if #ARGV > 1 + 2 * n then redis.call('HDEL', KEYS[1], unpack(ARGV, 2 + 2 * n)) end
redis.call('INCR', KEYS[2])
return redis.call('HGETALL', KEYS[1])
`);

/** KEYS: room, rooms, revision. ARGV: id. Returns 1 deleted, 0 no such room. */
const DELETE = new LuaScript(`
redis.call('ZREM', KEYS[2], ARGV[1])
local deleted = redis.call('DEL', KEYS[1])
if deleted == 1 then redis.call('INCR', KEYS[3]) end
return deleted
`);

type Field = keyof Omit<RoomRecord, 'id'>;

export class RedisRoomDirectory implements RoomDirectory {
  private readonly prefix: string;
  private closed = false;

  /** Uses `client` and never closes it (see the file's comment). */
  constructor(
    private readonly client: Redis,
    opts: RedisRoomDirectoryOptions = {},
  ) {
    this.prefix = opts.prefix ?? 'conf:';
  }

  async get(id: string): Promise<RoomRecord | null> {
    this.checkOpen();
    return fromHash(id, await this.client.hgetall(this.roomKey(id)));
  }

  async list(): Promise<RoomRecord[]> {
    this.checkOpen();
    const ids = await this.client.zrange(this.roomsKey(), 0, -1);
    if (ids.length === 0) return [];
    const pipeline = this.client.pipeline();
    for (const id of ids) pipeline.hgetall(this.roomKey(id));
    const replies = (await pipeline.exec()) ?? [];
    const records: RoomRecord[] = [];
    ids.forEach((id, i) => {
      const [err, hash] = replies[i] ?? [new Error('no reply'), null];
      if (err) throw err;
      // Deleted between the ZRANGE and the HGETALL: not listed.
      const r = fromHash(id, hash as Record<string, string>);
      if (r) records.push(r);
    });
    return records;
  }

  async count(): Promise<number> {
    this.checkOpen();
    return this.client.zcard(this.roomsKey());
  }

  async create(record: RoomRecord): Promise<'created' | 'exists'> {
    this.checkOpen();
    const fields = toFields(record);
    // HSET needs at least one pair; createdAt and updatedAt are always there.
    const args = [record.id, ...Object.entries(fields).flatMap(([f, v]) => (v === null ? [] : [f, v]))];
    const created = await CREATE.run(this.client, [this.roomKey(record.id), this.roomsKey(), this.revisionKey()], args);
    return created === 1 ? 'created' : 'exists';
  }

  async update(id: string, patch: RoomPatch, updatedAt: string): Promise<RoomRecord | null> {
    this.checkOpen();
    const fields = toFields({ ...definedOnly(patch), updatedAt });
    const set = Object.entries(fields).filter((e): e is [string, string] => e[1] !== null);
    const remove = Object.entries(fields)
      .filter(([, v]) => v === null)
      .map(([f]) => f);
    const reply = await UPDATE.run(this.client, [this.roomKey(id), this.revisionKey()], [set.length, ...set.flat(), ...remove]);
    if (reply === null) return null;
    return fromHash(id, pairsToObject(reply));
  }

  async delete(id: string): Promise<boolean> {
    this.checkOpen();
    return (await DELETE.run(this.client, [this.roomKey(id), this.roomsKey(), this.revisionKey()], [id])) === 1;
  }

  /**
   * A number every create, update and delete raises (in the same script as the write): a node that
   * reads another value than before knows some room's settings changed (node.ts, onRoomsChanged).
   */
  async revision(): Promise<number> {
    this.checkOpen();
    return Number((await this.client.get(this.revisionKey())) ?? 0);
  }

  /** Idempotent. Leaves the client open: it is not this directory's. */
  async close(): Promise<void> {
    this.closed = true;
  }

  private checkOpen(): void {
    if (this.closed) throw new Error('room directory is closed');
  }

  private roomKey(id: string): string {
    return `${this.prefix}room:${id}`;
  }

  private roomsKey(): string {
    return `${this.prefix}rooms`;
  }

  private revisionKey(): string {
    return `${this.prefix}rooms:revision`;
  }
}

/** The HASH fields for the record's (or patch's) keys that are present; null: remove the field. */
function toFields(r: Partial<RoomRecord>): Partial<Record<Field, string | null>> {
  const out: Partial<Record<Field, string | null>> = {};
  if (r.label !== undefined) out.label = r.label;
  if (r.pinHash !== undefined) out.pinHash = r.pinHash;
  if (r.maxParticipants !== undefined) out.maxParticipants = r.maxParticipants === null ? null : String(r.maxParticipants);
  if (r.locked !== undefined) out.locked = r.locked ? '1' : '0';
  if (r.backgroundGate !== undefined) out.backgroundGate = r.backgroundGate === null ? null : r.backgroundGate ? '1' : '0';
  if (r.noiseSuppression !== undefined) out.noiseSuppression = r.noiseSuppression === null ? null : r.noiseSuppression ? '1' : '0';
  if (r.moderatorPinHash !== undefined) out.moderatorPinHash = r.moderatorPinHash;
  // The moderation flags: "1" when on, absent when off (a room without moderation keeps its old layout).
  if (r.waitForModerator !== undefined) out.waitForModerator = r.waitForModerator ? '1' : null;
  if (r.endWhenModeratorLeaves !== undefined) out.endWhenModeratorLeaves = r.endWhenModeratorLeaves ? '1' : null;
  if (r.startMuted !== undefined) out.startMuted = r.startMuted ? '1' : null;
  if (r.waitMusic !== undefined) out.waitMusic = r.waitMusic;
  if (r.holdMusic !== undefined) out.holdMusic = r.holdMusic;
  if (r.createdAt !== undefined) out.createdAt = r.createdAt;
  if (r.updatedAt !== undefined) out.updatedAt = r.updatedAt;
  return out;
}

/** A HASH back to a record; null when there is none (HGETALL of a missing key is {}). */
function fromHash(id: string, h: Record<string, string>): RoomRecord | null {
  if (h['createdAt'] === undefined) return null;
  const max = h['maxParticipants'];
  return {
    id,
    label: h['label'] ?? null,
    pinHash: h['pinHash'] ?? null,
    maxParticipants: max === undefined ? null : Number(max),
    locked: h['locked'] === '1',
    backgroundGate: flag(h['backgroundGate']),
    noiseSuppression: flag(h['noiseSuppression']),
    moderatorPinHash: h['moderatorPinHash'] ?? null,
    waitForModerator: h['waitForModerator'] === '1',
    endWhenModeratorLeaves: h['endWhenModeratorLeaves'] === '1',
    startMuted: h['startMuted'] === '1',
    waitMusic: h['waitMusic'] ?? null,
    holdMusic: h['holdMusic'] ?? null,
    createdAt: h['createdAt'],
    updatedAt: h['updatedAt'] ?? h['createdAt'],
  };
}

/** "1" / "0" / absent -> true / false / null (the server's default). */
function flag(value: string | undefined): boolean | null {
  return value === undefined ? null : value === '1';
}

function pairsToObject(reply: unknown): Record<string, string> {
  if (!Array.isArray(reply)) throw new Error(`room update: unexpected reply ${JSON.stringify(reply)}`);
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < reply.length; i += 2) out[String(reply[i])] = String(reply[i + 1]);
  return out;
}
