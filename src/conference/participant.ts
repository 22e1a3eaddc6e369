/**
 * A caller in a room, keyed by Twilio's CallSid. Holds the caller's input queue and the per-tick
 * scratch the room's mixer uses; talks to its socket only through `ParticipantTransport`.
 */
import { SAMPLES_PER_FRAME } from '../audio/format.js';
import { InputQueue } from './inputQueue.js';
import { OutboundFrame } from './outboundFrame.js';

/** Why a participant left a room; sent to logs and (later) status callbacks. */
export type LeaveReason = 'hangup' | 'socket-closed' | 'replaced' | 'room-closed' | 'kicked' | 'shutdown' | 'error';

/** What is known of the caller beyond the CallSid (from the webhook, through the join ticket). */
export interface ParticipantInfo {
  /** Seat number in the room (1, 2, 3 ...), when the room assigns seats. */
  seat?: number;
  /** The caller's number as Twilio gave it (`From`); show it masked. */
  from?: string;
}

/** What the room needs from a participant's connection: an adapter (the Media Streams session). */
export interface ParticipantTransport {
  /** Called once per tick with this participant's mix. Must not block or throw. */
  sendFrame(frame: OutboundFrame): void;
  /** The conference is done with this participant (room closed, replaced, shutdown). */
  end(reason: LeaveReason): void;
}

export interface ParticipantStats {
  framesOut: number;
  /** Time from a frame's arrival to the tick that mixed it, summed, for the mean (ms). */
  inputWaitMsTotal: number;
  inputWaitMsMax: number;
  framesMixed: number;
}

export class Participant {
  readonly input: InputQueue;
  readonly stats: ParticipantStats = { framesOut: 0, inputWaitMsTotal: 0, inputWaitMsMax: 0, framesMixed: 0 };
  /** This tick's own frame (lent by the input queue) or null: set and used by Room.tick only. */
  ownFrame: Int16Array | null = null;
  /** Output scratch for a personal mix. */
  readonly mixPcm = new Int16Array(SAMPLES_PER_FRAME);
  readonly personalFrame = new OutboundFrame();
  private readonly popInfo = { arrivalMs: 0, silent: true };
  readonly joinedAtMs: number;
  readonly info: Readonly<ParticipantInfo>;
  /** Not fed into the mix; still hears the room. */
  muted = false;
  /** Neither heard nor hearing: receives silence. */
  onHold = false;
  /** Listening volume relative to the room (dB, 0 = as mixed); set through Conference.setListenVolume. */
  listenVolumeDb = 0;
  /** The same as a linear gain, for the mixer. */
  listenGain = 1;

  constructor(
    readonly callSid: string,
    readonly roomId: string,
    readonly transport: ParticipantTransport,
    options: { inputCapacityFrames?: number; nowMs?: number; info?: ParticipantInfo } = {},
  ) {
    this.input = new InputQueue(options.inputCapacityFrames ?? 5);
    this.joinedAtMs = options.nowMs ?? 0;
    this.info = Object.freeze({ ...options.info });
  }

  /** Takes this tick's frame from the input queue; silent frames, and muted or held callers, feed nothing. */
  takeFrame(nowMs: number): Int16Array | null {
    const frame = this.input.pop(this.popInfo);
    if (frame !== null) {
      const waitMs = nowMs - this.popInfo.arrivalMs;
      this.stats.framesMixed++;
      this.stats.inputWaitMsTotal += waitMs;
      if (waitMs > this.stats.inputWaitMsMax) this.stats.inputWaitMsMax = waitMs;
    }
    this.ownFrame = frame !== null && !this.popInfo.silent && !this.muted && !this.onHold ? frame : null;
    return this.ownFrame;
  }
}
