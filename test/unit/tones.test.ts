/** The room's synthesized sounds (src/audio/tones.ts): frequencies, levels, lengths, no clicks. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { peakDbfs, toneDbfs } from '../../src/audio/analysis.js';
import { SAMPLE_RATE_HZ } from '../../src/audio/format.js';
import {
  COUNT_PIP,
  countTones,
  CUE_PEAK_DBFS,
  joinBeep,
  leaveBeep,
  mutedTone,
  renderNotes,
  unmutedTone,
  waitLoop,
  WAIT_PEAK_DBFS,
} from '../../src/audio/tones.js';

const ms = (samples: Int16Array) => (samples.length / SAMPLE_RATE_HZ) * 1000;
/** Lengths (ms) of the sounding parts: a burst ends at 8 or more zero samples in a row (1 ms). */
function bursts(pcm: Int16Array): number[] {
  const out: number[] = [];
  let start = -1;
  let zeros = 0;
  for (let i = 0; i <= pcm.length; i++) {
    const zero = i === pcm.length || pcm[i] === 0;
    if (!zero) {
      if (start < 0) start = i;
      zeros = 0;
    } else if (start >= 0 && ++zeros >= 8) {
      out.push(Math.round(((i - zeros + 1 - start) / SAMPLE_RATE_HZ) * 1000));
      start = -1;
    } else if (start >= 0 && i === pcm.length) {
      out.push(Math.round(((i - zeros - start) / SAMPLE_RATE_HZ) * 1000));
    }
  }
  return out;
}

describe('tones', () => {
  test('join beep rises 660 -> 880 Hz, leave beep falls, 180 ms at the cue level', () => {
    const join = joinBeep();
    const leave = leaveBeep();
    assert.equal(ms(join), 180);
    assert.ok(Math.abs(peakDbfs(join) - CUE_PEAK_DBFS) < 0.1);
    const first = (pcm: Int16Array, hz: number) => toneDbfs(pcm, hz, SAMPLE_RATE_HZ, 0, 640);
    assert.ok(first(join, 660) > first(join, 880) + 20, 'join starts low');
    assert.ok(first(leave, 880) > first(leave, 660) + 20, 'leave starts high');
  });

  test('muted and unmuted confirmations differ: one low tone, two high pips', () => {
    assert.deepEqual(bursts(mutedTone()), [150]);
    assert.deepEqual(bursts(unmutedTone()), [60, 60]);
  });

  test('the count in tones: each digit as pips, 0 as a long tone', () => {
    assert.deepEqual(bursts(countTones(3)), [80, 80, 80]);
    assert.deepEqual(bursts(countTones(12)), [80, 80, 80]);
    assert.deepEqual(bursts(countTones(20)), [80, 80, 400]);
    const pips = countTones(1);
    assert.ok(toneDbfs(pips, COUNT_PIP.frequencyHz, SAMPLE_RATE_HZ) > -25);
  });

  test('the wait loop is soft and ends in silence (loops without a click)', () => {
    const loop = waitLoop();
    assert.equal(ms(loop), 4000);
    assert.ok(peakDbfs(loop) <= WAIT_PEAK_DBFS + 0.1);
    assert.equal(loop.at(-1), 0);
    assert.equal(loop[0], 0);
  });

  test('notes start and end at zero (raised-cosine edges)', () => {
    const pcm = renderNotes([{ frequencyHz: 1000, durationMs: 50 }], { peakDbfs: -6 });
    assert.equal(pcm[0], 0);
    assert.equal(pcm.at(-1), 0);
    assert.ok(Math.abs(pcm[1]!) < 200, 'no step at the start');
  });
});
