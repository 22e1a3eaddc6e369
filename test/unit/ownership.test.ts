/**
 * The cluster's lease fence (src/cluster/ownership.ts) on a ManualClock: the logic that keeps two
 * nodes from mixing one room, tested without Redis, processes or sleeps. The store is a fake that
 * keeps leases the way Redis does (each key runs out on its own, epochs only grow); the clock
 * drives both the store's expiry and the node's renewals, fence and waits.
 * test/integration/cluster.serial.test.ts and clusterStore.test.ts do the same with real processes.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ClusterOwnership, type ClusterOwnershipOptions } from '../../src/cluster/ownership.js';
import type { Lease, NodeRegistry, NodeState, PlacementCounters, RoomLeases } from '../../src/cluster/types.js';
import { ManualClock } from '../../src/timing/clock.js';
import { captureLog } from '../helpers/log.js';

const TTL_MS = 1000;
/** The fence acts this long before the lease would run out in the store (15 % of the TTL). */
const MARGIN_MS = 150;
/** Renewals go out every TTL / 4. */
const RENEW_MS = 250;
const ROOM = '4711';
const ME = 'node-a';
const OTHER = 'node-b';

/** Lets the fakes' promises (and what awaits them) run. Not a sleep: no time passes on the clock. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

type RenewMode = 'store' | 'fail' | 'hang';

/** Leases as Redis keeps them: each one runs out at its own time on `clock`; epochs never go down. */
class FakeLeases implements RoomLeases {
  readonly ttlMs = TTL_MS;
  readonly keys = new Map<string, { node: string; epoch: number; untilMs: number }>();
  readonly epochs = new Map<string, number>();
  /** 'store': answered from the keys; 'fail': the store is unreachable; 'hang': answered when the test says. */
  renewMode: RenewMode = 'store';
  renewCalls = 0;
  private readonly hanging: Array<() => void> = [];

  constructor(private readonly clock: ManualClock) {}

  private live(room: string) {
    const key = this.keys.get(room);
    if (key && key.untilMs <= this.clock.nowMs()) this.keys.delete(room);
    return this.keys.get(room);
  }

  /** Another node took the room (our lease ran out in the store, or was never renewed). */
  giveTo(room: string, node: string): number {
    const epoch = (this.epochs.get(room) ?? 0) + 1;
    this.epochs.set(room, epoch);
    this.keys.set(room, { node, epoch, untilMs: this.clock.nowMs() + TTL_MS });
    return epoch;
  }

  async get(room: string): Promise<Lease | null> {
    const key = this.live(room);
    return key ? { node: key.node, epoch: key.epoch, ttlMs: key.untilMs - this.clock.nowMs() } : null;
  }

  async acquire(room: string, node: string): Promise<Lease> {
    if (!this.live(room)) this.giveTo(room, node);
    return (await this.get(room))!;
  }

  renew(node: string, held: ReadonlyArray<{ room: string; epoch: number }>): Promise<Map<string, 'renewed' | 'restored' | 'lost'>> {
    this.renewCalls++;
    if (this.renewMode === 'fail') return Promise.reject(new Error('connection refused'));
    const answer = () => {
      const results = new Map<string, 'renewed' | 'restored' | 'lost'>();
      for (const { room, epoch } of held) {
        const key = this.live(room);
        if (key && key.node === node && key.epoch === epoch) {
          key.untilMs = this.clock.nowMs() + TTL_MS;
          results.set(room, 'renewed');
        } else if (!key && (this.epochs.get(room) ?? 0) <= epoch) {
          this.epochs.set(room, epoch);
          this.keys.set(room, { node, epoch, untilMs: this.clock.nowMs() + TTL_MS });
          results.set(room, 'restored');
        } else {
          results.set(room, 'lost');
        }
      }
      return results;
    };
    if (this.renewMode === 'hang') return new Promise((resolve) => this.hanging.push(() => resolve(answer())));
    return Promise.resolve(answer());
  }

  /** Answers the renewals left hanging, now (from the store as it is now). */
  answerHanging(): void {
    for (const answer of this.hanging.splice(0)) answer();
  }

