/**
 * Room ownership leases in Redis: `lease:<room>` = "<node>|<epoch>" with PX ttl, and
 * `epoch:<room>`, the last epoch handed out (src/cluster/types.ts). Every change is one Lua script,
 * so it is a compare-and-set: Redis runs a script alone, nothing interleaves between its GET and
 * its SET. Reads (get) are a script too, so the value and its PTTL are of the same instant.
 *
 * Without persistence a Redis restart forgets both keys: a holder's next renew() recreates its
 * lease ('restored') and raises the epoch counter back to its epoch, so epochs handed out after
 * that are still higher. A node that acquired the room in between (the key was absent) wins: the
 * old holder's renew says 'lost'.
 */
import type { Lease, RoomLeases } from './types.js';
import { LuaScript, type Redis } from './redisClient.js';

export interface RedisRoomLeasesOptions {
  /** Lease lifetime (ms); a holder renews well within it. Default 2000. */
  ttlMs?: number;
  /** Key prefix (REDIS_KEY_PREFIX). Default "conf:". */
  prefix?: string;
}

/** KEYS: lease, epoch. ARGV: node, ttlMs. Returns {value, pttl} of the lease in force afterwards. */
const ACQUIRE = new LuaScript(`
local v = redis.call('GET', KEYS[1])
if not v then
  local epoch = redis.call('INCR', KEYS[2])
  v = ARGV[1] .. '|' .. epoch
  redis.call('SET', KEYS[1], v, 'PX', ARGV[2])
  return {v, tonumber(ARGV[2])}
end
return {v, redis.call('PTTL', KEYS[1])}
`);

/**
 * KEYS: lease1, epoch1, lease2, epoch2, ... ARGV: node, ttlMs, epoch1, epoch2, ...
 * Returns one integer per room: 1 renewed, 2 restored, 0 lost.
 */
const RENEW = new LuaScript(`
local out = {}
for i = 1, #KEYS / 2 do
  local leaseKey, epochKey = KEYS[2 * i - 1], KEYS[2 * i]
  local epoch = tonumber(ARGV[2 + i])
  local mine = ARGV[1] .. '|' .. ARGV[2 + i]
  local v = redis.call('GET', leaseKey)
  if v == mine then
    redis.call('PEXPIRE', leaseKey, ARGV[2])
    out[i] = 1
  elseif not v and tonumber(redis.call('GET', epochKey) or '0') <= epoch then
    redis.call('SET', leaseKey, mine, 'PX', ARGV[2], 'NX')
    redis.call('SET', epochKey, ARGV[2 + i])
    out[i] = 2
  else
    out[i] = 0
  end
end
return out
`);

/** KEYS: lease. ARGV: "node|epoch". Deletes the lease only if it is that one. */
const RELEASE = new LuaScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
`);

/** KEYS: lease. Returns {value, pttl}, or nil. */
const GET = new LuaScript(`
local v = redis.call('GET', KEYS[1])
if not v then return nil end
return {v, redis.call('PTTL', KEYS[1])}
`);

const RENEW_RESULT = ['lost', 'renewed', 'restored'] as const;

export class RedisRoomLeases implements RoomLeases {
  readonly ttlMs: number;
  private readonly prefix: string;

  /** Uses `client` (shared; the caller closes it). */
  constructor(
    private readonly client: Redis,
    opts: RedisRoomLeasesOptions = {},
  ) {
    this.ttlMs = opts.ttlMs ?? 2000;
    this.prefix = opts.prefix ?? 'conf:';
    if (!Number.isInteger(this.ttlMs) || this.ttlMs <= 0) throw new RangeError(`lease ttlMs must be a positive integer, got ${this.ttlMs}`);
  }

  async get(room: string): Promise<Lease | null> {
    const reply = await GET.run(this.client, [this.leaseKey(room)], []);
    return reply === null ? null : parseReply(reply, room);
  }

  async acquire(room: string, node: string): Promise<Lease> {
    checkNode(node);
    return parseReply(await ACQUIRE.run(this.client, [this.leaseKey(room), this.epochKey(room)], [node, this.ttlMs]), room);
  }

  async renew(node: string, held: ReadonlyArray<{ room: string; epoch: number }>): Promise<Map<string, 'renewed' | 'restored' | 'lost'>> {
    checkNode(node);
    const result = new Map<string, 'renewed' | 'restored' | 'lost'>();
    if (held.length === 0) return result;
    const keys = held.flatMap(({ room }) => [this.leaseKey(room), this.epochKey(room)]);
    const reply = await RENEW.run(this.client, keys, [node, this.ttlMs, ...held.map(({ epoch }) => checkEpoch(epoch))]);
    if (!Array.isArray(reply) || reply.length !== held.length) throw new Error(`lease renew: unexpected reply ${JSON.stringify(reply)}`);
    held.forEach(({ room }, i) => {
      const outcome = RENEW_RESULT[reply[i] as number];
      if (!outcome) throw new Error(`lease renew: unexpected reply ${JSON.stringify(reply)}`);
      result.set(room, outcome);
    });
    return result;
  }

  async release(room: string, node: string, epoch: number): Promise<boolean> {
    return (await RELEASE.run(this.client, [this.leaseKey(room)], [`${node}|${checkEpoch(epoch)}`])) === 1;
  }

  private leaseKey(room: string): string {
    return `${this.prefix}lease:${room}`;
  }

  private epochKey(room: string): string {
    return `${this.prefix}epoch:${room}`;
  }
}

/** A node id is the part before the '|' of a lease value: it cannot contain one. */
function checkNode(node: string): void {
  if (node === '' || node.includes('|')) throw new RangeError(`invalid node id for a lease: ${JSON.stringify(node)}`);
}

function checkEpoch(epoch: number): number {
  if (!Number.isSafeInteger(epoch) || epoch < 1) throw new RangeError(`invalid lease epoch: ${epoch}`);
  return epoch;
}

/** {"<node>|<epoch>", pttl} -> Lease. A lease without expiry (PTTL -1, never written by us) reads as ttlMs 0. */
function parseReply(reply: unknown, room: string): Lease {
  if (Array.isArray(reply) && typeof reply[0] === 'string' && typeof reply[1] === 'number') {
    const value = reply[0];
    const bar = value.lastIndexOf('|');
    const epoch = Number(value.slice(bar + 1));
    if (bar > 0 && Number.isSafeInteger(epoch) && epoch > 0) return { node: value.slice(0, bar), epoch, ttlMs: Math.max(0, reply[1]) };
  }
  throw new Error(`lease of room ${room}: unexpected value in Redis ${JSON.stringify(reply)}`);
}
