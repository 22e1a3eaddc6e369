/**
 * The `:id` of an admin route about one room that must exist: stored in the directory, holding a
 * seat, or live. Anything else, a malformed number included, is the catalog's NOT_FOUND.
 */
import type { Request } from 'express';
import { AppError } from '../errors.js';
import type { RoomDirectory } from '../rooms/directory.js';
import { isValidRoomNumber } from '../rooms/roomNumber.js';
import type { SeatLedger } from '../rooms/seats.js';

export interface RoomParamDeps {
  directory: RoomDirectory;
  seats: SeatLedger;
  /** True while the room is open on this node. */
  isLive: (room: string) => boolean;
  roomNumberMaxDigits: number;
}

/** `(req) => room`: the room named by `req.params.id`, or NOT_FOUND thrown. */
export function existingRoomParam(deps: RoomParamDeps): (req: Request) => Promise<string> {
  return async (req) => {
    const id: unknown = req.params['id'];
    if (!isValidRoomNumber(id, deps.roomNumberMaxDigits)) throw new AppError('NOT_FOUND', `no room ${JSON.stringify(String(id).slice(0, 40))}`);
    if (!(await deps.directory.get(id)) && !deps.seats.isOpen(id) && !deps.isLive(id)) throw new AppError('NOT_FOUND', `no room ${id}`);
    return id;
  };
}
