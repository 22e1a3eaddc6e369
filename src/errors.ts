/**
 * The error vocabulary: every way a request or a stream is refused, in one table. Each code is
 * stable (clients and logs may match on it) and carries what it maps to:
 *
 * - `httpStatus`: an HTTP answer. Routes answer `{"error": {"code", "message"}}` through
 *   `sendError` (src/http/sendError.ts); a refused WebSocket upgrade answers the status with the
 *   text as a plain body (no WebSocket opens).
 * - `wsCode`: the close code a media stream ends with, the text its close reason.
 * - `drop: true`: the peer cannot or does not read, so the socket is terminated and the peer
 *   sees 1006 (or `wsCode` if the close frame got through).
 *
 * `text` is what the peer is told when nothing more specific is known. The README's "HTTP errors"
 * and "WebSocket close codes" tables are this one (test/unit/errors.test.ts holds them together).
 */

export interface ErrorEntry {
  readonly httpStatus?: number;
  readonly wsCode?: number;
  readonly text: string;
  readonly drop?: boolean;
}

export const ERRORS = {
  // Requests: the webhooks, the admin API, /join, and the media upgrade.
  /** A body or parameter that is not what the route takes (the message says which field). */
  BAD_REQUEST: { httpStatus: 400, text: 'bad request' },
  /** The admin API without a bearer token (the form it wants is in the message). */
  UNAUTHORIZED: { httpStatus: 401, text: 'send the admin token as "Authorization: Bearer <ADMIN_TOKEN>"' },
  /** A bearer token that is not ADMIN_TOKEN (admin API, /join/ticket). */
  FORBIDDEN: { httpStatus: 403, text: 'the bearer token is not the admin token' },
  /** No such route, room, participant, recording or audio clip; an upgrade to a path other than /media. */
  NOT_FOUND: { httpStatus: 404, text: 'not found' },
  /** The room exists already; a recording is running or not stopped yet; a bundled audio clip; a coaching chain. */
  CONFLICT: { httpStatus: 409, text: 'conflicts with the current state' },
  /** A body larger than the route accepts (webhooks 32 KB or 200 parameters, the admin API 16 KB, a rooms file import 1 MB, a WAV AUDIO_MAX_BYTES). */
  PAYLOAD_TOO_LARGE: { httpStatus: 413, text: 'the body is too large' },
  /** A body in a charset other than UTF-8. */
  UNSUPPORTED_MEDIA_TYPE: { httpStatus: 415, text: 'the body is not UTF-8' },
  /** Beyond a configured limit: MAX_ROOMS, MAX_PARTICIPANTS_PER_ROOM, or a REST hangup without credentials. */
  LIMIT_EXCEEDED: { httpStatus: 422, text: 'beyond a limit of this server' },
  /** The admin API while ADMIN_TOKEN is unset. */
  ADMIN_DISABLED: {
    httpStatus: 503,
    text: 'the admin API is off: set ADMIN_TOKEN (a long random string, e.g. `openssl rand -hex 32`) in the environment or .env, restart the server, and send it as "Authorization: Bearer <token>"',
  },
  /** Calling a number (POST /api/rooms/:id/participants) without Twilio REST credentials. */
  TWILIO_NOT_CONFIGURED: {
    httpStatus: 503,
    text: "calling a number needs Twilio REST credentials: set TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN (the Twilio Console's home page) in the environment or .env and restart the server",
  },
  /** Twilio's REST API refused the call or did not answer (the message carries Twilio's code and text). */
  TWILIO_REFUSED: { httpStatus: 502, text: "Twilio's REST API refused the request" },
  /** A cluster: the node that mixes the room did not answer a forwarded admin request. */
  OWNER_UNAVAILABLE: { httpStatus: 503, text: 'the node mixing the room did not answer; try again' },
  /** The upgrade when 2 x MAX_PARTICIPANTS media sockets are open already (a connection flood). */
  TOO_MANY_SOCKETS: { httpStatus: 503, text: 'too many open media sockets' },
  /** A webhook without X-Twilio-Signature (with TWILIO_AUTH_TOKEN set); an upgrade gets SIGNATURE_INVALID either way. */
  SIGNATURE_MISSING: { httpStatus: 400, text: 'missing X-Twilio-Signature' },
  /** An upgrade or webhook whose X-Twilio-Signature does not match. */
  SIGNATURE_INVALID: { httpStatus: 403, text: 'X-Twilio-Signature does not match' },

  // Joining from a browser (/join/ticket): the web entry's own answers, then admission's, as the phone prompt speaks them.
  /** JOIN_PAGE=off: /join and /join/ticket do not exist. */
  JOIN_OFF: { httpStatus: 404, text: 'joining from a browser is off on this server (JOIN_PAGE=off)' },
  /** JOIN_PAGE=invite: no invite link and no admin token (whatever the room, so no number is confirmed). */
  INVITE_REQUIRED: { httpStatus: 401, text: 'joining from a browser needs an invite link (or the admin token)' },
  /** An invite that is forged, for another room, expired, revoked, used up, or unknown to this server. */
  INVITE_INVALID: { httpStatus: 403, text: 'this invite link is not valid (expired, revoked or used up): ask for a new one' },
  /** One address holds JOIN_SEATS_PER_ADDRESS seats already (reserved or taken). */
  TOO_MANY_SEATS: { httpStatus: 429, text: 'this address holds as many seats as it may: try again when one is free' },
  /** More than JOIN_TICKETS_PER_MINUTE admissions from one address in a minute. */
  TOO_MANY_JOINS: { httpStatus: 429, text: 'too many joins from this address: try again later' },
  /** JOIN_PAGE=pin: no PIN, invite or admin token given (whatever the room, so no number is confirmed). */
  PIN_REQUIRED: { httpStatus: 401, text: "joining from a browser needs the room's PIN, an invite link or the admin token" },
  /** A PIN that is not the room's (also for a room without a PIN, or a number that does not exist). */
  WRONG_PIN: { httpStatus: 403, text: 'that PIN is not right' },
  LOCKED: { httpStatus: 403, text: 'this conference is locked' },
  ROOM_FULL: { httpStatus: 409, text: 'this conference is full' },
  SERVER_FULL: { httpStatus: 503, text: 'the server is full' },
  TOO_MANY_ROOMS: { httpStatus: 503, text: 'no more rooms can be opened now' },
  OVERLOADED: { httpStatus: 503, text: 'the server is too busy to take more calls now' },

  // Both: one refusal, whichever way it arrives.
  /** Too many wrong tokens or PINs from one address (HTTP), or more messages than any Twilio stream sends (WS). */
  RATE_LIMITED: { httpStatus: 429, wsCode: 1008, text: 'too many messages' },
  /** The server is shutting down: upgrades are refused, streams end. */
  SHUTTING_DOWN: { httpStatus: 503, wsCode: 1001, text: 'server is shutting down' },
  /** A fault on our side. */
  INTERNAL: { httpStatus: 500, wsCode: 1011, text: 'internal error' },

  // Media streams.
  /** A text frame that is not JSON, or JSON that is not a valid Twilio message. */
  BAD_MESSAGE: { wsCode: 1007, text: 'not a valid Twilio Media Streams message' },
  /** A media payload that is not base64 of mu-law bytes (or of whole 16-bit samples for L16), or too long. */
  BAD_PAYLOAD: { wsCode: 1007, text: 'media payload is not valid base64 audio' },
  /** A binary WebSocket frame: Twilio only sends JSON text (its own error 31950). */
  BINARY_FRAME: { wsCode: 1003, text: 'binary frames are not accepted' },
  /** `start` announcing audio other than 8 kHz mono mu-law (or, for a program, the PCM its ticket names). */
  UNSUPPORTED_FORMAT: { wsCode: 1003, text: 'only audio/x-mulaw 8000 Hz mono, or audio/L16 8000/16000 Hz mono with a program ticket for it, is supported' },
  /** A message out of order: media before start, a second start, another stream's streamSid. */
  PROTOCOL: { wsCode: 1008, text: 'message out of protocol order' },
  /** `start` without a valid room number in customParameters. */
  NO_ROOM: { wsCode: 1008, text: 'start has no valid room parameter' },
  /** `start` whose join ticket is missing, forged, expired, reused, or for another call or room. */
  BAD_TICKET: { wsCode: 1008, text: 'start has no valid join ticket' },
  /** No `start` within the allowed time after the socket opened. */
  START_TIMEOUT: { wsCode: 1008, text: 'no start message in time' },
  /** Another stream for the same CallSid took this one's place. */
  REPLACED: { wsCode: 4000, text: 'replaced by a newer stream of the same call' },
  /** The room was closed (its last tick failed, or an administrator ended it). */
  ROOM_CLOSED: { wsCode: 1000, text: 'the conference has ended' },
  /** The caller left with the leave key. */
  LEFT: { wsCode: 1000, text: 'left the conference' },
  /** An administrator removed the caller. */
  KICKED: { wsCode: 1000, text: 'removed from the conference' },
  /** This node lost the room's ownership lease; Twilio rejoins the call through the webhook. */
  ROOM_MOVED: { wsCode: 4001, text: 'the conference moved to another server; rejoining' },
  /** A WebSocket message larger than the server accepts (ws maxPayload); ws itself closes. */
  MESSAGE_TOO_BIG: { wsCode: 1009, text: 'message too big' },
  /** The peer stopped reading: outbound frames dropped for too long. */
  SLOW_CONSUMER: { wsCode: 1008, text: 'socket is not reading its audio', drop: true },
  /** No pong and no message for a heartbeat interval: the peer is gone. */
  HEARTBEAT_TIMEOUT: { wsCode: 1006, text: 'no pong or message in time', drop: true },
} as const satisfies Record<string, ErrorEntry>;

export type ErrorCode = keyof typeof ERRORS;
/** Codes a request can be answered with. */
export type HttpErrorCode = { [K in ErrorCode]: (typeof ERRORS)[K] extends { httpStatus: number } ? K : never }[ErrorCode];
/** Codes a media stream can be closed with. */
export type StreamErrorCode = { [K in ErrorCode]: (typeof ERRORS)[K] extends { wsCode: number } ? K : never }[ErrorCode];

/** Normal end of a stream (Twilio sent stop, or the call is over). */
export const WS_NORMAL_CLOSE = 1000;

/**
 * A refusal with its catalog code. `detail` says what exactly was wrong: an HTTP answer's message
 * is the detail when there is one (a whole sentence), else the catalog's text; a stream's log line
 * is `text: detail` while its close reason stays the catalog's text.
 */
export class AppError<C extends ErrorCode = ErrorCode> extends Error {
  override name = 'AppError';
  constructor(
    readonly code: C,
    readonly detail?: string,
  ) {
    super(detail ? `${ERRORS[code].text}: ${detail}` : ERRORS[code].text);
  }
}
