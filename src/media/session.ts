/**
 * One Twilio Media Streams WebSocket: the protocol state machine between the socket and the
 * conference. It parses and validates every message, binds the stream to a participant on
 * `start`, reframes inbound audio to 20 ms, and sends the participant's mix each tick.
 *
 * It sees the socket only through `MediaSocket` (no ws import), so tests can drive it directly.
 * Any protocol violation closes this socket with the code from the error table and one log line;
 * no other caller notices.
 */
import { FRAME_MS, SAMPLES_PER_FRAME, type StreamFormat } from '../audio/format.js';
import type { Conference } from '../conference/conference.js';
import { LEAVE_REASONS } from '../conference/leaveReason.js';
import type { LeaveReason, Participant, ParticipantInfo, ParticipantTransport } from '../conference/participant.js';
import type { OutboundFrame } from '../conference/outboundFrame.js';
import { isValidRoomNumber } from '../rooms/roomNumber.js';
import { AppError, ERRORS, WS_NORMAL_CLOSE, type StreamErrorCode } from '../errors.js';
import type { Logger } from '../log.js';
import { backgroundTimers, type Clock, type Timers } from '../timing/clock.js';
import {
  decodeBase64Bytes,
  MEDIA_SUFFIX,
  OutboundMessages,
  parseTwilioMessage,
  scanMediaBytes,
  type MediaFields,
  type MediaMessage,
  type StartMessage,
} from './messages.js';
import { PcmStream } from './pcmStream.js';
import { Reframer } from './reframer.js';
import { TextFrameTemplate } from './wsFrame.js';

/** The part of a WebSocket the session uses. */
export interface MediaSocket {
  send(text: string): void;
  /** Two messages in one write, where the socket can (default: two sends). */
  sendPair?(first: string, second: string): void;
  /**
   * One whole prebuilt WebSocket frame (wsFrame.ts) in one write. 'released': written through, the
   * caller may refill `frame`; 'held': sent, but the socket keeps `frame` until it drains;
   * 'refused': not sent (no raw socket, or not open): use send(). Optional.
   */
  writeFrame?(frame: Buffer): 'released' | 'held' | 'refused';
  close(code: number, reason: string): void;
  /** Drops the connection without a close handshake (a peer that does not read). Optional. */
  terminate?(): void;
  readonly bufferedAmount: number;
}

/** What a `start` claims, for the authorizer to judge. */
export interface StartClaim {
  callSid: string;
  streamSid: string;
  accountSid: string;
  customParameters: Readonly<Record<string, string>>;
  /** The audio its mediaFormat declares. */
  format: StreamFormat;
}

/**
 * The format a `start`'s mediaFormat declares, or null for one not spoken here: Twilio's mu-law,
 * or a program's raw 16-bit little-endian PCM (`audio/L16`) at 8 or 16 kHz, mono.
 */
export function streamFormatOf(mediaFormat: { encoding: string; sampleRate: number; channels: number }): StreamFormat | null {
  const { encoding, sampleRate, channels } = mediaFormat;
  if (channels !== 1) return null;
  if (encoding === 'audio/x-mulaw' && sampleRate === 8000) return 'mulaw';
  if (encoding === 'audio/L16' && sampleRate === 8000) return 'pcm16-8k';
  if (encoding === 'audio/L16' && sampleRate === 16000) return 'pcm16-16k';
  return null;
}

/** The authorizer's verdict: the room to join (and what is known of the caller), or a refusal. */
export type StartAuthorization = { ok: true; roomId: string; info?: ParticipantInfo } | { ok: false; code: StreamErrorCode; detail: string };

/**
 * The default authorizer: the room named by the `room` parameter, for anyone. The join-ticket
 * check replaces it where rooms must be entered through the webhook.
 */
export function roomParameterAuthorizer(roomNumberMaxDigits: number): (claim: StartClaim) => StartAuthorization {
  return (claim) => {
    if (claim.format !== 'mulaw') return { ok: false, code: 'UNSUPPORTED_FORMAT', detail: `${claim.format} needs a program ticket` };
    const room = claim.customParameters['room'];
    if (!isValidRoomNumber(room, roomNumberMaxDigits)) return { ok: false, code: 'NO_ROOM', detail: JSON.stringify(room ?? null).slice(0, 40) };
    return { ok: true, roomId: room };
  };
}

