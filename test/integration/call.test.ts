/**
 * Calls through a real server on a real port, with Twilio-like clients: the webhook flow, then a
 * Media Stream per caller paced in real time. Measures what each caller hears.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { followSource, percentile, rmsDbfs, toneDbfs } from '../../src/audio/analysis.js';
import { FRAME_MS, SAMPLE_RATE_HZ, SAMPLES_PER_FRAME } from '../../src/audio/format.js';
import { dialIn } from '../../src/sim/twimlFollower.js';
import { randomSid, SimulatedStream, type CloseInfo } from '../../src/sim/simulatedStream.js';
import { fromMulaw, tone, toMulaw } from '../helpers/audio.js';
import { readSession, replaySession } from '../helpers/replay.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

interface Caller {
  name: string;
  frequencyHz: number;
  stream: SimulatedStream;
  sent: Int16Array;
}

async function joinRoom(baseUrl: string, room: string, name: string, frequencyHz: number): Promise<Caller> {
  const callSid = randomSid('CA');
  const dial = await dialIn({ baseUrl, callSid, keypresses: [room] });
  assert.equal(dial.kind, 'stream', `${name} connected`);
  if (dial.kind !== 'stream') throw new Error('unreachable');
  assert.equal(dial.parameters.room, room);
  assert.match(dial.parameters.ticket ?? '', /^v1\./, 'the stream carries a join ticket');
  const stream = await SimulatedStream.open({ url: dial.streamUrl, callSid, customParameters: dial.parameters });
  return { name, frequencyHz, stream, sent: new Int16Array(0) };
}

/** Level (dBFS) of `frequencyHz` in what `caller` heard between two times on the shared clock. */
function heardToneDbfs(caller: Caller, frequencyHz: number, fromMs: number, toMs: number): number {
  const heard = fromMulaw(caller.stream.receivedMulaw());
  const first = caller.stream.receivedAtMs.findIndex((t) => t >= fromMs);
  const last = caller.stream.receivedAtMs.findIndex((t) => t >= toMs);
  assert.ok(first >= 0 && last > first, `${caller.name} received frames in the window`);
  return toneDbfs(heard, frequencyHz, SAMPLE_RATE_HZ, first * SAMPLES_PER_FRAME, last * SAMPLES_PER_FRAME);
}

/** The longest silence between two frames the caller received (ms). */
function longestGapMs(caller: Caller): number {
  const t = caller.stream.receivedAtMs;
  let gap = 0;
  for (let i = 1; i < t.length; i++) gap = Math.max(gap, t[i]! - t[i - 1]!);
  return gap;
}

