/**
 * The voice webhooks through the real Express app (supertest): every answer is rendered and
 * compared with its reviewed document in twiml/, and the call flow (prompt, re-prompt, goodbye,
 * direct room) is walked as Twilio would.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import request from 'supertest';
import { parseConfig } from '../../src/config.js';
import { decodeTicket, rejoinPass } from '../../src/security/joinTicket.js';
import { createServer, type ConferenceServer } from '../../src/server.js';
import { TEST_ENV_DEFAULTS } from '../helpers/server.js';
import * as twiml from '../../src/http/twiml.js';
import { documentOf, normalise } from '../helpers/twimlDocuments.js';

/**
 * connect.xml for a first join: the seat announced, and the <Connect action> the rejoin webhook
 * with this call's pass (rejoins so far: 0).
 */
function connectDocument(callSid: string, values: { streamUrl: string; streamStatusUrl: string; room: string; seat: number; ticket: string }): string {
  const action = `/voice/rejoin?room=${values.room}&n=0&pass=${rejoinPass(Buffer.from(SECRET), callSid, values.room, 0)}`;
  return normalise(documentOf('connect.xml', { ...values, action, seatSay: '@SEAT@' }).replace('@SEAT@', `<Say>You are participant ${values.seat}.</Say>`));
}

/** A known ticket secret, so the tests can check the tickets the webhooks hand out. */
const SECRET = 'webhooks-test-secret-0123456789abcdef';
const config = (env: Record<string, string> = {}) => parseConfig({ ...TEST_ENV_DEFAULTS, JOIN_TICKET_SECRET: SECRET, ...env });

/**
 * The join ticket in a connect.xml answer: present once, valid for this call, room and seat right
 * now. Returned to fill the document's {{ticket}}.
 */
function ticketIn(xml: string, callSid: string, room: string, seat: number): string {
  const tickets = [...xml.matchAll(/<Parameter name="ticket" value="([^"]*)"\/>/g)].map((m) => m[1]!);
  assert.equal(tickets.length, 1, 'one ticket parameter');
  const check = decodeTicket(Buffer.from(SECRET), tickets[0], callSid, Date.now());
  assert.ok(check.ok, `the ticket verifies: ${JSON.stringify(check)}`);
  assert.equal(check.claims.room, room);
  assert.equal(check.claims.seat, seat);
  return tickets[0]!;
}

const CALL = {
  CallSid: 'CA000000000000000000000000000000c3',
  AccountSid: 'AC000000000000000000000000000000a1',
  From: '+26655550199',
  To: '+12055550100',
  CallStatus: 'ringing',
  Direction: 'inbound',
  ApiVersion: '2010-04-01',
};

