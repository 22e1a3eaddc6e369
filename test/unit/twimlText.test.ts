/**
 * connect.xml written out as text (src/http/twiml.ts, issue 13) makes the same bytes as twilio's
 * VoiceResponse, for ordinary values and for values with every character XML escapes.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import twilio from 'twilio';
import { connectToRoom, PROMPTS, seatPrompt } from '../../src/http/twiml.js';
import { prng } from '../helpers/audio.js';

function viaVoiceResponse(p: { streamUrl: string; room: string; seat: number; ticket: string }): string {
  const vr = new twilio.twiml.VoiceResponse();
  vr.say(seatPrompt(p.seat));
  const stream = vr.connect().stream({ url: p.streamUrl });
  stream.parameter({ name: 'room', value: p.room });
  stream.parameter({ name: 'ticket', value: p.ticket });
  vr.say(PROMPTS.goodbyeAfterCall);
  vr.hangup();
  return vr.toString();
}

test('connect.xml as text is byte for byte what VoiceResponse makes', () => {
  const cases = [
    { streamUrl: 'wss://abc.ngrok-free.app/media', room: '4711', seat: 3, ticket: 'v1.CA0123.4711.3.1796246852.nonce.mac_-' },
    { streamUrl: 'wss://h/p/1/media', room: '1', seat: 250, ticket: '' },
    { streamUrl: 'wss://h/x?a=1&b=<"\'>\t\n\r&amp;', room: '12&3<', seat: 1, ticket: '"quoted"' },
  ];
  const rand = prng(12);
  const alphabet = 'abc&<>"\'\t\n\r /?=.:-_%#;';
  for (let i = 0; i < 300; i++) {
    const s = () => Array.from({ length: Math.floor(rand() * 12) }, () => alphabet[Math.floor(rand() * alphabet.length)]).join('');
    cases.push({ streamUrl: `wss://${s()}`, room: s(), seat: 1 + Math.floor(rand() * 300), ticket: s() });
  }
  for (const p of cases) assert.equal(connectToRoom(p), viaVoiceResponse(p), JSON.stringify(p));
});
