/**
 * A caller in a room, keyed by Twilio's CallSid. Each tick the room asks it for its contribution:
 * the next frame from its jitter buffer, optionally through noise suppression (a room setting),
 * through talk detection, ramped in or out of the mix (10 ms, no clicks) and optionally levelled by
 * AGC. What it adds to the room sum is kept (`ownFrame`) so its own mix can subtract exactly that.
 * It talks to its socket only through `ParticipantTransport`.
 */
import { Agc } from '../audio/agc.js';
import { clip16, SAMPLES_PER_FRAME, type StreamFormat } from '../audio/format.js';
import { NoiseSuppressor } from '../audio/noiseSuppressor.js';
import { TalkDetector, type TalkDetectorOptions } from '../audio/talkDetector.js';
import { JitterBuffer, type JitterBufferOptions, type PopKind } from './jitterBuffer.js';
import type { LeaveReason } from './leaveReason.js';
import { OutboundFrame } from './outboundFrame.js';

export type { LeaveReason };

/** What is known of the caller beyond the CallSid (from the webhook, through the join ticket). */
export interface ParticipantInfo {
  /** Seat number in the room (1, 2, 3 ...), when the room assigns seats. */
  seat?: number;
  /** The caller's number as Twilio gave it (`From`); show it masked. */
  from?: string;
  /**
   * A moderator (issue 17; Twilio's startConferenceOnEnter / ConfBridge's marked user): admitted
   * with the room's moderator PIN, or dialled out as one. Starts a room that waits for a moderator,
   * may mute others, and its leaving ends a room set to end when the moderator leaves.
   */
  moderator?: boolean;
  /** A name to show for the participant (Twilio's Participant `label`). */
  label?: string;
  /** The call was in the room before (its stream dropped, or the server restarted): no join beep. */
  rejoined?: boolean;
  /** What the call had set before it rejoined (a restart keeps it); applied as it joins. */
  state?: CallState;
  /** A program (an agent, a recorder, an announcer) admitted with an admin-issued ticket. */
  program?: ProgramRole;
}

/**
 * What an administrator's program ticket says (POST /api/rooms/:id/programs): how the program's
 * audio travels, and whether it is heard. A listener is muted for good (its own keys, the API and
 * a moderator's unmute cannot change that): it only hears the room.
 */
export interface ProgramRole {
  role: 'talker' | 'listener';
  format: StreamFormat;
}

/** What a caller (or an administrator) set for a call, kept when the call rejoins its room. */
export interface CallState {
  muted: boolean;
  /** Muted by a moderator or the API (or startMuted): the caller's own *6 cannot undo it. */
  hardMuted?: boolean;
  onHold: boolean;
  /** Listening volume, dB relative to the room's mix. */
  listenVolumeDb: number;
  /** The CallSid this call coached when it left (restored once both calls are back: src/rooms/coachingRejoins.ts). */
  coaching?: string;
  /**
   * The calls that coached this one when it left (they stayed), each with its mute as it was before
   * the leave muted it: restored with the coaching when this call is back.
   */
  coaches?: CoachKept[];
}

/** A coach of a call that left, and its mute before the leave muted it. */
export interface CoachKept {
  callSid: string;
  muted: boolean;
  hardMuted?: boolean;
}

/** What the room needs from a participant's connection: an adapter (the Media Streams session). */
export interface ParticipantTransport {
  /** Called once per tick with this participant's mix. Must not block or throw. */
  sendFrame(frame: OutboundFrame): void;
  /** The conference is done with this participant (room closed, replaced, shutdown). */
  end(reason: LeaveReason): void;
}

export interface ParticipantOptions {
  nowMs?: number;
  info?: ParticipantInfo;
  jitter?: JitterBufferOptions;
  talk?: TalkDetectorOptions;
  /** Level quiet lines (off unless given). */
  agc?: boolean;
}

export interface ParticipantStats {
  framesOut: number;
  /** Time from a frame's arrival to the tick that mixed it, summed, for the mean (ms). */
  inputWaitMsTotal: number;
  inputWaitMsMax: number;
  framesMixed: number;
  /** Ticks at which this caller fed the mix. */
  framesFed: number;
}

/** Ramp length for entering or leaving the mix: 10 ms. */
export const RAMP_SAMPLES = 80;

