/**
 * A cluster on one machine (issue 8): N server processes (`node --import tsx src/main.ts`, one per
 * core is the usual choice), a Redis (a throwaway redis-server unless one is given) and a private
 * nginx in front, routing as deploy/nginx/conference.conf does (tools/cluster/nginxConfig.ts), in
 * plain HTTP on a local port.
 *
 *   node k: PORT, NODE_ID=node-k, NODE_PUBLIC_PREFIX=/p/k, NODE_INTERNAL_URL=http://127.0.0.1:PORT,
 *           the shared REDIS_URL and JOIN_TICKET_SECRET, PUBLIC_URL = the proxy's URL,
 *           ROOMS_DB_PATH=:memory:, its own RECORDINGS_DIR, JSON logs to <logDir>/node-k.log
 *   nginx:  /p/k/... -> node k (prefix stripped), everything else round robin over live nodes
 *
 * Library: `startCluster()` (tests, benchmarks). CLI: `npm run cluster -- --nodes N` (see USAGE);
 * Ctrl-C or SIGTERM stops nginx, the nodes and the Redis it started.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { availableParallelism, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { monotonicClock, nodeTimers } from '../../src/timing/clock.js';
import { DEFAULT_HUNG_AFTER_MS, DEFAULT_PROBE_INTERVAL_MS, type HangWatch, watchForHang } from './hangWatch.js';
import { nodePrefix, renderNginxConf } from './nginxConfig.js';
import { startRedisServer, type RedisServerHandle } from './redisServer.js';

export const NGINX_PATH = process.env['NGINX_PATH'] ?? '/usr/sbin/nginx';
const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const TSX_LOADER = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

/** A node (or nginx) that has not exited this long after SIGTERM gets SIGKILL (ms). */
const STOP_GRACE_MS = 3000;
/** How long a node may take to answer GET /health after its spawn (ms): tsx compiles on start. */
const NODE_START_TIMEOUT_MS = 30_000;
const NGINX_START_TIMEOUT_MS = 10_000;
/** Free ports tried for a node whose picked port was taken before it bound it. */
const PORT_ATTEMPTS = 3;

/** Why tests needing nginx cannot run here, or null when they can (CI must have nginx: never skips). */
export function nginxSkipReason(): string | null {
  if (existsSync(NGINX_PATH)) return null;
  if (process.env['CI']) throw new Error(`${NGINX_PATH} is missing: .ci/run installs it (apt-get install -y nginx)`);
  return `no nginx at ${NGINX_PATH} (apt-get install -y nginx)`;
}

export interface ClusterOptions {
  /** Node processes (each serves /p/<k> for k = 1..nodes). */
  nodes: number;
  /** Node k listens on basePort + k - 1; 0 or undefined: free ports. */
  basePort?: number;
  /** The proxy's port; 0 or undefined: a free one. */
  proxyPort?: number;
  /** Address the proxy listens on (default 127.0.0.1). */
  proxyHost?: string;
  /** PUBLIC_URL given to the nodes (e.g. a tunnel's https URL in front of the proxy); default: the proxy's URL. */
  publicUrl?: string;
  /** An existing Redis; undefined: a redis-server is started (and stopped with the cluster). */
  redisUrl?: string;
  /** Extra environment for every node, over the launcher's defaults (not over PORT, NODE_*). */
  env?: Record<string, string>;
  /** Where node-<k>.log, nginx.log and nginx-error.log go (kept); default: the cluster's temporary directory (removed by stop()). */
  logDir?: string;
  /** Node k records into <recordingsDir>/node-k (kept); default: the temporary directory. */
  recordingsDir?: string;
  /** No progress lines on stderr. */
  quiet?: boolean;
  /**
   * A running node whose GET /health has not answered for this long (ms) is killed (SIGKILL), so
   * its callers rejoin on live nodes (a frozen node: tools/cluster/hangWatch.ts says why nginx
   * cannot notice it). Default 5000; 0: never.
   */
  hungAfterMs?: number;
}

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ClusterNode {
  readonly k: number;
  readonly id: string;
  readonly port: number;
  /** /p/<k> */
  readonly prefix: string;
  /** http://127.0.0.1:<port> */
  readonly internalUrl: string;
  readonly logFile: string;
  /** The running process's id; undefined when it is not running. */
  readonly pid: number | undefined;
  /** Sends `signal` (default SIGTERM) to the running process, if any. */
  kill(signal?: NodeJS.Signals): void;
  /** Resolves when the current process has exited (at once when none runs). */
  waitExit(): Promise<ExitInfo>;
  /** Stops the process (SIGTERM, SIGKILL after 3 s) if it runs, then starts it again on the same port. */
  restart(): Promise<void>;
  /**
   * Turns the watch for a frozen node (`hungAfterMs`) off or back on for this node (on by default):
   * for a test that pauses a node on purpose for longer than the watch allows.
   */
  setHangWatch(on: boolean): void;
}

