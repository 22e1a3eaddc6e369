/**
 * One node of a cluster, composed from the Redis adapters: its room directory, its room
 * ownership (leases, placement, the fence), its heartbeat, and the marks of calls that ended on
 * purpose. createServer builds one when REDIS_URL is set; without it the server is one process with
 * everything local, as before.
 */
import type { Config } from '../config.js';
import type { RoomDirectory } from '../rooms/directory.js';
import type { SharedRoomStarts } from '../rooms/roomModeration.js';
import { parseKeptCall, type KeptCall, type SharedKeptCalls } from '../rooms/callStates.js';
import { ENDED_MARK_MS, type CallOutcomes } from '../rooms/ownership.js';
import type { Logger } from '../log.js';
import { systemClock, type Clock } from '../timing/clock.js';
import { ClusterOwnership } from './ownership.js';
import { RedisPlacementCounters } from './placement.js';
import { close as closeRedis, connectRedis, type Redis } from './redisClient.js';
import { RedisRoomDirectory } from './redisDirectory.js';
import { RedisRoomLeases } from './redisLeases.js';
import { RedisNodeRegistry } from './redisNodeRegistry.js';
import type { NodeLoad, NodeRegistry, NodeState } from './types.js';

/** How often a node writes its heartbeat (ms); the heartbeat lives three times as long. */
export const HEARTBEAT_MS = 1000;

class RedisCallOutcomes implements CallOutcomes {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly log: Logger,
  ) {}
  markEnded(callSid: string, reason: string): void {
    this.redis
      .set(`${this.prefix}ended:${callSid}`, reason, 'PX', ENDED_MARK_MS)
      .catch((error) => this.log.warn({ callSid, err: error }, 'cluster: could not mark the call as ended'));
  }
  async takeEnded(callSid: string): Promise<boolean> {
    return (await this.redis.getdel(`${this.prefix}ended:${callSid}`)) !== null;
  }
}

/** How long a call's shared state waits in Redis for a rejoin on another node (ms): a long conference. */
const KEPT_CALL_MS = 12 * 3600_000;

/** The calls' kept state (seat, mute, hold, volume, role) where every node reads it. */
class RedisSharedKeptCalls implements SharedKeptCalls {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}
  async put(callSid: string, call: KeptCall): Promise<void> {
    await this.redis.set(`${this.prefix}kept:${callSid}`, JSON.stringify(call), 'PX', KEPT_CALL_MS);
  }
  async take(callSid: string): Promise<KeptCall | null> {
    const text = await this.redis.getdel(`${this.prefix}kept:${callSid}`);
    return text === null ? null : parseKeptCall(text);
  }
}

/** How long a room's "started" mark outlives its last write (ms): a long conference (as a kept call). */
const ROOM_STARTED_MS = KEPT_CALL_MS;

/** `started:<room>`: a moderator has been in the room (it does not wait for one again when it moves). */
class RedisRoomStarts implements SharedRoomStarts {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}
  async mark(roomId: string): Promise<void> {
    await this.redis.set(`${this.prefix}started:${roomId}`, '1', 'PX', ROOM_STARTED_MS);
  }
  async clear(roomId: string): Promise<void> {
    await this.redis.del(`${this.prefix}started:${roomId}`);
  }
  async isStarted(roomId: string): Promise<boolean> {
    return (await this.redis.exists(`${this.prefix}started:${roomId}`)) === 1;
  }
}

export interface ClusterNodeDeps {
  config: Readonly<Config>;
  /** Monotonic, for the lease fence. */
  clock: Clock;
  /** Unix ms, for heartbeats other nodes read (default: systemClock). */
  wallClock?: Clock;
  log: Logger;
  /** This node's load for its heartbeat. */
  load: () => NodeLoad;
  /** True while `room` has callers or reserved seats here. */
  inUse: (room: string) => boolean;
}

