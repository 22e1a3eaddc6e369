/**
 * Room recordings: a room's full mix, after the limiter (what a silent listener hears), to WAV
 * (8 kHz, 16-bit mono) under RECORDINGS_DIR; optionally one track per participant (what each
 * caller said, silence while muted or on hold).
 *
 * The recorder is a tap on the room (Room.addTap): it is not a participant, so nobody hears it
 * join, no count includes it, and the room behaves exactly as unrecorded. Each tick it copies the
 * mix into memory; the files are written by each WavFileWriter's async flush, never on the 20 ms
 * path.
 *
 * Started on demand (admin API, dashboard) or for every room (RECORD_ROOMS=always); stopped on
 * demand, or when the last caller leaves (the recorder never keeps a room open), or when the room
 * is ended. Emits `started` and `stopped`.
 */
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { mkdir, readdir, rm, stat } from 'node:fs/promises';
import { join as joinPath } from 'node:path';
import { SAMPLE_RATE_HZ, SAMPLES_PER_FRAME } from '../audio/format.js';
import type { Conference } from '../conference/conference.js';
import type { LeaveReason } from '../conference/participant.js';
import type { Room, RoomTap } from '../conference/room.js';
import { AppError } from '../errors.js';
import type { Logger } from '../log.js';
import { WavFileWriter } from './wavFileWriter.js';

/** A recording id: what its file names start with. */
const ID_PATTERN = /^RE[0-9a-f]{16}$/;
/** `<id>.wav` (the mix) or `<id>.<track>.wav` (a participant's track). */
const FILE_PATTERN = /^(RE[0-9a-f]{16})(?:\.([A-Za-z0-9_-]{1,64}))?\.wav$/;
/** The JSON sidecar with the room and times. */
const META_SUFFIX = '.json';

export interface RecordingInfo {
  id: string;
  room: string;
  startedAt: string;
  stoppedAt: string | null;
  active: boolean;
  /** Seconds of audio recorded (of the mix). */
  durationSeconds: number;
  bytes: number;
  /** Per-participant tracks: seat number (or CallSid) -> file name. */
  tracks: string[];
}

export interface RecordingsEvents {
  started: [info: RecordingInfo];
  stopped: [info: RecordingInfo];
}

export interface RecordingsOptions {
  conference: Conference;
  dir: string;
  /** `always`: every room is recorded from its first caller. */
  mode: 'off' | 'always';
  /** Per-participant tracks by default. */
  tracks: boolean;
  log: Logger;
  /** How often buffered audio is written (ms); default 500. */
  flushIntervalMs?: number;
}

/** One room's recording in progress: a tap on the room's mix. */
class RoomRecorder implements RoomTap {
  readonly mixWriter: WavFileWriter;
  private readonly silence = new Int16Array(SAMPLES_PER_FRAME);
  readonly trackWriters = new Map<string, WavFileWriter>();
  private frames = 0;
  stoppedAt: string | null = null;
  private stopping: Promise<void> | null = null;

  constructor(
    readonly id: string,
    readonly room: Room,
    readonly startedAt: string,
    private readonly dir: string,
    private readonly withTracks: boolean,
    private readonly flushIntervalMs: number,
    private readonly onError: (error: unknown) => void,
  ) {
    this.mixWriter = this.writer(`${id}.wav`);
  }

  /** RoomTap: this tick's mix (what a listener who says nothing hears), after the limiter. */
  mix(pcm: Int16Array): void {
    if (this.stopping) return;
    this.mixWriter.push(pcm);
    if (this.withTracks) {
      // The tap runs after the tick: every participant's inputPcm is this tick's.
      const list = this.room.participants();
      for (let i = 0; i < list.length; i++) {
        const p = list[i]!;
        const name = p.info.seat !== undefined ? `seat${p.info.seat}` : p.callSid.replace(/[^A-Za-z0-9_-]/g, '').slice(0, 64);
        let track = this.trackWriters.get(name);
        if (!track) {
          track = this.writer(`${this.id}.${name}.wav`);
          track.pushSilence(this.frames * SAMPLES_PER_FRAME); // aligned with the mix
          this.trackWriters.set(name, track);
        }
        track.push(p.muted || p.onHold ? this.silence : p.inputPcm);
      }
      // Tracks of callers who left go on as silence, so every file stays aligned.
      for (const track of this.trackWriters.values()) if (track.samples < (this.frames + 1) * SAMPLES_PER_FRAME) track.push(this.silence);
    }
    this.frames++;
  }

