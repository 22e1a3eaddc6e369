/**
 * A local stand-in for Twilio's REST API and its part in an outbound call, for dial-out tests.
 *
 * It accepts POST /2010-04-01/Accounts/{AccountSid}/Calls.json with HTTP basic auth (the account
 * SID and auth token), answers 201 with a call resource as Twilio does (status "queued"), and
 * then plays the call as the script for its `To` says:
 *
 * - answered: the StatusCallback gets initiated, ringing and in-progress (each as asked in
 *   StatusCallbackEvent), then the Url is fetched with Twilio's parameters and the TwiML followed
 *   with the simulator's twimlFollower (keys pressed as scripted); a <Connect><Stream> opens the
 *   Media Stream with the simulator; `hangUp()` ends it and posts completed;
 * - not answered: ringing, then completed with CallStatus no-answer / busy / failed.
 *
 * Every webhook and the stream upgrade are signed with the auth token (X-Twilio-Signature), as
 * Twilio signs them. The server's twilio client reaches this through `httpClient()`, a twilio
 * RequestClient that sends to this server what it would send to https://api.twilio.com.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import twilio from 'twilio';
import { randomSid, SimulatedStream } from '../../src/sim/simulatedStream.js';
import { dialIn, type DialResult } from '../../src/sim/twimlFollower.js';
import { twilioSignature } from './signing.js';

export type CalleeScript =
  | { answer: true; keys: string[]; ringMs?: number }
  | { answer: false; status: 'no-answer' | 'busy' | 'failed'; ringMs?: number }
  /** Twilio refuses the create (e.g. 400, code 21211 "Invalid 'To' Phone Number"). */
  | { refuse: { status: number; code: number; message: string } };

export interface StandInCall {
  sid: string;
  to: string;
  from: string;
  url: string;
  statusCallback: string;
  statusCallbackEvents: string[];
  timeoutSeconds: number;
  /** The CallStatus values posted to StatusCallback, in order, with the server's answer. */
  posted: { status: string; answer: number }[];
  /** What the callee heard and where the TwiML led (answered calls). */
  dial?: DialResult;
  stream?: SimulatedStream;
  /** Resolves when the call has played up to its stream (or its end). */
  played: Promise<void>;
  /** Ends an answered call: the stream stops, completed is posted. */
  hangUp(): Promise<void>;
}

/** A RequestClient that sends twilio's requests for api.twilio.com to `baseUrl` instead. */
class StandInRequestClient extends twilio.RequestClient {
  constructor(private readonly baseUrl: string) {
    super();
  }
  override request<T>(opts: Parameters<twilio.RequestClient['request']>[0] & { data?: T }) {
    return super.request<T>({ ...opts, uri: opts.uri.replace(/^https:\/\/api\.twilio\.com/, this.baseUrl) });
  }
}

export class TwilioStandIn {
  readonly calls: StandInCall[] = [];
  /** Every request to the REST API: path and whether its basic auth was right. */
  readonly requests: { method: string; path: string; authorized: boolean }[] = [];
  private readonly scripts = new Map<string, CalleeScript>();
  private sequence = 0;

  private constructor(
    private readonly server: Server,
    readonly baseUrl: string,
    private readonly accountSid: string,
    private readonly authToken: string,
  ) {}

