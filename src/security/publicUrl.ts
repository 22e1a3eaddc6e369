/**
 * The public base URL Twilio uses to reach this server: PUBLIC_URL when configured, otherwise
 * derived from the request (X-Forwarded-Proto / X-Forwarded-Host set by tunnels and proxies, then
 * Host), so `ngrok http 3000` works with no configuration. Pure: takes header values, not Express.
 */

export interface RequestOrigin {
  /** `req.protocol` as the socket sees it: 'http' or 'https'. */
  protocol: string;
  host: string | undefined;
  forwardedProto: string | undefined;
  forwardedHost: string | undefined;
}

const first = (value: string | undefined) => value?.split(',')[0]?.trim() || undefined;

/** https://host[/prefix] (no trailing slash). */
export function publicBaseUrl(configured: string | undefined, origin: RequestOrigin): string {
  if (configured) return configured;
  const proto = first(origin.forwardedProto) === 'https' || (!origin.forwardedProto && origin.protocol === 'https') ? 'https' : 'http';
  const host = first(origin.forwardedHost) ?? origin.host ?? 'localhost';
  return `${proto}://${host}`;
}

/** The WebSocket URL of `path` under a public http(s) base: https -> wss, http -> ws. */
export function websocketUrl(base: string, path: string): string {
  return base.replace(/^http/, 'ws') + path;
}