export interface MediaSessionOptions {
  conference: Conference;
  clock: Clock;
  /**
   * Since when (clock ms) this process's event loop has been busy without a pause, or null when
   * it was idle a moment ago: a frame read now may have arrived any time since (jitterBuffer.ts).
   */
  busySinceMs?: () => number | null;
  log: Logger;
  /** Decides which room a `start` joins, or refuses it. Synchronous: no await before joining. */
  authorizeStart: (claim: StartClaim) => StartAuthorization;
  /** Socket closed when no valid `start` arrives within this time. */
  startTimeoutMs: number;
  /** Runs the start timeout (default: node's, unref'd); tests pass a ManualClock. */
  timers?: Timers;
  /** Outbound frames are dropped for this caller while its socket holds more unsent bytes. */
  maxBufferedBytes: number;
  /** Largest accepted media payload, in decoded bytes. */
  maxPayloadBytes: number;
  /** A mark goes out every this many frames, to measure what Twilio has queued (default 25). */
  markIntervalFrames?: number;
  /** When more than this is queued at Twilio (a stall flushed), send `clear` (default 500 ms). */
  maxLeadMs?: number;
  /**
   * Inbound message budget, so one socket cannot flood the loop: a bucket of `messageBurst` messages refilled at
   * `messagesPerSecond`. Twilio sends ~50 media messages a second plus marks; a backlog after a
   * network stall arrives at once. Past the budget: closed with 1008. Defaults 150/s, 500.
   */
  messagesPerSecond?: number;
  messageBurst?: number;
  /** Outbound frames dropped in a row (socket not draining) before the socket is dropped (default 250: 5 s). */
  maxStalledFrames?: number;
  /**
   * 20 ms frames per outbound media message: 1 (default) or 2. At 2 every other tick's mix is held
   * back and goes out with the next one: half the socket writes (Twilio plays any multiple of 20 ms
   * in order), everything 20 ms later at the ear.
   */
  framesPerMessage?: 1 | 2;
}

/**
 * Defaults of the inbound message budget: 3x Twilio's rate, and a 10 s backlog at once (the input
 * buffer keeps only 0.5 s of it anyway). Measured (test/integration/wsBadInput.serial.test.ts): a flood
 * of 10,000 messages a second is closed after ~0.05 s, and the room beside it keeps mixing.
 */
export const DEFAULT_MESSAGES_PER_SECOND = 150;
export const DEFAULT_MESSAGE_BURST = 500;

export interface MediaSessionStats {
  messagesIn: number;
  framesSent: number;
  /** Outbound frames not sent because this socket was not draining. */
  framesDroppedSlowSocket: number;
  dtmf: number;
  /** Audio queued at Twilio ahead of the caller's ear, as the last mark measured (ms). */
  leadMs: number;
  maxLeadMs: number;
  marksEchoed: number;
  /** `clear` messages sent to drop a queue that had grown past maxLeadMs. */
  clears: number;
  /** Largest socket bufferedAmount seen when sending (bytes): bounded by maxBufferedBytes + a frame. */
  maxBufferedBytes: number;
}

/** Marks the session sends to measure Twilio's queue are named with this prefix. */
export const LEAD_MARK_PREFIX = 'lead-';

type State = 'awaiting-start' | 'streaming' | 'ended';