describe('three callers talking at once, a second room beside them, and a misbehaving socket', () => {
  let server: TestServer;
  const roomA: Caller[] = [];
  const roomB: Caller[] = [];
  let window = { fromMs: 0, toMs: 0 };
  let badClose: CloseInfo;
  let toneSentDbfs = 0;
  const durationMs = 2400;

  before(async () => {
    server = await startTestServer();
    roomA.push(
      await joinRoom(server.baseUrl, '1001', 'a1', 450),
      await joinRoom(server.baseUrl, '1001', 'a2', 1050),
      await joinRoom(server.baseUrl, '1001', 'a3', 1650),
    );
    roomB.push(await joinRoom(server.baseUrl, '2002', 'b1', 2250), await joinRoom(server.baseUrl, '2002', 'b2', 2850));
    // A third socket in room A, which will send garbage in the middle of the call.
    const bad = await joinRoom(server.baseUrl, '1001', 'bad', 0);
    const startAtMs = performance.now() + 200;
    const plays = [...roomA, ...roomB].map((c) => {
      c.sent = fromMulaw(toMulaw(tone(c.frequencyHz, -20, durationMs)));
      return c.stream.play(toMulaw(c.sent), startAtMs);
    });
    setTimeout(() => bad.stream.sendRaw('{"event":"media", this is not json'), 1000);
    badClose = await bad.stream.closed;
    await Promise.all(plays);
    await new Promise((r) => setTimeout(r, 100));
    // Steady state: after the mixer has the tones for sure, before they end.
    window = { fromMs: startAtMs + 300, toMs: startAtMs + durationMs - 100 };
    toneSentDbfs = toneDbfs(roomA[0]!.sent, 450, SAMPLE_RATE_HZ, 0, roomA[0]!.sent.length);
    await Promise.all([...roomA, ...roomB].map((c) => c.stream.stop()));
  });
  after(() => server.close());

  test('each caller hears each other caller at 0 dB +/- 1 dB', () => {
    for (const listener of roomA) {
      for (const source of roomA) {
        if (source === listener) continue;
        const level = heardToneDbfs(listener, source.frequencyHz, window.fromMs, window.toMs) - toneSentDbfs;
        assert.ok(Math.abs(level) <= 1, `${listener.name} hears ${source.name} at ${level.toFixed(2)} dB`);
      }
    }
  });

  test('each caller hears its own voice at or below -40 dB relative to what it sent', () => {
    for (const c of [...roomA, ...roomB]) {
      const own = heardToneDbfs(c, c.frequencyHz, window.fromMs, window.toMs) - toneSentDbfs;
      assert.ok(own <= -40, `${c.name} hears itself at ${own.toFixed(1)} dB`);
    }
  });

  test('two rooms never hear each other', () => {
    for (const listener of roomA) {
      for (const other of roomB) {
        const level = heardToneDbfs(listener, other.frequencyHz, window.fromMs, window.toMs) - toneSentDbfs;
        assert.ok(level <= -40, `${listener.name} (room A) hears ${other.name} (room B) at ${level.toFixed(1)} dB`);
      }
    }
    for (const listener of roomB) {
      for (const other of roomA) {
        const level = heardToneDbfs(listener, other.frequencyHz, window.fromMs, window.toMs) - toneSentDbfs;
        assert.ok(level <= -40, `${listener.name} (room B) hears ${other.name} (room A) at ${level.toFixed(1)} dB`);
      }
      const [b1, b2] = roomB;
      const level = heardToneDbfs(b1!, b2!.frequencyHz, window.fromMs, window.toMs) - toneSentDbfs;
      assert.ok(Math.abs(level) <= 1, `b1 hears b2 at ${level.toFixed(2)} dB`);
    }
  });

  test('bad JSON closes only the socket that sent it, with 1007 and one log line', () => {
    assert.equal(badClose.code, 1007);
    const warnings = server.captured.warnings();
    assert.equal(warnings.length, 1, JSON.stringify(warnings));
    assert.match(warnings[0]!.msg, /not a valid Twilio Media Streams message/);
  });

  test('everyone else got a continuous stream: one frame per 20 ms, no gap over 60 ms', () => {
    for (const c of [...roomA, ...roomB]) {
      const t = c.stream.receivedAtMs;
      const spanMs = t.at(-1)! - t[0]!;
      assert.ok(t.length >= Math.floor(spanMs / FRAME_MS) * 0.98, `${c.name}: ${t.length} frames in ${spanMs.toFixed(0)} ms`);
      assert.ok(longestGapMs(c) <= 60, `${c.name}: longest gap ${longestGapMs(c).toFixed(1)} ms`);
    }
  });

  test('the server sent nothing Twilio would reject', () => {
    for (const c of [...roomA, ...roomB]) assert.deepEqual(c.stream.protocolErrors, [], c.name);
  });
});

