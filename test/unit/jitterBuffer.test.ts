/**
 * The input jitter buffer against arrival patterns on a manual timeline: bursts, late frames,
 * a caller clock 0.5 % fast or slow over 10 simulated minutes, concealment and resumption.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { SAMPLES_PER_FRAME } from '../../src/audio/format.js';
import { MULAW_DECODE } from '../../src/audio/mulaw.js';
import { JitterBuffer } from '../../src/conference/jitterBuffer.js';
import { noise, toMulaw } from '../helpers/audio.js';

/** Frame n carries its number in every byte (codes 0x10..0x6f): the last sample names it. */
const CODES = 96;
const frameNumbered = (n: number) => new Uint8Array(SAMPLES_PER_FRAME).fill(0x10 + (n % CODES));
const numberOf = (pcm: Int16Array) => {
  const code = [...MULAW_DECODE].indexOf(pcm[SAMPLES_PER_FRAME - 1]!);
  return code >= 0x10 && code < 0x10 + CODES ? code - 0x10 : -1;
};

interface Run {
  kinds: string[];
  numbers: number[];
  /** Tick time minus the arrival time of the frame it played (ms), for played frames. */
  delays: number[];
  buffer: JitterBuffer;
}

/** Feeds frames at `arrivals[n]` (ms) and ticks every 20 ms from `firstTickMs` until `endMs`. */
function run(arrivals: number[], firstTickMs: number, endMs: number, buffer = new JitterBuffer()): Run {
  const out = new Int16Array(SAMPLES_PER_FRAME);
  const info = { arrivalMs: 0, silent: true };
  const result: Run = { kinds: [], numbers: [], delays: [], buffer };
  let next = 0;
  for (let t = firstTickMs; t <= endMs; t += 20) {
    while (next < arrivals.length && arrivals[next]! <= t) buffer.pushMulaw(frameNumbered(next), arrivals[next++]!);
    const kind = buffer.pop(out, info);
    result.kinds.push(kind);
    result.numbers.push(kind === 'audio' ? numberOf(out) : -1);
    if (kind === 'audio') result.delays.push(t - info.arrivalMs);
  }
  return result;
}

