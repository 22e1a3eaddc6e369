/**
 * npm run bot -- --url http://localhost:3000 --token $ADMIN_TOKEN --room 1234 [--play a.wav]
 *                [--record out.wav] [--echo] [--format mulaw|pcm16-8k|pcm16-16k] [--listen-only]
 *
 * A program as a participant, as small as it can be (README "Programs as participants"): it asks
 * the admin API for a program ticket, opens the WebSocket it names and speaks the Media Streams
 * protocol: `connected`, `start` (the ticket in customParameters), `media` every 20 ms, `mark`
 * echoed back, `stop`. It plays a WAV in real time (any rate: resampled), records what it hears
 * to a WAV, or echoes what it hears back. Prints one line per step on stdout.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { decodeMulaw, encodeMulaw } from '../src/audio/mulaw.js';
import { resample } from '../src/audio/resample.js';
import { encodeWav, parseWav } from '../src/audio/wav.js';

const usage = `usage: npm run bot -- --room N [--url URL] [--token TOKEN] [--play a.wav] [--record out.wav]
                     [--echo] [--format mulaw|pcm16-8k|pcm16-16k] [--listen-only] [--seconds S]
  --url URL       the server (default http://localhost:3000)
  --token TOKEN   the admin token (default: $ADMIN_TOKEN)
  --room N        the room to join (it must exist or be open)
  --label TEXT    the name the room shows (default "bot")
  --play FILE     a WAV to say, in real time (any rate or channels)
  --record FILE   a WAV of what the bot hears (at the stream's rate)
  --echo          send back what it hears
  --format F      mulaw (default), pcm16-8k or pcm16-16k (raw 16-bit little-endian PCM)
  --listen-only   a listener: hears the room, is never heard
  --seconds S     leave after S seconds (default: when --play ends; without --play, on Ctrl-C)`;

type Format = 'mulaw' | 'pcm16-8k' | 'pcm16-16k';

interface Ticket {
  url: string;
  ticket: string;
  callSid: string;
  streamSid: string;
  accountSid: string;
  seat: number;
  mediaFormat: { encoding: string; sampleRate: number; channels: number };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      url: { type: 'string', default: 'http://localhost:3000' },
      token: { type: 'string', default: process.env['ADMIN_TOKEN'] ?? '' },
      room: { type: 'string' },
      label: { type: 'string', default: 'bot' },
      play: { type: 'string' },
      record: { type: 'string' },
      echo: { type: 'boolean', default: false },
      format: { type: 'string', default: 'mulaw' },
      'listen-only': { type: 'boolean', default: false },
      seconds: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  const format = values.format as Format;
  if (values.help || !values.room || !['mulaw', 'pcm16-8k', 'pcm16-16k'].includes(format)) {
    console.log(usage);
    process.exit(values.help ? 0 : 2);
  }

  // 1. A ticket from the admin API.
  const answer = await fetch(`${values.url.replace(/\/$/, '')}/api/rooms/${values.room}/programs`, {
    method: 'POST',
    headers: { authorization: `Bearer ${values.token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ label: values.label, role: values['listen-only'] ? 'listener' : 'talker', format }),
  });
  if (!answer.ok) throw new Error(`the server refused a ticket: ${answer.status} ${await answer.text()}`);
  const ticket = (await answer.json()) as Ticket;
  const rateHz = ticket.mediaFormat.sampleRate;
  const samplesPerFrame = rateHz / 50; // 20 ms
  console.log(`ticket: room ${values.room}, seat ${ticket.seat}, ${format}`);

  // What to say: the WAV at the stream's rate.
  let say: Int16Array | null = null;
  if (values.play) {
    const wav = parseWav(await readFile(values.play));
    say = resample(wav.samples, wav.sampleRateHz, rateHz);
  }
  const heard: Int16Array[] = [];

  // Audio <-> payloads: base64 of mu-law bytes, or of 16-bit little-endian samples.
  const toPayload = (pcm: Int16Array): string => {
    if (format === 'mulaw') {
      const bytes = Buffer.alloc(pcm.length);
      encodeMulaw(pcm, bytes);
      return bytes.toString('base64');
    }
    const bytes = Buffer.alloc(2 * pcm.length);
    pcm.forEach((s, i) => bytes.writeInt16LE(s, 2 * i));
    return bytes.toString('base64');
  };
  const fromPayload = (base64: string): Int16Array => {
    const bytes = Buffer.from(base64, 'base64');
    if (format === 'mulaw') {
      const pcm = new Int16Array(bytes.length);
      decodeMulaw(bytes, pcm);
      return pcm;
    }
    const pcm = new Int16Array(bytes.length / 2);
    for (let i = 0; i < pcm.length; i++) pcm[i] = bytes.readInt16LE(2 * i);
    return pcm;
  };

  // 2. The WebSocket: connected and start, at once.
  const ws = new WebSocket(ticket.url);
  const { streamSid } = ticket;
  let sequence = 1;
  const send = (message: object) => ws.send(JSON.stringify({ ...message, sequenceNumber: String(sequence++) }));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  ws.send(JSON.stringify({ event: 'connected', protocol: 'Call', version: '1.0.0' }));
  send({
    event: 'start',
    streamSid,
    start: {
      accountSid: ticket.accountSid,
      streamSid,
      callSid: ticket.callSid,
      tracks: ['inbound'],
      mediaFormat: ticket.mediaFormat,
      customParameters: { ticket: ticket.ticket },
    },
  });
  console.log('connected');

  // 3. What the room sends: its mix-minus (recorded, echoed), and marks to echo.
  let chunk = 0;
  const startedAtMs = performance.now();
  const sendAudio = (pcm: Int16Array) =>
    send({
      event: 'media',
      streamSid,
      media: { track: 'inbound', chunk: String(++chunk), timestamp: String(Math.round(performance.now() - startedAtMs)), payload: toPayload(pcm) },
    });
  ws.on('message', (data) => {
    const message = JSON.parse(String(data)) as { event: string; media?: { payload: string }; mark?: { name: string } };
    if (message.event === 'media' && message.media) {
      const pcm = fromPayload(message.media.payload);
      if (values.record) heard.push(pcm);
      if (values.echo && !values['listen-only']) sendAudio(pcm);
    } else if (message.event === 'mark' && message.mark) send({ event: 'mark', streamSid, mark: message.mark });
  });
  const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));

  // 4. Say the file in real time: one frame every 20 ms against an absolute deadline.
  let stop = false;
  if (say) {
    // Cut into frames first (the last one padded with silence), so sending is all the loop does.
    const frames: Int16Array[] = [];
    for (let i = 0; i < say.length; i += samplesPerFrame) {
      const frame = new Int16Array(samplesPerFrame);
      frame.set(say.subarray(i, i + samplesPerFrame));
      frames.push(frame);
    }
    console.log(`playing ${values.play} (${(say.length / rateHz).toFixed(2)} s)`);
    const t0 = performance.now();
    for (let n = 0; n < frames.length && !stop; n++) {
      sendAudio(frames[n]!);
      // Frame n + 1 is due at t0 + 20 (n + 1) ms: a late timer is caught up, not carried on.
      await new Promise((r) => setTimeout(r, Math.max(0, t0 + 20 * (n + 1) - performance.now())));
    }
    console.log('played');
  }
  const seconds = values.seconds !== undefined ? Number(values.seconds) : say ? 0 : Number.POSITIVE_INFINITY;
  const leave = () => {
    stop = true;
    if (ws.readyState === WebSocket.OPEN) {
      send({ event: 'stop', streamSid, stop: { accountSid: ticket.accountSid, callSid: ticket.callSid } });
      ws.close(1000, 'bot done');
    }
  };
  process.once('SIGINT', leave);
  process.once('SIGTERM', leave);
  const remainingMs = startedAtMs + seconds * 1000 - performance.now();
  const timer = Number.isFinite(remainingMs) ? setTimeout(leave, Math.max(0, remainingMs)) : null;
  const code = await closed;
  if (timer) clearTimeout(timer);
  console.log(`closed ${code}`);

  // 5. What it heard, as a WAV.
  if (values.record) {
    const samples = new Int16Array(heard.reduce((n, f) => n + f.length, 0));
    heard.reduce((at, f) => (samples.set(f, at), at + f.length), 0);
    await writeFile(values.record, encodeWav({ sampleRateHz: rateHz, samples }));
    console.log(`recorded ${values.record} (${(samples.length / rateHz).toFixed(2)} s)`);
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
