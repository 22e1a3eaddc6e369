/**
 * The proxy's side of a frozen node (issue 16, item 5), for production: runs beside nginx, asks
 * each node's GET /health every 250 ms, and when one has not answered for 5 s cuts nginx's TCP
 * connections to it (`ss -K dst <host>:<port>`, Linux: root or CAP_NET_ADMIN, a kernel with
 * CONFIG_INET_DIAG_DESTROY, as Debian's). nginx then closes those calls' streams, Twilio requests
 * each call's `<Connect action>` and the rejoin places the room on a live node. While the node
 * stays silent every new connection to it is cut too (a webhook nginx tried there moves to the
 * next node at once); once it answers again it is watched as before.
 *
 * Unlike the launcher's watch (which kills its own child, tools/cluster/hangWatch.ts), this one
 * needs no hold on the node's process: it also covers a node on another machine that froze with
 * it (a hung VM, a pulled cable), which no supervisor on that machine can report.
 *
 *   npx tsx tools/cluster/watchdog.ts --node 127.0.0.1:3001 --node 127.0.0.1:3002 [--hung-after-ms 5000]
 *
 * deploy/systemd/conference-watchdog.service runs it.
 */
import { execFile } from 'node:child_process';
import { connect, createServer } from 'node:net';
import { pathToFileURL } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { type Clock, delay, monotonicClock, nodeTimers, type Timers } from '../../src/timing/clock.js';
import { DEFAULT_HUNG_AFTER_MS, DEFAULT_PROBE_INTERVAL_MS, type HangWatch, watchForHang } from './hangWatch.js';

const run = promisify(execFile);

export interface WatchedNode {
  host: string;
  port: number;
}

/** Destroys every TCP connection of this machine to host:port (what nginx holds open to the node). */
export async function cutConnectionsTo(node: WatchedNode): Promise<void> {
  const host = node.host.includes(':') ? `[${node.host}]` : node.host;
  await run('ss', ['-K', '-t', '-H', 'dst', `${host}:${node.port}`]);
}

/**
 * Whether `cutConnectionsTo` works here: a loopback connection is cut and its client sees it end.
 * Null when it does, else why not (not root, no `ss`, a kernel without socket destroy).
 */
