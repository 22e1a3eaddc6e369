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
import { heardToneDbfs, sentToneDbfs, sleep, toneMulaw, until } from '../helpers/calls.js';
import { freePort, startTestServer, type TestServer } from '../helpers/server.js';

const SECRET = 'cluster-rejoin-test-secret-0123456789abc';
const ADMIN = 'cluster-rejoin-test-admin-0123456789abcd';
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
  let node3: TestServer | undefined;
  const streams: SimulatedStream[] = [];
  /** A's stream on node 2 once the first test has moved the room there. */
  let aOnNode2: SimulatedStream | undefined;
  /** A node on a port chosen here, so its heartbeat's internal URL is where the others forward a room's requests. */
  const nodeEnv = async (id: string) => {
    const port = String(await freePort());
    return {
      REDIS_URL: redis.url,
      NODE_ID: id,
      JOIN_TICKET_SECRET: SECRET,
      LEASE_TTL_MS: '1000',
      ADMIN_TOKEN: ADMIN,
      PORT: port,
      NODE_INTERNAL_URL: `http://127.0.0.1:${port}`,
    };
  };

  before(async () => {
    redis = await startRedisServer();
    client = connectRedis(redis.url);
    node1 = await startTestServer(await nodeEnv('n1'));
  });
  after(async () => {
    await Promise.all(streams.map((s) => s.stop().catch(() => {})));
    await node1.close();
    await node2?.close();
    await node3?.close();
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

    node2 = await startTestServer(await nodeEnv('n2'));
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
    aOnNode2 = a2;
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

  test("a program's ticket and a rooms file import asked of a node that does not mix the room reach the room on its node", { timeout: 20_000 }, async () => {
    assert.ok(node2 && aOnNode2, 'room 801 is open on node 2 (the test before)');
    const owner = node2;
    const a2 = aOnNode2;
    node3 = await startTestServer(await nodeEnv('n3'));
    const api = async (method: string, path: string, body?: unknown) => {
      const res = await fetch(node3!.baseUrl + path, {
        method,
        headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return { status: res.status, body: (await res.json()) as Record<string, any> };
    };

    // The ticket, from node 3: forwarded to node 2, whose URL it carries; the program talks, A hears it.
    const ticket = await api('POST', '/api/rooms/801/programs', { label: 'announcer', role: 'talker', format: 'mulaw' });
    assert.equal(ticket.status, 201, JSON.stringify(ticket.body));
    assert.equal(new URL(ticket.body['url']).port, new URL(owner.baseUrl).port, `the ticket's URL is the owner's: ${ticket.body['url']}`);
    const program = await SimulatedStream.open({
      url: ticket.body['url'],
      callSid: ticket.body['callSid'],
      customParameters: { ticket: ticket.body['ticket'] },
    });
    streams.push(program);
    await until(() => owner.server.conference.room('801')?.size === 3, 'the program in room 801 on node 2', 3000);
    assert.equal(node3.server.conference.room('801'), undefined, 'node 3 mixes nothing');
    const startMs = performance.now() + 40;
    await program.play(toneMulaw(1200, -20, 1200), startMs);
    await sleep(120);
    const heard = heardToneDbfs(a2, 1200, startMs + 200, startMs + 1100) - sentToneDbfs(1200, -20);
    assert.ok(Math.abs(heard) <= 1, `A hears the program at 0 dB: ${heard.toFixed(2)} dB`);

    // A rooms file through node 3: the room open on node 2 takes its sound settings within a heartbeat.
    const before = await api('GET', '/api/rooms/801');
    assert.deepEqual(before.body['soundInForce'], { backgroundGate: true, noiseSuppression: false }, 'the server defaults before');
    const imported = await api('POST', '/api/rooms-file/import', {
      rooms: [{ number: '801', label: 'Imported', backgroundGate: false, noiseSuppression: true }],
    });
    assert.equal(imported.status, 200, JSON.stringify(imported.body));
    assert.deepEqual(imported.body['created'], ['801']);
    const importedAt = performance.now();
    await until(() => owner.server.conference.room('801')?.audio.noiseSuppression === true, 'noise suppression on in the room open on node 2', 3000);
    const appliedMs = performance.now() - importedAt;
    assert.equal(owner.server.conference.room('801')?.audio.backgroundGate, false);
    const after = await api('GET', '/api/rooms/801');
    assert.equal(after.body['label'], 'Imported');
    assert.deepEqual(after.body['soundInForce'], { backgroundGate: false, noiseSuppression: true }, 'node 2 answers (forwarded): the settings in force');
    assert.equal(after.body['participants'].length, 3);
    console.log(
      `# measured: a program admitted through node 3 heard on node 2 at ${heard.toFixed(2)} dB; a rooms file imported through node 3 in force on node 2 after ${appliedMs.toFixed(0)} ms`,
    );
  });
});
