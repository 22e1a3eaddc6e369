/**
 * What callers hear, measured on the conference core driven by a manual clock (issue #4):
 * unity gain, exact mix-minus under heavy limiting, no clipping or wrap-around, low distortion,
 * no clicks, gated background noise, a speaker cap, AGC, comfort noise and speech events.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { dB, estimateGains, rmsDbfs, toneDbfs } from '../../src/audio/analysis.js';
import { SAMPLE_RATE_HZ, SAMPLES_PER_FRAME } from '../../src/audio/format.js';
import { parseWav } from '../../src/audio/wav.js';
import { noise, speechLike, tone } from '../helpers/audio.js';
import { MixerHarness, type Caller } from '../helpers/mixer.js';

const FS = SAMPLE_RATE_HZ;
/** Ten frequencies none of whose 2nd/3rd-order combinations falls within 7 Hz of another. */
const TEN_FREQS = [343, 539, 613, 832, 1000, 1145, 1303, 1580, 1722, 1842];

/** Level (dB) at which each source is heard in `listener`'s ear, jointly by least squares. */
function levels(listener: Caller, sources: Caller[], fromFrame: number, toFrame: number): number[] {
  const s = sources.map((c) => c.sent(fromFrame, toFrame));
  return estimateGains(
    listener.heard(fromFrame, toFrame),
    s,
    s.map(() => 0),
  ).map((g) => dB(Math.abs(g)));
}

/** Largest step between consecutive samples. */
function maxStep(x: Int16Array, from = 1, to = x.length): number {
  let m = 0;
  for (let i = Math.max(1, from); i < to; i++) m = Math.max(m, Math.abs(x[i]! - x[i - 1]!));
  return m;
}

describe('levels', () => {
  test('a lone talker is heard bit-exact, also at full scale', () => {
    for (const peakDbfs of [-20, -0.1]) {
      const h = new MixerHarness();
      const talker = h.join('CAt', '1', tone(440, peakDbfs, 2000));
      const listener = h.join('CAl');
      h.run(100);
      // From the third frame on (the first fades in, the ramp into the mix takes 10 ms).
      assert.deepEqual(listener.heard(2, 100), talker.sent(2, 100), `peak ${peakDbfs} dBFS`);
      assert.equal(h.conference.room('1')!.limiting.framesLimited, 0);
    }
  });

  test('a lone talker speaking (a recorded voice) is heard within 0.1 dB', () => {
    const voice = parseWav(readFileSync(join(import.meta.dirname, '..', 'fixtures', 'voices', 'alice.wav'))).samples;
    const h = new MixerHarness();
    const talker = h.join('CAt', '1', voice);
    const listener = h.join('CAl');
    const frames = Math.floor(voice.length / SAMPLES_PER_FRAME);
    h.run(frames);
    const level = rmsDbfs(listener.heard(0, frames)) - rmsDbfs(talker.sent(0, frames));
    assert.ok(Math.abs(level) <= 0.1, `heard at ${level.toFixed(3)} dB`);
    const [gain] = levels(listener, [talker], 0, frames);
    assert.ok(Math.abs(gain!) <= 0.1, `least-squares gain ${gain!.toFixed(3)} dB`);
  });

  test('two talkers at -20 dBFS are both heard at 0 +/- 0.5 dB', () => {
    const h = new MixerHarness();
    const a = h.join('CAa', '1', tone(440, -20, 3000));
    const b = h.join('CAb', '1', tone(1000, -20, 3000, 1));
    const listener = h.join('CAl');
    h.run(150);
    const heard = listener.heard(5, 145);
    for (const [caller, f] of [
      [a, 440],
      [b, 1000],
    ] as const) {
      const level = toneDbfs(heard, f, FS) - toneDbfs(caller.sent(5, 145), f, FS);
      assert.ok(Math.abs(level) <= 0.5, `${caller.callSid} heard at ${level.toFixed(3)} dB`);
    }
    const [la, lb] = levels(a, [a, b], 5, 145);
    assert.ok(la! <= -60, `a hears itself at ${la!.toFixed(1)} dB`);
    assert.ok(Math.abs(lb!) <= 0.5, `a hears b at ${lb!.toFixed(2)} dB`);
  });
});

