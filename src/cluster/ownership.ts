/**
 * Room ownership across a cluster: which node mixes a room, and the fence that keeps a node from
 * mixing a room it no longer owns.
 *
 * The port (RoomOwnership) and the single process's answer (LocalOwnership) are in
 * rooms/ownership.ts. `ClusterOwnership` keeps this node's leases (src/cluster/types.ts RoomLeases) and:
 *  - resolves a room for a webhook: its live owner, or a node chosen for a new room (the less
 *    loaded of two random live nodes), waiting out the lease of an owner whose heartbeat is gone;
 *  - renews every held lease in one store call every ttl/4, and releases leases of rooms nobody
 *    uses any more;
 *  - fences: `enforce(now)` runs before every mixer tick (synchronous, no I/O) and gives up every
 *    room whose lease may have expired (not renewed within ttl - margin of the renewal being sent).
 *    A node paused past its lease (SIGSTOP, a long GC, Redis unreachable) therefore stops mixing
 *    the moment it runs again, before it mixes one more frame; its callers' streams are closed
 *    (ROOM_MOVED) and Twilio brings them back through the rejoin webhook to the room's new owner.
 *  - admits a stream only with the epoch of the lease it holds now (`mayStart`).
 *
 * Time comes in from outside (a monotonic clock for leases, a wall clock for other nodes'
 * heartbeats, timers for renewals and waits), so test/unit/ownership.test.ts drives the fence by hand.
 */
import { EventEmitter } from 'node:events';
import type { Logger } from '../log.js';
import type { OwnershipEvents, Resolution, RoomOwnership } from '../rooms/ownership.js';
import { backgroundTimers, delay, systemClock, type Clock, type Timers } from '../timing/clock.js';
import { chooseNode } from './placement.js';
import type { NodeRegistry, NodeState, PlacementCounters, RoomLeases } from './types.js';

interface Held {
  epoch: number;
  /** Monotonic ms until which the lease is surely ours (ttl from the moment the last renewal was sent). */
  validUntilMs: number;
  /** Monotonic ms the room was last seen in use (callers in it or seats reserved). */
  lastUsedMs: number;
}

export interface ClusterOwnershipOptions {
  self: () => NodeState;
  leases: RoomLeases;
  registry: NodeRegistry;
  placement: PlacementCounters;
  /** Monotonic: when leases were sent for and run out. */
  clock: Clock;
  /** Unix ms, to judge other nodes' heartbeats (NodeState.at, written by their wall clocks). Default: systemClock. */
  wallClock?: Clock;
  /** Renewals and the wait for a dead owner's lease (default: node's, unref'd). */
  timers?: Timers;
  log: Logger;
  /** True while the room has callers or reserved seats here. */
  inUse: (room: string) => boolean;
  /** A held room unused this long is released (ms); covers a caller who never connected. */
  idleReleaseMs: number;
  random?: () => number;
  /** Is `node` alive and answering? Default: GET <internalUrl>/health within PROBE_TIMEOUT_MS. */
  probe?: (node: NodeState) => Promise<boolean>;
}

const PROBE_TIMEOUT_MS = 500;

async function probeHealth(node: NodeState): Promise<boolean> {
  try {
    const answer = await fetch(`${node.internalUrl}/health`, { signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) });
    await answer.body?.cancel();
    return answer.ok;
  } catch {
    return false;
  }
}

/** A heartbeat older than this (two beats) marks a node as possibly paused (ms). */
const STALE_HEARTBEAT_MS = 2000;

/** Fence this long before the lease would expire in the store: clocks drift, the store's TTL ticks on its own. */
const FENCE_MARGIN_FRACTION = 0.15;

export class ClusterOwnership extends EventEmitter<OwnershipEvents> implements RoomOwnership {
  readonly clustered = true;
  private readonly held = new Map<string, Held>();
  private running = false;
  private timer: unknown = null;
  private renewing: Promise<void> | null = null;
  private readonly marginMs: number;
  private readonly renewEveryMs: number;
  private readonly wallClock: Clock;
  private readonly timers: Timers;

  constructor(private readonly options: ClusterOwnershipOptions) {
    super();
    this.marginMs = Math.round(options.leases.ttlMs * FENCE_MARGIN_FRACTION);
    this.renewEveryMs = Math.max(50, Math.floor(options.leases.ttlMs / 4));
    this.wallClock = options.wallClock ?? systemClock;
    this.timers = options.timers ?? backgroundTimers;
  }

