/**
 * The admin token on a request: `Authorization: Bearer <token>` parsed one way and compared in
 * constant time, for the admin API, /join/ticket and the cluster's forwarding alike.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * The token of an `Authorization: Bearer <token>` header, or null. The scheme is matched in any
 * case (RFC 7235), with any whitespace after it and trailing whitespace allowed; the token is one
 * run of non-space characters (so "Bearer a b" is no token, not "a").
 */
export function bearerToken(header: string | undefined): string | null {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  return m ? m[1]! : null;
}

const sha256 = (text: string) => createHash('sha256').update(text).digest();

/**
 * Constant-time equality of two secrets. Both are hashed first, so the time taken depends on
 * neither the contents nor which one is longer (timingSafeEqual alone needs equal lengths, and
 * checking the length first would tell a guesser the length).
 */
export function sameSecret(given: string, expected: string): boolean {
  return timingSafeEqual(sha256(given), sha256(expected));
}

/** True when `header` carries `expected` as its bearer token. */
export function hasBearer(header: string | undefined, expected: string): boolean {
  const token = bearerToken(header);
  return token !== null && sameSecret(token, expected);
}
