/**
 * Twilio Media Streams messages (src/media/messages.ts): the real capture
 * (test/fixtures/twilio-captured.jsonl, a byte-for-byte copy of
 * ../shared/twilio-captured/media-stream-capture.jsonl) and every recorded session parse; what
 * Twilio does not send is refused with a reason, never an exception; what the server sends back has
 * exactly the documented shapes (../shared/twilio-media-streams.md, sections 2 and 3).
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { OutboundMessages, parseTwilioMessage, type MediaMessage, type ParseResult, type TwilioMessage } from '../../src/media/messages.js';
import { prng } from '../helpers/audio.js';

const FIXTURES_DIR = fileURLToPath(new URL('../fixtures/', import.meta.url));

function lines(path: string): string[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((line) => line.length > 0);
}

function ok(text: string): TwilioMessage {
  const result = parseTwilioMessage(text);
  if (!result.ok) assert.fail(`refused (${result.reason}): ${text.slice(0, 200)}`);
  return result.message;
}

function refused(text: string): string {
  let result: ParseResult;
  assert.doesNotThrow(() => {
    result = parseTwilioMessage(text);
  });
  const r = result!;
  assert.equal(r.ok, false, `accepted: ${text.slice(0, 200)}`);
  assert.ok(!r.ok && typeof r.reason === 'string' && r.reason.length > 0, 'a non-empty reason');
  return (r as { ok: false; reason: string }).reason;
}

const SID = {
  account: 'AC000000000000000000000000000000a1',
  stream: 'MZ000000000000000000000000000000b2',
  call: 'CA000000000000000000000000000000c3',
};

const PAYLOAD_160 = Buffer.alloc(160, 0xff).toString('base64');

/** Valid messages of every event, in the documented shapes. */
const VALID: Record<string, Record<string, unknown>> = {
  connected: { event: 'connected', protocol: 'Call', version: '1.0.0' },
  start: {
    event: 'start',
    sequenceNumber: '1',
    streamSid: SID.stream,
    start: {
      accountSid: SID.account,
      streamSid: SID.stream,
      callSid: SID.call,
      tracks: ['inbound'],
      mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 },
      customParameters: { room: '4711' },
    },
  },
  media: {
    event: 'media',
    sequenceNumber: '2',
    streamSid: SID.stream,
    media: { track: 'inbound', chunk: '1', timestamp: '155', payload: PAYLOAD_160 },
  },
  dtmf: { event: 'dtmf', sequenceNumber: '5', streamSid: SID.stream, dtmf: { track: 'inbound_track', digit: '1' } },
  mark: { event: 'mark', sequenceNumber: '9', streamSid: SID.stream, mark: { name: 'm42' } },
  stop: { event: 'stop', sequenceNumber: '378', streamSid: SID.stream, stop: { accountSid: SID.account, callSid: SID.call } },
};

function variant(event: string, edit: (m: any) => void): string {
  const m = structuredClone(VALID[event]!);
  edit(m);
  return JSON.stringify(m);
}

