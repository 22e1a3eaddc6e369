/**
 * Issue 17, moderated rooms (src/conference/moderation.ts) on the mixer's manual clock, with the
 * in-call keys: the wait for the moderator (the wait sound, nobody mixed), the start, startMuted and
 * the hard mute *6 cannot undo, the moderator keys, and the goodbye then the end when the last
 * moderator leaves (the end scheduled by hand). test/integration/moderation.test.ts does the same
 * through real webhooks and sockets.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { rmsDbfs, toneDbfs } from '../../src/audio/analysis.js';
import { SAMPLE_RATE_HZ, SAMPLES_PER_FRAME } from '../../src/audio/format.js';
import { decodeMulaw, encodeMulaw } from '../../src/audio/mulaw.js';
import { waitLoop } from '../../src/audio/tones.js';
import { InCallKeys } from '../../src/conference/inCallKeys.js';
import { GOODBYE_MS, Moderation, type ModerationSettings } from '../../src/conference/moderation.js';
import { tone } from '../helpers/audio.js';
import { captureLog } from '../helpers/log.js';
import { MixerHarness, type Caller } from '../helpers/mixer.js';

const MODERATOR = { moderator: true } as const;

function setup(settings: Partial<ModerationSettings>) {
  const mixer = new MixerHarness();
  const scheduled: Array<{ fn: () => void; ms: number }> = [];
  const ended: string[] = [];
  const moderation = new Moderation(mixer.conference, {
    waitSound: () => waitLoop(),
    endRoom: (room) => {
      ended.push(room);
      mixer.conference.closeRoom(room, 'moderator-left');
    },
    schedule: (fn, ms) => scheduled.push({ fn, ms }),
    othersHearJoinBeep: false,
    log: captureLog().log,
  });
  moderation.configure('1', { waitForModerator: false, endWhenModeratorLeaves: false, startMuted: false, ...settings });
  new InCallKeys(mixer.conference, { nowMs: () => mixer.nowMs }, captureLog().log);
  const press = (caller: Caller, digits: string) => [...digits].forEach((d) => mixer.conference.keypress(caller.participant, d));
  const started: string[] = [];
  moderation.on('started', (room) => started.push(room.id));
  return { mixer, moderation, scheduled, ended, press, started };
}

/** Level (dB relative to the sent tone) of `hz` in frames `from`..`to` of what `listener` heard. */
const heardDb = (listener: Caller, hz: number, from: number, to: number, sent: Int16Array) =>
  toneDbfs(listener.heard(from, to), hz, SAMPLE_RATE_HZ) - toneDbfs(sent, hz, SAMPLE_RATE_HZ);

/** A tone as the server decodes it (through mu-law). */
function sentTone(hz: number, ms: number): Int16Array {
  const pcm = tone(hz, -20, ms);
  const mulaw = new Uint8Array(pcm.length);
  encodeMulaw(pcm, mulaw);
  const out = new Int16Array(pcm.length);
  decodeMulaw(mulaw, out);
  return out;
}