  async resolve(room: string, resolveOptions: { suspectOwner?: boolean } = {}): Promise<Resolution> {
    const { leases, registry, clock } = this.options;
    const me = this.options.self().id;
    // Owners found dead or paused in this call: their heartbeat can look fresh for two beats after
    // a crash, and placing the room back on one of them would send the caller to a dead node.
    const gone = new Set<string>();
    // Twice at most: once as found, once after waiting out a dead owner's lease.
    for (let round = 0; round < 3; round++) {
      const sentAt = clock.nowMs();
      const lease = await leases.get(room);
      if (lease) {
        if (lease.node === me) return this.adopt(room, lease.epoch, sentAt, lease.ttlMs);
        const owner = await registry.get(lease.node);
        const fresh = owner !== null && this.wallClock.nowMs() - owner.at <= STALE_HEARTBEAT_MS;
        if (owner && fresh && (!resolveOptions.suspectOwner || (await (this.options.probe ?? probeHealth)(owner)))) return { kind: 'remote', node: owner };
        // Its heartbeat is gone: dead or paused. Never take an unexpired lease: wait it out.
        gone.add(lease.node);
        this.options.log.info(
          { room, owner: lease.node, epoch: lease.epoch, waitMs: lease.ttlMs },
          'cluster: room owner is gone (no heartbeat, or no answer); waiting for its lease to expire',
        );
        await delay(this.timers, Math.min(lease.ttlMs, leases.ttlMs) + 20);
        continue;
      }
      // A node whose last heartbeat is older than two beats may be paused: no new rooms for it.
      const live = (await registry.live()).filter((n) => this.wallClock.nowMs() - n.at <= STALE_HEARTBEAT_MS && !gone.has(n.id));
      const recent = await this.options.placement.recent(live.map((n) => n.id));
      const chosen = chooseNode(live, recent, this.options.random ?? Math.random);
      if (!chosen) return { kind: 'unavailable', why: 'no live node takes new rooms' };
      const acquiredAt = clock.nowMs();
      const won = await leases.acquire(room, chosen.id);
      if (won.node === chosen.id) {
        await this.options.placement.placed(chosen.id);
        this.options.log.info({ room, node: chosen.id, epoch: won.epoch }, 'cluster: room placed');
      }
      if (won.node === me) return this.adopt(room, won.epoch, acquiredAt, won.ttlMs);
      const owner = won.node === chosen.id ? chosen : await registry.get(won.node);
      if (owner) return { kind: 'remote', node: owner };
    }
    return { kind: 'unavailable', why: 'the room owner did not settle' };
  }

  /** The live node that mixes `room` now, or null when none does (no lease, or its node is gone). */
  async ownerOf(room: string): Promise<NodeState | null> {
    const lease = await this.options.leases.get(room);
    return lease ? this.options.registry.get(lease.node) : null;
  }

  mayStart(room: string, epoch: number): boolean {
    const h = this.held.get(room);
    return h !== undefined && h.epoch === epoch && h.validUntilMs - this.marginMs > this.options.clock.nowMs();
  }

  enforce(nowMs: number): void {
    if (this.held.size === 0) return;
    for (const [room, h] of this.held) {
      if (h.validUntilMs - this.marginMs <= nowMs) this.fence(room, h, 'lease not renewed in time');
    }
  }

  heldRooms(): number {
    return this.held.size;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.scheduleRenewal();
  }

  async stop(release: boolean): Promise<void> {
    this.running = false;
    if (this.timer !== null) this.timers.clearTimeout(this.timer);
    this.timer = null;
    await this.renewing;
    if (!release) return;
    const me = this.options.self().id;
    await Promise.all([...this.held].map(([room, h]) => this.options.leases.release(room, me, h.epoch).catch(() => false)));
    this.held.clear();
  }

  /** Every ttl/4, whether or not the last renewal has answered (a slow one is not sent twice). */
  private scheduleRenewal(): void {
    this.timer = this.timers.setTimeout(() => {
      this.timer = null;
      if (!this.running) return;
      this.renewing ??= this.renewAll().finally(() => (this.renewing = null));
      this.scheduleRenewal();
    }, this.renewEveryMs);
  }

  private adopt(room: string, epoch: number, sentAtMs: number, ttlMs: number): Resolution {
    const validUntilMs = sentAtMs + Math.min(ttlMs, this.options.leases.ttlMs);
    const h = this.held.get(room);
    if (h && h.epoch === epoch) {
      h.validUntilMs = Math.max(h.validUntilMs, validUntilMs);
      h.lastUsedMs = this.options.clock.nowMs();
    } else {
      if (h) this.fence(room, h, 'a newer lease of this node replaced it');
      this.held.set(room, { epoch, validUntilMs, lastUsedMs: this.options.clock.nowMs() });
    }
    return { kind: 'self', epoch };
  }

  private fence(room: string, h: Held, why: string): void {
    this.held.delete(room);
    this.options.log.warn({ room, epoch: h.epoch, why }, 'cluster: lease lost; not mixing this room any more');
    this.emit('fenced', room, h.epoch, why);
  }

  private async renewAll(): Promise<void> {
    const { leases, clock, log, inUse, idleReleaseMs } = this.options;
    const me = this.options.self().id;
    const now = clock.nowMs();
    // The fence also runs here, so a node with no mixer tick (no rooms open) still lets go.
    this.enforce(now);
    const toRenew: { room: string; epoch: number }[] = [];
    for (const [room, h] of this.held) {
      if (inUse(room)) h.lastUsedMs = now;
      if (now - h.lastUsedMs >= idleReleaseMs) {
        this.held.delete(room);
        leases.release(room, me, h.epoch).catch((error) => log.warn({ room, err: error }, 'cluster: lease release failed'));
        continue;
      }
      toRenew.push({ room, epoch: h.epoch });
    }
    if (toRenew.length === 0) return;
    const sentAt = clock.nowMs();
    let results: Map<string, 'renewed' | 'restored' | 'lost'>;
    try {
      results = await leases.renew(me, toRenew);
    } catch (error) {
      // The fence (enforce) acts when the leases run out; until then the rooms go on.
      log.warn({ err: error, rooms: toRenew.length }, 'cluster: lease renewal failed');
      return;
    }
    for (const { room, epoch } of toRenew) {
      const h = this.held.get(room);
      if (!h || h.epoch !== epoch) continue;
      const result = results.get(room);
      if (result === 'renewed' || result === 'restored') {
        h.validUntilMs = sentAt + leases.ttlMs;
        if (result === 'restored') log.info({ room, epoch }, 'cluster: lease restored (the store had lost it)');
      } else {
        this.fence(room, h, 'another node holds the lease');
      }
    }
  }
}
