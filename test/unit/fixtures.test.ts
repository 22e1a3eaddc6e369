/**
 * The committed audio fixtures (test/fixtures/, made by tools/make-fixtures.sh) and the tool that
 * turns a WAV into a recorded Media Streams session (tools/wav-to-session.ts).
 *
 * Sessions are checked against the shape of real Twilio traffic (../shared/twilio-captured/): message
 * order, field order, string counters, 160-byte payloads. The audio is checked by measurement: length,
 * level, frequency, and that the three voices really are three different speakers.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

import { encodeMulaw, MULAW_SILENCE } from '../../src/audio/mulaw.js';
import { parseWav, type PcmAudio } from '../../src/audio/wav.js';
import { wavToSession } from '../../tools/wav-to-session.js';

const FIXTURES_DIR = fileURLToPath(new URL('../fixtures/', import.meta.url));
const SAMPLE_RATE_HZ = 8000;
const SAMPLES_PER_FRAME = 160;
const FULL_SCALE = 32768;

const VOICES = ['alice', 'bob', 'carol'] as const;
const TONES: Record<string, number> = { 'tone-440hz': 440, 'tone-1000hz': 1000 };

type Message = Record<string, unknown> & { event: string };

function wavPath(name: string): string {
  return `${FIXTURES_DIR}${name in TONES ? 'tones' : 'voices'}/${name}.wav`;
}

function loadWav(name: string): PcmAudio {
  return parseWav(readFileSync(wavPath(name)));
}

function readSession(name: string): { text: string; messages: Message[] } {
  const text = readFileSync(`${FIXTURES_DIR}sessions/${name}.jsonl`, 'utf8');
  const messages = text
    .trimEnd()
    .split('\n')
    .map((line) => JSON.parse(line) as Message);
  return { text, messages };
}

function dbfs(linear: number): number {
  return 20 * Math.log10(linear / FULL_SCALE);
}

function rmsDbfs(samples: Int16Array): number {
  let sum = 0;
  for (const x of samples) sum += x * x;
  return dbfs(Math.sqrt(sum / samples.length));
}

function peakDbfs(samples: Int16Array): number {
  let peak = 0;
  for (const x of samples) peak = Math.max(peak, Math.abs(x));
  return dbfs(peak);
}

/** Share of the signal's power at `frequencyHz` (Goertzel over the whole signal), 0..1. */
function powerShareAt(samples: Int16Array, frequencyHz: number, sampleRateHz: number): number {
  const n = samples.length;
  const coeff = 2 * Math.cos((2 * Math.PI * frequencyHz) / sampleRateHz);
  let s1 = 0;
  let s2 = 0;
  let total = 0;
  for (const x of samples) {
    const s0 = x + coeff * s1 - s2;
    s2 = s1;
    s1 = s0;
    total += x * x;
  }
  const magnitudeSquared = s1 * s1 + s2 * s2 - coeff * s1 * s2;
  // A sine of amplitude A gives |X|^2 = (A n / 2)^2 and total = n A^2 / 2.
  return (2 * magnitudeSquared) / n / total;
}

/** Frequency from the number of upward zero crossings between the first and the last one. */
function zeroCrossingHz(samples: Int16Array, sampleRateHz: number): number {
  let first = -1;
  let last = -1;
  let count = 0;
  for (let i = 1; i < samples.length; i++) {
    if (samples[i - 1]! < 0 && samples[i]! >= 0) {
      if (first < 0) first = i;
      last = i;
      count++;
    }
  }
  return ((count - 1) * sampleRateHz) / (last - first);
}

/** Normalised correlation at lag 0 over the common length: 1 for identical signals. */
function correlation(a: Int16Array, b: Int16Array): number {
  const n = Math.min(a.length, b.length);
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < n; i++) {
    ab += a[i]! * b[i]!;
    aa += a[i]! * a[i]!;
    bb += b[i]! * b[i]!;
  }
  return ab / Math.sqrt(aa * bb);
}

/** Median pitch (Hz, 60-400) over voiced 40 ms frames, by normalised autocorrelation. */
function medianPitchHz(samples: Int16Array, sampleRateHz: number): number {
  const frame = Math.round(sampleRateHz * 0.04);
  const minLag = Math.floor(sampleRateHz / 400);
  const maxLag = Math.ceil(sampleRateHz / 60);
  const pitches: number[] = [];
  for (let start = 0; start + frame <= samples.length; start += frame / 2) {
    const x = samples.subarray(start, start + frame);
    if (rmsDbfs(x) < -30) continue;
    let bestR = 0;
    let bestLag = 0;
    for (let lag = minLag; lag <= maxLag; lag++) {
      let c = 0;
      let e1 = 0;
      let e2 = 0;
      for (let j = 0; j + lag < frame; j++) {
        c += x[j]! * x[j + lag]!;
        e1 += x[j]! * x[j]!;
        e2 += x[j + lag]! * x[j + lag]!;
      }
      const r = c / Math.sqrt(e1 * e2);
      if (r > bestR) {
        bestR = r;
        bestLag = lag;
      }
    }
    if (bestR > 0.7) pitches.push(sampleRateHz / bestLag);
  }
  assert.ok(pitches.length >= 20, `only ${pitches.length} voiced frames`);
  pitches.sort((p, q) => p - q);
  return pitches[pitches.length >> 1]!;
}

