/**
 * A participant's input queue (src/conference/inputQueue.ts): FIFO of decoded 20 ms frames,
 * underruns, overflow dropping the oldest, the silent flag, the drift rule (a frame is dropped
 * when the depth seen at every pop of a 50-pop window was at least 2), arrival times.
 * Expected samples are built with MULAW_DECODE.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { MULAW_DECODE } from '../../src/audio/mulaw.js';
import { InputQueue } from '../../src/conference/inputQueue.js';

const FRAME = 160;
const DRIFT_WINDOW = 50;

/** A mu-law frame unique to `n` that is not silent (no 0xFF / 0x7F bytes). */
function frame(n: number): Uint8Array {
  return Uint8Array.from({ length: FRAME }, (_, i) => {
    const b = (n * 31 + i * 7) % 254; // 0..253
    return b === 0x7f ? 0x10 : b;
  });
}

function decoded(mulaw: Uint8Array): Int16Array {
  return Int16Array.from(mulaw, (c) => MULAW_DECODE[c]!);
}

/** Pops one frame and copies it (the queue lends its slot). */
function pop(queue: InputQueue): { samples: Int16Array | null; arrivalMs: number; silent: boolean } {
  const out = { arrivalMs: -1, silent: false };
  const slot = queue.pop(out);
  return { samples: slot ? slot.slice() : null, arrivalMs: out.arrivalMs, silent: out.silent };
}