export async function cutSkipReason(): Promise<string | null> {
  const server = createServer((s) => {
    s.on('error', () => {}); // reset when the cut lands
    s.pause();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  const client = connect(port, '127.0.0.1');
  client.on('error', () => {});
  try {
    await new Promise<void>((resolve) => client.once('connect', resolve));
    const closed = new Promise<boolean>((resolve) => {
      client.once('close', () => resolve(true));
      setTimeout(() => resolve(false), 1000).unref();
    });
    try {
      await cutConnectionsTo({ host: '127.0.0.1', port });
    } catch (error) {
      return `ss -K failed: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`;
    }
    return (await closed) ? null : 'ss -K ran but the connection stayed open (root or CAP_NET_ADMIN, and CONFIG_INET_DIAG_DESTROY, are needed)';
  } finally {
    client.destroy();
    server.close();
  }
}

export interface WatchdogOptions {
  nodes: readonly WatchedNode[];
  hungAfterMs?: number;
  intervalMs?: number;
  /** Asks a node; default GET http://host:port/health answered 200 within hungAfterMs. */
  probe?: (node: WatchedNode) => Promise<boolean>;
  /** Cuts the proxy's connections to a node; default `cutConnectionsTo`. */
  cut?: (node: WatchedNode) => Promise<void>;
  log?: (line: string) => void;
  clock?: Clock;
  timers?: Timers;
}

export interface Watchdog {
  /** Nodes found silent and cut so far (each finding counts once). */
  readonly cuts: number;
  stop(): void;
}

const label = (n: WatchedNode) => `${n.host.includes(':') ? `[${n.host}]` : n.host}:${n.port}`;

/** Watches every node until stop(). */
export function startWatchdog(options: WatchdogOptions): Watchdog {
  const hungAfterMs = options.hungAfterMs ?? DEFAULT_HUNG_AFTER_MS;
  const intervalMs = options.intervalMs ?? DEFAULT_PROBE_INTERVAL_MS;
  const clock = options.clock ?? monotonicClock;
  const timers = options.timers ?? nodeTimers;
  const log = options.log ?? ((line: string) => console.log(line));
  const probe =
    options.probe ??
    (async (node: WatchedNode) => {
      try {
        const res = await fetch(`http://${label(node)}/health`, { signal: AbortSignal.timeout(hungAfterMs) });
        await res.body?.cancel();
        return res.status === 200;
      } catch {
        return false;
      }
    });
  const cut = options.cut ?? cutConnectionsTo;
  let stopped = false;
  let cuts = 0;
  const watches = new Set<HangWatch>();

  /** Cuts; a failure is logged once per silent period (`said`), not every interval. */
  const cutQuietly = async (node: WatchedNode, said: { failed: boolean }) => {
    try {
      await cut(node);
    } catch (error) {
      if (!said.failed) log(`watchdog: cutting the connections to ${label(node)} failed: ${error instanceof Error ? error.message : String(error)}`);
      said.failed = true;
    }
  };

  const watch = (node: WatchedNode) => {
    if (stopped) return;
    const w = watchForHang({
      probe: () => probe(node),
      onHung: (silentMs) => {
        watches.delete(w);
        cuts++;
        log(`watchdog: ${label(node)} has not answered /health for ${Math.round(silentMs)} ms: cutting its connections (its callers rejoin elsewhere)`);
        void silent(node);
      },
      hungAfterMs,
      intervalMs,
      clock,
      timers,
    });
    watches.add(w);
  };

  /** Cuts every interval until the node answers again, then watches it as before. */
  const silent = async (node: WatchedNode) => {
    const said = { failed: false };
    for (;;) {
      if (stopped) return;
      await cutQuietly(node, said);
      const answered = await Promise.race([probe(node), delay(timers, intervalMs).then(() => false)]);
      if (stopped) return;
      if (answered) {
        log(`watchdog: ${label(node)} answers again`);
        return watch(node);
      }
    }
  };

  for (const node of options.nodes) watch(node);
  return {
    get cuts() {
      return cuts;
    },
    stop() {
      stopped = true;
      for (const w of watches) w.stop();
      watches.clear();
    },
  };
}

const USAGE = `usage: npx tsx tools/cluster/watchdog.ts --node HOST:PORT [--node HOST:PORT ...] [--hung-after-ms ${DEFAULT_HUNG_AFTER_MS}]
Beside nginx: cuts nginx's connections to a node whose /health has not answered for --hung-after-ms
(ss -K: root or CAP_NET_ADMIN), so the callers of a frozen node rejoin on the others.`;

function parseNode(raw: string): WatchedNode | null {
  const m = /^\[?([^\]]+?)\]?:(\d{1,5})$/.exec(raw);
  if (!m) return null;
  const port = Number(m[2]);
  return port >= 1 && port <= 65535 ? { host: m[1]!, port } : null;
}

async function main(): Promise<void> {
  let values;
  try {
    ({ values } = parseArgs({
      options: { node: { type: 'string', multiple: true }, 'hung-after-ms': { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    }));
  } catch (error) {
    console.error(`${(error as Error).message}\n\n${USAGE}`);
    process.exit(2);
  }
  if (values.help) return void console.log(USAGE);
  const nodes = (values.node ?? []).map((raw) => ({ raw, node: parseNode(raw) }));
  const bad = nodes.find((n) => n.node === null);
  const hungAfterMs = Number(values['hung-after-ms'] ?? DEFAULT_HUNG_AFTER_MS);
  if (nodes.length === 0 || bad || !Number.isInteger(hungAfterMs) || hungAfterMs < 1000) {
    console.error(
      `${bad ? `--node: expected HOST:PORT (got ${bad.raw})` : nodes.length === 0 ? '--node: at least one' : '--hung-after-ms: a whole number >= 1000'}\n\n${USAGE}`,
    );
    process.exit(2);
  }
  const why = await cutSkipReason();
  if (why) {
    console.error(`watchdog: cannot cut connections here: ${why}`);
    process.exit(1);
  }
  const watchdog = startWatchdog({ nodes: nodes.map((n) => n.node!), hungAfterMs });
  console.log(`watchdog: watching ${nodes.map((n) => n.raw).join(', ')} (silent for ${hungAfterMs} ms: cut)`);
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => watchdog.stop());
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) void main();
