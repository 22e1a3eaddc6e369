/**
 * Where a new room goes: the less loaded of two nodes picked at random ("power of two
 * choices"). Two random candidates rather than the least loaded of all, because every node places
 * rooms from a view of the others' load that is up to a heartbeat old: all of them picking "the
 * least loaded" would send a burst to the same node. The recent-placement counters (placed:<node>
 * in Redis) close most of that gap: a room placed a moment ago counts before the node's heartbeat
 * reports it.
 */
import type { NodeState, PlacementCounters } from './types.js';
import { checkExec, type Redis } from './redisClient.js';

/**
 * The node a new room should go to, or null when no node takes rooms (none, or all draining).
 * Overloaded nodes (refusing new calls) are left out while any other node takes rooms.
 * `recent`: placements per node id in the last few seconds (missing: 0). `random`: [0, 1), as
 * Math.random (tests pass a seeded one). Pure.
 */
export function chooseNode(nodes: NodeState[], recent: Map<string, number>, random: () => number): NodeState | null {
  const taking = nodes.filter((n) => !n.draining);
  if (taking.length === 0) return null;
  const notOverloaded = taking.filter((n) => n.load.overloaded !== true);
  const open = notOverloaded.length > 0 ? notOverloaded : taking;
  if (open.length === 1) return open[0]!;
  const i = pick(open.length, random);
  let j = pick(open.length - 1, random);
  if (j >= i) j++; // two distinct candidates
  const a = open[i]!;
  const b = open[j]!;
  return compareLoad(a, b, recent) <= 0 ? a : b;
}

/** Rooms the node has, plus the ones placed on it that its heartbeat may not count yet. */
export const placementLoad = (node: NodeState, recent: Map<string, number>): number => node.load.rooms + (recent.get(node.id) ?? 0);

/** Negative when `a` is the better choice: lower load, then fewer calls, then lower loop delay, then id. */
function compareLoad(a: NodeState, b: NodeState, recent: Map<string, number>): number {
  return (
    placementLoad(a, recent) - placementLoad(b, recent) ||
    a.load.calls - b.load.calls ||
    a.load.loopDelayP99Ms - b.load.loopDelayP99Ms ||
    (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)
  );
}

/** An index in [0, n) from `random` (clamped: a random() of exactly 1 still gives n - 1). */
const pick = (n: number, random: () => number): number => Math.min(n - 1, Math.max(0, Math.floor(random() * n)));

export interface RedisPlacementCountersOptions {
  /** A node's count falls to 0 this long after its last placement (ms). Default 5000. */
  windowMs?: number;
  /** Key prefix (REDIS_KEY_PREFIX). Default "conf:". */
  prefix?: string;
}

/**
 * placed:<node> in Redis: INCR and PEXPIRE windowMs on every placement, so the count is the rooms
 * placed since the node last went windowMs without one (it decays all at once, not one by one: a
 * steady trickle keeps it growing until the node's heartbeat counts those rooms twice; a window
 * of a few heartbeats keeps that small).
 */
export class RedisPlacementCounters implements PlacementCounters {
  readonly windowMs: number;
  private readonly prefix: string;

  /** Uses `client` (shared; the caller closes it). */
  constructor(
    private readonly client: Redis,
    opts: RedisPlacementCountersOptions = {},
  ) {
    this.windowMs = opts.windowMs ?? 5000;
    this.prefix = opts.prefix ?? 'conf:';
    if (!Number.isInteger(this.windowMs) || this.windowMs <= 0) throw new RangeError(`windowMs must be a positive integer, got ${this.windowMs}`);
  }

  async placed(node: string): Promise<void> {
    const key = this.key(node);
    await this.client.multi().incr(key).pexpire(key, this.windowMs).exec().then(checkExec);
  }

  async recent(nodes: readonly string[]): Promise<Map<string, number>> {
    const counts = new Map<string, number>();
    if (nodes.length === 0) return counts;
    const values = await this.client.mget(nodes.map((n) => this.key(n)));
    nodes.forEach((n, i) => {
      const v = Number(values[i] ?? 0);
      counts.set(n, Number.isFinite(v) ? v : 0);
    });
    return counts;
  }

  private key(node: string): string {
    return `${this.prefix}placed:${node}`;
  }
}