/** Run length, in samples, of near-silence (below 0.5 % of full scale) from index 0 onwards. */
function leadingQuietSamples(samples: Int16Array): number {
  let i = 0;
  while (i < samples.length && Math.abs(samples[i]!) < 0.005 * FULL_SCALE) i++;
  return i;
}

function mulawOf(samples: Int16Array): Uint8Array {
  const codes = new Uint8Array(samples.length);
  encodeMulaw(samples, codes);
  return codes;
}

/** Everything a Twilio session must satisfy; returns the concatenated media payloads. */
function checkSession(messages: Message[]): { codes: Uint8Array; streamSid: string } {
  assert.ok(messages.length >= 4, 'connected, start, dtmf, stop at least');
  // Field order and values as in the real capture.
  assert.equal(JSON.stringify(messages[0]), '{"event":"connected","protocol":"Call","version":"1.0.0"}');

  const start = messages[1]!;
  assert.equal(start.event, 'start');
  assert.deepEqual(Object.keys(start), ['event', 'sequenceNumber', 'start', 'streamSid']);
  const streamSid = start.streamSid as string;
  const startBody = start.start as Record<string, unknown>;
  assert.match(streamSid, /^MZ[0-9a-f]{32}$/);
  assert.match(startBody.accountSid as string, /^AC[0-9a-f]{32}$/);
  assert.match(startBody.callSid as string, /^CA[0-9a-f]{32}$/);
  assert.deepEqual(startBody, {
    accountSid: startBody.accountSid,
    streamSid,
    callSid: startBody.callSid,
    tracks: ['inbound'],
    mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 },
    customParameters: {},
  });
  assert.deepEqual(Object.keys(startBody), ['accountSid', 'streamSid', 'callSid', 'tracks', 'mediaFormat', 'customParameters']);

  const stop = messages.at(-1)!;
  assert.equal(
    JSON.stringify(stop),
    JSON.stringify({
      event: 'stop',
      sequenceNumber: stop.sequenceNumber,
      streamSid,
      stop: { accountSid: startBody.accountSid, callSid: startBody.callSid },
    }),
  );

  // Every message after connected: consecutive string sequence numbers from "1", this stream's sid.
  messages.slice(1).forEach((message, i) => {
    assert.equal(typeof message.sequenceNumber, 'string', `message ${i + 1}`);
    assert.equal(message.sequenceNumber, String(i + 1), `message ${i + 1}`);
    assert.equal(message.streamSid, streamSid, `message ${i + 1}`);
  });

  const middle = messages.slice(2, -1);
  const media = middle.filter((m) => m.event === 'media');
  const dtmfIndexes = middle.flatMap((m, i) => (m.event === 'dtmf' ? [i] : []));
  assert.equal(media.length + dtmfIndexes.length, middle.length, 'only media and one dtmf between start and stop');
  assert.equal(dtmfIndexes.length, 1, 'exactly one dtmf');
  const dtmf = middle[dtmfIndexes[0]!]!;
  assert.equal(
    JSON.stringify(dtmf),
    JSON.stringify({
      event: 'dtmf',
      sequenceNumber: dtmf.sequenceNumber,
      streamSid,
      dtmf: { track: 'inbound_track', digit: '1' },
    }),
  );
  // The dtmf follows the middle media frame.
  assert.equal(dtmfIndexes[0], Math.ceil(media.length / 2));

  const codes = new Uint8Array(media.length * SAMPLES_PER_FRAME);
  media.forEach((message, i) => {
    assert.deepEqual(Object.keys(message), ['event', 'sequenceNumber', 'media', 'streamSid']);
    const body = message.media as Record<string, unknown>;
    assert.deepEqual(Object.keys(body), ['track', 'chunk', 'timestamp', 'payload']);
    assert.equal(body.track, 'inbound');
    assert.equal(body.chunk, String(i + 1), `chunk of frame ${i}`);
    assert.equal(body.timestamp, String(155 + 20 * i), `timestamp of frame ${i}`);
    const payload = body.payload as string;
    assert.equal(typeof payload, 'string');
    const bytes = Buffer.from(payload, 'base64');
    // Buffer ignores bad characters: re-encoding proves the text was canonical base64.
    assert.equal(bytes.toString('base64'), payload, `payload of frame ${i} is base64`);
    assert.equal(bytes.length, SAMPLES_PER_FRAME, `payload of frame ${i}`);
    codes.set(bytes, i * SAMPLES_PER_FRAME);
  });
  return { codes, streamSid };
}

