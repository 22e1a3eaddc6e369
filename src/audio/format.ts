/** The one audio format on the wire and in the mixer: Twilio Media Streams' 8 kHz mono mu-law. */
export const SAMPLE_RATE_HZ = 8000;
/** The mixer's frame: 20 ms, the size Twilio sends. */
export const FRAME_MS = 20;
export const SAMPLES_PER_FRAME = (SAMPLE_RATE_HZ * FRAME_MS) / 1000; // 160
/** Full scale of a 16-bit sample, the 0 dBFS reference for levels. */
export const FULL_SCALE = 32768;
