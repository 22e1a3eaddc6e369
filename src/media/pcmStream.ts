/**
 * A program's raw PCM on the wire (`audio/L16`: 16-bit little-endian, mono, 8 or 16 kHz), to and
 * from the mixer's 8 kHz frames. Phones never come here: their mu-law path is untouched.
 *
 * In: payload bytes of any even length are gathered into 20 ms frames at the wire rate, brought
 * to 8 kHz (16 kHz: a 2:1 decimator, audio/halfband.ts) and handed on. Out: the mix's 8 kHz PCM
 * (not its mu-law) brought to the wire rate and written little-endian. Every buffer is made once,
 * per stream: nothing is allocated per frame but the base64 text the socket sends.
 *
 * Unlike a phone's mu-law (reframer.ts) the audio is taken in order: a program sends a steady
 * stream, and gaps in its `timestamp` are not filled.
 */
import { FRAME_MS, SAMPLES_PER_FRAME, streamRateHz, type StreamFormat } from '../audio/format.js';
import { Decimator2, Interpolator2 } from '../audio/halfband.js';

export class PcmStream {
  /** Samples per 20 ms at the wire rate (160 or 320). */
  readonly wireSamplesPerFrame: number;
  private readonly wireFrame: Int16Array;
  private filled = 0;
  private readonly frame8k = new Int16Array(SAMPLES_PER_FRAME);
  private readonly decimator: Decimator2 | null;
  private readonly interpolator: Interpolator2 | null;
  private readonly outPcm: Int16Array;
  private readonly outBytes: Buffer;

  constructor(
    readonly format: Exclude<StreamFormat, 'mulaw'>,
    private readonly onFrame: (frame8k: Int16Array) => void,
  ) {
    const rateHz = streamRateHz(format);
    this.wireSamplesPerFrame = (rateHz * FRAME_MS) / 1000;
    this.wireFrame = new Int16Array(this.wireSamplesPerFrame);
    const up = rateHz !== 8000;
    this.decimator = up ? new Decimator2(this.wireSamplesPerFrame) : null;
    this.interpolator = up ? new Interpolator2(SAMPLES_PER_FRAME) : null;
    this.outPcm = new Int16Array(this.wireSamplesPerFrame);
    this.outBytes = Buffer.allocUnsafeSlow(2 * this.wireSamplesPerFrame);
  }

  /**
   * `bytes[0, length)` of one payload: whole little-endian samples, any number of them. False (and
   * nothing taken) for an odd byte count: not whole samples, the caller refuses the stream.
   */
  push(bytes: Uint8Array, length: number): boolean {
    if (length % 2 !== 0) return false;
    for (let i = 0; i < length; i += 2) this.take(bytes[i]! | (bytes[i + 1]! << 8));
    return true;
  }

  /** One 20 ms frame of the mix (8 kHz PCM) as base64 of little-endian samples at the wire rate. */
  encode(pcm8k: Int16Array): string {
    const out = this.outPcm;
    if (this.interpolator) this.interpolator.process(pcm8k, out);
    else out.set(pcm8k);
    const bytes = this.outBytes;
    for (let i = 0; i < out.length; i++) bytes.writeInt16LE(out[i]!, 2 * i);
    return bytes.toString('base64');
  }

  private take(unsigned16: number): void {
    // Two bytes, little-endian, as a signed sample.
    this.wireFrame[this.filled++] = (unsigned16 << 16) >> 16;
    if (this.filled < this.wireSamplesPerFrame) return;
    this.filled = 0;
    if (this.decimator) {
      this.decimator.process(this.wireFrame, this.frame8k);
      this.onFrame(this.frame8k);
    } else this.onFrame(this.wireFrame);
  }
}
