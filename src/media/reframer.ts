/**
 * Turns media payloads of any length into 20 ms frames (160 mu-law bytes), in order, and fills
 * gaps in Twilio's `timestamp` (ms since the stream started) with mu-law silence so the frames
 * keep their place in time.
 *
 * Twilio's timestamps advance ~19.97 ms per 20 ms frame (its clock, not ours), so only a gap of
 * half a frame or more is filled. A gap longer than `maxGapFillMs` is a discontinuity (the
 * caller's audio was missing for longer than the input buffer holds, and the mixer has already
 * played silence for it in real time): it is not filled, only counted. Timestamps that go
 * backwards (by half a frame or more) are not filled either; both count as discontinuities.
 */
import { SAMPLES_PER_FRAME, SAMPLE_RATE_HZ } from '../audio/format.js';
import { MULAW_SILENCE } from '../audio/mulaw.js';

const SAMPLES_PER_MS = SAMPLE_RATE_HZ / 1000;

export interface ReframerStats {
  bytesIn: number;
  framesOut: number;
  /** Silence samples inserted for timestamp gaps. */
  gapFillSamples: number;
  /** Gaps too long to fill, and timestamps that went backwards. */
  discontinuities: number;
}

export class Reframer {
  private readonly frame = new Uint8Array(SAMPLES_PER_FRAME);
  private filled = 0;
  private expectedTimestampMs: number | null = null;
  readonly stats: ReframerStats = { bytesIn: 0, framesOut: 0, gapFillSamples: 0, discontinuities: 0 };

  constructor(
    private readonly onFrame: (frame: Uint8Array) => void,
    private readonly maxGapFillMs = 100,
  ) {}

  /**
   * Adds one payload (its first `length` bytes; default all) whose first sample is at
   * `timestampMs`. `onFrame` gets a reused buffer, or the payload itself when it is one whole
   * frame (160 bytes long) at a frame boundary: read it before returning.
   */
  push(payload: Uint8Array, timestampMs: number, length = payload.length): void {
    if (this.expectedTimestampMs !== null) {
      const gapMs = timestampMs - this.expectedTimestampMs;
      if (gapMs >= 10 && gapMs <= this.maxGapFillMs) this.fill(MULAW_SILENCE, Math.round(gapMs * SAMPLES_PER_MS));
      else if (gapMs > this.maxGapFillMs || gapMs <= -10) this.stats.discontinuities++;
    }
    this.expectedTimestampMs = timestampMs + length / SAMPLES_PER_MS;
    this.stats.bytesIn += length;
    if (length === SAMPLES_PER_FRAME && payload.length === SAMPLES_PER_FRAME && this.filled === 0) {
      // Twilio's own 20 ms payloads: passed on as they are, no copy.
      this.stats.framesOut++;
      this.onFrame(payload);
      return;
    }
    const frame = this.frame;
    let offset = 0;
    while (offset < length) {
      const take = Math.min(SAMPLES_PER_FRAME - this.filled, length - offset);
      for (let i = 0; i < take; i++) frame[this.filled + i] = payload[offset + i]!;
      this.filled += take;
      offset += take;
      if (this.filled === SAMPLES_PER_FRAME) this.emit();
    }
  }

  private fill(code: number, samples: number): void {
    this.stats.gapFillSamples += samples;
    while (samples > 0) {
      const take = Math.min(SAMPLES_PER_FRAME - this.filled, samples);
      this.frame.fill(code, this.filled, this.filled + take);
      this.filled += take;
      samples -= take;
      if (this.filled === SAMPLES_PER_FRAME) this.emit();
    }
  }

  private emit(): void {
    this.filled = 0;
    this.stats.framesOut++;
    this.onFrame(this.frame);
  }
}
