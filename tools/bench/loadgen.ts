/**
 * The load generator, in its own process: many Twilio-like calls, each doing what Twilio does for
 * a real call, and cheap enough per frame not to be the bottleneck.
 *
 * - Every call follows the webhook flow: POST /voice?room=N (src/sim/twimlFollower.ts), then opens
 *   the <Stream url> from the TwiML and passes back ALL its <Parameter>s in start.customParameters
 *   (so a join ticket or anything else the server puts there works unchanged).
 * - Calls dial the way users do at the start of a busy hour: at most `dialConcurrency` (16) at a
 *   time, a call "dialling" from its webhook request until its stream has sent `start` (or it was
 *   refused, or failed), and optionally no more than `joinsPerSecond`. A webhook whose TwiML has no
 *   <Connect><Stream> (busy, conference full ...) is a call REFUSED, counted apart from failures.
 * - WebSocket: `connected` and `start` on open, then `media` every 20 ms, then `stop` and close.
 *   Twilio's field order and string-typed sequenceNumber/chunk/timestamp (first timestamp 155).
 *   Each call keeps Twilio's playout clock of the audio it receives: a `mark` is echoed when the
 *   audio queued before it has played, a `clear` empties the queue and echoes its marks at once.
 * - One shared scheduler for all calls on an absolute clock (start + n * 20 ms): calls are spread
 *   over 10 phases 2 ms apart (real calls are not in step), one timer wakes per phase and sends
 *   that phase's frames. A late wake-up catches up (as a real-time sender must).
 * - Cheap: payloads are base64 before the run; each message is pre-built strings with only the
 *   counters and the payload spliced in, sent as one socket write (wsClient.ts: a minimal RFC 6455
 *   client, zero masking key, reads parsed in place); received messages are recognised by length
 *   and a sampled prefix check, never JSON.parse'd unless unusual. On this 2-core VM one socket
 *   write costs ~7 us and one read ~9 us of CPU, so the generator costs about what the kernel does.
 * - Talk pattern: per room, `talkersMin` callers always talking (each plays a speech fixture, then
 *   the floor passes to the next caller) and up to `talkersMax - talkersMin` more joining in with
 *   pauses of 1-5 s; everyone else sends Twilio silence frames.
 * - Server-added delay: about once a second per room, a caller who is not talking sends one marker
 *   frame (payloads.ts); each other caller in the room times when the marker appears in its mix.
 *
 * Measured here, in a window the benchmark opens: frames received per caller (against 50 per
 * second), gaps > 60 ms between received frames, marker delays, and the generator's own CPU,
 * event-loop delay and send lateness (to show it was not the bottleneck).
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { randomBytes } from 'node:crypto';
import { FRAME_MS, SAMPLES_PER_FRAME } from '../../src/audio/format.js';
import { dialIn } from '../../src/sim/twimlFollower.js';
import { DurationHistogram } from '../../src/timing/histogram.js';
import { serve } from './ipc.js';
import { markerFrameBase64, markerFrameIndex, prng, silenceFrames, speechClips, type SilenceKind } from './payloads.js';
import { MiniWebSocket } from './wsClient.js';

export interface LoadConfig {
  /** http://127.0.0.1:PORT of the server under test. */
  baseUrl: string;
  callers: number;
  roomSize: number;
  /** Per room: this many talk continuously (the floor rotates among the callers) ... */
  talkersMin: number;
  /** ... and up to this many in all, the others joining in intermittently. */
  talkersMax: number;
  /** Calls dialling at once (webhook request until `start` sent, or refused / failed). */
  dialConcurrency: number;
  /** A cap on calls starting to dial per second; null: none (only `dialConcurrency`). */
  joinsPerSecond: number | null;
  silence: SilenceKind;
  /** Calls hanging up per second (each replaced at once by a new call to the same room); 0: none. */
  churnPerSecond: number;
  seed: number;
  /** Stop waiting for joins after this long (the rest keep dialling, and are counted as late). */
  joinDeadlineMs: number;
  /** Set-up cost runs: every call hangs up (stop, close) as soon as its first mix arrives. */
  hangUpAfterFirstMix?: boolean;
}

export interface JoinReport {
  joined: number;
  /** Calls the server turned away: its TwiML had no <Connect><Stream> (busy, full ...). */
  refused: number;
  failed: number;
  /** Still dialling at the deadline (a server too slow to answer its webhooks in time). */
  pending: number;
  firstError: string | null;
  /** What the first refused call heard (its <Say>s). */
  firstRefusal: string | null;
  ms: number;
}

/** One set-up round (`setupRound`): every call dialled, streamed until its first mix, hung up. */
export interface SetupRoundReport {
  calls: number;
  admitted: number;
  refused: number;
  failed: number;
  firstError: string | null;
  firstRefusal: string | null;
  /** Wall time of the round, first webhook to last socket closed (ms). */
  ms: number;
  /** Webhook request to the first mix, per admitted call (ms). */
  setupMs: { p50: number; p99: number };
  /** The generator's own CPU over the round (us). */
  cpuMicros: number;
}