describe('real traffic parses', () => {
  test('test/fixtures/twilio-captured.jsonl is a byte-for-byte copy of the shared capture', () => {
    const shared = fileURLToPath(new URL('../../../shared/twilio-captured/media-stream-capture.jsonl', import.meta.url));
    const copy = readFileSync(`${FIXTURES_DIR}twilio-captured.jsonl`);
    assert.equal(copy.toString('utf8').split('\n').length, 6, 'five messages, newline-terminated');
    let original: Buffer | null = null;
    try {
      original = readFileSync(shared);
    } catch {
      // The shared folder is outside the repository; where it is absent, the copy stands alone.
    }
    if (original) assert.deepEqual(copy, original);
  });

  test('every line of the real capture parses, with the right event and typed fields', () => {
    const messages = lines(`${FIXTURES_DIR}twilio-captured.jsonl`).map(ok);
    assert.deepEqual(
      messages.map((m) => m.event),
      ['connected', 'start', 'media', 'media', 'stop'],
    );
    const [connected, start, media1, media73, stop] = messages;

    assert.ok(connected?.event === 'connected');
    assert.equal(connected.protocol, 'Call');
    assert.equal(connected.version, '1.0.0');

    assert.ok(start?.event === 'start');
    assert.equal(start.sequenceNumber, '1');
    assert.equal(start.streamSid, SID.stream);
    assert.equal(start.start.streamSid, SID.stream);
    assert.equal(start.start.accountSid, SID.account);
    assert.equal(start.start.callSid, SID.call);
    assert.deepEqual(start.start.tracks, ['inbound']);
    assert.deepEqual(start.start.mediaFormat, { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 });
    assert.deepEqual(start.start.customParameters, {});

    assert.ok(media1?.event === 'media');
    assert.equal(media1.sequenceNumber, '2');
    assert.equal(media1.streamSid, SID.stream);
    assert.equal(media1.media.track, 'inbound');
    assert.equal(media1.media.chunk, '1');
    assert.equal(media1.media.timestamp, '155');
    assert.equal(typeof media1.media.timestamp, 'string');
    assert.equal(Buffer.from(media1.media.payload, 'base64').length, 160);

    assert.ok(media73?.event === 'media');
    assert.equal(media73.sequenceNumber, '74');
    assert.equal(media73.media.chunk, '73');
    assert.equal(media73.media.timestamp, '1593');
    const payload73 = Buffer.from(media73.media.payload, 'base64');
    assert.equal(payload73.length, 160);
    // Twilio's "silence": only the mu-law zeros and their neighbours.
    assert.ok([...payload73].every((b) => [0x7f, 0xff, 0x7e, 0xfe].includes(b)));

    assert.ok(stop?.event === 'stop');
    assert.equal(stop.sequenceNumber, '378');
    assert.deepEqual(stop.stop, { accountSid: SID.account, callSid: SID.call });
  });

  test('every line of every recorded session in test/fixtures/sessions/ parses', () => {
    const files = readdirSync(`${FIXTURES_DIR}sessions`).filter((f) => f.endsWith('.jsonl'));
    assert.ok(files.length >= 5, `sessions: ${files.join(', ')}`);
    for (const file of files) {
      const messages = lines(`${FIXTURES_DIR}sessions/${file}`).map(ok);
      assert.equal(messages[0]?.event, 'connected', file);
      assert.equal(messages[1]?.event, 'start', file);
      assert.equal(messages.at(-1)?.event, 'stop', file);
      const media = messages.filter((m): m is MediaMessage => m.event === 'media');
      assert.ok(media.length > 100, file);
      for (const m of media) assert.equal(Buffer.from(m.media.payload, 'base64').length, 160, file);
      assert.ok(
        messages.some((m) => m.event === 'dtmf' && m.dtmf.digit === '1'),
        `${file} has its dtmf`,
      );
    }
  });

  test('each documented message shape parses (dtmf, mark, customParameters)', () => {
    for (const [event, message] of Object.entries(VALID)) assert.equal(ok(JSON.stringify(message)).event, event);
    const start = ok(JSON.stringify(VALID.start));
    assert.ok(start.event === 'start');
    assert.deepEqual(start.start.customParameters, { room: '4711' });
    const dtmf = ok(JSON.stringify(VALID.dtmf));
    assert.ok(dtmf.event === 'dtmf' && dtmf.dtmf.digit === '1');
    for (const digit of ['0', '9', '*', '#', 'A', 'D']) {
      assert.equal(parseTwilioMessage(variant('dtmf', (m) => (m.dtmf.digit = digit))).ok, true, `digit ${digit}`);
    }
    const mark = ok(JSON.stringify(VALID.mark));
    assert.ok(mark.event === 'mark' && mark.mark.name === 'm42');
  });
});

