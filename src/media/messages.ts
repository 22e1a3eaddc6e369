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
export type ConnectedMessage = z.infer<typeof connected>;
export type StartMessage = z.infer<typeof start>;
export type MediaMessage = z.infer<typeof media>;
export type DtmfMessage = z.infer<typeof dtmf>;
export type MarkMessage = z.infer<typeof mark>;
export type StopMessage = z.infer<typeof stop>;

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

/** Builds the outbound `media` messages of one stream as strings, with no per-frame JSON work. */
export class OutboundMessages {
  private readonly mediaPrefix: string;
  constructor(readonly streamSid: string) {
    this.mediaPrefix = `{"event":"media","streamSid":${JSON.stringify(streamSid)},"media":{"payload":"`;
  }
  media(payloadBase64: string): string {
    return this.mediaPrefix + payloadBase64 + '"}}';
  }
  mark(name: string): string {
    return JSON.stringify({ event: 'mark', streamSid: this.streamSid, mark: { name } });
  }
  clear(): string {
    return JSON.stringify({ event: 'clear', streamSid: this.streamSid });
  }
}

