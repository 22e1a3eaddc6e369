/**
 * The Media Streams session, driven directly with a fake socket: the protocol state machine,
 * what it sends, and how every protocol violation closes that socket alone with one log line.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { SAMPLES_PER_FRAME } from '../../src/audio/format.js';
import { Conference } from '../../src/conference/conference.js';
import type { LeaveReason } from '../../src/conference/leaveReason.js';
import { MediaSession, roomParameterAuthorizer, type MediaSocket } from '../../src/media/session.js';
import { ManualClock } from '../../src/timing/clock.js';
import { captureLog } from '../helpers/log.js';
import { noise, toMulaw } from '../helpers/audio.js';

class FakeSocket implements MediaSocket {
  sent: string[] = [];
  closedWith: { code: number; reason: string } | null = null;
  bufferedAmount = 0;
  sendPair?: (first: string, second: string) => void;
  send(text: string): void {
    this.sent.push(text);
  }
  close(code: number, reason: string): void {
    this.closedWith ??= { code, reason };
  }
}

const STREAM = 'MZ00000000000000000000000000000001';
const CALL = 'CA00000000000000000000000000000001';
const connected = JSON.stringify({ event: 'connected', protocol: 'Call', version: '1.0.0' });
const start = (over: Record<string, unknown> = {}, params: Record<string, string> = { room: '4711' }) =>
  JSON.stringify({
    event: 'start',
    sequenceNumber: '1',
    start: {
      accountSid: 'AC00000000000000000000000000000001',
      streamSid: STREAM,
      callSid: CALL,
      tracks: ['inbound'],
      mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 },
      customParameters: params,
      ...over,
    },
    streamSid: STREAM,
  });
let seq = 1;
const media = (payload: Uint8Array, timestamp: number, streamSid = STREAM) =>
  JSON.stringify({
    event: 'media',
    sequenceNumber: String(++seq),
    media: { track: 'inbound', chunk: String(seq - 1), timestamp: String(timestamp), payload: Buffer.from(payload).toString('base64') },
    streamSid,
  });
const stop = JSON.stringify({ event: 'stop', sequenceNumber: '99', streamSid: STREAM, stop: { accountSid: 'AC1', callSid: CALL } });

function setup(startTimeoutMs = 10_000, framesPerMessage?: 1 | 2) {
  const conference = new Conference({ echoWhenAlone: true });
  const clock = new ManualClock(0);
  const captured = captureLog();
  const socket = new FakeSocket();
  const session = new MediaSession(socket, {
    conference,
    clock,
    log: captured.log,
    authorizeStart: roomParameterAuthorizer(10),
    startTimeoutMs,
    timers: clock,
    maxBufferedBytes: 16_000,
    maxPayloadBytes: 3200,
    ...(framesPerMessage ? { framesPerMessage } : {}),
  });
  return { conference, clock, captured, socket, session };
}

describe('media session: a well-behaved stream', () => {
  test('start joins the room named by customParameters, keyed by callSid', () => {
    const { conference, session, socket } = setup();
    session.handleText(connected);
    session.handleText(start());
    assert.equal(conference.participant(CALL)?.roomId, '4711');
    assert.equal(socket.closedWith, null);
  });

  test('media reaches the mixer and the mix goes back as exact Twilio media messages', () => {
    const { conference, session, socket } = setup();
    session.handleText(connected);
    session.handleText(start());
    const audio = toMulaw(noise(SAMPLES_PER_FRAME, 6000, 9));
    // Alone with echoWhenAlone: hears itself; the first frame fades in, the ones after are exact.
    for (let i = 0; i < 3; i++) {
      session.handleText(media(audio, 155 + i * 20));
      conference.tick(20 * (i + 1));
    }
    assert.equal(socket.sent.length, 3);
    const message = JSON.parse(socket.sent[2]!);
    assert.deepEqual(Object.keys(message), ['event', 'streamSid', 'media']);
    assert.deepEqual(Object.keys(message.media), ['payload']);
    assert.equal(message.event, 'media');
    assert.equal(message.streamSid, STREAM);
    const heard = Buffer.from(message.media.payload, 'base64');
    assert.deepEqual(
      [...heard],
      [...audio].map((c) => (c === 0x7f ? 0xff : c)),
    );
  });

  test('payloads of any length are reframed to 20 ms', () => {
    const { conference, session } = setup();
    session.handleText(start());
    const p = conference.participant(CALL)!;
    const audio = toMulaw(noise(SAMPLES_PER_FRAME * 3, 6000, 10));
    // 480 bytes in pieces of 100, 100, 280: three 20 ms frames.
    session.handleText(media(audio.subarray(0, 100), 155));
    session.handleText(media(audio.subarray(100, 200), 168));
    assert.equal(p.input.depth, 1);
    session.handleText(media(audio.subarray(200), 180));
    assert.equal(p.input.depth, 3);
  });

  test('a timestamp gap is filled with silence', () => {
    const { conference, session } = setup();
    session.handleText(start());
    const p = conference.participant(CALL)!;
    const frame = toMulaw(noise(SAMPLES_PER_FRAME, 6000, 11));
    session.handleText(media(frame, 155));
    session.handleText(media(frame, 215)); // 40 ms missing: two frames of silence first
    assert.equal(p.input.depth, 4);
  });

  test('stop leaves the room and closes the socket normally, with one info line', () => {
    const { conference, session, socket, captured } = setup();
    session.handleText(start());
    session.handleText(stop);
    assert.equal(conference.participant(CALL), undefined);
    assert.deepEqual(socket.closedWith?.code, 1000);
    assert.equal(captured.warnings().length, 0);
    const ended = captured.lines.filter((l) => l.msg === 'stream ended');
    assert.equal(ended.length, 1);
    assert.equal(ended[0]!.reason, 'hangup');
    assert.equal(ended[0]!.callSid, CALL);
    session.handleClose(1000);
    assert.equal(captured.lines.filter((l) => l.msg === 'stream ended').length, 1, 'ended once');
  });

  test('the socket closing without stop removes the participant', () => {
    const { conference, session } = setup();
    session.handleText(start());
    session.handleClose(1006);
    assert.equal(conference.participant(CALL), undefined);
  });

  test('the conference letting go closes the stream as the leave reason says (src/conference/leaveReason.ts)', () => {
    const closes: Record<LeaveReason, [number, string] | null> = {
      left: [1000, 'left the conference'],
      kicked: [1000, 'removed from the conference'],
      'room-closed': [1000, 'the conference has ended'],
      'moderator-left': [1000, 'the conference has ended'],
      shutdown: [1001, 'server is shutting down'],
      error: [1011, 'internal error'],
      replaced: [4000, 'replaced by a newer stream of the same call'],
      moved: [4001, 'the conference moved to another server; rejoining'],
      // The stream ended itself: nothing more to close.
      hangup: null,
      'socket-closed': null,
    };
    for (const [reason, close] of Object.entries(closes) as [LeaveReason, [number, string] | null][]) {
      const { conference, session, socket } = setup();
      session.handleText(start());
      conference.leave(conference.participant(CALL)!, reason);
      session.end(reason);
      assert.deepEqual(socket.closedWith && [socket.closedWith.code, socket.closedWith.reason], close, reason);
    }
  });

  test('dtmf and marks are accepted', () => {
    const { session, socket } = setup();
    session.handleText(start());
    session.handleText(JSON.stringify({ event: 'dtmf', streamSid: STREAM, sequenceNumber: '5', dtmf: { track: 'inbound_track', digit: '1' } }));
    session.handleText(JSON.stringify({ event: 'mark', sequenceNumber: '6', streamSid: STREAM, mark: { name: 'm1' } }));
    assert.equal(session.stats.dtmf, 1);
    assert.equal(socket.closedWith, null);
  });

  test('a socket that is not draining gets frames dropped, not queued', () => {
    const { conference, session, socket } = setup();
    session.handleText(start());
    conference.tick(20);
    socket.bufferedAmount = 1_000_000;
    conference.tick(40);
    conference.tick(60);
    assert.equal(socket.sent.length, 1);
    assert.equal(session.stats.framesDroppedSlowSocket, 2);
  });
});

describe('media session: bad input closes this socket with the table code and one log line', () => {
  const cases: Array<[string, (s: MediaSession) => void, number]> = [
    ['not JSON', (s) => s.handleText('{nope'), 1007],
    ['JSON without event', (s) => s.handleText('{"foo":1}'), 1007],
    ['unknown event', (s) => s.handleText('{"event":"hello"}'), 1007],
    ['binary frame', (s) => s.handleBinary(), 1003],
    ['media before start', (s) => s.handleText(media(new Uint8Array(160), 155)), 1008],
    ['second start', (s) => (s.handleText(start()), s.handleText(start())), 1008],
    ['start with another encoding', (s) => s.handleText(start({ mediaFormat: { encoding: 'audio/l16', sampleRate: 16000, channels: 1 } })), 1003],
    ['start with two channels', (s) => s.handleText(start({ mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 2 } })), 1003],
    ['start without a room', (s) => s.handleText(start({}, {})), 1008],
    ['start with a room that is not digits', (s) => s.handleText(start({}, { room: '12a' })), 1008],
    ['media of another stream', (s) => (s.handleText(start()), s.handleText(media(new Uint8Array(160), 155, 'MZother'))), 1008],
    ['invalid base64', (s) => (s.handleText(start()), s.handleText(media(new Uint8Array(160), 155).replace(/"payload":"[^"]+"/, '"payload":"@@@@"'))), 1007],
    ['empty payload', (s) => (s.handleText(start()), s.handleText(media(new Uint8Array(0), 155))), 1007],
    ['payload too long', (s) => (s.handleText(start()), s.handleText(media(new Uint8Array(4000), 155))), 1007],
    ['numeric timestamp', (s) => (s.handleText(start()), s.handleText(media(new Uint8Array(160), 155).replace('"timestamp":"155"', '"timestamp":155'))), 1007],
  ];
  for (const [name, act, code] of cases) {
    test(name, () => {
      const { session, socket, captured, conference } = setup();
      act(session);
      assert.equal(socket.closedWith?.code, code, `close code for ${name}`);
      assert.equal(captured.warnings().length, 1, 'exactly one warning line');
      assert.match(captured.warnings()[0]!.msg, /^closing stream: /);
      assert.equal(conference.stats().participants, 0, 'nobody left in the conference');
      // Anything after the close is ignored, and logs nothing more.
      session.handleText('{nope');
      assert.equal(captured.warnings().length, 1);
    });
  }

  test('a socket that never sends start is closed when the timeout runs out, not before', () => {
    const { socket, captured, clock } = setup(50);
    // Read through a function: assert.equal(x, null) would narrow the field for TypeScript.
    const closed = () => socket.closedWith;
    clock.advance(49);
    assert.equal(closed(), null, 'still waiting 1 ms before the timeout');
    clock.advance(1);
    assert.equal(closed()?.code, 1008);
    assert.match(captured.warnings()[0]!.msg, /no start message in time/);
  });

  test('a start in time cancels the timeout', () => {
    const { socket, clock, session } = setup(50);
    clock.advance(40);
    session.handleText(start());
    assert.equal(clock.pendingTimers, 0, 'no start timer left');
    clock.advance(1000);
    assert.equal(socket.closedWith, null, 'the stream goes on');
  });
});

describe('media session: issue 5 limits (bounded whatever the peer sends)', () => {
  /** Read through a function: assert.equal(x, null) narrows the field for TypeScript. */
  const closeCode = (socket: FakeSocket) => socket.closedWith?.code;
  class TerminableSocket extends FakeSocket {
    terminated = false;
    terminate(): void {
      this.terminated = true;
    }
  }
  function limited(options: { messagesPerSecond?: number; messageBurst?: number; maxStalledFrames?: number } = {}) {
    const conference = new Conference({ echoWhenAlone: true });
    const clock = new ManualClock(0);
    const captured = captureLog();
    const socket = new TerminableSocket();
    const session = new MediaSession(socket, {
      conference,
      clock,
      log: captured.log,
      authorizeStart: roomParameterAuthorizer(10),
      startTimeoutMs: 10_000,
      maxBufferedBytes: 16_000,
      maxPayloadBytes: 3200,
      ...options,
    });
    return { conference, clock, captured, socket, session };
  }

  test('a burst past the message budget closes with 1008 and one line; a steady Twilio rate never does', () => {
    const { session, socket, captured, clock } = limited({ messagesPerSecond: 150, messageBurst: 500 });
    session.handleText(start());
    const frame = toMulaw(noise(SAMPLES_PER_FRAME, 100, 1));
    // 60 s of Twilio's pace (50 media + 2 marks a second): never limited.
    for (let i = 0; i < 3000; i++) {
      clock.advance(20);
      session.handleText(media(frame, 155 + i * 20));
    }
    assert.equal(socket.closedWith, null);
    // 10,000 at once: the budget (500 + what refilled) runs out.
    for (let i = 0; i < 10_000 && !socket.closedWith; i++) session.handleText(media(frame, 60_155 + i * 20));
    assert.equal(closeCode(socket), 1008);
    assert.ok(session.stats.messagesIn <= 3000 + 501, `${session.stats.messagesIn} messages read before the close`);
    assert.equal(captured.warnings().length, 1);
    assert.match(captured.warnings()[0]!.msg, /too many messages/);
  });

  test('a socket that stops draining: frames dropped (nothing queued), then the socket is dropped', () => {
    const { conference, session, socket, captured } = limited({ maxStalledFrames: 50 });
    session.handleText(start());
    conference.tick(20);
    socket.bufferedAmount = 20_000;
    for (let i = 2; i <= 49 + 1; i++) conference.tick(20 * i);
    assert.equal(socket.closedWith, null, 'dropping, not yet closed');
    assert.equal(socket.sent.length, 1, 'nothing more was queued');
    conference.tick(20 * 51);
    assert.equal(closeCode(socket), 1008);
    assert.ok(socket.terminated, 'dropped: a close frame cannot get through a full buffer');
    assert.equal(conference.stats().participants, 0);
    assert.match(captured.warnings()[0]!.msg, /socket is not reading its audio/);
    assert.ok(session.stats.maxBufferedBytes <= 20_000);
  });

  test('a socket that drains again before the limit is kept', () => {
    const { conference, session, socket } = limited({ maxStalledFrames: 50 });
    session.handleText(start());
    socket.bufferedAmount = 20_000;
    for (let i = 1; i <= 40; i++) conference.tick(20 * i);
    socket.bufferedAmount = 0;
    for (let i = 41; i <= 60; i++) conference.tick(20 * i);
    socket.bufferedAmount = 20_000;
    for (let i = 61; i <= 100; i++) conference.tick(20 * i);
    assert.equal(socket.closedWith, null);
  });

  test('an odd payload length is accepted (bytes of mu-law, one per sample) and reframed', () => {
    const { conference, session, socket } = limited();
    session.handleText(start());
    const p = conference.participant(CALL)!;
    session.handleText(media(new Uint8Array(161).fill(0xff), 155));
    session.handleText(media(new Uint8Array(159).fill(0xff), 175));
    assert.equal(socket.closedWith, null);
    assert.equal(p.input.depth, 2);
  });

  test('timestamps going backwards or hours ahead: accepted, not filled, one info line per stream', () => {
    const { conference, session, socket, captured } = limited();
    session.handleText(start());
    const p = conference.participant(CALL)!;
    const frame = new Uint8Array(160).fill(0xff);
    for (const ts of [10_155, 155, 3 * 3600_000, 999_999_999_999_999, 20]) session.handleText(media(frame, ts));
    assert.equal(socket.closedWith, null);
    assert.equal(p.input.depth, 5, 'no silence inserted for the jumps');
    assert.equal(captured.warnings().length, 0);
    assert.equal(captured.lines.filter((l) => /timestamp discontinuity/.test(l.msg)).length, 1);
    session.handleText(stop);
    assert.equal(captured.lines.find((l) => l.msg === 'stream ended')?.['discontinuities'], 4);
  });

  test('socket faults: message too big (ws already sent 1009) and heartbeat (dropped) are logged once', () => {
    const big = limited();
    big.session.handleText(start());
    big.session.handleSocketFault('MESSAGE_TOO_BIG', 'Max payload size exceeded');
    assert.equal(closeCode(big.socket), 1009);
    assert.equal(big.conference.stats().participants, 0);
    const dead = limited();
    dead.session.handleText(start());
    dead.session.handleSocketFault('HEARTBEAT_TIMEOUT', '5000 ms');
    assert.equal(dead.socket.closedWith, null, '1006 is never sent');
    assert.ok(dead.socket.terminated);
    assert.equal(dead.conference.stats().participants, 0);
    for (const x of [big, dead]) assert.equal(x.captured.warnings().length, 1);
  });
});

