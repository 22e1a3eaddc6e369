/**
 * Per-caller noise suppression (a room setting, NOISE_SUPPRESSION): SpeexDSP's preprocessor (speex_preprocess_run, denoise
 * on; its AGC, VAD and dereverberation off), the WebAssembly build that @sapphi-red/speex-preprocess-wasm
 * ships, loaded from the package's own file: nothing is fetched at run time.
 *
 * Why Speex and not RNNoise (measured before choosing, 8 kHz speech from the fixtures, this VM):
 * - cost: ~9 us per caller per 20 ms frame here, against ~350 us for RNNoise (@echogarden/rnnoise-
 *   wasm), which also needs resampling to and from 48 kHz;
 * - speech: Speex leaves clean speech within 0.1 dB at correlation 0.9999 and takes 0.25 dB off
 *   speech in noise; RNNoise kept clean telephone-band speech at correlation 0.98 and took 0.5 dB
 *   off speech in noise (it does take more noise out of the pauses: -19 dB against -12, car noise);
 * - Speex runs at 8 kHz natively, on 10 ms frames, for 10 ms of added delay.
 * What it does not do: it is a stationary-noise suppressor (spectral estimation with a noise floor
 * learnt over seconds), so it also turns down any sound that holds still, a held tone or a long
 * organ chord included (measured: a 1 kHz tone is taken down by the full attenuation within 5 s).
 * That is why it is a room setting that a music room leaves off.
 *
 * The WebAssembly module is compiled once when this file is imported (a top-level await of a
 * 57 KB module, a few milliseconds), so that a room can switch suppression on for a caller
 * synchronously, in the mixer's tick, whatever the server's default.
 *
 * No allocation per frame: samples are copied into and out of the module's memory by index.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { loadSpeexModule, type SpeexModule } from '@sapphi-red/speex-preprocess-wasm';
import { SAMPLE_RATE_HZ, SAMPLES_PER_FRAME } from './format.js';

/** Speex's frame: 10 ms. Its output lags its input by one such frame. */
const SPEEX_FRAME = SAMPLE_RATE_HZ / 100;
/** Requests of speex_preprocess_ctl (speex/speex_preprocess.h). */
const SET_DENOISE = 0;
const SET_NOISE_SUPPRESS = 18;

/** Delay the suppressor adds to a caller's audio (ms). */
export const NOISE_SUPPRESSION_DELAY_MS = (SPEEX_FRAME / SAMPLE_RATE_HZ) * 1000;

const require = createRequire(import.meta.url);
const speex: SpeexModule = await loadSpeexModule({ wasmBinary: readFileSync(require.resolve('@sapphi-red/speex-preprocess-wasm/speex.wasm')) });

export interface NoiseSuppressorOptions {
  /** Most the noise is turned down (dB, positive). Default 25. */
  maxAttenuationDb?: number;
}

/** One caller's suppressor: process() 20 ms at a time; destroy() when the caller leaves. */
export class NoiseSuppressor {
  private state: number;
  /** Byte address of the 10 ms sample buffer in the module's memory. */
  private readonly buffer: number;

  constructor(options: NoiseSuppressorOptions = {}) {
    this.state = speex._speex_preprocess_state_init(SPEEX_FRAME, SAMPLE_RATE_HZ);
    this.buffer = speex._malloc(SPEEX_FRAME * 2 + 4);
    if (!this.state || !this.buffer) throw new Error('noise suppressor: out of WebAssembly memory');
    // AGC, VAD and dereverberation are off by default (and the VAD request prints a warning).
    this.ctl(SET_DENOISE, 1);
    this.ctl(SET_NOISE_SUPPRESS, -Math.round(options.maxAttenuationDb ?? 25));
  }

  /** Suppresses noise in one 20 ms frame, in place (the result lags by 10 ms). */
  process(frame: Int16Array): void {
    if (this.state === 0) return;
    const at = this.buffer >> 1;
    for (let offset = 0; offset < SAMPLES_PER_FRAME; offset += SPEEX_FRAME) {
      // Read the view each time: the module's memory (and so HEAP16) is replaced when it grows.
      let heap = speex.HEAP16;
      for (let i = 0; i < SPEEX_FRAME; i++) heap[at + i] = frame[offset + i]!;
      speex._speex_preprocess_run(this.state, this.buffer);
      heap = speex.HEAP16;
      for (let i = 0; i < SPEEX_FRAME; i++) frame[offset + i] = heap[at + i]!;
    }
  }

  /** Frees the suppressor's memory in the module. Idempotent. */
  destroy(): void {
    if (this.state === 0) return;
    speex._speex_preprocess_state_destroy(this.state);
    speex._free(this.buffer);
    this.state = 0;
  }

  private ctl(request: number, value: number): void {
    const at = this.buffer + SPEEX_FRAME * 2;
    speex.HEAP32[at >> 2] = value;
    if (speex._speex_preprocess_ctl(this.state, request, at) !== 0) throw new Error(`noise suppressor: speex_preprocess_ctl(${request}) failed`);
  }
}
