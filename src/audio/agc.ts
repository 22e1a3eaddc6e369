/**
 * Slow automatic gain control for one caller, off by default: lifts a quiet phone line toward a
 * target speech level (or tames a hot one) in 1 dB steps, at most one step per half second, only
 * while the caller is talking, and within bounds. Slow on purpose: it corrects a line, it does not
 * ride the voice.
 */
export interface AgcOptions {
  targetDbfs?: number;
  maxGainDb?: number;
  minGainDb?: number;
}

const STEP_DB = 1;
const FRAMES_PER_STEP = 25;
/** Smoothing of the talking level: ~1 s. */
const LEVEL_ALPHA = 1 / 50;

export class Agc {
  private readonly targetDbfs: number;
  private readonly maxGainDb: number;
  private readonly minGainDb: number;
  private talkLevelDbfs = NaN;
  private framesSinceStep = 0;
  gainDb = 0;
  gain = 1;

  constructor(options: AgcOptions = {}) {
    this.targetDbfs = options.targetDbfs ?? -20;
    this.maxGainDb = options.maxGainDb ?? 12;
    this.minGainDb = options.minGainDb ?? -6;
  }

  /** One frame's level and talk state; returns the linear gain to apply to this caller. */
  update(levelDbfs: number, talking: boolean): number {
    this.framesSinceStep++;
    if (!talking) return this.gain;
    this.talkLevelDbfs = Number.isNaN(this.talkLevelDbfs) ? levelDbfs : this.talkLevelDbfs + LEVEL_ALPHA * (levelDbfs - this.talkLevelDbfs);
    if (this.framesSinceStep < FRAMES_PER_STEP) return this.gain;
    const heard = this.talkLevelDbfs + this.gainDb;
    let step = 0;
    if (heard < this.targetDbfs - 2 && this.gainDb < this.maxGainDb) step = STEP_DB;
    else if (heard > this.targetDbfs + 2 && this.gainDb > this.minGainDb) step = -STEP_DB;
    if (step !== 0) {
      this.gainDb += step;
      this.gain = 10 ** (this.gainDb / 20);
      this.framesSinceStep = 0;
    }
    return this.gain;
  }
}
