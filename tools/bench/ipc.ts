/**
 * Requests and events between the benchmark and its child processes (the server under test and the
 * load generator), over Node's IPC channel. A child serves named handlers; the parent awaits
 * answers with a timeout. A child exits when its parent goes away, so no run outlives the benchmark.
 */
import { execFileSync, fork, spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

interface Request {
  kind: 'request';
  id: number;
  type: string;
  payload?: unknown;
}
interface Response {
  kind: 'response';
  id: number;
  ok: boolean;
  result?: unknown;
  error?: string;
}
interface Event {
  kind: 'event';
  type: string;
  payload?: unknown;
}
type Message = Request | Response | Event;

/** The repository: the nearest folder up with a package.json (this module also runs compiled, from dist/tools/bench/). */
function packageRoot(): string {
  let dir = fileURLToPath(new URL('.', import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no package.json above ${import.meta.url}`);
    dir = parent;
  }
  return dir;
}

export const REPO_ROOT = packageRoot();
const TSX_LOADER = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

/** Modules of tools/bench the compiled server process imports; tools/build.mjs compiles them with src/. */
const COMPILED_BENCH_MODULES = ['serverProcess.ts', 'ipc.ts', 'workerProbe.ts'];
let built = false;

/** `npm start`'s build, plus the server process's own modules, into dist/: once per benchmark run. */
function buildOnce(): void {
  if (built) return;
  const modules = COMPILED_BENCH_MODULES.map((file) => join(REPO_ROOT, 'tools', 'bench', file));
  execFileSync(process.execPath, [join(REPO_ROOT, 'tools', 'build.mjs'), ...modules], { cwd: REPO_ROOT, stdio: 'pipe' });
  built = true;
}

/**
 * The main server under test runs as `npm start` runs it (issue 13): compiled, on plain node with
 * the flags of package.json's start script, without tsx's loader thread (~30 MB of RSS of its
 * own). Everything else, the baseline server included, runs through tsx.
 */
function runsCompiled(script: string, args: readonly string[]): boolean {
  return script === './serverProcess.ts' && (args[0] ?? 'main') === 'main';
}

/** node's flags in package.json's start script (`... && exec node <flags> dist/src/main.js`). */
function startNodeFlags(): string[] {
  const start = (JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts['start'] ?? '';
  const flags = /\bnode((?: --\S+)*) dist\/src\/main\.js/.exec(start)?.[1];
  if (flags === undefined) throw new Error(`package.json's start script does not run node ... dist/src/main.js: ${start}`);
  return flags.split(' ').filter((flag) => flag !== '');
}

/** util-linux taskset, when there is one and more than one core to pin to. */
const TASKSET =
  os.platform() === 'linux' && os.availableParallelism() >= 2
    ? ((process.env['PATH'] ?? '')
        .split(delimiter)
        .map((dir) => join(dir, 'taskset'))
        .find((path) => existsSync(path)) ?? null)
    : null;

/** True when forkTs can pin a process to a core. */
export const canPin = TASKSET !== null;

/**
 * Forks a TypeScript module of tools/bench (run through tsx, or compiled: the main server, see
 * runsCompiled) with an IPC channel; with `cpu`, pinned to that core (taskset execs node, which
 * finds the IPC channel it inherits).
 */
export function forkTs(script: string, args: string[], execArgv: string[] = [], cpu: number | null = null): ChildProcess {
  let file = join(REPO_ROOT, 'tools', 'bench', script);
  let nodeArgs = ['--import', TSX_LOADER, ...execArgv];
  if (runsCompiled(script, args)) {
    buildOnce();
    file = join(REPO_ROOT, 'dist', 'tools', 'bench', script.replace(/\.ts$/, '.js'));
    nodeArgs = [...startNodeFlags(), ...execArgv];
  }
  const stdio: StdioOptions = ['ignore', 'inherit', 'inherit', 'ipc'];
  if (cpu !== null && TASKSET) {
    return spawn(TASKSET, ['--cpu-list', String(cpu), process.execPath, ...nodeArgs, file, ...args], { cwd: REPO_ROOT, stdio, serialization: 'json' });
  }
  return fork(file, args, { cwd: REPO_ROOT, execArgv: nodeArgs, stdio, serialization: 'json' });
}

/** The parent's side of one child. */
export class Child {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();
  private readonly waiters = new Map<string, Array<(payload: unknown) => void>>();
  /** Events that came before anyone waited for them. */
  private readonly early = new Map<string, unknown[]>();
  private exitError: Error | null = null;
  readonly exited: Promise<number | null>;

  constructor(
    readonly name: string,
    readonly process: ChildProcess,
  ) {
    process.on('message', (m: Message) => this.onMessage(m));
    this.exited = new Promise((resolve) => {
      process.once('exit', (code, signal) => {
        this.exitError = new Error(`${name} exited (code ${code}${signal ? `, signal ${signal}` : ''})`);
        for (const p of this.pending.values()) {
          clearTimeout(p.timer);
          p.reject(this.exitError);
        }
        this.pending.clear();
        resolve(code);
      });
    });
  }

  request<T>(type: string, payload?: unknown, timeoutMs = 30_000): Promise<T> {
    if (this.exitError) return Promise.reject(this.exitError);
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${this.name}: no answer to "${type}" within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
      this.process.send({ kind: 'request', id, type, payload } satisfies Request);
    });
  }

  /** Resolves with the payload of the next event of this type. */
  waitFor<T>(type: string, timeoutMs: number): Promise<T> {
    const early = this.early.get(type);
    if (early && early.length > 0) return Promise.resolve(early.shift() as T);
    if (this.exitError) return Promise.reject(this.exitError);
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.name}: no "${type}" within ${timeoutMs} ms`)), timeoutMs);
      const list = this.waiters.get(type) ?? [];
      list.push((payload) => {
        clearTimeout(timer);
        resolve(payload as T);
      });
      this.waiters.set(type, list);
      void this.exited.then(() => {
        clearTimeout(timer);
        reject(this.exitError);
      });
    });
  }

  /** Ends the child if it is still running (SIGKILL after a grace period). */
  async kill(graceMs = 3000): Promise<void> {
    if (this.process.exitCode !== null || this.process.signalCode !== null) return;
    this.process.kill('SIGTERM');
    const timer = setTimeout(() => this.process.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }

  private onMessage(m: Message): void {
    if (m.kind === 'response') {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      clearTimeout(p.timer);
      if (m.ok) p.resolve(m.result);
      else p.reject(new Error(`${this.name}: ${m.error}`));
    } else if (m.kind === 'event') {
      const list = this.waiters.get(m.type);
      if (list && list.length > 0) list.shift()!(m.payload);
      else this.early.set(m.type, [...(this.early.get(m.type) ?? []), m.payload]);
    }
  }
}

/** The child's side: answers requests with the named handlers; exits when the parent goes. */
export function serve(handlers: Record<string, (payload: any) => unknown>): void {
  process.on('disconnect', () => process.exit(0));
  process.on('SIGTERM', () => process.exit(0));
  process.on('message', (m: Message) => {
    if (m.kind !== 'request') return;
    const handler = handlers[m.type];
    Promise.resolve()
      .then(() => {
        if (!handler) throw new Error(`unknown request "${m.type}"`);
        return handler(m.payload);
      })
      .then(
        (result) => process.send?.({ kind: 'response', id: m.id, ok: true, result } satisfies Response),
        (error: unknown) =>
          process.send?.({
            kind: 'response',
            id: m.id,
            ok: false,
            error: error instanceof Error ? (error.stack ?? error.message) : String(error),
          } satisfies Response),
      );
  });
}

/** An unsolicited message to the parent. */
export function emit(type: string, payload?: unknown): void {
  process.send?.({ kind: 'event', type, payload } satisfies Event);
}