type DialOutcome = 'admitted' | 'refused' | 'failed';

export interface LoadgenWindow {
  windowMs: number;
  /** Callers streaming at some time in the window, and at its end. */
  callersActive: number;
  callersAtEnd: number;
  mediaSent: number;
  /** Other messages to the server (mark echoes). */
  otherSent: number;
  /** Messages from the server (media, mark, clear, anything). */
  messagesReceived: number;
  framesReceived: number;
  framesExpected: number;
  gapsOver60ms: number;
  callersWithGaps: number;
  maxGapMs: number;
  delaysMs: number[];
  markersSent: number;
  /** Listener detections that did not happen within 3 s of a marker. */
  markersMissed: number;
  joins: number;
  leaves: number;
  joinFailures: number;
  /** Calls the server refused (TwiML without <Connect><Stream>) that dialled in the window. */
  joinRefusals: number;
  /** Webhook request to the first mix received, for every call so far (not only this window). */
  joinLatencyMs: number[];
  unexpectedCloses: number;
  closeCodes: Record<string, number>;
  protocolErrors: number;
  protocolErrorSamples: string[];
  sendsSkippedBackpressure: number;
  /** The generator's own CPU over the window (scaled to it when its timer fired late). */
  cpuMicros: number;
  eventLoopDelayMs: { p50: number; p99: number; max: number };
  sendLatenessMs: { p50: number; p99: number; max: number };
}

const PHASES = 10;
const LOOP_RESOLUTION_MS = 10;
const PHASE_MS = FRAME_MS / PHASES;
const GAP_MS = 60;
/** A marker not seen by then counts as missed (an overloaded server may take seconds). */
const MARKER_TIMEOUT_MS = 3000;
/**
 * Past this many unsent bytes (~100 media messages, 2 s) a socket is not draining: frames are
 * skipped and counted, so a stalled server cannot make the generator hoard memory (and GC).
 */
const MAX_BUFFERED_BYTES = 32 * 1024;
/** Twilio gives up on a webhook after 15 s; a WebSocket handshake gets 10 s here. */
const WEBHOOK_TIMEOUT_MS = 15_000;
const HANDSHAKE_TIMEOUT_MS = 10_000;
const ACCOUNT_SID = 'AC' + '0'.repeat(32);

// The media message, Twilio's field order, in pieces around the changing fields.
const M1 = '{"event":"media","sequenceNumber":"';
const M2 = '","media":{"track":"inbound","chunk":"';
const M3 = '","timestamp":"';
const M4 = '","payload":"';
const CONNECTED = '{"event":"connected","protocol":"Call","version":"1.0.0"}';

const enum State {
  Dialing,
  Streaming,
  Stopped,
}

class Caller {
  state = State.Dialing;
  ws: MiniWebSocket | null = null;
  socketClosed = false;
  readonly streamSid = 'MZ' + randomBytes(16).toString('hex');
  readonly callSid = 'CA' + randomBytes(16).toString('hex');
  /** Closes every media message: `"},"streamSid":"MZ..."}`. */
  readonly tail: string;
  /** The exact start of a media message from the server to this stream, and its usual length. */
  readonly prefix: Buffer;
  readonly mediaLength: number;
  seq = 0;
  chunk = 0;
  phase = -1;
  phasePos = -1;
  // talk
  clip: string[] | null = null;
  clipPos = 0;
  slot: Slot | null = null;
  silenceIndex = 0;
  markerArmed = false;
  markerSeen = 0;
  // times (ms, performance.now())
  dialAt = 0;
  startSentAt = 0;
  firstRecvAt = 0;
  lastRecvAt = 0;
  leftAt = 0;
  framesIn = 0;
  // this window
  winFrames = 0;
  winGaps = 0;
  winMaxGap = 0;
  winLast = 0;
  /** Twilio's playout of what the server sent: when the queued audio will have played (ms). */
  playoutEnd = 0;
  /** Marks waiting for the audio before them to play: echoed then (or at once on a clear). */
  readonly pendingMarks: Array<{ name: string; timer: NodeJS.Timeout }> = [];

  constructor(readonly room: Room) {
    this.tail = `"},"streamSid":"${this.streamSid}"}`;
    this.prefix = Buffer.from(`{"event":"media","streamSid":"${this.streamSid}","media":{"payload":"`);
    this.mediaLength = this.prefix.length + 216 + 3;
  }
}

interface Slot {
  speaker: Caller | null;
  continuous: boolean;
  idleUntil: number;
}

class Room {
  readonly members: Caller[] = [];
  readonly slots: Slot[];
  private rr = 0;
  markerSeq = 0;
  markerFrom: Caller | null = null;
  markerSentAt = 0;
  markerListeners = 0;
  markerHeard = 0;
  nextMarkerAt: number;

