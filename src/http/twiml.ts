/**
 * The TwiML answers of the voice webhooks, built with twilio's VoiceResponse (connect.xml, the
 * answer to every admitted call, written out directly). Each function has a reviewed document in
 * twiml/ (same name) that the tests hold it to.
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
  noSuchRoom: 'There is no conference with that number.',
  askPin: 'Please enter the conference PIN, followed by the pound key.',
  askModeratorPin: 'If you are the moderator, please enter your PIN, followed by the pound key. Otherwise, just press the pound key.',
  noPin: 'We did not receive a PIN.',
  wrongPin: 'That PIN is not correct.',
  pinAfterRestart: 'Sorry, the conference service restarted before your PIN was checked.',
  pinGoodbye: 'Sorry, that PIN is not correct. Goodbye.',
  full: 'Sorry, this conference is full. Please try again later. Goodbye.',
  locked: 'Sorry, this conference is locked. Goodbye.',
  restarting: 'Sorry, the conference service is restarting. Please call again in a minute. Goodbye.',
  busy: 'Sorry, the conference service is too busy to take your call right now. Please call again in a few minutes. Goodbye.',
  rejoinFailed: 'Sorry, we could not reconnect you to the conference. Please call again. Goodbye.',
  invitedGoodbye: 'You have not joined the conference. Goodbye.',
} as const;

/** What a callee the administrator called (a dial-out) hears first. */
export const invitedPrompt = (room: string) => `You are invited to conference ${room}. Press 1 to join.`;

/** What the caller hears before the stream opens: their seat. */
export const seatPrompt = (seat: number) => `You are participant ${seat}.`;

export interface GatherParams {
  /** Where Twilio posts the keyed digits (relative to the webhook URL). */
  action: string;
  timeoutSeconds: number;
  maxDigits: number;
}

function gatherDigits(vr: InstanceType<typeof VoiceResponse>, p: GatherParams, text: string): void {
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
  gatherDigits(vr, p, PROMPTS.askRoom);
  return vr.toString();
}

/** twiml/ask-room-again.xml: nothing, a bad number or an unknown one was keyed; ask once more. */
export function askRoomAgain(p: GatherParams, why: 'no-input' | 'invalid' | 'not-found'): string {
  const vr = new VoiceResponse();
  vr.say(why === 'no-input' ? PROMPTS.noInput : why === 'invalid' ? PROMPTS.invalidRoom : PROMPTS.noSuchRoom);
  gatherDigits(vr, p, PROMPTS.askAgain);
  return vr.toString();
}

/** twiml/goodbye.xml: out of attempts. */
export function goodbye(): string {
  const vr = new VoiceResponse();
  vr.say(PROMPTS.goodbyeNoRoom);
  vr.hangup();
  return vr.toString();
}

/** twiml/ask-pin.xml: the room has a PIN; ask for it. */
export function askPin(p: GatherParams): string {
  const vr = new VoiceResponse();
  gatherDigits(vr, p, PROMPTS.askPin);
  return vr.toString();
}

/** twiml/ask-moderator-pin.xml: the room has only a moderator PIN; the others press # alone. */
export function askModeratorPin(p: GatherParams): string {
  const vr = new VoiceResponse();
  gatherDigits(vr, p, PROMPTS.askModeratorPin);
  return vr.toString();
}

/** twiml/ask-pin-again.xml: no PIN or a wrong one, tries left. */
export function askPinAgain(p: GatherParams, why: 'no-input' | 'wrong'): string {
  const vr = new VoiceResponse();
  vr.say(why === 'no-input' ? PROMPTS.noPin : PROMPTS.wrongPin);
  gatherDigits(vr, p, PROMPTS.askPin);
  return vr.toString();
}

/**
 * twiml/ask-pin-after-restart.xml: the server restarted while the caller keyed its PIN (never carried
 * over): say so, then the room's PIN prompt (the moderator's when it has only a moderator PIN).
 */
export function askPinAfterRestart(p: GatherParams, moderatorOnly: boolean): string {
  const vr = new VoiceResponse();
  vr.say(PROMPTS.pinAfterRestart);
  gatherDigits(vr, p, moderatorOnly ? PROMPTS.askModeratorPin : PROMPTS.askPin);
  return vr.toString();
}

/** twiml/pin-goodbye.xml: out of PIN tries. */
export function pinGoodbye(): string {
  return sayAndHangUp(PROMPTS.pinGoodbye);
}

/** twiml/conference-full.xml: the room, the server, or the number of rooms is at its limit. */
export function conferenceFull(): string {
  return sayAndHangUp(PROMPTS.full);
}

