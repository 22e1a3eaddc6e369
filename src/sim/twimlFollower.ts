/**
 * Follows the server's TwiML the way Twilio does for a call: posts the voice webhook with
 * Twilio's parameters, keys digits at a <Gather>, follows <Redirect>, waits out <Pause>, and stops at
 * <Connect><Stream> (the stream to open, and its action: where to go when it ends) or <Hangup>. For the simulator, the load generator and tests.
 */
import { XMLParser } from 'fast-xml-parser';

export interface DialOptions {
  /** http(s)://host:port of the server. */
  baseUrl: string;
  /** Webhook path (may carry ?room=). */
  voicePath?: string;
  callSid: string;
  accountSid?: string;
  from?: string;
  to?: string;
  /** Digits keyed at each successive <Gather> (without the #); '' = no input. */
  keypresses?: string[];
  /** Extra form parameters (Twilio adds fields over time). */
  extraParams?: Record<string, string>;
  /** Parameters of the first request only (e.g. the Digits of a <Gather> answered before: voicePath is its action). */
  firstParams?: Record<string, string>;
  /** Awaited before following each <Redirect> (a test holding one call back). */
  beforeRedirect?: (url: URL) => Promise<void>;
  /** Request headers (e.g. a signature). */
  headers?: Record<string, string>;
  /** Headers for one request, from its URL and form parameters (e.g. X-Twilio-Signature, as Twilio signs each). */
  sign?: (url: string, params: Readonly<Record<string, string>>) => Record<string, string>;
  /** Twilio's Direction: 'inbound' (default), or 'outbound-api' for a call placed through the REST API. */
  direction?: 'inbound' | 'outbound-api';
  maxRequests?: number;
}

export type DialResult =
  | {
      kind: 'stream';
      streamUrl: string;
      parameters: Record<string, string>;
      said: string[];
      requests: number;
      /** <Connect action>, resolved: where Twilio goes when the stream ends (dial it as voicePath). */
      action?: string;
    }
  | { kind: 'hangup'; said: string[]; requests: number };

type Node = Record<string, unknown>;
const parser = new XMLParser({ preserveOrder: true, ignoreAttributes: false, attributeNamePrefix: '', trimValues: true });

function children(node: Node, tag: string): Node[] {
  return (node[tag] as Node[] | undefined) ?? [];
}
function attrs(node: Node): Record<string, string> {
  return (node[':@'] as Record<string, string> | undefined) ?? {};
}
function tagOf(node: Node): string {
  return Object.keys(node).find((k) => k !== ':@') ?? '';
}
function textOf(node: Node, tag: string): string {
  return children(node, tag)
    .map((c) => String(c['#text'] ?? ''))
    .join('');
}

export class DialError extends Error {
  override name = 'DialError';
}

export async function dialIn(options: DialOptions): Promise<DialResult> {
  const params: Record<string, string> = {
    AccountSid: options.accountSid ?? 'AC' + '0'.repeat(32),
    ApiVersion: '2010-04-01',
    CallSid: options.callSid,
    CallStatus: options.direction === 'outbound-api' ? 'in-progress' : 'ringing',
    Direction: options.direction ?? 'inbound',
    From: options.from ?? '+15005550006',
    To: options.to ?? '+15005550001',
    ...options.extraParams,
  };
  const keypresses = [...(options.keypresses ?? [])];
  const said: string[] = [];
  let url = new URL(options.voicePath ?? '/voice', options.baseUrl);
  let body: Record<string, string> = options.firstParams ? { ...params, ...options.firstParams } : params;
  const maxRequests = options.maxRequests ?? 10;
  for (let requests = 1; requests <= maxRequests; requests++) {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...options.headers, ...options.sign?.(url.href, body) },
      body: new URLSearchParams(body).toString(),
    });
    const text = await response.text();
    if (!response.ok) throw new DialError(`${url.pathname} answered ${response.status}: ${text.slice(0, 200)}`);
    const doc = parser.parse(text) as Node[];
    const responseNode = doc.find((n) => tagOf(n) === 'Response');
    if (!responseNode) throw new DialError(`${url.pathname} did not answer TwiML: ${text.slice(0, 200)}`);
    params.CallStatus = 'in-progress';
    let next: { url: URL; body: Record<string, string> } | null = null;
    for (const verb of children(responseNode, 'Response')) {
      const tag = tagOf(verb);
      if (tag === 'Say') said.push(textOf(verb, 'Say'));
      else if (tag === 'Pause') await new Promise((resolve) => setTimeout(resolve, 1000 * (Number(attrs(verb)['length']) || 1)));
      else if (tag === 'Hangup') return { kind: 'hangup', said, requests };
      else if (tag === 'Redirect') {
        next = { url: new URL(textOf(verb, 'Redirect'), url), body: params };
        await options.beforeRedirect?.(next.url);
        break;
      } else if (tag === 'Gather') {
        for (const inner of children(verb, 'Gather')) if (tagOf(inner) === 'Say') said.push(textOf(inner, 'Say'));
        const a = attrs(verb);
        const digits = keypresses.shift() ?? '';
        if (digits === '' && a['actionOnEmptyResult'] !== 'true') continue; // falls through, as Twilio does
        next = { url: new URL(a['action'] ?? url.href, url), body: { ...params, Digits: digits, FinishedOnKey: digits ? '#' : '' } };
        break;
      } else if (tag === 'Connect') {
        const stream = children(verb, 'Connect').find((n) => tagOf(n) === 'Stream');
        if (!stream) throw new DialError('<Connect> without <Stream>');
        const parameters: Record<string, string> = {};
        for (const p of children(stream, 'Stream')) {
          if (tagOf(p) === 'Parameter') parameters[attrs(p)['name'] ?? ''] = attrs(p)['value'] ?? '';
        }
        const action = attrs(verb)['action'];
        return { kind: 'stream', streamUrl: attrs(stream)['url'] ?? '', parameters, said, requests, ...(action ? { action: new URL(action, url).href } : {}) };
      }
    }
    if (!next) return { kind: 'hangup', said, requests }; // end of document: Twilio hangs up
    url = next.url;
    body = next.body;
  }
  throw new DialError(`more than ${maxRequests} webhook requests`);
}
