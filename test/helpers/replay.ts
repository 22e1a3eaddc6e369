/**
 * Replays a recorded Media Streams session (test/fixtures/sessions/*.jsonl) through a real server,
 * message for message as Twilio sent it, media at real-time pace on absolute 20 ms deadlines.
 * The start message's callSid and customParameters are those the webhook flow handed out.
 */
import { readFileSync } from 'node:fs';
import { FRAME_MS } from '../../src/audio/format.js';
import { SimulatedStream } from '../../src/sim/simulatedStream.js';

export interface Replay {
  stream: SimulatedStream;
  /** Mu-law bytes of every media message sent, concatenated, and each message's send time. */
  sentMulaw: Buffer;
  sentAtMs: number[];
}

export function readSession(path: string): Array<Record<string, any>> {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l));
}

export async function replaySession(
  url: string,
  messages: Array<Record<string, any>>,
  call: { callSid: string; customParameters: Record<string, string> },
  startAtMs: number,
): Promise<Replay> {
  const start = messages.find((m) => m.event === 'start')!;
  const stream = await SimulatedStream.open({
    url,
    callSid: call.callSid,
    streamSid: start.streamSid,
    customParameters: call.customParameters,
    autoStart: false,
  });
  const rewritten = messages.map((m) =>
    m.event === 'start' ? { ...m, start: { ...m.start, callSid: call.callSid, customParameters: call.customParameters } } : m,
  );
  const head = rewritten.filter((m) => m.event === 'connected' || m.event === 'start');
  for (const m of head) stream.sendRaw(JSON.stringify(m));
  const rest = rewritten.filter((m) => m.event !== 'connected' && m.event !== 'start');
  const payloads: Buffer[] = [];
  const sentAtMs: number[] = [];
  let mediaIndex = 0;
  for (const m of rest) {
    if (m.event === 'media') {
      const due = startAtMs + mediaIndex * FRAME_MS;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      payloads.push(Buffer.from(m.media.payload, 'base64'));
      sentAtMs.push(performance.now());
      mediaIndex++;
    }
    if (m.event === 'stop') await new Promise((r) => setTimeout(r, 100)); // the last mixes arrive
    stream.sendRaw(JSON.stringify(m));
  }
  await stream.closed;
  return { stream, sentMulaw: Buffer.concat(payloads), sentAtMs };
}