describe('jitter buffer', () => {
  test('steady arrivals play in order with no gaps and under one frame of delay', () => {
    const arrivals = Array.from({ length: 500 }, (_, n) => 3 + n * 20);
    const r = run(arrivals, 10, 10 + 499 * 20);
    assert.equal(r.buffer.stats.underruns, 0);
    const played = r.numbers.filter((n) => n >= 0);
    played.forEach((n, i) => assert.equal(n, i % CODES, `frame ${i}`));
    assert.ok(Math.max(...r.delays) <= 20, `delay ${Math.max(...r.delays)} ms`);
  });

  test('bursts (100 ms of nothing, then 5 frames at once) are heard without gaps once adapted', () => {
    const arrivals = Array.from({ length: 1500 }, (_, n) => Math.floor(n / 5) * 100 + 95);
    const r = run(arrivals, 7, 30_000);
    const kinds = r.kinds.slice(200); // after 4 s
    assert.equal(kinds.filter((k) => k !== 'audio').length, 0, 'no concealed or silent ticks once adapted');
    const played = r.numbers.filter((n) => n >= 0);
    for (let i = 1; i < played.length; i++) {
      const step = (played[i]! - played[i - 1]! + CODES) % CODES;
      assert.ok(step === 1 || step === 2, `contiguous audio (a drop at most one frame at a time): ${played[i - 1]} -> ${played[i]}`);
    }
    assert.ok(r.buffer.targetFrames >= 4, `target grew to cover the bursts: ${r.buffer.targetFrames} frames`);
    const late = r.delays.slice(-500);
    assert.ok(Math.max(...late) <= 140, `delay bounded: ${Math.max(...late)} ms`);
    assert.ok(r.buffer.stats.jitterMs >= 60, `jitter estimate ${r.buffer.stats.jitterMs} ms`);
  });

  for (const [name, periodMs] of [
    ['0.5 % fast', 19.9],
    ['0.5 % slow', 20.1],
  ] as const) {
    test(`a caller clock ${name} does not accumulate delay over 10 minutes`, () => {
      const frames = Math.floor((10 * 60_000) / periodMs);
      const arrivals = Array.from({ length: frames }, (_, n) => 5 + n * periodMs);
      const r = run(arrivals, 10, 10 * 60_000);
      const firstMinute = r.delays.slice(0, 3000);
      const lastMinute = r.delays.slice(-3000);
      const max = (a: number[]) => a.reduce((m, v) => Math.max(m, v), 0);
      assert.ok(max(lastMinute) <= 60, `delay in the last minute up to ${max(lastMinute).toFixed(1)} ms`);
      assert.ok(max(r.delays) <= 80, `delay never above ${max(r.delays).toFixed(1)} ms`);
      assert.ok(max(lastMinute) - max(firstMinute) <= 40, 'no creep');
      const s = r.buffer.stats;
      if (periodMs < 20) assert.ok(s.driftDrops >= 100 && s.driftDrops <= 200, `~150 frames dropped for a fast clock: ${s.driftDrops}`);
      else assert.ok(s.underruns >= 100 && s.underruns <= 200, `~150 ticks stretched for a slow clock: ${s.underruns}`);
    });
  }

  test('does not start before the target depth is buffered', () => {
    const b = new JitterBuffer({ minTargetFrames: 3 });
    const out = new Int16Array(SAMPLES_PER_FRAME);
    const info = { arrivalMs: 0, silent: true };
    b.pushMulaw(frameNumbered(0), 0);
    b.pushMulaw(frameNumbered(1), 0);
    assert.equal(b.pop(out, info), 'silence');
    b.pushMulaw(frameNumbered(2), 0);
    assert.equal(b.pop(out, info), 'audio');
    assert.equal(numberOf(out), 0);
  });

  test('a missing frame is concealed by the last frame mirrored and faded, continuous at the seam', () => {
    const b = new JitterBuffer();
    const out = new Int16Array(SAMPLES_PER_FRAME);
    const info = { arrivalMs: 0, silent: true };
    const speech = toMulaw(noise(SAMPLES_PER_FRAME, 12000, 5));
    b.pushMulaw(speech, 0);
    b.pushMulaw(speech, 0);
    b.pop(out, info);
    b.pop(out, info);
    const last = Int16Array.from(out);
    assert.equal(b.pop(out, info), 'concealed');
    assert.equal(out[0], Math.round(last[SAMPLES_PER_FRAME - 1]! * (SAMPLES_PER_FRAME / (SAMPLES_PER_FRAME + 1))), 'starts where the audio stopped');
    assert.ok(Math.abs(out[SAMPLES_PER_FRAME - 1]!) <= Math.abs(last[0]!) / 100 + 1, 'ends near zero');
    assert.equal(b.pop(out, info), 'silence', 'then silence');
    assert.ok(out.every((v) => v === 0));
    // The frame arrives late and is played (nothing is lost), fading in.
    b.pushMulaw(speech, 100);
    assert.equal(b.pop(out, info), 'audio');
    assert.equal(out[0], Math.round(MULAW_DECODE[speech[0]!]! / 81), 'first sample faded in');
    assert.equal(out[100], MULAW_DECODE[speech[100]!], 'full level after 10 ms');
    assert.equal(b.stats.underruns, 2);
    assert.equal(b.stats.concealed, 1);
  });

  test('more than capacity ahead: the oldest frames are dropped, counted', () => {
    const b = new JitterBuffer({ capacityFrames: 8 });
    for (let n = 0; n < 20; n++) b.pushMulaw(frameNumbered(n), 0);
    assert.equal(b.depth, 8);
    assert.equal(b.stats.overflowDrops, 12);
    const out = new Int16Array(SAMPLES_PER_FRAME);
    b.pop(out, { arrivalMs: 0, silent: true });
    assert.equal(numberOf(out), 12);
  });

  test('frames read late by a busy process count as on time when they could have been (earliestMs)', () => {
    // A caller sending every 20 ms (arriving at 3 + 20n); every fifth frame is read 35 ms late,
    // behind a long tick, its socket's data waiting in the kernel since before the tick began.
    const late = (n: number) => n % 5 === 4;
    const read = (n: number) => 3 + n * 20 + (late(n) ? 35 : 0);
    const feed = (withEarliest: boolean) => {
      const buffer = new JitterBuffer();
      for (let n = 0; n < 200; n++) buffer.pushMulaw(frameNumbered(n), read(n), withEarliest && late(n) ? read(n) - 36 : read(n));
      return buffer.stats;
    };
    const blind = feed(false);
    assert.ok(blind.jitterMs >= 30 && blind.jitterMs <= 35, `without it the process lag counts as network jitter: ${blind.jitterMs} ms`);
    assert.equal(blind.targetFrames, 2);
    const told = feed(true);
    assert.ok(told.jitterMs <= 1, `with it: no jitter (${told.jitterMs} ms)`);
    assert.equal(told.targetFrames, 1);
    // A frame that cannot have come in on time (its earliest is itself 30 ms late) still counts.
    const buffer = new JitterBuffer();
    for (let n = 0; n < 50; n++) buffer.pushMulaw(frameNumbered(n), 3 + n * 20);
    buffer.pushMulaw(frameNumbered(50), 3 + 50 * 20 + 45, 3 + 50 * 20 + 30);
    assert.ok(buffer.stats.jitterMs >= 29 && buffer.stats.jitterMs <= 30, `${buffer.stats.jitterMs} ms`);
    assert.equal(buffer.stats.targetFrames, 2);
  });

  test('the target shrinks back slowly after the jitter stops', () => {
    const bursty = Array.from({ length: 250 }, (_, n) => Math.floor(n / 5) * 100 + 95);
    const calm = Array.from({ length: 3000 }, (_, n) => 5000 + 3 + n * 20);
    const r = run([...bursty, ...calm], 7, 65_000);
    assert.equal(r.buffer.targetFrames, 1, 'back to one frame after a minute of calm');
    assert.ok(
      r.delays.slice(-100).every((d) => d <= 20),
      'and the delay with it',
    );
  });
});
