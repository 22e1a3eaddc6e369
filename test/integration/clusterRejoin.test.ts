/**
 * Issue 16: in a cluster, what a call had (seat, mute, hold, volume, role) follows it to the node it
 * rejoins on. Two nodes in this process on a real redis-server: a call admitted on node 1 mutes
 * itself with *6 (the shared copy in Redis has it at once: a node that dies without a leave still
 * left it there); node 1 shuts down, Twilio asks node 2 what next, and node 2 takes the call back
 * into the room muted, at its seat, without the seat announcement.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connectRedis, close as closeRedis, type Redis } from '../../src/cluster/redisClient.js';
import { dialIn } from '../../src/sim/twimlFollower.js';
import { SimulatedStream } from '../../src/sim/simulatedStream.js';
import { redisServerSkipReason, startRedisServer, type RedisServerHandle } from '../../tools/cluster/redisServer.js';
import { heardToneDbfs, sentToneDbfs, toneMulaw, until } from '../helpers/calls.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const SECRET = 'cluster-rejoin-test-secret-0123456789abc';
/** The action's path and query: the proxy would send it to a live node. */
const pathOf = (url: string) => {
  const u = new URL(url);
  return u.pathname + u.search;
};

describe('a call rejoining on another node keeps what it had', { skip: redisServerSkipReason() ?? false }, () => {
  let redis: RedisServerHandle;
  let client: Redis;
  let node1: TestServer;
  let node2: TestServer | undefined;
  const streams: SimulatedStream[] = [];

  before(async () => {
    redis = await startRedisServer();
    client = connectRedis(redis.url);
    node1 = await startTestServer({ REDIS_URL: redis.url, NODE_ID: 'n1', JOIN_TICKET_SECRET: SECRET, LEASE_TTL_MS: '1000' });
  });
  after(async () => {
    await Promise.all(streams.map((s) => s.stop().catch(() => {})));
    await node1.close();
    await node2?.close();
    await closeRedis(client);
    await redis.stop();
  });

  test('node 1 shuts down: node 2 takes the call back muted, at its seat, with no seat announcement, coaching as before', { timeout: 30_000 }, async () => {
    // Two callers on node 1 (the only node yet): B (660 Hz) mutes itself.
    const open = async (base: string, callSid: string, voicePath: string) => {
      const dial = await dialIn({ baseUrl: base, callSid, voicePath });
      assert.equal(dial.kind, 'stream', JSON.stringify(dial));
      if (dial.kind !== 'stream') throw new Error('not connected');
      const stream = await SimulatedStream.open({ url: dial.streamUrl, callSid, customParameters: dial.parameters });
      streams.push(stream);
      return { dial, stream, callSid };
    };
    const a = await open(node1.baseUrl, 'CA0000000000000000000000000000a001', '/voice?room=801');
    const b = await open(node1.baseUrl, 'CA0000000000000000000000000000b002', '/voice?room=801');
    await until(() => node1.server.conference.room('801')?.size === 2, 'both in room 801 on node 1');
    b.stream.sendDtmf('*');
    b.stream.sendDtmf('6');
    await until(() => node1.server.conference.participant(b.callSid)?.muted === true, 'B muted by *6');
    // The shared copy has it now, before any leave.
    let shared: { state?: { muted?: boolean } } = {};
    for (let i = 0; i < 100 && shared.state?.muted !== true; i++) {
      shared = JSON.parse((await client.get(`conf:kept:${b.callSid}`)) ?? '{}');
      if (shared.state?.muted !== true) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.equal(shared.state?.muted, true, 'the mute is in Redis while the call is live');
    // *7: the listening volume 3 dB down, shared too.
    b.stream.sendDtmf('*');
    b.stream.sendDtmf('7');
    await until(() => node1.server.conference.participant(b.callSid)?.listenVolumeDb === -3, 'B at -3 dB');
    let volume: { state?: { listenVolumeDb?: number } } = {};
    for (let i = 0; i < 100 && volume.state?.listenVolumeDb !== -3; i++) {
      volume = JSON.parse((await client.get(`conf:kept:${b.callSid}`)) ?? '{}');
      if (volume.state?.listenVolumeDb !== -3) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.equal(volume.state?.listenVolumeDb, -3, 'the volume is in Redis while the call is live');
    // B coaches A (the API's setCoaching): shared as it changes, restored on node 2 once both are back.
    assert.equal(node1.server.conference.setCoaching(b.callSid, a.callSid), null);
    let coaching: { state?: { coaching?: string } } = {};
    for (let i = 0; i < 100 && coaching.state?.coaching !== a.callSid; i++) {
      coaching = JSON.parse((await client.get(`conf:kept:${b.callSid}`)) ?? '{}');
      if (coaching.state?.coaching !== a.callSid) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.equal(coaching.state?.coaching, a.callSid, 'the coaching is in Redis while the call is live');

    node2 = await startTestServer({ REDIS_URL: redis.url, NODE_ID: 'n2', JOIN_TICKET_SECRET: SECRET, LEASE_TTL_MS: '1000' });
    const closing = node1.close();
    await Promise.all([a.stream.closed, b.stream.closed]);
    await closing;
    // Twilio asks the <Connect action> (the proxy sends it to the live node): B is back on node 2.
    const next = await dialIn({ baseUrl: node2.baseUrl, callSid: b.callSid, voicePath: pathOf(b.dial.action!) });
    assert.equal(next.kind, 'stream', JSON.stringify(next));
    if (next.kind !== 'stream') return;
    assert.deepEqual(next.said, [], 'no seat announcement');
    const b2 = await SimulatedStream.open({ url: next.streamUrl, callSid: b.callSid, customParameters: next.parameters });
    streams.push(b2);
    const aNext = await dialIn({ baseUrl: node2.baseUrl, callSid: a.callSid, voicePath: pathOf(a.dial.action!) });
    assert.equal(aNext.kind, 'stream');
    if (aNext.kind !== 'stream') return;
    const a2 = await SimulatedStream.open({ url: aNext.streamUrl, callSid: a.callSid, customParameters: aNext.parameters });
    streams.push(a2);
    await until(() => node2!.server.conference.room('801')?.size === 2, 'both back in room 801 on node 2', 5000);
    const pb = node2.server.conference.participant(b.callSid)!;
    assert.equal(pb.muted, true, 'B is still muted on node 2');
    assert.equal(pb.listenVolumeDb, -3, 'B is still at -3 dB on node 2');
    assert.equal(pb.coaching, a.callSid, 'B coaches A again on node 2 (B was back first)');
    assert.equal(pb.hardMuted, false, "B's own mute, as it was: its *6 can undo it");
    assert.equal(pb.info.seat, 2, 'B keeps seat 2');
    assert.equal(node2.server.conference.participant(a.callSid)?.info.seat, 1, 'A keeps seat 1');

    // The audio on node 2: A does not hear the muted B; B hears A.
    const startMs = performance.now() + 40;
    void a2.play(toneMulaw(440, -20, 1500), startMs);
    void b2.play(toneMulaw(660, -20, 1500), startMs);
    await new Promise((resolve) => setTimeout(resolve, 1700));
    const bInA = heardToneDbfs(a2, 660, startMs + 200, startMs + 1400);
    const aInB = heardToneDbfs(b2, 440, startMs + 200, startMs + 1400) - sentToneDbfs(440, -20);
    assert.ok(bInA < -60, `A does not hear the muted B on node 2 (${bInA.toFixed(1)} dBFS)`);
    assert.ok(Math.abs(aInB + 3) <= 1, `B hears A 3 dB down (its volume): ${aInB.toFixed(2)} dB`);
  });
});
