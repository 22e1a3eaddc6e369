/**
 * A room's moderation settings (issue 17) live in the room directory with the rest of its
 * configuration: this reads them out of a record for the conference's Moderation, and carries out
 * a moderator's lock key on the stored room.
 */
import type { ModerationSettings } from '../conference/moderation.js';
import type { RoomDirectory, RoomRecord } from './directory.js';

/** The settings a record asks for (a room callers opened, null: none). */
export function moderationSettings(record: RoomRecord | null): ModerationSettings {
  return {
    waitForModerator: record?.waitForModerator ?? false,
    endWhenModeratorLeaves: record?.endWhenModeratorLeaves ?? false,
    startMuted: record?.startMuted ?? false,
  };
}

/**
 * A moderator's *2: locks the room when it is unlocked, else unlocks it; the lock after. A room
 * callers opened is stored first (as the admin API's PATCH does), so the lock has a place to live.
 */
export async function toggleRoomLock(directory: RoomDirectory, roomId: string, now = () => new Date().toISOString()): Promise<boolean> {
  let record = await directory.get(roomId);
  if (!record) {
    const at = now();
    await directory.create({ id: roomId, label: null, pinHash: null, maxParticipants: null, locked: false, createdAt: at, updatedAt: at });
    record = await directory.get(roomId);
  }
  const updated = await directory.update(roomId, { locked: !record?.locked }, now());
  if (!updated) throw new Error(`room ${roomId} was deleted meanwhile`);
  return updated.locked;
}

/**
 * A cluster's shared "this room has started" marks (a moderator has been in it), so a room that
 * moves to another node (its owner died, its callers rejoin there) does not make them wait again.
 * Set when the first moderator joins, cleared when the room closes for good (Moderation's
 * `startedMark`); read when a call is admitted to a room not open on this node.
 */
export interface SharedRoomStarts {
  mark(roomId: string): Promise<void>;
  clear(roomId: string): Promise<void>;
  isStarted(roomId: string): Promise<boolean>;
}
