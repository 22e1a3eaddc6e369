/**
 * G.711 mu-law, the codec of Twilio Media Streams (audio/x-mulaw, 8000 Hz, mono).
 *
 * Both directions are table lookups: a 256-entry decode table and a 64K-entry encode table indexed
 * by the 16-bit sample. The tables are computed here from the G.711 definition (bias 0x84, clip
 * 32635, eight segments) and tested for every code and every 16-bit input against alawmulaw, the
 * reference implementation (test/unit/mulaw.test.ts).
 */

/** The mu-law code for linear 0 ("+0"). Twilio's own silence alternates 0xFF and 0x7F ("-0"). */
export const MULAW_SILENCE = 0xff;

const BIAS = 0x84;
const CLIP = 32635;

function encodeSampleG711(sample: number): number {
  let sign = 0;
  let magnitude = sample;
  if (magnitude < 0) {
    sign = 0x80;
    magnitude = -magnitude;
  }
  magnitude += BIAS;
  if (magnitude > CLIP) magnitude = CLIP;
  // Segment (exponent) = position of the highest set bit above bit 7, 0..7.
  const exponent = Math.max(0, 31 - Math.clz32(magnitude) - 7);
  const mantissa = (magnitude >> (exponent + 3)) & 0x0f;
  return ~(sign | (exponent << 4) | mantissa) & 0xff;
}

function decodeSampleG711(code: number): number {
  const inverted = ~code & 0xff;
  const exponent = (inverted >> 4) & 0x07;
  const mantissa = inverted & 0x0f;
  const magnitude = (((mantissa << 3) + BIAS) << exponent) - BIAS;
  return inverted & 0x80 ? -magnitude : magnitude;
}

/** Linear value of each mu-law code. */
export const MULAW_DECODE: Int16Array = new Int16Array(256);
for (let code = 0; code < 256; code++) MULAW_DECODE[code] = decodeSampleG711(code);

/** Mu-law code of each 16-bit sample, indexed by `sample & 0xffff`. */
export const MULAW_ENCODE: Uint8Array = new Uint8Array(65536);
for (let i = 0; i < 65536; i++) MULAW_ENCODE[i] = encodeSampleG711((i << 16) >> 16);

/** Decodes `src` mu-law codes into `dst` (at least as long). Allocates nothing. */
export function decodeMulaw(src: Uint8Array, dst: Int16Array): void {
  for (let i = 0; i < src.length; i++) dst[i] = MULAW_DECODE[src[i]!]!;
}

/** Encodes `src` 16-bit samples into `dst` mu-law codes (at least as long). Allocates nothing. */
export function encodeMulaw(src: Int16Array, dst: Uint8Array): void {
  for (let i = 0; i < src.length; i++) dst[i] = MULAW_ENCODE[src[i]! & 0xffff]!;
}

/** A new mu-law array of `pcm`: for tools and tests (the 20 ms path encodes into its own buffers). */
export function toMulaw(pcm: Int16Array): Uint8Array {
  const out = new Uint8Array(pcm.length);
  encodeMulaw(pcm, out);
  return out;
}

/** A new PCM array of `mulaw`: for tools and tests (the 20 ms path decodes into its own buffers). */
export function fromMulaw(mulaw: Uint8Array): Int16Array {
  const out = new Int16Array(mulaw.length);
  decodeMulaw(mulaw, out);
  return out;
}
