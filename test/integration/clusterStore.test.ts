/**
 * Issue 8: the cluster's store in a real Redis (a redis-server these tests start on a free port,
 * tools/cluster/redisServer.ts): the room directory contract, room leases (one owner under a race,
 * fencing epochs, renew after the store lost its data), node heartbeats and placement.
 */
import { after, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { close, connectRedis, whenReady, type Redis } from '../../src/cluster/redisClient.js';
import { RedisRoomDirectory } from '../../src/cluster/redisDirectory.js';
import { RedisRoomLeases } from '../../src/cluster/redisLeases.js';
import { RedisNodeRegistry } from '../../src/cluster/redisNodeRegistry.js';
import { chooseNode, RedisPlacementCounters } from '../../src/cluster/placement.js';
import type { NodeState } from '../../src/cluster/types.js';
import { redisServerSkipReason, startRedisServer, type RedisServerHandle } from '../../tools/cluster/redisServer.js';
import { captureLog } from '../helpers/log.js';
import { contract, record } from '../helpers/rooms.js';

const skip = redisServerSkipReason();
const TTL_MS = 300;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A seeded [0, 1) generator (mulberry32), so placement runs are the same every time. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function node(id: string, over: { rooms?: number; calls?: number; loopDelayP99Ms?: number; draining?: boolean; overloaded?: boolean } = {}): NodeState {
  return {
    id,
    publicPrefix: `/p/${id}`,
    internalUrl: `http://127.0.0.1:81${id.length}`,
    draining: over.draining ?? false,
    load: {
      rooms: over.rooms ?? 0,
      calls: over.calls ?? 0,
      tickP99Ms: 1.5,
      loopDelayP99Ms: over.loopDelayP99Ms ?? 2,
      ...(over.overloaded !== undefined ? { overloaded: over.overloaded } : {}),
    },
    at: 1_760_000_000_000,
  };
}

describe('chooseNode (pure)', () => {
  const none = new Map<string, number>();

  test('no node, or only draining ones: null; draining nodes are never chosen', () => {
    assert.equal(chooseNode([], none, Math.random), null);
    assert.equal(chooseNode([node('a', { draining: true }), node('b', { draining: true })], none, Math.random), null);
    const nodes = [node('a', { draining: true }), node('b', { rooms: 50 }), node('c', { draining: true })];
    const random = seeded(1);
    for (let i = 0; i < 200; i++) assert.equal(chooseNode(nodes, none, random)?.id, 'b');
  });

  test('overloaded nodes are left out while another takes rooms, however few rooms they have; all overloaded: still placed', () => {
    const random = seeded(3);
    const nodes = [node('a', { overloaded: true }), node('b', { rooms: 40 }), node('c', { overloaded: true, rooms: 0 }), node('d', { draining: true })];
    for (let i = 0; i < 200; i++) assert.equal(chooseNode(nodes, none, random)?.id, 'b');
    const all = [node('a', { overloaded: true, rooms: 3 }), node('c', { overloaded: true, rooms: 1 })];
    assert.equal(chooseNode(all, none, () => 0)?.id, 'c', 'the less loaded of the overloaded: its admission answers busy.xml');
  });

  test('two random candidates, the less loaded wins: the most loaded of three is never chosen, the least about 2/3 of the time', () => {
    const nodes = [node('a', { rooms: 2 }), node('b', { rooms: 0 }), node('c', { rooms: 1 })];
    const random = seeded(7);
    const counts = new Map<string, number>();
    for (let i = 0; i < 3000; i++) {
      const id = chooseNode(nodes, none, random)!.id;
      counts.set(id, (counts.get(id) ?? 0) + 1);
    }
    assert.equal(counts.get('a') ?? 0, 0);
    const least = (counts.get('b') ?? 0) / 3000;
    assert.ok(least > 0.62 && least < 0.72, `least loaded chosen ${least}`);
    // random() at its edges (0, and 1 which Math.random never returns) still gives two distinct nodes.
    assert.equal(chooseNode(nodes, none, () => 0)?.id, 'b');
    assert.equal(chooseNode(nodes, none, () => 1)?.id, 'b');
  });

  test('load is rooms plus recent placements; ties go to fewer calls, then lower loop delay, then id', () => {
    const first = () => 0; // candidates: the first two
    assert.equal(chooseNode([node('a', { rooms: 0 }), node('b', { rooms: 3 })], new Map([['a', 5]]), first)?.id, 'b');
    assert.equal(chooseNode([node('a', { rooms: 3, calls: 9 }), node('b', { rooms: 3, calls: 4 })], none, first)?.id, 'b');
    assert.equal(chooseNode([node('a', { loopDelayP99Ms: 30 }), node('b', { loopDelayP99Ms: 3 })], none, first)?.id, 'b');
    assert.equal(chooseNode([node('b'), node('a')], none, first)?.id, 'a');
  });
});

describe('cluster store in Redis', { skip: skip ?? false }, () => {
  let server: RedisServerHandle;
  let client: Redis;
  /** One client per node id, for races between nodes. */
  let clients: Redis[] = [];

  before(async () => {
    server = await startRedisServer();
    client = connectRedis(server.url);
    clients = [connectRedis(server.url), connectRedis(server.url), connectRedis(server.url)];
    await Promise.all([client, ...clients].map((c) => whenReady(c)));
  });

  after(async () => {
    await Promise.all([client, ...clients].map((c) => close(c)));
    await server?.stop();
    await server?.stop(); // idempotent
    assert.equal(server?.pid(), undefined);
  });

  beforeEach(async () => {
    // (A failed restart test must not fail the tests after it.)
    await Promise.all([client, ...clients].map((c) => whenReady(c, 3000)));
    await client.flushall();
  });

  test('redis-server: a second server on a taken port fails at once instead of hanging', async () => {
    assert.ok(server.pid());
    const started = performance.now();
    await assert.rejects(startRedisServer({ port: server.port }), /exited/);
    assert.ok(performance.now() - started < 3000);
    assert.equal(await client.ping(), 'PONG');
  });

  describe('room directory', () => {
    test('RedisRoomDirectory keeps the contract', async () => {
      await contract(new RedisRoomDirectory(client));
      // The layout of src/cluster/types.ts: room:<id> HASH (null fields absent), rooms ZSET.
      assert.deepEqual(await client.hgetall('conf:room:10'), {
        maxParticipants: '5',
        locked: '1',
        createdAt: '2026-01-01T00:00:00.000Z',
        updatedAt: '2026-02-02T00:00:00.000Z',
      });
      assert.deepEqual(await client.zrange('conf:rooms', 0, -1), ['10']);
    });

    test('values round-trip exactly: empty label, 0 seats, unlocked, text with separators', async () => {
      const d = new RedisRoomDirectory(client);
      const odd = record('7', { label: '', maxParticipants: 0, pinHash: 'scrypt$1$2|3' });
      const odd2 = record('8', { label: 'a|b "c" \n', locked: true });
      assert.equal(await d.create(odd), 'created');
      assert.equal(await d.create(odd2), 'created');
      assert.deepEqual(await d.list(), [odd, odd2]);
      assert.deepEqual(
        await d.update('7', { label: null, maxParticipants: null, locked: false }, 'u'),
        record('7', { pinHash: 'scrypt$1$2|3', updatedAt: 'u' }),
      );
      assert.deepEqual(await d.update('8', {}, 'v'), { ...odd2, updatedAt: 'v' });
    });

    test('every write raises the revision nodes poll (a create, an update, a delete); refused writes and reads do not', async () => {
      const d = new RedisRoomDirectory(client);
      assert.equal(await d.revision(), 0);
      assert.equal(await d.create(record('30')), 'created');
      assert.equal(await d.revision(), 1);
      assert.equal(await d.create(record('30')), 'exists');
      assert.equal(await d.update('31', { label: 'x' }, 'u'), null);
      assert.equal(await d.delete('31'), false);
      await d.get('30');
      await d.list();
      assert.equal(await d.revision(), 1, 'nothing written, nothing raised');
      await d.update('30', { label: 'x' }, 'u');
      assert.equal(await d.revision(), 2);
      assert.equal(await d.delete('30'), true);
      assert.equal(await d.revision(), 3);
      assert.equal(await new RedisRoomDirectory(client, { prefix: 'other:' }).revision(), 0, "another cluster's revision is its own");
    });

    test('concurrent creates of one id from several clients: one "created"', async () => {
      const answers = await Promise.all(
        Array.from({ length: 30 }, (_, i) => new RedisRoomDirectory(clients[i % 3]!).create(record('55', { label: `by ${i}` }))),
      );
      assert.equal(answers.filter((a) => a === 'created').length, 1);
      const winner = answers.indexOf('created');
      assert.equal((await new RedisRoomDirectory(client).get('55'))?.label, `by ${winner}`);
      assert.equal(await new RedisRoomDirectory(client).count(), 1);
    });

    test('prefixes keep two clusters apart; close() leaves the shared client open and is idempotent', async () => {
      const a = new RedisRoomDirectory(client, { prefix: 'a:' });
      const b = new RedisRoomDirectory(client, { prefix: 'b:' });
      await a.create(record('1'));
      assert.equal(await b.get('1'), null);
      assert.deepEqual(await b.list(), []);
      await a.close();
      await a.close();
      assert.equal(client.status, 'ready');
      assert.equal(await b.create(record('1')), 'created');
      await assert.rejects(a.get('1'), /closed/);
    });
  });

  describe('room leases', () => {
    test('50 concurrent acquires of one new room from 3 nodes: one owner, every answer agrees', async () => {
      const nodes = ['n1', 'n2', 'n3'];
      const leasesByNode = clients.map((c) => new RedisRoomLeases(c, { ttlMs: 5000 }));
      const answers = await Promise.all(Array.from({ length: 50 }, (_, i) => leasesByNode[i % 3]!.acquire('100', nodes[i % 3]!)));
      const owner = answers[0]!;
      assert.ok(nodes.includes(owner.node));
      assert.equal(owner.epoch, 1);
      for (const a of answers) assert.deepEqual({ node: a.node, epoch: a.epoch }, { node: owner.node, epoch: 1 });
      for (const a of answers) assert.ok(a.ttlMs > 0 && a.ttlMs <= 5000, `ttl ${a.ttlMs}`);
      assert.equal(await client.get('conf:lease:100'), `${owner.node}|1`);
      assert.equal(await client.get('conf:epoch:100'), '1');
    });

    test('epochs strictly increase across release, expiry and re-acquisition', async () => {
      const leases = new RedisRoomLeases(client, { ttlMs: TTL_MS });
      const epochs: number[] = [];
      const a1 = await leases.acquire('200', 'A');
      epochs.push(a1.epoch);
      assert.equal(await leases.release('200', 'B', a1.epoch), false, 'not the holder');
      assert.equal(await leases.release('200', 'A', a1.epoch + 1), false, 'not its epoch');
      assert.equal(await leases.release('200', 'A', a1.epoch), true);
      assert.equal(await leases.release('200', 'A', a1.epoch), false, 'already released');
      assert.equal(await leases.get('200'), null);
      const b = await leases.acquire('200', 'B');
      assert.equal(b.node, 'B');
      epochs.push(b.epoch);
      await sleep(TTL_MS + 80); // expires
      assert.equal(await leases.get('200'), null);
      const a2 = await leases.acquire('200', 'A');
      assert.equal(a2.node, 'A');
      epochs.push(a2.epoch);
      assert.deepEqual(epochs, [1, 2, 3]);
      assert.equal(await leases.release('200', 'B', b.epoch), false, 'an expired holder cannot release the new lease');
      assert.deepEqual({ ...(await leases.get('200'))!, ttlMs: 0 }, { node: 'A', epoch: 3, ttlMs: 0 });
    });

    test('a lease expires after its ttl; while unexpired, acquire never changes the holder', async () => {
      const leases = new RedisRoomLeases(client, { ttlMs: TTL_MS });
      assert.equal(leases.ttlMs, TTL_MS);
      const a = await leases.acquire('300', 'A');
      assert.deepEqual({ node: a.node, epoch: a.epoch, ttlMs: a.ttlMs }, { node: 'A', epoch: 1, ttlMs: TTL_MS });
      // B keeps asking while A renews, for longer than one ttl: A stays the holder.
      for (let i = 0; i < 6; i++) {
        await sleep(TTL_MS / 3);
        const seen = await leases.acquire('300', 'B');
        assert.deepEqual({ node: seen.node, epoch: seen.epoch }, { node: 'A', epoch: 1 });
        assert.ok(seen.ttlMs > 0 && seen.ttlMs <= TTL_MS);
        assert.equal((await leases.renew('A', [{ room: '300', epoch: 1 }])).get('300'), 'renewed');
      }
      const left = (await leases.get('300'))!;
      assert.ok(left.ttlMs > TTL_MS - 100, `renew reset the ttl (${left.ttlMs} ms left)`);
      await sleep(TTL_MS + 80);
      assert.equal(await leases.get('300'), null);
      assert.equal((await leases.acquire('300', 'B')).node, 'B');
    });

    test('renew: renewed, lost (another node, an older epoch), restored; one script call for all rooms', async () => {
      const leases = new RedisRoomLeases(client, { ttlMs: 5000 });
      await leases.acquire('401', 'A');
      await leases.acquire('402', 'B');
      await leases.acquire('403', 'A');
      await leases.release('403', 'A', 1);
      await leases.acquire('403', 'A'); // epoch 2
      await leases.renew('A', [{ room: '401', epoch: 1 }]); // the script is in Redis's cache now
      await client.config('RESETSTAT');
      const result = await leases.renew('A', [
        { room: '401', epoch: 1 },
        { room: '402', epoch: 1 }, // B's
        { room: '403', epoch: 1 }, // superseded by A's own epoch 2
        { room: '404', epoch: 4 }, // gone from the store, never counted
      ]);
      const stats = await client.info('commandstats');
      assert.deepEqual(
        [...result],
        [
          ['401', 'renewed'],
          ['402', 'lost'],
          ['403', 'lost'],
          ['404', 'restored'],
        ],
      );
      assert.match(stats, /cmdstat_evalsha:calls=1,/);
      assert.doesNotMatch(stats, /cmdstat_eval:/); // (GET, SET, PEXPIRE counted are the script's own)
      assert.equal((await leases.get('402'))?.node, 'B');
      assert.equal(await client.get('conf:epoch:404'), '4');
      assert.deepEqual(await leases.renew('A', []), new Map());
      assert.throws(() => new RedisRoomLeases(client, { ttlMs: 0 }), RangeError);
      await assert.rejects(leases.acquire('405', 'bad|id'), RangeError);
    });

    test('after FLUSHALL the holder restores its lease (same epoch, counter raised); a newer acquisition still wins over it', async () => {
      const leases = new RedisRoomLeases(client, { ttlMs: 5000 });
      await leases.acquire('500', 'A');
      await leases.release('500', 'A', 1);
      const a = await leases.acquire('500', 'A');
      assert.equal(a.epoch, 2);
      await client.flushall();
      assert.equal(await leases.get('500'), null);
      assert.equal((await leases.renew('A', [{ room: '500', epoch: 2 }])).get('500'), 'restored');
      assert.ok(Number(await client.get('conf:epoch:500')) >= 2);
      assert.deepEqual({ ...(await leases.get('500'))!, ttlMs: 0 }, { node: 'A', epoch: 2, ttlMs: 0 });
      assert.equal((await leases.acquire('500', 'B')).node, 'A', 'the restored lease holds');
      assert.equal((await leases.renew('A', [{ room: '500', epoch: 2 }])).get('500'), 'renewed');
      // The next owner's epoch is above the restored one.
      await leases.release('500', 'A', 2);
      assert.deepEqual({ ...(await leases.acquire('500', 'B')), ttlMs: 0 }, { node: 'B', epoch: 3, ttlMs: 0 });
      // A node that took the room while the key was gone keeps it: the old holder has lost it.
      await client.flushall();
      assert.equal((await leases.acquire('500', 'C')).node, 'C');
      assert.equal((await leases.renew('B', [{ room: '500', epoch: 3 }])).get('500'), 'lost');
    });

    test('after a Redis restart: commands fail fast while it is down, then renew restores the lease; one log line per change', async () => {
      const captured = captureLog('info');
      const own = connectRedis(server.url, { log: captured.log });
      try {
        await whenReady(own);
        const leases = new RedisRoomLeases(own, { ttlMs: 5000 });
        const lease = await leases.acquire('600', 'A');
        const pidBefore = server.pid();
        const restarting = server.restart({ downMs: 600 });
        const down = performance.now();
        while (own.status === 'ready') {
          assert.ok(performance.now() - down < 3000, 'the client noticed the restart');
          await sleep(5);
        }
        const failed = performance.now();
        await assert.rejects(leases.renew('A', [{ room: '600', epoch: lease.epoch }]));
        assert.ok(performance.now() - failed < 200, `a command while disconnected failed in ${Math.round(performance.now() - failed)} ms`);
        await restarting;
        assert.notEqual(server.pid(), pidBefore);
        await whenReady(own, 3000);
        assert.equal((await leases.renew('A', [{ room: '600', epoch: lease.epoch }])).get('600'), 'restored');
        assert.equal(await own.get('conf:lease:600'), `A|${lease.epoch}`);
        // Several failed reconnection attempts in 600 ms, but one line for the loss and one for the return.
        assert.deepEqual(
          captured.lines.map((l) => l.msg),
          ['redis connected', 'redis connection lost; reconnecting', 'redis reconnected'],
        );
      } finally {
        await close(own);
      }
      assert.equal(own.status, 'end');
      assert.equal(captured.lines.at(-1)?.msg, 'redis connection closed');
    });
  });

  describe('node registry', () => {
    test('heartbeats expire after nodeTtlMs, dead ids are pruned from the set, live() is ordered by id', async () => {
      const registry = new RedisNodeRegistry(client, { nodeTtlMs: TTL_MS });
      const b = node('b', { rooms: 2 });
      const a = node('a', { draining: true });
      const started = performance.now();
      await registry.heartbeat(b);
      await registry.heartbeat(a);
      assert.deepEqual(await registry.live(), [a, b]);
      assert.deepEqual(await registry.get('b'), b);
      assert.equal(await registry.get('zz'), null);
      // b keeps heartbeating, a stops: a vanishes after its ttl, not before.
      let b2 = b;
      while ((await registry.get('a')) !== null) {
        assert.ok(performance.now() - started < 2000, 'a expired');
        await sleep(50);
        b2 = { ...b, at: b2.at + 50 };
        await registry.heartbeat(b2);
      }
      assert.ok(performance.now() - started >= TTL_MS, `a expired after ${Math.round(performance.now() - started)} ms`);
      assert.deepEqual((await client.smembers('conf:nodes')).sort(), ['a', 'b'], 'pruned only when read');
      assert.deepEqual(await registry.live(), [b2]);
      assert.deepEqual(await client.smembers('conf:nodes'), ['b']);
      assert.equal(await registry.get('a'), null);
      await registry.remove('b');
      assert.deepEqual(await registry.live(), []);
      assert.deepEqual(await client.smembers('conf:nodes'), []);
    });

    test('a malformed heartbeat (another version, a stray write) is ignored, not thrown', async () => {
      const registry = new RedisNodeRegistry(client);
      await registry.heartbeat(node('ok'));
      await client.set('conf:node:junk', 'not json');
      await client.set('conf:node:partial', JSON.stringify({ id: 'partial' }));
      await client.sadd('conf:nodes', 'junk', 'partial');
      assert.deepEqual(
        (await registry.live()).map((n) => n.id),
        ['ok'],
      );
      assert.equal(await registry.get('junk'), null);
    });
  });

  describe('placement counters', () => {
    test('a burst of 30 new rooms over 3 equal nodes spreads evenly with the counters (and would not without)', async () => {
      const counters = new RedisPlacementCounters(client);
      // Heartbeats a few seconds old: every node still reports 0 rooms during the burst.
      const nodes = [node('a'), node('b'), node('c')];
      const ids = nodes.map((n) => n.id);
      const random = seeded(42);
      const placed = new Map<string, number>();
      for (let i = 0; i < 30; i++) {
        const chosen = chooseNode(nodes, await counters.recent(ids), random)!;
        placed.set(chosen.id, (placed.get(chosen.id) ?? 0) + 1);
        await counters.placed(chosen.id);
      }
      for (const id of ids) assert.ok(Math.abs((placed.get(id) ?? 0) - 10) <= 3, `${id}: ${placed.get(id)} of 30`);
      assert.deepEqual(await counters.recent(ids), placed);
      // Without the counters every tie goes to the lower id: c never gets a room.
      const blind = seeded(42);
      const withoutCounters = Array.from({ length: 30 }, () => chooseNode(nodes, new Map(), blind)!.id);
      assert.equal(withoutCounters.filter((id) => id === 'c').length, 0);
    });

    test('counts decay to 0 windowMs after the last placement', async () => {
      const counters = new RedisPlacementCounters(client, { windowMs: TTL_MS });
      await counters.placed('a');
      await counters.placed('a');
      await sleep(TTL_MS / 2);
      await counters.placed('a'); // extends the window
      await sleep(TTL_MS / 2 + 50);
      assert.deepEqual(
        await counters.recent(['a', 'b']),
        new Map([
          ['a', 3],
          ['b', 0],
        ]),
      );
      await sleep(TTL_MS / 2 + 50);
      assert.deepEqual(
        await counters.recent(['a', 'b']),
        new Map([
          ['a', 0],
          ['b', 0],
        ]),
      );
      assert.deepEqual(await counters.recent([]), new Map());
    });
  });
});
