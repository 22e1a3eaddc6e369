/**
 * Talk detection for one caller, frame by frame: an energy gate with hysteresis and hangover, over
 * a noise floor that adapts to the line, so background noise does not feed the mix and a noisy
 * line does not count as talking forever.
 *
 * - Level: RMS of the 20 ms frame, in dBFS.
 * - Noise floor: the minimum of the frame levels over the last ~5 s (minimum statistics, kept as
 *   five one-second minima). Speech has pauses, so the floor follows the background.
 * - Floor ceiling: the floor never rises above `floorCeilingDbfs` (default -40 dBFS)
 *   unless the steady sound under it is broadband noise (TonalityMeter: the quietest frames of every
 *   one of the five seconds read as noise). So a fan, hiss or traffic becomes the floor and is
 *   gated, as before, however loud; a held tone, a sung note or music never does: with the floor at
 *   most -40 dBFS, anything above -28 dBFS passes for as long as it lasts, and a caller unmuted after
 *   holding such a sound is heard at once. Without the ceiling a steady tone became the floor after
 *   5 to 6 s and was cut from the mix.
 * - Open threshold: max(absolute threshold, floor + margin). The gate opens on the first frame
 *   above it (so no syllable onset is lost) and closes after a hangover below the close threshold
 *   (3 dB lower): short (100 ms) until the talk is confirmed, long (800 ms) after.
 * - Talking (confirmed): 3 frames above the open threshold within 5. This is the state that drives
 *   speech-start/stop events and the speaking indicator; the gate drives the mix.
 * - `backgroundGate = false` (a room setting, e.g. a music room): every frame that is not digital
 *   silence feeds the mix, however quiet or steady; talk is still detected for the indicator.
 */
import { FULL_SCALE } from './format.js';
import { TonalityMeter } from './tonality.js';

export interface TalkDetectorOptions {
  /** Below this a frame never opens the gate, whatever the floor (dBFS RMS). */
  absoluteThresholdDbfs?: number;
  /** How far above the noise floor speech must be (dB). */
  marginDb?: number;
  /** Hangover after confirmed talk (frames of 20 ms). */
  hangoverFrames?: number;
  /** The floor rises above this (dBFS) only under broadband noise; default -40. */
  floorCeilingDbfs?: number;
}

export interface TalkState {
  levelDbfs: number;
  noiseFloorDbfs: number;
  /** Feeds the mix this frame. */
  gateOpen: boolean;
  /** This frame is above the open threshold: sound, not a pause or the background (AGC's level). */
  active: boolean;
  /** Confirmed talk (hysteresis + hangover). */
  talking: boolean;
}

const FLOOR_BLOCK_FRAMES = 50; // 1 s
const FLOOR_BLOCKS = 5;
const SILENCE_DBFS = -96;
/** Frames within this of the block's minimum are what the floor is made of (dB). */
const NEAR_FLOOR_DB = 6;
/** A spectrum starts every this many frames (at most 10 a second). */
const SPECTRUM_EVERY_FRAMES = 5;
/** Spectra needed (of at most 10 a second) before a second's floor can be called noise. */
const MIN_SPECTRA = 6;
/**
 * Local spectral flatness above which the floor's sound is broadband noise (dB). Measured
 * (test/unit/tonality.test.ts): noise of any colour -0.1 to -0.5 dB over 6+ spectra; hum -3.9, a
 * sung vowel -4.5 to -6, a chord -8.5, a 1 kHz tone -22.
 */
const NOISE_FLATNESS_DB = -1;

export class TalkDetector {
  private readonly absoluteDbfs: number;
  private readonly marginDb: number;
  private readonly hangoverFrames: number;
  private readonly ceilingDbfs: number;
  private readonly blockMins = new Float64Array(FLOOR_BLOCKS).fill(Infinity);
  /** 1 when that second's floor was broadband noise (may exceed the ceiling). */
  private readonly blockNoise = new Uint8Array(FLOOR_BLOCKS);
  private blockIndex = 0;
  private blockFrames = 0;
  private currentBlockMin = Infinity;
  private blocksDone = 0;
  private below = 0;
  private recentAbove = 0; // bit history of the last 5 frames: 1 = above open threshold
  private gate = false;
  private readonly tonality = new TonalityMeter();
  /** The next spectrum frame: 0 = remember this frame, 1 = add a spectrum. */
  private spectrumPhase = 0;
  /** Feed the mix with whatever is not digital silence (false: a music room). */
  backgroundGate = true;
  readonly state: TalkState = { levelDbfs: SILENCE_DBFS, noiseFloorDbfs: SILENCE_DBFS, gateOpen: false, active: false, talking: false };

