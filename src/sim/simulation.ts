/**
 * A whole simulated conference: each caller dials in through the webhooks (TwiML followed as
 * Twilio does), opens its Media Stream, sends its audio in real time on one shared absolute clock,
 * and records what it hears. The report measures, for every listener and every source, the level
 * at which the source is heard (joint least squares, so 0 dB = unity, own voice should be far
 * below) and the delay from a frame's send to its arrival in the other caller's mix.
 */
import { bestFrameLag, dB, estimateGains, followSource, percentile } from '../audio/analysis.js';
import { FRAME_MS, SAMPLES_PER_FRAME } from '../audio/format.js';
import { fromMulaw, MULAW_SILENCE, toMulaw } from '../audio/mulaw.js';
import { monotonicClock } from '../timing/clock.js';
import { dialIn } from './twimlFollower.js';
import { randomSid, SimulatedStream, type CloseInfo } from './simulatedStream.js';

export interface SimCaller {
  name: string;
  /** 8 kHz mono samples. */
  audio: Int16Array;
  /** When this caller starts talking, after the common start (ms; rounded to a whole 20 ms frame). */
  startOffsetMs: number;
}

export interface SimulationOptions {
  baseUrl: string;
  room: string;
  callers: SimCaller[];
  /** Silence sent after the last caller's audio, before hanging up (ms). */
  tailMs?: number;
  /** Delay from the last stream opening to the common start (ms). */
  leadInMs?: number;
  /** Use POST /voice?room=N instead of keying the number at the prompt. */
  direct?: boolean;
  /** Network jitter on the way in: each caller's frames arrive in bursts every this many ms. */
  burstMs?: number;
}

export interface CallerResult {
  name: string;
  callSid: string;
  /** What the caller sent, as the server decodes it. */
  sent: Int16Array;
  /** What the caller heard. */
  heard: Int16Array;
  sentAtMs: number[];
  receivedAtMs: number[];
  close: CloseInfo;
  protocolErrors: string[];
  said: string[];
}

/** Levels are reported down to this; a perfectly cancelled voice (exactly 0) reads this floor. */
export const LEVEL_FLOOR_DB = -120;

export interface PairMeasure {
  listener: string;
  source: string;
  /** Level of `source` in `listener`'s ear relative to what `source` sent (dB; own voice: residue). */
  levelDb: number;
  lagFrames: number;
  /** Send-to-arrival time of the source's frames in the listener's mix (ms); NaN for own voice. */
  delayMsP50: number;
  delayMsP99: number;
}

export interface SimulationReport {
  callers: CallerResult[];
  pairs: PairMeasure[];
}

/** Where a caller's audio starts in its outbound stream: on a frame boundary, as a talker's frames are. */
export function startSampleOf(caller: Pick<SimCaller, 'startOffsetMs'>): number {
  return Math.round(caller.startOffsetMs / FRAME_MS) * SAMPLES_PER_FRAME;
}

export async function runSimulation(options: SimulationOptions): Promise<SimulationReport> {
  const clock = monotonicClock;
  const tailMs = options.tailMs ?? 600;
  const leadInMs = options.leadInMs ?? 300;
  const totalMs = Math.max(...options.callers.map((c) => c.startOffsetMs + (c.audio.length / SAMPLES_PER_FRAME) * FRAME_MS)) + tailMs;
  const totalFrames = Math.ceil(totalMs / FRAME_MS);

  const calls = await Promise.all(
    options.callers.map(async (caller) => {
      const callSid = randomSid('CA');
      const dial = await dialIn({
        baseUrl: options.baseUrl,
        callSid,
        voicePath: options.direct ? `/voice?room=${encodeURIComponent(options.room)}` : '/voice',
        keypresses: [options.room],
      });
      if (dial.kind !== 'stream') throw new Error(`${caller.name} was not connected: ${dial.said.join(' ')}`);
      const stream = await SimulatedStream.open({ url: dial.streamUrl, callSid, customParameters: dial.parameters });
      // The caller's whole outbound signal on the common timeline: silence, its audio, silence.
      const mulaw = new Uint8Array(totalFrames * SAMPLES_PER_FRAME).fill(MULAW_SILENCE);
      mulaw.set(toMulaw(caller.audio), startSampleOf(caller));
      return { caller, callSid, dial, stream, mulaw };
    }),
  );

  const startAtMs = clock.nowMs() + leadInMs;
  await Promise.all(calls.map((c) => c.stream.play(c.mulaw, startAtMs, { burstMs: options.burstMs })));
  await new Promise((r) => setTimeout(r, 100)); // let the last mixes arrive
  const closes = await Promise.all(calls.map((c) => c.stream.stop()));

  const results: CallerResult[] = calls.map((c, i) => ({
    name: c.caller.name,
    callSid: c.callSid,
    sent: fromMulaw(c.mulaw),
    heard: fromMulaw(c.stream.receivedMulaw()),
    sentAtMs: c.stream.sentAtMs,
    receivedAtMs: c.stream.receivedAtMs,
    close: closes[i]!,
    protocolErrors: c.stream.protocolErrors,
    said: c.dial.said,
  }));
  return { callers: results, pairs: measure(results) };
}

