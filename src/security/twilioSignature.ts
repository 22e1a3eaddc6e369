/**
 * Twilio request signatures (X-Twilio-Signature), as plain functions: no Express, no ws. The HTTP
 * routes and the WebSocket upgrade only gather the inputs (the URL Twilio called, the posted
 * parameters, the header) and act on the verdict.
 *
 * The signature is base64(HMAC-SHA1(auth token, URL + each POST parameter's name and value, sorted
 * by name)). The URL is the public one Twilio called: PUBLIC_URL + the original path and query,
 * or, without PUBLIC_URL, the one the request's forwarding headers describe (src/http/publicUrl.ts,
 * the same derivation the stream URL in the TwiML uses).
 *
 * Webhooks go through twiml's `validateRequest` (it also tries the URL with and without the
 * default port, as Twilio's own middleware does). The stream upgrade does not: that function's
 * port retry turns `wss://host/media` into `wss://host:80/media`, so the upgrade is compared over
 * the exact `wss://` URL from the TwiML, and that URL with a trailing slash (Twilio's advice).
 */
import twilio from 'twilio';
import { publicBaseUrl, websocketUrl, type RequestOrigin } from './publicUrl.js';
import { sameSecret } from './bearer.js';

export type SignatureVerdict = { ok: true } | { ok: false; reason: 'missing' | 'mismatch' };

/** Posted parameters as a form parser gives them (a repeated name: an array). */
export type SignedParams = Readonly<Record<string, string | readonly string[]>>;

/**
 * A webhook: `signature` (the X-Twilio-Signature header) over `url` and every posted parameter.
 * Constant-time compare (inside twilio's validateRequest).
 */
export function checkWebhookSignature(authToken: string, signature: string | undefined, url: string, params: SignedParams): SignatureVerdict {
  if (!signature) return { ok: false, reason: 'missing' };
  try {
    // validateRequest reads but does not change params; its type wants a mutable record.
    // biome-ignore lint/suspicious/noExplicitAny: twilio's own parameter type (repeated keys are arrays)
    return twilio.validateRequest(authToken, signature, url, params as Record<string, any>) ? { ok: true } : { ok: false, reason: 'mismatch' };
  } catch {
    // Its fallback parses the URL with new URL(), which throws on a Host header that is no host:
    // such a request was not signed over any URL Twilio calls.
    return { ok: false, reason: 'mismatch' };
  }
}

/**
 * The Media Stream upgrade: `signature` over the exact stream URL (no parameters), or over the
 * same URL with a trailing slash added (or removed).
 */
export function checkStreamSignature(authToken: string, signature: string | undefined, streamUrl: string): SignatureVerdict {
  if (!signature) return { ok: false, reason: 'missing' };
  const other = streamUrl.endsWith('/') ? streamUrl.slice(0, -1) : `${streamUrl}/`;
  let match = false;
  // Both candidates are always computed and compared: the time taken says nothing about which matched.
  for (const candidate of [streamUrl, other]) {
    if (sameSecret(signature, twilio.getExpectedTwilioSignature(authToken, candidate, {}))) match = true;
  }
  return match ? { ok: true } : { ok: false, reason: 'mismatch' };
}

/** The URL a webhook request was made to, as Twilio saw it: public base + original path and query. */
export function webhookUrl(configuredPublicUrl: string | undefined, origin: RequestOrigin, originalUrl: string): string {
  return publicBaseUrl(configuredPublicUrl, origin) + originalUrl;
}

/**
 * The stream URL Twilio was given (in connect.xml) for an upgrade request arriving with `origin`.
 * Proxies may say `wss`/`ws` in X-Forwarded-Proto on an upgrade: read them as https/http.
 */
export function streamUrlFor(configuredPublicUrl: string | undefined, origin: RequestOrigin, mediaPath: string): string {
  const proto = origin.forwardedProto?.split(',')[0]?.trim().toLowerCase();
  const forwardedProto = proto === 'wss' ? 'https' : proto === 'ws' ? 'http' : origin.forwardedProto;
  return websocketUrl(publicBaseUrl(configuredPublicUrl, { ...origin, forwardedProto }), mediaPath);
}
