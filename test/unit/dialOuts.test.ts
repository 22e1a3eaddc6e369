/**
 * Issue 17 (part C): the dial-out registry (src/http/dialOut.ts) on a manual clock: passes bind
 * the invitation to its room and key, Twilio's statuses become the operator's call-* events and
 * counts, a final status or the joined room ends "pending", and old invitations are forgotten.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { type DialOut, type DialOutEvent, DialOuts } from '../../src/http/dialOut.js';
import { ManualClock } from '../../src/timing/clock.js';

function setup() {
  const clock = new ManualClock(1_800_000_000_000);
  const events: string[] = [];
  const dialOuts = new DialOuts({
    secret: Buffer.alloc(32, 9),
    clock,
    onEvent: (e: DialOutEvent, d: DialOut, callStatus: string) => events.push(`${e} ${callStatus} (${d.status})`),
  });
  const create = (room = '4711') => dialOuts.create({ room, to: '+15005550100', from: '+15005550006', moderator: false });
  return { clock, events, dialOuts, create };
}

describe('DialOuts', () => {
  test('a pass is good for its invitation and room only, under its key', () => {
    const { dialOuts, create } = setup();
    const d = create();
    const pass = dialOuts.pass(d.id, '4711');
    assert.equal(dialOuts.find({ d: d.id, room: '4711', pass }), d);
    assert.equal(dialOuts.find({ d: d.id, room: '4712', pass }), null, 'another room');
    assert.equal(dialOuts.find({ d: d.id, room: '4711', pass: pass.slice(0, -1) + (pass.endsWith('A') ? 'B' : 'A') }), null, 'a changed pass');
    assert.equal(dialOuts.find({ d: d.id, room: '4711' }), null, 'no pass');
    const other = new DialOuts({ secret: Buffer.alloc(32, 1) });
    assert.notEqual(other.pass(d.id, '4711'), pass, 'another key, another pass');
    const unknown = 'x'.repeat(22);
    assert.equal(dialOuts.find({ d: unknown, room: '4711', pass: dialOuts.pass(unknown, '4711') }), null, 'a good pass for an invitation never placed');
  });

  test("Twilio's statuses: call-* events and counts; joined leaves the pending list; a final status forgets it", () => {
    const { dialOuts, events, create } = setup();
    const d = create();
    dialOuts.placed(d, 'CA1');
    for (const s of ['initiated', 'ringing'] as const) dialOuts.progress(d, s);
    assert.deepEqual(
      dialOuts.pending('4711').map((p) => p.status),
      ['ringing'],
    );
    dialOuts.joined('CA1');
    dialOuts.progress(d, 'in-progress');
    assert.equal(d.status, 'joined', 'in the room outranks in-progress, whichever comes first');
    assert.deepEqual(dialOuts.pending('4711'), []);
    dialOuts.progress(d, 'completed');
    dialOuts.progress(d, 'completed');
    assert.deepEqual(
      events,
      ['call-initiated initiated (initiated)', 'call-ringing ringing (ringing)', 'call-answered in-progress (joined)', 'call-completed completed (completed)'],
      "Twilio's CallStatus each, one completed",
    );
    const n = create();
    dialOuts.placed(n, 'CA2');
    dialOuts.progress(n, 'queued');
    dialOuts.progress(n, 'no-answer');
    assert.deepEqual(events.slice(-2), ['call-initiated queued (queued)', 'call-completed no-answer (no-answer)'], 'queued is reported as initiated');
    assert.equal(dialOuts.find({ d: n.id, room: '4711', pass: dialOuts.pass(n.id, '4711') }), null, 'over: forgotten');
    assert.deepEqual(
      { ...dialOuts.totals },
      { placed: 2, refused: 0, ringing: 1, answered: 1, joined: 1, completed: 1, busy: 0, noAnswer: 1, failed: 0, canceled: 0 },
    );
  });

  test('an invitation whose callbacks never came is forgotten after 6 hours; a refused one at once', () => {
    const { clock, dialOuts, create } = setup();
    const old = create();
    const refused = create();
    dialOuts.refused(refused);
    assert.deepEqual(
      dialOuts.pending('4711').map((d) => d.id),
      [old.id],
    );
    clock.advance(6 * 3600_000);
    create();
    assert.equal(dialOuts.pending('4711').includes(old), false);
    assert.equal(dialOuts.totals.refused, 1);
  });
});
