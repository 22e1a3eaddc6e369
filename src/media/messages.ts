/**
 * Twilio Media Streams messages, as a typed union on `event`, validated by schema where they
 * arrive. Twilio sends `sequenceNumber`, `chunk` and `timestamp` as decimal strings and
 * `sampleRate`/`channels` as numbers; anything else is refused. Fields Twilio may add later are
 * accepted and dropped. Also the three messages the server may send back, as exact strings.
 */
import { z } from 'zod';

const decimal = z.string().regex(/^\d{1,15}$/, 'expected a decimal string');
const sid = z.string().min(1).max(64);

const connected = z.object({ event: z.literal('connected'), protocol: z.string(), version: z.string() });

const start = z.object({
  event: z.literal('start'),
  sequenceNumber: decimal,
  streamSid: sid,
  start: z.object({
    accountSid: sid,
    streamSid: sid,
    callSid: sid,
    tracks: z.array(z.string()),
    mediaFormat: z.object({ encoding: z.string(), sampleRate: z.number(), channels: z.number() }),
    customParameters: z.record(z.string(), z.string()).default({}),
  }),
});

const media = z.object({
  event: z.literal('media'),
  sequenceNumber: decimal,
  streamSid: sid,
  media: z.object({ track: z.string().optional(), chunk: decimal, timestamp: decimal, payload: z.string() }),
});

