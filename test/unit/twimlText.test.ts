/**
 * connect.xml written out as text (src/http/twiml.ts, issue 13) makes the same bytes as twilio's
 * VoiceResponse, for ordinary values and for values with every character XML escapes.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import twilio from 'twilio';
import { connect, seatPrompt, type ConnectParams } from '../../src/http/twiml.js';
import { prng } from '../helpers/audio.js';

type Params = ConnectParams & { action: string; announceSeat: boolean };

function viaVoiceResponse(p: Params): string {
  const vr = new twilio.twiml.VoiceResponse();
  if (p.announceSeat) vr.say(seatPrompt(p.seat));
  const stream = vr.connect({ action: p.action, method: 'POST' }).stream({ url: p.streamUrl, statusCallback: p.streamStatusUrl, statusCallbackMethod: 'POST' });
  stream.parameter({ name: 'room', value: p.room });
  stream.parameter({ name: 'ticket', value: p.ticket });
  return vr.toString();
}

test('connect.xml as text is byte for byte what VoiceResponse makes', () => {
  const cases: Params[] = [
    {
      streamUrl: 'wss://abc.ngrok-free.app/media',
      streamStatusUrl: 'https://abc.ngrok-free.app/voice/stream-status',
      room: '4711',
      seat: 3,
      ticket: 'v1.CA0123.4711.3.1796246852.nonce.mac_-',
      action: '/voice/rejoin?room=4711&n=0&pass=AbC-_9',
      announceSeat: true,
    },
    { streamUrl: 'wss://h/p/1/media', streamStatusUrl: 'https://h/voice/stream-status', room: '1', seat: 250, ticket: '', action: '', announceSeat: false },
    {
      streamUrl: 'wss://h/x?a=1&b=<"\'>\t\n\r&amp;',
      streamStatusUrl: 'https://h/x?a=1&b=<"\'>\t',
      room: '12&3<',
      seat: 1,
      ticket: '"quoted"',
      action: '/voice/rejoin?room=1&n=2&pass=<&>"',
      announceSeat: true,
    },
  ];
  const rand = prng(12);
  const alphabet = 'abc&<>"\'\t\n\r /?=.:-_%#;';
  for (let i = 0; i < 300; i++) {
    const s = () => Array.from({ length: Math.floor(rand() * 12) }, () => alphabet[Math.floor(rand() * alphabet.length)]).join('');
    cases.push({
      streamUrl: `wss://${s()}`,
      streamStatusUrl: `https://${s()}`,
      room: s(),
      seat: 1 + Math.floor(rand() * 300),
      ticket: s(),
      action: `/voice/rejoin?${s()}`,
      announceSeat: rand() < 0.5,
    });
  }
  for (const p of cases) assert.equal(connect(p), viaVoiceResponse(p), JSON.stringify(p));
});
