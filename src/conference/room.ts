/**
 * A room: its participants and the mixer's tick. No sockets, no timers: `tick(nowMs)` is called
 * by the clock adapter every 20 ms (and by tests with a manual clock).
 *
 * Each tick:
 *  1. every participant takes its frame from its jitter buffer and updates its talk detector;
 *  2. those whose gate is open (not muted, not held; the loudest talkers first when
 *     MAX_ACTIVE_SPEAKERS caps them) feed the mix, ramped in and out over 10 ms;
 *  3. the contributions and any cues (tones) are summed in 32 bits: S;
 *  4. the limiter computes a gain g from S (exactly 1 below -0.75 dBFS);
 *  5. each feeding participant gets clip(g * (S - own)), its exact mix-minus; everyone else gets
 *     clip(g * S), encoded once and shared; a caller on hold gets the room's hold music (encoded
 *     once per tick for every held caller) or silence. A caller with its own listening volume or
 *     cue gets a personal mix.
 * A coach (setCoaching) is whispered: its contribution is not in S (the limiter still counts it),
 * so everyone, the coach included, hears S as if the coach were silent, and only the coached caller
 * gets a personal mix with the coach added: clip(g * (S - own + coach)).
 * With ECHO_WHEN_ALONE a lone participant hears the sum, i.e. itself, to test a line alone.
 */
import { ComfortNoise } from '../audio/comfortNoise.js';
import { SAMPLES_PER_FRAME } from '../audio/format.js';
import { Limiter, type LimiterOptions } from '../audio/limiter.js';
import { accumulate, accumulateMeasured, measureFrame, mixDown, type FrameMeasure } from '../audio/mix.js';
import { OutboundFrame } from './outboundFrame.js';
import { RAMP_SAMPLES, type LeaveReason, type Participant } from './participant.js';

/** A room's sound settings, set per room by the administrator, else the server's. */
export interface RoomAudioSettings {
  /**
   * The talk gate keeps background (steady noise, quiet sound) out of the mix. Off (a music room):
   * every caller's sound feeds the mix, however quiet or steady. Default on.
   */
  backgroundGate: boolean;
  /** Each caller's stationary noise is suppressed before the mix (speexdsp). Default off. */
  noiseSuppression: boolean;
}

/** A change of settings: null puts a setting back to the server's default, undefined leaves it. */
export type RoomAudioPatch = { [K in keyof RoomAudioSettings]?: RoomAudioSettings[K] | null };

export interface RoomOptions {
  /** A lone participant hears its own audio (a line test) instead of silence. */
  echoWhenAlone: boolean;
  /** The server's sound settings, for rooms that do not set their own. */
  audio?: Partial<RoomAudioSettings>;
  /** At most this many callers feed the mix at once (0: no cap); the rest are ramped out. */
  maxActiveSpeakers?: number;
  /** Faint noise while nobody talks, at this RMS level (dBFS); undefined: off. */
  comfortNoiseDbfs?: number;
  limiter?: LimiterOptions;
}

/**
 * Hears a room's mix without being in it (a recorder): called once per tick, after every caller has
 * been sent its frame, with what a listener who says nothing hears (after the limiter). The PCM is
 * the room's own buffer: copy it before returning. Must not block or throw.
 */
export interface RoomTap {
  mix(pcm: Int16Array, room: Room): void;
}

/** What a room reports to its owner as it mixes. */
export interface RoomObserver {
  /** A participant's confirmed talk started or stopped. */
  speech(participant: Participant, talking: boolean): void;
  /** A tap threw: it is reported and the room keeps mixing (the tap stays; it may recover). */
  tapThrew(tap: RoomTap, error: unknown): void;
  /** A cue played to its end (not one stopped with stopCue, not a looped one). */
  cueEnded?(cueId: number): void;
}

