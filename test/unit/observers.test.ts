/**
 * Observers never break the thing they observe: conference events are emitted from inside the
 * mixer's tick (speech starts and stops), and room taps (a recorder, a dashboard listening in) run
 * there too. One that throws, every time, is reported once and skipped; the room keeps mixing
 * and its callers keep hearing each other. Before, it closed the room with 1011.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { dB } from '../../src/audio/analysis.js';
import { speechLike } from '../helpers/audio.js';
import { captureLog } from '../helpers/log.js';
import { MixerHarness, type Caller } from '../helpers/mixer.js';

/** Normalised correlation of two equal-length signals (1: the same waveform, at any gain). */
function correlation(a: Int16Array, b: Int16Array): number {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i]! * b[i]!;
    aa += a[i]! * a[i]!;
    bb += b[i]! * b[i]!;
  }
  return ab / Math.sqrt(aa * bb);
}

/** Level of `heard` relative to `sent` (dB). */
function relativeDb(heard: Int16Array, sent: Int16Array): number {
  let h = 0;
  let s = 0;
  for (let i = 0; i < heard.length; i++) {
    h += heard[i]! * heard[i]!;
    s += sent[i]! * sent[i]!;
  }
  return dB(Math.sqrt(h / s));
}

describe('observers that throw', () => {
  test('a throwing speech listener and a throwing tap: both callers keep hearing each other at 0 dB; one log line each', () => {
    const captured = captureLog();
    const mixer = new MixerHarness({ log: captured.log });
    const seen: string[] = [];
    mixer.conference.on('participantSpeech', () => {
      throw new Error('dashboard bug');
    });
    // A listener after the broken one still gets every event.
    mixer.conference.on('participantSpeech', (p, talking) => seen.push(`${p.callSid}:${talking}`));
    const a: Caller = mixer.join('CA-a', '1', speechLike(4000, -20, 1));
    const b: Caller = mixer.join('CA-b', '1', speechLike(4000, -20, 2));
    let tapCalls = 0;
    mixer.conference.room('1')!.addTap({
      mix() {
        tapCalls++;
        throw new Error('recorder bug');
      },
    });

    mixer.run(200); // 4 s

    assert.ok(seen.length >= 2, `speech events were emitted (${seen.join(', ')})`);
    assert.equal(tapCalls, 200, 'the tap stays and is called every tick');
    assert.equal(a.ended, null, 'a still in the call');
    assert.equal(b.ended, null, 'b still in the call');
    assert.equal(mixer.conference.room('1')?.size, 2, 'the room is open with both');
    assert.equal(a.heardFrames.length, 200, 'a got a frame every tick');
    // Each hears the other (mix-minus, frames line up with no lag), the whole time.
    const from = 5;
    for (const [listener, talker] of [
      [a, b],
      [b, a],
    ] as const) {
      const heard = listener.heard(from);
      const sent = talker.sent(from, listener.heardFrames.length);
      const r = correlation(heard, sent);
      const level = relativeDb(heard, sent);
      assert.ok(r > 0.99, `${listener.callSid} hears ${talker.callSid}: correlation ${r.toFixed(4)}`);
      assert.ok(Math.abs(level) < 0.5, `${listener.callSid} hears ${talker.callSid} at ${level.toFixed(2)} dB`);
    }
    const errors = captured.lines.filter((l) => l.level >= 50);
    assert.equal(errors.length, 2, `one line per broken listener: ${errors.map((l) => l.msg).join(' | ')}`);
    assert.ok(errors.some((l) => /participantSpeech listener threw/.test(l.msg)) && errors.some((l) => /room tap listener threw/.test(l.msg)));
    assert.equal(mixer.conference.stats().listenerFailures, seen.length + 200, 'every failure counted');
  });

  test('a throwing join or leave listener does not stop the join or the leave', () => {
    const captured = captureLog();
    const mixer = new MixerHarness({ log: captured.log });
    mixer.conference.on('participantJoined', () => {
      throw new Error('callback bug');
    });
    mixer.conference.on('participantLeft', () => {
      throw new Error('callback bug');
    });
    const a = mixer.join('CA-a');
    const b = mixer.join('CA-b');
    assert.equal(mixer.conference.room('1')?.size, 2);
    mixer.leave(a);
    assert.equal(mixer.conference.participant(a.callSid), undefined);
    assert.equal(mixer.conference.room('1')?.size, 1);
    mixer.run(3);
    assert.equal(b.heardFrames.length, 3);
    assert.equal(captured.lines.filter((l) => l.level >= 50).length, 2, 'each listener reported once');
  });
});
