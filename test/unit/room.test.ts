/**
 * The mixer's tick, driven by hand: exact sample assertions on mix-minus, unity gain, clipping
 * once at the end, the shared mix for silent listeners, rooms' isolation and failure containment.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { SAMPLES_PER_FRAME } from '../../src/audio/format.js';
import { MULAW_DECODE, MULAW_ENCODE, MULAW_SILENCE } from '../../src/audio/mulaw.js';
import { Conference } from '../../src/conference/conference.js';
import type { OutboundFrame } from '../../src/conference/outboundFrame.js';
import type { LeaveReason, ParticipantTransport } from '../../src/conference/participant.js';
import { noise, toMulaw } from '../helpers/audio.js';

class RecordingTransport implements ParticipantTransport {
  frames: Uint8Array[] = [];
  objects: OutboundFrame[] = [];
  ended: LeaveReason | null = null;
  sendFrame(frame: OutboundFrame): void {
    this.frames.push(Uint8Array.from(frame.mulaw));
    this.objects.push(frame);
    frame.base64();
  }
  end(reason: LeaveReason): void {
    this.ended = reason;
  }
  get last(): Uint8Array {
    return this.frames.at(-1)!;
  }
}

const clip = (v: number) => Math.max(-32768, Math.min(32767, v));
/** What a listener must receive: mu-law of clip(sum of the others' decoded samples). */
function expectedMix(others: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(SAMPLES_PER_FRAME);
  for (let i = 0; i < SAMPLES_PER_FRAME; i++) {
    let sum = 0;
    for (const o of others) sum += MULAW_DECODE[o[i]!]!;
    out[i] = MULAW_ENCODE[clip(sum) & 0xffff]!;
  }
  return out;
}

function setup(options = { echoWhenAlone: false }) {
  const conference = new Conference(options);
  const join = (room: string, callSid: string) => {
    const transport = new RecordingTransport();
    const participant = conference.join(room, callSid, transport);
    return { transport, participant };
  };
  return { conference, join };
}

const frameOf = (seed: number, peak = 8000) => toMulaw(noise(SAMPLES_PER_FRAME, peak, seed));
const silence = () => new Uint8Array(SAMPLES_PER_FRAME).fill(MULAW_SILENCE);