describe('refusals: {ok: false, reason}, never a throw', () => {
  test('not JSON', () => {
    for (const text of ['', ' ', 'hello', '{', '{"event":"media"', "{'event':'media'}", '\u0000', 'undefined']) refused(text);
    assert.match(refused('{"event":'), /JSON/);
  });

  test('JSON that is not an object: array, number, string, null, boolean', () => {
    for (const text of ['[]', '[{"event":"media"}]', '42', '-0.5', '"media"', 'null', 'true', 'false']) refused(text);
  });

  test('missing or non-string event', () => {
    assert.match(refused('{}'), /event/);
    assert.match(refused('{"protocol":"Call","version":"1.0.0"}'), /event/);
    refused('{"event":null}');
    refused('{"event":5}');
    refused('{"event":["media"]}');
    refused('{"event":{"name":"media"}}');
  });

  test('unknown events are refused with a reason that names the event', () => {
    for (const event of ['foo', 'Media', 'MEDIA', 'clear', 'connected ', '', 'constructor', 'toString', '__proto__', 'hasOwnProperty']) {
      const reason = refused(JSON.stringify({ event, sequenceNumber: '1', streamSid: SID.stream }));
      assert.ok(reason.includes(`"${event}"`), `reason for ${JSON.stringify(event)}: ${reason}`);
    }
  });

  test('media with numeric timestamp, chunk or sequenceNumber (Twilio sends strings)', () => {
    refused(variant('media', (m) => (m.media.timestamp = 155)));
    refused(variant('media', (m) => (m.media.chunk = 1)));
    refused(variant('media', (m) => (m.sequenceNumber = 2)));
    refused(variant('media', (m) => (m.media.timestamp = '-5')));
    refused(variant('media', (m) => (m.media.timestamp = '1.5')));
    refused(variant('media', (m) => (m.media.timestamp = '')));
    refused(variant('media', (m) => delete m.media.payload));
    refused(variant('media', (m) => (m.media.payload = 160)));
    refused(variant('media', (m) => delete m.media));
    refused(variant('media', (m) => delete m.streamSid));
    refused(variant('media', (m) => (m.streamSid = '')));
    const reason = refused(variant('media', (m) => (m.media.timestamp = 155)));
    assert.match(reason, /timestamp/, reason);
  });

  test('start with a missing or malformed mediaFormat, or missing ids', () => {
    const reason = refused(variant('start', (m) => delete m.start.mediaFormat));
    assert.match(reason, /mediaFormat/, reason);
    refused(variant('start', (m) => (m.start.mediaFormat.sampleRate = '8000')));
    refused(variant('start', (m) => delete m.start.mediaFormat.encoding));
    refused(variant('start', (m) => delete m.start.callSid));
    refused(variant('start', (m) => delete m.start));
    refused(variant('start', (m) => (m.start.tracks = 'inbound')));
    refused(variant('start', (m) => (m.start.customParameters = { room: 4711 })));
  });

  test('dtmf with a digit that is not a key (X, two keys, empty)', () => {
    for (const digit of ['X', '12', '', 'a', ' 1']) {
      refused(variant('dtmf', (m) => (m.dtmf.digit = digit)));
    }
    refused(variant('dtmf', (m) => (m.dtmf.digit = 1)));
  });

  test('stop and mark without their bodies', () => {
    refused(variant('stop', (m) => delete m.stop));
    refused(variant('stop', (m) => delete m.stop.callSid));
    refused(variant('mark', (m) => delete m.mark));
    refused(variant('mark', (m) => (m.mark.name = 42)));
  });
});

describe('accepted variations', () => {
  test('extra unknown top-level (and nested) fields are accepted, as Twilio may add fields', () => {
    for (const event of Object.keys(VALID)) {
      const text = variant(event, (m) => {
        m.newTwilioField = { nested: [1, 2, 3] };
        m.anotherOne = 'x';
      });
      assert.equal(ok(text).event, event, event);
    }
    const media = ok(variant('media', (m) => (m.media.newInnerField = true)));
    assert.ok(media.event === 'media');
    assert.equal(media.media.timestamp, '155');
  });

  test('customParameters may be missing (taken as {}); media track may be missing', () => {
    const start = ok(variant('start', (m) => delete m.start.customParameters));
    assert.ok(start.event === 'start');
    assert.deepEqual(start.start.customParameters, {});
    const media = ok(variant('media', (m) => delete m.media.track));
    assert.ok(media.event === 'media');
    assert.equal(media.media.track, undefined);
  });
});