export interface ClusterNode {
  readonly id: string;
  readonly redis: Redis;
  readonly directory: RoomDirectory;
  readonly ownership: ClusterOwnership;
  readonly registry: NodeRegistry;
  readonly outcomes: CallOutcomes;
  /** The calls' kept state, for a rejoin on any node. */
  readonly keptCalls: SharedKeptCalls;
  /**
   * `listener` runs when the shared directory changed (any room's settings written by any node),
   * seen at the next heartbeat (HEARTBEAT_MS): the node re-reads the settings of the rooms it mixes.
   */
  onRoomsChanged(listener: () => void): void;
  /** Which rooms have started (a moderator has been in them), for the node a room moves to. */
  readonly roomStarts: SharedRoomStarts;
  /** Out of placement from now on (its rooms stay until they finish). */
  setDraining(draining: boolean): void;
  readonly draining: boolean;
  state(): NodeState;
  start(): void;
  /** Stops heartbeat and renewals, releases this node's leases, removes its heartbeat, closes Redis. */
  stop(): Promise<void>;
}

export function createClusterNode({ config, clock, wallClock = systemClock, log, load, inUse }: ClusterNodeDeps): ClusterNode {
  const redisUrl = config.redisUrl;
  if (!redisUrl) throw new Error('createClusterNode needs REDIS_URL');
  const prefix = config.redisKeyPrefix;
  const redis = connectRedis(redisUrl, { log });
  const internalUrl = config.nodeInternalUrl ?? `http://${config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host}:${config.port}`;
  let draining = false;
  const state = (): NodeState => ({ id: config.nodeId, publicPrefix: config.nodePublicPrefix, internalUrl, draining, load: load(), at: wallClock.nowMs() });
  const registry = new RedisNodeRegistry(redis, { prefix, nodeTtlMs: 3 * HEARTBEAT_MS });
  const leases = new RedisRoomLeases(redis, { prefix, ttlMs: config.leaseTtlMs });
  const ownership = new ClusterOwnership({
    self: state,
    leases,
    registry,
    placement: new RedisPlacementCounters(redis, { prefix }),
    clock,
    wallClock,
    log,
    inUse,
    // A caller redirected here has the ticket's lifetime to connect; then the lease goes back.
    idleReleaseMs: config.joinTicketTtlSeconds * 1000 + config.leaseTtlMs,
  });
  const directory = new RedisRoomDirectory(redis, { prefix });
  const outcomes = new RedisCallOutcomes(redis, prefix, log);
  const keptCalls = new RedisSharedKeptCalls(redis, prefix);
  let heartbeat: NodeJS.Timeout | null = null;
  let beating = false;
  const roomsChanged: Array<() => void> = [];
  /** The directory's revision at the last heartbeat (null: not read yet). */
  let revision: number | null = null;
  const watchRooms = async () => {
    if (roomsChanged.length === 0) return;
    const now = await directory.revision();
    const changed = revision !== null && now !== revision;
    revision = now;
    if (changed) for (const listener of roomsChanged) listener();
  };
  const beat = () => {
    if (beating) return;
    beating = true;
    registry
      .heartbeat(state())
      .then(watchRooms)
      .catch((error) => log.debug({ err: error }, 'cluster: heartbeat failed'))
      .finally(() => (beating = false));
  };
  return {
    id: config.nodeId,
    redis,
    directory,
    ownership,
    registry,
    outcomes,
    keptCalls,
    roomStarts: new RedisRoomStarts(redis, prefix),
    get draining() {
      return draining;
    },
    onRoomsChanged(listener) {
      roomsChanged.push(listener);
    },
    setDraining(value) {
      if (value !== draining)
        log.info({ node: config.nodeId, draining: value }, value ? 'cluster: draining (no new rooms here)' : 'cluster: taking new rooms again');
      draining = value;
      beat();
    },
    state,
    start() {
      if (heartbeat) return;
      log.info({ node: config.nodeId, publicPrefix: config.nodePublicPrefix, internalUrl, leaseTtlMs: config.leaseTtlMs }, 'cluster: node starting');
      beat();
      heartbeat = setInterval(beat, HEARTBEAT_MS);
      heartbeat.unref();
      ownership.start();
    },
    async stop() {
      if (heartbeat) clearInterval(heartbeat);
      heartbeat = null;
      await ownership.stop(true).catch((error) => log.warn({ err: error }, 'cluster: releasing leases failed'));
      await registry.remove(config.nodeId).catch(() => {});
      await directory.close();
      await closeRedis(redis);
    },
  };
}
