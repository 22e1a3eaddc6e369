/** In-call keys (src/conference/keypad.ts): `*` + digit sequences with timeouts given as input. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { KEY_MAP, KEY_SEQUENCE_TIMEOUT_MS, KeySequence } from '../../src/conference/keypad.js';

/** Presses `keys` (a string) at the given times (ms), returning each press's action. */
function run(keys: string, times: number[], seq = new KeySequence()) {
  return [...keys].map((k, i) => seq.press(k, times[i]!));
}

describe('KeySequence', () => {
  test('the key map: *6 mute, *7/*9 volume, *5 count, *8 leave; moderators *1 mute-all, *2 lock, *3 kick the last', () => {
    assert.deepEqual(KEY_MAP, {
      '6': 'toggle-mute',
      '7': 'volume-down',
      '9': 'volume-up',
      '5': 'count',
      '8': 'leave',
      '1': 'mute-all',
      '2': 'lock',
      '3': 'kick-last',
    });
    for (const [digit, action] of Object.entries(KEY_MAP)) assert.deepEqual(run(`*${digit}`, [0, 100]), [null, action]);
  });

  test('a digit without a star does nothing; nor does an unmapped digit or #', () => {
    assert.deepEqual(run('6', [0]), [null]);
    assert.deepEqual(run('*4', [0, 10]), [null, null]);
    assert.deepEqual(run('*#', [0, 10]), [null, null]);
    assert.deepEqual(run('#6', [0, 10]), [null, null]);
  });

  test('the star waits KEY_SEQUENCE_TIMEOUT_MS for its digit, inclusive; after that the digit is alone', () => {
    assert.deepEqual(run('*6', [1000, 1000 + KEY_SEQUENCE_TIMEOUT_MS]), [null, 'toggle-mute']);
    assert.deepEqual(run('*6', [1000, 1001 + KEY_SEQUENCE_TIMEOUT_MS]), [null, null]);
  });

  test('a sequence is used up by its digit: *66 toggles once; ** re-arms; sequences follow each other', () => {
    assert.deepEqual(run('*66', [0, 10, 20]), [null, 'toggle-mute', null]);
    assert.deepEqual(run('**6', [0, 10, 20]), [null, null, 'toggle-mute']);
    assert.deepEqual(run('*9*9*7', [0, 10, 20, 30, 40, 50]), [null, 'volume-up', null, 'volume-up', null, 'volume-down']);
    const seq = new KeySequence();
    seq.press('*', 0);
    assert.equal(seq.armed, true);
    seq.press('1', 5);
    assert.equal(seq.armed, false);
  });

  test('a stale star is replaced by a new one', () => {
    assert.deepEqual(run('**6', [0, 10_000, 10_100]), [null, null, 'toggle-mute']);
  });

  test('a custom timeout and map', () => {
    const seq = new KeySequence(500, { '1': 'count' });
    assert.deepEqual(run('*1*6', [0, 400, 1000, 1100], seq), [null, 'count', null, null]);
  });
});
