/**
 * Issue 5, memory: thousands of calls joining and leaving leave the heap where it was. Through
 * the core (MediaSession -> Conference -> Room, fake sockets, a manual clock: 5,000 calls), and
 * through a real server (webhook, ticket, seat, WebSocket: 400 calls). The heap is measured after
 * full garbage collections (gc exposed at run time with v8.setFlagsFromString).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { SAMPLES_PER_FRAME } from '../../src/audio/format.js';
import { Conference } from '../../src/conference/conference.js';
import { silentLogger } from '../../src/log.js';
import { MediaSession, roomParameterAuthorizer, type MediaSocket } from '../../src/media/session.js';
import { ManualClock } from '../../src/timing/clock.js';
import { noise, toMulaw } from '../helpers/audio.js';
import { join, sleep } from '../helpers/calls.js';
import { startTestServer } from '../helpers/server.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** Heap in use after full collections, with pauses for finalizers and timers between them. */
async function settledHeapBytes(): Promise<number> {
  for (let i = 0; i < 4; i++) {
    gc();
    await sleep(20);
  }
  return process.memoryUsage().heapUsed;
}

const MB = 1024 * 1024;

class NullSocket implements MediaSocket {
  bufferedAmount = 0;
  closed = false;
  send(): void {}
  close(): void {
    this.closed = true;
  }
}

describe('memory returns to the baseline after calls end', () => {
  test('core: 5,000 calls through sessions, 20 rooms, 25 frames each', async () => {
    const conference = new Conference({ echoWhenAlone: false });
    const clock = new ManualClock(0);
    const log = silentLogger();
    const frame = Buffer.from(toMulaw(noise(SAMPLES_PER_FRAME, 3000, 7))).toString('base64');
    let n = 0;
    const calls = (count: number) => {
      for (let batch = 0; batch < count / 50; batch++) {
        const live = Array.from({ length: 50 }, (_, i) => {
          const id = String(++n).padStart(8, '0');
          const session = new MediaSession(new NullSocket(), {
            conference,
            clock,
            log,
            authorizeStart: roomParameterAuthorizer(10),
            startTimeoutMs: 60_000,
            maxBufferedBytes: 16_000,
            maxPayloadBytes: 3200,
          });
          session.handleText(
            JSON.stringify({
              event: 'start',
              sequenceNumber: '1',
              streamSid: `MZ${id}`,
              start: {
                accountSid: 'AC1',
                streamSid: `MZ${id}`,
                callSid: `CA${id}`,
                tracks: ['inbound'],
                mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 },
                customParameters: { room: String(1000 + (i % 20)) },
              },
            }),
          );
          return { session, id };
        });
        for (let f = 0; f < 25; f++) {
          for (const { session, id } of live)
            session.handleText(
              JSON.stringify({
                event: 'media',
                sequenceNumber: String(f + 2),
                streamSid: `MZ${id}`,
                media: { track: 'inbound', chunk: String(f + 1), timestamp: String(155 + f * 20), payload: frame },
              }),
            );
          clock.advance(20);
          conference.tick(clock.nowMs());
        }
        for (const { session, id } of live)
          session.handleText(JSON.stringify({ event: 'stop', sequenceNumber: '99', streamSid: `MZ${id}`, stop: { accountSid: 'AC1', callSid: `CA${id}` } }));
      }
    };
    calls(500); // warm-up: code compiled, pools and caches at their working size
    const baseline = await settledHeapBytes();
    calls(5000);
    const after = await settledHeapBytes();
    const growth = after - baseline;
    console.log(
      `# measured: core churn of 5,000 calls: heap ${(baseline / MB).toFixed(1)} MB before, ${(after / MB).toFixed(1)} MB after (${(growth / MB).toFixed(2)} MB)`,
    );
    assert.equal(conference.stats().participants, 0);
    assert.equal(conference.stats().rooms, 0);
    // A leak of even 1 KB per call would be 5 MB.
    assert.ok(growth < 2 * MB, `heap grew ${(growth / MB).toFixed(2)} MB`);
  });

  test('real server: 400 calls (webhook, ticket, seat, WebSocket, a few frames, stop)', { timeout: 60_000 }, async () => {
    const t = await startTestServer({ HEARTBEAT_INTERVAL_MS: '1000' });
    try {
      const audio = toMulaw(noise(SAMPLES_PER_FRAME * 5, 3000, 3));
      const call = async (room: string) => {
        const c = await join(t.baseUrl, [room]);
        for (let f = 0; f < 5; f++) c.stream.sendMedia(audio.subarray(f * SAMPLES_PER_FRAME, (f + 1) * SAMPLES_PER_FRAME));
        await sleep(40);
        await c.stream.stop();
      };
      const wave = async (count: number) => {
        for (let i = 0; i < count; i += 20) await Promise.all(Array.from({ length: 20 }, (_, k) => call(String(3000 + (k % 5)))));
      };
      await wave(100);
      await sleep(200);
      // The test's log capture keeps every line it is given: empty it, so only the server is measured.
      t.captured.lines.length = 0;
      const baseline = await settledHeapBytes();
      const started = performance.now();
      await wave(400);
      await sleep(200);
      const logLines = t.captured.lines.length;
      t.captured.lines.length = 0;
      const after = await settledHeapBytes();
      const growth = after - baseline;
      console.log(
        `# measured: 400 real calls in ${((performance.now() - started) / 1000).toFixed(1)} s: heap ${(baseline / MB).toFixed(1)} MB before, ${(after / MB).toFixed(1)} MB after (${(growth / MB).toFixed(2)} MB; ${logLines} log lines, dropped before measuring)`,
      );
      assert.equal(t.server.conference.stats().participants, 0);
      assert.equal(t.server.conference.stats().rooms, 0);
      // What remains (a heap snapshot diff of 800 more calls): JIT-compiled code, and the used
      // join-ticket nonces, remembered until their expiry (JOIN_TICKET_TTL_SECONDS) to refuse a
      // replay: ~150 bytes a call, swept after 30 s. No session, room, participant or socket.
      assert.ok(growth < 4 * MB, `heap grew ${(growth / MB).toFixed(2)} MB`);
    } finally {
      await t.close();
    }
  });
});
