/**
 * Turns a WAV file into a recorded Twilio Media Streams session: the JSON messages Twilio sends on
 * the WebSocket of one inbound call, one per line, in Twilio's order and shape (see
 * ../shared/twilio-media-streams.md section 2 and the real capture in ../shared/twilio-captured/).
 *
 *   npx tsx tools/wav-to-session.ts IN.wav OUT.jsonl
 *
 * The output is a pure function of the audio and the file's base name (the stream, call and account
 * ids are derived from the name), so regenerating a fixture gives identical bytes.
 */
import { createHash } from 'node:crypto';
import { readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { basename, extname } from 'node:path';
import { fileURLToPath } from 'node:url';

import { encodeMulaw, MULAW_SILENCE } from '../src/audio/mulaw.js';
import { resample } from '../src/audio/resample.js';
import { parseWav, type PcmAudio } from '../src/audio/wav.js';

/** Twilio Media Streams audio: 8 kHz mu-law, 160-byte (20 ms) frames. */
const SAMPLE_RATE_HZ = 8000;
const SAMPLES_PER_FRAME = 160;
const FRAME_MS = 20;
/** The first media timestamp (ms since the stream started) in a real capture. */
const FIRST_TIMESTAMP_MS = 155;
/** The digit the caller "presses" half-way through every session. */
const DTMF_DIGIT = '1';

/** Deterministic Twilio-style id: 2-letter prefix + 32 lowercase hex characters. */
export function fixtureSid(prefix: 'AC' | 'MZ' | 'CA', name: string): string {
  return prefix + createHash('sha256').update(`${prefix}:${name}`).digest('hex').slice(0, 32);
}

/** Mu-law codes of `audio` at 8 kHz (resampled first when the file has another rate). */
export function toMulaw8k(audio: PcmAudio): Uint8Array {
  const samples = audio.sampleRateHz === SAMPLE_RATE_HZ ? audio.samples : resample(audio.samples, audio.sampleRateHz, SAMPLE_RATE_HZ);
  const codes = new Uint8Array(samples.length);
  encodeMulaw(samples, codes);
  return codes;
}

/**
 * The session Twilio would send for a caller whose microphone plays `audio`: connected, start, one
 * media message per 20 ms (the last frame padded with mu-law silence 0xFF), a dtmf "1" after the
 * middle frame, and stop. Returns the JSON text of each message, in order, without newlines.
 */
export function wavToSession(audio: PcmAudio, name: string): string[] {
  const accountSid = fixtureSid('AC', name);
  const streamSid = fixtureSid('MZ', name);
  const callSid = fixtureSid('CA', name);
  const codes = toMulaw8k(audio);
  const frameCount = Math.ceil(codes.length / SAMPLES_PER_FRAME);
  // The dtmf goes after this chunk (1-based); with no audio at all, straight after start.
  const dtmfAfterChunk = Math.ceil(frameCount / 2);

  const lines: string[] = [];
  let sequenceNumber = 1;
  const nextSeq = () => String(sequenceNumber++);
  const dtmf = () =>
    JSON.stringify({
      event: 'dtmf',
      sequenceNumber: nextSeq(),
      streamSid,
      dtmf: { track: 'inbound_track', digit: DTMF_DIGIT },
    });

  // Field order as in the real capture: connected has no sequenceNumber and no streamSid.
  lines.push(JSON.stringify({ event: 'connected', protocol: 'Call', version: '1.0.0' }));
  lines.push(
    JSON.stringify({
      event: 'start',
      sequenceNumber: nextSeq(),
      start: {
        accountSid,
        streamSid,
        callSid,
        tracks: ['inbound'],
        mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: SAMPLE_RATE_HZ, channels: 1 },
        customParameters: {},
      },
      streamSid,
    }),
  );
  if (dtmfAfterChunk === 0) lines.push(dtmf());

  const frame = new Uint8Array(SAMPLES_PER_FRAME);
  for (let i = 0; i < frameCount; i++) {
    const chunk = codes.subarray(i * SAMPLES_PER_FRAME, (i + 1) * SAMPLES_PER_FRAME);
    frame.fill(MULAW_SILENCE);
    frame.set(chunk);
    lines.push(
      JSON.stringify({
        event: 'media',
        sequenceNumber: nextSeq(),
        media: {
          track: 'inbound',
          chunk: String(i + 1),
          timestamp: String(FIRST_TIMESTAMP_MS + i * FRAME_MS),
          payload: Buffer.from(frame).toString('base64'),
        },
        streamSid,
      }),
    );
    if (i + 1 === dtmfAfterChunk) lines.push(dtmf());
  }

  lines.push(
    JSON.stringify({
      event: 'stop',
      sequenceNumber: nextSeq(),
      streamSid,
      stop: { accountSid, callSid },
    }),
  );
  return lines;
}

function main(argv: string[]): number {
  if (argv.length !== 2) {
    process.stderr.write('usage: npx tsx tools/wav-to-session.ts IN.wav OUT.jsonl\n');
    return 2;
  }
  const [inPath, outPath] = argv as [string, string];
  const audio = parseWav(readFileSync(inPath));
  const name = basename(inPath, extname(inPath));
  const lines = wavToSession(audio, name);
  writeFileSync(outPath, lines.join('\n') + '\n');
  process.stdout.write(`${outPath}: ${lines.length} messages (${name})\n`);
  return 0;
}

function isEntryPoint(): boolean {
  const script = process.argv[1];
  if (!script) return false;
  try {
    return realpathSync(script) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntryPoint()) process.exitCode = main(process.argv.slice(2));
