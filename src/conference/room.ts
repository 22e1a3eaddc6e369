/**
 * A room: its participants and the mixer's tick. No sockets, no timers: `tick(nowMs)` is called
 * by the clock adapter every 20 ms (and by tests with a manual clock).
 *
 * Each tick:
 *  1. every participant's frame for this tick is taken from its input queue (or none);
 *  2. the room sum of all frames is accumulated in 32 bits;
 *  3. each participant who sent audio gets `clip(sum - own)`, its personal mix-minus;
 *     everyone who sent nothing (or digital silence, or is muted) gets `clip(sum)`, encoded once
 *     and shared; a caller on hold gets silence.
 * With ECHO_WHEN_ALONE a lone participant hears the sum, i.e. itself, to test a line alone.
 */
import { SAMPLES_PER_FRAME } from '../audio/format.js';
import { accumulate, clipSum, mixMinus, mixMinusGain } from '../audio/mix.js';
import { OutboundFrame } from './outboundFrame.js';
import type { LeaveReason, Participant } from './participant.js';

export interface RoomOptions {
  /** A lone participant hears its own audio (a line test) instead of silence. */
  echoWhenAlone: boolean;
}

/** Who hears a cue: everyone, everyone but one caller, or one caller only. */
export type CueTarget = { kind: 'all' } | { kind: 'except'; callSid: string } | { kind: 'only'; callSid: string };

export interface CueOptions {
  target?: CueTarget;
  /** Start again at the end until stopped. */
  loop?: boolean;
}

interface Cue {
  id: number;
  pcm: Int16Array;
  position: number;
  target: CueTarget;
  loop: boolean;
  /** This tick's 20 ms of the cue. */
  frame: Int16Array;
}

export interface RoomTickResult {
  /** Participants whose frame fed the mix this tick. */
  talkers: number;
  /** Personal mixes encoded this tick (the shared mix is one more when anyone was silent). */
  personalMixes: number;
}

export class Room {
  private readonly members = new Map<string, Participant>();
  /** Iteration copy of `members`, rebuilt on join/leave, so a tick does not allocate an iterator. */
  private list: Participant[] = [];
  private readonly sum = new Int32Array(SAMPLES_PER_FRAME);
  private readonly sharedPcm = new Int16Array(SAMPLES_PER_FRAME);
  private readonly sharedFrame = new OutboundFrame();
  /** Sent to callers on hold: encoded once. */
  private readonly silenceFrame = new OutboundFrame();
  private closed = false;
  private cues: Cue[] = [];
  private nextCueId = 1;
  /** Scratch for listeners whose mix differs from the shared one only by a cue. */
  private readonly cueScratch = new Int32Array(SAMPLES_PER_FRAME);
  readonly lastTick: RoomTickResult = { talkers: 0, personalMixes: 0 };

  constructor(
    readonly id: string,
    private readonly options: RoomOptions,
    readonly createdAtMs = 0,
  ) {
    this.silenceFrame.encode(new Int16Array(SAMPLES_PER_FRAME));
  }

