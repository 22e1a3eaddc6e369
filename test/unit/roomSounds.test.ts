/**
 * A room's own sounds on the mixer's manual clock, no server and no sleeps: the join and leave
 * beeps and the wait loop (src/conference/roomAudio.ts), and the stored sound settings a room
 * takes when it opens (src/rooms/roomSound.ts). test/integration/admin.test.ts hears the same
 * through real sockets.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { rmsDbfs, toneDbfs } from '../../src/audio/analysis.js';
import { SAMPLE_RATE_HZ } from '../../src/audio/format.js';
import type { RoomDirectory, RoomRecord } from '../../src/rooms/directory.js';
import { RoomAudio, type RoomAudioOptions } from '../../src/conference/roomAudio.js';
import { applyRoomSoundSettings } from '../../src/rooms/roomSound.js';
import { captureLog } from '../helpers/log.js';
import { MixerHarness, type Caller } from '../helpers/mixer.js';

const TICKS_PER_SECOND = 50;

/** Level (dBFS) of `frequencyHz` in what `caller` heard from tick `fromTick` to `toTick` (harness ticks). */
function heardTone(caller: Caller, joinedAtTick: number, frequencyHz: number, fromTick: number, toTick: number): number {
  return toneDbfs(caller.heard(fromTick - joinedAtTick, toTick - joinedAtTick), frequencyHz, SAMPLE_RATE_HZ);
}

function withSounds(options: Partial<RoomAudioOptions> = {}) {
  const mixer = new MixerHarness();
  new RoomAudio(mixer.conference, { beep: 'on', waitTone: true, echoWhenAlone: false, ...options });
  return mixer;
}

describe('room sounds on a manual clock', () => {
  test('alone: the wait loop; someone joins: it stops, the others (not the joiner) hear the rising beep; a leave: the falling beep', () => {
    const mixer = withSounds();
    const a = mixer.join('CA-a');
    const aAt = mixer.ticks;
    mixer.run(TICKS_PER_SECOND / 2);
    const bAt = mixer.ticks;
    const b = mixer.join('CA-b');
    mixer.run(TICKS_PER_SECOND * 2);
    // The loop's first note (659 Hz) before b came; its third (392 Hz, 700-1400 ms in) never.
    const loop = heardTone(a, aAt, 659, aAt + 1, bAt);
    const third = heardTone(a, aAt, 392, aAt + 35, aAt + 70);
    assert.ok(loop > -50, `a alone hears the wait loop at ${loop.toFixed(1)} dBFS`);
    assert.ok(third < -70, `the loop stopped when b joined (${third.toFixed(1)} dBFS)`);
    // The join beep's second note (880 Hz) to a, not to b.
    const beepA = heardTone(a, aAt, 880, bAt, bAt + 25);
    const beepB = heardTone(b, bAt, 880, bAt, bAt + 25);
    assert.ok(beepA > -40, `a hears the join beep at ${beepA.toFixed(1)} dBFS`);
    assert.ok(beepB < -60, `b does not (${beepB.toFixed(1)} dBFS)`);
    // b leaves: a hears the falling beep, then the wait loop again (alone).
    const leftAt = mixer.ticks;
    mixer.leave(b);
    mixer.run(TICKS_PER_SECOND);
    const leave = heardTone(a, aAt, 880, leftAt, leftAt + 20);
    assert.ok(leave > -40, `a hears the leave beep at ${leave.toFixed(1)} dBFS`);
    const loopAgain = heardTone(a, aAt, 523, leftAt + 18, leftAt + 35); // the loop's second note, 350-700 ms in
    assert.ok(loopAgain > -50, `alone again: the wait loop at ${loopAgain.toFixed(1)} dBFS`);
  });

  test('BEEP=off and WAIT_TONE=off: a room of silent callers is silent', () => {
    const mixer = withSounds({ beep: 'off', waitTone: false });
    const a = mixer.join('CA-a');
    mixer.run(10);
    const b = mixer.join('CA-b');
    mixer.run(20);
    mixer.leave(b);
    mixer.run(20);
    assert.equal(rmsDbfs(a.heard()), -Infinity, 'digital silence throughout');
  });

  test('onEnter beeps on a join only; onExit on a leave only', () => {
    for (const [beep, onJoin, onLeave] of [
      ['onEnter', true, false],
      ['onExit', false, true],
    ] as const) {
      const mixer = withSounds({ beep, waitTone: false });
      const a = mixer.join('CA-a');
      mixer.run(5);
      const joinedAt = mixer.ticks;
      const b = mixer.join('CA-b');
      mixer.run(20);
      const leftAt = mixer.ticks;
      mixer.leave(b);
      mixer.run(20);
      const joinBeep = heardTone(a, 0, 880, joinedAt, joinedAt + 20);
      const leaveBeep = heardTone(a, 0, 880, leftAt, leftAt + 20);
      assert.equal(joinBeep > -40, onJoin, `${beep}: join beep at ${joinBeep.toFixed(1)} dBFS`);
      assert.equal(leaveBeep > -40, onLeave, `${beep}: leave beep at ${leaveBeep.toFixed(1)} dBFS`);
    }
  });
});

/** A directory whose answers the test releases: the room store answers asynchronously. */
class SlowDirectory implements Pick<RoomDirectory, 'get'> {
  readonly asked: string[] = [];
  private readonly answers: Array<() => void> = [];
  constructor(private readonly records: Map<string, RoomRecord>) {}
  get(id: string): Promise<RoomRecord | null> {
    this.asked.push(id);
    return new Promise((resolve) => this.answers.push(() => resolve(this.records.get(id) ?? null)));
  }
  answerAll(): Promise<void> {
    for (const answer of this.answers.splice(0)) answer();
    return new Promise((resolve) => setImmediate(resolve));
  }
}

describe('stored room sound settings (rooms/roomSound.ts)', () => {
  test("an opening room takes its stored settings once the store answers; until then the server's defaults", async () => {
    const mixer = new MixerHarness();
    const record = { id: '8150', backgroundGate: false, noiseSuppression: true } as RoomRecord;
    const directory = new SlowDirectory(new Map([['8150', record]]));
    const captured = captureLog();
    applyRoomSoundSettings(mixer.conference, directory as unknown as RoomDirectory, captured.log);
    mixer.join('CA-a', '8150');
    mixer.join('CA-b', '9999'); // nothing stored: defaults
    const room = mixer.conference.room('8150')!;
    const defaults = { ...room.audio };
    mixer.run(3);
    assert.deepEqual(room.audio, defaults, 'the defaults until the store answers');
    assert.deepEqual(directory.asked, ['8150', '9999']);
    await directory.answerAll();
    assert.deepEqual(room.audio, { backgroundGate: false, noiseSuppression: true });
    assert.deepEqual(mixer.conference.room('9999')!.audio, defaults);
    assert.equal(captured.lines.filter((l) => /room sound settings applied/.test(l.msg)).length, 1);
  });

  test('a room closed before the store answers is left alone', async () => {
    const mixer = new MixerHarness();
    const directory = new SlowDirectory(new Map([['8150', { id: '8150', backgroundGate: false, noiseSuppression: true } as RoomRecord]]));
    applyRoomSoundSettings(mixer.conference, directory as unknown as RoomDirectory, captureLog().log);
    const a = mixer.join('CA-a', '8150');
    const room = mixer.conference.room('8150')!;
    const before = { ...room.audio };
    mixer.leave(a);
    await directory.answerAll();
    assert.deepEqual(room.audio, before);
  });
});