  constructor(
    readonly id: string,
    talkersMin: number,
    talkersMax: number,
    private readonly gen: LoadGenerator,
  ) {
    this.slots = Array.from({ length: talkersMax }, (_, i) => ({
      speaker: null,
      continuous: i < talkersMin,
      idleUntil: i < talkersMin ? 0 : gen.random() * 3000,
    }));
    this.nextMarkerAt = gen.random() * 1000;
  }

  remove(c: Caller, now: number): void {
    const i = this.members.indexOf(c);
    if (i >= 0) this.members.splice(i, 1);
    if (c.slot) this.talkEnded(c, now);
    if (this.markerFrom === c) this.closeMarker(now);
  }

  talkEnded(c: Caller, now: number): void {
    const slot = c.slot!;
    c.clip = null;
    c.slot = null;
    slot.speaker = null;
    slot.idleUntil = slot.continuous ? now : now + 1000 + this.gen.random() * 4000;
  }

  /** Once per 20 ms: hand free talk slots to callers, start and time out delay markers. */
  step(now: number): void {
    const members = this.members;
    const n = members.length;
    for (const slot of this.slots) {
      if (slot.speaker !== null || now < slot.idleUntil) continue;
      for (let k = 0; k < n; k++) {
        const c = members[(this.rr + k) % n]!;
        if (c.clip !== null || c.markerArmed || c.firstRecvAt === 0) continue;
        c.clip = this.gen.nextClip();
        c.clipPos = 0;
        c.slot = slot;
        slot.speaker = c;
        this.rr = (this.rr + k + 1) % n;
        break;
      }
    }
    if (this.markerFrom === null) {
      if (now < this.nextMarkerAt || n < 2) return;
      const first = Math.floor(this.gen.random() * n);
      for (let k = 0; k < n; k++) {
        const c = members[(first + k) % n]!;
        if (c.clip !== null || c.firstRecvAt === 0) continue;
        this.markerSeq++;
        this.markerFrom = c;
        this.markerSentAt = 0;
        this.markerHeard = 0;
        this.markerListeners = 0;
        for (const m of members) if (m !== c && m.firstRecvAt > 0) this.markerListeners++;
        c.markerArmed = true;
        return;
      }
    } else if (this.markerSentAt > 0 && now - this.markerSentAt > MARKER_TIMEOUT_MS) {
      if (this.gen.inWindow(this.markerSentAt)) this.gen.win.markersMissed += this.markerListeners - this.markerHeard;
      this.closeMarker(now);
    }
  }

  heard(now: number): void {
    this.markerHeard++;
    if (this.gen.inWindow(this.markerSentAt)) this.gen.win.delaysMs.push(now - this.markerSentAt);
    if (this.markerHeard >= this.markerListeners) this.closeMarker(now);
  }

  closeMarker(now: number): void {
    if (this.markerFrom) this.markerFrom.markerArmed = false;
    this.markerFrom = null;
    this.markerSentAt = 0;
    this.nextMarkerAt = now + 500 + this.gen.random() * 1000;
  }
}

function emptyWindow(): LoadgenWindow {
  return {
    windowMs: 0,
    callersActive: 0,
    callersAtEnd: 0,
    mediaSent: 0,
    otherSent: 0,
    messagesReceived: 0,
    framesReceived: 0,
    framesExpected: 0,
    gapsOver60ms: 0,
    callersWithGaps: 0,
    maxGapMs: 0,
    delaysMs: [],
    markersSent: 0,
    markersMissed: 0,
    joins: 0,
    leaves: 0,
    joinFailures: 0,
    joinRefusals: 0,
    joinLatencyMs: [],
    unexpectedCloses: 0,
    closeCodes: {},
    protocolErrors: 0,
    protocolErrorSamples: [],
    sendsSkippedBackpressure: 0,
    cpuMicros: 0,
    eventLoopDelayMs: { p50: 0, p99: 0, max: 0 },
    sendLatenessMs: { p50: 0, p99: 0, max: 0 },
  };
}

class LoadGenerator {
  readonly random: () => number;
  private readonly clips = speechClips();
  private clipIndex = 0;
  private readonly silence: string[];
  private readonly marker = markerFrameBase64();
  private readonly rooms: Room[] = [];
  private readonly everyone: Caller[] = [];
  private readonly phases: Caller[][] = Array.from({ length: PHASES }, () => []);
  private phaseRr = 0;
  private t0 = 0;
  private period = 0;
  private phase = 0;
  private timer: NodeJS.Timeout | null = null;
  private churnTimer: NodeJS.Timeout | null = null;
  private dialQueue: Caller[] = [];
  private dialsInFlight = 0;
  private joinTimer: NodeJS.Timeout | null = null;
  private joinCredit = 0;
  /** The measurement window [start, end) on this process's clock; empty until opened. */
  winStart = Infinity;
  winEnd = -Infinity;
  win = emptyWindow();
  private readonly loopDelay = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
  private readonly sendLateness = new DurationHistogram();
  private cpuBase = process.cpuUsage();
  private firstError: string | null = null;
  private firstRefusal: string | null = null;
  private stopping = false;
  /** The last 256 arrival times of mixes (any caller): where the server's ticks fall. */
  private readonly arrivals = new Float64Array(256);
  private arrivalCount = 0;
  /** Webhook to first mix received, for every call of the run (ms). */
  private readonly joinLatencies: number[] = [];

