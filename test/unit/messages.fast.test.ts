/**
 * The hand-written media check (isMediaMessage, used by parseTwilioMessage instead of the schema
 * for the message that comes 50 times a second) against the schema itself: it must accept real
 * Twilio traffic, and whatever it accepts the schema must accept with the same values.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { decodeBase64Bytes, isMediaMessage, parseTwilioMessage, scanMediaBytes, twilioMessageSchema } from '../../src/media/messages.js';
import { prng } from '../helpers/audio.js';

const fixtures = join(import.meta.dirname, '..', 'fixtures');
const realLines = [
  ...readFileSync(join(fixtures, 'twilio-captured.jsonl'), 'utf8').split('\n'),
  ...readdirSync(join(fixtures, 'sessions')).flatMap((f) => readFileSync(join(fixtures, 'sessions', f), 'utf8').split('\n')),
].filter((l) => l.trim());
const realMedia = realLines.filter((l) => JSON.parse(l).event === 'media');

/** Returns whether the hand check accepted; fails the test if the schema disagrees. */
function agrees(text: string): boolean {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return false;
  }
  if (!isMediaMessage(json)) return false;
  const full = twilioMessageSchema.safeParse(json);
  assert.ok(full.success, `the hand check accepted what the schema refuses: ${text.slice(0, 160)}`);
  assert.equal(full.data.event, 'media');
  if (full.data.event !== 'media') return true;
  assert.equal(json.streamSid, full.data.streamSid);
  assert.equal(json.sequenceNumber, full.data.sequenceNumber);
  assert.deepEqual({ ...json.media }, { ...full.data.media, ...(json.media.track === undefined ? {} : { track: json.media.track }) });
  return true;
}

test('real Twilio media messages pass the hand check', () => {
  assert.ok(realMedia.length > 700);
  for (const line of realMedia) assert.equal(agrees(line), true, line.slice(0, 80));
  for (const line of realLines.filter((l) => JSON.parse(l).event !== 'media')) assert.equal(agrees(line), false);
});

test('6,000 mutated messages: whatever the hand check accepts, the schema accepts identically', () => {
  const rand = prng(77);
  const pick = <T>(a: T[]) => a[Math.floor(rand() * a.length)]!;
  const mutations: Array<(m: any) => void> = [
    (m) => (m.event = pick(['medi', 'mark', 1, null, 'media'])),
    (m) => (m.sequenceNumber = pick(['', '-1', '1e3', '1234567890123456', ' 5', 5, null, '007'])),
    (m) => (m.streamSid = pick(['', 'M'.repeat(65), 'M'.repeat(64), null, 7, 'MZ"x'])),
    (m) => (m.media = pick([null, [], 'x', {}, { ...m.media }])),
    (m) => m.media && typeof m.media === 'object' && (m.media.timestamp = pick(['1', 1, '', '-3', '99999999999999999', undefined])),
    (m) => m.media && typeof m.media === 'object' && (m.media.chunk = pick(['2', 2, 'x', undefined])),
    (m) => m.media && typeof m.media === 'object' && (m.media.payload = pick(['', 'AAAA', 3, null, undefined, '\u0000'])),
    (m) => m.media && typeof m.media === 'object' && (m.media.track = pick(['inbound', 1, null, undefined])),
    (m) => delete m[pick(['event', 'sequenceNumber', 'streamSid', 'media'])],
    (m) => (m[pick(['extra', 'start', '__proto__'])] = pick([1, 'x', {}])),
  ];
  let accepted = 0;
  for (let i = 0; i < 6000; i++) {
    const m = JSON.parse(pick(realMedia));
    const rounds = Math.floor(rand() * 3);
    for (let r = 0; r < rounds; r++) pick(mutations)(m);
    if (agrees(JSON.stringify(m))) accepted++;
  }
  assert.ok(accepted > 500 && accepted < 5900, `a real mix of accepted (${accepted}) and refused`);
});

/**
 * The byte scanner (scanMediaBytes + decodeBase64Bytes, issue 13): where it takes a message, the
 * schema takes it with the same streamSid, timestamp and payload bytes; where it declines, the
 * session hands the text to parseTwilioMessage, so declining is always safe.
 */
