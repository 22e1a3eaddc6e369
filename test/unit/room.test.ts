/**
 * The mixer's tick, driven by hand: exact sample assertions on mix-minus, unity gain, clipping
 * once at the end, the shared mix for silent listeners, rooms' isolation and failure containment.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { SAMPLES_PER_FRAME } from '../../src/audio/format.js';
import { MULAW_DECODE, MULAW_ENCODE, MULAW_SILENCE } from '../../src/audio/mulaw.js';
import { Limiter } from '../../src/audio/limiter.js';
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

let clockMs = 0;
/**
 * Feeds each talker the same frame for three ticks and returns after the third: by then the
 * jitter buffer is playing, the fade-in of the first frame and the 10 ms ramp into the mix are
 * over, so the last frame each listener got is the steady-state mix.
 */
function steady(
  conference: Conference,
  talkers: Array<[{ participant: { input: { pushMulaw(f: Uint8Array, t: number): void } } }, Uint8Array]>,
  ticks = 3,
): void {
  for (let t = 0; t < ticks; t++) {
    for (const [p, frame] of talkers) p.participant.input.pushMulaw(frame, clockMs);
    clockMs += 20;
    conference.tick(clockMs);
  }
}
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
    steady(conference, [
      [a, fa],
      [b, fb],
      [c, fc],
    ]);
    assert.deepEqual(a.transport.last, expectedMix([fb, fc]));
    assert.deepEqual(b.transport.last, expectedMix([fa, fc]));
    assert.deepEqual(c.transport.last, expectedMix([fa, fb]));
  });

  test('a lone talker is heard bit-exact (unity gain, no divide-by-N)', () => {
    const { conference, join } = setup();
    const a = join('1', 'CAa');
    const listeners = [join('1', 'CAb'), join('1', 'CAc'), join('1', 'CAd')];
    const fa = frameOf(4, 20000);
    steady(conference, [[a, fa]]);
    // Re-encoding a decoded code gives the same code, except 0x7F (-0) which becomes 0xFF (+0).
    const exact = Uint8Array.from(fa, (code) => (code === 0x7f ? 0xff : code));
    for (const l of listeners) assert.deepEqual(l.transport.last, exact);
    assert.deepEqual(a.transport.last, silence(), 'the talker hears nothing of itself');
  });

  test('past full scale the limiter turns the room down and talkers get exactly g * (sum - own)', () => {
    const { conference, join } = setup();
    const up = [join('1', 'CAu1'), join('1', 'CAu2'), join('1', 'CAu3')];
    const down = join('1', 'CAd');
    const listener = join('1', 'CAlisten');
    const plus = toMulaw(new Int16Array(SAMPLES_PER_FRAME).fill(30000));
    const minus = toMulaw(new Int16Array(SAMPLES_PER_FRAME).fill(-30000));
    steady(conference, [...up.map((u) => [u, plus] as [typeof u, Uint8Array]), [down, minus]]);
    const p = MULAW_DECODE[plus[0]!]!;
    const m = MULAW_DECODE[minus[0]!]!;
    const sum = 3 * p + m;
    assert.ok(sum > 32767, 'the room sum is past full scale');
    // The limiter acts on its estimate from the sources: their summed peaks, here 3p + |m|.
    const limiter = new Limiter();
    const g = limiter.targetGain(limiter.peakEstimate(3 * p - m, SAMPLES_PER_FRAME * (3 * p * p + m * m), SAMPLES_PER_FRAME));
    assert.ok(g < 0.3, `the limiter works: g = ${g.toFixed(3)}`);
    const enc = (v: number) => MULAW_ENCODE[clip(Math.round(v)) & 0xffff]!;
    // The silent listener: g * S, under full scale.
    assert.ok(listener.transport.last.every((c) => c === enc(g * sum)));
    assert.ok(MULAW_DECODE[listener.transport.last[0]!]! < 32767);
    // An "up" talker: g * (p + p + m): its own voice subtracted exactly, before the gain.
    // (Limiting S first and then subtracting own would give g*S - p: about -11000, not +16000.)
    for (const u of up)
      assert.ok(
        u.transport.last.every((c) => c === enc(g * (2 * p + m))),
        'up talker hears g*(2p+m)',
      );
    assert.ok(
      down.transport.last.every((c) => c === enc(g * 3 * p)),
      'down talker hears g*3p',
    );
  });

  test('sum minus own is exact where saturating addition would leave a residue', () => {
    const { conference, join } = setup();
    const a = join('1', 'CAa');
    const b = join('1', 'CAb');
    const c = join('1', 'CAc');
    const hot = toMulaw(new Int16Array(SAMPLES_PER_FRAME).fill(25000));
    const cold = toMulaw(new Int16Array(SAMPLES_PER_FRAME).fill(-20000));
    steady(conference, [
      [a, hot],
      [b, hot],
      [c, cold],
    ]);
    const h = MULAW_DECODE[hot[0]!]!;
    const k = MULAW_DECODE[cold[0]!]!;
    // Saturating addition: clip(a + b) = 32767, + c = ~12767, - a = ~-12233; exact: b + c = ~5000.
    const limiter = new Limiter();
    const g = limiter.targetGain(limiter.peakEstimate(2 * h - k, SAMPLES_PER_FRAME * (2 * h * h + k * k), SAMPLES_PER_FRAME));
    const heard = MULAW_DECODE[a.transport.last[0]!]!;
    assert.equal(heard, MULAW_DECODE[MULAW_ENCODE[Math.round(g * (h + k)) & 0xffff]!], `a hears g*(b+c) = ${Math.round(g * (h + k))}`);
    assert.ok(heard > 0, 'the sign is right: no residue of a');
  });

  test('listeners who sent nothing (or digital silence) share one encoded frame per tick', () => {
    const { conference, join } = setup();
    const a = join('1', 'CAa');
    const quiet = join('1', 'CAq'); // sends Twilio's silence: alternating 0xFF / 0x7F
    const absent = join('1', 'CAx'); // sends nothing this tick
    const twilioSilence = Uint8Array.from({ length: SAMPLES_PER_FRAME }, (_, i) => (i % 2 ? 0x7f : 0xff));
    steady(
      conference,
      [
        [a, frameOf(5)],
        [quiet, twilioSilence],
      ],
      2,
    );
    a.participant.input.pushMulaw(frameOf(5), 0);
    quiet.participant.input.pushMulaw(twilioSilence, 0);
    const result = conference.room('1')!.tick(1000);
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
      steady(conference, [[a, fa]]);
      const expected = echoWhenAlone ? Uint8Array.from(fa, (c) => (c === 0x7f ? 0xff : c)) : silence();
      assert.deepEqual(a.transport.last, expected, `echoWhenAlone=${echoWhenAlone}`);
      // With a second participant the echo stops.
      const b = join('1', 'CAb');
      steady(conference, [[a, fa]]);
      assert.deepEqual(a.transport.last, silence());
      assert.equal(b.transport.frames.length, 3);
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

describe('conference: mix, then send', () => {
  test('mix() writes nothing; send() hands each listener its frame once; a caller who joined between gets none that tick', () => {
    const { conference, join } = setup();
    const a = join('1', 'CAa');
    const b = join('1', 'CAb');
    const c = join('2', 'CAc');
    const frame = frameOf(3);
    steady(conference, [[a, frame]]);
    const count = () => [a, b, c].map((p) => p.transport.frames.length);
    const before = count();
    a.participant.input.pushMulaw(frame, clockMs);
    clockMs += 20;
    conference.mix(clockMs);
    assert.deepEqual(count(), before, 'every room mixed before any socket write');
    const late = join('1', 'CAlate');
    conference.send();
    assert.deepEqual(
      count(),
      before.map((n) => n + 1),
    );
    assert.equal(late.transport.frames.length, 0, 'joined after the mix: nothing this tick');
    assert.deepEqual(b.transport.last, expectedMix([frame]), 'b hears a, exactly');
    conference.send();
    assert.deepEqual(
      count(),
      before.map((n) => n + 1),
      'a second send() sends nothing',
    );
    clockMs += 20;
    conference.tick(clockMs);
    assert.deepEqual([...count(), late.transport.frames.length], [...before.map((n) => n + 2), 1]);
  });
});

describe('conference: rooms', () => {
  test('two rooms never hear each other', () => {
    const { conference, join } = setup();
    const r1 = [join('100', 'CA1'), join('100', 'CA2')];
    const r2 = [join('200', 'CA3'), join('200', 'CA4')];
    const f1 = frameOf(7);
    steady(conference, [[r1[0]!, f1]]);
    assert.deepEqual(
      r1[1]!.transport.last,
      Uint8Array.from(f1, (c) => (c === 0x7f ? 0xff : c)),
    );
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

  test('a room whose tick throws is closed; other rooms keep mixing', () => {
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
    steady(conference, [
      [a, fa],
      [b, fb],
    ]);
    assert.deepEqual(c.transport.last, expectedMix([fb]), 'c hears b only: a is muted');
    assert.deepEqual(a.transport.last, expectedMix([fb]), 'a still hears b');
    assert.equal(conference.setHold('CAb', true), true);
    conference.setMuted('CAa', false);
    steady(conference, [
      [a, fa],
      [b, fb],
    ]);
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

    const fb = frameOf(31);
    steady(conference, [[b, fb]], 2);
    const only = room.play(beep, { target: { kind: 'only', callSid: 'CAa' }, loop: true });
    steady(conference, [[b, fb]], 1);
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

  test("listening volume scales only that caller's mix, clamped to +/-12 dB", () => {
    const { conference, join } = setup();
    const a = join('1', 'CAa');
    const b = join('1', 'CAb');
    const c = join('1', 'CAc');
    assert.equal(conference.setListenVolume('CAb', -6), -6);
    assert.equal(conference.setListenVolume('CAc', 40), 12);
    assert.equal(conference.setListenVolume('CAnobody', 3), null);
    const fa = toMulaw(new Int16Array(SAMPLES_PER_FRAME).fill(1000));
    steady(conference, [[a, fa]]);
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

describe('room taps', () => {
  test('a tap hears what a silent listener hears, every tick, without being in the room', () => {
    const conference = new Conference({ echoWhenAlone: true });
    const a = new RecordingTransport();
    const p = conference.join('1', 'CAa', a);
    const room = conference.room('1')!;
    const tapped: Int16Array[] = [];
    const tap = { mix: (pcm: Int16Array) => void tapped.push(Int16Array.from(pcm)) };
    room.addTap(tap);
    const fa = frameOf(41);
    for (let t = 1; t <= 3; t++) {
      p.input.pushMulaw(fa, t * 20);
      conference.tick(t * 20);
    }
    assert.equal(tapped.length, 3);
    assert.equal(room.size, 1, 'the tap is not a participant');
    // Alone with echoWhenAlone the caller still hears itself: the tap changed nothing.
    assert.deepEqual(
      a.last,
      Uint8Array.from(fa, (c) => (c === 0x7f ? 0xff : c)),
    );
    // The tap heard the room's mix: the lone talker.
    assert.deepEqual(
      [...tapped[2]!],
      [...fa].map((c) => MULAW_DECODE[c]!),
    );
    assert.equal(room.removeTap(tap), true);
    conference.tick(80);
    assert.equal(tapped.length, 3);
  });
});
