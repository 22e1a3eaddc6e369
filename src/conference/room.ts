/**
 * A room: its participants and the mixer's tick. No sockets, no timers: `tick(nowMs)` is called
 * by the clock adapter every 20 ms (and by tests with a manual clock).
 *
 * Each tick:
 *  1. every participant's frame for this tick is taken from its input queue (or none);
 *  2. the room sum of all frames is accumulated in 32 bits;
 *  3. each participant who sent audio gets `clip(sum - own)`, its personal mix-minus;
 *     everyone who sent nothing (or digital silence) gets `clip(sum)`, encoded once and shared.
 * With ECHO_WHEN_ALONE a lone participant hears the sum, i.e. itself, to test a line alone.
 */
import { SAMPLES_PER_FRAME } from '../audio/format.js';
import { accumulate, clipSum, mixMinus } from '../audio/mix.js';
import { OutboundFrame } from './outboundFrame.js';
import type { LeaveReason, Participant } from './participant.js';

export interface RoomOptions {
  /** A lone participant hears its own audio (a line test) instead of silence. */
  echoWhenAlone: boolean;
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
  private closed = false;
  readonly lastTick: RoomTickResult = { talkers: 0, personalMixes: 0 };

  constructor(
    readonly id: string,
    private readonly options: RoomOptions,
    readonly createdAtMs = 0,
  ) {}

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
    const hearSelf = list.length === 1 && this.options.echoWhenAlone;
    let sharedReady = false;
    let personalMixes = 0;
    for (let i = 0; i < list.length; i++) {
      const p = list[i]!;
      let frame: OutboundFrame;
      if (p.ownFrame === null || hearSelf) {
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
    this.lastTick.talkers = talkers;
    this.lastTick.personalMixes = personalMixes;
    return this.lastTick;
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