/** twiml/conference-locked.xml: the room admits nobody new. */
export function conferenceLocked(): string {
  return sayAndHangUp(PROMPTS.locked);
}

/** twiml/busy.xml: one more call would not fit this process (src/timing/capacity.ts). */
export function busy(): string {
  return sayAndHangUp(PROMPTS.busy);
}

/** twiml/restarting.xml: the server is shutting down and admits nobody. */
export function restarting(): string {
  return sayAndHangUp(PROMPTS.restarting);
}

function sayAndHangUp(text: string): string {
  const vr = new VoiceResponse();
  vr.say(text);
  vr.hangup();
  return vr.toString();
}

/** What the connect answer carries: where the stream goes, with what, and where Twilio reports on it. */
export interface ConnectParams {
  streamUrl: string;
  /** The <Stream statusCallback> (absolute): Twilio's stream-started/-stopped/-error go there. */
  streamStatusUrl: string;
  room: string;
  seat: number;
  ticket: string;
}

/**
 * twiml/connect.xml: the caller hears their seat (not on a rejoin: every second of it is a second
 * of the gap), then the call's audio goes to the media endpoint, carrying the room and the join
 * ticket. When the stream ends Twilio asks `action` (the rejoin webhook) what next: a goodbye when
 * the call left on purpose, else the room again (after a restart, on the next process; in a
 * cluster, on whichever node owns it now).
 */
export function connect(p: ConnectParams & { action: string; announceSeat: boolean }): string {
  // Every admitted call gets this answer: written out directly, the same bytes VoiceResponse makes
  // (test/unit/twimlText.test.ts), without an XML document built per element (that was 7 % of a
  // call set-up's CPU).
  return (
    `${XML_DECLARATION}<Response>${p.announceSeat ? `<Say>${seatPrompt(p.seat)}</Say>` : ''}` +
    `<Connect action="${attribute(p.action)}" method="POST">` +
    `<Stream url="${attribute(p.streamUrl)}" statusCallback="${attribute(p.streamStatusUrl)}" statusCallbackMethod="POST">` +
    `<Parameter name="room" value="${attribute(p.room)}"/><Parameter name="ticket" value="${attribute(p.ticket)}"/></Stream></Connect></Response>`
  );
}

const XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>';

/** An attribute value escaped as xmlbuilder (VoiceResponse) escapes it. */
function attribute(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/"/g, '&quot;').replace(/\t/g, '&#x9;').replace(/\n/g, '&#xA;').replace(/\r/g, '&#xD;');
}

/** twiml/redirect.xml (a cluster): the room lives on another node; Twilio asks it (`url`, relative) instead. */
export function redirect(url: string): string {
  const vr = new VoiceResponse();
  vr.redirect({ method: 'POST' }, url);
  return vr.toString();
}

/**
 * twiml/rejoin-wait.xml: the call cannot rejoin this second (a cluster: no node can take the room;
 * one process: it is restarting); `pauseSeconds` of silence, then Twilio asks `url` again.
 */
export function rejoinWait(url: string, pauseSeconds: number): string {
  const vr = new VoiceResponse();
  vr.pause({ length: pauseSeconds });
  vr.redirect({ method: 'POST' }, url);
  return vr.toString();
}

/** twiml/left.xml: the stream ended on purpose (left, removed, conference ended). */
export function left(): string {
  return sayAndHangUp(PROMPTS.goodbyeAfterCall);
}

/** twiml/rejoin-failed.xml: out of rejoin attempts. */
export function rejoinFailed(): string {
  return sayAndHangUp(PROMPTS.rejoinFailed);
}

/** What the invitation prompt needs: the room, and where Twilio posts the key pressed (relative). */
export interface InvitedParams {
  room: string;
  action: string;
  timeoutSeconds: number;
}

/**
 * twiml/invited.xml (a dial-out): the callee hears the invitation and presses 1 to join; one key
 * ends the prompt, and nothing pressed goes to the action too (it says goodbye).
 */
export function invited(p: InvitedParams): string {
  const vr = new VoiceResponse();
  vr.gather({ input: ['dtmf'], timeout: p.timeoutSeconds, numDigits: 1, action: p.action, method: 'POST', actionOnEmptyResult: true }).say(
    invitedPrompt(p.room),
  );
  return vr.toString();
}

/** twiml/invited-goodbye.xml (a dial-out): the callee pressed something other than 1, or nothing. */
export function invitedGoodbye(): string {
  return sayAndHangUp(PROMPTS.invitedGoodbye);
}
