/**
 * The audio library (issue 17): named clips of 8 kHz mono PCM that rooms play as wait music, hold
 * music and announcements. Two kinds:
 *
 * - bundled: `wait` and `hold`, synthesized by tools/make-library-music.ts and shipped beside this
 *   file (bundled/*.wav); always there, never replaced or deleted;
 * - uploaded: an operator's WAV (any rate, channels, 8 to 32 bits, float or mu-law), converted ONCE
 *   to 8 kHz mono 16-bit and stored as `<AUDIO_DIR>/<name>.wav`, so it survives a restart.
 *
 * Conversion runs in a worker thread (convertWorker.ts): the windowed-sinc resampler takes ~16 us
 * per output sample from 48 kHz (a minute of audio: ~8 s of CPU), which must never hold up the
 * mixer's 20 ms clock nor count as the mixer's load. Clips live in memory (an 8 kHz minute is 960 KB) and are handed out as they are; the room
 * only reads them.
 */
import { EventEmitter } from 'node:events';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { rename, unlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { SAMPLE_RATE_HZ } from '../audio/format.js';
import { encodeWav, parseWav, WavFormatError } from '../audio/wav.js';
import { AppError } from '../errors.js';
import type { Logger } from '../log.js';

/** A clip's name: what the admin API, the room settings and announcements call it. */
export const AUDIO_NAME_PATTERN = /^[a-z0-9][a-z0-9_-]{0,63}$/;
export const AUDIO_NAME_RULE = 'an audio name is 1 to 64 of a-z, 0-9, "-" and "_", starting with a letter or digit';

/** The clips shipped with the server. */
export const BUNDLED_AUDIO = ['wait', 'hold'] as const;

const BUNDLED_DIR = join(dirname(fileURLToPath(import.meta.url)), 'bundled');

/** The spoken prompts shipped with the server (tools/make-prompts.sh), not in the library's list. */
export type BundledPrompt = 'moderator-muted';

/** A bundled spoken prompt, 8 kHz mono (read from bundled/prompts/ at start). */
export function bundledPrompt(name: BundledPrompt): Int16Array {
  const audio = parseWav(readFileSync(join(BUNDLED_DIR, 'prompts', `${name}.wav`)));
  if (audio.sampleRateHz !== SAMPLE_RATE_HZ) throw new Error(`bundled prompt ${name}: not 8 kHz (run npm run prompts)`);
  return audio.samples;
}
/** Under tsx (tests, development) this module is .ts; built (dist/) it is .js. */
const UNDER_TSX = import.meta.url.endsWith('.ts');
/** The worker beside this module. */
const WORKER_URL = new URL(`./convertWorker${UNDER_TSX ? '.ts' : '.js'}`, import.meta.url);
/**
 * Under tsx a worker does not inherit its loader (Node 20): it registers it, then loads the .ts.
 * Built, the worker is plain JavaScript.
 */
const workerEntry = (): { entry: string | URL; eval: boolean } =>
  UNDER_TSX
    ? { entry: `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(WORKER_URL.href)}); })`, eval: true }
    : { entry: WORKER_URL, eval: false };

export interface AudioInfo {
  name: string;
  bundled: boolean;
  durationMs: number;
}

export interface AudioLibraryEvents {
  /** A clip was added, replaced or deleted: rooms using it look it up again. */
  changed: [name: string];
}

export interface AudioLibraryOptions {
  /** Where uploads are stored (AUDIO_DIR); created if missing. */
  dir: string;
  log: Logger;
}

export class AudioLibrary extends EventEmitter<AudioLibraryEvents> {
  private readonly clips = new Map<string, { pcm: Int16Array; bundled: boolean }>();
  /** Names being uploaded now: a second upload of the same name waits its turn (409). */
  private readonly uploading = new Set<string>();

  /** Loads the bundled clips and every stored upload (synchronously: at start only). */
  constructor(private readonly options: AudioLibraryOptions) {
    super();
    for (const name of BUNDLED_AUDIO) {
      const audio = parseWav(readFileSync(join(BUNDLED_DIR, `${name}.wav`)));
      this.clips.set(name, { pcm: audio.samples, bundled: true });
    }
    mkdirSync(options.dir, { recursive: true });
    for (const file of readdirSync(options.dir)) {
      const name = file.replace(/\.wav$/, '');
      if (!file.endsWith('.wav') || !AUDIO_NAME_PATTERN.test(name) || this.clips.has(name)) continue;
      try {
        const audio = parseWav(readFileSync(join(options.dir, file)));
        if (audio.sampleRateHz !== SAMPLE_RATE_HZ) throw new WavFormatError(`stored at ${audio.sampleRateHz} Hz, not 8000`);
        this.clips.set(name, { pcm: audio.samples, bundled: false });
      } catch (error) {
        options.log.warn(
          { file: join(options.dir, file), err: error instanceof Error ? error.message : String(error) },
          'audio library: stored clip not loaded',
        );
      }
    }
    options.log.info({ dir: options.dir, clips: this.clips.size }, 'audio library loaded');
  }

  /** The clip's 8 kHz PCM, or undefined. */
  get(name: string): Int16Array | undefined {
    return this.clips.get(name)?.pcm;
  }

  has(name: string): boolean {
    return this.clips.has(name);
  }

  /** Every clip, by name. */
  list(): AudioInfo[] {
    return [...this.clips.keys()].sort().map((name) => this.info(name)!);
  }

  info(name: string): AudioInfo | null {
    const clip = this.clips.get(name);
    return clip ? { name, bundled: clip.bundled, durationMs: Math.round((clip.pcm.length * 1000) / SAMPLE_RATE_HZ) } : null;
  }

  /**
   * Stores a WAV under `name` (replacing an upload of that name): parsed, converted to 8 kHz mono,
   * written to disk, then usable. BAD_REQUEST for a bad name or WAV, CONFLICT for a bundled name or
   * an upload of the same name still converting.
   */
  async put(name: string, bytes: Uint8Array): Promise<AudioInfo & { replaced: boolean; sourceRateHz: number }> {
    checkName(name);
    if (this.clips.get(name)?.bundled) throw new AppError('CONFLICT', `"${name}" is a bundled clip: upload under another name`);
    if (this.uploading.has(name)) throw new AppError('CONFLICT', `"${name}" is being uploaded already`);
    this.uploading.add(name);
    try {
      let audio: { sampleRateHz: number; samples: Int16Array };
      try {
        audio = parseWav(bytes);
      } catch (error) {
        if (error instanceof WavFormatError) throw new AppError('BAD_REQUEST', `not a WAV this server reads: ${error.message}`);
        throw error;
      }
      if (audio.samples.length === 0) throw new AppError('BAD_REQUEST', 'the WAV holds no samples');
      const pcm = await toTelephoneRate(audio.samples, audio.sampleRateHz);
      const path = join(this.options.dir, `${name}.wav`);
      const temporary = `${path}.${process.pid}.tmp`;
      await writeFile(temporary, encodeWav({ sampleRateHz: SAMPLE_RATE_HZ, samples: pcm }));
      await rename(temporary, path);
      const replaced = this.clips.has(name);
      this.clips.set(name, { pcm, bundled: false });
      this.emit('changed', name);
      return { ...this.info(name)!, replaced, sourceRateHz: audio.sampleRateHz };
    } finally {
      this.uploading.delete(name);
    }
  }

  /** Deletes an upload; false when there is none. CONFLICT for a bundled clip. */
  async delete(name: string): Promise<boolean> {
    const clip = this.clips.get(name);
    if (!clip) return false;
    if (clip.bundled) throw new AppError('CONFLICT', `"${name}" is a bundled clip and cannot be deleted`);
    this.clips.delete(name);
    await unlink(join(this.options.dir, `${name}.wav`)).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOENT') throw error;
    });
    this.emit('changed', name);
    return true;
  }
}

/** BAD_REQUEST unless `name` is a valid clip name. */
export function checkName(name: string): void {
  if (!AUDIO_NAME_PATTERN.test(name)) throw new AppError('BAD_REQUEST', AUDIO_NAME_RULE);
}

/** `samples` at 8 kHz, converted in a worker thread. */
function toTelephoneRate(samples: Int16Array, fromHz: number): Promise<Int16Array> {
  if (fromHz === SAMPLE_RATE_HZ) return Promise.resolve(samples);
  return new Promise((resolve, reject) => {
    const { entry, eval: isCode } = workerEntry();
    const worker = new Worker(entry, { eval: isCode, workerData: { samples, fromHz } });
    worker.once('message', (out: Int16Array) => resolve(out));
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`audio conversion worker exited with code ${code}`)));
  });
}