/** The real captured webhook parameters (test/fixtures/voice-webhook-params.txt). */
const capturedParams = Object.fromEntries(
  readFileSync(join(import.meta.dirname, '..', 'fixtures', 'voice-webhook-params.txt'), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
);

describe('voice webhooks answer their twiml/ documents', () => {
  let server: ConferenceServer;
  const gather = { timeoutSeconds: 8, numDigits: 11 };
  before(() => {
    server = createServer(config());
  });
  after(() => server.close());
  const post = (path: string, body: Record<string, string>) => request(server.httpServer).post(path).type('form').send(body);

  test('POST /voice with the real captured parameters: ask-room.xml', async () => {
    const res = await post('/voice', capturedParams);
    assert.equal(res.status, 200);
    assert.match(res.headers['content-type']!, /^text\/xml/);
    assert.equal(normalise(res.text), documentOf('ask-room.xml', { ...gather, action: '/voice/room?attempt=1' }));
  });

  test('a valid number: connect.xml with the seat and a ticket, the stream URL derived from the request', async () => {
    const res = await post('/voice/room?attempt=1', { ...CALL, Digits: '4711', FinishedOnKey: '#' }).set('Host', 'conf.example.test:3000');
    const ticket = ticketIn(res.text, CALL.CallSid, '4711', 1);
    assert.equal(
      normalise(res.text),
      connectDocument(CALL.CallSid, {
        streamUrl: 'ws://conf.example.test:3000/media',
        streamStatusUrl: 'http://conf.example.test:3000/voice/stream-status',
        room: '4711',
        seat: 1,
        ticket,
      }),
    );
    assert.doesNotMatch(res.text, /pin/i, 'no PIN in the TwiML');
  });

  test('behind a tunnel (X-Forwarded-Proto/Host) the stream URL is wss on the public host', async () => {
    const res = await post('/voice/room', { ...CALL, Digits: '4711' })
      .set('Host', 'localhost:3000')
      .set('X-Forwarded-Proto', 'https')
      .set('X-Forwarded-Host', 'example-tunnel.ngrok-free.dev');
    const ticket = ticketIn(res.text, CALL.CallSid, '4711', 1);
    assert.equal(
      normalise(res.text),
      connectDocument(CALL.CallSid, {
        streamUrl: 'wss://example-tunnel.ngrok-free.dev/media',
        streamStatusUrl: 'https://example-tunnel.ngrok-free.dev/voice/stream-status',
        room: '4711',
        seat: 1,
        ticket,
      }),
    );
  });

  test('POST /voice?room=N skips the prompt', async () => {
    const res = await post('/voice?room=0042', CALL).set('Host', 'h.test');
    const ticket = ticketIn(res.text, CALL.CallSid, '0042', 1);
    assert.equal(
      normalise(res.text),
      connectDocument(CALL.CallSid, { streamUrl: 'ws://h.test/media', streamStatusUrl: 'http://h.test/voice/stream-status', room: '0042', seat: 1, ticket }),
    );
  });

  test('POST /voice?room= with something that is not a number prompts instead', async () => {
    const res = await post('/voice?room=12ab', CALL);
    assert.equal(normalise(res.text), documentOf('ask-room.xml', { ...gather, action: '/voice/room?attempt=1' }));
  });

  test('nothing keyed: ask-room-again.xml with the no-input reason and the next attempt', async () => {
    const res = await post('/voice/room?attempt=1', { ...CALL, Digits: '' });
    assert.equal(
      normalise(res.text),
      documentOf('ask-room-again.xml', { ...gather, action: '/voice/room?attempt=2', reason: 'We did not receive a conference number.' }),
    );
  });

  test('not a room number (a star, or too many digits): ask-room-again.xml with the invalid reason', async () => {
    for (const Digits of ['12*3', '12345678901']) {
      const res = await post('/voice/room?attempt=2', { ...CALL, Digits });
      assert.equal(
        normalise(res.text),
        documentOf('ask-room-again.xml', { ...gather, action: '/voice/room?attempt=3', reason: 'That is not a valid conference number.' }),
        Digits,
      );
    }
  });

  test('after the last attempt: goodbye.xml', async () => {
    const res = await post('/voice/room?attempt=3', { ...CALL, Digits: '' });
    assert.equal(normalise(res.text), documentOf('goodbye.xml', {}));
  });

  test('a request without CallSid is not Twilio: 400 with a plain message', async () => {
    const res = await post('/voice', { From: '+1555' });
    assert.equal(res.status, 400);
    assert.match(res.text, /missing CallSid/);
    assert.doesNotMatch(res.text, /at .*\.ts:\d+/, 'no stack trace');
  });

  test('unknown routes and methods: 404 JSON', async () => {
    const res = await request(server.httpServer).get('/voice');
    assert.equal(res.status, 404);
    assert.equal(res.body.error.code, 'NOT_FOUND');
  });

  test('GET /health', async () => {
    const res = await request(server.httpServer).get('/health');
    assert.equal(res.status, 200);
    assert.equal(res.body.status, 'ok');
    assert.equal(res.body.rooms, 0);
  });
});

describe('PUBLIC_URL and prompt settings', () => {
  test('PUBLIC_URL decides the stream URL whatever the request says', async () => {
    const server = createServer(config({ PUBLIC_URL: 'https://calls.example.com/' }));
    try {
      const res = await request(server.httpServer)
        .post('/voice/room')
        .type('form')
        .send({ ...CALL, Digits: '9' })
        .set('X-Forwarded-Host', 'evil.test');
      const ticket = ticketIn(res.text, CALL.CallSid, '9', 1);
      assert.equal(
        normalise(res.text),
        connectDocument(CALL.CallSid, {
          streamUrl: 'wss://calls.example.com/media',
          streamStatusUrl: 'https://calls.example.com/voice/stream-status',
          room: '9',
          seat: 1,
          ticket,
        }),
      );
    } finally {
      await server.close();
    }
  });

  test('GATHER_TIMEOUT_SECONDS, ROOM_NUMBER_MAX_DIGITS and PROMPT_ATTEMPTS shape the prompt', async () => {
    const server = createServer(config({ GATHER_TIMEOUT_SECONDS: '5', ROOM_NUMBER_MAX_DIGITS: '4', PROMPT_ATTEMPTS: '2' }));
    try {
      const post = (path: string, body: Record<string, string>) => request(server.httpServer).post(path).type('form').send(body);
      const first = await post('/voice', CALL);
      assert.equal(normalise(first.text), documentOf('ask-room.xml', { timeoutSeconds: 5, numDigits: 5, action: '/voice/room?attempt=1' }));
      const tooLong = await post('/voice/room?attempt=1', { ...CALL, Digits: '12345' });
      assert.match(tooLong.text, /That is not a valid conference number/);
      const last = await post('/voice/room?attempt=2', { ...CALL, Digits: '' });
      assert.equal(normalise(last.text), documentOf('goodbye.xml', {}));
    } finally {
      await server.close();
    }
  });
});

describe('rooms: PIN, locked, full and unknown numbers answer their twiml/ documents', () => {
  let server: ConferenceServer;
  const ADMIN = 'webhooks-admin-token-0123456789';
  const gather = { timeoutSeconds: 8, numDigits: 11 };
  const pinGather = (room: string) => ({ timeoutSeconds: 8, numDigits: 13, action: `/voice/pin?room=${room}` });
  before(async () => {
    server = createServer(config({ ADMIN_TOKEN: ADMIN, AUTO_CREATE_ROOMS: 'false', PIN_ATTEMPTS: '3' }));
    const admin = (body: object) => request(server.httpServer).post('/api/rooms').set('Authorization', `Bearer ${ADMIN}`).send(body);
    assert.equal((await admin({ id: '1111', pin: '2468' })).status, 201);
    assert.equal((await admin({ id: '2222' })).status, 201);
    assert.equal((await admin({ id: '3333', maxParticipants: 1 })).status, 201);
    assert.equal((await admin({ id: '4545', moderatorPin: '97531' })).status, 201);
    const lock = await request(server.httpServer).patch('/api/rooms/2222').set('Authorization', `Bearer ${ADMIN}`).send({ locked: true });
    assert.equal(lock.status, 200);
  });
  after(() => server.close());
  const post = (path: string, body: Record<string, string>) => request(server.httpServer).post(path).type('form').send(body);
  const call = (n: number) => ({ ...CALL, CallSid: `CA${String(n).padStart(32, '0')}` });

  test('a room with a PIN: ask-pin.xml (the PIN is not in it)', async () => {
    const res = await post('/voice/room?attempt=1', { ...call(1), Digits: '1111' });
    assert.equal(normalise(res.text), documentOf('ask-pin.xml', pinGather('1111')));
    assert.doesNotMatch(res.text, /2468/);
  });

  test('issue 17: a room with only a moderator PIN: ask-moderator-pin.xml; # alone connects, a wrong PIN is asked again', async () => {
    const res = await post('/voice/room?attempt=1', { ...call(40), Digits: '4545' });
    assert.equal(normalise(res.text), documentOf('ask-moderator-pin.xml', pinGather('4545')));
    assert.doesNotMatch(res.text, /97531/);
    const participant = await post('/voice/pin?room=4545', { ...call(40), Digits: '' });
    assert.match(participant.text, /<Connect action=/);
    const wrong = await post('/voice/pin?room=4545', { ...call(41), Digits: '1357' });
    assert.equal(normalise(wrong.text), documentOf('ask-pin-again.xml', { ...pinGather('4545'), reason: 'That PIN is not correct.' }));
  });

  test('back from a restart (a call this process never saw): &restart=pin asks the PIN again saying why (ask-pin-after-restart.xml), &restart=1 as usual', async () => {
    const pin = await post('/voice?room=1111&restart=pin', call(50));
    assert.equal(normalise(pin.text), documentOf('ask-pin-after-restart.xml', { ...pinGather('1111'), prompt: twiml.PROMPTS.askPin }));
    const moderator = await post('/voice?room=4545&restart=pin', call(51));
    assert.equal(normalise(moderator.text), documentOf('ask-pin-after-restart.xml', { ...pinGather('4545'), prompt: twiml.PROMPTS.askModeratorPin }));
    const keyed = await post('/voice?room=1111&restart=1', call(52));
    assert.equal(normalise(keyed.text), documentOf('ask-pin.xml', pinGather('1111')), 'the number was keyed before the restart, the PIN not yet');
    const open = await post('/voice?room=2222&restart=pin', call(53));
    assert.equal(normalise(open.text), documentOf('conference-locked.xml', {}), 'any other answer as usual');
  });

  test('nothing keyed, then a wrong PIN: ask-pin-again.xml with each reason; the third wrong try: pin-goodbye.xml', async () => {
    const nothing = await post('/voice/pin?room=1111', { ...call(2), Digits: '' });
    assert.equal(normalise(nothing.text), documentOf('ask-pin-again.xml', { ...pinGather('1111'), reason: 'We did not receive a PIN.' }));
    const wrong = await post('/voice/pin?room=1111', { ...call(2), Digits: '1357' });
    assert.equal(normalise(wrong.text), documentOf('ask-pin-again.xml', { ...pinGather('1111'), reason: 'That PIN is not correct.' }));
    const last = await post('/voice/pin?room=1111', { ...call(2), Digits: '9999' });
    assert.equal(normalise(last.text), documentOf('pin-goodbye.xml', {}));
    // The count is the server's: the right PIN after the strikes is refused too.
    const late = await post('/voice/pin?room=1111', { ...call(2), Digits: '2468' });
    assert.equal(normalise(late.text), documentOf('pin-goodbye.xml', {}));
  });

  test('the right PIN: connect.xml with the seat and a ticket', async () => {
    const res = await post('/voice/pin?room=1111', { ...call(3), Digits: '2468' }).set('Host', 'h.test');
    const ticket = ticketIn(res.text, call(3).CallSid, '1111', 1);
    assert.equal(
      normalise(res.text),
      connectDocument(call(3).CallSid, { streamUrl: 'ws://h.test/media', streamStatusUrl: 'http://h.test/voice/stream-status', room: '1111', seat: 1, ticket }),
    );
    // Outside the ticket (whose expiry, nonce and MAC may hold any four digits by chance; its
    // fields are checked above and carry no PIN).
    assert.doesNotMatch(res.text.replace(ticket, ''), /2468/);
  });

  test('a locked room: conference-locked.xml', async () => {
    const res = await post('/voice/room?attempt=1', { ...call(4), Digits: '2222' });
    assert.equal(normalise(res.text), documentOf('conference-locked.xml', {}));
  });

  test('a full room (seat limit 1, its seat reserved): conference-full.xml', async () => {
    const first = await post('/voice/room?attempt=1', { ...call(5), Digits: '3333' });
    assert.match(first.text, /You are participant 1\./);
    const second = await post('/voice/room?attempt=1', { ...call(6), Digits: '3333' });
    assert.equal(normalise(second.text), documentOf('conference-full.xml', {}));
  });

  test('auto-create off, an unknown number: ask-room-again.xml "no such conference", then goodbye.xml', async () => {
    const res = await post('/voice/room?attempt=1', { ...call(7), Digits: '4444' });
    assert.equal(
      normalise(res.text),
      documentOf('ask-room-again.xml', { ...gather, action: '/voice/room?attempt=2', reason: 'There is no conference with that number.' }),
    );
    const last = await post('/voice/room?attempt=3', { ...call(7), Digits: '4444' });
    assert.equal(normalise(last.text), documentOf('goodbye.xml', {}));
  });
});

/**
 * The rejoin answers (driven end to end by test/integration/restart.serial.test.ts and, through nginx,
 * cluster.serial.test.ts). Here each builder is held to its reviewed document.
 */
describe('rejoin answers match their twiml/ documents', () => {
  test('connect.xml on a rejoin (no seat announcement), redirect.xml, rejoin-wait.xml, left.xml, rejoin-failed.xml', () => {
    const p = {
      streamUrl: 'wss://conference.example.com/p/2/media',
      // No node prefix: any node counts Twilio's report on the stream.
      streamStatusUrl: 'https://conference.example.com/voice/stream-status',
      room: '4711',
      seat: 3,
      ticket: 'v2.CA1.4711.3.7.1800000030.n.m',
      action: '/voice/rejoin?room=4711&n=1&pass=abc',
    };
    assert.equal(
      normalise(twiml.connect({ ...p, announceSeat: true })),
      normalise(documentOf('connect.xml', { ...p, seatSay: '@SEAT@' }).replace('@SEAT@', '<Say>You are participant 3.</Say>')),
    );
    assert.equal(
      normalise(twiml.connect({ ...p, announceSeat: false })),
      normalise(documentOf('connect.xml', { ...p, seatSay: '@SEAT@' }).replace('@SEAT@', '')),
    );
    assert.equal(normalise(twiml.redirect('/p/2/voice?room=4711&hop=1')), documentOf('redirect.xml', { url: '/p/2/voice?room=4711&hop=1' }));
    for (const pause of [1, 3]) {
      assert.equal(
        normalise(twiml.rejoinWait('/voice/rejoin?room=4711&n=2&pass=x&restart=1', pause)),
        documentOf('rejoin-wait.xml', { url: '/voice/rejoin?room=4711&n=2&pass=x&restart=1', pause }),
      );
    }
    assert.equal(normalise(twiml.left()), documentOf('left.xml', {}));
    assert.equal(normalise(twiml.rejoinFailed()), documentOf('rejoin-failed.xml', {}));
  });
});
