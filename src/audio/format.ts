/** The one audio format on the wire and in the mixer: Twilio Media Streams' 8 kHz mono mu-law. */
export const SAMPLE_RATE_HZ = 8000;
/** The mixer's frame: 20 ms, the size Twilio sends. */
export const FRAME_MS = 20;
export const SAMPLES_PER_FRAME = (SAMPLE_RATE_HZ * FRAME_MS) / 1000; // 160
/** Full scale of a 16-bit sample, the 0 dBFS reference for levels. */
export const FULL_SCALE = 32768;

/**
 * `v` limited to a 16-bit sample (-32768..32767): the one place a sum or a gain meets the range.
 * Integers in, integer out; round first where `v` has fractions. Small enough for V8 to inline
 * into the mixer's loops (no allocation, no call left on the 20 ms path).
 */
export function clip16(v: number): number {
  return v > 32767 ? 32767 : v < -32768 ? -32768 : v;
}

/**
 * The audio a stream carries on the wire: Twilio's 8 kHz mu-law (every phone and browser), or,
 * for a program with a ticket that says so, raw 16-bit little-endian PCM at 8 or 16 kHz
 * (`audio/L16`). Inside, the mixer only ever sees 8 kHz PCM.
 */
export type StreamFormat = 'mulaw' | 'pcm16-8k' | 'pcm16-16k';
export const STREAM_FORMATS: readonly StreamFormat[] = ['mulaw', 'pcm16-8k', 'pcm16-16k'];

/** The wire sample rate of `format` (Hz). */
export function streamRateHz(format: StreamFormat): number {
  return format === 'pcm16-16k' ? 16_000 : SAMPLE_RATE_HZ;
}
