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
import { createServer, type ConferenceServer } from '../../src/server.js';

const twimlDir = join(import.meta.dirname, '..', '..', 'twiml');

const escapeXml = (v: string) => v.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** A twiml/ document with its placeholders filled, comments dropped and layout whitespace removed. */
function documentOf(name: string, values: Record<string, string | number>): string {
  let xml = readFileSync(join(twimlDir, name), 'utf8');
  xml = xml.replace(/<!--[\s\S]*?-->/g, '');
  xml = xml.replace(/\{\{(\w+)\}\}/g, (_, key: string) => {
    assert.ok(key in values, `placeholder {{${key}}} of ${name} has a value`);
    return escapeXml(String(values[key]));
  });
  return normalise(xml);
}

function normalise(xml: string): string {
  return xml.replace(/>\s+</g, '><').trim();
}

const CALL = { CallSid: 'CA000000000000000000000000000000c3', AccountSid: 'AC000000000000000000000000000000a1', From: '+26655550199', To: '+12055550100', CallStatus: 'ringing', Direction: 'inbound', ApiVersion: '2010-04-01' };

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
    server = createServer(parseConfig({}));
  });
  after(() => server.close());
  const post = (path: string, body: Record<string, string>) => request(server.httpServer).post(path).type('form').send(body);

  test('POST /voice with the real captured parameters: ask-room.xml', async () => {
    const res = await post('/voice', capturedParams);
    assert.equal(res.status, 200);
    assert.match(res.headers['content-type']!, /^text\/xml/);
    assert.equal(normalise(res.text), documentOf('ask-room.xml', { ...gather, action: '/voice/room?attempt=1' }));
  });

  test('a valid number: connect.xml, the stream URL derived from the request', async () => {
    const res = await post('/voice/room?attempt=1', { ...CALL, Digits: '4711', FinishedOnKey: '#' }).set('Host', 'conf.example.test:3000');
    assert.equal(normalise(res.text), documentOf('connect.xml', { streamUrl: 'ws://conf.example.test:3000/media', room: '4711' }));
  });

  test('behind a tunnel (X-Forwarded-Proto/Host) the stream URL is wss on the public host', async () => {
    const res = await post('/voice/room', { ...CALL, Digits: '4711' })
      .set('Host', 'localhost:3000')
      .set('X-Forwarded-Proto', 'https')
      .set('X-Forwarded-Host', 'example-tunnel.ngrok-free.dev');
    assert.equal(normalise(res.text), documentOf('connect.xml', { streamUrl: 'wss://example-tunnel.ngrok-free.dev/media', room: '4711' }));
  });

  test('POST /voice?room=N skips the prompt', async () => {
    const res = await post('/voice?room=0042', CALL).set('Host', 'h.test');
    assert.equal(normalise(res.text), documentOf('connect.xml', { streamUrl: 'ws://h.test/media', room: '0042' }));
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
    const server = createServer(parseConfig({ PUBLIC_URL: 'https://calls.example.com/' }));
    try {
      const res = await request(server.httpServer).post('/voice/room').type('form').send({ ...CALL, Digits: '9' }).set('X-Forwarded-Host', 'evil.test');
      assert.equal(normalise(res.text), documentOf('connect.xml', { streamUrl: 'wss://calls.example.com/media', room: '9' }));
    } finally {
      await server.close();
    }
  });

  test('GATHER_TIMEOUT_SECONDS, ROOM_NUMBER_MAX_DIGITS and PROMPT_ATTEMPTS shape the prompt', async () => {
    const server = createServer(parseConfig({ GATHER_TIMEOUT_SECONDS: '5', ROOM_NUMBER_MAX_DIGITS: '4', PROMPT_ATTEMPTS: '2' }));
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