  get size(): number {
    return this.list.length;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  participants(): readonly Participant[] {
    return this.list;
  }

  get(callSid: string): Participant | undefined {
    return this.members.get(callSid);
  }

  add(participant: Participant): void {
    if (this.closed) throw new Error(`room ${this.id} is closed`);
    this.members.set(participant.callSid, participant);
    this.list = [...this.members.values()];
  }

  /** Removes a participant; false when it was not here. */
  remove(callSid: string): boolean {
    if (!this.members.delete(callSid)) return false;
    this.list = [...this.members.values()];
    return true;
  }

  /**
   * Plays a clip of 8 kHz PCM (a tone, a prompt) into the room, mixed with the callers from the
   * next tick on. Returns an id for stopCue.
   */
  play(pcm: Int16Array, options: CueOptions = {}): number {
    const id = this.nextCueId++;
    this.cues.push({ id, pcm, position: 0, target: options.target ?? { kind: 'all' }, loop: options.loop ?? false, frame: new Int16Array(SAMPLES_PER_FRAME) });
    return id;
  }

  /** Stops a cue; false when it had already ended. */
  stopCue(id: number): boolean {
    const before = this.cues.length;
    this.cues = this.cues.filter((c) => c.id !== id);
    return this.cues.length !== before;
  }

  get activeCues(): number {
    return this.cues.length;
  }

  tick(nowMs: number): RoomTickResult {
    const list = this.list;
    const sum = this.sum;
    sum.fill(0);
    let talkers = 0;
    for (let i = 0; i < list.length; i++) {
      const own = list[i]!.takeFrame(nowMs);
      if (own !== null) {
        accumulate(sum, own);
        talkers++;
      }
    }
    const cues = this.cues;
    if (cues.length > 0) this.advanceCues(sum);
    const hearSelf = list.length === 1 && this.options.echoWhenAlone;
    let sharedReady = false;
    let personalMixes = 0;
    for (let i = 0; i < list.length; i++) {
      const p = list[i]!;
      let frame: OutboundFrame;
      if (p.onHold) {
        frame = this.silenceFrame;
      } else if ((cues.length > 0 && this.cueAdjusts(p.callSid)) || p.listenGain !== 1) {
        // This caller hears the room differently (its own cues, its own volume): a personal mix.
        const own = p.ownFrame !== null && !hearSelf ? p.ownFrame : null;
        this.personalMix(p, own, cues.length > 0);
        p.personalFrame.encode(p.mixPcm);
        frame = p.personalFrame;
        personalMixes++;
      } else if (p.ownFrame === null || hearSelf) {
        if (!sharedReady) {
          clipSum(sum, this.sharedPcm);
          this.sharedFrame.encode(this.sharedPcm);
          sharedReady = true;
        }
        frame = this.sharedFrame;
      } else {
        mixMinus(sum, p.ownFrame, p.mixPcm);
        p.personalFrame.encode(p.mixPcm);
        frame = p.personalFrame;
        personalMixes++;
      }
      p.stats.framesOut++;
      p.transport.sendFrame(frame);
    }
    if (this.pendingCueCleanup) {
      this.cues = this.cues.filter((c) => c.loop || c.position < c.pcm.length);
      this.pendingCueCleanup = false;
    }
    this.lastTick.talkers = talkers;
    this.lastTick.personalMixes = personalMixes;
    return this.lastTick;
  }

  /** Adds this tick's 20 ms of every room-wide cue to the sum; advances all cues; drops ended ones. */
  private advanceCues(sum: Int32Array): void {
    let ended = false;
    for (const cue of this.cues) {
      const frame = cue.frame;
      for (let i = 0; i < SAMPLES_PER_FRAME; i++) {
        if (cue.position >= cue.pcm.length) {
          if (cue.loop && cue.pcm.length > 0) cue.position = 0;
          else {
            frame[i] = 0;
            continue;
          }
        }
        frame[i] = cue.pcm[cue.position++]!;
      }
      if (cue.target.kind !== 'only') accumulate(sum, frame);
      if (!cue.loop && cue.position >= cue.pcm.length) ended = true;
    }
    if (ended) this.pendingCueCleanup = true;
  }

  private pendingCueCleanup = false;

  /** True when some cue is not heard by this caller the way the room sum has it. */
  private cueAdjusts(callSid: string): boolean {
    for (const cue of this.cues) if (cue.target.kind !== 'all' && cue.target.callSid === callSid) return true;
    return false;
  }

  /** clip(gain * (sum - own -/+ this caller's cue adjustments)) into the caller's mixPcm. */
  private personalMix(p: Participant, own: Int16Array | null, withCues: boolean): void {
    let acc = this.sum;
    if (withCues && this.cueAdjusts(p.callSid)) {
      acc = this.cueScratch;
      acc.set(this.sum);
      for (const cue of this.cues) {
        if (cue.target.kind === 'all' || cue.target.callSid !== p.callSid) continue;
        const sign = cue.target.kind === 'only' ? 1 : -1;
        for (let i = 0; i < SAMPLES_PER_FRAME; i++) acc[i]! += sign * cue.frame[i]!;
      }
    }
    if (p.listenGain !== 1) mixMinusGain(acc, own, p.listenGain, p.mixPcm);
    else if (own) mixMinus(acc, own, p.mixPcm);
    else clipSum(acc, p.mixPcm);
  }

  /** Ends every participant's transport and empties the room. Safe to call twice. */
  close(reason: LeaveReason): Participant[] {
    if (this.closed) return [];
    this.closed = true;
    const left = this.list;
    this.members.clear();
    this.list = [];
    for (const p of left) p.transport.end(reason);
    return left;
  }
}
