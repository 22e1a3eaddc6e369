/**
 * The room directory: where the webhook asks whether a caller may enter a room, before any stream
 * is opened. Behind an interface so room configuration can move (an embedded database for rooms
 * made by the administrator, a shared store when several processes serve one line) without the
 * webhook or the mixer changing.
 */

export type Admission =
  | { ok: true; roomId: string }
  | { ok: false; roomId: string; reason: 'not-found' | 'full' | 'locked' };

export interface RoomDirectory {
  /** Decides whether the call `callSid` may enter room `roomId` (a validated digit string). */
  admit(roomId: string, callSid: string): Promise<Admission>;
}

/** Every room exists on demand and has no limits: the first caller who names a room opens it. */
export class OpenRoomDirectory implements RoomDirectory {
  async admit(roomId: string): Promise<Admission> {
    return { ok: true, roomId };
  }
}
