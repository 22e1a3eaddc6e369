/**
 * Drives the conference core by hand, as the 20 ms clock would: before each tick every caller with
 * a signal pushes its next frame (mu-law, as from Twilio), then the conference ticks, and every
 * caller's output is decoded and kept. Sent frame k and heard frame k line up (no lag).
 */
import { SAMPLES_PER_FRAME } from '../../src/audio/format.js';
import { decodeMulaw, encodeMulaw } from '../../src/audio/mulaw.js';
import { Conference, type ConferenceOptions } from '../../src/conference/conference.js';
import type { OutboundFrame } from '../../src/conference/outboundFrame.js';
import type { LeaveReason, Participant, ParticipantInfo, ParticipantTransport } from '../../src/conference/participant.js';

export class Caller implements ParticipantTransport {
  readonly heardFrames: Int16Array[] = [];
  readonly sentFrames: Int16Array[] = [];
  participant!: Participant;
  ended: LeaveReason | null = null;
  /** Samples still to send (8 kHz PCM); null: sends nothing. */
  signal: Int16Array | null = null;
  private position = 0;
  constructor(readonly callSid: string) {}

  sendFrame(frame: OutboundFrame): void {
    const pcm = new Int16Array(SAMPLES_PER_FRAME);
    decodeMulaw(frame.mulaw, pcm);
    this.heardFrames.push(pcm);
  }
  end(reason: LeaveReason): void {
    this.ended = reason;
  }
  /** Sends from this signal on, from its start. */
  say(signal: Int16Array | null): void {
    this.signal = signal;
    this.position = 0;
  }
  nextFrame(): Uint8Array | null {
    if (!this.signal) return null;
    const pcm = new Int16Array(SAMPLES_PER_FRAME);
    pcm.set(this.signal.subarray(this.position, this.position + SAMPLES_PER_FRAME));
    this.position += SAMPLES_PER_FRAME;
    const mulaw = new Uint8Array(SAMPLES_PER_FRAME);
    encodeMulaw(pcm, mulaw);
    const decoded = new Int16Array(SAMPLES_PER_FRAME);
    decodeMulaw(mulaw, decoded);
    this.sentFrames.push(decoded);
    return mulaw;
  }
  heard(fromFrame = 0, toFrame = this.heardFrames.length): Int16Array {
    return concat(this.heardFrames.slice(fromFrame, toFrame));
  }
  sent(fromFrame = 0, toFrame = this.sentFrames.length): Int16Array {
    return concat(this.sentFrames.slice(fromFrame, toFrame));
  }
}

export class MixerHarness {
  readonly conference: Conference;
  readonly callers: Caller[] = [];
  nowMs = 0;
  ticks = 0;
  constructor(options: Partial<ConferenceOptions> = {}) {
    this.conference = new Conference({ echoWhenAlone: false, ...options });
  }

  join(callSid: string, room = '1', signal: Int16Array | null = null, info: ParticipantInfo = {}): Caller {
    const caller = new Caller(callSid);
    caller.participant = this.conference.join(room, callSid, caller, this.nowMs, info);
    caller.say(signal);
    this.callers.push(caller);
    return caller;
  }

  /** The caller's stream ends (default: Twilio's stop, a hang-up). */
  leave(caller: Caller, reason: LeaveReason = 'hangup'): void {
    this.conference.leave(caller.participant, reason);
    this.callers.splice(this.callers.indexOf(caller), 1);
  }

  /** Runs `ticks` ticks; `each(tickIndex)` runs before each tick's pushes. */
  run(ticks: number, each?: (tick: number) => void): void {
    for (let i = 0; i < ticks; i++) {
      each?.(this.ticks);
      for (const c of this.callers) {
        const frame = c.nextFrame();
        if (frame) c.participant.input.pushMulaw(frame, this.nowMs);
      }
      this.nowMs += 20;
      this.conference.tick(this.nowMs);
      this.ticks++;
    }
  }
}

function concat(frames: Int16Array[]): Int16Array {
  const out = new Int16Array(frames.length * SAMPLES_PER_FRAME);
  frames.forEach((f, i) => out.set(f, i * SAMPLES_PER_FRAME));
  return out;
}
