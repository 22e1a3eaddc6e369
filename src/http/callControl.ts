/**
 * Ending a call through Twilio's REST API (the kick's optional second half): only with
 * TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN. An interface, so tests and other carriers plug in.
 */
import twilio from 'twilio';

export interface CallControl {
  /** Ends the call (Twilio: status=completed). Rejects when Twilio refuses. */
  endCall(callSid: string): Promise<void>;
}

export function twilioCallControl(accountSid: string, authToken: string): CallControl {
  const client = twilio(accountSid, authToken);
  return {
    async endCall(callSid) {
      await client.calls(callSid).update({ status: 'completed' });
    },
  };
}
