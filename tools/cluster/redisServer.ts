/**
 * A throwaway redis-server for the cluster tests and the local cluster launcher (issue 8):
 * Debian's /usr/bin/redis-server (REDIS_SERVER_PATH overrides) on 127.0.0.1, a free port, no
 * persistence (`--save "" --appendonly no`), its working directory a fresh temporary folder.
 * `restart()` brings it back on the same port with nothing in it, as a real restart of a Redis
 * without persistence would. `.ci/run` installs redis-server through apt when it is missing.
 *
 * No test imports here: tools/cluster/launcher.ts uses this module too.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const REDIS_SERVER_PATH = process.env['REDIS_SERVER_PATH'] ?? '/usr/bin/redis-server';

/** How long a start may take until the server answers (ms). */
const START_TIMEOUT_MS = 5000;
/** SIGTERM, then SIGKILL when the process has not exited after this (ms). */
const STOP_GRACE_MS = 2000;
/** Fresh ports tried when the one picked was taken before redis-server bound it. */
const PORT_ATTEMPTS = 5;
/** Output kept for error messages (characters). */
const OUTPUT_KEPT = 4000;

export interface RedisServerHandle {
  /** redis://127.0.0.1:<port> */
  url: string;
  port: number;
  /** The running process's id; undefined while stopped. */
  pid(): number | undefined;
  /** Stops the server (SIGTERM, SIGKILL after 2 s) and removes its folder. Idempotent. */
  stop(): Promise<void>;
  /** Stops the server, waits `downMs` (default 0), starts it again on the same port, empty. */
  restart(opts?: { downMs?: number }): Promise<void>;
}

/** Why Redis tests cannot run here, or null when they can (CI must have redis-server: never skips). */
export function redisServerSkipReason(): string | null {
  if (existsSync(REDIS_SERVER_PATH)) return null;
  if (process.env['CI']) throw new Error(`${REDIS_SERVER_PATH} is missing: .ci/run installs it (apt-get install -y redis-server)`);
  return `no redis-server at ${REDIS_SERVER_PATH} (apt-get install -y redis-server)`;
}

/** Starts redis-server; resolves once it answers (INFO server, from this very process). */
export async function startRedisServer(opts: { port?: number } = {}): Promise<RedisServerHandle> {
  const dir = await mkdtemp(join(tmpdir(), 'redis-server-'));
  let child: ChildProcess | null = null;
  let port = opts.port ?? 0;
  try {
    for (let attempt = 1; ; attempt++) {
      if (opts.port === undefined) port = await freePort();
      try {
        child = await spawnRedis(port, dir);
        break;
      } catch (err) {
        // Another process took the port between freePort() closing it and redis-server binding it.
        if (!(err instanceof AddressInUseError) || opts.port !== undefined || attempt >= PORT_ATTEMPTS) throw err;
      }
    }
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }

  let stopped = false;
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    pid: () => (child && child.exitCode === null && child.signalCode === null ? child.pid : undefined),
    async stop() {
      const c = child;
      child = null;
      if (c) await terminate(c);
      if (!stopped) {
        stopped = true;
        await rm(dir, { recursive: true, force: true });
      }
    },
    async restart({ downMs = 0 } = {}) {
      if (stopped) throw new Error('redis-server: restart() after stop()');
      const c = child;
      child = null;
      if (c) await terminate(c);
      if (downMs > 0) await sleep(downMs);
      // The port was ours a moment ago; redis-server binds with SO_REUSEADDR, so only another
      // process grabbing it in between makes this fail: retry briefly, then give up.
      const deadline = Date.now() + 2000;
      for (;;) {
        try {
          child = await spawnRedis(port, dir);
          return;
        } catch (err) {
          if (!(err instanceof AddressInUseError) || Date.now() > deadline) throw err;
          await sleep(100);
        }
      }
    },
  };
}

class AddressInUseError extends Error {}

/** Children still running, killed if this process exits without stopping them (a failed test). */
const running = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const c of running) c.kill('SIGKILL');
  });
}

/** Spawns redis-server on `port` and resolves once it answers; rejects (process killed) otherwise. */
async function spawnRedis(port: number, dir: string): Promise<ChildProcess> {
  installExitHook();
  const args = [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--save',
    '',
    '--appendonly',
    'no',
    '--dir',
    dir,
    '--daemonize',
    'no',
    '--logfile',
    '',
    '--loglevel',
    'warning',
  ];
  const child = spawn(REDIS_SERVER_PATH, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString('utf8')).slice(-OUTPUT_KEPT);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  let spawnError: Error | null = null;
  child.once('error', (err) => {
    spawnError = err;
  });
  child.once('exit', () => running.delete(child));

  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    if (spawnError) throw new Error(`${REDIS_SERVER_PATH}: ${(spawnError as Error).message}`);
    if (child.exitCode !== null || child.signalCode !== null) {
      const why = `${REDIS_SERVER_PATH} exited (code ${child.exitCode}, signal ${child.signalCode}) before answering on port ${port}: ${lastLines(output)}`;
      if (/address already in use/i.test(output)) throw new AddressInUseError(why);
      throw new Error(why);
    }
    // Our child, not another server that already had the port (it would answer before ours exits).
    if ((await serverPid(port, 250)) === child.pid) return child;
    if (Date.now() > deadline) {
      await terminate(child);
      throw new Error(`${REDIS_SERVER_PATH} did not answer on port ${port} within ${START_TIMEOUT_MS} ms: ${lastLines(output)}`);
    }
    await sleep(25);
  }
}

/** SIGTERM, SIGKILL after STOP_GRACE_MS; resolves when the process has exited. */
async function terminate(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
  await exited;
  clearTimeout(timer);
}

/** The process id of the Redis answering on 127.0.0.1:`port` (INFO server), or null when none answers within `timeoutMs`. */
function serverPid(port: number, timeoutMs: number): Promise<number | null> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let reply = '';
    const done = (pid: number | null) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(pid);
    };
    const timer = setTimeout(() => done(null), timeoutMs);
    socket.on('connect', () => socket.write('INFO server\r\n'));
    socket.on('data', (d) => {
      reply += d.toString('latin1');
      if (reply.startsWith('-')) return done(null); // -LOADING and the like: not ready yet
      const m = /\r\nprocess_id:(\d+)\r\n/.exec(reply);
      if (m) done(Number(m[1]));
    });
    socket.on('error', () => done(null));
  });
}

/** A port that was free a moment ago (bound on port 0, then closed). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => (port ? resolve(port) : reject(new Error('no port'))));
    });
  });
}

/** The end of redis-server's output (its reason for exiting is the last line). */
const lastLines = (output: string, n = 3) => output.trim().split('\n').slice(-n).join(' | ');

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
