/**
 * A call as Twilio carries it through a cluster (issue 8) or a restart of one process (issue 16):
 * dialled through the proxy (or straight to the server), its audio
 * sent every 20 ms from one absolute clock whichever stream is open, and, when a stream ends,
 * Twilio's next step: the <Connect action> (the rejoin webhook), a new stream, and so on, until
 * the answer is a goodbye. Records every frame heard (with arrival times) and every stream it had
 * (which node, how it ended).
 */
import { toneDbfs } from '../../src/audio/analysis.js';
import { FRAME_MS, SAMPLE_RATE_HZ, SAMPLES_PER_FRAME } from '../../src/audio/format.js';
import { dialIn, type DialOptions, type DialResult } from '../../src/sim/twimlFollower.js';
import { randomSid, SimulatedStream } from '../../src/sim/simulatedStream.js';
import { fromMulaw } from './audio.js';
import { toneMulaw } from './calls.js';

export interface StreamRecord {
  /** The node prefix in the stream URL (/p/<k>). */
  prefix: string;
  openedAtMs: number;
  closedAtMs: number | null;
  closeCode: number | null;
  /** What the TwiML that opened this stream said first (a seat announcement, or nothing). */
  said: string[];
}

/** How a call is dialled, and the moments a test may hold it back (Twilio being late). */
export interface ClusterCallOptions {
  callSid?: string;
  /** Keyed after the room number (a room with a PIN). */
  pin?: string;
  /** The first request (default: /voice, keying the room number, then the PIN if any). */
  dial?: Pick<DialOptions, 'voicePath' | 'firstParams' | 'keypresses'>;
  /** Awaited before the call asks its <Connect action> when a stream ends. */
  beforeRejoin?: () => Promise<void>;
  /** Awaited before each <Redirect> on the way back (after a rejoin's <Pause>). */
  beforeRedirect?: () => Promise<void>;
}

export class ClusterCall {
  readonly callSid: string;
  readonly streams: StreamRecord[] = [];
  /** Every frame heard, in order, and when (performance.now ms). */
  readonly heard: Buffer[] = [];
  readonly heardAtMs: number[] = [];
  /** The TwiML after the last stream: what the caller was told when it ended. */
  finalSaid: string[] = [];
  /** Resolves when the call is over (a goodbye, or hung up by the test). */
  readonly ended: Promise<void>;
  private current: SimulatedStream | null = null;
  private pacer: NodeJS.Timeout | null = null;
  private over = false;
  private resolveEnded!: () => void;
  private readonly audio: Uint8Array;

  private constructor(
    private readonly proxyUrl: string,
    readonly room: string,
    readonly toneHz: number,
    private readonly options: ClusterCallOptions = {},
  ) {
    this.callSid = options.callSid ?? randomSid('CA');
    this.audio = toneMulaw(toneHz, -20, 1000);
    this.ended = new Promise((resolve) => (this.resolveEnded = resolve));
  }

  /** Dials `room` through the proxy (then keys `options.pin`, when the room asks) and starts talking (a tone) once connected. */
  static async start(proxyUrl: string, room: string, toneHz: number, options: ClusterCallOptions = {}): Promise<ClusterCall> {
    const call = new ClusterCall(proxyUrl, room, toneHz, options);
    const keypresses = options.pin === undefined ? [room] : [room, options.pin];
    const first = await dialIn({ baseUrl: proxyUrl, callSid: call.callSid, keypresses, ...options.dial });
    if (first.kind !== 'stream') throw new Error(`not connected: ${first.said.join(' | ')}`);
    await call.connect(first);
    call.startPacer();
    return call;
  }

  get prefix(): string {
    return this.streams.at(-1)?.prefix ?? '';
  }

  get isOver(): boolean {
    return this.over;
  }

