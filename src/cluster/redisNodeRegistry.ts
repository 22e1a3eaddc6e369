/**
 * Live nodes in Redis: `node:<id>` holds the node's NodeState as JSON with PX nodeTtlMs,
 * rewritten every heartbeat, so a node that stops heartbeating vanishes by itself; the `nodes` SET
 * lists every id seen, and ids whose key has expired are pruned from it when it is read.
 */
import { z } from 'zod';
import type { NodeRegistry, NodeState } from './types.js';
import { checkExec, LuaScript, type Redis } from './redisClient.js';

export interface RedisNodeRegistryOptions {
  /** How long a heartbeat keeps a node alive (ms). Default 3000. */
  nodeTtlMs?: number;
  /** Key prefix (REDIS_KEY_PREFIX). Default "conf:". */
  prefix?: string;
}

/** Other nodes' states are input from outside this process: checked, and ignored when malformed. */
const nodeStateSchema = z.object({
  id: z.string().min(1),
  publicPrefix: z.string(),
  internalUrl: z.string(),
  draining: z.boolean(),
  load: z.object({
    rooms: z.number(),
    calls: z.number(),
    tickP99Ms: z.number(),
    loopDelayP99Ms: z.number(),
    overloaded: z.boolean().optional(),
  }),
  at: z.number(),
});

/**
 * KEYS: nodes, node:<id1>, node:<id2>, ... ARGV: id1, id2, ... Removes from `nodes` each id whose
 * key is gone. In a script, so a node heartbeating meanwhile is never pruned with its key present.
 */
const PRUNE = new LuaScript(`
local pruned = 0
for i = 1, #ARGV do
  if redis.call('EXISTS', KEYS[i + 1]) == 0 then
    pruned = pruned + redis.call('SREM', KEYS[1], ARGV[i])
  end
end
return pruned
`);

export class RedisNodeRegistry implements NodeRegistry {
  readonly nodeTtlMs: number;
  private readonly prefix: string;

  /** Uses `client` (shared; the caller closes it). */
  constructor(
    private readonly client: Redis,
    opts: RedisNodeRegistryOptions = {},
  ) {
    this.nodeTtlMs = opts.nodeTtlMs ?? 3000;
    this.prefix = opts.prefix ?? 'conf:';
    if (!Number.isInteger(this.nodeTtlMs) || this.nodeTtlMs <= 0) throw new RangeError(`nodeTtlMs must be a positive integer, got ${this.nodeTtlMs}`);
  }

  async heartbeat(state: NodeState): Promise<void> {
    await this.client.multi().set(this.nodeKey(state.id), JSON.stringify(state), 'PX', this.nodeTtlMs).sadd(this.nodesKey(), state.id).exec().then(checkExec);
  }

  async live(): Promise<NodeState[]> {
    const ids = (await this.client.smembers(this.nodesKey())).sort();
    if (ids.length === 0) return [];
    const values = await this.client.mget(ids.map((id) => this.nodeKey(id)));
    const gone = ids.filter((_, i) => values[i] === null);
    if (gone.length > 0) await PRUNE.run(this.client, [this.nodesKey(), ...gone.map((id) => this.nodeKey(id))], gone);
    const live: NodeState[] = [];
    for (const value of values) {
      const state = parseState(value);
      if (state) live.push(state);
    }
    return live;
  }

  async get(id: string): Promise<NodeState | null> {
    return parseState(await this.client.get(this.nodeKey(id)));
  }

  async remove(id: string): Promise<void> {
    await this.client.multi().del(this.nodeKey(id)).srem(this.nodesKey(), id).exec().then(checkExec);
  }

  private nodeKey(id: string): string {
    return `${this.prefix}node:${id}`;
  }

  private nodesKey(): string {
    return `${this.prefix}nodes`;
  }
}

function parseState(value: string | null): NodeState | null {
  if (value === null) return null;
  try {
    const parsed = nodeStateSchema.safeParse(JSON.parse(value));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}
