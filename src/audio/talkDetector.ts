/**
 * Talk detection for one caller, frame by frame: an energy gate with hysteresis and hangover, over
 * a noise floor that adapts to the line, so background noise does not feed the mix and a noisy
 * line does not count as talking forever.
 *
 * - Level: RMS of the 20 ms frame, in dBFS.
 * - Noise floor: the minimum of the frame levels over the last ~5 s (minimum statistics, kept as
 *   five one-second minima). Speech has pauses, so the floor follows the background; a steady
 *   noise (or a steady tone) becomes the floor after 5 to 6 s and stops feeding the mix.
 * - Open threshold: max(absolute threshold, floor + margin). The gate opens on the first frame
 *   above it (so no syllable onset is lost) and closes after a hangover below the close threshold
 *   (3 dB lower): short (100 ms) until the talk is confirmed, long (800 ms) after.
 * - Talking (confirmed): 3 frames above the open threshold within 5. This is the state that drives
 *   speech-start/stop events and the speaking indicator; the gate drives the mix.
 */

export interface TalkDetectorOptions {
  /** Below this a frame never opens the gate, whatever the floor (dBFS RMS). */
  absoluteThresholdDbfs?: number;
  /** How far above the noise floor speech must be (dB). */
  marginDb?: number;
  /** Hangover after confirmed talk (frames of 20 ms). */
  hangoverFrames?: number;
}

export interface TalkState {
  levelDbfs: number;
  noiseFloorDbfs: number;
  /** Feeds the mix this frame. */
  gateOpen: boolean;
  /** Confirmed talk (hysteresis + hangover). */
  talking: boolean;
}

const FLOOR_BLOCK_FRAMES = 50; // 1 s
const FLOOR_BLOCKS = 5;
const SILENCE_DBFS = -96;

export class TalkDetector {
  private readonly absoluteDbfs: number;
  private readonly marginDb: number;
  private readonly hangoverFrames: number;
  private readonly blockMins = new Float64Array(FLOOR_BLOCKS).fill(Infinity);
  private blockIndex = 0;
  private blockFrames = 0;
  private currentBlockMin = Infinity;
  private blocksDone = 0;
  private below = 0;
  private recentAbove = 0; // bit history of the last 5 frames: 1 = above open threshold
  readonly state: TalkState = { levelDbfs: SILENCE_DBFS, noiseFloorDbfs: SILENCE_DBFS, gateOpen: false, talking: false };

  constructor(options: TalkDetectorOptions = {}) {
    this.absoluteDbfs = options.absoluteThresholdDbfs ?? -45;
    this.marginDb = options.marginDb ?? 12;
    this.hangoverFrames = options.hangoverFrames ?? 40;
  }

  /** Feeds one frame; returns the updated state (the same object each time). */
  update(frame: Int16Array): TalkState {
    let energy = 0;
    for (let i = 0; i < frame.length; i++) energy += frame[i]! * frame[i]!;
    const level = energy === 0 ? SILENCE_DBFS : Math.max(SILENCE_DBFS, 10 * Math.log10(energy / frame.length / (32768 * 32768)));
    return this.updateLevel(level);
  }

  /** Feeds one frame's level (dBFS) directly: for frames known to be silent, and for tests. */
  updateLevel(level: number): TalkState {
    const s = this.state;
    s.levelDbfs = level;
    const floor = this.trackFloor(level);
    s.noiseFloorDbfs = floor;
    const open = Math.max(this.absoluteDbfs, floor + this.marginDb);
    const above = level >= open;
    this.recentAbove = ((this.recentAbove << 1) | (above ? 1 : 0)) & 0b11111;
    if (above) {
      this.below = 0;
      s.gateOpen = true;
      if (!s.talking && popcount5(this.recentAbove) >= 3) s.talking = true;
    } else if (s.gateOpen) {
      if (level < open - 3) this.below++;
      else this.below = 0;
      const hangover = s.talking ? this.hangoverFrames : 5;
      if (this.below >= hangover) {
        s.gateOpen = false;
        s.talking = false;
        this.below = 0;
      }
    }
    return s;
  }

  /**
   * The floor rises only from completed one-second minima once 5 s of them exist (so a caller who
   * starts talking at once is not taken for background), and falls at once with a quieter frame.
   */
  private trackFloor(level: number): number {
    if (level < this.currentBlockMin) this.currentBlockMin = level;
    if (++this.blockFrames >= FLOOR_BLOCK_FRAMES) {
      this.blockMins[this.blockIndex] = this.currentBlockMin;
      this.blockIndex = (this.blockIndex + 1) % FLOOR_BLOCKS;
      if (this.blocksDone < FLOOR_BLOCKS) this.blocksDone++;
      this.blockFrames = 0;
      this.currentBlockMin = Infinity;
    }
    if (this.blocksDone < FLOOR_BLOCKS) return SILENCE_DBFS;
    let floor = this.currentBlockMin;
    for (let i = 0; i < FLOOR_BLOCKS; i++) if (this.blockMins[i]! < floor) floor = this.blockMins[i]!;
    return floor;
  }
}

function popcount5(bits: number): number {
  return (bits & 1) + ((bits >> 1) & 1) + ((bits >> 2) & 1) + ((bits >> 3) & 1) + ((bits >> 4) & 1);
}
