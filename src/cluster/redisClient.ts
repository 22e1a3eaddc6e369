/**
 * The Redis connection every cluster adapter (src/cluster/redis*.ts) shares, set up for a store
 * that decides who mixes a room: a command either reaches Redis now or fails now, so a node that
 * lost Redis finds out within about a second instead of piling commands up in memory.
 *
 * - Reconnects forever, with a short capped backoff (50 ms doubling to 500 ms): a restarted Redis
 *   is back in use within half a second of answering.
 * - No offline queue once connected: while disconnected, a command rejects at once. Before the
 *   first connection commands wait (a server may issue its first commands right after creating the
 *   client), but only until the first failed connection attempt (`maxRetriesPerRequest: 0`).
 * - `maxRetriesPerRequest: 0` also means a command in flight when the connection drops is
 *   rejected, never sent again after the reconnect: a caller retries on its own schedule, and a
 *   non-idempotent script (a placement counter) never runs twice.
 * - connectTimeout 1 s and commandTimeout 1 s (a Redis that accepts but does not answer).
 * - Connection errors are logged, one line per change of state (not one per retry), and never
 *   reach the process as an unhandled 'error' event.
 */
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import type { Redis, RedisOptions } from 'ioredis';
import { silentLogger, type Logger } from '../log.js';

export type { Redis };

/**
 * ioredis, loaded by the first connection rather than at import: one process without REDIS_URL
 * never needs it, and it is ~9 MB of RSS. It is CommonJS, so `require` loads it in step.
 */
const loadIoredis = (): typeof import('ioredis') => createRequire(import.meta.url)('ioredis');

export interface ConnectRedisOptions {
  /**
   * ioredis's own key prefix, put before every key of every command. The adapters in this folder
   * already prefix their keys (their `prefix` option, REDIS_KEY_PREFIX): leave this unset with
   * them, or keys become "conf:conf:lease:1".
   */
  keyPrefix?: string;
  log?: Logger;
  /** Connection attempt timeout (ms). */
  connectTimeoutMs?: number;
  /** A command without a reply after this rejects (ms). */
  commandTimeoutMs?: number;
}

/** Backoff between reconnection attempts: 50, 100, 200, 400, then 500 ms forever. */
export const reconnectDelayMs = (attempt: number): number => Math.min(50 * 2 ** Math.min(Math.max(attempt - 1, 0), 4), 500);

/** Connects to `url` (redis:// or rediss://). Returns at once; the connection comes up in the background. */
export function connectRedis(url: string, opts: ConnectRedisOptions = {}): Redis {
  const log = (opts.log ?? silentLogger()).child({ component: 'redis' });
  const options: RedisOptions = {
    lazyConnect: false,
    connectTimeout: opts.connectTimeoutMs ?? 1000,
    commandTimeout: opts.commandTimeoutMs ?? 1000,
    retryStrategy: reconnectDelayMs,
    maxRetriesPerRequest: 0,
    // Switched off after the first 'ready' (below).
    enableOfflineQueue: true,
    autoResendUnfulfilledCommands: false,
    ...(opts.keyPrefix ? { keyPrefix: opts.keyPrefix } : {}),
  };
  const client = new (loadIoredis().Redis)(url, options);
  const where = redactedUrl(url);

  // 'up' after 'ready'; 'down' from the first error or close until the next 'ready'.
  let state: 'connecting' | 'up' | 'down' | 'closed' = 'connecting';
  let downSince = 0;
  client.on('ready', () => {
    client.options.enableOfflineQueue = false;
    if (state === 'down') log.info({ url: where, downMs: Date.now() - downSince }, 'redis reconnected');
    else log.info({ url: where }, 'redis connected');
    state = 'up';
  });
  client.on('error', (err: Error) => {
    if (state === 'down' || state === 'closed') return;
    log.warn({ url: where, err: err.message }, state === 'up' ? 'redis connection failed; reconnecting' : 'redis unreachable; retrying');
    state = 'down';
    downSince = Date.now();
  });
  client.on('close', () => {
    if (state !== 'up') return;
    log.warn({ url: where }, 'redis connection lost; reconnecting');
    state = 'down';
    downSince = Date.now();
  });
  client.on('end', () => {
    if (state !== 'closed') log.info({ url: where }, 'redis connection closed');
    state = 'closed';
  });
  return client;
}

/** Resolves once `client` is ready (connected and answering); rejects after `timeoutMs`. */
export function whenReady(client: Redis, timeoutMs = 5000): Promise<void> {
  if (client.status === 'ready') return Promise.resolve();
  return new Promise((resolve, reject) => {
    const onReady = () => {
      clearTimeout(timer);
      client.off('end', onEnd);
      resolve();
    };
    const onEnd = () => {
      clearTimeout(timer);
      client.off('ready', onReady);
      reject(new Error('redis connection closed before it was ready'));
    };
    const timer = setTimeout(() => {
      client.off('ready', onReady);
      client.off('end', onEnd);
      reject(new Error(`redis not ready within ${timeoutMs} ms (status ${client.status})`));
    }, timeoutMs);
    client.once('ready', onReady);
    client.once('end', onEnd);
  });
}

/**
 * Closes `client`: QUIT (pending replies arrive first) when connected, then waits for the
 * connection to end; a plain disconnect when not connected, or when QUIT has not ended the
 * connection within `timeoutMs`. Idempotent; never throws. (A client closed while reconnecting
 * stays in status 'reconnecting', an ioredis quirk, but makes no further attempt.)
 */
export async function close(client: Redis, timeoutMs = 1000): Promise<void> {
  if (client.status === 'end') return;
  if (client.status !== 'ready') {
    client.disconnect(false);
    return;
  }
  let timer: NodeJS.Timeout | undefined;
  const ended = new Promise<'ended'>((resolve) => client.once('end', () => resolve('ended')));
  client.quit().catch(() => client.disconnect(false));
  const how = await Promise.race([ended, new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs)))]);
  clearTimeout(timer);
  if (how === 'timeout') client.disconnect(false);
}

/** The URL without its password, for logs. */
function redactedUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'redis://?';
  }
}

/**
 * A Lua script run by EVALSHA, falling back to EVAL when Redis does not know it (NOSCRIPT: first
 * use, or after Redis restarted). Keys go in KEYS (ioredis prefixes them when it has a keyPrefix).
 */
export class LuaScript {
  readonly sha: string;

  constructor(readonly lua: string) {
    this.sha = sha1(lua);
  }

  async run(client: Redis, keys: readonly string[], args: ReadonlyArray<string | number>): Promise<unknown> {
    try {
      return await client.evalsha(this.sha, keys.length, ...keys, ...args);
    } catch (err) {
      if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
      return client.eval(this.lua, keys.length, ...keys, ...args);
    }
  }
}

/** MULTI/EXEC answers null when aborted and per-command errors in place: either is a failure. */
export function checkExec(results: Array<[Error | null, unknown]> | null): void {
  if (results === null) throw new Error('redis transaction aborted');
  for (const [err] of results) if (err) throw err;
}

const sha1 = (s: string) => createHash('sha1').update(s).digest('hex');
