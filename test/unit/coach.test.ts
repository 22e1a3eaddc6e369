/**
 * Issue 17: a coach whispers (only the coached caller hears it), a held caller hears the room's hold
 * music, and a played cue reports its end. Driven by hand with tones; levels measured in dB.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { toneDbfs } from '../../src/audio/analysis.js';
import { SAMPLES_PER_FRAME } from '../../src/audio/format.js';
import { MULAW_DECODE } from '../../src/audio/mulaw.js';
import { Conference } from '../../src/conference/conference.js';
import type { OutboundFrame } from '../../src/conference/outboundFrame.js';
import type { LeaveReason, ParticipantTransport } from '../../src/conference/participant.js';
import { tone, toMulaw } from '../helpers/audio.js';

class Ear implements ParticipantTransport {
  heard: number[] = [];
  objects: OutboundFrame[] = [];
  sendFrame(frame: OutboundFrame): void {
    for (const b of frame.mulaw) this.heard.push(MULAW_DECODE[b]!);
    this.objects.push(frame);
  }
  end(_reason: LeaveReason): void {}
  /** The level of `frequencyHz` over the last `ms` heard (dBFS). */
  level(frequencyHz: number, ms = 400): number {
    const n = (ms / 1000) * 8000;
    return toneDbfs(this.heard, frequencyHz, 8000, this.heard.length - n, this.heard.length);
  }
}

const A_HZ = 500;
const B_HZ = 700;
const C_HZ = 1100;
const PEAK_DBFS = -20;
/** A sine's level as toneDbfs reads it: peak - 3 dB. */
const SENT_DBFS = PEAK_DBFS - 3.01;

function room() {
  // A music room: steady tones are never taken for background.
  const conference = new Conference({ echoWhenAlone: false, audio: { backgroundGate: false } });
  const ears = new Map<string, Ear>();
  const join = (sid: string) => {
    const ear = new Ear();
    ears.set(sid, ear);
    conference.join('1', sid, ear);
    return ear;
  };
  const a = join('CAa');
  const b = join('CAb');
  const c = join('CAc');
  const signals: Record<string, Int16Array> = { CAa: tone(A_HZ, PEAK_DBFS, 4000), CAb: tone(B_HZ, PEAK_DBFS, 4000), CAc: tone(C_HZ, PEAK_DBFS, 4000) };
  let nowMs = 0;
  let at = 0;
  const run = (ms: number, talkers = ['CAa', 'CAb', 'CAc']) => {
    for (let t = 0; t < ms / 20; t++) {
      for (const sid of talkers) {
        const pcm = signals[sid]!.subarray(at % 16_000, (at % 16_000) + SAMPLES_PER_FRAME);
        conference.participant(sid)!.input.pushMulaw(toMulaw(pcm), nowMs);
      }
      at += SAMPLES_PER_FRAME;
      nowMs += 20;
      conference.tick(nowMs);
    }
  };
  return { conference, a, b, c, run };
}

const near = (actual: number, expected: number, tolerance: number, what: string) =>
  assert.ok(Math.abs(actual - expected) <= tolerance, `${what}: ${actual.toFixed(2)} dB, expected ${expected.toFixed(2)} +/- ${tolerance}`);