describe('media session: the byte path and multi-frame messages (issue 13)', () => {
  const bytes = (text: string) => {
    // As the endpoint's frame parser hands it over: a reused buffer longer than the message.
    const b = Buffer.alloc(text.length + 50, 0x41);
    b.write(text, 'latin1');
    return { b, n: text.length };
  };

  test('media as bytes is heard exactly as the same media as text', () => {
    const a = setup();
    const b = setup();
    a.session.handleText(start());
    b.session.handleText(start());
    for (let i = 0; i < 6; i++) {
      const audio = toMulaw(noise(SAMPLES_PER_FRAME, 6000, 20 + i));
      const text = media(audio, 155 + i * 20);
      a.session.handleText(text);
      const { b: buf, n } = bytes(text);
      b.session.handleTextBytes(buf, n);
      a.conference.tick(20 * (i + 1));
      b.conference.tick(20 * (i + 1));
    }
    assert.equal(b.socket.sent.length, 6);
    assert.deepEqual(b.socket.sent, a.socket.sent);
    assert.equal(b.session.stats.messagesIn, a.session.stats.messagesIn);
  });

  test('as bytes, a wrong streamSid, bad base64 or an odd layout are judged as the text path judges them', () => {
    const frame = toMulaw(noise(SAMPLES_PER_FRAME, 6000, 30));
    const cases = [
      media(frame, 155, 'MZ00000000000000000000000000000002'),
      media(frame, 155).replace(/"payload":"(.)/, '"payload":"*'),
      media(frame, 155).replace('{"event"', '{ "event"'),
      '{"event":"media"',
    ];
    for (const text of cases) {
      const viaText = setup();
      const viaBytes = setup();
      viaText.session.handleText(start());
      viaBytes.session.handleText(start());
      viaText.session.handleText(text);
      const { b, n } = bytes(text);
      viaBytes.session.handleTextBytes(b, n);
      assert.deepEqual(viaBytes.socket.closedWith, viaText.socket.closedWith, text.slice(0, 60));
      assert.deepEqual(
        viaBytes.captured.warnings().map((w) => w.msg),
        viaText.captured.warnings().map((w) => w.msg),
      );
    }
  });

  test('framesPerMessage 2: one message per two ticks with both frames in order, the mark in the same write', () => {
    const { conference, session, socket } = setup(10_000, 2);
    const pairs: string[][] = [];
    socket.sendPair = (first, second) => pairs.push([first, second]);
    session.handleText(start());
    const frames: Buffer[] = [];
    for (let i = 0; i < 26; i++) {
      const audio = toMulaw(noise(SAMPLES_PER_FRAME, 6000, 40 + i));
      frames.push(Buffer.from(audio));
      session.handleText(media(audio, 155 + i * 20));
      conference.tick(20 * (i + 1));
    }
    // 26 frames: 12 messages, and the 13th (frames 25 and 26) carries the mark for 25 frames.
    assert.equal(socket.sent.length, 12);
    assert.equal(pairs.length, 1);
    assert.equal(JSON.parse(pairs[0]![1]!).mark.name, 'lead-26');
    const payloads = [...socket.sent, pairs[0]![0]!].map((m) => Buffer.from(JSON.parse(m).media.payload, 'base64'));
    assert.ok(payloads.every((p) => p.length === 2 * SAMPLES_PER_FRAME));
    // Echo when alone: from the second frame on, each frame is heard exactly as sent (the first fades in).
    const heard = Buffer.concat(payloads);
    const sent = Buffer.concat(frames).map((c) => (c === 0x7f ? 0xff : c));
    assert.deepEqual([...heard.subarray(SAMPLES_PER_FRAME)], [...sent.subarray(SAMPLES_PER_FRAME)]);
    assert.equal(session.stats.framesSent, 26);
    // One more frame is held until its pair: nothing sent for it yet.
    session.handleText(media(frames[0]!, 155 + 26 * 20));
    conference.tick(27 * 20);
    assert.equal(socket.sent.length, 12);
    assert.equal(session.stats.framesSent, 26);
  });
});