export class MediaSession implements ParticipantTransport {
  private state: State = 'awaiting-start';
  private participant: Participant | null = null;
  private streamSid: string | null = null;
  private outbound: OutboundMessages | null = null;
  private reframer: Reframer | null = null;
  /** A program's raw PCM (audio/L16) in and out; null: mu-law, as every phone. */
  private pcm: PcmStream | null = null;
  /** options.maxBufferedBytes, scaled to this stream's message size (PCM is 2 or 4 times mu-law). */
  private maxBufferedBytes: number;
  private readonly payload: Buffer;
  private readonly timers: Timers;
  private startTimer: unknown;
  private log: Logger;
  private sawStop = false;
  readonly stats: MediaSessionStats = {
    messagesIn: 0,
    framesSent: 0,
    framesDroppedSlowSocket: 0,
    dtmf: 0,
    leadMs: 0,
    maxLeadMs: 0,
    marksEchoed: 0,
    clears: 0,
    maxBufferedBytes: 0,
  };
  /** Inbound message budget: tokens left and when they were last refilled (clock ms). */
  private tokens: number;
  private tokensAtMs: number;
  /** Outbound frames dropped in a row because the socket was not draining. */
  private stalledFrames = 0;
  private loggedDiscontinuity = false;
  /** Frames sent when the last clear went out: marks from before it say nothing about the queue. */
  private clearedAtFrame = -1;
  /** Where the fields of the last media message read from bytes were (handleTextBytes). */
  private readonly fields: MediaFields = { timestampMs: 0, payloadStart: 0, payloadEnd: 0, streamSidStart: 0, streamSidEnd: 0 };
  /** Longest base64 payload accepted (maxPayloadBytes decoded). */
  private readonly maxPayloadChars: number;
  /** The first 20 ms of `payload`: a payload of exactly one frame is handed on as this view. */
  private readonly payloadFrame: Buffer;
  /** Mu-law of the frames held back to go out in one message (framesPerMessage 2), and how many. */
  private readonly held: Buffer | null;
  private heldFrames = 0;
  /** This stream's media message as one reusable WebSocket frame (null: messages built as text). */
  private mediaFrame: TextFrameTemplate | null = null;

  constructor(
    private readonly socket: MediaSocket,
    private readonly options: MediaSessionOptions,
  ) {
    this.log = options.log;
    this.maxBufferedBytes = options.maxBufferedBytes;
    this.tokens = options.messageBurst ?? DEFAULT_MESSAGE_BURST;
    this.tokensAtMs = options.clock.nowMs();
    // Decoded payloads land here: no allocation per message. +3 for base64 rounding.
    this.payload = Buffer.allocUnsafeSlow(options.maxPayloadBytes + 3);
    this.maxPayloadChars = Math.ceil(options.maxPayloadBytes / 3) * 4;
    this.payloadFrame = this.payload.subarray(0, SAMPLES_PER_FRAME);
    this.held = options.framesPerMessage === 2 ? Buffer.allocUnsafeSlow(2 * SAMPLES_PER_FRAME) : null;
    this.timers = options.timers ?? backgroundTimers;
    this.startTimer = this.timers.setTimeout(() => this.fail('START_TIMEOUT', `${options.startTimeoutMs} ms`), options.startTimeoutMs);
  }

  get callSid(): string | null {
    return this.participant?.callSid ?? null;
  }

  /**
   * A text message's ASCII bytes, `bytes[0, length)` (the endpoint's own frame parser, wsInbound.ts;
   * read before returning). A media message in Twilio's own layout is taken from the bytes as they
   * are; anything else goes through handleText, which judges it as it always has.
   */
  handleTextBytes(bytes: Buffer, length: number): void {
    if (this.state === 'streaming' && scanMediaBytes(bytes, length, this.fields)) {
      const f = this.fields;
      const chars = f.payloadEnd - f.payloadStart;
      if (chars > 0 && chars <= this.maxPayloadChars && this.isOwnStreamSid(bytes, f.streamSidStart, f.streamSidEnd)) {
        const written = decodeBase64Bytes(bytes, f.payloadStart, f.payloadEnd, this.payload);
        if (written > 0) {
          this.stats.messagesIn++;
          if (!this.takeToken()) return;
          return this.acceptPayload(written, f.timestampMs);
        }
      }
    }
    this.handleText(bytes.toString('latin1', 0, length));
  }

  /** A text frame from the socket. */
  handleText(text: string): void {
    if (this.state === 'ended') return;
    this.stats.messagesIn++;
    if (!this.takeToken()) return;
    const parsed = parseTwilioMessage(text);
    if (!parsed.ok) return this.fail('BAD_MESSAGE', parsed.reason);
    const message = parsed.message;
    switch (message.event) {
      case 'connected':
        return;
      case 'start':
        return this.onStart(message);
      case 'media':
        return this.onMedia(message);
      case 'dtmf':
        if (!this.checkStream(message.streamSid)) return;
        this.stats.dtmf++;
        this.log.debug({ digit: message.dtmf.digit }, 'dtmf');
        this.options.conference.keypress(this.participant!, message.dtmf.digit);
        return;
      case 'mark':
        if (!this.checkStream(message.streamSid)) return;
        this.onMark(message.mark.name);
        return;
      case 'stop':
        if (!this.checkStream(message.streamSid)) return;
        this.sawStop = true;
        this.finish('hangup', WS_NORMAL_CLOSE, 'stream stopped');
        return;
      default: {
        const never: never = message;
        return never;
      }
    }
  }