describe('coaching: a whisper only the coached caller hears', () => {
  test('A hears C at 0 +/- 1 dB, B hears C at <= -60 dB, C hears A and B at 0 +/- 1 dB', () => {
    const { conference, a, b, c, run } = room();
    const events: string[] = [];
    conference.on('participantCoaching', (p, coached) => events.push(`${p.callSid}->${coached}`));
    assert.equal(conference.setCoaching('CAc', 'CAa'), null);
    run(600);
    near(a.level(C_HZ), SENT_DBFS, 1, 'A hears the coach');
    near(a.level(B_HZ), SENT_DBFS, 1, 'A hears B');
    assert.ok(a.level(A_HZ) <= -60, `A does not hear itself: ${a.level(A_HZ).toFixed(1)} dB`);
    assert.ok(b.level(C_HZ) <= -60, `B does not hear the coach: ${b.level(C_HZ).toFixed(1)} dB`);
    near(b.level(A_HZ), SENT_DBFS, 1, 'B hears A');
    near(c.level(A_HZ), SENT_DBFS, 1, 'the coach hears A');
    near(c.level(B_HZ), SENT_DBFS, 1, 'the coach hears B');
    assert.ok(c.level(C_HZ) <= -60, `the coach does not hear itself: ${c.level(C_HZ).toFixed(1)} dB`);
    // A and B take their own out (mix-minus); the coach's mix is the room's shared one: no extra work.
    assert.equal(conference.room('1')!.lastTick.personalMixes, 2);

    // Ended: the whole room hears C again.
    assert.equal(conference.setCoaching('CAc', null), null);
    run(600);
    near(b.level(C_HZ), SENT_DBFS, 1, 'B hears C once coaching ends');
    assert.deepEqual(events, ['CAc->CAa', 'CAc->null']);
  });

  test('refusals: oneself, a caller not in the room, chains; nothing changes', () => {
    const { conference } = room();
    conference.join('2', 'CAelsewhere', new Ear());
    assert.equal(conference.setCoaching('CAc', 'CAc'), 'self');
    assert.equal(conference.setCoaching('CAc', 'CAelsewhere'), 'no-coached');
    assert.equal(conference.setCoaching('CAnobody', 'CAa'), 'no-coach');
    assert.equal(conference.setCoaching('CAc', 'CAa'), null);
    assert.equal(conference.setCoaching('CAa', 'CAb'), 'chain', 'a coached caller does not coach');
    assert.equal(conference.setCoaching('CAb', 'CAc'), 'chain', 'a coach is not coached');
    assert.equal(conference.participant('CAa')!.coachedBy, 1);
  });

  test('the coached caller leaves: the coach is muted, not suddenly heard by the room', () => {
    const { conference, b, run } = room();
    conference.setCoaching('CAc', 'CAa');
    run(200);
    conference.leave(conference.participant('CAa')!, 'hangup');
    run(600, ['CAb', 'CAc']);
    assert.equal(conference.participant('CAc')!.coaching, null);
    assert.equal(conference.participant('CAc')!.muted, true);
    assert.ok(b.level(C_HZ) <= -60, `B still does not hear C: ${b.level(C_HZ).toFixed(1)} dB`);
  });
});

describe('hold music', () => {
  test('a held caller hears the room hold music at its level, and is not heard by the room', () => {
    const { conference, a, b, c, run } = room();
    const music = tone(440, -18, 1000);
    conference.room('1')!.setHoldMusic(music);
    conference.setHold('CAb', true);
    run(600);
    near(b.level(440), -18 - 3.01, 0.5, 'B hears the hold music');
    assert.ok(b.level(A_HZ) <= -60, `B on hold does not hear A: ${b.level(A_HZ).toFixed(1)} dB`);
    assert.ok(a.level(B_HZ) <= -60, `A does not hear B on hold: ${a.level(B_HZ).toFixed(1)} dB`);
    assert.ok(c.level(440) <= -60, `the room does not hear the hold music: ${c.level(440).toFixed(1)} dB`);
    conference.room('1')!.setHoldMusic(null);
    run(100);
    assert.ok(
      b.heard.slice(-SAMPLES_PER_FRAME).every((v) => v === 0),
      'no hold music: silence',
    );
  });
});

describe('cue end', () => {
  test('a cue that plays to its end is reported once; a stopped or looped one is not', () => {
    const { conference, run } = room();
    const ended: number[] = [];
    conference.on('cueEnded', (_room, id) => ended.push(id));
    const r = conference.room('1')!;
    const once = r.play(tone(300, -20, 100));
    const stopped = r.play(tone(300, -20, 1000));
    const looped = r.play(tone(300, -20, 100), { loop: true });
    run(60);
    r.stopCue(stopped);
    run(200);
    assert.deepEqual(ended, [once]);
    assert.ok(r.stopCue(looped));
  });
});
