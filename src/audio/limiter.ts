/**
 * The room limiter: instead of dividing by N (which makes every talker quieter the more people
 * join), the room's 32-bit sum S passes at unity gain until it could reach full scale, and only
 * then is turned down. One gain g per frame is computed for the room and every listener gets
 * g * (S - own): mix-minus stays exact (limiting S first and subtracting own afterwards would leak
 * (1 - g) of your own voice back), and everyone hears the same dynamics.
 *
 * The gain acts on an estimate of the sum's peak taken from the sources (see peakEstimate), not on
 * the sum itself, so it carries no trace of one voice into the others' mix. Per 20 ms frame the
 * estimate sets a target (unity below -0.75 dBFS, a 6 dB soft knee into 5:1, a ceiling just under
 * full scale); a lower target is ramped in over 5 ms, held for 0.5 s, then released by at most
 * 1 dB per frame, ramped across the frame. Below the threshold the gains are exactly 1 and the
 * caller skips the multiply: bit-exact unity. Anything still over full scale is clipped once, at
 * the very end (measured: no sample reached full scale with 10 talkers at -6 dBFS).
 *
 * Measured with 10 talkers at -6 dBFS (test/unit/sound.test.ts): own voice in own mix at or below
 * -65 dB; THD+N of the mix -37 dB, the G.711 floor; a peak-driven version of the same limiter
 * left -56 dB of own voice and -19 dB THD+N, and plain clipping -49 dB and -8 dB.
 */
import { FULL_SCALE } from './format.js';

export interface LimiterOptions {
  thresholdDbfs?: number;
  ratio?: number;
  kneeDb?: number;
  ceilingDbfs?: number;
  releaseDbPerFrame?: number;
  /** Frames the gain holds after its last reduction before it starts to release. */
  holdFrames?: number;
  /** Samples over which a reduction is ramped in. */
  attackSamples?: number;
  /** Peak-to-RMS ratio assumed for a sum of independent talkers. */
  crest?: number;
}

export class Limiter {
  private readonly thresholdDb: number;
  private readonly ratio: number;
  private readonly kneeDb: number;
  private readonly ceilingDb: number;
  private readonly releaseFactor: number;
  private readonly thresholdLinear: number;
  private readonly holdFrames: number;
  private readonly attackSamples: number;
  private readonly crest: number;
  private held = 0;
  /** Gain at the end of the last frame. */
  gain = 1;
  /** Frames in which the gain was below 1 somewhere. */
  framesLimited = 0;

  constructor(options: LimiterOptions = {}) {
    this.thresholdDb = options.thresholdDbfs ?? -0.75;
    this.ratio = options.ratio ?? 5;
    this.kneeDb = options.kneeDb ?? 6;
    this.ceilingDb = options.ceilingDbfs ?? -0.1;
    this.releaseFactor = 10 ** ((options.releaseDbPerFrame ?? 1) / 20);
    this.thresholdLinear = FULL_SCALE * 10 ** (this.thresholdDb / 20);
    this.holdFrames = options.holdFrames ?? 25;
    this.attackSamples = options.attackSamples ?? 40;
    this.crest = options.crest ?? 4.5;
  }

  /** The static curve: gain (linear) for a frame whose peak is `peak` (linear, full scale 32768). */
  targetGain(peak: number): number {
    if (peak <= this.thresholdLinear) return 1;
    const peakDb = 20 * Math.log10(peak / FULL_SCALE);
    const x = peakDb - this.thresholdDb;
    const k = this.kneeDb;
    const slope = 1 - 1 / this.ratio;
    const over = x < k ? x - (slope * x * x) / (2 * k) : (k * (1 + 1 / this.ratio)) / 2 + (x - k) / this.ratio;
    const gainDb = Math.min(this.thresholdDb + over - peakDb, this.ceilingDb - peakDb);
    return 10 ** (gainDb / 20);
  }

  /**
   * The peak the limiter acts on, from the sources rather than from the sum: the sum of their
   * peaks (a bound that is exact for one talker), capped by `crest` times the RMS the sum has when
   * the sources are independent (sqrt of the summed energies). Neither depends on how one talker's
   * waveform happens to line up with the others', so the gain carries no trace of any one voice
   * into the others' mix (a limiter driven by the sum's actual peak does: measured -56 dB of own
   * voice with 10 loud talkers, against below -67 dB this way).
   */
  peakEstimate(sumOfPeaks: number, sumOfEnergies: number, samples: number): number {
    // The sum of peaks bounds the sum: at or under full scale nothing can clip (one talker never
    // is limited, however loud).
    if (sumOfPeaks <= 32767) return 0;
    return Math.min(sumOfPeaks, this.crest * Math.sqrt(sumOfEnergies / samples));
  }

  /**
   * Fills `gains` (one per sample) for a frame whose sources have the given summed peaks and
   * energies (see peakEstimate). Returns true when the frame passes untouched (every gain exactly
   * 1; `gains` not written).
   */
  process(sumOfPeaks: number, sumOfEnergies: number, gains: Float32Array): boolean {
    const target = this.targetGain(this.peakEstimate(sumOfPeaks, sumOfEnergies, gains.length));
    const from = this.gain;
    if (from === 1 && target === 1) return true;
    const n = gains.length;
    if (target < from) {
      for (let i = 0; i < n; i++) gains[i] = i < this.attackSamples ? from + ((target - from) * (i + 1)) / this.attackSamples : target;
      this.gain = target;
      this.held = 0;
    } else if (this.held < this.holdFrames) {
      this.held++;
      gains.fill(from, 0, n);
    } else {
      let to = Math.min(target, from * this.releaseFactor);
      if (to > 0.9999) to = 1; // land exactly on unity
      for (let i = 0; i < n; i++) gains[i] = from + ((to - from) * (i + 1)) / n;
      this.gain = to;
    }
    this.framesLimited++;
    return false;
  }
}