describe('InputQueue', () => {
  test('frames come out in FIFO order, decoded, with their arrival times', () => {
    const queue = new InputQueue(5);
    for (let n = 0; n < 4; n++) queue.pushMulaw(frame(n), 1000 + 20 * n);
    assert.equal(queue.depth, 4);
    for (let n = 0; n < 4; n++) {
      const got = pop(queue);
      assert.deepEqual(got.samples, decoded(frame(n)), `frame ${n}`);
      assert.equal(got.arrivalMs, 1000 + 20 * n);
      assert.equal(got.silent, false);
    }
    assert.equal(queue.depth, 0);
    assert.equal(queue.stats.framesIn, 4);
    assert.equal(queue.stats.underruns, 0);
  });

  test('interleaved pushes and pops wrap around the ring in order', () => {
    const queue = new InputQueue(3);
    let next = 0;
    let expected = 0;
    for (let round = 0; round < 20; round++) {
      queue.pushMulaw(frame(next), next);
      next++;
      if (round % 2 === 0) {
        queue.pushMulaw(frame(next), next);
        next++;
      }
      const got = pop(queue);
      assert.deepEqual(got.samples, decoded(frame(expected)), `round ${round}`);
      assert.equal(got.arrivalMs, expected);
      expected++;
      if (queue.depth >= 2) {
        const again = pop(queue);
        assert.deepEqual(again.samples, decoded(frame(expected)));
        expected++;
      }
    }
    assert.equal(queue.stats.overflowDrops, 0);
  });

  test('a pop on an empty queue returns null and counts an underrun', () => {
    const queue = new InputQueue(5);
    const out = { arrivalMs: 123, silent: true };
    assert.equal(queue.pop(out), null);
    assert.equal(queue.stats.underruns, 1);
    queue.pushMulaw(frame(1), 5);
    assert.ok(queue.pop(out));
    assert.equal(out.arrivalMs, 5);
    assert.equal(queue.pop(out), null);
    assert.equal(queue.pop(out), null);
    assert.equal(queue.stats.underruns, 3);
    assert.equal(queue.stats.depth, 0);
  });

  test('overflow drops the oldest frames and counts them', () => {
    const queue = new InputQueue(5);
    for (let n = 0; n < 8; n++) queue.pushMulaw(frame(n), n);
    assert.equal(queue.depth, 5);
    assert.equal(queue.stats.overflowDrops, 3);
    assert.equal(queue.stats.framesIn, 8);
    assert.equal(queue.stats.depth, 5);
    for (let n = 3; n < 8; n++) {
      const got = pop(queue);
      assert.deepEqual(got.samples, decoded(frame(n)), `frame ${n}`);
      assert.equal(got.arrivalMs, n);
    }
    assert.equal(pop(queue).samples, null);
  });

  test('silent flag: true for 0xFF / 0x7F frames (both mu-law zeros), false otherwise', () => {
    const queue = new InputQueue(5);
    const plusZero = new Uint8Array(FRAME).fill(0xff);
    const alternating = Uint8Array.from({ length: FRAME }, (_, i) => (i % 2 ? 0x7f : 0xff));
    const almost = new Uint8Array(FRAME).fill(0xff);
    almost[80] = 0xfe; // the smallest non-zero positive code
    queue.pushMulaw(plusZero, 0);
    queue.pushMulaw(alternating, 1);
    queue.pushMulaw(almost, 2);
    queue.pushMulaw(frame(9), 3);
    const a = pop(queue);
    assert.equal(a.silent, true);
    assert.ok(a.samples!.every((x) => x === 0));
    assert.equal(pop(queue).silent, true);
    const c = pop(queue);
    assert.equal(c.silent, false);
    assert.equal(c.samples![80], MULAW_DECODE[0xfe]);
    assert.equal(pop(queue).silent, false);
  });

  test('the silent flag belongs to its slot, also after the ring wraps', () => {
    const queue = new InputQueue(2);
    const silence = new Uint8Array(FRAME).fill(0xff);
    const sequence = [true, false, false, true, true, false, true];
    sequence.forEach((isSilent, n) => {
      queue.pushMulaw(isSilent ? silence : frame(n), n);
      const got = pop(queue);
      assert.equal(got.silent, isSilent, `frame ${n}`);
      assert.equal(got.arrivalMs, n);
    });
  });

  describe('drift', () => {
    test('depth never below 2 at any pop of a 50-pop window: exactly one frame (the oldest) is dropped', () => {
      const queue = new InputQueue(5);
      let pushed = 0;
      const push = () => {
        queue.pushMulaw(frame(pushed), pushed);
        pushed++;
      };
      push();
      push(); // one frame of standing delay: after every push below the depth is 3, after each pop 2
      const poppedIds: number[] = [];
      for (let tick = 1; tick <= DRIFT_WINDOW; tick++) {
        push();
        const got = pop(queue);
        assert.ok(got.samples, `tick ${tick}`);
        poppedIds.push(got.arrivalMs);
        if (tick < DRIFT_WINDOW) assert.equal(queue.stats.driftDrops, 0, `no drop before the window ends (tick ${tick})`);
      }
      assert.equal(queue.stats.driftDrops, 1);
      // Ticks 1..49 got frames 0..48; frame 49 was dropped, tick 50 got frame 50.
      assert.deepEqual(poppedIds, [...Array.from({ length: DRIFT_WINDOW - 1 }, (_, i) => i), DRIFT_WINDOW]);
      assert.equal(queue.depth, 1, 'one frame of delay removed');
      assert.equal(queue.stats.overflowDrops, 0);
      assert.equal(queue.stats.underruns, 0);
      assert.equal(queue.stats.depth, 1);
    });

    test('a window in which the depth once fell to 1 drops nothing', () => {
      const queue = new InputQueue(5);
      let pushed = 0;
      const push = () => queue.pushMulaw(frame(pushed), pushed++);
      push(); // one frame of standing delay: depth 2 at each pop below, which alone would drift
      for (let tick = 1; tick <= 3 * DRIFT_WINDOW; tick++) {
        // Once per window, the frame arrives after the pop: the queue holds 1 at that pop.
        if (tick % DRIFT_WINDOW === 25) {
          pop(queue);
          push();
        } else {
          push();
          pop(queue);
        }
      }
      assert.equal(queue.stats.driftDrops, 0);
      assert.equal(queue.stats.underruns, 0);

      // Control: the same producer without the dips (depth exactly 2 at every pop) drops one frame,
      // after which the depth at pop time is 1 and nothing more is dropped.
      const control = new InputQueue(5);
      let n = 0;
      control.pushMulaw(frame(n), n++);
      for (let tick = 1; tick <= 3 * DRIFT_WINDOW; tick++) {
        control.pushMulaw(frame(n), n++);
        pop(control);
      }
      assert.equal(control.stats.driftDrops, 1);
    });

    test('a queue that only ever holds the current frame never drifts', () => {
      const queue = new InputQueue(5);
      for (let tick = 0; tick < 10 * DRIFT_WINDOW; tick++) {
        queue.pushMulaw(frame(tick), tick);
        const got = pop(queue);
        assert.equal(got.arrivalMs, tick);
      }
      assert.equal(queue.stats.driftDrops, 0);
      assert.equal(queue.stats.underruns, 0);
    });

    test('with standing delay kept up for several windows, one frame is dropped per window', () => {
      const queue = new InputQueue(5);
      let pushed = 0;
      const push = () => queue.pushMulaw(frame(pushed), pushed++);
      // A producer that always keeps 4 frames queued at pop time (a sender running fast).
      for (let i = 0; i < 4; i++) push();
      for (let tick = 1; tick <= 4 * DRIFT_WINDOW; tick++) {
        while (queue.depth < 4) push();
        pop(queue);
      }
      assert.equal(queue.stats.driftDrops, 4);
    });
  });

  test('clear() empties the queue', () => {
    const queue = new InputQueue(5);
    for (let n = 0; n < 3; n++) queue.pushMulaw(frame(n), n);
    queue.clear();
    assert.equal(queue.depth, 0);
    assert.equal(queue.stats.depth, 0);
    assert.equal(pop(queue).samples, null);
    queue.pushMulaw(frame(7), 70);
    const got = pop(queue);
    assert.deepEqual(got.samples, decoded(frame(7)));
    assert.equal(got.arrivalMs, 70);
  });
});
