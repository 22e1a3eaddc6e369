/**
 * The TwiML answers of the voice webhooks, built with twilio's VoiceResponse. Each function has a
 * reviewed document in twiml/ (same name) that the tests hold it to.
 */
import twilio from 'twilio';

const { VoiceResponse } = twilio.twiml;

export const PROMPTS = {
  askRoom: 'Welcome to the conference line. Please enter your conference number, followed by the pound key.',
  noInput: 'We did not receive a conference number.',
  invalidRoom: 'That is not a valid conference number.',
  askAgain: 'Please enter your conference number, followed by the pound key.',
  goodbyeNoRoom: 'Sorry, we could not connect you to a conference. Goodbye.',
  goodbyeAfterCall: 'You have left the conference. Goodbye.',
} as const;

export interface GatherParams {
  /** Where Twilio posts the keyed digits (relative to the webhook URL). */
  action: string;
  timeoutSeconds: number;
  maxDigits: number;
}

function gatherRoom(vr: InstanceType<typeof VoiceResponse>, p: GatherParams, text: string): void {
  vr.gather({
    input: ['dtmf'],
    finishOnKey: '#',
    timeout: p.timeoutSeconds,
    numDigits: p.maxDigits + 1,
    action: p.action,
    method: 'POST',
    actionOnEmptyResult: true,
  }).say(text);
}

/** twiml/ask-room.xml: the first prompt for a conference number. */
export function askRoom(p: GatherParams): string {
  const vr = new VoiceResponse();
  gatherRoom(vr, p, PROMPTS.askRoom);
  return vr.toString();
}

/** twiml/ask-room-again.xml: nothing or a bad number was keyed; ask once more. */
export function askRoomAgain(p: GatherParams, why: 'no-input' | 'invalid'): string {
  const vr = new VoiceResponse();
  vr.say(why === 'no-input' ? PROMPTS.noInput : PROMPTS.invalidRoom);
  gatherRoom(vr, p, PROMPTS.askAgain);
  return vr.toString();
}

/** twiml/goodbye.xml: out of attempts. */
export function goodbye(): string {
  const vr = new VoiceResponse();
  vr.say(PROMPTS.goodbyeNoRoom);
  vr.hangup();
  return vr.toString();
}

/** twiml/connect.xml: the call's audio goes to the media endpoint; after it, a goodbye. */
export function connectToRoom(p: { streamUrl: string; room: string }): string {
  const vr = new VoiceResponse();
  vr.connect().stream({ url: p.streamUrl }).parameter({ name: 'room', value: p.room });
  vr.say(PROMPTS.goodbyeAfterCall);
  vr.hangup();
  return vr.toString();
}
