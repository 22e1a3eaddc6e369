/**
 * The hand-written media check (isMediaMessage, used by parseTwilioMessage instead of the schema
 * for the message that comes 50 times a second) against the schema itself: it must accept real
 * Twilio traffic, and whatever it accepts the schema must accept with the same values.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { isMediaMessage, twilioMessageSchema } from '../../src/media/messages.js';
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
