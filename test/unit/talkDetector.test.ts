import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { SAMPLE_RATE_HZ, SAMPLES_PER_FRAME } from '../../src/audio/format.js';
import { TalkDetector } from '../../src/audio/talkDetector.js';
import { carNoise, hum, pinkNoise, streetNoise, tone } from '../helpers/audio.js';

const FS = SAMPLE_RATE_HZ;

/** Feeds levels (dBFS), one per 20 ms frame; returns [gateOpen, talking] per frame. */
function feed(d: TalkDetector, levels: number[]): Array<[boolean, boolean]> {
  return levels.map((l) => {
    const s = d.updateLevel(l);
    return [s.gateOpen, s.talking];
  });
}
const repeat = (level: number, frames: number) => Array<number>(frames).fill(level);
/** Feeds a signal frame by frame (update: level and spectrum); returns [gateOpen, talking] per frame. */
function frames(d: TalkDetector, signal: Int16Array): Array<[boolean, boolean]> {
  const out: Array<[boolean, boolean]> = [];
  for (let i = 0; i + SAMPLES_PER_FRAME <= signal.length; i += SAMPLES_PER_FRAME) {
    const s = d.update(signal.subarray(i, i + SAMPLES_PER_FRAME));
    out.push([s.gateOpen, s.talking]);
  }
  return out;
}

describe('talk detector', () => {
  test('the gate opens on the first frame above -45 dBFS; talk is confirmed on the third', () => {
    const d = new TalkDetector();
    const r = feed(d, [...repeat(-96, 10), ...repeat(-20, 3)]);
    assert.deepEqual(r.slice(10), [
      [true, false],
      [true, false],
      [true, true],
    ]);
  });

  test('quiet sound below the absolute threshold never opens it', () => {
    const d = new TalkDetector();
    assert.ok(feed(d, repeat(-50, 500)).every(([open]) => !open));
  });

  test('hangover: 800 ms after confirmed talk, 100 ms after an unconfirmed blip', () => {
    const d = new TalkDetector();
    const talk = feed(d, [...repeat(-20, 20), ...repeat(-96, 50)]);
    const closedAt = talk.findIndex(([open], i) => i >= 20 && !open);
    assert.equal(closedAt - 20, 39, 'closes on the 40th quiet frame (800 ms)');
    const d2 = new TalkDetector();
    const blip = feed(d2, [-20, ...repeat(-96, 10)]);
    assert.equal(blip.findIndex(([open], i) => i >= 1 && !open) - 1, 4, 'a click holds the gate 100 ms (closes on the 5th quiet frame)');
    assert.ok(
      blip.every(([, talking]) => !talking),
      'and is never talk',
    );
  });

  test('short pauses inside speech keep it talking', () => {
    const d = new TalkDetector();
    const pattern = Array.from({ length: 10 }, () => [...repeat(-18, 15), ...repeat(-70, 10)]).flat();
    const r = feed(d, pattern);
    assert.ok(r.slice(3).every(([open, talking]) => open && talking));
  });

  test('a level with no spectrum (updateLevel) is never taken for noise: the floor stops at the -40 dBFS ceiling', () => {
    const d = new TalkDetector();
    feed(d, repeat(-30, 500));
    assert.equal(d.state.noiseFloorDbfs, -40, 'the floor is capped');
    const r = feed(d, repeat(-25, 100));
    assert.ok(
      r.every(([open]) => open),
      '-25 dBFS (above -40 + 12) passes for as long as it lasts',
    );
  });

  test('issue 14: steady broadband noise is still background within 6 s, however loud; a tone at the same level is not', () => {
    for (const levelDbfs of [-35, -25]) {
      const d = new TalkDetector();
      const r = frames(d, pinkNoise(10 * FS, levelDbfs, 3));
      const lastOpen = r.map(([open]) => open).lastIndexOf(true);
      assert.ok(lastOpen <= 6 * 50, `pink noise at ${levelDbfs} dBFS: gated from frame ${lastOpen + 1}`);
      assert.ok(d.state.noiseFloorDbfs > levelDbfs - 6, `the floor (${d.state.noiseFloorDbfs.toFixed(1)}) follows the noise above the ceiling`);
      // Speech 12 dB above that noise still opens it.
      assert.ok(d.updateLevel(levelDbfs + 13).gateOpen);
    }
    const d = new TalkDetector();
    const r = frames(d, tone(1000, -20, 60_000));
    assert.ok(
      r.every(([open]) => open),
      'a 60 s tone at -20 dBFS is never gated',
    );
    assert.equal(d.state.noiseFloorDbfs, -40);
  });

  test('issue 14: car and street noise at -30 dBFS become the floor; a floor ceiling of -50 gates less', () => {
    for (const noise of [carNoise(10 * FS, -30, 5), streetNoise(10 * FS, -30, 5)]) {
      const d = new TalkDetector();
      const r = frames(d, noise);
      assert.ok(r.slice(6 * 50).every(([open]) => !open));
    }
    const d = new TalkDetector({ floorCeilingDbfs: -50 });
    frames(d, tone(1000, -35, 8000));
    assert.equal(d.state.noiseFloorDbfs, -50);
    assert.ok(d.state.gateOpen, 'a -38 dBFS tone passes over a -50 dBFS ceiling');
  });

  test('issue 14: hum at -50 dBFS and pink noise at -45 dBFS never feed the mix after 6 s', () => {
    for (const [name, signal] of [
      ['hum', hum(10 * FS, -50)],
      ['pink noise', pinkNoise(10 * FS, -45, 2)],
    ] as const) {
      const d = new TalkDetector();
      const r = frames(d, signal);
      const lastOpen = r.map(([open]) => open).lastIndexOf(true);
      assert.ok(lastOpen < 6 * 50, `${name}: open until frame ${lastOpen}`);
    }
  });

  test('backgroundGate off: everything but digital silence feeds the mix; talk is still detected', () => {
    const d = new TalkDetector();
    d.backgroundGate = false;
    const r = frames(d, pinkNoise(8 * FS, -55, 4));
    assert.ok(
      r.every(([open]) => open),
      'quiet steady noise passes',
    );
    assert.ok(
      r.every(([, talking]) => !talking),
      'but is not talk',
    );
    assert.equal(d.update(new Int16Array(160)).gateOpen, false, 'digital silence does not');
  });

  test('the floor follows a quieter background at once', () => {
    const d = new TalkDetector();
    feed(d, repeat(-30, 400));
    feed(d, repeat(-60, 2));
    assert.equal(d.state.noiseFloorDbfs, -60);
    assert.ok(feed(d, [-40])[0]![0], '-40 dBFS opens again over a -60 floor');
  });

  test('update() measures the frame RMS in dBFS', () => {
    const d = new TalkDetector();
    const frame = Int16Array.from({ length: 160 }, (_, i) => (i % 2 ? 3277 : -3277)); // square at -20 dBFS
    assert.ok(Math.abs(d.update(frame).levelDbfs + 20) < 0.01);
    assert.equal(d.update(new Int16Array(160)).levelDbfs, -96);
  });
});