  async release(room: string, node: string, epoch: number): Promise<boolean> {
    const key = this.live(room);
    if (!key || key.node !== node || key.epoch !== epoch) return false;
    this.keys.delete(room);
    return true;
  }
}

class FakeRegistry implements NodeRegistry {
  readonly nodes = new Map<string, NodeState>();
  async heartbeat(state: NodeState): Promise<void> {
    this.nodes.set(state.id, state);
  }
  async live(): Promise<NodeState[]> {
    return [...this.nodes.values()].sort((a, b) => a.id.localeCompare(b.id));
  }
  async get(id: string): Promise<NodeState | null> {
    return this.nodes.get(id) ?? null;
  }
  async remove(id: string): Promise<void> {
    this.nodes.delete(id);
  }
}

const noPlacements: PlacementCounters = { placed: async () => {}, recent: async () => new Map() };

function node(id: string, atMs: number): NodeState {
  return {
    id,
    publicPrefix: `/p/${id}`,
    internalUrl: `http://${id}.invalid`,
    draining: false,
    load: { rooms: 0, calls: 0, tickP99Ms: 0, loopDelayP99Ms: 0 },
    at: atMs,
  };
}

/** `options`: what a test changes of the node (given the harness's clock). */
function harness(options: (clock: ManualClock) => Partial<ClusterOwnershipOptions> = () => ({})) {
  // One ManualClock for the monotonic clock, the wall clock and the timers: only differences matter.
  const clock = new ManualClock(1_000_000);
  const leases = new FakeLeases(clock);
  const registry = new FakeRegistry();
  const captured = captureLog();
  const ownership = new ClusterOwnership({
    self: () => node(ME, clock.nowMs()),
    leases,
    registry,
    placement: noPlacements,
    clock,
    wallClock: clock,
    timers: clock,
    log: captured.log,
    inUse: () => true,
    idleReleaseMs: 60_000,
    probe: async () => true,
    ...options(clock),
  });
  const fenced: Array<{ room: string; epoch: number; why: string }> = [];
  ownership.on('fenced', (room, epoch, why) => fenced.push({ room, epoch, why }));
  void registry.heartbeat(node(ME, clock.nowMs()));
  /** This node takes ROOM (a new room, placed here: the only live node) and starts renewing. */
  const own = async (): Promise<number> => {
    const resolution = await ownership.resolve(ROOM);
    assert.equal(resolution.kind, 'self');
    ownership.start();
    return (resolution as { epoch: number }).epoch;
  };
  /**
   * Moves the clock to `atMs` in steps no longer than a renewal period, letting each renewal's
   * answer arrive before the next timer fires (as the event loop would).
   */
  const runTo = async (atMs: number): Promise<void> => {
    while (clock.nowMs() < atMs) {
      clock.set(Math.min(atMs, clock.nowMs() + RENEW_MS));
      await settle();
    }
  };
  const run = (ms: number) => runTo(clock.nowMs() + ms);
  return { clock, leases, registry, captured, ownership, fenced, own, run, runTo };
}

