/**
 * WAV (RIFF) reading and writing, as pure functions on bytes.
 *
 * Reading accepts what sound tools commonly write: integer PCM of 8, 16, 24 or 32 bits, 32/64-bit
 * float, and G.711 mu-law, any number of channels (mixed down to mono by averaging), and
 * WAVE_FORMAT_EXTENSIBLE headers. Writing produces 16-bit PCM mono.
 */
import { clip16 } from './format.js';
import { MULAW_DECODE } from './mulaw.js';

export interface PcmAudio {
  sampleRateHz: number;
  /** Mono samples, full scale +/-32768. */
  samples: Int16Array;
}

export class WavFormatError extends Error {
  override name = 'WavFormatError';
}

const FORMAT_PCM = 1;
const FORMAT_FLOAT = 3;
const FORMAT_MULAW = 7;
const FORMAT_EXTENSIBLE = 0xfffe;

/** Parses a WAV file into mono 16-bit samples at the file's own rate. */
export function parseWav(bytes: Uint8Array): PcmAudio {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const tag = (offset: number) => String.fromCharCode(...bytes.subarray(offset, offset + 4));
  if (bytes.length < 12 || tag(0) !== 'RIFF' || tag(8) !== 'WAVE') {
    throw new WavFormatError('not a RIFF/WAVE file');
  }
  let format = 0;
  let channels = 0;
  let sampleRateHz = 0;
  let bitsPerSample = 0;
  let data: Uint8Array | null = null;
  let offset = 12;
  while (offset + 8 <= bytes.length) {
    const id = tag(offset);
    const size = view.getUint32(offset + 4, true);
    const body = offset + 8;
    if (id === 'fmt ') {
      if (size < 16 || body + 16 > bytes.length) throw new WavFormatError('fmt chunk too short or cut off');
      format = view.getUint16(body, true);
      channels = view.getUint16(body + 2, true);
      sampleRateHz = view.getUint32(body + 4, true);
      bitsPerSample = view.getUint16(body + 14, true);
      if (format === FORMAT_EXTENSIBLE && size >= 26 && body + 26 <= bytes.length) format = view.getUint16(body + 24, true);
    } else if (id === 'data') {
      // Streaming writers leave the size at 0 or 0xFFFFFFFF: take what is there.
      const end = size === 0 || body + size > bytes.length ? bytes.length : body + size;
      data = bytes.subarray(body, end);
    }
    offset = body + size + (size & 1);
  }
  if (!format) throw new WavFormatError('no fmt chunk');
  if (!data) throw new WavFormatError('no data chunk');
  if (channels < 1) throw new WavFormatError('no channels');
  if (sampleRateHz < 1) throw new WavFormatError('no sample rate');

  const bytesPerSample = bitsPerSample / 8;
  let read: (at: number) => number;
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  if (format === FORMAT_PCM && bitsPerSample === 16) read = (at) => dv.getInt16(at, true);
  else if (format === FORMAT_PCM && bitsPerSample === 8) read = (at) => (dv.getUint8(at) - 128) * 256;
  else if (format === FORMAT_PCM && bitsPerSample === 24) {
    read = (at) => ((dv.getUint8(at + 2) << 24) | (dv.getUint8(at + 1) << 16) | (dv.getUint8(at) << 8)) >> 16;
  } else if (format === FORMAT_PCM && bitsPerSample === 32) read = (at) => dv.getInt32(at, true) / 65536;
  else if (format === FORMAT_FLOAT && bitsPerSample === 32) read = (at) => dv.getFloat32(at, true) * 32768;
  else if (format === FORMAT_FLOAT && bitsPerSample === 64) read = (at) => dv.getFloat64(at, true) * 32768;
  else if (format === FORMAT_MULAW && bitsPerSample === 8) read = (at) => MULAW_DECODE[dv.getUint8(at)]!;
  else throw new WavFormatError(`unsupported encoding: format ${format}, ${bitsPerSample} bits`);

  const frameBytes = bytesPerSample * channels;
  const frames = Math.floor(data.length / frameBytes);
  const samples = new Int16Array(frames);
  for (let i = 0; i < frames; i++) {
    let sum = 0;
    for (let c = 0; c < channels; c++) sum += read(i * frameBytes + c * bytesPerSample);
    samples[i] = clip16(Math.round(sum / channels));
  }
  return { sampleRateHz, samples };
}

/** The 44-byte header of a 16-bit PCM mono WAV holding `sampleCount` samples. */
export function wavHeader(sampleRateHz: number, sampleCount: number): Uint8Array {
  const header = new Uint8Array(44);
  const view = new DataView(header.buffer);
  const dataBytes = sampleCount * 2;
  const ascii = (offset: number, text: string) => {
    for (let i = 0; i < text.length; i++) header[offset + i] = text.charCodeAt(i);
  };
  ascii(0, 'RIFF');
  view.setUint32(4, 36 + dataBytes, true);
  ascii(8, 'WAVE');
  ascii(12, 'fmt ');
  view.setUint32(16, 16, true);
  view.setUint16(20, FORMAT_PCM, true);
  view.setUint16(22, 1, true);
  view.setUint32(24, sampleRateHz, true);
  view.setUint32(28, sampleRateHz * 2, true);
  view.setUint16(32, 2, true);
  view.setUint16(34, 16, true);
  ascii(36, 'data');
  view.setUint32(40, dataBytes, true);
  return header;
}

/** Encodes mono 16-bit samples as a complete WAV file. */
export function encodeWav(audio: PcmAudio): Uint8Array {
  const out = new Uint8Array(44 + audio.samples.length * 2);
  out.set(wavHeader(audio.sampleRateHz, audio.samples.length), 0);
  const view = new DataView(out.buffer);
  for (let i = 0; i < audio.samples.length; i++) view.setInt16(44 + i * 2, audio.samples[i]!, true);
  return out;
}
