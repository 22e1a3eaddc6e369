/**
 * The Twilio side of one Media Streams WebSocket: sends `connected` and `start` the moment the
 * socket opens, then `media` frames (string sequenceNumber/chunk/timestamp, as Twilio does),
 * `dtmf` and `stop`; records every frame the server sends back with its arrival time, and checks
 * each outbound message is one Twilio would accept (only media/mark/clear, this streamSid, no
 * extra fields).
 */
import { randomBytes } from 'node:crypto';
import WebSocket from 'ws';
import { FRAME_MS, SAMPLES_PER_FRAME } from '../audio/format.js';
import type { Clock } from '../timing/clock.js';
import { monotonicClock } from '../timing/clock.js';

export interface SimulatedStreamOptions {
  url: string;
  callSid: string;
  accountSid?: string;
  streamSid?: string;
  customParameters: Record<string, string>;
  /** Twilio's first media timestamp is not 0 (a real capture: 155 ms). */
  firstTimestampMs?: number;
  clock?: Clock;
  headers?: Record<string, string>;
  /** Send `connected` and `start` on open (default). Off: the caller sends them (fixture replay). */
  autoStart?: boolean;
}

export interface CloseInfo {
  code: number;
  reason: string;
}

export const randomSid = (prefix: string) => prefix + randomBytes(16).toString('hex');

export class SimulatedStream {
  readonly streamSid: string;
  readonly accountSid: string;
  /** Mu-law bytes the server sent, in arrival order, and each media message's arrival time. */
  readonly receivedFrames: Buffer[] = [];
  readonly receivedAtMs: number[] = [];
  /** Send time of each media frame, by chunk index. */
  readonly sentAtMs: number[] = [];
  /** Anything the server sent that Twilio would reject (error 31951 and friends). */
  readonly protocolErrors: string[] = [];
  readonly marks: string[] = [];
  /** Audio queued for playout when each media message arrived (ms): how far ahead the server is. */
  readonly queuedMsAtArrival: number[] = [];
  clearsReceived = 0;
  /** When the audio received so far will have finished playing, like Twilio's playout queue. */
  private playoutEndsAtMs = 0;
  private readonly pendingMarks = new Map<NodeJS.Timeout, string>();
  readonly closed: Promise<CloseInfo>;
  private sequence = 0;
  private chunk = 0;
  private readonly clock: Clock;

  private constructor(
    private readonly ws: WebSocket,
    private readonly options: SimulatedStreamOptions,
  ) {
    this.clock = options.clock ?? monotonicClock;
    this.streamSid = options.streamSid ?? randomSid('MZ');
    this.accountSid = options.accountSid ?? 'AC' + '0'.repeat(32);
    this.closed = new Promise((resolve) =>
      ws.on('close', (code, reason) => {
        for (const timer of this.pendingMarks.keys()) clearTimeout(timer);
        this.pendingMarks.clear();
        resolve({ code, reason: reason.toString() });
      }),
    );
    ws.on('message', (data, isBinary) => this.onMessage(data as Buffer, isBinary));
  }