/**
 * Levels and delays for every (listener, source) pair. Another caller's voice is followed in
 * 200 ms segments, each at its own whole-frame lag (the server may drop a silent frame in a pause
 * to cut delay, or stretch one after a late arrival, which moves the alignment): its level is the
 * median of the segments', its delay from their lags and the two callers' clocks. Own voice, which
 * has nothing to correlate with when cancelled, is measured by least squares at the lag where the
 * server would have mixed it (the delay measured for the others).
 */
export function measure(results: CallerResult[]): PairMeasure[] {
  const pairs: PairMeasure[] = [];
  for (const listener of results) {
    if (listener.heard.length === 0) continue;
    const lags: number[] = [];
    const delays: { p50: number; p99: number }[] = [];
    const segmentLevels = new Map<CallerResult, number>();
    for (const source of results) {
      const base = Math.round((source.sentAtMs[0]! - listener.receivedAtMs[0]!) / FRAME_MS);
      if (source === listener) {
        lags.push(NaN);
        delays.push({ p50: NaN, p99: NaN });
        continue;
      }
      const { lagFrames } = bestFrameLag(source.sent, listener.heard, base - 2, base + 15);
      lags.push(lagFrames);
      const segments = followSource(source.sent, listener.heard, lagFrames, { segmentFrames: 10, searchFrames: 3 });
      segmentLevels.set(
        source,
        segments.length
          ? percentile(
              segments.map((m) => m.levelDb),
              0.5,
            )
          : NaN,
      );
      const d = segments.length
        ? segments.flatMap((m) => frameDelays(source, listener, m.lagFrames, m.sourceStart / SAMPLES_PER_FRAME, 10))
        : frameDelays(source, listener, lagFrames);
      delays.push({ p50: percentile(d, 0.5), p99: percentile(d, 0.99) });
    }
    // Own voice: the lag matching the median delay through the server of the other sources.
    const ownIndex = results.indexOf(listener);
    const otherDelays = delays.filter((_, j) => j !== ownIndex).map((d) => d.p50);
    const d50 = otherDelays.length ? percentile(otherDelays, 0.5) : 2 * FRAME_MS;
    lags[ownIndex] = Math.round((listener.sentAtMs[0]! + d50 - listener.receivedAtMs[0]!) / FRAME_MS);
    const gains = estimateGains(
      listener.heard,
      results.map((r) => r.sent),
      lags.map((l) => l * SAMPLES_PER_FRAME),
    );
    results.forEach((source, j) => {
      pairs.push({
        listener: listener.name,
        source: source.name,
        levelDb: Math.max(LEVEL_FLOOR_DB, source === listener ? dB(Math.abs(gains[j]!)) : (segmentLevels.get(source) ?? NaN)),
        lagFrames: lags[j]!,
        delayMsP50: delays[j]!.p50,
        delayMsP99: delays[j]!.p99,
      });
    });
  }
  return pairs;
}

/**
 * Arrival time of each mixed frame minus the send time of the source frame it carries, for the
 * source frames [fromFrame, fromFrame + frames) (all of them by default).
 */
function frameDelays(source: CallerResult, listener: CallerResult, lagFrames: number, fromFrame = 0, frames = Infinity): number[] {
  const out: number[] = [];
  const end = Math.min(source.sentAtMs.length, fromFrame + frames);
  for (let i = fromFrame; i < end; i++) {
    const receivedAt = listener.receivedAtMs[i + lagFrames];
    if (receivedAt !== undefined) out.push(receivedAt - source.sentAtMs[i]!);
  }
  return out;
}
