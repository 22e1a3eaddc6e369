import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { TalkDetector } from '../../src/audio/talkDetector.js';

/** Feeds levels (dBFS), one per 20 ms frame; returns [gateOpen, talking] per frame. */
function feed(d: TalkDetector, levels: number[]): Array<[boolean, boolean]> {
  return levels.map((l) => {
    const s = d.updateLevel(l);
    return [s.gateOpen, s.talking];
  });
}
const repeat = (level: number, frames: number) => Array<number>(frames).fill(level);

describe('talk detector', () => {
  test('the gate opens on the first frame above -45 dBFS; talk is confirmed on the third', () => {
    const d = new TalkDetector();
    const r = feed(d, [...repeat(-96, 10), ...repeat(-20, 3)]);
    assert.deepEqual(r.slice(10), [[true, false], [true, false], [true, true]]);
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
    assert.ok(blip.every(([, talking]) => !talking), 'and is never talk');
  });

  test('short pauses inside speech keep it talking', () => {
    const d = new TalkDetector();
    const pattern = Array.from({ length: 10 }, () => [...repeat(-18, 15), ...repeat(-70, 10)]).flat();
    const r = feed(d, pattern);
    assert.ok(r.slice(3).every(([open, talking]) => open && talking));
  });

  test('a noisy line does not count as talking forever: steady noise is background within 6 s', () => {
    const d = new TalkDetector();
    const r = feed(d, repeat(-30, 500));
    const lastTalk = r.map(([, t]) => t).lastIndexOf(true);
    assert.ok(lastTalk >= 0 && lastTalk <= 6 * 50 + 40, `talking until frame ${lastTalk}`);
    assert.ok(r.slice(350).every(([open]) => !open), 'gated after that');
    assert.ok(Math.abs(d.state.noiseFloorDbfs + 30) < 0.01, 'the floor is the noise');
    // Speech 12 dB above that noise still opens it.
    const speech = feed(d, repeat(-15, 5));
    assert.ok(speech.at(-1)![0] && speech.at(-1)![1]);
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