  /** Opens the socket and sends `connected` and `start` at once. */
  static open(options: SimulatedStreamOptions): Promise<SimulatedStream> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(options.url, { perMessageDeflate: false, headers: { 'user-agent': 'Twilio.TmeWs/1.0', ...options.headers } });
      const stream = new SimulatedStream(ws, options);
      ws.once('open', () => {
        if (options.autoStart !== false) stream.sendConnectedAndStart();
        resolve(stream);
      });
      ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: HTTP ${res.statusCode}`)));
      ws.once('error', reject);
    });
  }

  get isOpen(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  /** All received audio, concatenated. */
  receivedMulaw(): Buffer {
    return Buffer.concat(this.receivedFrames);
  }

  sendRaw(data: string | Buffer): void {
    if (this.isOpen) this.ws.send(data);
  }

  /** One media message; `payload` of any length (Twilio's are 160 bytes). */
  sendMedia(payload: Uint8Array, capturedAtMs = this.clock.nowMs()): void {
    const timestamp = (this.options.firstTimestampMs ?? 155) + Math.round((this.chunk * FRAME_MS * payload.length) / SAMPLES_PER_FRAME);
    this.sentAtMs[this.chunk] = capturedAtMs;
    this.chunk++;
    this.sendRaw(
      JSON.stringify({
        event: 'media',
        sequenceNumber: String(++this.sequence),
        media: { track: 'inbound', chunk: String(this.chunk), timestamp: String(timestamp), payload: Buffer.from(payload).toString('base64') },
        streamSid: this.streamSid,
      }),
    );
  }

  sendDtmf(digit: string): void {
    this.sendRaw(
      JSON.stringify({ event: 'dtmf', streamSid: this.streamSid, sequenceNumber: String(++this.sequence), dtmf: { track: 'inbound_track', digit } }),
    );
  }

  /** Twilio's `stop` (the caller hung up), then the socket closes. */
  async stop(): Promise<CloseInfo> {
    this.sendRaw(
      JSON.stringify({
        event: 'stop',
        sequenceNumber: String(++this.sequence),
        streamSid: this.streamSid,
        stop: { accountSid: this.accountSid, callSid: this.options.callSid },
      }),
    );
    if (this.isOpen) this.ws.close(1000);
    return this.closed;
  }

  /** Drops the connection without a close handshake. */
  terminate(): void {
    this.ws.terminate();
  }

  /**
   * Sends `mulaw` as 20 ms frames on absolute deadlines `startAtMs + i * 20` (catching up at once
   * after a late wake-up, as a real-time sender must), or in bursts every `burstMs`. Resolves
   * after the last frame. The send time recorded for each frame is its nominal deadline's.
   */
  play(mulaw: Uint8Array, startAtMs: number, options: { burstMs?: number } = {}): Promise<void> {
    const frames = Math.ceil(mulaw.length / SAMPLES_PER_FRAME);
    const burstMs = options.burstMs ?? 0;
    // With bursts, a frame is held until the next multiple of burstMs: network jitter as TCP
    // delivers it (late and in bunches, nothing lost).
    const dueMs = (i: number) => (burstMs > 0 ? startAtMs + Math.ceil((i * FRAME_MS) / burstMs) * burstMs : startAtMs + i * FRAME_MS);
    let i = 0;
    return new Promise((resolve) => {
      const step = () => {
        const now = this.clock.nowMs();
        while (i < frames && dueMs(i) <= now) {
          if (!this.isOpen) return resolve();
          const frame = mulaw.subarray(i * SAMPLES_PER_FRAME, (i + 1) * SAMPLES_PER_FRAME);
          this.sendMedia(frame.length === SAMPLES_PER_FRAME ? frame : padFrame(frame), startAtMs + i * FRAME_MS);
          i++;
        }
        if (i >= frames) return resolve();
        setTimeout(step, Math.max(0, dueMs(i) - this.clock.nowMs()));
      };
      step();
    });
  }

  private echoMark(name: string): void {
    this.sendRaw(JSON.stringify({ event: 'mark', sequenceNumber: String(++this.sequence), streamSid: this.streamSid, mark: { name } }));
  }

  private sendConnectedAndStart(): void {
    this.sendRaw(JSON.stringify({ event: 'connected', protocol: 'Call', version: '1.0.0' }));
    this.sendRaw(
      JSON.stringify({
        event: 'start',
        sequenceNumber: String(++this.sequence),
        start: {
          accountSid: this.accountSid,
          streamSid: this.streamSid,
          callSid: this.options.callSid,
          tracks: ['inbound'],
          mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 },
          customParameters: this.options.customParameters,
        },
        streamSid: this.streamSid,
      }),
    );
  }

  private onMessage(data: Buffer, isBinary: boolean): void {
    const at = this.clock.nowMs();
    if (isBinary) return void this.protocolErrors.push('binary frame (Twilio error 31950)');
    let message: Record<string, unknown>;
    try {
      message = JSON.parse(data.toString());
    } catch {
      return void this.protocolErrors.push('not JSON');
    }
    const keys = Object.keys(message).sort().join(',');
    if (message.streamSid !== this.streamSid) this.protocolErrors.push(`streamSid ${String(message.streamSid)} is not this stream's`);
    if (message.event === 'media') {
      const media = message.media as Record<string, unknown> | undefined;
      if (keys !== 'event,media,streamSid' || !media || Object.keys(media).join(',') !== 'payload' || typeof media.payload !== 'string') {
        return void this.protocolErrors.push(`media message with unexpected fields: ${keys}`);
      }
      const payload = Buffer.from(media.payload, 'base64');
      this.receivedFrames.push(payload);
      this.receivedAtMs.push(at);
      this.playoutEndsAtMs = Math.max(at, this.playoutEndsAtMs);
      this.queuedMsAtArrival.push(this.playoutEndsAtMs - at);
      this.playoutEndsAtMs += (payload.length / SAMPLES_PER_FRAME) * FRAME_MS;
    } else if (message.event === 'mark') {
      if (keys !== 'event,mark,streamSid') this.protocolErrors.push(`mark with unexpected fields: ${keys}`);
      const name = String((message.mark as { name?: unknown } | undefined)?.name);
      this.marks.push(name);
      // Twilio echoes a mark once the audio queued before it has played.
      const timer = setTimeout(
        () => {
          this.pendingMarks.delete(timer);
          this.echoMark(name);
        },
        Math.max(0, this.playoutEndsAtMs - at),
      );
      this.pendingMarks.set(timer, name);
    } else if (message.event === 'clear' && keys === 'event,streamSid') {
      // The queue is dropped; its marks are echoed at once.
      this.clearsReceived++;
      this.playoutEndsAtMs = at;
      for (const [timer, name] of this.pendingMarks) {
        clearTimeout(timer);
        this.echoMark(name);
      }
      this.pendingMarks.clear();
    } else {
      this.protocolErrors.push(`unexpected message: ${data.toString().slice(0, 80)}`);
    }
  }
}

function padFrame(frame: Uint8Array): Uint8Array {
  const out = new Uint8Array(SAMPLES_PER_FRAME).fill(0xff);
  out.set(frame);
  return out;
}