describe('robustness: 2,000 random and mutated inputs never throw', () => {
  test('truncations, byte flips, field deletions, type swaps and random strings', () => {
    const random = prng(0xbadc0de);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
    const bases = [...Object.values(VALID).map((m) => JSON.stringify(m)), ...lines(`${FIXTURES_DIR}twilio-captured.jsonl`)];
    const strange: unknown[] = [null, 0, -1, 1e308, '', 'x'.repeat(1000), [], {}, true, '__proto__', { constructor: 1 }];

    function deleteOrSwapRandomField(value: unknown, swap: boolean): void {
      // Walk down a random path of objects and delete or replace one key there.
      let node = value as Record<string, unknown>;
      for (;;) {
        const keys = Object.keys(node);
        if (keys.length === 0) return;
        const key = pick(keys);
        const child = node[key];
        if (child && typeof child === 'object' && random() < 0.6) {
          node = child as Record<string, unknown>;
          continue;
        }
        if (swap) node[key] = pick(strange);
        else delete node[key];
        return;
      }
    }

    const counts = { ok: 0, refused: 0 };
    for (let i = 0; i < 2000; i++) {
      const base = pick(bases);
      let text: string;
      const kind = i % 6;
      if (kind === 0) {
        text = base.slice(0, Math.floor(random() * base.length));
      } else if (kind === 1) {
        const chars = [...base];
        const flips = 1 + Math.floor(random() * 4);
        for (let f = 0; f < flips; f++) chars[Math.floor(random() * chars.length)] = String.fromCharCode(Math.floor(random() * 128));
        text = chars.join('');
      } else if (kind === 2 || kind === 3) {
        const value = JSON.parse(base) as unknown;
        deleteOrSwapRandomField(value, kind === 3);
        text = JSON.stringify(value);
      } else if (kind === 4) {
        const length = Math.floor(random() * 200);
        text = Array.from({ length }, () => String.fromCharCode(Math.floor(random() * 0x3000))).join('');
      } else {
        const value = JSON.parse(base) as Record<string, unknown>;
        value.event = pick(['media', 'start', 'stop', 'mark', 'dtmf', 'connected', 'clear', 'constructor', '', 'x'.repeat(500)]);
        text = JSON.stringify(value);
      }
      let result: ParseResult | undefined;
      try {
        result = parseTwilioMessage(text);
      } catch (error) {
        assert.fail(`threw on input #${i} ${JSON.stringify(text).slice(0, 300)}: ${String(error)}`);
      }
      if (result.ok) {
        assert.equal(typeof result.message.event, 'string');
        counts.ok++;
      } else {
        assert.equal(typeof result.reason, 'string');
        assert.ok(result.reason.length > 0 && result.reason.length < 1000, `reason length ${result.reason.length}`);
        counts.refused++;
      }
    }
    // The mutations produced both outcomes (some deletions only touch optional or extra fields).
    assert.ok(counts.ok > 0 && counts.refused > 0, JSON.stringify(counts));
  });
});

describe('OutboundMessages', () => {
  test('media() is exactly {event, streamSid, media: {payload}}', () => {
    const out = new OutboundMessages(SID.stream);
    const text = out.media(PAYLOAD_160);
    const parsed = JSON.parse(text) as Record<string, unknown>;
    assert.deepEqual(parsed, { event: 'media', streamSid: SID.stream, media: { payload: PAYLOAD_160 } });
    assert.deepEqual(Object.keys(parsed), ['event', 'streamSid', 'media']);
    assert.deepEqual(Object.keys(parsed.media as object), ['payload']);
    assert.equal(text, `{"event":"media","streamSid":"${SID.stream}","media":{"payload":"${PAYLOAD_160}"}}`);
    // Repeated calls are independent.
    assert.deepEqual(JSON.parse(out.media('AAAA')), { event: 'media', streamSid: SID.stream, media: { payload: 'AAAA' } });
  });

  test('a streamSid with a quote, backslash or control character is escaped correctly', () => {
    for (const sid of ['MZ"quoted"', 'MZ\\back\\slash', 'MZ\nnew\u0001line', 'MZ\u2028sep', 'MZ"}],"event":"clear']) {
      const out = new OutboundMessages(sid);
      assert.deepEqual(JSON.parse(out.media('/w==')), { event: 'media', streamSid: sid, media: { payload: '/w==' } });
      assert.deepEqual(JSON.parse(out.mark('m1')), { event: 'mark', streamSid: sid, mark: { name: 'm1' } });
      assert.deepEqual(JSON.parse(out.clear()), { event: 'clear', streamSid: sid });
    }
  });

  test('mark() and clear() have the exact documented shapes', () => {
    const out = new OutboundMessages(SID.stream);
    assert.equal(out.mark('m42'), `{"event":"mark","streamSid":"${SID.stream}","mark":{"name":"m42"}}`);
    assert.equal(out.clear(), `{"event":"clear","streamSid":"${SID.stream}"}`);
    assert.deepEqual(JSON.parse(out.mark('a "name"')), { event: 'mark', streamSid: SID.stream, mark: { name: 'a "name"' } });
    assert.equal(out.streamSid, SID.stream);
  });
});