  /** Closes every file (sizes written). Idempotent. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.stoppedAt = new Date().toISOString();
      await Promise.all([this.mixWriter.close(), ...[...this.trackWriters.values()].map((w) => w.close())]);
    })();
    return this.stopping;
  }

  info(): RecordingInfo {
    return {
      id: this.id,
      room: this.room.id,
      startedAt: this.startedAt,
      stoppedAt: this.stoppedAt,
      active: this.stopping === null,
      durationSeconds: Math.round(this.mixWriter.durationSeconds * 100) / 100,
      bytes: 44 + this.mixWriter.samples * 2,
      tracks: [...this.trackWriters.keys()],
    };
  }

  private writer(file: string): WavFileWriter {
    return new WavFileWriter(joinPath(this.dir, file), { sampleRateHz: SAMPLE_RATE_HZ, flushIntervalMs: this.flushIntervalMs, onError: this.onError });
  }
}

export class Recordings extends EventEmitter<RecordingsEvents> {
  private readonly active = new Map<string, RoomRecorder>();
  private ready: Promise<void> | null = null;

  constructor(private readonly options: RecordingsOptions) {
    super();
    const { conference } = options;
    conference.on('participantJoined', (_p, room) => {
      if (options.mode === 'always' && !this.active.has(room.id)) {
        this.start(room.id).catch((error) => options.log.error({ room: room.id, err: error }, 'recording: could not start'));
      }
    });
    // The room closes when its last caller leaves: the recording ends with it.
    conference.on('roomClosed', (room) => {
      const recorder = this.active.get(room.id);
      if (recorder && recorder.room === room) void this.finish(recorder, 'room-closed');
    });
  }

  /** Recordings being written now. */
  get activeCount(): number {
    return this.active.size;
  }

  isRecording(roomId: string): RecordingInfo | null {
    return this.active.get(roomId)?.info() ?? null;
  }

  /** Starts recording a live room. Throws AppError NOT_FOUND (no such live room) or CONFLICT. */
  async start(roomId: string, options: { tracks?: boolean } = {}): Promise<RecordingInfo> {
    const { conference, log } = this.options;
    await this.ensureDir();
    const room = conference.room(roomId);
    if (!room || room.size === 0) throw new AppError('NOT_FOUND', `room ${roomId} has nobody in it: a recording starts once callers are in`);
    if (this.active.has(roomId)) throw new AppError('CONFLICT', `room ${roomId} is being recorded already`);
    const id = `RE${randomBytes(8).toString('hex')}`;
    const startedAt = new Date().toISOString();
    // Synchronously from here to the tap: two starts cannot both pass the check above.
    const recorder = new RoomRecorder(
      id,
      room,
      startedAt,
      this.options.dir,
      options.tracks ?? this.options.tracks,
      this.options.flushIntervalMs ?? 500,
      (error) => log.error({ recording: id, room: roomId, err: error }, 'recording: write failed'),
    );
    this.active.set(roomId, recorder);
    room.addTap(recorder);
    await this.writeMeta(recorder.info());
    log.info({ recording: id, room: roomId, tracks: options.tracks ?? this.options.tracks }, 'recording started');
    this.emit('started', recorder.info());
    return recorder.info();
  }

  /** Stops a room's recording; resolves when its files are complete. */
  async stop(roomId: string): Promise<RecordingInfo> {
    const recorder = this.active.get(roomId);
    if (!recorder) throw new AppError('NOT_FOUND', `room ${roomId} is not being recorded`);
    return this.finish(recorder, 'left');
  }

  /** Stops every recording (shutdown). */
  async close(): Promise<void> {
    await Promise.all([...this.active.values()].map((r) => this.finish(r, 'shutdown')));
  }