describe('the lease fence, on a manual clock', () => {
  test('renewed every ttl/4: the room stays ours for as long as the store answers', async () => {
    const { clock, leases, ownership, fenced, own, run } = harness();
    const epoch = await own();
    await run(10 * TTL_MS);
    ownership.enforce(clock.nowMs());
    assert.deepEqual(fenced, []);
    assert.equal(ownership.mayStart(ROOM, epoch), true);
    assert.equal(leases.renewCalls, (10 * TTL_MS) / RENEW_MS, 'one renewal per quarter TTL');
    await ownership.stop(false);
  });

  test('lease lost: a renewal answered "another node holds it" fences the room at once', async () => {
    const { leases, ownership, fenced, own, run, captured } = harness();
    const epoch = await own();
    // The store lost our key and another node took the room with a newer epoch.
    leases.keys.delete(ROOM);
    const theirs = leases.giveTo(ROOM, OTHER);
    assert.ok(theirs > epoch);
    await run(RENEW_MS);
    assert.deepEqual(fenced, [{ room: ROOM, epoch, why: 'another node holds the lease' }]);
    assert.equal(ownership.mayStart(ROOM, epoch), false, 'no new stream with the old epoch');
    assert.equal(ownership.heldRooms(), 0);
    assert.equal(captured.warnings().filter((l) => /lease lost/.test(l.msg)).length, 1, 'said once');
    await run(2 * TTL_MS);
    assert.equal(fenced.length, 1, 'fenced once');
    await ownership.stop(false);
  });

  test('restored: the store forgot the key (restarted, flushed), the renewal recreates it, the room goes on', async () => {
    const { clock, leases, ownership, fenced, own, run, captured } = harness();
    const epoch = await own();
    leases.keys.delete(ROOM);
    await run(RENEW_MS);
    assert.deepEqual(fenced, []);
    assert.deepEqual(leases.keys.get(ROOM) && { node: leases.keys.get(ROOM)!.node, epoch: leases.keys.get(ROOM)!.epoch }, { node: ME, epoch });
    assert.equal(captured.lines.filter((l) => /lease restored/.test(l.msg)).length, 1);
    await run(5 * TTL_MS);
    ownership.enforce(clock.nowMs());
    assert.deepEqual(fenced, []);
    assert.equal(ownership.mayStart(ROOM, epoch), true);
    await ownership.stop(false);
  });

  test('expired: with the store unreachable, the mixer lets go ttl - margin after the last renewal was sent, not a millisecond earlier', async () => {
    const { clock, leases, ownership, fenced, own, runTo } = harness();
    const acquiredAtMs = clock.nowMs();
    const epoch = await own();
    leases.renewMode = 'fail';
    // Renewals at +250, +500, +750 all fail; the lease sent for at +0 is good until +1000 - 150.
    await runTo(acquiredAtMs + TTL_MS - MARGIN_MS - 1);
    ownership.enforce(clock.nowMs());
    assert.deepEqual(fenced, [], 'still ours 1 ms before the fence');
    assert.equal(ownership.mayStart(ROOM, epoch), true);
    clock.advance(1);
    assert.equal(ownership.mayStart(ROOM, epoch), false, 'no new stream once the fence is due');
    ownership.enforce(clock.nowMs());
    assert.deepEqual(fenced, [{ room: ROOM, epoch, why: 'lease not renewed in time' }]);
    assert.equal(leases.renewCalls, 3);
    await ownership.stop(false);
  });

  test('expired with no mixer tick running: the renewal loop itself lets go before it renews', async () => {
    const { clock, leases, fenced, own, ownership, runTo } = harness();
    const acquiredAtMs = clock.nowMs();
    const epoch = await own();
    leases.renewMode = 'fail';
    await runTo(acquiredAtMs + TTL_MS); // renewals at +250 .. +1000; the one at +1000 finds the fence due
    assert.deepEqual(fenced, [{ room: ROOM, epoch, why: 'lease not renewed in time' }]);
    assert.equal(leases.renewCalls, 3, 'nothing left to renew at +1000');
    await ownership.stop(false);
  });

  test('renewal late: a renewal counts from when it was sent, not from when its answer came', async () => {
    const { clock, leases, ownership, fenced, own, runTo } = harness();
    const acquiredAtMs = clock.nowMs();
    const epoch = await own();
    leases.renewMode = 'hang';
    await runTo(acquiredAtMs + 800); // sent at +250, no answer yet
    assert.equal(leases.renewCalls, 1, 'a renewal is not sent again while one is out');
    leases.answerHanging(); // "renewed", 550 ms late
    leases.renewMode = 'fail';
    await settle();
    // Good until +250 + 1000 - 150 = +1100, whatever the answer's delay.
    await runTo(acquiredAtMs + 1099);
    ownership.enforce(clock.nowMs());
    assert.deepEqual(fenced, []);
    clock.advance(1);
    ownership.enforce(clock.nowMs());
    assert.deepEqual(fenced, [{ room: ROOM, epoch, why: 'lease not renewed in time' }]);
    await ownership.stop(false);
  });

  test('renewal late: an answer that comes after the lease ran out does not bring the room back', async () => {
    const { clock, leases, ownership, fenced, own, runTo } = harness();
    const acquiredAtMs = clock.nowMs();
    const epoch = await own();
    leases.renewMode = 'hang';
    await runTo(acquiredAtMs + TTL_MS - MARGIN_MS);
    ownership.enforce(clock.nowMs());
    assert.equal(fenced.length, 1);
    leases.answerHanging();
    await settle();
    assert.equal(ownership.mayStart(ROOM, epoch), false);
    assert.equal(ownership.heldRooms(), 0);
    await ownership.stop(false);
  });

  test('a node paused past its lease (SIGSTOP, a long GC) lets go on its first tick after waking, before mixing', async () => {
    const { clock, ownership, fenced, own, run } = harness();
    const epoch = await own();
    await run(3 * TTL_MS);
    clock.jump(2 * TTL_MS); // paused: no timer ran
    ownership.enforce(clock.nowMs()); // the mixer's tick enforces before it mixes
    assert.deepEqual(fenced, [{ room: ROOM, epoch, why: 'lease not renewed in time' }]);
    await ownership.stop(false);
  });

  test('a room whose owner stopped beating is taken only after its lease has run out in the store', async () => {
    const { clock, leases, registry, ownership } = harness();
    const theirs = leases.giveTo(ROOM, OTHER);
    void registry.heartbeat(node(OTHER, clock.nowMs() - 5000)); // last beat 5 s ago: paused or dead
    let resolution: Awaited<ReturnType<typeof ownership.resolve>> | null = null;
    void ownership.resolve(ROOM).then((r) => (resolution = r));
    await settle();
    clock.advance(TTL_MS);
    await settle();
    assert.equal(resolution, null, 'waits the lease out (ttl + 20 ms)');
    clock.advance(20);
    await settle();
    assert.deepEqual(resolution, { kind: 'self', epoch: theirs + 1 });
    assert.equal(ownership.mayStart(ROOM, theirs + 1), true);
    assert.equal(ownership.mayStart(ROOM, theirs), false, 'never the old epoch');
  });

  test('a room whose owner beats is left to it; a node whose heartbeat is two beats old gets no new rooms', async () => {
    const { clock, leases, registry, ownership } = harness();
    leases.giveTo(ROOM, OTHER);
    await registry.heartbeat(node(OTHER, clock.nowMs() - 1000));
    assert.deepEqual(await ownership.resolve(ROOM), { kind: 'remote', node: node(OTHER, clock.nowMs() - 1000) });
    // A new room, with this node's own heartbeat stale: no live node takes it.
    await registry.heartbeat(node(ME, clock.nowMs() - 2001));
    await registry.remove(OTHER);
    assert.deepEqual(await ownership.resolve('4712'), { kind: 'unavailable', why: 'no live node takes new rooms' });
  });
});

