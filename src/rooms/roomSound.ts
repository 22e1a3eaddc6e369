/**
 * A room's sound settings (background gate, noise suppression) live in the room
 * directory with the rest of its configuration; this applies them to the room when it opens. A
 * change through the admin API is applied to an open room there (Conference.configureRoom).
 *
 * The directory answers asynchronously, so a room's first tick or two may run on the server's
 * defaults: its first caller is alone then, heard by nobody.
 */
import type { Conference } from '../conference/conference.js';
import type { RoomDirectory, RoomRecord } from './directory.js';
import type { RoomAudioPatch } from '../conference/room.js';
import type { Logger } from '../log.js';

/** The settings a record asks for (null: the server's default). */
export function roomSoundPatch(record: RoomRecord | null): RoomAudioPatch {
  return { backgroundGate: record?.backgroundGate ?? null, noiseSuppression: record?.noiseSuppression ?? null };
}

/** Applies each opening room's stored sound settings. */
export function applyRoomSoundSettings(conference: Conference, directory: RoomDirectory, log: Logger): void {
  conference.on('roomOpened', (room) => {
    directory.get(room.id).then(
      (record) => {
        if (!record || room.isClosed || (record.backgroundGate == null && record.noiseSuppression == null)) return;
        room.configureAudio(roomSoundPatch(record));
        log.info({ room: room.id, ...room.audio }, 'room sound settings applied');
      },
      (error: unknown) =>
        log.warn({ room: room.id, err: error instanceof Error ? error.message : String(error) }, 'room sound settings not read: server defaults'),
    );
  });
}