describe('ten talkers at -6 dBFS: the limiter at work', () => {
  test('own voice in own mix stays at or below -60 dB', () => {
    const worst: number[] = [];
    for (const seed of [1, 2]) {
      const h = new MixerHarness();
      const talkers = TEN_FREQS.map((_, i) => h.join(`CA${i}`, '1', speechLike(10_000, -6, seed * 100 + i)));
      h.run(500);
      assert.ok(dB(h.conference.room('1')!.limiting.gain) < -3, 'the limiter is working hard');
      for (const [i, t] of talkers.entries()) {
        const own = levels(t, talkers, 25, 500)[i]!;
        worst.push(own);
        assert.ok(own <= -60, `talker ${i} (seed ${seed}) hears itself at ${own.toFixed(1)} dB`);
      }
    }
    console.log(`# own voice with 10 talkers at -6 dBFS: worst ${Math.max(...worst).toFixed(1)} dB`);
  });

  test('output never reaches full scale, never wraps, and a test tone stays clean (THD)', () => {
    const h = new MixerHarness();
    const talkers = TEN_FREQS.map((f, i) => h.join(`CA${i}`, '1', tone(f, -6, 4500, i)));
    const listener = h.join('CAl');
    h.run(225);
    const out = listener.heard(25, 225);
    const sources = talkers.map((t) => t.sent(25, 225));
    const sum = Float64Array.from(out, (_, k) => sources.reduce((a, s) => a + s[k]!, 0));
    let atFullScale = 0;
    let wrongSign = 0;
    for (let k = 0; k < out.length; k++) {
      if (Math.abs(out[k]!) >= 32124) atFullScale++;
      if (Math.abs(sum[k]!) > 4000 && Math.sign(out[k]!) !== Math.sign(sum[k]!)) wrongSign++;
    }
    assert.ok(Math.max(...sum.map(Math.abs)) > 100_000, 'the sum is far past full scale');
    assert.equal(atFullScale, 0, 'no sample at full scale');
    assert.equal(wrongSign, 0, 'no wrap-around');
    // THD+N: what least squares over the ten inputs cannot explain, against the output.
    const fit = (y: ArrayLike<number>) => {
      const g = estimateGains(
        Int16Array.from(y, (v) => Math.max(-32768, Math.min(32767, Math.round(v)))),
        sources,
        sources.map(() => 0),
      );
      let residual = 0;
      let energy = 0;
      for (let k = 0; k < y.length; k++) {
        const e = y[k]! - sources.reduce((a, s, j) => a + g[j]! * s[k]!, 0);
        residual += e * e;
        energy += y[k]! * y[k]!;
      }
      return 10 * Math.log10(residual / energy);
    };
    const thdn = fit(out);
    const clipped = fit(sum.map((v) => Math.max(-32768, Math.min(32767, v))));
    const f0 = toneDbfs(out, 1000, FS);
    const h2 = toneDbfs(out, 2000, FS) - f0;
    const h3 = toneDbfs(out, 3000, FS) - f0;
    console.log(
      `# 10 talkers at -6 dBFS: THD+N ${thdn.toFixed(1)} dB (plain clipping: ${clipped.toFixed(1)} dB); 1 kHz tone H2 ${h2.toFixed(1)} dB, H3 ${h3.toFixed(1)} dB`,
    );
    assert.ok(thdn <= -33, `THD+N ${thdn.toFixed(1)} dB`);
    assert.ok(clipped - thdn >= 20, 'at least 20 dB cleaner than clipping');
    assert.ok(h2 <= -50 && h3 <= -35, `harmonics of the 1 kHz tone: ${h2.toFixed(1)}, ${h3.toFixed(1)} dB`);
    // Everyone still audible at the same level relative to each other.
    const g = levels(listener, talkers, 25, 225);
    assert.ok(Math.max(...g) - Math.min(...g) <= 0.2, 'the limiter turns everyone down alike');
  });
});