  constructor(readonly config: LoadConfig) {
    this.random = prng(config.seed);
    this.silence = silenceFrames(config.silence);
    const roomCount = Math.ceil(config.callers / config.roomSize);
    for (let r = 0; r < roomCount; r++) this.rooms.push(new Room(String(1000 + r), config.talkersMin, config.talkersMax, this));
    this.loopDelay.enable();
  }

  nextClip(): string[] {
    return this.clips[this.clipIndex++ % this.clips.length]!;
  }

  inWindow(t: number): boolean {
    return t >= this.winStart && t < this.winEnd;
  }

  /** Starts the shared 20 ms clock (once). */
  private startClock(): void {
    if (this.timer) return;
    this.t0 = performance.now() + 5;
    this.timer = setTimeout(this.loop, 5);
  }

  /** Dials every caller (`dialConcurrency` at a time) and starts the clock; resolves when all are in. */
  start(): Promise<JoinReport> {
    const started = performance.now();
    this.startClock();
    const callers = Array.from({ length: this.config.callers }, (_, i) => new Caller(this.rooms[Math.floor(i / this.config.roomSize)]!));
    const total = callers.length;
    return new Promise((resolve) => {
      const count = { admitted: 0, refused: 0, failed: 0 };
      let settled = false;
      const finish = () => {
        if (settled) return;
        settled = true;
        clearTimeout(deadline);
        if (this.config.churnPerSecond > 0) this.startChurn();
        const done = count.admitted + count.refused + count.failed;
        resolve({
          joined: count.admitted,
          refused: count.refused,
          failed: count.failed,
          pending: total - done,
          firstError: this.firstError,
          firstRefusal: this.firstRefusal,
          ms: Math.round(performance.now() - started),
        });
      };
      const deadline = setTimeout(finish, this.config.joinDeadlineMs);
      this.dialAll(callers, (outcome) => {
        count[outcome]++;
        if (count.admitted + count.refused + count.failed === total) finish();
      });
    });
  }

  /**
   * Set-up cost: dials `calls` calls into the rooms (`dialConcurrency` at a time), each hanging up
   * (stop, close) as soon as its first mix arrives; resolves when every socket has closed.
   */
  async setupRound(calls: number): Promise<SetupRoundReport> {
    const started = performance.now();
    const cpuBefore = process.cpuUsage();
    this.startClock();
    const perRoom = this.config.roomSize;
    const callers = Array.from({ length: calls }, (_, i) => new Caller(this.rooms[Math.floor(i / perRoom) % this.rooms.length]!));
    const count = { admitted: 0, refused: 0, failed: 0 };
    await new Promise<void>((resolve) => {
      this.dialAll(callers, (outcome) => {
        count[outcome]++;
        if (count.admitted + count.refused + count.failed === calls) resolve();
      });
    });
    // Admitted calls hang up at their first mix: wait for every socket to close (30 s at most).
    const until = performance.now() + 30_000;
    while (callers.some((c) => c.ws !== null && !c.socketClosed) && performance.now() < until) await new Promise((r) => setTimeout(r, 5));
    const setupMs = callers
      .filter((c) => c.firstRecvAt > 0)
      .map((c) => c.firstRecvAt - c.dialAt)
      .sort((x, y) => x - y);
    const pick = (f: number) => (setupMs.length ? Math.round(setupMs[Math.min(setupMs.length - 1, Math.ceil(f * setupMs.length) - 1)]! * 10) / 10 : NaN);
    return {
      calls,
      admitted: count.admitted,
      refused: count.refused,
      failed: count.failed,
      firstError: this.firstError,
      firstRefusal: this.firstRefusal,
      ms: Math.round(performance.now() - started),
      setupMs: { p50: pick(0.5), p99: pick(0.99) },
      cpuMicros: ((cpu) => cpu.user + cpu.system)(process.cpuUsage(cpuBefore)),
    };
  }

  /**
   * Dials `callers` as users do: at most `dialConcurrency` dialling at once (a call dials from its
   * webhook request until its stream has sent `start`, or it was refused or failed), and, with
   * `joinsPerSecond`, no more than that many starting per second.
   */
  private dialAll(callers: Caller[], onDone: (outcome: DialOutcome) => void): void {
    this.dialQueue.push(...callers);
    const rate = this.config.joinsPerSecond;
    const launch = () => {
      while (this.dialQueue.length > 0 && this.dialsInFlight < this.config.dialConcurrency && (rate === null || this.joinCredit >= 1)) {
        if (rate !== null) this.joinCredit--;
        const c = this.dialQueue.shift()!;
        this.dialsInFlight++;
        void this.dial(c).then((outcome) => {
          this.dialsInFlight--;
          onDone(outcome);
          launch();
        });
      }
    };
    if (rate !== null) {
      // The rate cap: credit accrues every 20 ms (at most a tenth of a second's worth banked).
      let last = performance.now();
      const step = () => {
        const now = performance.now();
        this.joinCredit = Math.min(this.joinCredit + (rate * (now - last)) / 1000, Math.max(1, rate / 10));
        last = now;
        launch();
        this.joinTimer = this.dialQueue.length > 0 ? setTimeout(step, 20) : null;
      };
      step();
    } else launch();
  }

