import { createHmac } from 'node:crypto';

/** Twilio's request signature, the documented algorithm written out (HMAC-SHA1 of URL + sorted params). */
export function twilioSignature(token: string, url: string, params: Record<string, string> = {}): string {
  const data =
    url +
    Object.keys(params)
      .sort()
      .map((k) => k + params[k])
      .join('');
  return createHmac('sha1', token).update(Buffer.from(data, 'utf8')).digest('base64');
}