describe('no clicks', () => {
  test('join, mute, unmute and leave of a talker: no step beyond what the signal itself has', () => {
    const h = new MixerHarness();
    const listener = h.join('CAl');
    const other = h.join('CAo', '1', tone(1300, -30, 6000));
    // A slow wave (a click would be a step far larger than its own), 4.25 cycles per frame and
    // starting 1/8 cycle in, so every event below (20, 60, 100, 180 frames into it) falls at
    // 0.7 of its peak, never at a zero crossing.
    const hum = tone(212.5, -6, 6000, Math.PI / 4);
    let talker: Caller | null = null;
    const events: Array<[number, string]> = [];
    h.run(250, (t) => {
      if (t === 20) {
        talker = h.join('CAt', '1', hum);
        events.push([t, 'join']);
      }
      if (t === 80) {
        h.conference.setMuted('CAt', true);
        events.push([t, 'mute']);
      }
      if (t === 120) {
        h.conference.setMuted('CAt', false);
        events.push([t, 'unmute']);
      }
      if (t === 200) {
        h.leave(talker!);
        events.push([t, 'leave']);
      }
    });
    const heard = listener.heard();
    const own = maxStep(talker!.sent()) + maxStep(other.sent());
    for (const [t, what] of events) {
      const step = maxStep(heard, (t - 2) * SAMPLES_PER_FRAME, (t + 3) * SAMPLES_PER_FRAME);
      assert.ok(step <= 1.15 * own, `${what}: step ${step} against the signals' own ${own}`);
    }
    // Without ramps, muting mid-wave would step by up to the hum's amplitude (~16400).
    assert.ok(own < 5000);
  });
});

describe('background noise and the talk gate', () => {
  test('20 callers sending low-level noise make a mix no louder than one of them', () => {
    for (const levelDbfs of [-50, -35]) {
      const h = new MixerHarness();
      const peak = 32768 * 10 ** (levelDbfs / 20) * Math.sqrt(3);
      const callers = Array.from({ length: 20 }, (_, i) => h.join(`CA${i}`, '1', noise(10 * FS, peak, i + 1)));
      const listener = h.join('CAl');
      h.run(500);
      const one = rmsDbfs(callers[0]!.sent(400, 500));
      const mix = rmsDbfs(listener.heard(400, 500));
      assert.ok(mix <= one, `noise at ${levelDbfs} dBFS: mix ${mix.toFixed(1)} dBFS vs one caller ${one.toFixed(1)}`);
    }
  });

  test('a talker among noisy lines is heard at 0 dB while the noise stays out', () => {
    const h = new MixerHarness();
    const peak = 32768 * 10 ** (-35 / 20) * Math.sqrt(3);
    for (let i = 0; i < 10; i++) h.join(`CAn${i}`, '1', noise(14 * FS, peak, i + 1));
    const listener = h.join('CAl');
    const talker = h.join('CAt', '1', null);
    h.run(350); // 7 s: the noise floors have adapted
    talker.say(speechLike(6000, -10, 9));
    h.run(300);
    // The talker's frame k was mixed at tick 350 + k (it joined at tick 0 and sent nothing before).
    const g = estimateGains(listener.heard(360, 650), [talker.sent(10, 300)], [0]);
    assert.ok(Math.abs(dB(g[0]!)) <= 1, `talker heard at ${dB(g[0]!).toFixed(2)} dB`);
    const gaps = listener.heard(340, 350);
    assert.ok(rmsDbfs(gaps) <= -60, `before the talker, the noisy lines are gated: ${rmsDbfs(gaps).toFixed(1)} dBFS`);
  });

  test('speech start and stop events, with hangover', () => {
    const h = new MixerHarness();
    const talker = h.join('CAt', '1', null);
    const events: Array<[number, boolean]> = [];
    h.conference.on('participantSpeech', (_p, talking) => events.push([h.ticks, talking]));
    h.run(25);
    talker.say(speechLike(1000, -12, 4));
    h.run(150);
    assert.equal(events.length, 2, JSON.stringify(events));
    assert.deepEqual(
      events.map((e) => e[1]),
      [true, false],
    );
    assert.ok(events[0]![0] <= 25 + 4, `started within 80 ms of the first syllable (tick ${events[0]![0]})`);
    assert.ok(events[1]![0] >= 25 + 50 + 35 && events[1]![0] <= 25 + 50 + 45, `stopped ~800 ms after the last (tick ${events[1]![0]})`);
  });
});

