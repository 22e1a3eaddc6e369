/**
 * In-call keys wired to the conference (src/conference/inCallKeys.ts), on the mixer's manual
 * clock: what each key does to the caller, the tone only that caller hears, and the star's
 * timeout, with no server and no sleeps. test/integration/admin.test.ts presses the same keys
 * through a real socket.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { toneDbfs } from '../../src/audio/analysis.js';
import { SAMPLE_RATE_HZ } from '../../src/audio/format.js';
import { InCallKeys } from '../../src/conference/inCallKeys.js';
import { KEY_SEQUENCE_TIMEOUT_MS } from '../../src/conference/keypad.js';
import { captureLog } from '../helpers/log.js';
import { MixerHarness, type Caller } from '../helpers/mixer.js';

function setup() {
  const mixer = new MixerHarness();
  // The keys read the same clock the mixer's ticks run on.
  const keys = new InCallKeys(mixer.conference, { nowMs: () => mixer.nowMs }, captureLog().log);
  const a = mixer.join('CA-a');
  const b = mixer.join('CA-b');
  const press = (caller: Caller, digits: string) => [...digits].forEach((d) => mixer.conference.keypress(caller.participant, d));
  /** Level (dBFS) of `frequencyHz` in what `caller` heard over the next `ticks` ticks. */
  const hearNext = (ticks: number, ...callers: Caller[]): ((caller: Caller, frequencyHz: number) => number) => {
    const from = new Map(callers.map((c) => [c, c.heardFrames.length]));
    mixer.run(ticks);
    return (caller, frequencyHz) => toneDbfs(caller.heard(from.get(caller)!), frequencyHz, SAMPLE_RATE_HZ);
  };
  return { mixer, keys, a, b, press, hearNext };
}

describe('in-call keys on a manual clock', () => {
  test('*6 mutes and confirms to the muter only (494 Hz); *6 again unmutes (988 Hz)', () => {
    const { mixer, a, b, press, hearNext } = setup();
    mixer.run(5);
    press(a, '*6');
    assert.equal(a.participant.muted, true);
    const heard = hearNext(15, a, b);
    assert.ok(heard(a, 494) > -40, `a hears the confirmation at ${heard(a, 494).toFixed(1)} dBFS`);
    assert.ok(heard(b, 494) < -60, `b does not (${heard(b, 494).toFixed(1)} dBFS)`);
    press(a, '*6');
    assert.equal(a.participant.muted, false);
    const again = hearNext(15, a, b);
    assert.ok(again(a, 988) > -40, `a hears the unmute pips at ${again(a, 988).toFixed(1)} dBFS`);
  });

  test('the star waits KEY_SEQUENCE_TIMEOUT_MS for its digit, inclusive; a digit after that is alone', () => {
    const { mixer, a, press } = setup();
    press(a, '*');
    mixer.nowMs += KEY_SEQUENCE_TIMEOUT_MS;
    press(a, '6');
    assert.equal(a.participant.muted, true, 'a digit exactly at the timeout completes *6');
    press(a, '*');
    mixer.nowMs += KEY_SEQUENCE_TIMEOUT_MS + 1;
    press(a, '6');
    assert.equal(a.participant.muted, true, 'a digit 1 ms after the timeout does nothing');
    press(a, '6');
    assert.equal(a.participant.muted, true, 'nor does a digit with no star');
  });

  test('*9 / *7 listening volume in 3 dB steps, clamped at +12 with the limit tone (440 Hz)', () => {
    const { mixer, a, b, press, hearNext } = setup();
    press(a, '*9');
    assert.equal(a.participant.listenVolumeDb, 3);
    const step = hearNext(10, a, b);
    assert.ok(step(a, 740) > -40, `a hears the volume pip at ${step(a, 740).toFixed(1)} dBFS`);
    assert.ok(step(b, 740) < -60, 'b does not');
    press(a, '*9*9*9');
    assert.equal(a.participant.listenVolumeDb, 12);
    mixer.run(10);
    press(a, '*9');
    assert.equal(a.participant.listenVolumeDb, 12, 'clamped');
    const limit = hearNext(10, a);
    assert.ok(limit(a, 440) > -40, `at the limit: the limit tone at ${limit(a, 440).toFixed(1)} dBFS`);
    press(a, '*7');
    assert.equal(a.participant.listenVolumeDb, 9);
    assert.equal(b.participant.listenVolumeDb, 0, "b's volume is b's own");
  });

  test('*5 counts the participants in 1175 Hz pips to the caller only; *8 leaves', () => {
    const { mixer, a, b, press, hearNext } = setup();
    press(a, '*5');
    const count = hearNext(25, a, b);
    assert.ok(count(a, 1175) > -40, `a hears the count at ${count(a, 1175).toFixed(1)} dBFS`);
    assert.ok(count(b, 1175) < -60, `b does not (${count(b, 1175).toFixed(1)} dBFS)`);
    press(a, '*8');
    assert.equal(a.ended, 'left', "a's stream is ended: Twilio plays the goodbye");
    assert.equal(mixer.conference.participant(a.participant.callSid), undefined);
    assert.equal(mixer.conference.room('1')?.size, 1);
    press(a, '*6');
    assert.equal(a.participant.muted, false, 'keys of a caller who left do nothing');
  });
});
