/**
 * Micro-benchmarks of the per-frame path, in nanoseconds per 20 ms frame: each step the real
 * server takes (src/) beside the same step done the baseline's way (tools/bench/baseline), on the
 * same inputs (speech frames from the fixtures, Twilio's media message layout).
 *
 * Each step runs 20,000 times to warm up, then 7 timed rounds; the median round is reported.
 * Results feed a checksum so the JIT cannot drop the work.
 */
import alawmulaw from 'alawmulaw';
import { SAMPLES_PER_FRAME } from '../../src/audio/format.js';
import { Limiter } from '../../src/audio/limiter.js';
import { accumulate, mixMinus } from '../../src/audio/mix.js';
import { decodeMulaw, encodeMulaw } from '../../src/audio/mulaw.js';
import { Agc } from '../../src/audio/agc.js';
import { NoiseSuppressor } from '../../src/audio/noiseSuppressor.js';
import { TalkDetector } from '../../src/audio/talkDetector.js';
import { JitterBuffer } from '../../src/conference/jitterBuffer.js';
import { OutboundMessages, parseTwilioMessage } from '../../src/media/messages.js';
import { speechClips } from './payloads.js';
import { machineBusyMicros } from './run.js';
import { measureSendPath, type SendPathCost } from './sendPath.js';
import { measureSocketFloor, type SocketFloor } from './socketFloor.js';

export interface MicroRow {
  step: string;
  /** Part of the path both servers take (in the totals); false: the real server's sound stages. */
  inTotal: boolean;
  /** ns per frame, the real server's way; NaN when the step does not exist there. */
  mainNs: number;
  baselineNs: number;
  /** baseline / main. */
  ratio: number;
  what: { main: string; baseline: string };
}

export interface MicroResult {
  rows: MicroRow[];
  /** Sum of the steps one caller's frame takes in and one mix takes out. */
  totalMainNs: number;
  totalBaselineNs: number;
  totalRatio: number;
  /** One loopback socket write and read on this machine: the floor under CPU per message. */
  socketFloor: SocketFloor;
  /** One outbound message through ws.send() and through the endpoint's single frame write. */
  sendPath: SendPathCost;
  /** CPU other processes used while this ran (% of a core; NaN without /proc/stat). */
  otherProcessesPercentOfCore: number;
  /**
   * Issue 14: what noise suppression costs a caller. `perCallerFrameUs` is one caller's frame in and
   * frame out without it (a socket read and write, and the JavaScript above); callers per core is
   * 1 s / (50 frames x that), before and with the suppressor.
   */
  noiseSuppression: { usPerFrame: number; perCallerFrameUs: number; callersPerCore: number; callersPerCoreWith: number; lostPercent: number };
}

const WARMUP = 20_000;
const ROUNDS = 7;
let sink = 0;

/** Median ns per call of `fn` (divided by `perCall` frames it handles). */
function measure(fn: (i: number) => number, iterations: number, perCall = 1): number {
  for (let i = 0; i < WARMUP; i++) sink += fn(i);
  const rounds: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < iterations; i++) sink += fn(i);
    rounds.push(Number(process.hrtime.bigint() - t0) / iterations / perCall);
  }
  rounds.sort((a, b) => a - b);
  return rounds[ROUNDS >> 1]!;
}