  /** A binary frame: Twilio never sends one. */
  handleBinary(): void {
    if (this.state === 'ended') return;
    this.fail('BINARY_FRAME');
  }

  /**
   * The socket layer refused something before the session saw it (ws's maxPayload: ws closes with
   * 1009 itself), or the peer is gone (heartbeat). Logged once here; `drop` entries terminate.
   */
  handleSocketFault(code: 'MESSAGE_TOO_BIG' | 'HEARTBEAT_TIMEOUT', detail?: string): void {
    this.fail(code, detail);
  }

  /** One message from the budget; false (and the session failed) when it is spent. */
  private takeToken(): boolean {
    const now = this.options.clock.nowMs();
    const rate = this.options.messagesPerSecond ?? DEFAULT_MESSAGES_PER_SECOND;
    const burst = this.options.messageBurst ?? DEFAULT_MESSAGE_BURST;
    this.tokens = Math.min(burst, this.tokens + ((now - this.tokensAtMs) * rate) / 1000);
    this.tokensAtMs = now;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return true;
    }
    this.fail('RATE_LIMITED', `over ${burst} messages at once or ${rate} a second`);
    return false;
  }

  /** The socket closed (either side). */
  handleClose(code: number): void {
    if (this.state === 'ended') return;
    this.log.info({ code }, this.participant ? 'stream socket closed' : 'socket closed before start');
    this.finish(this.sawStop ? 'hangup' : 'socket-closed', null, '');
  }

  /** ParticipantTransport: this tick's mix for this caller. */
  sendFrame(frame: OutboundFrame): void {
    if (this.state !== 'streaming') return;
    let payload: string;
    let frames = 1;
    const held = this.held;
    if (this.pcm !== null) {
      // A program that takes PCM: the mix before mu-law, at its rate, one frame a message.
      payload = this.pcm.encode(frame.pcm);
    } else if (held !== null) {
      // Two frames in one message: the first is held until the second.
      frame.mulaw.copy(held, this.heldFrames * SAMPLES_PER_FRAME);
      frames = ++this.heldFrames;
      if (frames < 2) return;
      this.heldFrames = 0;
      payload = held.toString('base64');
    } else {
      payload = frame.base64();
    }
    const buffered = this.socket.bufferedAmount;
    if (buffered > this.stats.maxBufferedBytes) this.stats.maxBufferedBytes = buffered;
    if (buffered > this.maxBufferedBytes) {
      this.stats.framesDroppedSlowSocket += frames;
      // Memory stays bounded either way (nothing is queued); a peer that never drains is dropped.
      this.stalledFrames += frames;
      if (this.stalledFrames >= (this.options.maxStalledFrames ?? 250))
        this.fail('SLOW_CONSUMER', `${this.stalledFrames} frames not sent, ${buffered} bytes unsent`);
      return;
    }
    this.stalledFrames = 0;
    const sentBefore = this.stats.framesSent;
    this.stats.framesSent += frames;
    const markEvery = this.options.markIntervalFrames ?? 25;
    if (Math.floor(this.stats.framesSent / markEvery) > Math.floor(sentBefore / markEvery)) {
      // Echoed when everything before it has been played (or cleared): what is queued behind it
      // at that moment is how far ahead of the caller's ear we are. In the same write as the media.
      const media = this.outbound!.media(payload);
      const mark = this.outbound!.mark(LEAD_MARK_PREFIX + this.stats.framesSent);
      if (this.socket.sendPair) this.socket.sendPair(media, mark);
      else {
        this.socket.send(media);
        this.socket.send(mark);
      }
    } else {
      const template = this.mediaFrame;
      const bytes = template !== null ? template.fill(payload) : null;
      const written = bytes !== null ? this.socket.writeFrame!(bytes) : 'refused';
      if (written === 'held') template!.release();
      else if (written === 'refused') this.socket.send(this.outbound!.media(payload));
    }
  }

  /** A mark came back: all audio sent before it has been played (or was cleared). */
  private onMark(name: string): void {
    if (!name.startsWith(LEAD_MARK_PREFIX)) return;
    const sentAt = Number(name.slice(LEAD_MARK_PREFIX.length));
    if (!Number.isInteger(sentAt) || sentAt > this.stats.framesSent) return;
    this.stats.marksEchoed++;
    if (sentAt <= this.clearedAtFrame) return;
    const leadMs = (this.stats.framesSent - sentAt) * FRAME_MS;
    this.stats.leadMs = leadMs;
    if (leadMs > this.stats.maxLeadMs) this.stats.maxLeadMs = leadMs;
    if (leadMs > (this.options.maxLeadMs ?? 500)) {
      // A stall's backlog reached Twilio at once: drop it rather than keep the caller late.
      // State first: Twilio echoes the marks the clear discards, possibly before send() returns.
      this.clearedAtFrame = this.stats.framesSent;
      this.stats.clears++;
      this.log.info({ leadMs }, 'outbound audio queued too far ahead at Twilio; sent clear');
      this.socket.send(this.outbound!.clear());
    }
  }

  /** ParticipantTransport: the conference has let go of this caller. */
  end(reason: LeaveReason): void {
    if (this.state === 'ended') return;
    const close = LEAVE_REASONS[reason].close;
    this.participant = null; // the conference already removed it
    this.finish(reason, close && ERRORS[close].wsCode, close ? ERRORS[close].text : '');
  }

  private onStart(message: StartMessage): void {
    if (this.state !== 'awaiting-start') return this.fail('PROTOCOL', 'second start');
    const { start } = message;
    if (start.streamSid !== message.streamSid) return this.fail('PROTOCOL', 'start.streamSid differs from streamSid');
    const declared = start.mediaFormat;
    const format = streamFormatOf(declared);
    if (format === null) return this.fail('UNSUPPORTED_FORMAT', `${declared.encoding} ${declared.sampleRate} Hz ${declared.channels} ch`);
    const verdict = this.options.authorizeStart({
      callSid: start.callSid,
      streamSid: message.streamSid,
      accountSid: start.accountSid,
      customParameters: start.customParameters,
      format,
    });
    if (!verdict.ok) return this.fail(verdict.code, verdict.detail);
    const room = verdict.roomId;

    if (this.startTimer !== null) this.timers.clearTimeout(this.startTimer);
    this.startTimer = null;
    this.streamSid = message.streamSid;
    this.outbound = new OutboundMessages(message.streamSid);
    const { clock, busySinceMs } = this.options;
    if (format !== 'mulaw') {
      this.pcm = new PcmStream(format, (frame8k) => {
        const now = clock.nowMs();
        const since = busySinceMs?.() ?? null;
        this.participant?.input.pushPcm(frame8k, now, since === null || since > now ? now : since);
      });
    }
    // The same time's worth of unsent audio before frames are dropped, whatever the format.
    if (this.pcm !== null) this.maxBufferedBytes = (this.options.maxBufferedBytes * 2 * this.pcm.wireSamplesPerFrame) / SAMPLES_PER_FRAME;
    const bytesPerMessage = this.pcm !== null ? 2 * this.pcm.wireSamplesPerFrame : (this.held === null ? 1 : 2) * SAMPLES_PER_FRAME;
    this.mediaFrame = this.socket.writeFrame ? TextFrameTemplate.of(this.outbound.mediaPrefix, MEDIA_SUFFIX, Math.ceil(bytesPerMessage / 3) * 4) : null;
    this.log = this.log.child({ callSid: start.callSid, streamSid: message.streamSid, room, seat: verdict.info?.seat });
    this.state = 'streaming';
    const participant = this.options.conference.join(room, start.callSid, this, this.options.clock.nowMs(), verdict.info);
    this.participant = participant;
    this.reframer = new Reframer((frame) => {
      const now = clock.nowMs();
      const since = busySinceMs?.() ?? null;
      participant.input.pushMulaw(frame, now, since === null || since > now ? now : since);
    });
    this.log.info({ participants: this.options.conference.room(room)?.size, ...(format !== 'mulaw' ? { format } : {}) }, 'stream started');
  }

  private onMedia(message: MediaMessage): void {
    if (this.state !== 'streaming') return this.fail('PROTOCOL', 'media before start');
    if (!this.checkStream(message.streamSid)) return;
    const text = message.media.payload;
    const maxChars = Math.ceil(this.options.maxPayloadBytes / 3) * 4;
    if (text.length === 0 || text.length > maxChars || text.length % 4 !== 0) {
      return this.fail('BAD_PAYLOAD', `base64 length ${text.length}`);
    }
    const padding = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0;
    const expected = (text.length / 4) * 3 - padding;
    // Node skips characters outside the alphabet: a short count means the text was not base64.
    const written = this.payload.write(text, 0, 'base64');
    if (written !== expected) return this.fail('BAD_PAYLOAD', 'invalid base64');
    this.acceptPayload(written, Number(message.media.timestamp));
  }

  /** `written` bytes of mu-law decoded into this.payload, stamped `timestampMs` by Twilio. */
  private acceptPayload(written: number, timestampMs: number): void {
    if (this.pcm !== null) {
      if (!this.pcm.push(this.payload, written)) this.fail('BAD_PAYLOAD', `L16 payload of ${written} bytes: not whole 16-bit samples`);
      return;
    }
    // Any length is accepted (an odd one too: the payload is bytes of mu-law, one per sample).
    const reframer = this.reframer!;
    const before = reframer.stats.discontinuities;
    reframer.push(written === SAMPLES_PER_FRAME ? this.payloadFrame : this.payload, timestampMs, written);
    if (reframer.stats.discontinuities !== before && !this.loggedDiscontinuity) {
      // Once per stream (the count is in "stream ended"): a timestamp that went backwards or jumped
      // ahead is not filled; the audio is kept in arrival order.
      this.loggedDiscontinuity = true;
      this.log.info({ timestamp: String(timestampMs) }, 'media timestamp discontinuity (backwards or a jump ahead); audio kept in order, gap not filled');
    }
  }

  /** Do `bytes[start, end)` spell this stream's streamSid? */
  private isOwnStreamSid(bytes: Uint8Array, start: number, end: number): boolean {
    const sid = this.streamSid!;
    if (end - start !== sid.length) return false;
    for (let i = 0; i < sid.length; i++) if (bytes[start + i] !== sid.charCodeAt(i)) return false;
    return true;
  }

  /** True when the message belongs to this stream; otherwise fails the session. */
  private checkStream(streamSid: string): boolean {
    if (this.state !== 'streaming') {
      this.fail('PROTOCOL', 'message before start');
      return false;
    }
    if (streamSid !== this.streamSid) {
      this.fail('PROTOCOL', 'streamSid of another stream');
      return false;
    }
    return true;
  }

  private fail(code: StreamErrorCode, detail?: string): void {
    if (this.state === 'ended') return;
    const entry: { wsCode: number; text: string; drop?: boolean } = ERRORS[code];
    this.log.warn({ code, wsCode: entry.wsCode }, `closing stream: ${new AppError(code, detail).message}`);
    // 1006 cannot be sent: it is what the peer sees when the socket is dropped.
    this.finish('error', entry.wsCode === 1006 ? null : entry.wsCode, entry.text);
    if (entry.drop) this.socket.terminate?.();
  }

  /** Leaves the conference (if joined) and closes the socket (if `wsCode` is given). Once. */
  private finish(reason: LeaveReason, wsCode: number | null, wsReason: string): void {
    if (this.state === 'ended') return;
    this.state = 'ended';
    if (this.startTimer !== null) this.timers.clearTimeout(this.startTimer);
    this.startTimer = null;
    const participant = this.participant;
    this.participant = null;
    if (participant) {
      this.options.conference.leave(participant, reason);
      const q = participant.input.stats;
      this.log.info(
        {
          reason,
          framesIn: q.framesIn,
          framesOut: this.stats.framesSent,
          underruns: q.underruns,
          concealed: q.concealed,
          overflowDrops: q.overflowDrops,
          driftDrops: q.driftDrops,
          jitterMs: q.jitterMs,
          maxLeadMs: this.stats.maxLeadMs,
          clears: this.stats.clears,
          slowSocketDrops: this.stats.framesDroppedSlowSocket,
          gapFillSamples: this.reframer?.stats.gapFillSamples ?? 0,
          discontinuities: this.reframer?.stats.discontinuities ?? 0,
          meanInputWaitMs: participant.stats.framesMixed ? +(participant.stats.inputWaitMsTotal / participant.stats.framesMixed).toFixed(2) : null,
        },
        'stream ended',
      );
    }
    if (wsCode !== null) this.socket.close(wsCode, wsReason);
  }
}