const dtmf = z.object({
  event: z.literal('dtmf'),
  sequenceNumber: decimal,
  streamSid: sid,
  dtmf: z.object({ track: z.string().optional(), digit: z.string().regex(/^[0-9*#A-D]$/) }),
});

const mark = z.object({
  event: z.literal('mark'),
  sequenceNumber: decimal,
  streamSid: sid,
  mark: z.object({ name: z.string() }),
});

const stop = z.object({
  event: z.literal('stop'),
  sequenceNumber: decimal,
  streamSid: sid,
  stop: z.object({ accountSid: sid, callSid: sid }),
});

export const twilioMessageSchema = z.discriminatedUnion('event', [connected, start, media, dtmf, mark, stop]);

export type TwilioMessage = z.infer<typeof twilioMessageSchema>;
export type StartMessage = z.infer<typeof start>;
export type MediaMessage = z.infer<typeof media>;

export type ParseResult = { ok: true; message: TwilioMessage } | { ok: false; reason: string };

/** Parses one text frame. Never throws: any input gives a message or a reason. */
export function parseTwilioMessage(text: string): ParseResult {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { ok: false, reason: 'not JSON' };
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return { ok: false, reason: 'not a JSON object' };
  const event = (json as { event?: unknown }).event;
  if (typeof event !== 'string') return { ok: false, reason: 'no "event" field' };
  // The message that comes 50 times a second per caller: checked by hand, not by the schema.
  if (event === 'media' && isMediaMessage(json)) return { ok: true, message: json };
  const result = twilioMessageSchema.safeParse(json);
  if (result.success) return { ok: true, message: result.data };
  const issue = result.error.issues[0];
  if (issue?.code === 'invalid_union' && issue.path.length === 1 && issue.path[0] === 'event') {
    return { ok: false, reason: `unknown event "${event.slice(0, 40)}"` };
  }
  const where = issue?.path.length ? issue.path.join('.') : 'message';
  return { ok: false, reason: `${event} message: ${where}: ${issue?.message ?? 'invalid'}` };
}

const DECIMAL = /^\d{1,15}$/;

/**
 * The media schema's checks, by hand (a third of the parse time in the schema's hands). True only
 * where the schema would accept the message with the same values; everything else goes to the
 * schema, which explains what is wrong (test/unit/messages.fast.test.ts holds them together).
 * Unlike the schema it leaves unknown fields on the object; nothing reads them.
 */
export function isMediaMessage(json: unknown): json is MediaMessage {
  const m = json as { event?: unknown; sequenceNumber?: unknown; streamSid?: unknown; media?: unknown };
  if (m.event !== 'media' || typeof m.sequenceNumber !== 'string' || !DECIMAL.test(m.sequenceNumber)) return false;
  if (typeof m.streamSid !== 'string' || m.streamSid.length < 1 || m.streamSid.length > 64) return false;
  const media = m.media as { track?: unknown; chunk?: unknown; timestamp?: unknown; payload?: unknown } | null;
  if (typeof media !== 'object' || media === null || Array.isArray(media)) return false;
  if (media.track !== undefined && typeof media.track !== 'string') return false;
  if (typeof media.chunk !== 'string' || !DECIMAL.test(media.chunk)) return false;
  if (typeof media.timestamp !== 'string' || !DECIMAL.test(media.timestamp)) return false;
  return typeof media.payload === 'string';
}

/** Where the fields of a media message sit in its bytes (scanMediaBytes). */
export interface MediaFields {
  timestampMs: number;
  payloadStart: number;
  payloadEnd: number;
  streamSidStart: number;
  streamSidEnd: number;
}

const ascii = (text: string) => Uint8Array.from(text, (c) => c.charCodeAt(0));
const MEDIA_HEAD = ascii('{"event":"media","sequenceNumber":"');
const MEDIA_OPEN = ascii('","media":{');
const TRACK = ascii('"track":"');
const CHUNK = ascii('"chunk":"');
const TIMESTAMP = ascii('","timestamp":"');
const PAYLOAD = ascii('","payload":"');
const STREAM_SID = ascii('"},"streamSid":"');
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const CLOSE_BRACE = 0x7d;
/** The longest decimal the schema takes (/^\d{1,15}$/). */
const MAX_DIGITS = 15;

/**
 * A media message in Twilio's own field order and spacing, read from its ASCII bytes without
 * building a string or parsing JSON (50 of them a second per caller, the bulk of all input):
 *
 *     {"event":"media","sequenceNumber":"N","media":{["track":"T",]"chunk":"N","timestamp":"N","payload":"B"},"streamSid":"S"}
 *
 * True only where parseTwilioMessage would accept the message with these values; anything else
 * (another order, white space, escapes, more fields, a value out of the schema) is false, and
 * parseTwilioMessage judges it (test/unit/messages.fast.test.ts holds the two together).
 */
export function scanMediaBytes(bytes: Uint8Array, length: number, out: MediaFields): boolean {
  let pos = literal(bytes, length, 0, MEDIA_HEAD);
  pos = decimalEnd(bytes, length, pos);
  pos = literal(bytes, length, pos, MEDIA_OPEN);
  if (pos < 0) return false;
  const afterTrack = literal(bytes, length, pos, TRACK);
  if (afterTrack >= 0) {
    pos = stringEnd(bytes, length, afterTrack);
    if (pos < 0 || pos + 1 >= length || bytes[pos + 1] !== COMMA) return false;
    pos += 2;
  }
  pos = literal(bytes, length, pos, CHUNK);
  pos = decimalEnd(bytes, length, pos);
  pos = literal(bytes, length, pos, TIMESTAMP);
  if (pos < 0) return false;
  const timestampStart = pos;
  pos = decimalEnd(bytes, length, pos);
  if (pos < 0) return false;
  let timestampMs = 0;
  for (let i = timestampStart; i < pos; i++) timestampMs = timestampMs * 10 + (bytes[i]! - 0x30);
  pos = literal(bytes, length, pos, PAYLOAD);
  if (pos < 0) return false;
  const payloadStart = pos;
  pos = stringEnd(bytes, length, pos);
  if (pos < 0) return false;
  const payloadEnd = pos;
  pos = literal(bytes, length, pos, STREAM_SID);
  if (pos < 0) return false;
  const sidStart = pos;
  pos = stringEnd(bytes, length, pos);
  if (pos < 0 || pos - sidStart < 1 || pos - sidStart > 64) return false;
  if (pos + 2 !== length || bytes[pos + 1] !== CLOSE_BRACE) return false;
  out.timestampMs = timestampMs;
  out.payloadStart = payloadStart;
  out.payloadEnd = payloadEnd;
  out.streamSidStart = sidStart;
  out.streamSidEnd = pos;
  return true;
}

/** The position after `expected` at `pos`, or -1 (also for pos -1). */
function literal(bytes: Uint8Array, length: number, pos: number, expected: Uint8Array): number {
  if (pos < 0 || pos + expected.length > length) return -1;
  for (let i = 0; i < expected.length; i++) if (bytes[pos + i] !== expected[i]) return -1;
  return pos + expected.length;
}

/** 1 to 15 digits from `pos`, then a quote: the quote's position, or -1. */
function decimalEnd(bytes: Uint8Array, length: number, pos: number): number {
  if (pos < 0) return -1;
  let i = pos;
  while (i < length && i - pos <= MAX_DIGITS) {
    const c = bytes[i]!;
    if (c === QUOTE) return i > pos ? i : -1;
    if (c < 0x30 || c > 0x39) return -1;
    i++;
  }
  return -1;
}

/** A JSON string body with no escape and no control character from `pos`: its closing quote, or -1. */
function stringEnd(bytes: Uint8Array, length: number, pos: number): number {
  if (pos < 0) return -1;
  for (let i = pos; i < length; i++) {
    const c = bytes[i]!;
    if (c === QUOTE) return i;
    if (c === BACKSLASH || c < 0x20) return -1;
  }
  return -1;
}

/** Base64 alphabet value of each byte; 64 for '=', 255 for anything else. */
const BASE64_VALUE = (() => {
  const table = new Uint8Array(256).fill(255);
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  for (let i = 0; i < alphabet.length; i++) table[alphabet.charCodeAt(i)] = i;
  table[0x3d] = 64;
  return table;
})();

/**
 * Decodes standard base64 (padded, length a multiple of 4) from `bytes[start, end)` into `out`.
 * Returns the bytes written, or -1 when a character is outside the alphabet or '=' is anywhere but
 * the last one or two places.
 */
export function decodeBase64Bytes(bytes: Uint8Array, start: number, end: number, out: Uint8Array): number {
  const n = end - start;
  if (n % 4 !== 0) return -1;
  let o = 0;
  for (let i = start; i < end; i += 4) {
    const a = BASE64_VALUE[bytes[i]!]!;
    const b = BASE64_VALUE[bytes[i + 1]!]!;
    const c = BASE64_VALUE[bytes[i + 2]!]!;
    const d = BASE64_VALUE[bytes[i + 3]!]!;
    if ((a | b) >= 64) return -1;
    if ((c | d) >= 64) {
      // Padding: only in the last group, "xx==" or "xxx=".
      if (i + 4 !== end || d !== 64 || c > 64) return -1;
      out[o++] = (a << 2) | (b >> 4);
      if (c !== 64) out[o++] = ((b & 15) << 4) | (c >> 2);
      return o;
    }
    out[o++] = (a << 2) | (b >> 4);
    out[o++] = ((b & 15) << 4) | (c >> 2);
    out[o++] = ((c & 3) << 6) | d;
  }
  return o;
}

/** Builds the outbound `media` messages of one stream as strings, with no per-frame JSON work. */
/** What follows a media message's payload. */
export const MEDIA_SUFFIX = '"}}';

export class OutboundMessages {
  /** A media message up to its payload. */
  readonly mediaPrefix: string;
  constructor(readonly streamSid: string) {
    this.mediaPrefix = `{"event":"media","streamSid":${JSON.stringify(streamSid)},"media":{"payload":"`;
  }
  media(payloadBase64: string): string {
    return this.mediaPrefix + payloadBase64 + MEDIA_SUFFIX;
  }
  mark(name: string): string {
    return JSON.stringify({ event: 'mark', streamSid: this.streamSid, mark: { name } });
  }
  clear(): string {
    return JSON.stringify({ event: 'clear', streamSid: this.streamSid });
  }
}
