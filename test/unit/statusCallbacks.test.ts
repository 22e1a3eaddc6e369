/** Status callbacks (src/events/statusCallbacks.ts) with a fake POST: order, retries, give-up, bounds. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Conference } from '../../src/conference/conference.js';
import { Moderation } from '../../src/conference/moderation.js';
import { SpeechActivity } from '../../src/events/speech.js';
import { rfc2822, StatusCallbacks, type PostForm } from '../../src/events/statusCallbacks.js';
import { captureLog } from '../helpers/log.js';

function fakePost(plan: (seq: number, attempt: number) => number | 'throw') {
  const attempts = new Map<number, number>();
  const delivered: number[] = [];
  const post: PostForm = async (_url, body) => {
    const seq = Number(new URLSearchParams(body).get('SequenceNumber'));
    const attempt = (attempts.get(seq) ?? 0) + 1;
    attempts.set(seq, attempt);
    await new Promise((r) => setImmediate(r));
    const outcome = plan(seq, attempt);
    if (outcome === 'throw') throw new Error('connect ECONNREFUSED');
    if (outcome >= 200 && outcome < 300) delivered.push(seq);
    return outcome;
  };
  return { post, attempts, delivered };
}

describe('StatusCallbacks', () => {
  test('in order, one at a time; a failing event is retried in place, then the next goes', async () => {
    const fake = fakePost((seq, attempt) => (seq === 2 && attempt < 3 ? (attempt === 1 ? 'throw' : 503) : 200));
    const captured = captureLog('debug');
    const cb = new StatusCallbacks({ url: 'http://x.test/cb', log: captured.log, post: fake.post, retryDelaysMs: [5, 5, 5] });
    for (let i = 0; i < 5; i++) cb.enqueue('participant-join', { Room: '1', CallSid: `CA${i}` });
    await cb.idle();
    assert.deepEqual(fake.delivered, [1, 2, 3, 4, 5]);
    assert.equal(fake.attempts.get(2), 3);
    assert.deepEqual({ ...cb.stats }, { enqueued: 5, delivered: 5, failed: 0, dropped: 0, queued: 0 });
    assert.equal(captured.warnings().length, 0, 'retries that succeed are not warnings');
  });

  test('after every retry fails: one warn line, dropped, and the following events still go', async () => {
    const fake = fakePost((seq) => (seq === 1 ? 500 : 200));
    const captured = captureLog('info');
    const cb = new StatusCallbacks({ url: 'http://x.test/cb', log: captured.log, post: fake.post, retryDelaysMs: [1, 1] });
    cb.enqueue('conference-start', { Room: '1' });
    cb.enqueue('participant-join', { Room: '1' });
    await cb.idle();
    assert.equal(fake.attempts.get(1), 3);
    assert.deepEqual(fake.delivered, [2]);
    assert.equal(cb.stats.failed, 1);
    assert.equal(captured.warnings().length, 1);
    assert.match(captured.warnings()[0]!.msg, /not delivered/);
  });

  test('the body: form fields like Twilio conference callbacks', async () => {
    const bodies: URLSearchParams[] = [];
    const cb = new StatusCallbacks({
      url: 'http://x.test/cb',
      log: captureLog().log,
      post: async (_u, body) => (bodies.push(new URLSearchParams(body)), 200),
      now: () => new Date(Date.UTC(2026, 10, 21, 11, 54, 34)),
    });
    cb.enqueue('participant-leave', { Room: '12', FriendlyName: '12', CallSid: 'CA1', Seat: '3', Reason: 'kicked' });
    await cb.idle();
    assert.deepEqual(Object.fromEntries(bodies[0]!), {
      StatusCallbackEvent: 'participant-leave',
      SequenceNumber: '1',
      Timestamp: 'Sat, 21 Nov 2026 11:54:34 +0000',
      Room: '12',
      FriendlyName: '12',
      CallSid: 'CA1',
      Seat: '3',
      Reason: 'kicked',
    });
    assert.equal(rfc2822(new Date(0)), 'Thu, 01 Jan 1970 00:00:00 +0000');
  });

  test('enqueue never waits; a full queue drops the oldest; close drops what is left', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const sent: number[] = [];
    const cb = new StatusCallbacks({
      url: 'http://x.test/cb',
      log: captureLog().log,
      maxQueue: 3,
      post: async (_u, body) => {
        await gate;
        sent.push(Number(new URLSearchParams(body).get('SequenceNumber')));
        return 200;
      },
    });
    // Never waits: each enqueue returns (nothing to await) while the first POST is still out.
    const returned = Array.from({ length: 6 }, () => cb.enqueue('participant-mute', { Room: '1' }) as unknown);
    assert.deepEqual(returned, Array(6).fill(undefined), 'enqueue returns nothing to wait for (no promise)');
    assert.deepEqual(sent, [], 'all six enqueued while the first POST had not completed');
    assert.equal(cb.stats.enqueued, 6);
    assert.equal(cb.stats.queued, 3, 'bounded at maxQueue');
    assert.equal(cb.stats.dropped, 2, 'one in flight, three waiting, the two oldest waiting dropped');
    release();
    await cb.idle();
    assert.deepEqual(sent, [1, 4, 5, 6], 'the one in flight, then the newest three');
    let never!: () => void;
    const stuck = new StatusCallbacks({ url: 'http://x.test/cb', log: captureLog().log, post: () => new Promise<number>((r) => (never = () => r(200))) });
    stuck.enqueue('conference-end', { Room: '1' });
    stuck.enqueue('conference-end', { Room: '2' });
    await stuck.close(20);
    assert.equal(stuck.stats.dropped, 1, 'the waiting one; the one in flight may still land');
    stuck.enqueue('conference-end', { Room: '3' });
    assert.equal(stuck.stats.enqueued, 2, 'nothing is queued after close');
    never();
  });
});

describe('StatusCallbacks attached to a conference', () => {
  test('participant-leave carries the leave reason; conference-end says why, from the last leave', async () => {
    const bodies: URLSearchParams[] = [];
    const cb = new StatusCallbacks({ url: 'http://x.test/cb', log: captureLog().log, post: async (_u, body) => (bodies.push(new URLSearchParams(body)), 200) });
    const conference = new Conference({ echoWhenAlone: false });
    cb.attach(conference, new SpeechActivity());
    const transport = { sendFrame: () => undefined, end: () => undefined };
    conference.join('1', 'CA1', transport);
    conference.kick('CA1');
    conference.join('2', 'CA2', transport);
    conference.closeRoom('2', 'room-closed');
    conference.join('3', 'CA3', transport);
    conference.close('shutdown');
    conference.join('4', 'CA4', transport);
    conference.leave(conference.participant('CA4')!, 'hangup');
    await cb.idle();
    const said = (event: string) =>
      bodies.filter((b) => b.get('StatusCallbackEvent') === event).map((b) => `${b.get('Room')} ${b.get('Reason') ?? b.get('ReasonConferenceEnded')}`);
    assert.deepEqual(said('participant-leave'), ['1 kicked', '2 room-closed', '3 shutdown', '4 hangup']);
    assert.deepEqual(said('conference-end'), ['1 last-participant-kicked', '2 conference-ended-via-api', '3 shutdown', '4 last-participant-left']);
  });

  test('issue 17: Label and StartConferenceOnEnter; a room waiting for its moderator starts when the moderator joins', async () => {
    const bodies: URLSearchParams[] = [];
    const cb = new StatusCallbacks({ url: 'http://x.test/cb', log: captureLog().log, post: async (_u, body) => (bodies.push(new URLSearchParams(body)), 200) });
    const conference = new Conference({ echoWhenAlone: false });
    const scheduled: Array<() => void> = [];
    const moderation = new Moderation(conference, {
      waitSound: () => new Int16Array(160),
      endRoom: (room) => conference.closeRoom(room, 'moderator-left'),
      schedule: (fn) => scheduled.push(fn),
      othersHearJoinBeep: false,
      log: captureLog().log,
    });
    moderation.configure('5', { waitForModerator: true, endWhenModeratorLeaves: true, startMuted: false });
    cb.attach(conference, new SpeechActivity(), moderation);
    const transport = { sendFrame: () => undefined, end: () => undefined };
    conference.join('5', 'CA1', transport, 0, { seat: 1 });
    conference.join('5', 'CAm', transport, 0, { seat: 2, moderator: true, label: 'Chair' });
    conference.leave(conference.participant('CAm')!, 'hangup');
    scheduled.shift()!();
    await cb.idle();
    assert.deepEqual(
      bodies.map((b) => [
        b.get('StatusCallbackEvent'),
        b.get('CallSid'),
        b.get('Label'),
        b.get('StartConferenceOnEnter'),
        b.get('Reason') ?? b.get('ReasonConferenceEnded'),
      ]),
      [
        ['participant-join', 'CA1', '', 'false', null],
        ['conference-start', null, null, null, null],
        ['participant-join', 'CAm', 'Chair', 'true', null],
        ['participant-leave', 'CAm', 'Chair', 'true', 'hangup'],
        ['participant-leave', 'CA1', '', 'false', 'moderator-left'],
        ['conference-end', null, null, null, 'participant-with-end-conference-on-exit-left'],
      ],
    );
  });
});
