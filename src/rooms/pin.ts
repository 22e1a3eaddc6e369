/**
 * Room PINs, stored only as salted scrypt hashes (node:crypto): `scrypt$N$r$p$salt$hash` with a
 * random 16-byte salt per room, base64. Checked in constant time. scrypt runs on libuv's thread
 * pool, so a PIN check never stalls the mixer's clock.
 */
import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

/** PINs are what callers key: 4 to 12 digits. */
export const PIN_PATTERN = /^[0-9]{4,12}$/;
export const PIN_MAX_DIGITS = 12;

const KEY_BYTES = 32;
const SALT_BYTES = 16;
/** Cost: 2^14 x 8 x 128 bytes = 16 MiB and ~40 ms per check on one core; plenty for keyed PINs. */
const DEFAULT_COST = { N: 16384, r: 8, p: 1 };

function derive(pin: string, salt: Buffer, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scrypt(pin, salt, KEY_BYTES, { ...options, maxmem: 64 * 1024 * 1024 }, (error, key) => (error ? reject(error) : resolve(key))),
  );
}

/** A fresh salted hash of `pin`. */
export async function hashPin(pin: string, cost: { N: number; r: number; p: number } = DEFAULT_COST): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const key = await derive(pin, salt, cost);
  return ['scrypt', cost.N, cost.r, cost.p, salt.toString('base64'), key.toString('base64')].join('$');
}

/** True when `pin` matches `stored` (constant-time on the derived keys); false for a malformed hash. */
export async function verifyPin(pin: string, stored: string): Promise<boolean> {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [N, r, p] = parts.slice(1, 4).map(Number) as [number, number, number];
  if (![N, r, p].every((v) => Number.isInteger(v) && v > 0)) return false;
  const salt = Buffer.from(parts[4]!, 'base64');
  const expected = Buffer.from(parts[5]!, 'base64');
  if (expected.length !== KEY_BYTES) return false;
  const key = await derive(pin, salt, { N, r, p });
  return timingSafeEqual(key, expected);
}

/** scrypt's memory is 128 x N x r bytes: what derive's maxmem (64 MiB) allows, with room to spare. */
const MAX_SCRYPT_BYTES = 32 * 1024 * 1024;

/**
 * True when `stored` has the form hashPin makes: `scrypt$N$r$p$salt$hash`, N a power of two from
 * 2^10, r and p small, memory within what a check may use, a 16-byte salt and a 32-byte key in
 * canonical base64. A hash from outside (a rooms file) is checked with this before it is stored,
 * so every stored hash can be checked against a keyed PIN.
 */
export function isPinHash(stored: string): boolean {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [n, r, p] = parts.slice(1, 4) as [string, string, string];
  if (![n, r, p].every((v) => /^[1-9][0-9]{0,7}$/.test(v))) return false;
  const [N, R, P] = [Number(n), Number(r), Number(p)];
  if (N < 1024 || (N & (N - 1)) !== 0 || R > 32 || P > 16 || 128 * N * R > MAX_SCRYPT_BYTES) return false;
  const canonical = (text: string, bytes: number) => {
    const decoded = Buffer.from(text, 'base64');
    return decoded.length === bytes && decoded.toString('base64') === text;
  };
  return canonical(parts[4]!, SALT_BYTES) && canonical(parts[5]!, KEY_BYTES);
}
