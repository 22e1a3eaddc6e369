/**
 * Issue 5: property-based tests (fast-check) of the three places untrusted input meets the core:
 * the message parser (any text in: a typed message or a typed reason, never a throw), the
 * reframer (any sequence of payload sizes: the same audio, in 160-byte frames), and the mixer (any
 * inputs: every output sample in int16, and each caller's own voice exactly cancelled before the
 * limiter: g * (S - own) where S - own is exactly the sum of the others).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { SAMPLES_PER_FRAME } from '../../src/audio/format.js';
import { accumulate, mixDown } from '../../src/audio/mix.js';
import { isMediaMessage, parseTwilioMessage, twilioMessageSchema } from '../../src/media/messages.js';
import { Reframer } from '../../src/media/reframer.js';
import { MixerHarness } from '../helpers/mixer.js';

const EVENTS = new Set(['connected', 'start', 'media', 'dtmf', 'mark', 'stop']);
const clamp16 = (v: number) => (v > 32767 ? 32767 : v < -32768 ? -32768 : v);

describe('fuzz: the message parser never throws', () => {
  const check = (text: string) => {
    const result = parseTwilioMessage(text);
    if (result.ok) assert.ok(EVENTS.has(result.message.event));
    else assert.ok(typeof result.reason === 'string' && result.reason.length > 0 && result.reason.length < 300);
  };

  test('any string', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 400 }), (s) => check(s)),
      { numRuns: 2000 },
    );
  });

  test('any JSON value', () => {
    fc.assert(
      fc.property(fc.json({ maxDepth: 4 }), (s) => check(s)),
      { numRuns: 1500 },
    );
  });

  // Twilio-shaped messages with any field replaced by anything: the schema's edges.
  const anyValue = fc.oneof(
    fc.string({ maxLength: 20 }),
    fc.integer(),
    fc.double(),
    fc.boolean(),
    fc.constant(null),
    fc.array(fc.string(), { maxLength: 3 }),
    fc.object({ maxDepth: 1 }),
  );
  const base = {
    event: 'media',
    sequenceNumber: '3',
    streamSid: 'MZ1',
    media: { track: 'inbound', chunk: '2', timestamp: '195', payload: '/////w==' },
    start: {
      accountSid: 'AC1',
      streamSid: 'MZ1',
      callSid: 'CA1',
      tracks: ['inbound'],
      mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 },
      customParameters: { room: '1' },
    },
    dtmf: { track: 'inbound_track', digit: '5' },
    mark: { name: 'm1' },
    stop: { accountSid: 'AC1', callSid: 'CA1' },
  };
  test('Twilio-shaped messages with fields replaced, removed or added', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...EVENTS, 'clear', 'hello', ''),
        fc.array(
          fc.tuple(
            fc.constantFrom(
              'sequenceNumber',
              'streamSid',
              'media',
              'start',
              'dtmf',
              'mark',
              'stop',
              'media.payload',
              'media.timestamp',
              'start.mediaFormat',
              'start.customParameters',
              'dtmf.digit',
              '__proto__',
              'constructor',
              'extra',
            ),
            fc.option(anyValue),
          ),
          { maxLength: 4 },
        ),
        (event, edits) => {
          const message: Record<string, any> = structuredClone({ ...base, event });
          for (const [path, value] of edits) {
            const [a, b] = path.split('.') as [string, string | undefined];
            const target = b ? message[a] : message;
            if (target === null || typeof target !== 'object') continue;
            if (value === null) delete target[b ?? a];
            else target[b ?? a] = value;
          }
          check(JSON.stringify(message));
        },
      ),
      { numRuns: 3000 },
    );
  });

  test("the hand-written media check (the parser's fast path) never accepts what the schema refuses", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.tuple(
            fc.constantFrom('sequenceNumber', 'streamSid', 'media', 'event', 'media.payload', 'media.timestamp', 'media.chunk', 'media.track', 'extra'),
            fc.option(anyValue),
          ),
          { maxLength: 3 },
        ),
        (edits) => {
          const message: Record<string, any> = structuredClone(base);
          for (const [path, value] of edits) {
            const [a, b] = path.split('.') as [string, string | undefined];
            const target = b ? message[a] : message;
            if (target === null || typeof target !== 'object') continue;
            if (value === null) delete target[b ?? a];
            else target[b ?? a] = value;
          }
          const json: unknown = JSON.parse(JSON.stringify(message));
          if (!isMediaMessage(json)) return;
          const full = twilioMessageSchema.safeParse(json);
          if (!full.success || full.data.event !== 'media')
            return assert.fail(`fast path accepted what the schema refuses: ${JSON.stringify(json).slice(0, 200)}`);
          assert.deepEqual(full.data.media, {
            ...(json.media.track === undefined ? {} : { track: json.media.track }),
            chunk: json.media.chunk,
            timestamp: json.media.timestamp,
            payload: json.media.payload,
          });
        },
      ),
      { numRuns: 3000 },
    );
  });

  test('a valid message parses as its event', () => {
    for (const event of EVENTS) {
      if (event === 'connected') continue;
      const r = parseTwilioMessage(JSON.stringify({ ...base, event }));
      assert.ok(r.ok && r.message.event === event, event);
    }
  });
});

describe('fuzz: the reframer', () => {
  /** Payloads as Twilio sends them: timestamp = ms since start, rounded, no gaps. */
  const payloadSizes = fc.array(fc.integer({ min: 1, max: 1200 }), { minLength: 1, maxLength: 60 });

  test('any sequence of payload sizes: the same bytes, in order, in 160-byte frames', () => {
    fc.assert(
      fc.property(payloadSizes, fc.integer({ min: 0, max: 100_000 }), (sizes, firstTimestampMs) => {
        const total = sizes.reduce((a, b) => a + b, 0);
        const input = Uint8Array.from({ length: total }, (_, i) => (i * 7 + 3) & 0xff);
        const out: number[] = [];
        const reframer = new Reframer((frame) => {
          assert.equal(frame.length, SAMPLES_PER_FRAME);
          out.push(...frame);
        });
        let offset = 0;
        for (const size of sizes) {
          reframer.push(input.subarray(offset, offset + size), firstTimestampMs + Math.round(offset / 8));
          offset += size;
        }
        assert.equal(reframer.stats.gapFillSamples, 0);
        assert.equal(out.length, Math.floor(total / SAMPLES_PER_FRAME) * SAMPLES_PER_FRAME);
        assert.deepEqual(out, [...input.subarray(0, out.length)]);
      }),
      { numRuns: 500 },
    );
  });

  test('any timestamps (backwards, jumps, repeats): whole frames; the audio in order, only silence added', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 1, max: 800 }), fc.integer({ min: 0, max: 2 ** 40 })), { minLength: 1, maxLength: 40 }), (pushes) => {
        const out: number[] = [];
        const reframer = new Reframer((frame) => {
          assert.equal(frame.length, SAMPLES_PER_FRAME);
          out.push(...frame);
        });
        const input: number[] = [];
        for (const [size, ts] of pushes) {
          // Never 0xFF (mu-law silence) in the input, so what the reframer added can be told apart.
          const payload = Uint8Array.from({ length: size }, (_, i) => (input.length + i) % 255);
          input.push(...payload);
          reframer.push(payload, ts);
        }
        const audio = out.filter((b) => b !== 0xff);
        assert.deepEqual(audio, input.slice(0, audio.length));
        assert.ok(input.length - audio.length < SAMPLES_PER_FRAME, 'at most one partial frame held back');
        assert.equal(out.length - audio.length <= reframer.stats.gapFillSamples, true);
      }),
      { numRuns: 500 },
    );
  });
});

