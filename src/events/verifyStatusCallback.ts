/**
 * Signed status callbacks: how the server signs each POST to STATUS_CALLBACK_URL and how a
 * receiver checks it. Plain functions on strings, with nothing of the server imported (only
 * node:crypto), so a receiver written in Node can import this file on its own.
 *
 * Header: `X-Conference-Signature: t=<unix seconds>,v1=<hex>`, where
 * hex = HMAC-SHA256(STATUS_CALLBACK_SECRET, `${t}.${url}.${body}`): the time the POST was sent,
 * the URL exactly as configured in STATUS_CALLBACK_URL, and the raw form body as sent. Each attempt
 * (a retry too) is signed at the moment it is sent. The receiver refuses a timestamp more than
 * `toleranceSeconds` (5 minutes by default) from its own clock, so a captured request cannot be
 * played again later; one replayed within the window carries the same `v1`, which a receiver
 * that must refuse even that keeps for the window and compares.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

/** The header carrying the signature (HTTP header names are case-insensitive: Node lowercases it). */
export const STATUS_CALLBACK_SIGNATURE_HEADER = 'X-Conference-Signature';

/** How far (seconds) a signature's timestamp may be from the receiver's clock, either way. */
export const DEFAULT_TOLERANCE_SECONDS = 300;

/** The hex HMAC-SHA256 of `${timestamp}.${url}.${body}` under `secret`. */
export function statusCallbackDigest(secret: string, timestamp: number, url: string, body: string): string {
  return createHmac('sha256', secret).update(`${timestamp}.${url}.${body}`).digest('hex');
}

/** The header value for one POST of `body` to `url`, sent at `unixSeconds`. */
export function signStatusCallback(secret: string, url: string, body: string, unixSeconds: number): string {
  const t = Math.floor(unixSeconds);
  return `t=${t},v1=${statusCallbackDigest(secret, t, url, body)}`;
}

export interface VerifyStatusCallbackInput {
  secret: string;
  /** The X-Conference-Signature header as received (undefined: absent). */
  header: string | undefined;
  /** The URL the server was configured to POST to (STATUS_CALLBACK_URL), exactly. */
  url: string;
  /** The raw request body, before any form parsing. */
  body: string;
  /** The receiver's clock, unix seconds (default: now). */
  nowSeconds?: number;
  toleranceSeconds?: number;
}

export type StatusCallbackVerdict = { ok: true; timestamp: number } | { ok: false; reason: 'missing' | 'malformed' | 'expired' | 'mismatch' };

/**
 * Checks one status callback: the header is well formed, its timestamp within the window, and its
 * v1 the HMAC of this timestamp, URL and body under `secret` (compared in constant time).
 */
export function verifyStatusCallback(input: VerifyStatusCallbackInput): StatusCallbackVerdict {
  if (!input.header) return { ok: false, reason: 'missing' };
  const parts = new Map<string, string>();
  for (const part of input.header.split(',')) {
    const eq = part.indexOf('=');
    if (eq > 0) parts.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  const t = parts.get('t');
  const v1 = parts.get('v1');
  if (!t || !/^\d{1,12}$/.test(t) || !v1 || !/^[0-9a-f]{64}$/.test(v1)) return { ok: false, reason: 'malformed' };
  const timestamp = Number(t);
  const now = input.nowSeconds ?? Date.now() / 1000;
  if (Math.abs(now - timestamp) > (input.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS)) return { ok: false, reason: 'expired' };
  const expected = Buffer.from(statusCallbackDigest(input.secret, timestamp, input.url, input.body), 'hex');
  return timingSafeEqual(expected, Buffer.from(v1, 'hex')) ? { ok: true, timestamp } : { ok: false, reason: 'mismatch' };
}
