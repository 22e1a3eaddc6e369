/**
 * Coaching kept across a rejoin and a restart (src/rooms/coachingRejoins.ts): what a leaving call
 * says about its coaching (Conference's participantLeft), and the pair restored when both calls
 * are back, whichever first. Driven by hand with tones and a manual clock; levels measured in dB.
 * The same across two real processes: test/integration/restart.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { toneDbfs } from '../../src/audio/analysis.js';
import { SAMPLES_PER_FRAME } from '../../src/audio/format.js';
import { MULAW_DECODE } from '../../src/audio/mulaw.js';
import { Conference, type LeftCoaching } from '../../src/conference/conference.js';
import type { OutboundFrame } from '../../src/conference/outboundFrame.js';
import type { CallState, LeaveReason, ParticipantTransport } from '../../src/conference/participant.js';
import { silentLogger } from '../../src/log.js';
import { CoachingRejoins } from '../../src/rooms/coachingRejoins.js';
import { ManualClock } from '../../src/timing/clock.js';
import { tone, toMulaw } from '../helpers/audio.js';

class Ear implements ParticipantTransport {
  heard: number[] = [];
  sendFrame(frame: OutboundFrame): void {
    for (const b of frame.mulaw) this.heard.push(MULAW_DECODE[b]!);
  }
  end(_reason: LeaveReason): void {}
  level(frequencyHz: number, ms = 400): number {
    const n = (ms / 1000) * 8000;
    return toneDbfs(this.heard, frequencyHz, 8000, this.heard.length - n, this.heard.length);
  }
}

const HZ: Record<string, number> = { CAa: 500, CAb: 700, CAc: 1100 };
const PEAK_DBFS = -20;
/** A sine's level as toneDbfs reads it: peak - 3 dB. */
const SENT_DBFS = PEAK_DBFS - 3.01;
const TTL_MS = 120_000;
const plain: CallState = { muted: false, onHold: false, listenVolumeDb: 0 };

/** A room of A, B and coach C (coaching A), the leaves recorded, and rejoins as the core makes them. */
function setup() {
  const conference = new Conference({ echoWhenAlone: false, audio: { backgroundGate: false } });
  const clock = new ManualClock(1_000_000);
  const rejoins = new CoachingRejoins({ conference, clock, log: silentLogger(), ttlMs: TTL_MS });
  const ears = new Map<string, Ear>();
  const left = new Map<string, LeftCoaching>();
  // As the core keeps it: read as the call leaves (its coaches' mute before the leave mutes them).
  const kept = new Map<string, CallState>();
  conference.on('participantLeft', (p, _room, _reason, coaching) => {
    left.set(p.callSid, coaching);
    const coaches = coaching.coaches.map((c) => ({ callSid: c.callSid, muted: c.muted }));
    kept.set(p.callSid, { ...plain, ...(coaching.coached ? { coaching: coaching.coached } : {}), ...(coaches.length ? { coaches } : {}) });
  });
  const join = (sid: string, state?: CallState) => {
    const ear = new Ear();
    ears.set(sid, ear);
    conference.join('1', sid, ear, 0, state ? { rejoined: true, state } : {});
  };
  for (const sid of ['CAa', 'CAb', 'CAc']) join(sid);
  assert.equal(conference.setCoaching('CAc', 'CAa'), null);
  let nowMs = 0;
  let at = 0;
  const signals = Object.fromEntries(Object.entries(HZ).map(([sid, hz]) => [sid, tone(hz, PEAK_DBFS, 4000)]));
  const run = (ms: number) => {
    for (let t = 0; t < ms / 20; t++) {
      for (const sid of Object.keys(HZ)) {
        const pcm = signals[sid]!.subarray(at % 16_000, (at % 16_000) + SAMPLES_PER_FRAME);
        conference.participant(sid)?.input.pushMulaw(toMulaw(pcm), nowMs);
      }
      at += SAMPLES_PER_FRAME;
      nowMs += 20;
      conference.tick(nowMs);
    }
  };
  const keptState = (sid: string): CallState => kept.get(sid)!;
  /** The coached A hears the coach; B does not; the coach is coaching. */
  const assertCoaching = (what: string) => {
    run(600);
    const c = conference.participant('CAc')!;
    assert.equal(c.coaching, 'CAa', `${what}: C coaches A`);
    assert.equal(c.muted, false, `${what}: C unmuted again`);
    const heard = ears.get('CAa')!.level(HZ.CAc!);
    assert.ok(Math.abs(heard - SENT_DBFS) <= 1, `${what}: A hears the coach at ${heard.toFixed(1)} dBFS`);
    const notHeard = ears.get('CAb')!.level(HZ.CAc!) - heard;
    assert.ok(notHeard <= -40, `${what}: B does not hear the coach (${notHeard.toFixed(1)} dB relative)`);
    assert.equal(rejoins.size, 0, `${what}: nothing left waiting`);
  };
  return { conference, clock, rejoins, ears, left, join, run, keptState, assertCoaching };
}

describe('coaching kept across a rejoin and a restart', () => {
  for (const order of [
    ['CAc', 'CAa', 'CAb'],
    ['CAa', 'CAb', 'CAc'],
  ]) {
    test(`a restart (the room closed, every call kept): back in the order ${order.join(', ')}, the coaching is restored`, () => {
      const s = setup();
      s.run(200);
      s.conference.close('shutdown');
      assert.deepEqual({ ...s.left.get('CAc') }, { coached: 'CAa', coaches: [] }, 'the coach keeps whom it coached');
      const kept = new Map(['CAa', 'CAb', 'CAc'].map((sid) => [sid, s.keptState(sid)]));
      for (const sid of order) {
        s.join(sid, kept.get(sid));
        if (sid === 'CAc' && order[0] === 'CAc') {
          assert.equal(s.conference.participant('CAc')!.muted, true, 'the coach back first is muted: the room does not hear the whisper');
        }
      }
      s.assertCoaching(order.join(', '));
    });
  }

  test("the coached call's stream breaks, the coach stays (muted): back, the coaching and the coach's mute as before", () => {
    const s = setup();
    s.run(200);
    s.conference.leave(s.conference.participant('CAa')!, 'socket-closed');
    assert.deepEqual(
      s.left.get('CAa')!.coaches.map((c) => c.callSid),
      ['CAc'],
    );
    assert.equal(s.conference.participant('CAc')!.muted, true, 'the API mutes a coach whose caller left');
    s.join('CAa', s.keptState('CAa'));
    s.assertCoaching('A back');
  });

  test("the coach's stream breaks: back, it coaches again", () => {
    const s = setup();
    s.conference.leave(s.conference.participant('CAc')!, 'socket-closed');
    s.join('CAc', s.keptState('CAc'));
    s.assertCoaching('C back');
  });

  test('a coached call that never comes back: after the TTL the coach stays a plain, muted participant', () => {
    const s = setup();
    s.conference.close('shutdown');
    const kept = s.keptState('CAc');
    s.join('CAb', plain);
    s.join('CAc', kept);
    assert.equal(s.rejoins.size, 1, 'the coach waits for A');
    s.clock.advance(TTL_MS + 1);
    s.join('CAa', plain); // past the TTL its kept state is gone too: A calls again, afresh
    const c = s.conference.participant('CAc')!;
    assert.equal(s.rejoins.size, 0, 'forgotten');
    assert.equal(c.coaching, null);
    assert.equal(c.muted, true);
  });
});
