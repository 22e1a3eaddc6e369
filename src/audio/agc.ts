/**
 * Slow automatic gain control for one caller, off by default (AGC=true turns it on): brings a
 * caller's level to a target (-20 dBFS) so that callers on quiet and hot lines come out even.
 * Slow on purpose: it corrects a line, it does not ride the voice.
 *
 * - Level: the caller's *active* level, the power average (~2 s) of the frames above the talk
 *   gate's open threshold, as ITU-T P.56 measures speech: pauses and background do not pull it down.
 * - Steps of 1 dB, at most one per half second (2 dB/s), whenever the level heard (active level +
 *   gain) is more than 1 dB from the target; within -10..+12 dB. So a caller ends within 1 dB of
 *   the target, and a caller already there is left bit-exact.
 * - The gain moves smoothly: the participant ramps from the last frame's gain to this one's across
 *   the frame, so a step is not a click.
 */
export interface AgcOptions {
  targetDbfs?: number;
  maxGainDb?: number;
  minGainDb?: number;
}

const STEP_DB = 1;
const FRAMES_PER_STEP = 25;
/** Past this far from the target (dB), the gain steps. */
const TOLERANCE_DB = 1;
/** Smoothing of the active power: ~100 active frames (2 s). */
const POWER_ALPHA = 1 / 100;
/** Active frames needed before the first step (1 s). */
const MIN_ACTIVE_FRAMES = 50;

export class Agc {
  private readonly targetDbfs: number;
  private readonly maxGainDb: number;
  private readonly minGainDb: number;
  /** Smoothed power (linear, relative to full scale) of the active frames. */
  private activePower = 0;
  private activeFrames = 0;
  private framesSinceStep = 0;
  gainDb = 0;
  gain = 1;

  constructor(options: AgcOptions = {}) {
    this.targetDbfs = options.targetDbfs ?? -20;
    this.maxGainDb = options.maxGainDb ?? 12;
    this.minGainDb = options.minGainDb ?? -10;
  }

  /** The caller's active level so far (dBFS), NaN before any active frame. */
  get activeLevelDbfs(): number {
    return this.activeFrames === 0 ? NaN : 10 * Math.log10(this.activePower);
  }

  /**
   * One frame: its level and whether it is active (above the talk gate's open threshold). Returns
   * the linear gain for this frame.
   */
  update(levelDbfs: number, active: boolean): number {
    this.framesSinceStep++;
    if (!active) return this.gain;
    const power = 10 ** (levelDbfs / 10);
    this.activeFrames++;
    // A plain mean over the first 100 active frames, then exponential (no bias toward the first).
    this.activePower += Math.max(POWER_ALPHA, 1 / this.activeFrames) * (power - this.activePower);
    if (this.activeFrames < MIN_ACTIVE_FRAMES || this.framesSinceStep < FRAMES_PER_STEP) return this.gain;
    const heard = 10 * Math.log10(this.activePower) + this.gainDb;
    let step = 0;
    if (heard < this.targetDbfs - TOLERANCE_DB && this.gainDb < this.maxGainDb) step = STEP_DB;
    else if (heard > this.targetDbfs + TOLERANCE_DB && this.gainDb > this.minGainDb) step = -STEP_DB;
    if (step !== 0) {
      this.gainDb += step;
      this.gain = 10 ** (this.gainDb / 20);
      this.framesSinceStep = 0;
    }
    return this.gain;
  }
}