  /** One call: webhook, TwiML, WebSocket, connected + start; resolves when streaming, refused or failed. */
  private async dial(c: Caller): Promise<DialOutcome> {
    c.dialAt = performance.now();
    this.everyone.push(c);
    try {
      const room = c.room.id;
      const answer = await timeLimit(
        dialIn({ baseUrl: this.config.baseUrl, voicePath: `/voice?room=${room}`, callSid: c.callSid, accountSid: ACCOUNT_SID, keypresses: [room] }),
        WEBHOOK_TIMEOUT_MS,
        'the webhook did not answer within 15 s (Twilio gives up)',
      );
      if (answer.kind !== 'stream') {
        // The server answered, and turned the call away (busy, conference full ...): refused.
        c.state = State.Stopped;
        c.leftAt = performance.now();
        this.firstRefusal ??= answer.said.join(' / ') || '(hung up without a word)';
        if (this.inWindow(c.leftAt)) this.win.joinRefusals++;
        return 'refused';
      }
      await this.openStream(c, answer.streamUrl, answer.parameters);
      return 'admitted';
    } catch (error) {
      c.state = State.Stopped;
      c.leftAt = performance.now();
      this.firstError ??= error instanceof Error ? error.message : String(error);
      if (this.inWindow(performance.now())) this.win.joinFailures++;
      return 'failed';
    }
  }

