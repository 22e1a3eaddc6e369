/**
 * The server's own signing key when JOIN_TICKET_SECRET is unset: 32 random bytes made once and
 * kept in a file (hex, mode 0600) beside the rooms database, so the process after a restart
 * accepts what the one before signed (the calls' rejoin passes, invite links).
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

const KEY_BYTES = 32;

/** The key in `path`, made (and the folder created) when the file does not exist. */
export function loadOrCreateServerKey(path: string): Buffer {
  try {
    return parseKey(readFileSync(path, 'utf8'), path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  mkdirSync(dirname(path), { recursive: true });
  const key = randomBytes(KEY_BYTES);
  try {
    // 'wx': two processes starting at once both end up with the first one's key.
    writeFileSync(path, `${key.toString('hex')}\n`, { mode: 0o600, flag: 'wx' });
    return key;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    return parseKey(readFileSync(path, 'utf8'), path);
  }
}

function parseKey(text: string, path: string): Buffer {
  const hex = text.trim();
  if (!/^[0-9a-f]{64}$/.test(hex)) throw new Error(`${path} is not a server key (64 hex digits); delete it to make a new one`);
  return Buffer.from(hex, 'hex');
}