  /** Level (dBFS) of `hz` in what was heard between two times. */
  heardDbfs(hz: number, fromMs: number, toMs: number): number {
    const first = this.heardAtMs.findIndex((t) => t >= fromMs);
    let last = this.heardAtMs.findIndex((t) => t >= toMs);
    if (last < 0) last = this.heardAtMs.length;
    if (first < 0 || last - first < 10) return -Infinity;
    const pcm = fromMulaw(Buffer.concat(this.heard.slice(first, last)));
    return toneDbfs(pcm, hz, SAMPLE_RATE_HZ);
  }

  /**
   * The first time after `fromMs` from which `hz` is heard at -40 dBFS or more in a 200 ms window
   * (10 frames), or null.
   */
  firstHeardAfter(hz: number, fromMs: number): number | null {
    const start = this.heardAtMs.findIndex((t) => t >= fromMs);
    if (start < 0) return null;
    for (let i = start; i + 10 <= this.heard.length; i++) {
      const pcm = fromMulaw(Buffer.concat(this.heard.slice(i, i + 10)));
      if (toneDbfs(pcm, hz, SAMPLE_RATE_HZ) >= -40) return this.heardAtMs[i]!;
    }
    return null;
  }

  /** Keys `digits` on the open stream, 100 ms apart, as a caller's phone sends them. */
  async key(digits: string): Promise<void> {
    for (const digit of digits) {
      this.current?.sendDtmf(digit);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /** The stream's socket drops without a `stop` (a network fault): Twilio then asks the action. */
  dropStream(): void {
    this.current?.terminate();
  }

  /** Hangs up: stops the stream and the rejoining. */
  async hangUp(): Promise<void> {
    this.finish();
    await this.current?.stop().catch(() => {});
  }

  private async connect(dial: Extract<DialResult, { kind: 'stream' }>): Promise<void> {
    const prefix = /\/p\/\d+/.exec(dial.streamUrl)?.[0] ?? '';
    const stream = await SimulatedStream.open({ url: dial.streamUrl, callSid: this.callSid, customParameters: dial.parameters });
    const record: StreamRecord = { prefix, openedAtMs: performance.now(), closedAtMs: null, closeCode: null, said: dial.said };
    this.streams.push(record);
    this.current = stream;
    const count = { n: 0 };
    const take = () => {
      for (; count.n < stream.receivedFrames.length; count.n++) {
        this.heard.push(stream.receivedFrames[count.n]!);
        this.heardAtMs.push(stream.receivedAtMs[count.n]!);
      }
    };
    const poll = setInterval(take, 10);
    void stream.closed.then(async (info) => {
      clearInterval(poll);
      take();
      record.closedAtMs = performance.now();
      record.closeCode = info.code;
      if (this.current === stream) this.current = null;
      if (this.over || !dial.action) return this.finish();
      // Twilio's next step: the <Connect action>.
      try {
        await this.options.beforeRejoin?.();
        const beforeRedirect = this.options.beforeRedirect;
        const next = await dialIn({
          baseUrl: this.proxyUrl,
          callSid: this.callSid,
          voicePath: dial.action,
          ...(beforeRedirect ? { beforeRedirect: () => beforeRedirect() } : {}),
        });
        if (next.kind === 'stream' && !this.over) return await this.connect(next);
        this.finalSaid = next.said;
      } catch (error) {
        this.finalSaid = [`error: ${error instanceof Error ? error.message : String(error)}`];
      }
      this.finish();
    });
  }

  private startPacer(): void {
    const t0 = performance.now();
    let frame = 0;
    const frames = this.audio.length / SAMPLES_PER_FRAME;
    const step = () => {
      if (this.over) return;
      const now = performance.now();
      // Absolute deadlines: a late wake-up sends what is due, never drifts.
      while (t0 + frame * FRAME_MS <= now) {
        const i = frame % frames;
        this.current?.sendMedia(this.audio.subarray(i * SAMPLES_PER_FRAME, (i + 1) * SAMPLES_PER_FRAME));
        frame++;
      }
      this.pacer = setTimeout(step, Math.max(1, t0 + frame * FRAME_MS - performance.now()));
    };
    step();
  }

  private finish(): void {
    if (this.over) return;
    this.over = true;
    if (this.pacer) clearTimeout(this.pacer);
    this.resolveEnded();
  }
}
