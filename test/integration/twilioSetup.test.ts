/**
 * Issue 7: `npm run twilio:setup` points a number's Voice webhook at PUBLIC_URL/voice through
 * twilio's own REST client, here against a local stand-in for api.twilio.com (the client takes a
 * custom HTTP client, which sends its requests to the stand-in on loopback).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import twilio from 'twilio';
import type RequestClient from 'twilio/lib/base/RequestClient.js';
import { describeResult, parseSetupArgs, pointNumberAtServer, SetupError, voiceWebhookUrl } from '../../tools/twilio-setup.js';

const ACCOUNT = 'AC0123456789abcdef0123456789abcdef';
const TOKEN = 'test-auth-token';
const PN = 'PN0123456789abcdef0123456789abcdef';

interface Seen {
  method: string;
  path: string;
  query: URLSearchParams;
  form: URLSearchParams;
  auth: string;
}

/** A stand-in for the two REST endpoints the tool uses, holding one number. */
function standIn(number: { phone_number: string; voice_url: string; voice_method: string }) {
  const seen: Seen[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://x');
      seen.push({
        method: req.method ?? '',
        path: url.pathname,
        query: url.searchParams,
        form: new URLSearchParams(body),
        auth: req.headers.authorization ?? '',
      });
      const base = `/2010-04-01/Accounts/${ACCOUNT}/IncomingPhoneNumbers`;
      const resource = () => ({
        sid: PN,
        account_sid: ACCOUNT,
        phone_number: number.phone_number,
        friendly_name: 'Line',
        voice_url: number.voice_url,
        voice_method: number.voice_method,
      });
      res.setHeader('content-type', 'application/json');
      if (req.headers.authorization !== `Basic ${Buffer.from(`${ACCOUNT}:${TOKEN}`).toString('base64')}`) {
        res.statusCode = 401;
        return res.end(JSON.stringify({ code: 20003, message: 'Authenticate', status: 401 }));
      }
      if (req.method === 'GET' && url.pathname === `${base}.json`) {
        const match = url.searchParams.get('PhoneNumber') === number.phone_number;
        return res.end(JSON.stringify({ incoming_phone_numbers: match ? [resource()] : [], page: 0, page_size: 2, next_page_uri: null, uri: `${base}.json` }));
      }
      if (req.method === 'POST' && url.pathname === `${base}/${PN}.json`) {
        const form = new URLSearchParams(body);
        number.voice_url = form.get('VoiceUrl') ?? number.voice_url;
        number.voice_method = form.get('VoiceMethod') ?? number.voice_method;
        return res.end(JSON.stringify(resource()));
      }
      res.statusCode = 404;
      res.end(JSON.stringify({ code: 20404, message: 'not found', status: 404 }));
    });
  });
  return { server, seen, number };
}

/** twilio's own request client, with every request sent to the stand-in instead of Twilio. */
class StandInRequestClient extends twilio.RequestClient {
  constructor(private readonly base: string) {
    super();
  }

  override request<T>(opts: RequestClient.RequestOptions<T>) {
    return super.request<T>({ ...opts, uri: opts.uri.replace(/^https:\/\/[^/]+/, this.base) });
  }
}

describe('twilio:setup', () => {
  let stand: ReturnType<typeof standIn>;
  let client: ReturnType<typeof twilio>;
  before(async () => {
    stand = standIn({ phone_number: '+15551234567', voice_url: 'https://demo.twilio.com/welcome/voice/', voice_method: 'GET' });
    await new Promise<void>((resolve) => stand.server.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(stand.server.address() as AddressInfo).port}`;
    client = twilio(ACCOUNT, TOKEN, { httpClient: new StandInRequestClient(base) });
  });
  after(() => new Promise<void>((resolve) => stand.server.close(() => resolve())));

  test('arguments: --number in E.164, optional --url, --room, --dry-run', () => {
    assert.deepEqual(parseSetupArgs(['--number', '+15551234567']), { number: '+15551234567', url: undefined, room: undefined, dryRun: false, help: false });
    assert.equal(parseSetupArgs(['--number', '+15551234567', '--room', '42', '--dry-run']).dryRun, true);
    assert.throws(() => parseSetupArgs([]), SetupError);
    assert.throws(() => parseSetupArgs(['--number', '5551234567']), /E\.164/);
    assert.throws(() => parseSetupArgs(['--number', '+15551234567', '--bogus']), /usage/);
    assert.equal(voiceWebhookUrl('https://abc.ngrok.app/'), 'https://abc.ngrok.app/voice');
    assert.equal(voiceWebhookUrl('https://abc.ngrok.app', '1234'), 'https://abc.ngrok.app/voice?room=1234');
  });

  test('--dry-run says what it would change and changes nothing', async () => {
    const result = await pointNumberAtServer(client, { number: '+15551234567', baseUrl: 'https://abc.ngrok.app', dryRun: true });
    assert.equal(result.changed, true);
    assert.equal(stand.number.voice_url, 'https://demo.twilio.com/welcome/voice/');
    assert.match(describeResult(result, true), /would change/);
    assert.ok(stand.seen.every((s) => s.method === 'GET'));
  });

  test("points the number's Voice webhook at PUBLIC_URL/voice (POST) and says what it changed", async () => {
    stand.seen.length = 0;
    const result = await pointNumberAtServer(client, { number: '+15551234567', baseUrl: 'https://abc.ngrok.app' });
    assert.deepEqual(result, {
      sid: PN,
      number: '+15551234567',
      before: { voiceUrl: 'https://demo.twilio.com/welcome/voice/', voiceMethod: 'GET' },
      after: { voiceUrl: 'https://abc.ngrok.app/voice', voiceMethod: 'POST' },
      changed: true,
    });
    assert.deepEqual(
      stand.seen.map((s) => `${s.method} ${s.path}`),
      [`GET /2010-04-01/Accounts/${ACCOUNT}/IncomingPhoneNumbers.json`, `POST /2010-04-01/Accounts/${ACCOUNT}/IncomingPhoneNumbers/${PN}.json`],
    );
    assert.equal(stand.seen[0]!.query.get('PhoneNumber'), '+15551234567');
    assert.equal(stand.seen[1]!.form.get('VoiceUrl'), 'https://abc.ngrok.app/voice');
    assert.equal(stand.seen[1]!.form.get('VoiceMethod'), 'POST');
    assert.equal(stand.number.voice_url, 'https://abc.ngrok.app/voice');
    const text = describeResult(result);
    assert.match(text, /from: GET https:\/\/demo\.twilio\.com\/welcome\/voice\//);
    assert.match(text, /to: {3}POST https:\/\/abc\.ngrok\.app\/voice/);
  });

  test('run again: nothing to change; an unknown number and a wrong token are clear errors', async () => {
    stand.seen.length = 0;
    const again = await pointNumberAtServer(client, { number: '+15551234567', baseUrl: 'https://abc.ngrok.app' });
    assert.equal(again.changed, false);
    assert.equal(stand.seen.length, 1, 'only the look-up');
    assert.match(describeResult(again), /nothing changed/);
    await assert.rejects(
      pointNumberAtServer(client, { number: '+15550000000', baseUrl: 'https://abc.ngrok.app' }),
      /not a phone number of this Twilio account/,
    );
    const base = `http://127.0.0.1:${(stand.server.address() as AddressInfo).port}`;
    const wrong = twilio(ACCOUNT, 'wrong-token', { httpClient: new StandInRequestClient(base) });
    await assert.rejects(pointNumberAtServer(wrong, { number: '+15551234567', baseUrl: 'https://abc.ngrok.app' }), (error: any) => error.status === 401);
  });
});
