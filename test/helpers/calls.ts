/**
 * Callers for room tests: dial in through the real webhooks (TwiML followed as Twilio does), open
 * the Media Stream the answer names, and measure what a caller heard in a window of time.
 */
import assert from 'node:assert/strict';
import { toneDbfs } from '../../src/audio/analysis.js';
import { SAMPLE_RATE_HZ, SAMPLES_PER_FRAME } from '../../src/audio/format.js';
import { dialIn, type DialResult } from '../../src/sim/twimlFollower.js';
import { randomSid, SimulatedStream } from '../../src/sim/simulatedStream.js';
import { fromMulaw, tone, toMulaw } from './audio.js';

export interface Dialled {
  callSid: string;
  dial: DialResult;
}

/** Posts the voice webhook and keys `keypresses` at each prompt (room, then PIN ...). */
export async function dial(baseUrl: string, keypresses: string[], options: { callSid?: string; from?: string; voicePath?: string } = {}): Promise<Dialled> {
  const callSid = options.callSid ?? randomSid('CA');
  const dial = await dialIn({ baseUrl, callSid, keypresses, from: options.from, voicePath: options.voicePath });
  return { callSid, dial };
}

/** Dials in and opens the stream; fails the test if the call was not connected. */
export async function join(
  baseUrl: string,
  keypresses: string[],
  options: { from?: string } = {},
): Promise<{ callSid: string; stream: SimulatedStream; said: string[]; parameters: Record<string, string> }> {
  const { callSid, dial: d } = await dial(baseUrl, keypresses, options);
  assert.equal(d.kind, 'stream', `connected: ${d.said.join(' | ')}`);
  if (d.kind !== 'stream') throw new Error('unreachable');
  const stream = await SimulatedStream.open({ url: d.streamUrl, callSid, customParameters: d.parameters });
  return { callSid, stream, said: d.said, parameters: d.parameters };
}

/** A tone as the server will decode it (through mu-law), ready to play. */
export function toneMulaw(frequencyHz: number, peakDbfs: number, durationMs: number): Uint8Array {
  return toMulaw(fromMulaw(toMulaw(tone(frequencyHz, peakDbfs, durationMs))));
}

/** Reference level (dBFS) of a -20 dBFS-peak tone after mu-law, for relative measurements. */
export function sentToneDbfs(frequencyHz: number, peakDbfs: number): number {
  const pcm = fromMulaw(toMulaw(tone(frequencyHz, peakDbfs, 1000)));
  return toneDbfs(pcm, frequencyHz, SAMPLE_RATE_HZ);
}

/** Level (dBFS) of `frequencyHz` in what `stream` received between two times (performance.now ms). */
export function heardToneDbfs(stream: SimulatedStream, frequencyHz: number, fromMs: number, toMs: number): number {
  const heard = fromMulaw(stream.receivedMulaw());
  const first = stream.receivedAtMs.findIndex((t) => t >= fromMs);
  let last = stream.receivedAtMs.findIndex((t) => t >= toMs);
  if (last < 0) last = stream.receivedAtMs.length;
  assert.ok(first >= 0 && last - first >= 10, `frames received in the window (${first}..${last} of ${stream.receivedAtMs.length})`);
  return toneDbfs(heard, frequencyHz, SAMPLE_RATE_HZ, first * SAMPLES_PER_FRAME, last * SAMPLES_PER_FRAME);
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Waits until `predicate` holds (polling), or fails after `timeoutMs`. */
export async function until(predicate: () => boolean, what: string, timeoutMs = 3000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!predicate()) {
    if (performance.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(10);
  }
}