describe('committed fixtures', () => {
  const names = [...VOICES, ...Object.keys(TONES)];

  it('has exactly one session per WAV', () => {
    const sessions = readdirSync(`${FIXTURES_DIR}sessions`).filter((f) => f.endsWith('.jsonl'));
    assert.deepEqual(sessions.sort(), names.map((n) => `${n}.jsonl`).sort());
    for (const name of names) assert.equal(loadWav(name).sampleRateHz, SAMPLE_RATE_HZ, name);
  });

  for (const name of names) {
    describe(`session ${name}`, () => {
      it('has the shape and order of a real Twilio session', () => {
        checkSession(readSession(name).messages);
      });

      it('carries exactly the mu-law of the WAV, padded with 0xFF', () => {
        const { samples } = loadWav(name);
        const { codes } = checkSession(readSession(name).messages);
        assert.equal(codes.length, Math.ceil(samples.length / SAMPLES_PER_FRAME) * SAMPLES_PER_FRAME);
        assert.deepEqual(codes.subarray(0, samples.length), mulawOf(samples));
        assert.ok(codes.subarray(samples.length).every((c) => c === MULAW_SILENCE));
      });

      it('is what tools/wav-to-session.ts makes of the WAV today', () => {
        const { text } = readSession(name);
        assert.equal(text, wavToSession(loadWav(name), name).join('\n') + '\n');
      });
    });
  }

  for (const name of VOICES) {
    it(`voice ${name}: 4-6.5 s of speech at a sane level, ~100 ms silence each end`, () => {
      const { samples } = loadWav(name);
      const seconds = samples.length / SAMPLE_RATE_HZ;
      assert.ok(seconds >= 4 && seconds <= 6.5, `${seconds} s`);
      const rms = rmsDbfs(samples);
      assert.ok(rms >= -30 && rms <= -10, `RMS ${rms.toFixed(2)} dBFS`);
      const peak = peakDbfs(samples);
      assert.ok(peak <= -2.5 && peak >= -3.5, `peak ${peak.toFixed(2)} dBFS (normalised to -3)`);
      const leadMs = leadingQuietSamples(samples) / 8;
      const trailMs = leadingQuietSamples(samples.slice().reverse()) / 8;
      assert.ok(leadMs >= 50 && leadMs <= 200, `leading silence ${leadMs} ms`);
      assert.ok(trailMs >= 50 && trailMs <= 200, `trailing silence ${trailMs} ms`);
    });
  }

  it('the three voices are three different speakers', () => {
    const voices = VOICES.map((name) => ({ name, samples: loadWav(name).samples }));
    const alice = voices[0]!.samples;
    assert.ok(Math.abs(correlation(alice, alice) - 1) < 1e-9, 'correlation of a voice with itself is 1');
    const pitch = new Map(voices.map((v) => [v.name, medianPitchHz(v.samples, SAMPLE_RATE_HZ)]));
    for (let i = 0; i < voices.length; i++) {
      for (let j = i + 1; j < voices.length; j++) {
        const a = voices[i]!;
        const b = voices[j]!;
        const r = correlation(a.samples, b.samples);
        assert.ok(Math.abs(r) < 0.3, `${a.name}/${b.name} correlation ${r.toFixed(3)}`);
        // Different voices also means a different pitch: at least 15 % apart.
        const pa = pitch.get(a.name)!;
        const pb = pitch.get(b.name)!;
        const ratio = Math.max(pa, pb) / Math.min(pa, pb);
        assert.ok(ratio >= 1.15, `${a.name} ${pa.toFixed(0)} Hz vs ${b.name} ${pb.toFixed(0)} Hz`);
      }
    }
  });

  for (const [name, frequencyHz] of Object.entries(TONES)) {
    it(`tone ${name}: 3 s, -23 dBFS RMS, all its energy at ${frequencyHz} Hz`, () => {
      const { samples } = loadWav(name);
      assert.equal(samples.length, 3 * SAMPLE_RATE_HZ);
      const rms = rmsDbfs(samples);
      assert.ok(Math.abs(rms - -23) <= 0.5, `RMS ${rms.toFixed(2)} dBFS`);
      const peak = peakDbfs(samples);
      assert.ok(Math.abs(peak - -20) <= 0.1, `peak ${peak.toFixed(2)} dBFS`);
      const measuredHz = zeroCrossingHz(samples, SAMPLE_RATE_HZ);
      assert.ok(Math.abs(measuredHz / frequencyHz - 1) <= 0.02, `zero crossings say ${measuredHz.toFixed(1)} Hz`);
      const share = powerShareAt(samples, frequencyHz, SAMPLE_RATE_HZ);
      assert.ok(share > 0.95, `${(share * 100).toFixed(1)} % of the power at ${frequencyHz} Hz`);
      for (const otherHz of Object.values(TONES).filter((f) => f !== frequencyHz)) {
        const other = powerShareAt(samples, otherHz, SAMPLE_RATE_HZ);
        assert.ok(other < 0.01, `${(other * 100).toFixed(1)} % of the power at ${otherHz} Hz`);
      }
      // 10 ms fades: the first and last millisecond stay well below the tone's peak.
      const edgePeak = Math.max(peakDbfs(samples.subarray(0, 8)), peakDbfs(samples.subarray(-8)));
      assert.ok(edgePeak < -30, `edges reach ${edgePeak.toFixed(1)} dBFS`);
    });
  }
});

