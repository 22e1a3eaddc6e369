/**
 * The error vocabulary: every way a request or a stream is refused, with the WebSocket close code
 * and HTTP status it maps to, in one table (the README's "Close codes" table is this one).
 *
 * Entries marked `drop: true` are not (only) a close handshake: the peer cannot or does not read,
 * so the socket is terminated and the peer sees 1006 (or `wsCode` if the close frame got through).
 * Upgrade refusals (SIGNATURE_*, NOT_ADMITTING, NOT_FOUND) never open a WebSocket: the upgrade is
 * answered with `httpStatus`.
 */

export const ERRORS = {
  /** A text frame that is not JSON, or JSON that is not a valid Twilio message. */
  BAD_MESSAGE: { wsCode: 1007, httpStatus: 400, text: 'not a valid Twilio Media Streams message' },
  /** A media payload that is not base64 of mu-law bytes, or too long. */
  BAD_PAYLOAD: { wsCode: 1007, httpStatus: 400, text: 'media payload is not valid base64 audio' },
  /** A binary WebSocket frame: Twilio only sends JSON text (its own error 31950). */
  BINARY_FRAME: { wsCode: 1003, httpStatus: 400, text: 'binary frames are not accepted' },
  /** `start` announcing audio other than 8 kHz mono mu-law. */
  UNSUPPORTED_FORMAT: { wsCode: 1003, httpStatus: 415, text: 'only audio/x-mulaw, 8000 Hz, mono is supported' },
  /** A message out of order: media before start, a second start, another stream's streamSid. */
  PROTOCOL: { wsCode: 1008, httpStatus: 400, text: 'message out of protocol order' },
  /** `start` without a valid room number in customParameters. */
  NO_ROOM: { wsCode: 1008, httpStatus: 400, text: 'start has no valid room parameter' },
  /** `start` whose join ticket is missing, forged, expired, reused, or for another call or room. */
  BAD_TICKET: { wsCode: 1008, httpStatus: 403, text: 'start has no valid join ticket' },
  /** No `start` within the allowed time after the socket opened. */
  START_TIMEOUT: { wsCode: 1008, httpStatus: 408, text: 'no start message in time' },
  /** Another stream for the same CallSid took this one's place. */
  REPLACED: { wsCode: 4000, httpStatus: 409, text: 'replaced by a newer stream of the same call' },
  /** The room was closed (its last tick failed, or an administrator ended it). */
  ROOM_CLOSED: { wsCode: 1000, httpStatus: 410, text: 'the conference has ended' },
  /** The caller left with the leave key. */
  LEFT: { wsCode: 1000, httpStatus: 410, text: 'left the conference' },
  /** An administrator removed the caller. */
  KICKED: { wsCode: 1000, httpStatus: 410, text: 'removed from the conference' },
  /** A cluster: this node lost the room's ownership lease; Twilio rejoins the call through the webhook. */
  ROOM_MOVED: { wsCode: 4001, httpStatus: 409, text: 'the conference moved to another server; rejoining' },
  /** The server is shutting down. */
  SHUTTING_DOWN: { wsCode: 1001, httpStatus: 503, text: 'server is shutting down' },
  /** A WebSocket message larger than the server accepts (ws maxPayload); ws itself closes. */
  MESSAGE_TOO_BIG: { wsCode: 1009, httpStatus: 413, text: 'message too big' },
  /** More messages than any Twilio stream sends (a burst budget, then a sustained rate). */
  RATE_LIMITED: { wsCode: 1008, httpStatus: 429, text: 'too many messages' },
  /** The peer stopped reading: outbound frames dropped for too long. */
  SLOW_CONSUMER: { wsCode: 1008, httpStatus: 408, text: 'socket is not reading its audio', drop: true },
  /** No pong and no message for a heartbeat interval: the peer is gone. */
  HEARTBEAT_TIMEOUT: { wsCode: 1006, httpStatus: 408, text: 'no pong or message in time', drop: true },
  /** A webhook without X-Twilio-Signature (with TWILIO_AUTH_TOKEN set); an upgrade gets 403 either way. */
  SIGNATURE_MISSING: { wsCode: 1008, httpStatus: 400, text: 'missing X-Twilio-Signature' },
  /** An upgrade or webhook whose X-Twilio-Signature does not match. */
  SIGNATURE_INVALID: { wsCode: 1008, httpStatus: 403, text: 'X-Twilio-Signature does not match' },
  /** An upgrade while the server shuts down. */
  NOT_ADMITTING: { wsCode: 1001, httpStatus: 503, text: 'server is shutting down' },
  /** A fault on our side. */
  INTERNAL: { wsCode: 1011, httpStatus: 500, text: 'internal error' },
  NOT_FOUND: { wsCode: 1008, httpStatus: 404, text: 'not found' },
} as const;

export type ErrorCode = keyof typeof ERRORS;

/** Normal end of a stream (Twilio sent stop, or the call is over). */
export const WS_NORMAL_CLOSE = 1000;

export class AppError extends Error {
  override name = 'AppError';
  constructor(
    readonly code: ErrorCode,
    detail?: string,
  ) {
    super(detail ? `${ERRORS[code].text}: ${detail}` : ERRORS[code].text);
  }
  get wsCode(): number {
    return ERRORS[this.code].wsCode;
  }
  get httpStatus(): number {
    return ERRORS[this.code].httpStatus;
  }
}