  static async start(accountSid: string, authToken: string): Promise<TwilioStandIn> {
    let standIn: TwilioStandIn | undefined;
    const server = createServer((req, res) => void standIn!.handle(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    standIn = new TwilioStandIn(server, `http://127.0.0.1:${port}`, accountSid, authToken);
    return standIn;
  }

  /** For the server under test: ServerDeps.twilioHttpClient. */
  httpClient(): twilio.RequestClient {
    return new StandInRequestClient(this.baseUrl);
  }

  /** How the callee at `to` behaves (default: answers and presses nothing). */
  script(to: string, script: CalleeScript): void {
    this.scripts.set(to, script);
  }

  /** Idempotent. */
  async close(): Promise<void> {
    if (!this.server.listening) return;
    for (const c of this.calls) c.stream?.terminate();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
    const path = new URL(req.url ?? '/', this.baseUrl).pathname;
    const expected = `Basic ${Buffer.from(`${this.accountSid}:${this.authToken}`).toString('base64')}`;
    const authorized = req.headers.authorization === expected;
    this.requests.push({ method: req.method ?? '', path, authorized });
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (!authorized) return json(401, { code: 20003, message: 'Authenticate', more_info: 'https://www.twilio.com/docs/errors/20003', status: 401 });
    if (req.method !== 'POST' || path !== `/2010-04-01/Accounts/${this.accountSid}/Calls.json`) {
      return json(404, { code: 20404, message: 'The requested resource was not found', status: 404 });
    }
    const to = form.get('To');
    const from = form.get('From');
    const url = form.get('Url');
    if (!to || !from || !url) return json(400, { code: 21201, message: "No 'To' number, 'From' number or 'Url' is specified", status: 400 });
    const script = this.scripts.get(to) ?? { answer: true, keys: [] };
    if ('refuse' in script) return json(script.refuse.status, { code: script.refuse.code, message: script.refuse.message, status: script.refuse.status });
    const sid = randomSid('CA');
    const call: StandInCall = {
      sid,
      to,
      from,
      url,
      statusCallback: form.get('StatusCallback') ?? '',
      statusCallbackEvents: form.getAll('StatusCallbackEvent'),
      timeoutSeconds: Number(form.get('Timeout') ?? 60),
      posted: [],
      played: Promise.resolve(),
      hangUp: async () => {},
    };
    this.calls.push(call);
    json(201, {
      sid,
      account_sid: this.accountSid,
      to,
      from,
      status: 'queued',
      direction: 'outbound-api',
      api_version: '2010-04-01',
      date_created: new Date().toUTCString(),
      uri: `/2010-04-01/Accounts/${this.accountSid}/Calls/${sid}.json`,
    });
    call.played = this.play(call, script);
  }

  private async play(call: StandInCall, script: CalleeScript): Promise<void> {
    await new Promise((r) => setTimeout(r, 20)); // Twilio answers the create before the call progresses
    await this.progress(call, 'initiated', 'initiated');
    await this.progress(call, 'ringing', 'ringing');
    if ('ringMs' in script && script.ringMs) await new Promise((r) => setTimeout(r, script.ringMs));
    if (!('answer' in script) || !script.answer) {
      await this.progress(call, 'completed', 'refuse' in script ? 'failed' : script.status);
      return;
    }
    await this.progress(call, 'answered', 'in-progress');
    const target = new URL(call.url);
    call.dial = await dialIn({
      baseUrl: target.origin,
      voicePath: target.pathname + target.search,
      callSid: call.sid,
      accountSid: this.accountSid,
      from: call.from,
      to: call.to,
      direction: 'outbound-api',
      keypresses: script.keys,
      sign: (url, params) => ({ 'x-twilio-signature': twilioSignature(this.authToken, url, params) }),
    });
    if (call.dial.kind === 'hangup') {
      await this.progress(call, 'completed', 'completed');
      return;
    }
    const { streamUrl, parameters } = call.dial;
    call.stream = await SimulatedStream.open({
      url: streamUrl,
      callSid: call.sid,
      customParameters: parameters,
      headers: { 'x-twilio-signature': twilioSignature(this.authToken, streamUrl) },
    });
    call.hangUp = async () => {
      await call.stream?.stop();
      await this.progress(call, 'completed', 'completed');
    };
  }

  /** Posts one progress event to the call's StatusCallback, when it asked for that event. */
  private async progress(call: StandInCall, event: string, status: string): Promise<void> {
    if (!call.statusCallback || !call.statusCallbackEvents.includes(event)) return;
    const params: Record<string, string> = {
      AccountSid: this.accountSid,
      ApiVersion: '2010-04-01',
      CallSid: call.sid,
      CallStatus: status,
      Direction: 'outbound-api',
      From: call.from,
      To: call.to,
      CallbackSource: 'call-progress-events',
      SequenceNumber: String(this.sequence++),
      Timestamp: new Date().toUTCString().replace(/GMT$/, '+0000'),
    };
    const response = await fetch(call.statusCallback, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': twilioSignature(this.authToken, call.statusCallback, params) },
      body: new URLSearchParams(params).toString(),
    });
    await response.arrayBuffer();
    call.posted.push({ status, answer: response.status });
  }
}
