import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createRequire } from 'node:module';
import { once } from 'node:events';
import { WebSocket, WebSocketServer } from 'ws';
import { mediaSocketOf } from '../../src/media/endpoint.js';
import { MEDIA_SUFFIX, OutboundMessages } from '../../src/media/messages.js';
import { TextFrameTemplate, textFrameLatin1 } from '../../src/media/wsFrame.js';

interface FrameParser {
  on(event: 'message', listener: (data: Buffer, isBinary: boolean) => void): void;
  on(event: 'error', listener: (error: Error) => void): void;
  write(chunk: Buffer): void;
}
// ws's frame parser (exported by its CommonJS entry, not by @types/ws).
const { Receiver } = createRequire(import.meta.url)('ws') as { Receiver: new (options: { isServer: boolean }) => FrameParser };

/** Feeds a frame to ws's own parser (the client side: unmasked frames) and returns what it read. */
function parse(frame: Buffer): { text: string; isBinary: boolean }[] {
  const out: { text: string; isBinary: boolean }[] = [];
  const receiver = new Receiver({ isServer: false });
  receiver.on('message', (data: Buffer, isBinary: boolean) => out.push({ text: data.toString('utf8'), isBinary }));
  receiver.on('error', (error: Error) => assert.fail(error.message));
  receiver.write(frame);
  return out;
}

test('the frame header for short, 16-bit and boundary lengths, byte for byte', () => {
  for (const [n, header] of [
    [0, [0x81, 0]],
    [1, [0x81, 1]],
    [125, [0x81, 125]],
    [126, [0x81, 126, 0, 126]],
    [330, [0x81, 126, 0x01, 0x4a]],
    [65535, [0x81, 126, 0xff, 0xff]],
  ] as const) {
    const text = 'x'.repeat(n);
    const frame = Buffer.from(textFrameLatin1(text)!, 'latin1');
    assert.deepEqual([...frame.subarray(0, header.length)], header, `length ${n}`);
    assert.equal(frame.length, header.length + n, `length ${n}`);
  }
});

test("ws's own parser reads each frame back as the same text message", () => {
  const media = `{"event":"media","streamSid":"MZ0123456789abcdef0123456789abcdef","media":{"payload":"${Buffer.alloc(160, 0xff).toString('base64')}"}}`;
  for (const text of ['', '{"event":"clear","streamSid":"MZ1"}', media, 'y'.repeat(65535)]) {
    const frames = parse(Buffer.from(textFrameLatin1(text)!, 'latin1'));
    assert.equal(frames.length, 1);
    assert.equal(frames[0]!.isBinary, false);
    assert.equal(frames[0]!.text, text);
  }
});

test('non-ASCII text and payloads past 16 bits are left to ws (null)', () => {
  assert.equal(textFrameLatin1('{"streamSid":"MZé"}'), null, 'latin1 letter');
  assert.equal(textFrameLatin1('room ☎'), null, 'BMP symbol');
  assert.equal(textFrameLatin1('\ud83d'), null, 'lone surrogate');
  assert.equal(textFrameLatin1('z'.repeat(65536)), null, '64-bit length');
});

const SID = 'MZ0123456789abcdef0123456789abcdef';
const payloadOf = (fill: number, bytes = 160) => Buffer.alloc(bytes, fill).toString('base64');

test('a media frame template refilled in place gives the same bytes as the text frame, for 20 and 40 ms payloads', () => {
  const messages = new OutboundMessages(SID);
  for (const bytes of [160, 320]) {
    const template = TextFrameTemplate.of(messages.mediaPrefix, MEDIA_SUFFIX, Math.ceil(bytes / 3) * 4)!;
    assert.ok(template, `${bytes} bytes`);
    for (const fill of [0xff, 0x00, 0x7e]) {
      const frame = template.fill(payloadOf(fill, bytes))!;
      assert.deepEqual(frame, Buffer.from(textFrameLatin1(messages.media(payloadOf(fill, bytes)))!, 'latin1'), `${bytes} bytes, fill ${fill}`);
      assert.equal(parse(frame)[0]!.text, messages.media(payloadOf(fill, bytes)));
    }
  }
});

test('a template refuses a payload of another length, and a non-ASCII prefix', () => {
  const template = TextFrameTemplate.of('{"p":"', MEDIA_SUFFIX, 216)!;
  assert.equal(template.fill(payloadOf(1, 159)), null, 'shorter');
  assert.equal(template.fill(payloadOf(1, 163)), null, 'longer');
  assert.equal(TextFrameTemplate.of('{"streamSid":"MZé","p":"', MEDIA_SUFFIX, 216), null);
});

test('release() leaves the old bytes to the socket: the next fill does not touch them', () => {
  const template = TextFrameTemplate.of('{"p":"', MEDIA_SUFFIX, 216)!;
  const first = template.fill(payloadOf(0x11))!;
  const kept = Buffer.from(first);
  template.release();
  const second = template.fill(payloadOf(0x22))!;
  assert.notEqual(second, first);
  assert.deepEqual(first, kept, 'the released frame is unchanged');
  assert.equal(parse(second)[0]!.text, `{"p":"${payloadOf(0x22)}"}}`);
});

test('over a real socket whose peer stops reading, every frame written from a template arrives intact and in order', async () => {
  const wss = new WebSocketServer({ port: 0, perMessageDeflate: false });
  await once(wss, 'listening');
  const port = (wss.address() as { port: number }).port;
  const serverSide = once(wss, 'connection');
  const client = new WebSocket(`ws://127.0.0.1:${port}`, { perMessageDeflate: false });
  await once(client, 'open');
  const [ws] = (await serverSide) as [WebSocket];
  const received: string[] = [];
  client.on('message', (data: Buffer) => received.push(data.toString()));
  // The peer stops reading: the server's writes soon stay in its socket ("held").
  (client as unknown as { _socket: import('node:net').Socket })._socket.pause();
  const socket = mediaSocketOf(ws);
  const messages = new OutboundMessages(SID);
  const template = TextFrameTemplate.of(messages.mediaPrefix, MEDIA_SUFFIX, 216)!;
  const outcomes = { released: 0, held: 0, refused: 0 };
  // Loopback buffers take megabytes before a write stays in the socket: write until 200 have.
  let count = 0;
  for (; outcomes.held < 200 && count < 300_000; count++) {
    const i = count;
    // Each payload says its own number, so a frame overwritten after it was handed over shows.
    const payload = Buffer.alloc(160, i % 251);
    payload.writeUInt32BE(i, 0);
    const outcome = socket.writeFrame!(template.fill(payload.toString('base64'))!);
    outcomes[outcome]++;
    if (outcome === 'held') template.release();
  }
  assert.equal(outcomes.held, 200, `the socket held frames (${JSON.stringify(outcomes)})`);
  assert.ok(outcomes.released > 0, `and let go of the first ones (${JSON.stringify(outcomes)})`);
  assert.equal(outcomes.refused, 0);
  (client as unknown as { _socket: import('node:net').Socket })._socket.resume();
  while (received.length < count) await once(client, 'message');
  assert.equal(received.length, count);
  for (let i = 0; i < count; i++) {
    const payload = Buffer.from((JSON.parse(received[i]!) as { media: { payload: string } }).media.payload, 'base64');
    assert.equal(payload.readUInt32BE(0), i, `message ${i} in order and intact`);
    assert.equal(payload[100], i % 251);
  }
  client.close();
  wss.close();
});
