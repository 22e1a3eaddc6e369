/**
 * Twilio's own view of each Media Stream: the `<Stream statusCallback>` of connect.xml makes
 * Twilio POST to /voice/stream-status when a stream starts, stops, or fails on Twilio's side (a
 * failed WebSocket handshake, a connection Twilio lost). The server sees the stopped socket but not
 * why; this is how the why reaches /metrics, /health and the log.
 *
 * Twilio's parameters (docs: TwiML Voice <Stream>, "statusCallback"): AccountSid, CallSid,
 * StreamSid, StreamName, StreamEvent (`stream-started`, `stream-stopped` or `stream-error`),
 * StreamError (the error's description, on stream-error) and Timestamp. Twilio documents
 * StreamError as a message; its error code (a five-digit number such as 31920, "Stream - WebSocket
 * - Handshake Error") is read from an ErrorCode parameter when one is posted, else from the first
 * five-digit number in the message, else it is `unknown`.
 *
 * Pure: parsing and counting, no HTTP objects.
 */

export const TWILIO_STREAM_EVENTS = ['stream-started', 'stream-stopped', 'stream-error'] as const;
export type TwilioStreamEvent = (typeof TWILIO_STREAM_EVENTS)[number];

export interface TwilioStreamStatus {
  event: TwilioStreamEvent;
  callSid: string;
  streamSid: string | undefined;
  /** stream-error: Twilio's error code (digits), or `unknown`. */
  errorCode: string | undefined;
  /** stream-error: Twilio's description, at most 300 characters. */
  error: string | undefined;
}

export type ParsedStreamStatus = { ok: true; status: TwilioStreamStatus } | { ok: false; why: string };

/** Distinct error codes kept as labels; past this a new code counts as `other` (bounded /metrics). */
export const MAX_ERROR_CODES = 20;

const SID = /^[A-Za-z0-9]{1,64}$/;

/** Reads one status callback's form parameters (as a form parser gives them). */
export function parseStreamStatus(params: Readonly<Record<string, unknown>>): ParsedStreamStatus {
  const text = (name: string): string | undefined => (typeof params[name] === 'string' ? (params[name] as string) : undefined);
  const event = text('StreamEvent');
  if (!event || !(TWILIO_STREAM_EVENTS as readonly string[]).includes(event)) {
    return { ok: false, why: `StreamEvent is not one of ${TWILIO_STREAM_EVENTS.join(', ')}` };
  }
  const callSid = text('CallSid');
  if (!callSid || !SID.test(callSid)) return { ok: false, why: 'missing CallSid' };
  const streamSid = text('StreamSid');
  if (event !== 'stream-error') {
    return {
      ok: true,
      status: {
        event: event as TwilioStreamEvent,
        callSid,
        streamSid: streamSid && SID.test(streamSid) ? streamSid : undefined,
        errorCode: undefined,
        error: undefined,
      },
    };
  }
  const error = text('StreamError')?.slice(0, 300);
  return {
    ok: true,
    status: {
      event: 'stream-error',
      callSid,
      streamSid: streamSid && SID.test(streamSid) ? streamSid : undefined,
      errorCode: errorCodeOf(text('ErrorCode'), error),
      error,
    },
  };
}

/** Twilio's error code: the ErrorCode parameter, else the first five-digit number in the message. */
export function errorCodeOf(errorCodeParam: string | undefined, message: string | undefined): string {
  if (errorCodeParam && /^\d{1,6}$/.test(errorCodeParam.trim())) return errorCodeParam.trim();
  return message?.match(/\b(\d{5})\b/)?.[1] ?? 'unknown';
}

export interface TwilioStreamTotals {
  started: number;
  stopped: number;
  errors: number;
}

/** Counts of Twilio's stream events since start: by event, and errors by code. */
export class TwilioStreamEvents {
  readonly totals: TwilioStreamTotals = { started: 0, stopped: 0, errors: 0 };
  /** stream-error count per error code (at most MAX_ERROR_CODES codes, then `other`). */
  readonly errorsByCode = new Map<string, number>();

  record(status: TwilioStreamStatus): void {
    switch (status.event) {
      case 'stream-started':
        this.totals.started++;
        return;
      case 'stream-stopped':
        this.totals.stopped++;
        return;
      case 'stream-error': {
        this.totals.errors++;
        const code = status.errorCode ?? 'unknown';
        const key = this.errorsByCode.has(code) || this.errorsByCode.size < MAX_ERROR_CODES ? code : 'other';
        this.errorsByCode.set(key, (this.errorsByCode.get(key) ?? 0) + 1);
        return;
      }
      default: {
        const never: never = status.event;
        return never;
      }
    }
  }
}