describe('recorded Twilio sessions replayed in real time', () => {
  test('alice and bob, talking alone and over each other, hear each other at 0 dB and themselves not at all', async () => {
    const server = await startTestServer();
    try {
      const fixtures = join(import.meta.dirname, '..', 'fixtures', 'sessions');
      const names = ['alice', 'bob'];
      const calls = await Promise.all(
        names.map(async (name) => {
          const callSid = randomSid('CA');
          const dial = await dialIn({ baseUrl: server.baseUrl, callSid, keypresses: ['77'] });
          if (dial.kind !== 'stream') throw new Error(`${name} not connected`);
          return { name, callSid, dial };
        }),
      );
      // Bob starts 2 s after alice: alice alone, then both at once, then bob alone.
      const t0 = performance.now() + 300;
      const bobDelayMs = 2000;
      const replays = await Promise.all(
        calls.map((c, i) =>
          replaySession(
            c.dial.streamUrl,
            readSession(join(fixtures, `${c.name}.jsonl`)),
            { callSid: c.callSid, customParameters: c.dial.parameters },
            t0 + i * bobDelayMs,
          ),
        ),
      );
      const [alice, bob] = replays.map((r) => ({
        sent: fromMulaw(r.sentMulaw),
        heard: fromMulaw(r.stream.receivedMulaw()),
        sentAtMs: r.sentAtMs,
        receivedAtMs: r.stream.receivedAtMs,
      }));
      for (const [l, s, listener, source] of [
        ['alice', 'bob', alice!, bob!],
        ['bob', 'alice', bob!, alice!],
      ] as const) {
        // Segment by segment (a loaded machine may slip a frame), around the lag the clocks give.
        const approxLag = Math.round((source.sentAtMs[0]! - listener.receivedAtMs[0]!) / FRAME_MS);
        const segments = followSource(source.sent, listener.heard, approxLag, { segmentFrames: 10, searchFrames: 8 });
        assert.ok(segments.length >= 8, `${l}: ${segments.length} segments of ${s} with speech (alice hangs up 2.3 s into bob)`);
        const clear = segments.filter((m) => m.correlation > 0.98).length / segments.length;
        const level = percentile(
          segments.map((m) => m.levelDb),
          0.5,
        );
        assert.ok(clear >= 0.8, `${l} hears ${s} clearly in ${(clear * 100).toFixed(0)} % of segments`);
        assert.ok(Math.abs(level) <= 1, `${l} hears ${s} at ${level.toFixed(2)} dB`);
        const delays = segments.map(
          (m) => listener.receivedAtMs[m.sourceStart / SAMPLES_PER_FRAME + m.lagFrames]! - source.sentAtMs[m.sourceStart / SAMPLES_PER_FRAME]!,
        );
        assert.ok(percentile(delays, 0.5) <= 60, `${l} hears ${s} ${percentile(delays, 0.5).toFixed(1)} ms after it was sent`);
      }
      // Own voice, where only the listener talks: what it heard then against what it said.
      const own = (who: { sent: Int16Array; heard: Int16Array; sentAtMs: number[]; receivedAtMs: number[] }, fromMs: number, toMs: number) => {
        const heardFrom = who.receivedAtMs.findIndex((t) => t >= fromMs) * SAMPLES_PER_FRAME;
        const heardTo = who.receivedAtMs.findIndex((t) => t >= toMs) * SAMPLES_PER_FRAME;
        const sentFrom = who.sentAtMs.findIndex((t) => t >= fromMs) * SAMPLES_PER_FRAME;
        const sentTo = who.sentAtMs.findIndex((t) => t >= toMs) * SAMPLES_PER_FRAME;
        assert.ok(heardTo > heardFrom && sentTo > sentFrom);
        return rmsDbfs(who.heard, heardFrom, heardTo) - rmsDbfs(who.sent, sentFrom, sentTo);
      };
      const aliceOwn = own(alice!, t0 + 100, t0 + bobDelayMs - 100);
      const bobEndMs = bob!.sentAtMs.at(-1)!;
      const bobOwn = own(bob!, alice!.sentAtMs.at(-1)! + 200, bobEndMs);
      assert.ok(aliceOwn <= -40, `alice hears herself at ${aliceOwn.toFixed(1)} dB`);
      assert.ok(bobOwn <= -40, `bob hears himself at ${bobOwn.toFixed(1)} dB`);
      for (const r of replays) assert.deepEqual(r.stream.protocolErrors, []);
      assert.equal(server.captured.warnings().length, 0, 'the dtmf in the recordings is accepted');
    } finally {
      await server.close();
    }
  });
});