describe('moderated rooms on a manual clock', () => {
  test('waitForModerator: the wait sound and nobody mixed; the moderator starts the room, then all hear all', () => {
    const { mixer, started } = setup({ waitForModerator: true });
    const a = mixer.join('CA-a', '1', tone(1300, -20, 10_000));
    const b = mixer.join('CA-b', '1', tone(1900, -20, 10_000));
    assert.equal(mixer.conference.room('1')?.waitingForModerator, true);
    mixer.run(210);
    const loop = waitLoop();
    const period = loop.length / SAMPLES_PER_FRAME;
    const loopDbfs = rmsDbfs(loop);
    for (const c of [a, b]) {
      const heard = rmsDbfs(c.heard(5, 5 + period));
      assert.ok(Math.abs(heard - loopDbfs) <= 0.5, `${c.callSid} hears the wait loop at ${heard.toFixed(2)} dBFS (loop ${loopDbfs.toFixed(2)})`);
    }
    const sentA = sentTone(1300, 1000);
    const sentB = sentTone(1900, 1000);
    assert.ok(heardDb(a, 1900, 10, 210, sentB) <= -60 && heardDb(b, 1300, 10, 210, sentA) <= -60, 'not mixed with each other');
    assert.deepEqual(started, []);
    const m = mixer.join('CA-m', '1', tone(2500, -20, 10_000), MODERATOR);
    assert.equal(mixer.conference.room('1')?.waitingForModerator, false);
    assert.deepEqual(started, ['1']);
    const from = new Map([a, b, m].map((c) => [c, c.heardFrames.length]));
    mixer.run(30);
    // From the second frame after the start (the first ramps in over 10 ms), everyone as sent.
    const sentM = sentTone(2500, 1000);
    for (const [l, hz, sent] of [
      [a, 1900, sentB],
      [b, 1300, sentA],
      [m, 1300, sentA],
      [a, 2500, sentM],
    ] as const) {
      const level = heardDb(l, hz, from.get(l)! + 1, from.get(l)! + 30, sent);
      assert.ok(Math.abs(level) <= 0.5, `${l.callSid} hears ${hz} Hz at ${level.toFixed(2)} dB`);
    }
  });

  test("startMuted: a hard mute *6 cannot undo (the caller hears the 392 Hz refusal); the moderator's *1 unmutes, *3 removes the last joined", () => {
    const { mixer, press } = setup({ startMuted: true });
    const m = mixer.join('CA-m', '1', null, MODERATOR);
    const a = mixer.join('CA-a', '1', tone(1300, -20, 10_000));
    assert.equal(m.participant.muted, false);
    assert.equal(a.participant.muted, true);
    assert.equal(a.participant.hardMuted, true);
    mixer.run(20);
    press(a, '*6');
    const from = a.heardFrames.length;
    mixer.run(30);
    assert.equal(a.participant.muted, true, '*6 refused');
    // 150 ms of a -16 dBFS-peak note in a 600 ms window: about -31 dBFS; silence would be -Infinity.
    const refusal = toneDbfs(a.heard(from, from + 30), 392, SAMPLE_RATE_HZ);
    assert.ok(refusal > -36, `a hears the refusal at ${refusal.toFixed(1)} dBFS`);
    assert.ok(heardDb(m, 1300, 0, m.heardFrames.length, sentTone(1300, 1000)) <= -60, 'the moderator does not hear a');
    press(a, '*1'); // not a moderator: nothing
    assert.equal(a.participant.muted, true);
    press(m, '*1'); // everyone but the moderators is muted already: *1 unmutes them
    assert.equal(a.participant.muted, false);
    const unmutedAt = m.heardFrames.length;
    mixer.run(10);
    const level = heardDb(m, 1300, unmutedAt + 1, unmutedAt + 10, sentTone(1300, 1000));
    assert.ok(Math.abs(level) <= 0.5, `heard from the tick after *1: ${level.toFixed(2)} dB`);
    press(m, '*1');
    assert.equal(a.participant.hardMuted, true);
    mixer.nowMs += 1000;
    const late = mixer.join('CA-late', '1');
    press(m, '*3');
    assert.equal(late.ended, 'kicked', 'the last joined is removed');
    assert.equal(a.ended, null);
    press(m, '*3');
    assert.equal(a.ended, 'kicked');
    press(m, '*3'); // nobody left but the moderator: nothing
    assert.equal(m.ended, null);
  });

  test('the settings outlive the room: it waits again when it opens again; turned off while waiting, it starts', () => {
    const { mixer, moderation, started } = setup({ waitForModerator: true });
    const a = mixer.join('CA-a');
    mixer.leave(a);
    assert.equal(mixer.conference.room('1'), undefined);
    mixer.join('CA-b');
    assert.equal(mixer.conference.room('1')?.waitingForModerator, true);
    moderation.configure('1', { waitForModerator: false, endWhenModeratorLeaves: false, startMuted: false });
    assert.equal(mixer.conference.room('1')?.waitingForModerator, false);
    assert.deepEqual(started, ['1']);
  });

  test('endWhenModeratorLeaves: the goodbye to everyone, then the room ends; a moderator back in time keeps it', () => {
    const { mixer, scheduled, ended } = setup({ endWhenModeratorLeaves: true });
    const m = mixer.join('CA-m', '1', null, MODERATOR);
    const m2 = mixer.join('CA-m2', '1', null, MODERATOR);
    const a = mixer.join('CA-a');
    mixer.run(5);
    mixer.leave(m);
    assert.equal(scheduled.length, 0, 'another moderator is still in');
    mixer.leave(m2);
    assert.equal(scheduled.length, 1);
    assert.equal(scheduled[0]!.ms, GOODBYE_MS);
    const from = a.heardFrames.length;
    mixer.run(GOODBYE_MS / 20);
    // The 180 ms 660 Hz note of the goodbye (-16 dBFS peak) in a 700 ms window: about -31 dBFS.
    const goodbye = toneDbfs(a.heard(from), 660, SAMPLE_RATE_HZ);
    assert.ok(goodbye > -36, `a hears the goodbye at ${goodbye.toFixed(1)} dBFS`);
    // A moderator back before the end: the room stays.
    const back = mixer.join('CA-back', '1', null, MODERATOR);
    scheduled.shift()!.fn();
    assert.deepEqual(ended, []);
    mixer.leave(back);
    scheduled.shift()!.fn();
    assert.deepEqual(ended, ['1']);
    assert.equal(a.ended, 'moderator-left');
    // A room ended as a whole (the API's /end) with its moderator in it: no goodbye, nothing scheduled.
    mixer.join('CA-m3', '1', null, MODERATOR);
    mixer.join('CA-c');
    mixer.conference.closeRoom('1', 'room-closed');
    assert.equal(scheduled.length, 0);
  });

  test("the room's started mark: set by its first moderator, kept when its calls move, cleared when it is over; markStarted releases a waiting room", () => {
    const { mixer, moderation, scheduled, ended, started } = setup({ waitForModerator: true, endWhenModeratorLeaves: true });
    const marks: Array<[string, boolean]> = [];
    moderation.on('startedMark', (room, on) => marks.push([room, on]));
    const off = { waitForModerator: false, endWhenModeratorLeaves: false, startMuted: false };
    const m = mixer.join('CA-m', '1', null, MODERATOR);
    const m2 = mixer.join('CA-m2', '1', null, MODERATOR);
    mixer.join('CA-a');
    assert.deepEqual(marks, [['1', true]], 'once, by the first moderator');
    // endWhenModeratorLeaves turned off during the goodbye: the room is not ended.
    mixer.leave(m);
    mixer.leave(m2);
    assert.equal(scheduled.length, 1);
    moderation.configure('1', { ...off, waitForModerator: true });
    scheduled.shift()!.fn();
    assert.deepEqual(ended, []);
    // The calls move (a fence): the shared mark stays; this process forgets it (the room is another node's now).
    mixer.conference.closeRoom('1', 'moved');
    assert.deepEqual(marks, [['1', true]]);
    assert.equal(moderation.hasStarted('1'), false);
    // A stream broke (the call rejoins here): the room opens again started.
    moderation.markStarted('1');
    const broken = mixer.join('CA-x');
    mixer.leave(broken, 'socket-closed');
    assert.equal(moderation.hasStarted('1'), true);
    const b = mixer.join('CA-b');
    assert.equal(mixer.conference.room('1')?.waitingForModerator, false, 'started: no wait');
    // Everyone hung up: over, the mark cleared; the next opening waits.
    mixer.leave(b);
    assert.deepEqual(marks, [
      ['1', true],
      ['1', false],
    ]);
    mixer.join('CA-c');
    assert.equal(mixer.conference.room('1')?.waitingForModerator, true);
    // Told the room started elsewhere (a cluster's mark): released without the start beep.
    const before = started.length;
    moderation.markStarted('1');
    assert.equal(mixer.conference.room('1')?.waitingForModerator, false);
    assert.equal(started.length, before + 1);
    assert.equal(mixer.conference.room('1')?.activeCues, 0, 'no beep, no wait sound');
  });

  test("endWhenModeratorLeaves: the moderator's stream breaking (the call rejoins) is not leaving; a hang-up is", () => {
    const { mixer, scheduled, ended } = setup({ endWhenModeratorLeaves: true });
    const m = mixer.join('CA-m', '1', null, MODERATOR);
    const a = mixer.join('CA-a');
    mixer.run(5);
    for (const reason of ['socket-closed', 'error', 'moved'] as const) {
      const back = mixer.join(`CA-m-${reason}`, '1', null, MODERATOR);
      mixer.leave(back, reason);
    }
    mixer.leave(m, 'socket-closed');
    assert.equal(scheduled.length, 0, 'no goodbye while the moderator rejoins');
    assert.equal(a.ended, null);
    const again = mixer.join('CA-m', '1', null, MODERATOR);
    mixer.leave(again, 'hangup');
    assert.equal(scheduled.length, 1, 'a hang-up is the moderator leaving');
    scheduled.shift()!.fn();
    assert.deepEqual(ended, ['1']);
  });
});
