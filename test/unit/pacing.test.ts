/**
 * Outbound pacing against a model of Twilio's playout queue, on a manual clock: one frame per tick,
 * marks measure what is queued, a stall's backlog is dropped with `clear` (issue #4).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Conference } from '../../src/conference/conference.js';
import { LEAD_MARK_PREFIX, MediaSession, roomParameterAuthorizer, type MediaSocket } from '../../src/media/session.js';
import { ManualClock } from '../../src/timing/clock.js';
import { createLogger, silentLogger } from '../../src/log.js';

const STREAM = 'MZ00000000000000000000000000000009';

/** Twilio as the server sees it: a network that can stall, and a queue played at real time. */
class TwilioModel implements MediaSocket {
  session!: MediaSession;
  private queue: Array<{ mark?: string }> = [];
  private held: string[] = [];
  stalled = false;
  bufferedAmount = 0;
  clearsSeen = 0;
  playing = false;

  send(text: string): void {
    if (this.stalled) {
      this.held.push(text);
      this.bufferedAmount += text.length;
    } else this.deliver(text);
  }
  close(): void {}

  release(): void {
    this.stalled = false;
    for (const text of this.held) this.deliver(text);
    this.held = [];
    this.bufferedAmount = 0;
  }

  /** Audio queued and not yet played (ms). */
  get queuedMs(): number {
    return this.queue.filter((e) => e.mark === undefined).length * 20;
  }

  /** 20 ms of playout: one frame, and every mark it reaches. */
  play(): void {
    this.echoMarksAtHead();
    if (this.queue.length > 0) this.queue.shift();
    this.echoMarksAtHead();
  }

  private deliver(text: string): void {
    const m = JSON.parse(text);
    assert.equal(m.streamSid, STREAM);
    if (m.event === 'media') this.queue.push({});
    else if (m.event === 'mark') {
      if (this.queue.length === 0) this.echo(m.mark.name);
      else this.queue.push({ mark: m.mark.name });
    } else if (m.event === 'clear') {
      this.clearsSeen++;
      const marks = this.queue.filter((e) => e.mark !== undefined);
      this.queue = [];
      for (const e of marks) this.echo(e.mark!);
    } else assert.fail(`unexpected ${m.event}`);
  }

  private echoMarksAtHead(): void {
    while (this.queue[0]?.mark !== undefined) this.echo(this.queue.shift()!.mark!);
  }

  private echo(name: string): void {
    this.session.handleText(JSON.stringify({ event: 'mark', sequenceNumber: '1', streamSid: STREAM, mark: { name } }));
  }
}

function setup() {
  const conference = new Conference({ echoWhenAlone: false });
  const clock = new ManualClock(0);
  const twilio = new TwilioModel();
  const session = new MediaSession(twilio, {
    conference,
    clock,
    log: process.env.DEBUG_PACING ? createLogger('info') : silentLogger(),
    authorizeStart: roomParameterAuthorizer(10),
    startTimeoutMs: 10_000,
    maxBufferedBytes: 50 * 330,
    maxPayloadBytes: 3200,
  });
  twilio.session = session;
  session.handleText(
    JSON.stringify({
      event: 'start',
      sequenceNumber: '1',
      start: {
        accountSid: 'AC1',
        streamSid: STREAM,
        callSid: 'CA1',
        tracks: ['inbound'],
        mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 },
        customParameters: { room: '1' },
      },
      streamSid: STREAM,
    }),
  );
  let tick = 0;
  const run = (ticks: number, each?: (t: number) => void) => {
    for (let i = 0; i < ticks; i++, tick++) {
      each?.(tick);
      clock.advance(20);
      conference.tick(clock.nowMs());
      twilio.play();
    }
  };
  return { session, twilio, run };
}

describe('outbound pacing', () => {
  test('over a 10-minute call the queue at Twilio stays within a frame, and marks measure it', () => {
    const { session, twilio, run } = setup();
    let maxQueued = 0;
    run(30_000, () => (maxQueued = Math.max(maxQueued, twilio.queuedMs)));
    assert.equal(session.stats.framesSent, 30_000, 'exactly one frame per tick');
    assert.ok(maxQueued <= 20, `Twilio never held more than ${maxQueued} ms`);
    assert.ok(session.stats.marksEchoed >= 1190, `${session.stats.marksEchoed} marks came back`);
    assert.ok(session.stats.maxLeadMs <= 20, `lead measured up to ${session.stats.maxLeadMs} ms`);
    assert.equal(session.stats.clears, 0);
  });

  test('a 2 s stall: the backlog is cleared and the delay returns to normal within a second', () => {
    const { session, twilio, run } = setup();
    run(500);
    twilio.stalled = true;
    run(100); // 2 s with the network stalled: the session buffers ~1 s, then drops
    assert.ok(session.stats.framesDroppedSlowSocket >= 40, `${session.stats.framesDroppedSlowSocket} frames dropped while stalled`);
    twilio.release();
    const backlog = twilio.queuedMs;
    assert.ok(backlog >= 800, `the backlog reached Twilio at once: ${backlog} ms`);
    let recoveredAfter = -1;
    run(100, (t) => {
      if (recoveredAfter < 0 && twilio.queuedMs <= 20 && twilio.clearsSeen > 0) recoveredAfter = t - 600;
    });
    assert.equal(session.stats.clears, 1, 'one clear');
    assert.ok(recoveredAfter >= 0 && recoveredAfter <= 50, `back to normal ${recoveredAfter * 20} ms after the stall`);
    let maxQueued = 0;
    run(1000, () => (maxQueued = Math.max(maxQueued, twilio.queuedMs)));
    assert.ok(maxQueued <= 20, `and stays there: ${maxQueued} ms`);
    assert.ok(session.stats.leadMs <= 20);
  });

  test("marks that are not the session's own are ignored", () => {
    const { session, run } = setup();
    run(10);
    session.handleText(JSON.stringify({ event: 'mark', sequenceNumber: '1', streamSid: STREAM, mark: { name: 'someone-else' } }));
    session.handleText(JSON.stringify({ event: 'mark', sequenceNumber: '1', streamSid: STREAM, mark: { name: `${LEAD_MARK_PREFIX}999999` } }));
    assert.equal(session.stats.marksEchoed, 0);
  });
});
