/**
 * Scale-out seams. A room is never split: exactly one process (a "node") mixes it, and a
 * shared store says which. These interfaces are what the server and the webhooks see; the Redis
 * adapters (src/cluster/redis*.ts) implement them for several processes, and a single process
 * needs none of them (no REDIS_URL: everything local, as before).
 *
 * Keys in Redis (prefix KEY_PREFIX, default "conf:"):
 *   node:<id>        JSON NodeState, PX NODE_TTL_MS, rewritten every heartbeat: a dead node vanishes
 *   nodes            SET of node ids ever seen (dead ones pruned when read)
 *   lease:<room>     "<node>|<epoch>", PX LEASE_TTL_MS: who mixes the room
 *   epoch:<room>     last epoch handed out for the room (never decreases; INCR on every acquisition)
 *   placed:<node>    rooms placed on the node in the last few seconds (INCR, PEXPIRE)
 *   room:<id>        HASH: a directory RoomRecord
 *   started:<room>   "1" while the room has started (a moderator has been in it), PX 12 h
 *   rooms            ZSET of directory room ids (score 0, ordered by id)
 */

/** What a node tells the others about itself, every heartbeat. */
export interface NodeState {
  id: string;
  /** Public path prefix that routes to this node through the proxy, e.g. "/p/2" (no trailing slash). */
  publicPrefix: string;
  /** Base URL other nodes (and tests) reach this node at directly, e.g. "http://127.0.0.1:8102". */
  internalUrl: string;
  /** True while draining: keeps its rooms, takes no new ones. */
  draining: boolean;
  load: NodeLoad;
  /** Unix ms of this heartbeat (the writer's clock). */
  at: number;
}

export interface NodeLoad {
  rooms: number;
  calls: number;
  /** Mixer tick p99 (ms) over the last window, and the event loop's delay p99 (ms). */
  tickP99Ms: number;
  loopDelayP99Ms: number;
  /** Refusing new calls for capacity (src/timing/capacity.ts): placed last. Absent (an older node): no. */
  overloaded?: boolean;
}

export interface NodeRegistry {
  /** Writes this node's state with the node expiry. */
  heartbeat(state: NodeState): Promise<void>;
  /** Every node whose heartbeat has not expired, ordered by id. */
  live(): Promise<NodeState[]>;
  /** One node, or null when its heartbeat has expired (or it never was). */
  get(id: string): Promise<NodeState | null>;
  /** Removes this node's heartbeat at once (clean shutdown). */
  remove(id: string): Promise<void>;
}

/** The owner of a room: a node id and the lease's fencing number (higher = newer). */
export interface Lease {
  node: string;
  epoch: number;
  /** Milliseconds the lease has left in the store (its PTTL), as read. */
  ttlMs: number;
}

/**
 * Room ownership, every change a compare-and-set in the store (Lua in Redis): two callers racing
 * for one new room get one owner; only the holder renews or releases; nobody takes a lease that has
 * not expired.
 */
export interface RoomLeases {
  readonly ttlMs: number;
  get(room: string): Promise<Lease | null>;
  /**
   * Gives the room to `node` when nobody holds it (epoch = last epoch + 1). Returns the lease in
   * force afterwards: `node`'s new one, or the holder's when someone was first.
   */
  acquire(room: string, node: string): Promise<Lease>;
  /**
   * Extends `node`'s leases. Per room: 'renewed'; 'restored' when the key had gone (the store was
   * restarted or flushed) and was recreated for the same node and epoch (the epoch counter raised
   * to at least it); 'lost' when another node or a newer epoch holds it.
   */
  renew(node: string, held: ReadonlyArray<{ room: string; epoch: number }>): Promise<Map<string, 'renewed' | 'restored' | 'lost'>>;
  /** Gives the room up if `node|epoch` still holds it; false otherwise. */
  release(room: string, node: string, epoch: number): Promise<boolean>;
}

/** Rooms placed per node in the last few seconds, so a burst of new rooms does not pile onto one. */
export interface PlacementCounters {
  /** Counts one placement on `node`; the count decays to 0 after `windowMs` without placements. */
  placed(node: string): Promise<void>;
  /** Recent placements for each of `nodes` (0 when none). */
  recent(nodes: readonly string[]): Promise<Map<string, number>>;
}