  private openStream(c: Caller, url: string, parameters: Record<string, string>): Promise<void> {
    return new Promise((resolve, reject) => {
      const ws = new MiniWebSocket(
        url,
        { 'User-Agent': 'Twilio.TmeWs/1.0' },
        {
          message: (data, start, end) => this.onMessage(c, data, start, end),
          close: (code) => {
            c.socketClosed = true;
            this.onClose(c, code);
          },
          error: (error) => {
            if (c.state === State.Dialing) {
              c.socketClosed = true;
              reject(error);
            } else this.protocolError(`socket: ${error.message}`, performance.now());
          },
          open: () => onOpen(),
        },
      );
      c.ws = ws;
      const handshakeTimer = setTimeout(() => {
        ws.terminate();
        reject(new Error('the WebSocket handshake did not complete within 10 s'));
      }, HANDSHAKE_TIMEOUT_MS);
      const onOpen = () => {
        clearTimeout(handshakeTimer);
        if (this.stopping) {
          ws.terminate();
          return reject(new Error('stopping'));
        }
        ws.sendAscii(CONNECTED);
        ws.send(
          JSON.stringify({
            event: 'start',
            sequenceNumber: String(++c.seq),
            start: {
              accountSid: ACCOUNT_SID,
              streamSid: c.streamSid,
              callSid: c.callSid,
              tracks: ['inbound'],
              mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 },
              customParameters: parameters,
            },
            streamSid: c.streamSid,
          }),
        );
        c.startSentAt = performance.now();
        c.state = State.Streaming;
        c.room.members.push(c);
        this.addToClock(c);
        if (this.inWindow(c.startSentAt)) this.win.joins++;
        resolve();
      };
    });
  }

  private addToClock(c: Caller): void {
    const p = this.phaseRr++ % PHASES;
    c.phase = p;
    c.phasePos = this.phases[p]!.length;
    this.phases[p]!.push(c);
  }

  private removeFromClock(c: Caller): void {
    if (c.phase < 0) return;
    const list = this.phases[c.phase]!;
    const last = list.pop()!;
    if (last !== c) {
      list[c.phasePos] = last;
      last.phasePos = c.phasePos;
    }
    c.phase = -1;
  }

  /** The shared clock: sends each phase's frames at t0 + period * 20 ms + phase * 2 ms. */
  private readonly loop = (): void => {
    let now = performance.now();
    let due = this.t0 + this.period * FRAME_MS + this.phase * PHASE_MS;
    if (now - due > 1000) {
      // Stalled for a second (the machine, not the load): resynchronise rather than burst.
      this.t0 = now - this.period * FRAME_MS - this.phase * PHASE_MS;
      due = now;
    }
    while (due <= now) {
      if (this.inWindow(now)) this.sendLateness.record(now - due);
      if (this.phase === 0) for (const room of this.rooms) room.step(now);
      const list = this.phases[this.phase]!;
      for (let i = 0; i < list.length; i++) this.sendFrame(list[i]!, now);
      if (++this.phase === PHASES) {
        this.phase = 0;
        this.period++;
      }
      due = this.t0 + this.period * FRAME_MS + this.phase * PHASE_MS;
      now = performance.now();
    }
    this.timer = setTimeout(this.loop, due - now);
  };

  private sendFrame(c: Caller, now: number): void {
    const ws = c.ws!;
    let payload: string;
    let marker = false;
    if (c.markerArmed && c.room.markerSentAt === 0) {
      payload = this.marker;
      marker = true;
    } else if (c.clip !== null) {
      payload = c.clip[c.clipPos]!;
      if (++c.clipPos === c.clip.length) c.room.talkEnded(c, now);
    } else {
      payload = this.silence[c.silenceIndex]!;
      if (++c.silenceIndex === this.silence.length) c.silenceIndex = 0;
    }
    const chunk = ++c.chunk;
    c.seq++;
    if (ws.bufferedAmount > MAX_BUFFERED_BYTES) {
      if (this.inWindow(now)) this.win.sendsSkippedBackpressure++;
      return;
    }
    ws.sendAscii(M1 + c.seq + M2 + chunk + M3 + (155 + (chunk - 1) * FRAME_MS) + M4 + payload + c.tail);
    if (marker) {
      c.room.markerSentAt = performance.now();
      if (this.inWindow(c.room.markerSentAt)) this.win.markersSent++;
    }
    if (this.inWindow(now)) this.win.mediaSent++;
  }

  /** A text message from the server: bytes [start, end) of `data` (valid during this call only). */
  private onMessage(c: Caller, data: Buffer, start: number, end: number): void {
    const now = performance.now();
    if (now >= this.winStart && now < this.winEnd) this.win.messagesReceived++;
    if (end - start !== c.mediaLength || data[end - 1] !== 0x7d) return this.slowPath(c, data, start, end, now);
    // Sampled check that it is this stream's media message (Twilio would reject anything else).
    const p = c.prefix.length;
    if ((++c.framesIn & 63) === 1 && data.compare(c.prefix, 0, p, start, start + p) !== 0) {
      return this.protocolError(`media message with an unexpected prefix: ${data.toString('latin1', start, start + 80)}`, now);
    }
    this.received(c, 1, now, data, start + p, end - 3);
  }

  private received(c: Caller, frames: number, now: number, data: Buffer, payloadStart: number, payloadEnd: number): void {
    if (c.state !== State.Streaming) return;
    if (c.firstRecvAt === 0) {
      c.firstRecvAt = now;
      this.joinLatencies.push(now - c.dialAt);
      // Set-up cost runs: the call is set up once its first mix is here; hang up (outside the read).
      if (this.config.hangUpAfterFirstMix) {
        setImmediate(() => this.hangUp(c));
        return;
      }
    }
    if (now >= this.winStart && now < this.winEnd) {
      c.winFrames += frames;
      if (c.winLast > 0) {
        const gap = now - c.winLast;
        if (gap > GAP_MS) c.winGaps++;
        if (gap > c.winMaxGap) c.winMaxGap = gap;
      }
    }
    if (now < this.winEnd) c.winLast = now;
    c.lastRecvAt = now;
    c.playoutEnd = (c.playoutEnd > now ? c.playoutEnd : now) + frames * FRAME_MS;
    this.arrivals[this.arrivalCount++ & 255] = now;
    const room = c.room;
    if (room.markerSentAt > 0 && c.markerSeen !== room.markerSeq && room.markerFrom !== c) {
      // A message may carry several frames (OUTBOUND_MESSAGE_MS=40): the k-th plays k * 20 ms after
      // the first, so that is when the marker reaches the ear.
      const k = markerFrameIndex(data, payloadStart, payloadEnd);
      if (k >= 0) {
        c.markerSeen = room.markerSeq;
        room.heard(now + k * FRAME_MS);
      }
    }
  }

  /** Anything but a standard media message: validated as Twilio would, counted. */
  private slowPath(c: Caller, data: Buffer, from: number, to: number, now: number): void {
    const text = data.toString('utf8', from, to);
    let m: { event?: unknown; streamSid?: unknown; media?: { payload?: unknown }; mark?: { name?: unknown } };
    try {
      m = JSON.parse(text);
    } catch {
      return this.protocolError(`not JSON: ${text.slice(0, 60)}`, now);
    }
    const keys = Object.keys(m).sort().join(',');
    if (m.streamSid !== c.streamSid) return this.protocolError(`streamSid is not this stream's (31951): ${text.slice(0, 80)}`, now);
    if (
      m.event === 'media' &&
      keys === 'event,media,streamSid' &&
      m.media &&
      Object.keys(m.media).join(',') === 'payload' &&
      typeof m.media.payload === 'string'
    ) {
      const start = from + text.indexOf('"payload":"') + 11;
      const bytes = Buffer.byteLength(m.media.payload, 'base64');
      this.received(c, bytes / SAMPLES_PER_FRAME, now, data, start, start + m.media.payload.length);
    } else if (m.event === 'mark' && keys === 'event,mark,streamSid' && typeof m.mark?.name === 'string') {
      // Twilio echoes a mark once the audio queued before it has played.
      const name = m.mark.name;
      const waitMs = c.playoutEnd - now;
      if (waitMs <= 0) this.echoMark(c, name);
      else {
        const entry = { name, timer: setTimeout(() => this.echoPending(c, entry), waitMs) };
        c.pendingMarks.push(entry);
      }
    } else if (m.event === 'clear' && keys === 'event,streamSid') {
      // The queue is dropped, and the marks in it come back at once.
      c.playoutEnd = now;
      for (const entry of c.pendingMarks.splice(0)) {
        clearTimeout(entry.timer);
        this.echoMark(c, entry.name);
      }
    } else {
      this.protocolError(`unexpected message (31951): ${text.slice(0, 80)}`, now);
    }
  }

  private echoPending(c: Caller, entry: { name: string; timer: NodeJS.Timeout }): void {
    const i = c.pendingMarks.indexOf(entry);
    if (i >= 0) c.pendingMarks.splice(i, 1);
    this.echoMark(c, entry.name);
  }

  private echoMark(c: Caller, name: string): void {
    if (c.state !== State.Streaming) return;
    if (this.inWindow(performance.now())) this.win.otherSent++;
    c.ws?.send(JSON.stringify({ event: 'mark', sequenceNumber: String(++c.seq), streamSid: c.streamSid, mark: { name } }));
  }

  private protocolError(what: string, now: number): void {
    if (!this.inWindow(now)) return;
    this.win.protocolErrors++;
    if (this.win.protocolErrorSamples.length < 5 && !this.win.protocolErrorSamples.includes(what)) this.win.protocolErrorSamples.push(what);
  }

  private onClose(c: Caller, code: number): void {
    for (const entry of c.pendingMarks.splice(0)) clearTimeout(entry.timer);
    if (c.state !== State.Streaming) return;
    const now = performance.now();
    c.state = State.Stopped;
    c.leftAt = now;
    this.removeFromClock(c);
    c.room.remove(c, now);
    if (this.inWindow(now) && !this.stopping) {
      this.win.unexpectedCloses++;
      this.win.closeCodes[code] = (this.win.closeCodes[code] ?? 0) + 1;
    }
  }

  /** The caller hangs up: Twilio's `stop`, then the socket closes. */
  private hangUp(c: Caller): void {
    for (const entry of c.pendingMarks.splice(0)) clearTimeout(entry.timer);
    if (c.state !== State.Streaming) return;
    const now = performance.now();
    c.state = State.Stopped;
    c.leftAt = now;
    this.removeFromClock(c);
    c.room.remove(c, now);
    const ws = c.ws!;
    ws.send(JSON.stringify({ event: 'stop', sequenceNumber: String(++c.seq), streamSid: c.streamSid, stop: { accountSid: ACCOUNT_SID, callSid: c.callSid } }));
    ws.close(1000);
    if (this.inWindow(now)) this.win.leaves++;
  }

  /** Churn: every 100 ms, some calls hang up and as many new ones dial the same rooms. */
  private startChurn(): void {
    let credit = 0;
    const step = () => {
      credit += this.config.churnPerSecond / 10;
      while (credit >= 1) {
        credit--;
        const room = this.rooms[Math.floor(this.random() * this.rooms.length)]!;
        const c = room.members[Math.floor(this.random() * room.members.length)];
        if (!c) continue;
        this.hangUp(c);
        void this.dial(new Caller(room));
      }
      this.churnTimer = setTimeout(step, 100);
    };
    this.churnTimer = setTimeout(step, 100);
  }

  /**
   * Opens the measurement window within the next 20 ms; resolves with its figures `settleMs` after
   * it ends. The server sends every caller's mix in one burst per tick, so a window edge on a burst
   * would count a frame too many or too few for every caller at once: the window starts half a
   * period away from where the mixes have been arriving (the circular mean of recent arrivals).
   */
  window(durationMs: number, settleMs: number): Promise<LoadgenWindow> {
    const now = performance.now();
    let x = 0;
    let y = 0;
    const n = Math.min(this.arrivalCount, this.arrivals.length);
    for (let i = 0; i < n; i++) {
      const angle = (2 * Math.PI * (this.arrivals[i]! % FRAME_MS)) / FRAME_MS;
      x += Math.cos(angle);
      y += Math.sin(angle);
    }
    const burstPhase = n > 0 ? ((((Math.atan2(y, x) / (2 * Math.PI)) * FRAME_MS) % FRAME_MS) + FRAME_MS) % FRAME_MS : 0;
    const quietPhase = (burstPhase + FRAME_MS / 2) % FRAME_MS;
    const start = now + ((quietPhase - (now % FRAME_MS) + FRAME_MS) % FRAME_MS);
    this.win = emptyWindow();
    this.win.windowMs = durationMs;
    this.winStart = start;
    this.winEnd = start + durationMs;
    for (const c of this.everyone) {
      c.winFrames = 0;
      c.winGaps = 0;
      c.winMaxGap = 0;
      c.winLast = c.lastRecvAt;
    }
    this.loopDelay.reset();
    this.sendLateness.reset();
    this.cpuBase = process.cpuUsage();
    const cpuFrom = performance.now();
    return new Promise((resolve) => {
      setTimeout(() => {
        const cpu = process.cpuUsage(this.cpuBase);
        this.win.cpuMicros = ((cpu.user + cpu.system) * durationMs) / (performance.now() - cpuFrom);
        setTimeout(() => resolve(this.closeWindow()), settleMs);
      }, this.winEnd - performance.now());
    });
  }

  private closeWindow(): LoadgenWindow {
    const w = this.win;
    // Each sample includes the histogram's own 10 ms interval (see serverProcess.ts).
    const ns = (v: number) => Math.max(0, Math.round(v / 1000) / 1000 - LOOP_RESOLUTION_MS);
    w.eventLoopDelayMs = { p50: ns(this.loopDelay.percentile(50)), p99: ns(this.loopDelay.percentile(99)), max: ns(this.loopDelay.max) };
    const s = this.sendLateness.summary();
    w.sendLatenessMs = { p50: s.p50, p99: s.p99, max: s.max };
    const start = this.winStart;
    const end = this.winEnd;
    for (const c of this.everyone) {
      if (c.startSentAt === 0 || c.startSentAt >= end) continue;
      const until = c.leftAt > 0 ? Math.min(end, c.leftAt) : end;
      // From the window's start, or (joined during it) from its first mix, or its start message.
      const joinedBefore = c.startSentAt < start;
      const from = joinedBefore ? start : c.firstRecvAt > 0 ? c.firstRecvAt : c.startSentAt;
      if (until <= from) continue;
      w.callersActive++;
      if (c.state === State.Streaming) w.callersAtEnd++;
      // Frames a perfect 20 ms stream puts in [from, until): exactly (until - from) / 20 on average
      // over its phase (exact for the whole window, a multiple of 20 ms); a stream that began at
      // `from` has one at from, from + 20, ...
      w.framesExpected += joinedBefore || c.firstRecvAt === 0 ? (until - from) / FRAME_MS : Math.ceil((until - from) / FRAME_MS);
      w.framesReceived += c.winFrames;
      let gaps = c.winGaps;
      let maxGap = c.winMaxGap;
      // Nothing since the last frame until the caller left or the window closed: a gap too.
      const tail = until - (c.winLast > 0 ? Math.max(c.winLast, from) : from);
      if (tail > GAP_MS) gaps++;
      if (tail > maxGap) maxGap = tail;
      w.gapsOver60ms += gaps;
      if (gaps > 0) w.callersWithGaps++;
      if (maxGap > w.maxGapMs) w.maxGapMs = maxGap;
    }
    w.framesReceived = Math.round(w.framesReceived);
    w.framesExpected = Math.round(w.framesExpected);
    w.joinLatencyMs = this.joinLatencies.slice();
    this.winStart = Infinity;
    this.winEnd = -Infinity;
    return w;
  }

  /** Everyone hangs up; resolves when every socket has closed (or after 5 s, terminating the rest). */
  async stop(): Promise<{ hungUp: number; terminated: number }> {
    this.stopping = true;
    if (this.churnTimer) clearTimeout(this.churnTimer);
    if (this.joinTimer) clearTimeout(this.joinTimer);
    this.dialQueue = [];
    let hungUp = 0;
    for (const c of this.everyone) {
      if (c.state === State.Streaming) {
        this.hangUp(c);
        hungUp++;
      }
    }
    if (this.timer) clearTimeout(this.timer);
    const open = () => this.everyone.filter((c) => c.ws && !c.socketClosed);
    const deadline = performance.now() + 5000;
    while (open().length > 0 && performance.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const left = open();
    for (const c of left) c.ws!.terminate();
    return { hungUp, terminated: left.length };
  }
}

/** `promise`, or a rejection with `message` after `ms`. */
function timeLimit<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([promise, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(message)), ms)))]).finally(() =>
    clearTimeout(timer),
  );
}

let generator: LoadGenerator | null = null;

serve({
  start: (config: LoadConfig) => {
    if (generator) throw new Error('already started');
    generator = new LoadGenerator(config);
    return generator.start();
  },
  /** Set-up cost: a round of calls each hung up at its first mix (the first round's config is kept). */
  setupRound: (p: { config: LoadConfig; calls: number }) => {
    generator ??= new LoadGenerator({ ...p.config, hangUpAfterFirstMix: true });
    return generator.setupRound(p.calls);
  },
  window: (p: { durationMs: number; settleMs: number }) => {
    if (!generator) throw new Error('not started');
    return generator.window(p.durationMs, p.settleMs);
  },
  stop: () => generator?.stop() ?? { hungUp: 0, terminated: 0 },
});
