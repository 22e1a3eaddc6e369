/**
 * Twilio's REST API, for what the server asks of it: ending a call (the kick's optional second
 * half) and placing one (a dial-out, POST /api/rooms/:id/participants). Only with
 * TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN. Interfaces, so tests and other carriers plug in.
 *
 * Both go through the `twilio` package's client. Its documented `httpClient` option (a
 * RequestClient) is the one seam: the server passes none (Twilio's own, to api.twilio.com); a test
 * passes a RequestClient that sends the same requests to a stand-in on 127.0.0.1.
 */
import twilio from 'twilio';

export interface CallControl {
  /** Ends the call (Twilio: status=completed). Rejects when Twilio refuses. */
  endCall(callSid: string): Promise<void>;
}

/** One outbound call, in the words of Twilio's Calls resource (POST .../Calls.json). */
export interface OutboundCall {
  /** Twilio's To: the number called (E.164). */
  to: string;
  /** Twilio's From: a number of the account (E.164). */
  from: string;
  /** Twilio's Url: the webhook that answers the callee's call with TwiML (absolute). */
  url: string;
  /** Twilio's StatusCallback: where the call's progress events go (absolute). */
  statusCallback: string;
  /** Twilio's StatusCallbackEvent. */
  statusCallbackEvent: readonly CallProgressEvent[];
  /** Twilio's Timeout: seconds to let it ring before no-answer (Twilio: 60 by default, 600 at most). */
  timeoutSeconds: number;
}

/** Twilio's call progress events (StatusCallbackEvent of a call). */
export type CallProgressEvent = 'initiated' | 'ringing' | 'answered' | 'completed';

/** What Twilio answered: the new call's CallSid and its status (`queued` at first). */
export interface PlacedCall {
  callSid: string;
  status: string;
}

/** Twilio's refusal, as RestException carries it (code: Twilio's error code, e.g. 21211). */
export class TwilioRefusal extends Error {
  override name = 'TwilioRefusal';
  constructor(
    message: string,
    readonly status: number | undefined,
    readonly code: number | undefined,
  ) {
    super(message);
  }
}

export interface Dialer {
  /** Places the call. Rejects with TwilioRefusal when Twilio refuses or does not answer. */
  call(request: OutboundCall): Promise<PlacedCall>;
}

/** `httpClient`: twilio's RequestClient to send through (default: Twilio's own). */
export type TwilioHttpClient = twilio.RequestClient;

function client(accountSid: string, authToken: string, httpClient?: TwilioHttpClient) {
  return twilio(accountSid, authToken, httpClient ? { httpClient } : {});
}

export function twilioCallControl(accountSid: string, authToken: string, httpClient?: TwilioHttpClient): CallControl {
  const rest = client(accountSid, authToken, httpClient);
  return {
    async endCall(callSid) {
      await rest.calls(callSid).update({ status: 'completed' });
    },
  };
}

export function twilioDialer(accountSid: string, authToken: string, httpClient?: TwilioHttpClient): Dialer {
  const rest = client(accountSid, authToken, httpClient);
  return {
    async call(r) {
      try {
        const call = await rest.calls.create({
          to: r.to,
          from: r.from,
          url: r.url,
          method: 'POST',
          statusCallback: r.statusCallback,
          statusCallbackMethod: 'POST',
          statusCallbackEvent: [...r.statusCallbackEvent],
          timeout: r.timeoutSeconds,
        });
        return { callSid: call.sid, status: call.status };
      } catch (error) {
        const e = error as { message?: unknown; status?: unknown; code?: unknown };
        throw new TwilioRefusal(
          typeof e.message === 'string' ? e.message : String(error),
          typeof e.status === 'number' ? e.status : undefined,
          typeof e.code === 'number' ? e.code : undefined,
        );
      }
    },
  };
}
