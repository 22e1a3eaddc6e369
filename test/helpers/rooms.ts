/** Room records for the room store and admission tests. */
import type { RoomRecord } from '../../src/conference/directory.js';

/** A room record with everything unset, as the administrator would create it with only an id. */
export const record = (id: string, over: Partial<RoomRecord> = {}): RoomRecord => ({
  id,
  label: null,
  pinHash: null,
  maxParticipants: null,
  locked: false,
  createdAt: '2026-01-01T00:00:00.000Z',
  updatedAt: '2026-01-01T00:00:00.000Z',
  ...over,
});
