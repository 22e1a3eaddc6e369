/**
 * A WAV file (16-bit PCM mono) written as it is recorded.
 *
 * The header goes out first with the streaming writers' "length unknown" sizes (0xFFFFFFFF), so
 * the file is a valid, readable WAV from its first byte on; samples are copied into memory by
 * `push` (synchronous, no I/O: safe on the mixer's 20 ms path) and written by an async flush every
 * `flushIntervalMs`, so a crash loses at most that much. A clean `close()` writes the last samples
 * and the true sizes; `repairWav` fixes the sizes of a file left by a crash.
 */
import { open, stat, type FileHandle } from 'node:fs/promises';
import { wavHeader } from '../audio/wav.js';

/** Bytes of the header `wavHeader` writes. */
export const WAV_HEADER_BYTES = 44;
/** Sizes a streaming writer puts in the header while the length is unknown. */
const UNKNOWN_SIZE = 0xffffffff;

export interface WavFileWriterOptions {
  sampleRateHz: number;
  /** Pending samples are written this often (ms): at most this much is lost in a crash. */
  flushIntervalMs?: number;
  /** Called once if a write fails (the writer then stops writing). */
  onError?: (error: unknown) => void;
}

export class WavFileWriter {
  private handle: Promise<FileHandle>;
  /** Filled by push(); one second of audio per chunk. */
  private chunk: Buffer;
  private chunkBytes = 0;
  private readonly pending: Buffer[] = [];
  private writing: Promise<void> = Promise.resolve();
  private readonly timer: NodeJS.Timeout;
  private failed = false;
  private closing: Promise<void> | null = null;
  /** Samples accepted so far. */
  samples = 0;
  /** Bytes of audio on disk so far. */
  bytesWritten = 0;

  constructor(
    readonly path: string,
    private readonly options: WavFileWriterOptions,
  ) {
    this.chunk = Buffer.allocUnsafe(options.sampleRateHz * 2);
    this.handle = open(path, 'wx').then(async (fh) => {
      const header = wavHeader(options.sampleRateHz, 0);
      const view = new DataView(header.buffer, header.byteOffset, header.byteLength);
      view.setUint32(4, UNKNOWN_SIZE, true);
      view.setUint32(40, UNKNOWN_SIZE, true);
      await fh.write(header, 0, header.length, 0);
      return fh;
    });
    this.handle.catch((error) => this.fail(error));
    this.timer = setInterval(() => this.flush(), options.flushIntervalMs ?? 500);
    this.timer.unref();
  }

  /** Appends samples (copied; no I/O here). */
  push(pcm: Int16Array): void {
    if (this.closing || this.failed) return;
    for (let i = 0; i < pcm.length; i++) {
      if (this.chunkBytes === this.chunk.length) this.rotate();
      this.chunk.writeInt16LE(pcm[i]!, this.chunkBytes);
      this.chunkBytes += 2;
    }
    this.samples += pcm.length;
  }

  /** Appends `count` samples of silence. */
  pushSilence(count: number): void {
    const zeros = new Int16Array(Math.min(count, 8000));
    for (let left = count; left > 0; left -= zeros.length) this.push(left >= zeros.length ? zeros : zeros.subarray(0, left));
  }

  /** Writes what is pending (async, in order). */
  flush(): Promise<void> {
    if (this.chunkBytes > 0) this.rotate();
    if (this.pending.length === 0 || this.failed) return this.writing;
    const buffers = this.pending.splice(0);
    this.writing = this.writing.then(async () => {
      if (this.failed) return;
      try {
        const fh = await this.handle;
        for (const b of buffers) {
          await fh.write(b, 0, b.length, WAV_HEADER_BYTES + this.bytesWritten);
          this.bytesWritten += b.length;
        }
      } catch (error) {
        this.fail(error);
      }
    });
    return this.writing;
  }

  /** Writes the rest and the true sizes, and closes the file. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      clearInterval(this.timer);
      await this.flush();
      let fh: FileHandle;
      try {
        fh = await this.handle;
      } catch {
        return;
      }
      try {
        if (!this.failed) await fh.write(wavHeader(this.options.sampleRateHz, this.bytesWritten / 2), 0, WAV_HEADER_BYTES, 0);
      } catch (error) {
        this.fail(error);
      } finally {
        await fh.close().catch(() => {});
      }
    })();
    return this.closing;
  }

  get durationSeconds(): number {
    return this.samples / this.options.sampleRateHz;
  }

  private rotate(): void {
    this.pending.push(this.chunk.subarray(0, this.chunkBytes));
    this.chunk = Buffer.allocUnsafe(this.chunk.length);
    this.chunkBytes = 0;
  }

  private fail(error: unknown): void {
    if (this.failed) return;
    this.failed = true;
    this.options.onError?.(error);
  }
}

/**
 * Rewrites the sizes in the header of a WAV this writer left (a crash: "unknown" sizes) from the
 * file's length. Returns the number of samples it holds.
 */
export async function repairWav(path: string): Promise<number> {
  const { size } = await stat(path);
  const dataBytes = Math.max(0, size - WAV_HEADER_BYTES) & ~1;
  const fh = await open(path, 'r+');
  try {
    const head = Buffer.alloc(WAV_HEADER_BYTES);
    await fh.read(head, 0, WAV_HEADER_BYTES, 0);
    if (head.toString('latin1', 0, 4) !== 'RIFF' || head.toString('latin1', 36, 40) !== 'data') throw new Error(`${path}: not a WAV written by this server`);
    head.writeUInt32LE(36 + dataBytes, 4);
    head.writeUInt32LE(dataBytes, 40);
    await fh.write(head, 0, WAV_HEADER_BYTES, 0);
    await fh.truncate(WAV_HEADER_BYTES + dataBytes);
  } finally {
    await fh.close();
  }
  return dataBytes / 2;
}