export class Participant {
  readonly input: JitterBuffer;
  readonly talk: TalkDetector;
  readonly agc: Agc | null;
  readonly stats: ParticipantStats = { framesOut: 0, inputWaitMsTotal: 0, inputWaitMsMax: 0, framesMixed: 0, framesFed: 0 };
  /** This tick's decoded input (after the jitter buffer). */
  readonly inputPcm = new Int16Array(SAMPLES_PER_FRAME);
  /** What this caller added to the room sum this tick, or null: set by contribute(). */
  ownFrame: Int16Array | null = null;
  /** Set by prepare(): this caller has something to feed (gate open, not muted, not held). */
  wantsToFeed = false;
  /** Output scratch for a personal mix. */
  readonly mixPcm = new Int16Array(SAMPLES_PER_FRAME);
  readonly personalFrame = new OutboundFrame();
  /** The frame the room's last mix() made for this listener, until send() hands it over. */
  outbound: OutboundFrame | null = null;
  readonly joinedAtMs: number;
  readonly info: Readonly<ParticipantInfo>;
  /** Not fed into the mix; still hears the room. */
  muted = false;
  /**
   * Muted by a moderator or the API (a hard mute, or startMuted): the caller's own *6 cannot undo
   * it; only a moderator or the API unmutes. False when the caller muted themselves.
   */
  hardMuted = false;
  /** Not heard; hears the room's hold music (or silence) instead of the room. */
  onHold = false;
  /** A listener program: never fed into the mix, whatever `muted` says. */
  readonly listenOnly: boolean;
  /** The CallSid this caller coaches (only that caller hears it), or null. Set through Room.setCoaching. */
  coaching: string | null = null;
  /** How many coaches whisper to this caller. */
  coachedBy = 0;
  /** Listening volume relative to the room (dB, 0 = as mixed); set through Conference.setListenVolume. */
  listenVolumeDb = 0;
  /** The same as a linear gain, for the mixer. */
  listenGain = 1;
  /** Current gain of this caller in the mix (0..1), ramped. */
  feedGain = 0;
  /** The AGC's gain at the end of the last frame (1 without AGC). */
  private agcGain = 1;
  /** Set by the room when MAX_ACTIVE_SPEAKERS applies: this caller is among those heard. */
  amongLoudest = false;
  /** The talk state last reported to the room's observer (speech events). */
  reportedTalking = false;
  private readonly contribution = new Int16Array(SAMPLES_PER_FRAME);
  private readonly popInfo = { arrivalMs: 0, silent: true };
  private lastPop: PopKind = 'silence';
  /** Speex's noise suppression, while the room has it on. */
  private suppressor: NoiseSuppressor | null = null;

  constructor(
    readonly callSid: string,
    readonly roomId: string,
    readonly transport: ParticipantTransport,
    options: ParticipantOptions = {},
  ) {
    this.input = new JitterBuffer(options.jitter);
    this.talk = new TalkDetector(options.talk);
    this.agc = options.agc ? new Agc() : null;
    this.joinedAtMs = options.nowMs ?? 0;
    this.info = Object.freeze({ ...options.info });
    this.listenOnly = this.info.program?.role === 'listener';
    if (this.listenOnly) this.muted = this.hardMuted = true;
  }

  /** Confirmed talk (the speaking indicator, speech events). */
  get talking(): boolean {
    return this.talk.state.talking;
  }

  /** Noise suppression on this caller's audio (the room decides; see Room.configureAudio). */
  get noiseSuppression(): boolean {
    return this.suppressor !== null;
  }

  /**
   * Switches noise suppression on or off. Its state (~13 KB in the WebAssembly module) is made
   * here and freed on off or release(); the audio shifts by 10 ms at the switch.
   */
  setNoiseSuppression(on: boolean): void {
    if (on && !this.suppressor) this.suppressor = new NoiseSuppressor();
    else if (!on && this.suppressor) {
      this.suppressor.destroy();
      this.suppressor = null;
    }
  }

  /** The room is done with this participant: frees what is not garbage-collected. Idempotent. */
  release(): void {
    this.setNoiseSuppression(false);
  }

  /** Step 1 of a tick: take this tick's input and update talk detection. */
  prepare(nowMs: number): void {
    const kind = this.input.pop(this.inputPcm, this.popInfo);
    // Digital silence (nothing sent) is left alone: nothing to clean, and it costs nothing.
    if (this.suppressor !== null && !this.popInfo.silent) this.suppressor.process(this.inputPcm);
    this.lastPop = kind;
    if (kind === 'audio') {
      const waitMs = nowMs - this.popInfo.arrivalMs;
      this.stats.framesMixed++;
      this.stats.inputWaitMsTotal += waitMs;
      if (waitMs > this.stats.inputWaitMsMax) this.stats.inputWaitMsMax = waitMs;
    }
    // A listener program is never heard: nor does it "talk" (no speaking indicator, no speech events).
    const state = this.popInfo.silent || this.listenOnly ? this.talk.updateLevel(-96) : this.talk.update(this.inputPcm);
    this.wantsToFeed = state.gateOpen && !this.muted && !this.onHold && !this.listenOnly;
  }

  /**
   * Step 2: this tick's contribution to the room sum, ramped toward `feed` (in: 0 -> 1, out:
   * 1 -> 0, over 10 ms). Returns what to add (also kept as `ownFrame`), or null for nothing.
   */
  contribute(feed: boolean): Int16Array | null {
    const target = feed ? 1 : 0;
    const agcFrom = this.agcGain;
    const agcTo = this.agc ? this.agc.update(this.talk.state.levelDbfs, this.talk.state.active) : 1;
    this.agcGain = agcTo;
    const from = this.feedGain;
    this.feedGain = target;
    if ((from === 0 && target === 0) || (this.popInfo.silent && this.lastPop !== 'concealed')) {
      // Muted, or nothing to add: digital silence contributes nothing, ramp or not.
      this.ownFrame = null;
      return null;
    }
    this.stats.framesFed++;
    if (from === 1 && target === 1 && agcFrom === 1 && agcTo === 1) {
      this.ownFrame = this.inputPcm;
      return this.inputPcm;
    }
    const x = this.inputPcm;
    const out = this.contribution;
    // The feed ramps over 10 ms; an AGC step is spread over the whole frame.
    const agcStep = (agcTo - agcFrom) / SAMPLES_PER_FRAME;
    for (let i = 0; i < SAMPLES_PER_FRAME; i++) {
      const g = i < RAMP_SAMPLES ? from + ((target - from) * (i + 1)) / RAMP_SAMPLES : target;
      out[i] = clip16(Math.round(x[i]! * g * (agcFrom + agcStep * (i + 1))));
    }
    this.ownFrame = out;
    return out;
  }
}