/** Why setCoaching refused: no such caller here, coaching oneself, or a chain (a coach coached, a coached one coaching). */
export type CoachingRefusal = 'no-coach' | 'no-coached' | 'self' | 'chain';

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
  private readonly gains = new Float32Array(SAMPLES_PER_FRAME);
  private readonly measure: FrameMeasure = { peak: 0, energy: 0 };
  private readonly limiter: Limiter;
  private readonly comfortNoise: ComfortNoise | null;
  /** Reused for ranking talkers when a cap applies. */
  private ranking: Participant[] = [];
  observer: RoomObserver | null = null;
  private taps: RoomTap[] = [];
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
  /**
   * The room waits for its moderator (issue 17, waitForModerator): nobody feeds the mix, so the
   * callers hear only cues (the wait sound), not each other. Set by the moderation (moderation.ts).
   */
  waitingForModerator = false;
  private readonly audioDefaults: RoomAudioSettings;
  private readonly audioSettings: RoomAudioSettings;
  /** Looped to every caller on hold; null: silence. */
  private holdMusic: Int16Array | null = null;
  private holdPosition = 0;
  private readonly holdPcm = new Int16Array(SAMPLES_PER_FRAME);
  private readonly holdFrame = new OutboundFrame();
  /** Coaches whose frame was left out of the sum this tick. */
  private coachesTalking = 0;

  constructor(
    readonly id: string,
    private readonly options: RoomOptions,
    readonly createdAtMs = 0,
  ) {
    this.silenceFrame.encode(new Int16Array(SAMPLES_PER_FRAME));
    this.limiter = new Limiter(options.limiter);
    this.comfortNoise = options.comfortNoiseDbfs === undefined ? null : new ComfortNoise(options.comfortNoiseDbfs);
    this.audioDefaults = { backgroundGate: options.audio?.backgroundGate ?? true, noiseSuppression: options.audio?.noiseSuppression ?? false };
    this.audioSettings = { ...this.audioDefaults };
  }

  /** The sound settings in force. */
  get audio(): Readonly<RoomAudioSettings> {
    return this.audioSettings;
  }

  /** Changes the room's sound settings for everyone in it now and later (null: the server's). */
  configureAudio(patch: RoomAudioPatch): void {
    for (const key of ['backgroundGate', 'noiseSuppression'] as const) {
      const value = patch[key];
      if (value !== undefined) this.audioSettings[key] = value ?? this.audioDefaults[key];
    }
    for (const p of this.list) this.applyAudio(p);
  }

  private applyAudio(p: Participant): void {
    p.talk.backgroundGate = this.audioSettings.backgroundGate;
    p.setNoiseSuppression(this.audioSettings.noiseSuppression);
  }

  /**
   * What a caller on hold hears from the next tick on: `pcm` (8 kHz) looped, one position shared by
   * every held caller of the room, or silence for null.
   */
  setHoldMusic(pcm: Int16Array | null): void {
    if (pcm === this.holdMusic) return;
    this.holdMusic = pcm !== null && pcm.length > 0 ? pcm : null;
    this.holdPosition = 0;
  }

  get hasHoldMusic(): boolean {
    return this.holdMusic !== null;
  }

  /**
   * `coachSid` coaches `coachedSid` (Twilio's coaching / callSidToCoach): only the coached caller
   * hears the coach; the coach hears the whole room. Null ends the coaching. Returns null when
   * done, else why not (nothing changed).
   */
  setCoaching(coachSid: string, coachedSid: string | null): CoachingRefusal | null {
    const coach = this.members.get(coachSid);
    if (!coach) return 'no-coach';
    if (coachedSid === null) {
      this.endCoaching(coach);
      return null;
    }
    const coached = this.members.get(coachedSid);
    if (!coached) return 'no-coached';
    if (coached === coach) return 'self';
    if (coach.coachedBy > 0 || coached.coaching !== null) return 'chain';
    this.endCoaching(coach);
    coach.coaching = coachedSid;
    coached.coachedBy++;
    return null;
  }

  private endCoaching(coach: Participant): void {
    if (coach.coaching === null) return;
    const coached = this.members.get(coach.coaching);
    if (coached) coached.coachedBy--;
    coach.coaching = null;
  }

  /** The limiter's current gain (1: not limiting) and how many frames it has touched. */
  get limiting(): { gain: number; framesLimited: number } {
    return { gain: this.limiter.gain, framesLimited: this.limiter.framesLimited };
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
    this.applyAudio(participant);
  }

  /**
   * Removes a participant; false when it was not here. If it was feeding the mix, its last sample
   * is ramped to zero over 10 ms (a cue), so a caller leaving mid-word does not click.
   */
  remove(callSid: string): boolean {
    const p = this.members.get(callSid);
    if (!p) return false;
    const coach = p.coaching !== null;
    this.endCoaching(p);
    // Whoever coached this caller coaches nobody now (Conference.leave decides what they become).
    if (p.coachedBy > 0) for (const q of this.list) if (q.coaching === callSid) q.coaching = null;
    p.coachedBy = 0;
    this.members.delete(callSid);
    this.list = [...this.members.values()];
    p.release();
    const last = p.ownFrame?.[SAMPLES_PER_FRAME - 1] ?? 0;
    // A coach's tail is not the room's to hear.
    if (p.feedGain > 0 && last !== 0 && !this.closed && !coach) {
      const tail = Int16Array.from({ length: RAMP_SAMPLES }, (_, i) => Math.round((last * (RAMP_SAMPLES - 1 - i)) / RAMP_SAMPLES));
      this.play(tail);
    }
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

  addTap(tap: RoomTap): void {
    if (!this.taps.includes(tap)) this.taps = [...this.taps, tap];
  }

  removeTap(tap: RoomTap): boolean {
    const before = this.taps.length;
    this.taps = this.taps.filter((t) => t !== tap);
    return this.taps.length !== before;
  }

  get activeCues(): number {
    return this.cues.length;
  }

  /** One 20 ms frame: mix() then send(). */
  tick(nowMs: number): RoomTickResult {
    const result = this.mix(nowMs);
    this.send();
    return result;
  }

  /**
   * Mixes this tick's frame for every listener and leaves it on the participant (`outbound`) for
   * send(): the conference mixes every room before any socket write, so the mixing work and the
   * sending are measured apart (tick parts in /metrics), and no room's mix waits behind another room's writes.
   */
  mix(nowMs: number): RoomTickResult {
    const list = this.list;
    const sum = this.sum;
    sum.fill(0);
    // 1. Input and talk detection.
    let wanting = 0;
    for (let i = 0; i < list.length; i++) {
      const p = list[i]!;
      p.prepare(nowMs);
      if (p.wantsToFeed) wanting++;
      const talking = p.talking;
      if (talking !== p.reportedTalking) {
        p.reportedTalking = talking;
        this.observer?.speech(p, talking);
      }
    }
    // 2. Who feeds: everyone who wants to, or the loudest when a cap applies.
    const cap = this.options.maxActiveSpeakers ?? 0;
    if (cap > 0 && wanting > cap) this.rankSpeakers(cap);
    // 3. The room sum, with its sources' peaks and energies for the limiter.
    let talkers = 0;
    let coaches = 0;
    const measure = this.measure;
    measure.peak = 0;
    measure.energy = 0;
    for (let i = 0; i < list.length; i++) {
      const p = list[i]!;
      const own = p.contribute(!this.waitingForModerator && p.wantsToFeed && (cap === 0 || wanting <= cap || p.amongLoudest));
      if (own !== null) {
        // A coach is whispered: measured for the limiter, added only to the coached caller's mix.
        if (p.coaching !== null) {
          measureFrame(own, measure);
          coaches++;
        } else accumulateMeasured(sum, own, measure);
        talkers++;
      }
    }
    this.coachesTalking = coaches;
    const cues = this.cues;
    if (cues.length > 0) this.advanceCues(sum, measure);
    // 4. The limiter's gain, from the sources (not from how they happen to add up).
    const gains = this.limiter.process(measure.peak, measure.energy, this.gains) ? null : this.gains;
    // 5. Every listener's frame.
    const hearSelf = list.length === 1 && this.options.echoWhenAlone;
    let sharedReady = false;
    let holdReady = false;
    let personalMixes = 0;
    for (let i = 0; i < list.length; i++) {
      const p = list[i]!;
      let frame: OutboundFrame;
      // A coach's frame is not in the sum: nothing of its own to take out.
      const own = p.ownFrame !== null && !hearSelf && p.coaching === null ? p.ownFrame : null;
      if (p.onHold) {
        if (this.holdMusic === null) frame = this.silenceFrame;
        else {
          if (!holdReady) this.renderHold();
          holdReady = true;
          frame = this.holdFrame;
        }
      } else if (own !== null || p.listenGain !== 1 || (cues.length > 0 && this.cueAdjusts(p.callSid)) || (coaches > 0 && p.coachedBy > 0)) {
        this.personalMix(p, own, gains, cues.length > 0);
        p.personalFrame.encode(p.mixPcm);
        frame = p.personalFrame;
        personalMixes++;
      } else {
        if (!sharedReady) {
          this.renderShared(sum, gains, talkers);
          sharedReady = true;
        }
        frame = this.sharedFrame;
      }
      p.outbound = frame;
    }
    if (this.taps.length > 0) {
      if (!sharedReady) this.renderShared(sum, gains, talkers);
      for (const tap of this.taps) {
        try {
          tap.mix(this.sharedPcm, this);
        } catch (error) {
          // A recorder or a dashboard listening in is an observer: it never breaks the call.
          if (!this.observer) throw error;
          this.observer.tapThrew(tap, error);
        }
      }
    }
    if (this.pendingCueCleanup) {
      const before = this.cues;
      this.cues = before.filter((c) => c.loop || c.position < c.pcm.length);
      this.pendingCueCleanup = false;
      const observer = this.observer;
      if (observer?.cueEnded) for (const c of before) if (!this.cues.includes(c)) observer.cueEnded(c.id);
    }
    this.lastTick.talkers = talkers;
    this.lastTick.personalMixes = personalMixes;
    return this.lastTick;
  }

  /** Hands every listener the frame mix() made for it, once. */
  send(): void {
    const list = this.list;
    for (let i = 0; i < list.length; i++) {
      const p = list[i]!;
      const frame = p.outbound;
      // Null for a listener who joined after the mix: its first frame comes next tick.
      if (frame === null) continue;
      p.outbound = null;
      p.stats.framesOut++;
      p.transport.sendFrame(frame);
    }
  }

  /** The mix of a listener who says nothing: g * S (+ comfort noise when nobody talks), encoded. */
  private renderShared(sum: Int32Array, gains: Float32Array | null, talkers: number): void {
    mixDown(sum, null, gains, 1, this.sharedPcm);
    if (talkers === 0 && this.comfortNoise) this.comfortNoise.addTo(this.sharedPcm);
    this.sharedFrame.encode(this.sharedPcm);
  }

  /** The next 20 ms of the hold music (looped), encoded once for every held caller. */
  private renderHold(): void {
    const music = this.holdMusic!;
    const pcm = this.holdPcm;
    for (let i = 0; i < SAMPLES_PER_FRAME; i++) {
      if (this.holdPosition >= music.length) this.holdPosition = 0;
      pcm[i] = music[this.holdPosition++]!;
    }
    this.holdFrame.encode(pcm);
  }

  /** Keeps the `cap` callers who should be heard: confirmed talkers first, then the loudest. */
  private rankSpeakers(cap: number): void {
    const ranking = this.ranking;
    ranking.length = 0;
    for (const p of this.list) {
      p.amongLoudest = false;
      if (p.wantsToFeed) ranking.push(p);
    }
    ranking.sort((a, b) => Number(b.talking) - Number(a.talking) || b.talk.state.levelDbfs - a.talk.state.levelDbfs || b.feedGain - a.feedGain);
    ranking.length = cap;
    for (const p of ranking) p.amongLoudest = true;
  }

  /** Adds this tick's 20 ms of every room-wide cue to the sum; advances all cues; drops ended ones. */
  private advanceCues(sum: Int32Array, measure: FrameMeasure): void {
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
      if (cue.target.kind !== 'only') accumulateMeasured(sum, frame, measure);
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

  /** clip(listenGain * g * (sum - own -/+ this caller's cue adjustments + its coaches)) into its mixPcm. */
  private personalMix(p: Participant, own: Int16Array | null, gains: Float32Array | null, withCues: boolean): void {
    let acc = this.sum;
    if (this.coachesTalking > 0 && p.coachedBy > 0) {
      acc = this.cueScratch;
      acc.set(this.sum);
      const list = this.list;
      for (let j = 0; j < list.length; j++) {
        const q = list[j]!;
        if (q.coaching === p.callSid && q.ownFrame !== null) accumulate(acc, q.ownFrame);
      }
    }
    if (withCues && this.cueAdjusts(p.callSid)) {
      if (acc === this.sum) {
        acc = this.cueScratch;
        acc.set(this.sum);
      }
      for (const cue of this.cues) {
        if (cue.target.kind === 'all' || cue.target.callSid !== p.callSid) continue;
        const sign = cue.target.kind === 'only' ? 1 : -1;
        for (let i = 0; i < SAMPLES_PER_FRAME; i++) acc[i]! += sign * cue.frame[i]!;
      }
    }
    mixDown(acc, own, gains, p.listenGain, p.mixPcm);
  }

  /** Ends every participant's transport and empties the room. Safe to call twice. */
  close(reason: LeaveReason): Participant[] {
    if (this.closed) return [];
    this.closed = true;
    this.taps = [];
    const left = this.list;
    this.members.clear();
    this.list = [];
    for (const p of left) {
      p.release();
      p.transport.end(reason);
    }
    return left;
  }
}