test("after waiting out a dead owner's lease, the room is not placed back on that owner while its heartbeat still looks fresh", async () => {
  // This node is busier, so placement alone would pick the other one (as it did in the cluster test).
  const busy = (clock: ManualClock) => ({ ...node(ME, clock.nowMs()), load: { rooms: 5, calls: 10, tickP99Ms: 0, loopDelayP99Ms: 0 } });
  const { clock, leases, registry, ownership } = harness((clock) => ({
    self: () => busy(clock),
    // The owner was killed: it does not answer.
    probe: async (n) => n.id !== OTHER,
    random: () => 0,
  }));
  await registry.heartbeat(busy(clock));
  await registry.heartbeat(node(OTHER, clock.nowMs()));
  leases.giveTo(ROOM, OTHER);
  const resolving = ownership.resolve(ROOM, { suspectOwner: true });
  await settle();
  // The lease runs out; the dead node's last heartbeat is still under two beats old.
  clock.advance(TTL_MS + 20);
  await settle();
  const resolution = await resolving;
  assert.equal(resolution.kind, 'self', `placed on a live node, not the dead owner: ${JSON.stringify(resolution)}`);
  assert.equal((await leases.get(ROOM))?.node, ME);
  assert.ok(clock.nowMs() - registry.nodes.get(OTHER)!.at <= 2000, 'the dead owner still looked alive');
  ownership.stop(false);
});