describe('wavToSession', () => {
  function mediaOf(lines: string[]): Uint8Array[] {
    return lines
      .map((line) => JSON.parse(line) as Message)
      .filter((m) => m.event === 'media')
      .map((m) => Buffer.from((m.media as { payload: string }).payload, 'base64'));
  }

  it('makes ceil(samples / 160) media frames and pads the last one with 0xFF', () => {
    const samples = new Int16Array(1000);
    for (let i = 0; i < samples.length; i++) samples[i] = Math.round(8000 * Math.sin(i / 3));
    const lines = wavToSession({ sampleRateHz: 8000, samples }, 'synthetic');
    const { codes } = checkSession(lines.map((line) => JSON.parse(line) as Message));
    const frames = mediaOf(lines);
    assert.equal(frames.length, 7); // ceil(1000 / 160)
    assert.equal(lines.length, 2 + 7 + 1 + 1);
    assert.deepEqual(codes.subarray(0, 1000), mulawOf(samples));
    const last = frames[6]!;
    assert.deepEqual(last.subarray(0, 40), Buffer.from(mulawOf(samples.subarray(960))));
    assert.ok(
      last.subarray(40).every((c) => c === 0xff),
      'last 120 bytes are 0xFF',
    );
    // The dtmf comes after chunk ceil(7 / 2) = 4, and takes the next sequence number.
    const dtmf = JSON.parse(lines[6]!) as Message;
    assert.equal(dtmf.event, 'dtmf');
    assert.equal(dtmf.sequenceNumber, '6');
    assert.equal((JSON.parse(lines[5]!) as { media: { chunk: string } }).media.chunk, '4');
    assert.equal((JSON.parse(lines.at(-1)!) as Message).sequenceNumber, '10');
  });

  it('does not pad a whole number of frames', () => {
    const samples = new Int16Array(320).fill(-1234);
    const frames = mediaOf(wavToSession({ sampleRateHz: 8000, samples }, 'two-frames'));
    assert.equal(frames.length, 2);
    assert.ok(frames.every((f) => f.every((c) => c === mulawOf(new Int16Array([-1234]))[0])));
  });

  it('resamples other rates to 8 kHz first', () => {
    const samples = new Int16Array(16000).fill(5000); // 1 s at 16 kHz
    const frames = mediaOf(wavToSession({ sampleRateHz: 16000, samples }, 'wideband'));
    assert.equal(frames.length, 50);
    assert.equal(frames[25]![80], mulawOf(new Int16Array([5000]))[0]);
  });

  it('sends connected, start, dtmf, stop for no audio at all', () => {
    const lines = wavToSession({ sampleRateHz: 8000, samples: new Int16Array(0) }, 'empty');
    assert.deepEqual(
      lines.map((line) => (JSON.parse(line) as Message).event),
      ['connected', 'start', 'dtmf', 'stop'],
    );
    checkSession(lines.map((line) => JSON.parse(line) as Message));
  });

  it('derives stable, distinct ids from the name', () => {
    const audio = { sampleRateHz: 8000, samples: new Int16Array(160) };
    const sids = (name: string) => {
      const start = JSON.parse(wavToSession(audio, name)[1]!) as {
        start: { accountSid: string; streamSid: string; callSid: string };
      };
      return [start.start.accountSid, start.start.streamSid, start.start.callSid];
    };
    const alice = sids('alice');
    assert.deepEqual(sids('alice'), alice);
    assert.match(alice.join(' '), /^AC[0-9a-f]{32} MZ[0-9a-f]{32} CA[0-9a-f]{32}$/);
    const bob = sids('bob');
    for (let i = 0; i < 3; i++) assert.notEqual(alice[i], bob[i]);
    assert.equal(new Set(alice.map((sid) => sid.slice(2))).size, 3, 'AC, MZ and CA differ');
  });
});
