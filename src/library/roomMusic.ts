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
  private readonly chime = waitLoop();

  constructor(private readonly options: RoomMusicOptions) {
    super();
    const { conference, directory, library, log } = options;
    conference.on('roomOpened', (room) => {
      this.applyHold(room);
      directory.get(room.id).then(
        (record) => {
          if (room.isClosed || !record || (record.waitMusic == null && record.holdMusic == null)) return;
          this.set(room.id, roomMusicOf(record));
        },
        (error: unknown) => log.warn({ room: room.id, err: error instanceof Error ? error.message : String(error) }, 'room music not read: server defaults'),
      );
    });
    conference.on('roomClosed', (room) => this.settings.delete(room.id));
    // A clip replaced or deleted: every open room looks its music up again.
    library.on('changed', () => {
      for (const room of conference.listRooms()) {
        this.applyHold(room);
        this.emit('changed', room);
      }
    });
  }

  /** A room's settings changed (read at opening, or PATCHed): applied at once if it is open. */
  set(roomId: string, settings: RoomMusicSettings): void {
    const room = this.options.conference.room(roomId);
    if (!room) return;
    this.settings.set(roomId, settings);
    this.applyHold(room);
    this.emit('changed', room);
  }

  /**
   * What a caller waiting in `roomId` hears, looped: the room's wait music, the server's, or the
   * wait chime. The one question the moderation's "waiting for the moderator" asks.
   */
  waitAudioFor(roomId: string): Int16Array {
    return this.clip(this.settings.get(roomId)?.waitMusic ?? null, this.options.defaults.waitMusic) ?? this.chime;
  }

  /** True when the room or the server names wait music (not just the chime). */
  hasWaitMusic(roomId: string): boolean {
    return this.clip(this.settings.get(roomId)?.waitMusic ?? null, this.options.defaults.waitMusic) !== null;
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