export interface Cluster {
  /** PUBLIC_URL of every node: the proxy's URL unless `publicUrl` was given. */
  publicUrl: string;
  /** Where this machine reaches the proxy: http://127.0.0.1:<proxyPort>. */
  proxyUrl: string;
  proxyPort: number;
  redisUrl: string;
  /** The redis-server started for the cluster; null when `redisUrl` was given. */
  redis: RedisServerHandle | null;
  nodes: ClusterNode[];
  nginx: { readonly pid: number | undefined; configFile: string; logFile: string; errorLogFile: string };
  logDir: string;
  joinTicketSecret: string;
  /** Starts node k (1-based) if it is not running; resolves once it answers /health. */
  startNode(k: number): Promise<ClusterNode>;
  /** Stops nginx, then every node (SIGTERM, SIGKILL after 3 s), then the Redis it started. Idempotent. */
  stop(): Promise<void>;
}

/** Every child still running, SIGKILLed if this process exits without stopping them (a failed test). */
const running = new Set<ChildProcess>();
let exitHookInstalled = false;
function track(child: ChildProcess): void {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', () => {
      for (const c of running) {
        for (const pid of childPids(c.pid)) killQuietly(pid, 'SIGKILL');
        c.kill('SIGKILL');
      }
    });
  }
  running.add(child);
  child.once('exit', () => running.delete(child));
}

const isRunning = (c: ChildProcess | null): boolean => c !== null && c.exitCode === null && c.signalCode === null;

function exitOf(child: ChildProcess): Promise<ExitInfo> {
  if (!isRunning(child)) return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
}

/** SIGTERM, SIGKILL (to it and its children) after STOP_GRACE_MS; resolves once it has exited. */
async function terminate(child: ChildProcess): Promise<void> {
  if (!isRunning(child)) return;
  const exited = exitOf(child);
  child.kill('SIGTERM');
  const timer = setTimeout(() => {
    for (const pid of childPids(child.pid)) killQuietly(pid, 'SIGKILL');
    child.kill('SIGKILL');
  }, STOP_GRACE_MS);
  await exited;
  clearTimeout(timer);
}

/** Direct children of `pid` (Linux /proc; [] elsewhere or when gone). */
export function childPids(pid: number | undefined): number[] {
  if (pid === undefined) return [];
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

function killQuietly(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

/** A port that was free a moment ago. */
function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => (port ? resolve(port) : reject(new Error('no free port'))));
    });
  });
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function tail(file: string, lines = 15): Promise<string> {
  try {
    return (await readFile(file, 'utf8')).trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** GET `url` -> parsed JSON body when 200, else null (refused, timeout, other status). */
async function getJson(url: string, timeoutMs = 1000): Promise<Record<string, unknown> | null> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    if (res.status !== 200) {
      await res.body?.cancel();
      return null;
    }
    return (await res.json()) as Record<string, unknown>;
  } catch {
    return null;
  }
}

class AddressInUse extends Error {}

class NodeProcess implements ClusterNode {
  readonly id: string;
  readonly prefix: string;
  readonly logFile: string;
  private child: ChildProcess | null = null;
  private starting: Promise<void> | null = null;
  private hangWatch: HangWatch | null = null;
  private hangWatchOn = true;

