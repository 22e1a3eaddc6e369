/**
 * Which music a room plays (issue 17): its `waitMusic` (a caller alone in the room, or waiting for
 * the moderator) and `holdMusic` (a caller on hold), clip names from the audio library stored with
 * the room in the directory; else the server's WAIT_MUSIC / HOLD_MUSIC; else the wait chime and
 * silence. Kept here in memory for the open rooms, so the mixer's side asks synchronously.
 *
 * The directory answers asynchronously: a room's first moments run on the server's defaults, then
 * `changed` says its music was read (RoomAudio restarts a lone caller's wait loop on it).
 */
import { EventEmitter } from 'node:events';
import { waitLoop } from '../audio/tones.js';
import type { Conference } from '../conference/conference.js';
import type { Room } from '../conference/room.js';
import type { Logger } from '../log.js';
import type { RoomDirectory, RoomRecord } from '../rooms/directory.js';
import type { AudioLibrary } from './audioLibrary.js';

export interface RoomMusicSettings {
  waitMusic: string | null;
  holdMusic: string | null;
}

export interface RoomMusicOptions {
  conference: Conference;
  directory: RoomDirectory;
  library: AudioLibrary;
  log: Logger;
  /** The server's defaults (WAIT_MUSIC, HOLD_MUSIC): clip names, or null for the chime / silence. */
  defaults: RoomMusicSettings;
}

export interface RoomMusicEvents {
  /** The room's wait music may differ from what is playing: play it again. */
  changed: [room: Room];
}

/** The music settings a stored room asks for (null: the server's). */
export function roomMusicOf(record: RoomRecord | null): RoomMusicSettings {
  return { waitMusic: record?.waitMusic ?? null, holdMusic: record?.holdMusic ?? null };
}

export class RoomMusic extends EventEmitter<RoomMusicEvents> {
  /** Open rooms' own settings, once read from the directory. */
  private readonly settings = new Map<string, RoomMusicSettings>();
  /** The wait audio each open room was last told about: `changed` only when it differs. */
  private readonly waitInForce = new Map<string, Int16Array | null>();
  private readonly chime = waitLoop();

  constructor(private readonly options: RoomMusicOptions) {
    super();
    const { conference, directory, library, log } = options;
    conference.on('roomOpened', (room) => {
      this.waitInForce.set(room.id, this.waitMusicOf(room.id));
      this.applyHold(room);
      directory.get(room.id).then(
        (record) => {
          if (room.isClosed || !record || (record.waitMusic == null && record.holdMusic == null)) return;
          this.set(room.id, roomMusicOf(record));
        },
        (error: unknown) => log.warn({ room: room.id, err: error instanceof Error ? error.message : String(error) }, 'room music not read: server defaults'),
      );
    });
    conference.on('roomClosed', (room) => {
      this.settings.delete(room.id);
      this.waitInForce.delete(room.id);
    });
    // A clip added, replaced or deleted: every open room looks its music up again.
    library.on('changed', () => {
      for (const room of conference.listRooms()) this.refresh(room);
    });
  }

  /** A room's settings changed (read at opening, or PATCHed): applied at once if it is open. */
  set(roomId: string, settings: RoomMusicSettings): void {
    const room = this.options.conference.room(roomId);
    if (!room) return;
    this.settings.set(roomId, settings);
    this.refresh(room);
  }

  /** Hold music applied; `changed` when the wait music is another clip than before. */
  private refresh(room: Room): void {
    this.applyHold(room);
    const wait = this.waitMusicOf(room.id);
    if (this.waitInForce.get(room.id) === wait) return;
    this.waitInForce.set(room.id, wait);
    this.emit('changed', room);
  }

  private waitMusicOf(roomId: string): Int16Array | null {
    return this.clip(this.settings.get(roomId)?.waitMusic ?? null, this.options.defaults.waitMusic);
  }

  /**
   * What a caller waiting in `roomId` hears, looped: the room's wait music, the server's, or the
   * wait chime. The one question the moderation's "waiting for the moderator" asks.
   */
  waitAudioFor(roomId: string): Int16Array {
    return this.waitMusicOf(roomId) ?? this.chime;
  }

  /** True when the room or the server names wait music (not just the chime). */
  hasWaitMusic(roomId: string): boolean {
    return this.waitMusicOf(roomId) !== null;
  }

  /** What a caller on hold in `roomId` hears, looped; null: silence. */
  holdAudioFor(roomId: string): Int16Array | null {
    return this.clip(this.settings.get(roomId)?.holdMusic ?? null, this.options.defaults.holdMusic);
  }

  private applyHold(room: Room): void {
    room.setHoldMusic(this.holdAudioFor(room.id));
  }

  /** The room's clip, else the server's; a name no longer in the library is skipped. */
  private clip(own: string | null, server: string | null): Int16Array | null {
    const library = this.options.library;
    return (own !== null ? library.get(own) : undefined) ?? (server !== null ? library.get(server) : undefined) ?? null;
  }
}