describe('room tick: mix-minus', () => {
  test('each of three talkers hears exactly the sum of the other two, never itself', () => {
    const { conference, join } = setup();
    const a = join('1', 'CAa');
    const b = join('1', 'CAb');
    const c = join('1', 'CAc');
    const fa = frameOf(1);
    const fb = frameOf(2);
    const fc = frameOf(3);
    a.participant.input.pushMulaw(fa, 0);
    b.participant.input.pushMulaw(fb, 0);
    c.participant.input.pushMulaw(fc, 0);
    conference.tick(20);
    assert.deepEqual(a.transport.last, expectedMix([fb, fc]));
    assert.deepEqual(b.transport.last, expectedMix([fa, fc]));
    assert.deepEqual(c.transport.last, expectedMix([fa, fb]));
  });

  test('a lone talker is heard bit-exact (unity gain, no divide-by-N)', () => {
    const { conference, join } = setup();
    const a = join('1', 'CAa');
    const listeners = [join('1', 'CAb'), join('1', 'CAc'), join('1', 'CAd')];
    const fa = frameOf(4, 20000);
    a.participant.input.pushMulaw(fa, 0);
    conference.tick(20);
    // Re-encoding a decoded code gives the same code, except 0x7F (-0) which becomes 0xFF (+0).
    const exact = Uint8Array.from(fa, (code) => (code === 0x7f ? 0xff : code));
    for (const l of listeners) assert.deepEqual(l.transport.last, exact);
    assert.deepEqual(a.transport.last, silence(), 'the talker hears nothing of itself');
  });

  test('the sum is clipped once at the end: with the sum past full scale, talkers still hear exactly the others', () => {
    const { conference, join } = setup();
    const up = [join('1', 'CAu1'), join('1', 'CAu2'), join('1', 'CAu3')];
    const down = join('1', 'CAd');
    const listener = join('1', 'CAlisten');
    const plus = toMulaw(new Int16Array(SAMPLES_PER_FRAME).fill(30000));
    const minus = toMulaw(new Int16Array(SAMPLES_PER_FRAME).fill(-30000));
    up.forEach((p) => p.participant.input.pushMulaw(plus, 0));
    down.participant.input.pushMulaw(minus, 0);
    conference.tick(20);
    const p = MULAW_DECODE[plus[0]!]!;
    const m = MULAW_DECODE[minus[0]!]!;
    assert.ok(3 * p + m > 32767, 'the room sum is past full scale');
    // The silent listener gets the clipped sum.
    assert.ok(listener.transport.last.every((c) => c === MULAW_ENCODE[32767]));
    // An "up" talker hears p + p + m, about +30000: exact, although the sum itself was clipped.
    // (Clipping the sum first and then subtracting its own voice would give 32767 - p, about 2800.)
    for (const u of up) {
      assert.deepEqual(u.transport.last, expectedMix([plus, plus, minus]));
      assert.equal(MULAW_DECODE[u.transport.last[0]!], MULAW_DECODE[MULAW_ENCODE[(2 * p + m) & 0xffff]!]);
    }
    assert.deepEqual(down.transport.last, expectedMix([plus, plus, plus]));
  });

  test('sum minus own is exact where saturating addition would leave a residue', () => {
    const { conference, join } = setup();
    const a = join('1', 'CAa');
    const b = join('1', 'CAb');
    const c = join('1', 'CAc');
    const hot = toMulaw(new Int16Array(SAMPLES_PER_FRAME).fill(25000));
    const cold = toMulaw(new Int16Array(SAMPLES_PER_FRAME).fill(-20000));
    a.participant.input.pushMulaw(hot, 0);
    b.participant.input.pushMulaw(hot, 0);
    c.participant.input.pushMulaw(cold, 0);
    conference.tick(20);
    // a must hear b + c = 25000-ish - 20000-ish: well inside 16 bits, so exactly representable.
    assert.deepEqual(a.transport.last, expectedMix([hot, cold]));
    const heard = MULAW_DECODE[a.transport.last[0]!]!;
    const bc = MULAW_DECODE[hot[0]!]! + MULAW_DECODE[cold[0]!]!;
    assert.ok(Math.abs(heard - bc) <= 64, `heard ${heard}, b+c ${bc}`);
  });

  test('listeners who sent nothing (or digital silence) share one encoded frame per tick', () => {
    const { conference, join } = setup();
    const a = join('1', 'CAa');
    const quiet = join('1', 'CAq'); // sends Twilio's silence: alternating 0xFF / 0x7F
    const absent = join('1', 'CAx'); // sends nothing this tick
    a.participant.input.pushMulaw(frameOf(5), 0);
    quiet.participant.input.pushMulaw(Uint8Array.from({ length: SAMPLES_PER_FRAME }, (_, i) => (i % 2 ? 0x7f : 0xff)), 0);
    const result = conference.room('1')!.tick(20);
    assert.equal(result.talkers, 1);
    assert.equal(result.personalMixes, 1, 'only the talker needs a personal mix');
    assert.equal(quiet.transport.objects.at(-1), absent.transport.objects.at(-1), 'same frame object');
    assert.notEqual(a.transport.objects.at(-1), quiet.transport.objects.at(-1));
  });

  test('alone: silence by default, own audio with echoWhenAlone', () => {
    for (const echoWhenAlone of [false, true]) {
      const { conference, join } = setup({ echoWhenAlone });
      const a = join('1', 'CAa');
      const fa = frameOf(6);
      a.participant.input.pushMulaw(fa, 0);
      conference.tick(20);
      const expected = echoWhenAlone ? Uint8Array.from(fa, (c) => (c === 0x7f ? 0xff : c)) : silence();
      assert.deepEqual(a.transport.last, expected, `echoWhenAlone=${echoWhenAlone}`);
      // With a second participant the echo stops.
      const b = join('1', 'CAb');
      a.participant.input.pushMulaw(fa, 0);
      conference.tick(40);
      assert.deepEqual(a.transport.last, silence());
      assert.equal(b.transport.frames.length, 1);
    }
  });

  test('every participant gets exactly one frame per tick, also with nothing to hear', () => {
    const { conference, join } = setup();
    const ps = [join('1', 'CAa'), join('1', 'CAb'), join('2', 'CAc')];
    for (let t = 1; t <= 50; t++) conference.tick(t * 20);
    for (const p of ps) {
      assert.equal(p.transport.frames.length, 50);
      assert.ok(p.transport.frames.every((f) => f.every((c) => c === MULAW_SILENCE)));
    }
  });
});