describe('options', () => {
  test('MAX_ACTIVE_SPEAKERS: the two loudest are heard, the others ramped out', () => {
    const h = new MixerHarness({ maxActiveSpeakers: 2 });
    const spec = [
      [-10, 343],
      [-14, 613],
      [-18, 1000],
      [-22, 1580],
    ] as const;
    const talkers = spec.map(([lvl, f], i) => h.join(`CA${i}`, '1', tone(f, lvl, 4000, i)));
    const listener = h.join('CAl');
    h.run(100);
    const rel = levels(listener, talkers, 10, 100);
    assert.ok(Math.abs(rel[0]!) <= 0.5 && Math.abs(rel[1]!) <= 0.5, `loudest two at ${rel[0]!.toFixed(2)}, ${rel[1]!.toFixed(2)} dB`);
    assert.ok(rel[2]! <= -50 && rel[3]! <= -50, `the others at ${rel[2]!.toFixed(1)}, ${rel[3]!.toFixed(1)} dB`);
    // The loudest stops: the third comes in.
    talkers[0]!.say(null);
    h.run(100);
    const later = levels(listener, talkers.slice(1), 160, 200);
    assert.ok(Math.abs(later[1]!) <= 0.5, `third now heard at ${later[1]!.toFixed(2)} dB`);
    assert.ok(later[2]! <= -50, `fourth still out: ${later[2]!.toFixed(1)} dB`);
  });

  test('AGC lifts a quiet line in 1 dB steps, within its bound; off by default', () => {
    for (const agc of [false, true]) {
      const h = new MixerHarness({ agc });
      const quiet = h.join('CAq', '1', speechLike(20_000, -40, 3));
      const listener = h.join('CAl');
      h.run(1000);
      const lift = rmsDbfs(listener.heard(900, 1000)) - rmsDbfs(quiet.sent(900, 1000));
      const gainDb = quiet.participant.agc?.gainDb ?? 0;
      if (agc) {
        assert.ok(lift >= 6 && lift <= 12.5, `lifted by ${lift.toFixed(1)} dB (bound: 12 dB)`);
        assert.ok(gainDb <= 12, `gain ${gainDb} dB within its bound`);
        assert.equal(gainDb, Math.round(gainDb), 'whole dB steps');
      } else assert.ok(Math.abs(lift) <= 0.1, `untouched: ${lift.toFixed(2)} dB`);
    }
  });

  test('comfort noise while nobody talks: at its level; off: digital silence', () => {
    for (const comfortNoiseDbfs of [undefined, -60]) {
      const h = new MixerHarness({ comfortNoiseDbfs });
      const listener = h.join('CAl');
      h.join('CAo');
      h.run(100);
      const level = rmsDbfs(listener.heard(0, 100));
      if (comfortNoiseDbfs === undefined) assert.ok(listener.heard().every((v) => v === 0));
      else assert.ok(Math.abs(level - comfortNoiseDbfs) <= 1.5, `comfort noise at ${level.toFixed(1)} dBFS`);
    }
  });
});
