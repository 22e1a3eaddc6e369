/**
 * The endpoint's own inbound frame parser (src/media/wsInbound.ts, issue 13): whole masked text
 * frames and pongs are read from the socket's chunks however the transport cuts them; from the
 * first frame of any other kind on, every byte goes to ws's parser, starting exactly at that frame.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createRequire } from 'node:module';
import { InboundFrames } from '../../src/media/wsInbound.js';
import { prng } from '../helpers/audio.js';

interface FrameParser {
  on(event: 'message', listener: (data: Buffer, isBinary: boolean) => void): void;
  on(event: 'ping' | 'pong', listener: (data: Buffer) => void): void;
  on(event: 'conclude', listener: (code: number) => void): void;
  on(event: 'error', listener: (error: Error) => void): void;
  write(chunk: Buffer): void;
}
// ws's own frame parser, server side (exported by its CommonJS entry, not by @types/ws).
const { Receiver } = createRequire(import.meta.url)('ws') as { Receiver: new (options: { isServer: boolean; maxPayload?: number }) => FrameParser };

const rand = prng(6455);

/** A client's frame: masked with a random key, as RFC 6455 requires. */
function frame(opcode: number, payload: Buffer | string, options: { fin?: boolean; rsv?: number; masked?: boolean; length127?: boolean } = {}): Buffer {
  const data = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;
  const masked = options.masked ?? true;
  const n = data.length;
  const head = [((options.fin ?? true) ? 0x80 : 0) | ((options.rsv ?? 0) << 4) | opcode];
  if (options.length127) head.push((masked ? 0x80 : 0) | 127, 0, 0, 0, 0, 0, 0, n >> 8, n & 0xff);
  else if (n < 126) head.push((masked ? 0x80 : 0) | n);
  else head.push((masked ? 0x80 : 0) | 126, n >> 8, n & 0xff);
  const key = Array.from({ length: 4 }, () => Math.floor(rand() * 256));
  const body = Buffer.from(data.map((b, i) => (masked ? b ^ key[i % 4]! : b)));
  return Buffer.concat([Buffer.from(head), masked ? Buffer.from(key) : Buffer.alloc(0), body]);
}
const text = (s: string) => frame(0x1, s);

/** Feeds `chunks`; returns what the sink got and the bytes handed to ws, in order. */
function run(chunks: Buffer[], maxPayloadBytes = 8192) {
  const got: string[] = [];
  const handed: Buffer[] = [];
  let pongs = 0;
  const frames = new InboundFrames(
    {
      text: (bytes, length) => got.push(bytes.toString('latin1', 0, length)),
      pong: () => pongs++,
    },
    maxPayloadBytes,
    (rest) => handed.push(Buffer.from(rest)),
  );
  for (const chunk of chunks) frames.push(chunk);
  return { got, pongs, handed: Buffer.concat(handed), handedOff: frames.isHandedOff };
}

const MEDIA =
  '{"event":"media","sequenceNumber":"2","media":{"track":"inbound","chunk":"1","timestamp":"155","payload":"' + 'f39/'.repeat(54) + '"},"streamSid":"MZ1"}';
const MESSAGES = [
  '{"event":"connected","protocol":"Call","version":"1.0.0"}',
  MEDIA,
  '',
  'x',
  'y'.repeat(125),
  'z'.repeat(126),
  MEDIA.replace('155', '175'),
  'w'.repeat(4000),
];

test('whole text frames in one chunk: every message, in order, nothing handed to ws', () => {
  const r = run([Buffer.concat(MESSAGES.map(text))]);
  assert.deepEqual(r.got, MESSAGES);
  assert.equal(r.handedOff, false);
});

test('cut anywhere by the transport (every two-chunk cut, and byte by byte): the same messages', () => {
  const stream = Buffer.concat(MESSAGES.slice(0, 4).map(text));
  for (let cut = 0; cut <= stream.length; cut++) {
    assert.deepEqual(run([stream.subarray(0, cut), stream.subarray(cut)]).got, MESSAGES.slice(0, 4), `cut at ${cut}`);
  }
  const all = Buffer.concat(MESSAGES.map(text));
  assert.deepEqual(run([...all].map((b) => Buffer.from([b]))).got, MESSAGES);
});

test('pongs between messages are counted and passed over', () => {
  const r = run([Buffer.concat([text('a'), frame(0xa, ''), text('b'), frame(0xa, 'ping-1'), text('c')])]);
  assert.deepEqual(r.got, ['a', 'b', 'c']);
  assert.equal(r.pongs, 2);
  assert.equal(r.handedOff, false);
});

test('any other frame: ws gets every byte from that frame on, starting exactly there', () => {
  const cases: Array<[string, Buffer]> = [
    ['ping', frame(0x9, 'hi')],
    ['close', frame(0x8, Buffer.from([0x03, 0xe8]))],
    ['binary', frame(0x2, Buffer.from([1, 2, 3]))],
    ['first fragment', frame(0x1, 'part', { fin: false })],
    ['reserved bit (compression)', frame(0x1, 'x', { rsv: 4 })],
    ['unmasked', frame(0x1, 'x', { masked: false })],
    ['64-bit length', frame(0x1, 'x', { length127: true })],
    ['over maxPayload', text('m'.repeat(9000))],
    ['not ASCII', text('caf\u00e9')],
    ['oversized pong', frame(0xa, 'p'.repeat(126))],
  ];
  for (const [name, odd] of cases) {
    const before = text('before');
    const after = Buffer.concat([text('after'), text('more')]);
    const later = text('later');
    const wire = Buffer.concat([before, odd, after]);
    // Cut in the middle of the odd frame, and a later chunk: all of it reaches ws.
    const cut = before.length + 1;
    const r = run([wire.subarray(0, cut), wire.subarray(cut), later]);
    assert.deepEqual(r.got, ['before'], name);
    assert.equal(r.handedOff, true, name);
    assert.deepEqual(r.handed, Buffer.concat([odd, after, later]), name);
  }
});

test("what is handed over is a clean stream for ws's own parser: it reads the rest as it always did", () => {
  const receiver = new Receiver({ isServer: true, maxPayload: 8192 });
  const viaWs: string[] = [];
  const pings: string[] = [];
  receiver.on('message', (data, isBinary) => viaWs.push(isBinary ? `binary ${data.length}` : data.toString('utf8')));
  receiver.on('ping', (data) => pings.push(data.toString()));
  receiver.on('error', (error) => assert.fail(error.message));
  const got: string[] = [];
  const frames = new InboundFrames({ text: (b, n) => got.push(b.toString('latin1', 0, n)), pong: () => undefined }, 8192, (rest) =>
    receiver.write(Buffer.from(rest)),
  );
  const wire = Buffer.concat([text('one'), text('two'), frame(0x9, 'are you there'), text('three'), frame(0x2, Buffer.alloc(5)), text('caf\u00e9')]);
  for (let i = 0; i < wire.length; i += 7) frames.push(wire.subarray(i, i + 7));
  assert.deepEqual(got, ['one', 'two']);
  assert.deepEqual(pings, ['are you there']);
  assert.deepEqual(viaWs, ['three', 'binary 5', 'caf\u00e9']);
});