describe('conference: rooms', () => {
  test('two rooms never hear each other', () => {
    const { conference, join } = setup();
    const r1 = [join('100', 'CA1'), join('100', 'CA2')];
    const r2 = [join('200', 'CA3'), join('200', 'CA4')];
    const f1 = frameOf(7);
    r1[0]!.participant.input.pushMulaw(f1, 0);
    conference.tick(20);
    assert.deepEqual(r1[1]!.transport.last, Uint8Array.from(f1, (c) => (c === 0x7f ? 0xff : c)));
    for (const p of r2) assert.deepEqual(p.transport.last, silence());
  });

  test('rooms open on first join and close after the last leaves', () => {
    const { conference, join } = setup();
    const a = join('7', 'CAa');
    const b = join('7', 'CAb');
    assert.equal(conference.stats().rooms, 1);
    assert.equal(conference.leave(a.participant, 'hangup'), true);
    assert.equal(conference.leave(a.participant, 'hangup'), false, 'leave is idempotent');
    assert.equal(conference.room('7')?.size, 1);
    conference.leave(b.participant, 'hangup');
    assert.equal(conference.room('7'), undefined);
    assert.deepEqual(conference.stats().participants, 0);
  });

  test('a second stream for the same CallSid replaces the first', () => {
    const { conference, join } = setup();
    const first = join('7', 'CAsame');
    const second = join('7', 'CAsame');
    assert.equal(first.transport.ended, 'replaced');
    assert.equal(conference.room('7')?.size, 1);
    assert.equal(conference.participant('CAsame'), second.participant);
  });

  test("a room whose tick throws is closed; other rooms keep mixing", () => {
    const failures: string[] = [];
    const conference = new Conference({ echoWhenAlone: false });
    conference.on('roomFailed', (room) => failures.push(room.id));
    const good = new RecordingTransport();
    const bad = new RecordingTransport();
    bad.sendFrame = () => {
      throw new Error('boom');
    };
    const badNeighbour = new RecordingTransport();
    conference.join('1', 'CAbad', bad);
    conference.join('1', 'CAn', badNeighbour);
    conference.join('2', 'CAgood', good);
    conference.tick(20);
    assert.deepEqual(failures, ['1']);
    assert.equal(conference.room('1'), undefined);
    assert.equal(badNeighbour.ended, 'error');
    conference.tick(40);
    conference.tick(60);
    assert.equal(good.frames.length, 3, 'room 2 mixed every tick');
  });

  test('muted: not heard, still hears; on hold: neither; kick ends the stream', () => {
    const { conference, join } = setup();
    const a = join('1', 'CAa');
    const b = join('1', 'CAb');
    const c = join('1', 'CAc');
    const events: string[] = [];
    conference.on('participantMuted', (p, muted) => events.push(`${p.callSid} muted=${muted}`));
    conference.on('participantHeld', (p, held) => events.push(`${p.callSid} hold=${held}`));
    const fa = frameOf(21);
    const fb = frameOf(22);
    assert.equal(conference.setMuted('CAa', true), true);
    a.participant.input.pushMulaw(fa, 0);
    b.participant.input.pushMulaw(fb, 0);
    conference.tick(20);
    assert.deepEqual(c.transport.last, expectedMix([fb]), 'c hears b only: a is muted');
    assert.deepEqual(a.transport.last, expectedMix([fb]), 'a still hears b');
    assert.equal(conference.setHold('CAb', true), true);
    a.participant.input.pushMulaw(fa, 0);
    b.participant.input.pushMulaw(fb, 0);
    conference.setMuted('CAa', false);
    conference.tick(40);
    assert.deepEqual(b.transport.last, silence(), 'b on hold hears nothing');
    assert.deepEqual(c.transport.last, expectedMix([fa]), 'c hears a (unmuted), not b (on hold)');
    assert.deepEqual(events, ['CAa muted=true', 'CAb hold=true', 'CAa muted=false']);
    assert.equal(conference.setMuted('CAnobody', true), false);
    assert.equal(conference.kick('CAc'), true);
    assert.equal(c.transport.ended, 'kicked');
    assert.equal(conference.room('1')?.size, 2);
  });

  test('cues: played to all, to all but one, to one only; looped until stopped; ended ones dropped', () => {
    const { conference, join } = setup();
    const a = join('1', 'CAa');
    const b = join('1', 'CAb');
    const room = conference.room('1')!;
    const beep = Int16Array.from({ length: 2 * SAMPLES_PER_FRAME }, (_, i) => (i % 4 < 2 ? 4000 : -4000));
    const beepFrame = toMulaw(beep.subarray(0, SAMPLES_PER_FRAME));
    const exactBeep = Uint8Array.from(beepFrame, (c) => (c === 0x7f ? 0xff : c));
    room.play(beep, { target: { kind: 'except', callSid: 'CAa' } });
    conference.tick(20);
    assert.deepEqual(b.transport.last, exactBeep, 'b hears the beep');
    assert.deepEqual(a.transport.last, silence(), 'a does not');
    conference.tick(40);
    assert.equal(room.activeCues, 0, 'a 40 ms cue is gone after two ticks');
    conference.tick(60);
    assert.deepEqual(b.transport.last, silence());

    const only = room.play(beep, { target: { kind: 'only', callSid: 'CAa' }, loop: true });
    const fb = frameOf(31);
    b.participant.input.pushMulaw(fb, 0);
    conference.tick(80);
    const withCue = Uint8Array.from({ length: SAMPLES_PER_FRAME }, (_, i) => MULAW_ENCODE[clip(MULAW_DECODE[fb[i]!]! + beep[i]!) & 0xffff]!);
    assert.deepEqual(a.transport.last, withCue, 'a hears b and its own cue (mixed as PCM)');
    assert.deepEqual(b.transport.last, silence(), 'b hears neither itself nor a cue meant for a');
    for (let t = 0; t < 5; t++) conference.tick(100 + t * 20);
    assert.equal(room.activeCues, 1, 'a looping cue plays on');
    assert.equal(room.stopCue(only), true);
    assert.equal(room.stopCue(only), false);
    room.play(beep);
    conference.tick(300);
    assert.deepEqual(a.transport.last, exactBeep);
    assert.deepEqual(b.transport.last, exactBeep);
  });

  test('listening volume scales only that caller\'s mix, clamped to +/-12 dB', () => {
    const { conference, join } = setup();
    const a = join('1', 'CAa');
    const b = join('1', 'CAb');
    const c = join('1', 'CAc');
    assert.equal(conference.setListenVolume('CAb', -6), -6);
    assert.equal(conference.setListenVolume('CAc', 40), 12);
    assert.equal(conference.setListenVolume('CAnobody', 3), null);
    const fa = toMulaw(new Int16Array(SAMPLES_PER_FRAME).fill(1000));
    a.participant.input.pushMulaw(fa, 0);
    conference.tick(20);
    const x = MULAW_DECODE[fa[0]!]!;
    assert.equal(MULAW_DECODE[b.transport.last[0]!], MULAW_DECODE[MULAW_ENCODE[Math.round(x * 10 ** (-6 / 20)) & 0xffff]!]);
    assert.equal(MULAW_DECODE[c.transport.last[0]!], MULAW_DECODE[MULAW_ENCODE[Math.round(x * 10 ** (12 / 20)) & 0xffff]!]);
    assert.deepEqual(a.transport.last, silence(), 'the talker still hears nothing of itself');
  });

  test('close() ends every participant once', () => {
    const { conference, join } = setup();
    const ps = [join('1', 'CAa'), join('2', 'CAb')];
    conference.close('shutdown');
    conference.close('shutdown');
    for (const p of ps) assert.equal(p.transport.ended, 'shutdown');
    assert.equal(conference.stats().rooms, 0);
  });
});