function scanAgrees(text: string): boolean {
  const bytes = Buffer.from(text, 'latin1');
  const f = { timestampMs: 0, payloadStart: 0, payloadEnd: 0, streamSidStart: 0, streamSidEnd: 0 };
  if (!scanMediaBytes(bytes, bytes.length, f)) return false;
  const parsed = parseTwilioMessage(text);
  assert.ok(parsed.ok && parsed.message.event === 'media', `the scanner took what the parser refuses: ${text.slice(0, 160)}`);
  if (!parsed.ok || parsed.message.event !== 'media') return true;
  assert.equal(bytes.toString('latin1', f.streamSidStart, f.streamSidEnd), parsed.message.streamSid);
  assert.equal(f.timestampMs, Number(parsed.message.media.timestamp));
  assert.equal(bytes.toString('latin1', f.payloadStart, f.payloadEnd), parsed.message.media.payload);
  const out = Buffer.alloc(4096);
  const n = decodeBase64Bytes(bytes, f.payloadStart, f.payloadEnd, out);
  if (n >= 0) assert.deepEqual(out.subarray(0, n), Buffer.from(parsed.message.media.payload, 'base64'), 'the same bytes as Node decodes');
  return true;
}

test('real Twilio media messages are read from their bytes; nothing else is', () => {
  for (const line of realMedia) assert.equal(scanAgrees(line), true, line.slice(0, 80));
  for (const line of realLines.filter((l) => JSON.parse(l).event !== 'media')) assert.equal(scanAgrees(line), false);
});

test('6,000 mutated media texts: whatever the byte scanner takes, the parser takes with the same values', () => {
  const rand = prng(78);
  const pick = <T>(a: T[]) => a[Math.floor(rand() * a.length)]!;
  const edits: Array<(t: string) => string> = [
    (t) => t.replace('"media"', pick(['"medi"', '"media" ', '"mark"'])),
    (t) => t.replace(/"sequenceNumber":"\d+"/, `"sequenceNumber":"${pick(['', '-1', '1234567890123456', '123456789012345', ' 5', 'x'])}"`),
    (t) => t.replace(/"timestamp":"\d+"/, `"timestamp":"${pick(['', '1e3', '999999999999999', '9999999999999999', '0', '007'])}"`),
    (t) => t.replace(/"chunk":"\d+"/, pick(['"chunk":2', '"chunk":"x"', '"chunk":"12"'])),
    (t) => t.replace('"track":"inbound",', pick(['', '"track":"in\\"b",', '"track":1,', '"track":"outbound",'])),
    (t) => t.replace(/"streamSid":"[^"]*"/, `"streamSid":"${pick(['', 'M'.repeat(64), 'M'.repeat(65), 'MZ\\u0041', 'MZ1'])}"`),
    (t) =>
      t.replace(
        /"payload":"([^"]*)"/,
        (_m, p: string) =>
          `"payload":"${pick([p.slice(1), p + '=', p.replace(/.$/, '*'), p.replace(/^./, '-'), '', 'AA==', 'A===', p.slice(0, -4) + 'AB=A'])}"`,
      ),
    (t) => t.replace(/}$/, pick(['} ', ',"x":1}', '}}', '}'])),
    (t) => t.replace('{"event"', pick(['{ "event"', '{"event"', '[{"event"'])),
  ];
  let taken = 0;
  for (let i = 0; i < 6000; i++) {
    let text = pick(realMedia);
    const rounds = Math.floor(rand() * 3);
    for (let r = 0; r < rounds; r++) text = pick(edits)(text);
    if (scanAgrees(text)) taken++;
  }
  assert.ok(taken > 500 && taken < 5900, `a real mix of taken (${taken}) and declined`);
});

test('base64 from bytes: every length of random bytes decodes as Node does; bad characters and misplaced padding are refused', () => {
  const rand = prng(79);
  const out = Buffer.alloc(512);
  for (let n = 0; n <= 300; n++) {
    const data = Buffer.from(Array.from({ length: n }, () => Math.floor(rand() * 256)));
    const text = Buffer.from(data.toString('base64'), 'latin1');
    assert.equal(decodeBase64Bytes(text, 0, text.length, out), n);
    assert.deepEqual(out.subarray(0, n), data);
  }
  for (const bad of ['AB', 'A*AA', 'AA=A', 'A===', '====', 'AA==AAAA', '-_AA', 'AAA\u0000']) {
    const b = Buffer.from(bad, 'latin1');
    assert.equal(decodeBase64Bytes(b, 0, b.length, out), -1, bad);
  }
});