  constructor(
    readonly k: number,
    public port: number,
    private readonly env: Record<string, string>,
    logDir: string,
    private readonly recordingsDir: string,
    private readonly onExit: (node: NodeProcess, info: ExitInfo) => void,
    /** 0: no watch. */
    private readonly hungAfterMs: number,
    private readonly say: (line: string) => void,
  ) {
    this.id = `node-${k}`;
    this.prefix = nodePrefix(k);
    this.logFile = join(logDir, `${this.id}.log`);
  }

  get internalUrl(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return isRunning(this.child) ? this.child!.pid : undefined;
  }

  kill(signal: NodeJS.Signals = 'SIGTERM'): void {
    if (isRunning(this.child)) this.child!.kill(signal);
  }

  waitExit(): Promise<ExitInfo> {
    return this.child ? exitOf(this.child) : Promise.resolve({ code: null, signal: null });
  }

  setHangWatch(on: boolean): void {
    this.hangWatchOn = on;
    if (!on) this.hangWatch?.stop();
    else if (isRunning(this.child) && !this.starting) this.watch(this.child!);
  }

  async stop(): Promise<void> {
    this.hangWatch?.stop();
    if (this.child) await terminate(this.child);
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  /** Spawns the process (unless running) and resolves once GET /health answers with this node's id. */
  start(): Promise<void> {
    if (isRunning(this.child)) return this.starting ?? Promise.resolve();
    this.starting = this.spawnAndWait().finally(() => {
      this.starting = null;
    });
    return this.starting;
  }

  private async spawnAndWait(): Promise<void> {
    await mkdir(this.recordingsDir, { recursive: true });
    const env: Record<string, string> = {
      ...this.env,
      PORT: String(this.port),
      HOST: '127.0.0.1',
      NODE_ID: this.id,
      NODE_PUBLIC_PREFIX: this.prefix,
      NODE_INTERNAL_URL: this.internalUrl,
    };
    env['RECORDINGS_DIR'] ??= this.recordingsDir;
    // Appended: a restarted node's lines follow its earlier life's.
    const fd = openSync(this.logFile, 'a');
    let child: ChildProcess;
    try {
      child = spawn(process.execPath, ['--import', TSX_LOADER, 'src/main.ts'], { cwd: REPO_ROOT, env, stdio: ['ignore', fd, fd] });
    } finally {
      closeSync(fd);
    }
    this.child = child;
    track(child);
    let spawnError: Error | null = null;
    child.once('error', (err) => (spawnError = err));
    child.once('exit', (code, signal) => {
      this.hangWatch?.stop();
      this.onExit(this, { code, signal });
    });

    const deadline = Date.now() + NODE_START_TIMEOUT_MS;
    for (;;) {
      if (spawnError) throw new Error(`${this.id}: ${(spawnError as Error).message}`);
      if (!isRunning(child)) {
        const log = await tail(this.logFile);
        const why = `${this.id} exited (code ${child.exitCode}, signal ${child.signalCode}) before answering on port ${this.port}; ${this.logFile}:\n${log}`;
        throw /EADDRINUSE/.test(log) ? new AddressInUse(why) : new Error(why);
      }
      const health = await getJson(`${this.internalUrl}/health`);
      if (health) {
        // Another process on this port answers for itself: not ours.
        if (health['node'] !== undefined && health['node'] !== this.id) {
          await terminate(child);
          throw new Error(`${this.id}: port ${this.port} answers as ${String(health['node'])}`);
        }
        if (isRunning(child)) return this.watch(child);
      }
      if (Date.now() > deadline) {
        await terminate(child);
        throw new Error(
          `${this.id} did not answer ${this.internalUrl}/health within ${NODE_START_TIMEOUT_MS} ms; ${this.logFile}:\n${await tail(this.logFile)}`,
        );
      }
      await sleep(100);
    }
  }

  /** Kills `child` once its /health has not answered for hungAfterMs (a frozen node). */
  private watch(child: ChildProcess): void {
    this.hangWatch?.stop();
    this.hangWatch = null;
    if (this.hungAfterMs <= 0 || !this.hangWatchOn) return;
    const url = `${this.internalUrl}/health`;
    this.hangWatch = watchForHang({
      probe: async () => (await getJson(url, this.hungAfterMs)) !== null,
      onHung: (silentMs) => {
        if (!isRunning(child)) return;
        this.say(`${this.id} (pid ${child.pid}) has not answered /health for ${Math.round(silentMs)} ms: killed (SIGKILL), its callers rejoin elsewhere`);
        child.kill('SIGKILL');
      },
      hungAfterMs: this.hungAfterMs,
      intervalMs: DEFAULT_PROBE_INTERVAL_MS,
      clock: monotonicClock,
      timers: nodeTimers,
    });
  }
}

/** Starts Redis (unless given), the nodes and nginx; resolves once the proxy answers /health. */
export async function startCluster(opts: ClusterOptions): Promise<Cluster> {
  if (!Number.isInteger(opts.nodes) || opts.nodes < 1) throw new Error(`nodes: expected a whole number >= 1 (got ${opts.nodes})`);
  const say = (line: string) => {
    if (!opts.quiet) process.stderr.write(`cluster: ${line}\n`);
  };
  const workDir = await mkdtemp(join(tmpdir(), 'conference-cluster-'));
  const logDir = resolve(opts.logDir ?? join(workDir, 'logs'));
  const recordingsRoot = resolve(opts.recordingsDir ?? join(workDir, 'recordings'));
  const nginxDir = join(workDir, 'nginx');
  await mkdir(logDir, { recursive: true });
  await mkdir(join(nginxDir, 'tmp'), { recursive: true });

  const hungAfterMs = opts.hungAfterMs ?? DEFAULT_HUNG_AFTER_MS;
  if (!Number.isInteger(hungAfterMs) || hungAfterMs < 0) throw new Error(`hungAfterMs: expected a whole number >= 0 (got ${opts.hungAfterMs})`);
  let stopping = false;
  let redis: RedisServerHandle | null = null;
  let nginx: ChildProcess | null = null;
  const nodes: NodeProcess[] = [];
  const nginxLog = join(logDir, 'nginx.log');
  const nginxErrorLog = join(logDir, 'nginx-error.log');
  const configFile = join(nginxDir, 'nginx.conf');

  let stopped: Promise<void> | null = null;
  const stop = () =>
    (stopped ??= (async () => {
      stopping = true;
      // The proxy first: nothing new reaches a node that is going away.
      if (nginx) await terminate(nginx);
      await Promise.all(nodes.map((n) => n.stop()));
      await redis?.stop();
      await rm(workDir, { recursive: true, force: true });
    })());

  try {
    if (opts.redisUrl === undefined) {
      redis = await startRedisServer();
      say(`redis-server ${redis.url} (pid ${redis.pid()})`);
    }
    const redisUrl = opts.redisUrl ?? redis!.url;
    const proxyHost = opts.proxyHost ?? '127.0.0.1';
    const proxyPort = opts.proxyPort || (await freePort(proxyHost === '0.0.0.0' || proxyHost === '::' ? '127.0.0.1' : proxyHost));
    const reachHost = proxyHost === '0.0.0.0' || proxyHost === '::' ? '127.0.0.1' : proxyHost.includes(':') ? `[${proxyHost}]` : proxyHost;
    const proxyUrl = `http://${reachHost}:${proxyPort}`;
    const publicUrl = (opts.publicUrl ?? proxyUrl).replace(/\/+$/, '');
    const joinTicketSecret = opts.env?.['JOIN_TICKET_SECRET'] ?? randomBytes(32).toString('hex');

    const inherited = { ...process.env } as Record<string, string>;
    // The test runner's marker would make a child that imports node:test report to us.
    delete inherited['NODE_TEST_CONTEXT'];
    const env: Record<string, string> = {
      ...inherited,
      PUBLIC_URL: publicUrl,
      REDIS_URL: redisUrl,
      JOIN_TICKET_SECRET: joinTicketSecret,
      ROOMS_DB_PATH: ':memory:',
      LOG_PRETTY: 'false',
      ...opts.env,
    };
    delete env['RECORDINGS_DIR'];
    if (opts.env?.['RECORDINGS_DIR']) env['RECORDINGS_DIR'] = opts.env['RECORDINGS_DIR'];

    const onExit = (node: NodeProcess, info: ExitInfo) => {
      if (!stopping) say(`${node.id} (port ${node.port}) exited: ${info.signal ?? `code ${info.code}`}`);
    };
    for (let k = 1; k <= opts.nodes; k++) {
      const port = opts.basePort ? opts.basePort + k - 1 : 0;
      nodes.push(new NodeProcess(k, port, env, logDir, join(recordingsRoot, `node-${k}`), onExit, hungAfterMs, say));
    }
    await Promise.all(
      nodes.map(async (node) => {
        for (let attempt = 1; ; attempt++) {
          if (!opts.basePort) node.port = await freePort();
          try {
            return await node.start();
          } catch (error) {
            if (!(error instanceof AddressInUse) || opts.basePort || attempt >= PORT_ATTEMPTS) throw error;
          }
        }
      }),
    );

    await writeFile(
      configFile,
      renderNginxConf({
        nodes: nodes.map((n) => ({ k: n.k, port: n.port })),
        listen: { host: proxyHost, port: proxyPort },
        tempDir: join(nginxDir, 'tmp'),
        // Workers run as `nobody` by default and could not write our (0700) temp directory.
        ...(process.getuid?.() === 0 ? { user: 'root' } : {}),
      }),
    );
    const fd = openSync(nginxLog, 'a');
    try {
      nginx = spawn(
        NGINX_PATH,
        [
          '-p',
          `${nginxDir}/`,
          '-c',
          configFile,
          '-e',
          nginxErrorLog,
          '-g',
          `daemon off; master_process on; pid ${join(nginxDir, 'nginx.pid')}; error_log ${nginxErrorLog} warn;`,
        ],
        { stdio: ['ignore', fd, fd] },
      );
    } finally {
      closeSync(fd);
    }
    track(nginx);
    let nginxSpawnError: Error | null = null;
    nginx.once('error', (err) => (nginxSpawnError = err));
    nginx.once('exit', (code, signal) => {
      if (!stopping) say(`nginx exited: ${signal ?? `code ${code}`}`);
    });
    const deadline = Date.now() + NGINX_START_TIMEOUT_MS;
    for (;;) {
      if (nginxSpawnError) throw new Error(`${NGINX_PATH}: ${(nginxSpawnError as Error).message}`);
      if (!isRunning(nginx)) throw new Error(`nginx exited (code ${nginx.exitCode}) on start:\n${await tail(nginxErrorLog)}\n${await tail(nginxLog)}`);
      if (await getJson(`${proxyUrl}/health`)) break;
      if (Date.now() > deadline) throw new Error(`nginx did not answer ${proxyUrl}/health within ${NGINX_START_TIMEOUT_MS} ms:\n${await tail(nginxErrorLog)}`);
      await sleep(50);
    }
    say(`${opts.nodes} node(s) behind ${proxyUrl}; logs in ${logDir}`);

    const nginxProcess = nginx;
    return {
      publicUrl,
      proxyUrl,
      proxyPort,
      redisUrl,
      redis,
      nodes,
      nginx: {
        get pid() {
          return isRunning(nginxProcess) ? nginxProcess.pid : undefined;
        },
        configFile,
        logFile: nginxLog,
        errorLogFile: nginxErrorLog,
      },
      logDir,
      joinTicketSecret,
      async startNode(k: number) {
        const node = nodes[k - 1];
        if (!node) throw new Error(`no node ${k} (1..${nodes.length})`);
        if (stopping) throw new Error('cluster stopped');
        await node.start();
        return node;
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

const USAGE = `usage: npm run cluster -- [--nodes N] [--port 8080] [--host 127.0.0.1] [--base-port 3001]
                           [--redis-url redis://...] [--public-url https://...] [--log-dir DIR]
                           [--hung-after-ms 5000]

Starts N server processes (default: one per core), a redis-server (unless --redis-url), and nginx
on --host:--port routing /p/<k>/ to node k and everything else to any node. --public-url: the https
URL Twilio reaches the proxy at (e.g. a tunnel to --port); default http://<host>:<port>.
--hung-after-ms: a node whose /health has not answered for this long is killed (SIGKILL), so its
callers rejoin on the others (a frozen node; 0: never); it is not restarted.
Ctrl-C stops everything.`;

async function main(): Promise<void> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        nodes: { type: 'string' },
        port: { type: 'string' },
        host: { type: 'string' },
        'base-port': { type: 'string' },
        'redis-url': { type: 'string' },
        'public-url': { type: 'string' },
        'log-dir': { type: 'string' },
        'hung-after-ms': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (error) {
    console.error(`${(error as Error).message}\n\n${USAGE}`);
    process.exit(2);
  }
  if (values.help) return void console.log(USAGE);
  const int = (name: string, raw: string | undefined, fallback: number, min: number, max: number) => {
    const n = raw === undefined ? fallback : Number(raw);
    if (!Number.isInteger(n) || n < min || n > max) {
      console.error(`--${name}: expected a whole number ${min}..${max} (got ${raw})\n\n${USAGE}`);
      process.exit(2);
    }
    return n;
  };
  const nodes = int('nodes', values.nodes, availableParallelism(), 1, 64);
  const port = int('port', values.port, 8080, 1, 65535);
  const basePort = int('base-port', values['base-port'], 3001, 1, 65535 - nodes + 1);
  const hungAfterMs = int('hung-after-ms', values['hung-after-ms'], DEFAULT_HUNG_AFTER_MS, 0, 600_000);
  const publicUrl = values['public-url'];
  if (publicUrl !== undefined && !/^https?:\/\/[^/?#]+(\/[^?#]*)?$/.test(publicUrl)) {
    console.error(`--public-url: expected an http(s) URL without query (got ${publicUrl})`);
    process.exit(2);
  }
  // Kept after stop: logs and recordings of this run.
  const runDir = values['log-dir'] ? resolve(values['log-dir']) : await mkdtemp(join(tmpdir(), 'conference-cluster-run-'));
  const cluster = await startCluster({
    nodes,
    basePort,
    hungAfterMs,
    proxyPort: port,
    ...(values.host !== undefined ? { proxyHost: values.host } : {}),
    ...(values['redis-url'] !== undefined ? { redisUrl: values['redis-url'] } : {}),
    ...(publicUrl !== undefined ? { publicUrl } : {}),
    logDir: runDir,
    recordingsDir: join(runDir, 'recordings'),
  });

  const rows = [['node', 'prefix', 'port', 'pid', 'log'], ...cluster.nodes.map((n) => [n.id, n.prefix, String(n.port), String(n.pid ?? '-'), n.logFile])];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  console.log(
    [
      '',
      ...rows.map(
        (r) =>
          '  ' +
          r
            .map((cell, i) => cell.padEnd(widths[i]!))
            .join('  ')
            .trimEnd(),
      ),
      '',
      `  Public URL:  ${cluster.publicUrl}   (Twilio Voice webhook: ${cluster.publicUrl}/voice)`,
      ...(cluster.publicUrl !== cluster.proxyUrl ? [`  Proxy:       ${cluster.proxyUrl}`] : []),
      `  nginx:       pid ${cluster.nginx.pid}, config ${cluster.nginx.configFile}, log ${cluster.nginx.errorLogFile}`,
      `  Redis:       ${cluster.redis ? `${cluster.redisUrl} (started here, pid ${cluster.redis.pid()})` : cluster.redisUrl}`,
      `  Logs:        ${cluster.logDir}`,
      '',
      '  Ctrl-C stops everything.',
      '',
    ].join('\n'),
  );

  let signalled = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (signalled) return;
    signalled = true;
    console.log(`\n${signal}: stopping nginx, ${cluster.nodes.length} node(s)${cluster.redis ? ' and redis-server' : ''} ...`);
    cluster.stop().then(
      () => {
        console.log(`stopped; logs kept in ${cluster.logDir}`);
        process.exit(0);
      },
      (error: unknown) => {
        console.error(error);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  });
}