describe('fuzz: the mixer', () => {
  const int16Frame = fc.int16Array({ minLength: SAMPLES_PER_FRAME, maxLength: SAMPLES_PER_FRAME });

  test('mixDown: clip(volume * g * (S - own)) with S - own exactly the others, for any frames, gains and volume', () => {
    fc.assert(
      fc.property(
        fc.array(int16Frame, { minLength: 1, maxLength: 12 }),
        fc.option(fc.float({ min: Math.fround(0.01), max: 1, noNaN: true }), { nil: null }),
        fc.constantFrom(1, 10 ** (-6 / 20), 10 ** (6 / 20), 10 ** (12 / 20)),
        (frames, g, volume) => {
          const sum = new Int32Array(SAMPLES_PER_FRAME);
          for (const f of frames) accumulate(sum, f);
          const gains = g === null ? null : new Float32Array(SAMPLES_PER_FRAME).fill(g);
          const out = new Int16Array(SAMPLES_PER_FRAME);
          frames.forEach((own, k) => {
            mixDown(sum, own, gains, volume, out);
            for (let i = 0; i < SAMPLES_PER_FRAME; i++) {
              let others = 0;
              frames.forEach((f, j) => j !== k && (others += f[i]!));
              const gain = (g === null ? 1 : Math.fround(g)) * volume;
              const want = gains === null && volume === 1 ? clamp16(others) : clamp16(Math.round(others * gain));
              if (out[i] !== want) assert.fail(`listener ${k} sample ${i}: ${out[i]} != ${want}`);
              if (others === 0 && out[i] !== 0) assert.fail('a trace of the own voice');
            }
          });
        },
      ),
      { numRuns: 300 },
    );
  });

  test('Room ticks: every caller hears exactly the others (unity) or a limited copy of them, never itself', () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(fc.option(int16Frame, { nil: null, freq: 4 }), { minLength: 6, maxLength: 6 }), { minLength: 1, maxLength: 6 }),
        (callers) => {
          const harness = new MixerHarness();
          // Each caller's signal: its frames back to back (a null frame: digital silence).
          callers.forEach((frames, k) => {
            const signal = new Int16Array(frames.length * SAMPLES_PER_FRAME);
            frames.forEach((f, i) => f && signal.set(f, i * SAMPLES_PER_FRAME));
            harness.join(`CA${k}`, '1', signal);
          });
          const room = harness.conference.room('1')!;
          for (let tick = 0; tick < 6; tick++) {
            const limitedBefore = room.limiting.framesLimited;
            harness.run(1);
            const unity = room.limiting.framesLimited === limitedBefore;
            const list = room.participants();
            for (const p of list) {
              if (p.ownFrame === null) continue; // not feeding: gets the shared mix of everyone
              for (let i = 0; i < SAMPLES_PER_FRAME; i++) {
                let others = 0;
                for (const q of list) if (q !== p && q.ownFrame !== null) others += q.ownFrame[i]!;
                const heard = p.mixPcm[i]!;
                if (heard < -32768 || heard > 32767) assert.fail('outside int16');
                if (unity && heard !== clamp16(others)) assert.fail(`tick ${tick}, ${p.callSid}, sample ${i}: ${heard} != clip(${others})`);
                // Limited: g * others with 0 < g <= 1: same sign, no larger, and silence stays silence.
                if (!unity && (Math.abs(heard) > Math.abs(clamp16(others)) || heard * others < 0 || (others === 0 && heard !== 0))) {
                  assert.fail(`tick ${tick}, ${p.callSid}, sample ${i}: heard ${heard} of others ${others}`);
                }
              }
            }
          }
        },
      ),
      { numRuns: 150 },
    );
  });
});