  constructor(options: TalkDetectorOptions = {}) {
    this.absoluteDbfs = options.absoluteThresholdDbfs ?? -45;
    this.marginDb = options.marginDb ?? 12;
    this.hangoverFrames = options.hangoverFrames ?? 40;
    this.ceilingDbfs = options.floorCeilingDbfs ?? -40;
  }

  /** Feeds one frame; returns the updated state (the same object each time). */
  update(frame: Int16Array): TalkState {
    let energy = 0;
    for (let i = 0; i < frame.length; i++) energy += frame[i]! * frame[i]!;
    const level = energy === 0 ? SILENCE_DBFS : Math.max(SILENCE_DBFS, 10 * Math.log10(energy / frame.length / (FULL_SCALE * FULL_SCALE)));
    this.observeSpectrum(frame, level);
    return this.updateLevel(level);
  }

  /**
   * Feeds one frame's level (dBFS) directly: for frames known to be silent, and for tests. Such a
   * frame has no spectrum: a floor made of them is never taken for broadband noise.
   */
  updateLevel(level: number): TalkState {
    const s = this.state;
    s.levelDbfs = level;
    const floor = this.trackFloor(level);
    s.noiseFloorDbfs = floor;
    const open = Math.max(this.absoluteDbfs, floor + this.marginDb);
    const above = level >= open;
    s.active = above;
    this.recentAbove = ((this.recentAbove << 1) | (above ? 1 : 0)) & 0b11111;
    if (above) {
      this.below = 0;
      this.gate = true;
      if (!s.talking && popcount5(this.recentAbove) >= 3) s.talking = true;
    } else if (this.gate) {
      if (level < open - 3) this.below++;
      else this.below = 0;
      const hangover = s.talking ? this.hangoverFrames : 5;
      if (this.below >= hangover) {
        this.gate = false;
        s.talking = false;
        this.below = 0;
      }
    }
    s.gateOpen = this.backgroundGate ? this.gate : level > SILENCE_DBFS;
    return s;
  }

  /**
   * Spectra of the frames near this second's minimum, while that minimum is above the ceiling
   * (only then does it matter whether the floor's sound is noise): a spectrum of two consecutive
   * frames starting every fifth frame, so at most 10 a second (~1 us a frame on average, measured
   * in tools/bench/micro.ts), and none at all on a line whose quiet moments are quiet.
   */
  private observeSpectrum(frame: Int16Array, level: number): void {
    const min = Math.min(this.currentBlockMin, level);
    if (min <= this.ceilingDbfs || level > min + NEAR_FLOOR_DB) {
      this.spectrumPhase = 0;
      return;
    }
    // A new minimum well below the last: the spectra so far were of louder sound.
    if (level < this.currentBlockMin - NEAR_FLOOR_DB) this.tonality.reset();
    if (this.spectrumPhase === 1) {
      this.tonality.add(frame);
      this.spectrumPhase = 0;
    } else if (this.blockFrames % SPECTRUM_EVERY_FRAMES === 0) {
      this.tonality.remember(frame);
      this.spectrumPhase = 1;
    }
  }

  /**
   * The floor rises only from completed one-second minima once 5 s of them exist (so a caller who
   * starts talking at once is not taken for background), and falls at once with a quieter frame.
   * A second's minimum counts above the ceiling only when that second's floor sound was noise.
   */
  private trackFloor(level: number): number {
    if (level < this.currentBlockMin) this.currentBlockMin = level;
    if (++this.blockFrames >= FLOOR_BLOCK_FRAMES) {
      const noise = this.currentBlockMin > this.ceilingDbfs && this.tonality.spectra >= MIN_SPECTRA && this.tonality.flatnessDb() > NOISE_FLATNESS_DB;
      this.blockMins[this.blockIndex] = this.currentBlockMin;
      this.blockNoise[this.blockIndex] = noise ? 1 : 0;
      this.blockIndex = (this.blockIndex + 1) % FLOOR_BLOCKS;
      if (this.blocksDone < FLOOR_BLOCKS) this.blocksDone++;
      this.blockFrames = 0;
      this.currentBlockMin = Infinity;
      this.tonality.reset();
      this.spectrumPhase = 0;
    }
    if (this.blocksDone < FLOOR_BLOCKS) return SILENCE_DBFS;
    let floor = this.currentBlockMin;
    for (let i = 0; i < FLOOR_BLOCKS; i++) {
      const m = this.blockNoise[i] ? this.blockMins[i]! : Math.min(this.blockMins[i]!, this.ceilingDbfs);
      if (m < floor) floor = m;
    }
    return floor;
  }
}

function popcount5(bits: number): number {
  return (bits & 1) + ((bits >> 1) & 1) + ((bits >> 2) & 1) + ((bits >> 3) & 1) + ((bits >> 4) & 1);
}
