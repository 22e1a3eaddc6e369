/**
 * Why a participant left a room, and everything that follows from it, in one table: the stream's
 * close, what status callbacks report, and whether a cluster may send the call back in.
 */
import type { StreamErrorCode } from '../errors.js';

export interface LeaveMeaning {
  /**
   * How the media stream is closed when the conference lets go of the caller (its close code and
   * reason are the catalog's). null: the stream itself ended (Twilio's stop, the socket closed)
   * and is already closing.
   */
  readonly close: StreamErrorCode | null;
  /** `ReasonConferenceEnded` of the status callback when this leave emptied the room. */
  readonly conferenceEnded:
    | 'last-participant-left'
    | 'last-participant-kicked'
    | 'conference-ended-via-api'
    | 'participant-with-end-conference-on-exit-left'
    | 'shutdown';
  /**
   * The call is over on purpose (the caller or an administrator ended it): a cluster's rejoin
   * webhook says goodbye instead of sending the call back to its room.
   */
  readonly endedOnPurpose: boolean;
}

export const LEAVE_REASONS = {
  /** Twilio sent `stop`: the caller hung up, or the call moved past `</Connect>`. */
  hangup: { close: null, conferenceEnded: 'last-participant-left', endedOnPurpose: false },
  /** The caller keyed the leave key. */
  left: { close: 'LEFT', conferenceEnded: 'last-participant-left', endedOnPurpose: true },
  /** The socket closed without a `stop` (network loss, a dropped peer). */
  'socket-closed': { close: null, conferenceEnded: 'last-participant-left', endedOnPurpose: false },
  /** A newer stream of the same call took this one's place: nobody really left. */
  replaced: { close: 'REPLACED', conferenceEnded: 'last-participant-left', endedOnPurpose: false },
  /** An administrator ended the room. */
  'room-closed': { close: 'ROOM_CLOSED', conferenceEnded: 'conference-ended-via-api', endedOnPurpose: true },
  /** The room ends when its last moderator leaves (endWhenModeratorLeaves), and it did. */
  'moderator-left': { close: 'ROOM_CLOSED', conferenceEnded: 'participant-with-end-conference-on-exit-left', endedOnPurpose: true },
  /** An administrator removed the caller. */
  kicked: { close: 'KICKED', conferenceEnded: 'last-participant-kicked', endedOnPurpose: true },
  /** The server is shutting down. */
  shutdown: { close: 'SHUTTING_DOWN', conferenceEnded: 'shutdown', endedOnPurpose: false },
  /** The stream broke the protocol, or the room's tick failed. */
  error: { close: 'INTERNAL', conferenceEnded: 'last-participant-left', endedOnPurpose: false },
  /** A cluster: this node lost the room's lease; the call rejoins the room on its new owner. */
  moved: { close: 'ROOM_MOVED', conferenceEnded: 'last-participant-left', endedOnPurpose: false },
} as const satisfies Record<string, LeaveMeaning>;

/** Why a participant left a room; sent to logs and status callbacks (`Reason`). */
export type LeaveReason = keyof typeof LEAVE_REASONS;
