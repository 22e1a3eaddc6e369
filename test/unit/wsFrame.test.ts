import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createRequire } from 'node:module';
import { textFrameLatin1 } from '../../src/media/wsFrame.js';

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