  /** Every recording on disk, newest first. */
  async list(): Promise<RecordingInfo[]> {
    await this.ensureDir();
    const names = await readdir(this.options.dir);
    const byId = new Map<string, { tracks: string[]; bytes: number }>();
    for (const name of names) {
      const m = FILE_PATTERN.exec(name);
      if (!m) continue;
      const entry = byId.get(m[1]!) ?? { tracks: [], bytes: 0 };
      if (m[2]) entry.tracks.push(m[2]);
      else entry.bytes = (await stat(joinPath(this.options.dir, name)).catch(() => ({ size: 0 }))).size;
      byId.set(m[1]!, entry);
    }
    const live = new Map([...this.active.values()].map((r) => [r.id, r.info()]));
    const out: RecordingInfo[] = [];
    for (const [id, entry] of byId) {
      const info = live.get(id) ?? (await this.readMeta(id));
      const bytes = live.has(id) ? info.bytes : entry.bytes;
      out.push({
        ...info,
        bytes,
        durationSeconds: live.has(id) ? info.durationSeconds : Math.max(0, bytes - 44) / 2 / SAMPLE_RATE_HZ,
        tracks: entry.tracks.sort(),
      });
    }
    return out.sort((a, b) => (a.startedAt < b.startedAt ? 1 : -1));
  }

  /** The path of a recording's mix or one of its tracks; throws NOT_FOUND. */
  async filePath(id: string, track?: string): Promise<string> {
    if (!ID_PATTERN.test(id)) throw new AppError('NOT_FOUND', 'no such recording');
    if (track !== undefined && !/^[A-Za-z0-9_-]{1,64}$/.test(track)) throw new AppError('NOT_FOUND', 'no such track');
    const path = joinPath(this.options.dir, track ? `${id}.${track}.wav` : `${id}.wav`);
    await stat(path).catch(() => {
      throw new AppError('NOT_FOUND', track ? `recording ${id} has no track ${track}` : `no recording ${id}`);
    });
    return path;
  }

  /** Deletes a finished recording and its tracks; CONFLICT while it is being written. */
  async delete(id: string): Promise<void> {
    await this.filePath(id);
    if ([...this.active.values()].some((r) => r.id === id)) throw new AppError('CONFLICT', `recording ${id} is in progress: stop it first`);
    for (const name of await readdir(this.options.dir)) {
      if (name.startsWith(`${id}.`)) await rm(joinPath(this.options.dir, name), { force: true });
    }
    this.options.log.info({ recording: id }, 'recording deleted');
  }

  private async finish(recorder: RoomRecorder, reason: LeaveReason): Promise<RecordingInfo> {
    if (this.active.get(recorder.room.id) === recorder) {
      this.active.delete(recorder.room.id);
      recorder.room.removeTap(recorder);
      await recorder.stop();
      const info = recorder.info();
      await this.writeMeta(info).catch(() => {});
      this.options.log.info({ recording: info.id, room: info.room, seconds: info.durationSeconds, reason }, 'recording stopped');
      this.emit('stopped', info);
      return info;
    }
    await recorder.stop();
    return recorder.info();
  }

  private ensureDir(): Promise<void> {
    this.ready ??= mkdir(this.options.dir, { recursive: true }).then(() => {});
    return this.ready;
  }

  private async writeMeta(info: RecordingInfo): Promise<void> {
    const { writeFile } = await import('node:fs/promises');
    await writeFile(
      joinPath(this.options.dir, `${info.id}${META_SUFFIX}`),
      JSON.stringify({ id: info.id, room: info.room, startedAt: info.startedAt, stoppedAt: info.stoppedAt }),
    );
  }

  private async readMeta(id: string): Promise<RecordingInfo> {
    const { readFile } = await import('node:fs/promises');
    let meta: { room?: string; startedAt?: string; stoppedAt?: string | null } = {};
    try {
      meta = JSON.parse(await readFile(joinPath(this.options.dir, `${id}${META_SUFFIX}`), 'utf8'));
    } catch {
      // A recording whose sidecar is gone: still listed, by its id.
    }
    return {
      id,
      room: meta.room ?? '?',
      startedAt: meta.startedAt ?? '',
      stoppedAt: meta.stoppedAt ?? null,
      active: false,
      durationSeconds: 0,
      bytes: 0,
      tracks: [],
    };
  }
}
