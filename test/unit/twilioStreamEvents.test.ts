/**
 * Issue 16: Twilio's <Stream statusCallback> parameters (src/events/twilioStreamEvents.ts), parsed
 * from what Twilio posts and counted by event and error code, with the labels bounded.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { errorCodeOf, MAX_ERROR_CODES, parseStreamStatus, TwilioStreamEvents } from '../../src/events/twilioStreamEvents.js';

const CALL = 'CA0123456789abcdef0123456789abcdef';
const STREAM = 'MZ0123456789abcdef0123456789abcdef';
const base = { AccountSid: 'AC0123456789abcdef0123456789abcdef', CallSid: CALL, StreamSid: STREAM, StreamName: STREAM, Timestamp: '2026-12-05T00:00:00.000Z' };

describe('parseStreamStatus', () => {
  test('stream-started and stream-stopped: the call and stream, no error', () => {
    for (const event of ['stream-started', 'stream-stopped'] as const) {
      assert.deepEqual(parseStreamStatus({ ...base, StreamEvent: event }), {
        ok: true,
        status: { event, callSid: CALL, streamSid: STREAM, errorCode: undefined, error: undefined },
      });
    }
  });

  test("stream-error: Twilio's message, and its code from ErrorCode or the message", () => {
    const message = 'Stream - WebSocket - Handshake Error 31920: the server answered 403';
    assert.deepEqual(parseStreamStatus({ ...base, StreamEvent: 'stream-error', StreamError: message }), {
      ok: true,
      status: { event: 'stream-error', callSid: CALL, streamSid: STREAM, errorCode: '31920', error: message },
    });
    const withCode = parseStreamStatus({ ...base, StreamEvent: 'stream-error', StreamError: 'Connection lost', ErrorCode: '31921' });
    assert.equal(withCode.ok && withCode.status.errorCode, '31921');
    const noCode = parseStreamStatus({ ...base, StreamEvent: 'stream-error', StreamError: 'Connection lost' });
    assert.equal(noCode.ok && noCode.status.errorCode, 'unknown');
    const long = parseStreamStatus({ ...base, StreamEvent: 'stream-error', StreamError: 'x'.repeat(5000) });
    assert.equal(long.ok && long.status.error?.length, 300);
  });

  test('not a stream event: refused with the reason', () => {
    assert.deepEqual(parseStreamStatus({ ...base }), { ok: false, why: 'StreamEvent is not one of stream-started, stream-stopped, stream-error' });
    assert.equal(parseStreamStatus({ ...base, StreamEvent: 'stream-exploded' }).ok, false);
    assert.equal(parseStreamStatus({ ...base, StreamEvent: ['stream-started', 'stream-stopped'] }).ok, false);
    assert.deepEqual(parseStreamStatus({ StreamEvent: 'stream-started' }), { ok: false, why: 'missing CallSid' });
    assert.deepEqual(parseStreamStatus({ StreamEvent: 'stream-started', CallSid: 'CA 1; drop' }), { ok: false, why: 'missing CallSid' });
  });

  test('errorCodeOf', () => {
    assert.equal(errorCodeOf(undefined, 'failed (31924) after 3 s'), '31924');
    assert.equal(errorCodeOf(' 31920 ', 'x 12345'), '31920');
    assert.equal(errorCodeOf('abc', 'no code here, 1234 or 123456'), 'unknown');
    assert.equal(errorCodeOf(undefined, undefined), 'unknown');
  });
});

describe('TwilioStreamEvents', () => {
  test('counts by event, errors by code; past MAX_ERROR_CODES codes a new one is "other"', () => {
    const events = new TwilioStreamEvents();
    const status = (event: 'stream-started' | 'stream-stopped' | 'stream-error', errorCode?: string) => ({
      event,
      callSid: CALL,
      streamSid: STREAM,
      errorCode,
      error: undefined,
    });
    events.record(status('stream-started'));
    events.record(status('stream-started'));
    events.record(status('stream-stopped'));
    events.record(status('stream-error', '31920'));
    events.record(status('stream-error', '31920'));
    events.record(status('stream-error', 'unknown'));
    assert.deepEqual(events.totals, { started: 2, stopped: 1, errors: 3 });
    assert.deepEqual(Object.fromEntries(events.errorsByCode), { '31920': 2, unknown: 1 });
    for (let i = 0; i < 40; i++) events.record(status('stream-error', String(40000 + i)));
    assert.equal(events.totals.errors, 43);
    assert.ok(events.errorsByCode.size <= MAX_ERROR_CODES + 1, `at most ${MAX_ERROR_CODES} codes and other (${events.errorsByCode.size})`);
    assert.equal(events.errorsByCode.get('other'), 40 - (MAX_ERROR_CODES - 2));
    assert.equal(events.errorsByCode.get('31920'), 2, 'a known code keeps counting');
  });
});