export async function runMicro(log: (line: string) => void = () => undefined): Promise<MicroResult> {
  const busyBefore = machineBusyMicros();
  const cpuBefore = process.cpuUsage();
  const startedMs = performance.now();
  // Inputs: 8 speech frames (the first talker's clip), as Twilio would send them.
  const clip = speechClips()[0]!;
  const payloads = Array.from({ length: 8 }, (_, i) => clip[40 + i * 9]!);
  const streamSid = 'MZ' + '5'.repeat(32);
  const messages = payloads.map(
    (payload, i) =>
      `{"event":"media","sequenceNumber":"${i + 100}","media":{"track":"inbound","chunk":"${i + 99}","timestamp":"${155 + i * 20}","payload":"${payload}"},"streamSid":"${streamSid}"}`,
  );
  const mulawFrames = payloads.map((p) => new Uint8Array(Buffer.from(p, 'base64')));
  const pcmFrames = mulawFrames.map((m) => {
    const pcm = new Int16Array(SAMPLES_PER_FRAME);
    decodeMulaw(m, pcm);
    return pcm;
  });
  const N = 200_000;
  const rows: MicroRow[] = [];
  const add = (step: string, mainNs: number, baselineNs: number, main: string, baseline: string, inTotal = true) => {
    rows.push({ step, inTotal, mainNs, baselineNs, ratio: baselineNs / mainNs, what: { main, baseline } });
    log(`  ${step}: ${mainNs.toFixed(0)} ns vs ${baselineNs.toFixed(0)} ns`);
  };

  // In: parse, base64 decode, mu-law decode.
  add(
    'parse media message',
    measure((i) => (parseTwilioMessage(messages[i & 7]!).ok ? 1 : 0), N / 4),
    measure((i) => (JSON.parse(messages[i & 7]!) as { media: { payload: string } }).media.payload.length, N / 4),
    'parseTwilioMessage (src/media/messages.ts)',
    'JSON.parse',
  );
  const payloadBuf = Buffer.allocUnsafeSlow(SAMPLES_PER_FRAME + 3);
  add(
    'base64 decode',
    measure((i) => payloadBuf.write(payloads[i & 7]!, 0, 'base64'), N),
    measure((i) => Buffer.from(payloads[i & 7]!, 'base64').length, N),
    'Buffer#write into a preallocated buffer (session.ts)',
    'Buffer.from(payload, "base64"), allocating',
  );
  const pcm = new Int16Array(SAMPLES_PER_FRAME);
  add(
    'mu-law decode',
    measure((i) => {
      decodeMulaw(mulawFrames[i & 7]!, pcm);
      return pcm[7]!;
    }, N),
    measure((i) => alawmulaw.mulaw.decode(mulawFrames[i & 7]!)[7]!, N),
    'decodeMulaw: table lookup into a reused Int16Array',
    'alawmulaw.mulaw.decode, allocating',
  );

  // Mix: a room of 5, all five frames non-silent; per listener.
  const sum = new Int32Array(SAMPLES_PER_FRAME);
  const out = new Int16Array(SAMPLES_PER_FRAME);
  add(
    'mix-minus (room of 5, per listener)',
    measure(
      (i) => {
        sum.fill(0);
        for (let k = 0; k < 5; k++) accumulate(sum, pcmFrames[(i + k) & 7]!);
        let x = 0;
        for (let k = 0; k < 5; k++) {
          mixMinus(sum, pcmFrames[(i + k) & 7]!, out);
          x += out[3]!;
        }
        return x;
      },
      N / 5,
      5,
    ),
    measure(
      (i) => {
        const frames = [0, 1, 2, 3, 4].map((k) => pcmFrames[(i + k) & 7]!);
        let x = 0;
        for (let l = 0; l < 5; l++) {
          const mix = new Int16Array(160);
          for (let s = 0; s < 160; s++) {
            let sample = 0;
            for (let o = 0; o < 5; o++) if (o !== l) sample += frames[o]![s]!;
            mix[s] = Math.max(-32768, Math.min(32767, sample));
          }
          x += mix[3]!;
        }
        return x;
      },
      N / 5,
      5,
    ),
    'one 32-bit room sum, then clip(sum - own) per listener (mix.ts)',
    'sum of the 4 others per listener, allocating',
  );

  // Out: mu-law encode, base64 encode, serialise.
  const mulawOut = Buffer.allocUnsafeSlow(SAMPLES_PER_FRAME);
  add(
    'mu-law encode',
    measure((i) => {
      encodeMulaw(pcmFrames[i & 7]!, mulawOut);
      return mulawOut[5]!;
    }, N),
    measure((i) => alawmulaw.mulaw.encode(pcmFrames[i & 7]!)[5]!, N),
    'encodeMulaw: 64K table into a reused Buffer',
    'alawmulaw.mulaw.encode, allocating',
  );
  const outFrames = mulawFrames.map((m) => Buffer.from(m));
  add(
    'base64 encode',
    measure((i) => outFrames[i & 7]!.toString('base64').length, N),
    measure((i) => Buffer.from(mulawFrames[i & 7]!).toString('base64').length, N),
    'Buffer#toString("base64") (OutboundFrame; shared by all silent listeners)',
    'Buffer.from(Uint8Array) then toString, per listener',
  );
  const outbound = new OutboundMessages(streamSid);
  add(
    'serialise outbound message',
    // Buffer.byteLength as ws's send does first: it also flattens the concatenated string.
    measure((i) => Buffer.byteLength(outbound.media(payloads[i & 7]!)), N),
    measure((i) => Buffer.byteLength(JSON.stringify({ event: 'media', streamSid, media: { payload: payloads[i & 7]! } })), N),
    'OutboundMessages#media: prefix + payload + suffix (+ byteLength, as ws.send)',
    'JSON.stringify (+ byteLength, as ws.send)',
  );

  log('  socket write/read floor (300 loopback sockets, 330-byte messages)');
  const socketFloor = await measureSocketFloor();
  log(`  socket write ${socketFloor.writeUs} us, read ${socketFloor.readUs} us`);
  log('  outbound message: ws.send() against one prebuilt frame write (300 WebSockets)');
  const sendPath = await measureSendPath();
  log(`  ws.send ${sendPath.wsSendUs} us, frame write ${sendPath.frameWriteUs} us`);

  // The real server's sound stages (no counterpart in the baseline; not in the totals).
  const jitter = new JitterBuffer();
  const popInfo = { arrivalMs: 0, silent: false };
  add(
    'jitter buffer push + pop',
    measure((i) => {
      jitter.pushMulaw(mulawFrames[i & 7]!, i * 20);
      jitter.pop(pcm, popInfo);
      return pcm[9]!;
    }, N),
    NaN,
    'JitterBuffer#pushMulaw (includes the mu-law decode) + #pop, per caller',
    'an array queue (push/shift)',
    false,
  );
  const detector = new TalkDetector();
  add(
    'talk detector',
    measure((i) => (detector.update(pcmFrames[i & 7]!).gateOpen ? 1 : 0), N),
    NaN,
    'TalkDetector#update: level, noise floor, gate, per caller',
    'none',
    false,
  );
  // Issue 14: the talk detector on a loud steady line (its floor's sound is measured for tonality
  // a few times a second), and the AGC and the noise suppressor, per caller that has them.
  const steady = new TalkDetector();
  let seed = 1;
  const steadyFrames = Array.from({ length: 8 }, () =>
    Int16Array.from({ length: SAMPLES_PER_FRAME }, () => {
      seed = (seed * 1103515245 + 12345) >>> 0;
      return (seed >>> 16) / 32 - 1024; // white noise at about -33 dBFS
    }),
  );
  add(
    'talk detector, loud steady sound',
    measure((i) => (steady.update(steadyFrames[i & 7]!).gateOpen ? 1 : 0), N),
    NaN,
    'TalkDetector#update with the floor above its ceiling: + tonality spectra (at most 10 a second), per caller',
    'none',
    false,
  );
  const agc = new Agc();
  add(
    'AGC',
    measure((i) => agc.update(-20 - (i & 15), (i & 3) !== 0), N),
    NaN,
    'Agc#update: active level, 1 dB steps, per caller with AGC on',
    'none',
    false,
  );
  const suppressor = new NoiseSuppressor();
  const work = new Int16Array(SAMPLES_PER_FRAME);
  const suppressNs = measure((i) => {
    work.set(pcmFrames[i & 7]!);
    suppressor.process(work);
    return work[11]!;
  }, N / 4);
  suppressor.destroy();
  const totalSoFar = rows.reduce((t, r) => t + (r.inTotal ? r.mainNs : 0), 0);
  const perCallerFrameUs = socketFloor.writeUs + socketFloor.readUs + totalSoFar / 1000;
  const callersPerCore = 1e6 / (50 * perCallerFrameUs);
  const callersPerCoreWith = 1e6 / (50 * (perCallerFrameUs + suppressNs / 1000));
  const noiseSuppression = {
    usPerFrame: Math.round(suppressNs / 10) / 100,
    perCallerFrameUs: Math.round(perCallerFrameUs * 100) / 100,
    callersPerCore: Math.round(callersPerCore),
    callersPerCoreWith: Math.round(callersPerCoreWith),
    lostPercent: Math.round((1 - callersPerCoreWith / callersPerCore) * 1000) / 10,
  };
  add(
    'noise suppression',
    suppressNs,
    NaN,
    `NoiseSuppressor#process (speexdsp, WebAssembly), per caller with it on: ${noiseSuppression.usPerFrame} us a frame against ${noiseSuppression.perCallerFrameUs} us of socket read + write + JavaScript; callers per core ${noiseSuppression.callersPerCore} -> ${noiseSuppression.callersPerCoreWith} (${noiseSuppression.lostPercent} % lost)`,
    'none',
    false,
  );
  const limiter = new Limiter();
  const gains = new Float32Array(SAMPLES_PER_FRAME);
  // Alternately a quiet room (unity: the fast path) and 10 loud talkers (limiting).
  add(
    'limiter',
    measure((i) => (limiter.process(i & 1 ? 10 * 23000 : 9000, i & 1 ? 10 * 8000 ** 2 * 160 : 2000 ** 2 * 160, gains) ? 1 : 0), N),
    NaN,
    'Limiter#process, per room frame (half quiet, half limiting)',
    'none (clips)',
    false,
  );

  if (sink === 0.5) log('unreachable');
  const total = (pick: (r: MicroRow) => number) => rows.reduce((t, r) => t + (r.inTotal ? pick(r) : 0), 0);
  const totalMainNs = total((r) => r.mainNs);
  const totalBaselineNs = total((r) => r.baselineNs);
  // Other processes: the machine's busy time minus this process's (the floor's reader is small).
  const cpu = process.cpuUsage(cpuBefore);
  const busyAfter = machineBusyMicros();
  const others =
    busyBefore !== null && busyAfter !== null
      ? (Math.max(0, busyAfter - busyBefore - cpu.user - cpu.system) / ((performance.now() - startedMs) * 1000)) * 100
      : NaN;
  return {
    rows,
    totalMainNs,
    totalBaselineNs,
    totalRatio: totalBaselineNs / totalMainNs,
    socketFloor,
    sendPath,
    otherProcessesPercentOfCore: Math.round(others),
    noiseSuppression,
  };
}
