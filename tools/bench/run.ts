/**
 * One benchmark run: forks the server under test and the load generator, joins the callers,
 * warms up, opens the measurement window on both sides at once (resetStats on the server), then
 * collects both sides' figures, hangs everyone up and shuts the server down.
 */
import { mkdirSync, readFileSync, readdirSync, statSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { canPin, Child, forkTs } from './ipc.js';
import type { JoinReport, LoadConfig, LoadgenWindow, SetupRoundReport } from './loadgen.js';
import { topSelfTime } from './profile.js';
import { computeFigures, type ProfileSummary, type RunResult, type Scenario } from './report.js';
import type { ServerImpl, ServerReady, ServerSample } from './serverProcess.js';

export interface RunOptions {
  /** Extra environment for the main server's parseConfig (LOG_LEVEL is silent by default). */
  serverEnv: Record<string, string>;
  /** Run the server under test with --cpu-prof, writing here. */
  cpuProfDir: string | null;
  seed: number;
  /**
   * Pin the server to core 0 and the generator to core 1 (when taskset is there), so that neither
   * runs on the other's core. Off by default: on a quiet 2-core machine it changed little (tick p50
   * equal, p99 8.3 vs 9.7 ms at 100 callers), and with other load it hurts (neither can move away).
   */
  pin: boolean;
  /** Run the worker-thread clock probe in the main server (workerProbe.ts). */
  workerProbe?: boolean;
  log: (line: string) => void;
}

/**
 * CPU time all processes on the machine have used (us), from /proc/stat (Linux; null elsewhere):
 * with the server's and the generator's own, it tells how much of the machine others took.
 */
export function machineBusyMicros(): number | null {
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = fields;
    return ((user + nice + system + irq + softirq + steal) * 1e6) / 100; // USER_HZ = 100
  } catch {
    return null;
  }
}

/**
 * Waits until the machine's other load is below `maxPercentOfCore` (3 s samples), at most
 * `timeoutMs`. Resolves with the last sample (% of a core); NaN where /proc/stat is missing.
 */
export async function waitForQuiet(maxPercentOfCore: number, timeoutMs: number): Promise<number> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const a = machineBusyMicros();
    if (a === null) return NaN;
    await sleep(3000);
    const percent = ((machineBusyMicros()! - a) / 3e6) * 100;
    if (percent < maxPercentOfCore || Date.now() >= until) return percent;
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** `promise`, or undefined after `ms` (the timer does not outlive the promise). */
async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([promise, new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * How long to wait for every call to get in: a server that cannot even admit the callers in this
 * time is measured with those it did. With a rate cap, 3x the ramp; without, 30 ms a call.
 */
function joinDeadlineMs(callers: number, joinsPerSecond: number | null): number {
  return 30_000 + (joinsPerSecond !== null ? (callers / joinsPerSecond) * 1000 * 3 : callers * 30);
}

export async function runOne(impl: ServerImpl, scenario: Scenario, options: RunOptions): Promise<RunResult> {
  const execArgv = ['--expose-gc'];
  let profileDir: string | null = null;
  if (options.cpuProfDir) {
    profileDir = join(options.cpuProfDir, `${impl}-${scenario.callers}-${Date.now()}`);
    mkdirSync(profileDir, { recursive: true });
    execArgv.push('--cpu-prof', '--cpu-prof-dir', profileDir);
  }
  const pin = options.pin && canPin;
  const server = new Child(
    `${impl} server`,
    forkTs('./serverProcess.ts', [impl, JSON.stringify(options.serverEnv), ...(options.workerProbe ? ['--worker-probe'] : [])], execArgv, pin ? 0 : null),
  );
  let loadgen: Child | null = null;
  try {
    const ready = await server.waitFor<ServerReady>('ready', 60_000);
    // BENCH_LOADGEN_PROF=DIR: profile the load generator too (to check it stays cheap).
    const loadgenArgv = process.env['BENCH_LOADGEN_PROF'] ? ['--cpu-prof', '--cpu-prof-dir', process.env['BENCH_LOADGEN_PROF']] : [];
    loadgen = new Child('load generator', forkTs('./loadgen.ts', [], loadgenArgv, pin ? 1 : null));
    const config: LoadConfig = {
      baseUrl: `http://127.0.0.1:${ready.port}`,
      callers: scenario.callers,
      roomSize: scenario.roomSize,
      talkersMin: scenario.talkersMin,
      talkersMax: scenario.talkersMax,
      dialConcurrency: scenario.dialConcurrency,
      joinsPerSecond: scenario.joinsPerSecond,
      silence: scenario.silence,
      churnPerSecond: scenario.churnPerSecond,
      seed: options.seed,
      joinDeadlineMs: joinDeadlineMs(scenario.callers, scenario.joinsPerSecond),
    };
    options.log(
      `${impl}: ${scenario.callers} callers dialling in, ${scenario.dialConcurrency} at a time${scenario.joinsPerSecond !== null ? ` (at most ${scenario.joinsPerSecond}/s)` : ''}`,
    );
    const joined = await loadgen.request<JoinReport>('start', config, config.joinDeadlineMs + 10_000);
    if (joined.joined === 0) throw new Error(`no call connected to the ${impl} server: ${joined.firstError ?? joined.firstRefusal}`);
    if (joined.refused > 0) options.log(`${impl}: ${joined.refused} calls refused by the server (first heard: ${joined.firstRefusal})`);
    if (joined.failed > 0) options.log(`${impl}: ${joined.failed} calls failed to connect (first: ${joined.firstError})`);
    if (joined.pending > 0)
      options.log(`${impl}: ${joined.pending} calls still dialling after ${(config.joinDeadlineMs / 1000).toFixed(0)} s; measuring with those that got in`);
    options.log(`${impl}: ${joined.joined} in after ${(joined.ms / 1000).toFixed(1)} s; warming up ${scenario.warmupSeconds} s`);
    await sleep(scenario.warmupSeconds * 1000);

    // A whole number of 20 ms periods, so a perfectly periodic stream has exactly windowMs/20 frames in it.
    const windowMs = Math.max(1, Math.round((scenario.seconds * 1000) / 20)) * 20;
    options.log(`${impl}: measuring ${windowMs / 1000} s`);
    const loadAverage1m = os.loadavg()[0]!;
    await server.request('reset');
    const busyBefore = machineBusyMicros();
    const windowDone = loadgen.request<LoadgenWindow>('window', { durationMs: windowMs, settleMs: 500 }, windowMs + 30_000);
    await sleep(windowMs);
    const sample = await server.request<ServerSample>('stats');
    const busyAfter = machineBusyMicros();
    const lg = await windowDone;
    await loadgen.request('stop', undefined, 20_000);
    await server.request('close', undefined, 20_000).catch(() => undefined);
    await withTimeout(server.exited, 10_000);
    const machine = {
      busyMicros: busyBefore !== null && busyAfter !== null ? ((busyAfter - busyBefore) * windowMs) / sample.elapsedMs : NaN,
      loadAverage1m,
    };
    const { figures, diagnostics } = computeFigures(scenario, ready, sample, lg, joined, machine);
    const result: RunResult = { impl, scenario, figures, diagnostics };
    if (profileDir) {
      const files = readdirSync(profileDir)
        .filter((f) => f.endsWith('.cpuprofile'))
        .map((f) => join(profileDir!, f))
        .sort((a, b) => statSync(b).size - statSync(a).size);
      if (files[0]) result.profile = topSelfTime(files[0], 15);
    }
    return result;
  } finally {
    await loadgen?.kill();
    await server.kill();
  }
}

/** --setup-cost: what one call set-up costs the server (runSetupCost). */
export interface SetupCostOptions {
  /** Measured calls, and calls set up before them to warm the server up (JIT, pools). */
  calls: number;
  warmupCalls: number;
  roomSize: number;
  dialConcurrency: number;
  joinsPerSecond: number | null;
}

export interface SetupCostResult {
  impl: ServerImpl;
  options: SetupCostOptions;
  admitted: number;
  refused: number;
  failed: number;
  /** Server CPU (user + system) per admitted call's set-up, idle ticking subtracted (us). */
  cpuUsPerSetup: number;
  userUsPerSetup: number;
  systemUsPerSetup: number;
  /** The server's CPU with no call, measured for 1 s just before and subtracted (% of a core). */
  idleCpuPercentOfCore: number;
  /** Server CPU during the round, idle included (% of a core). */
  cpuPercentOfCore: number;
  /** Set-ups completed per second of the round (wall time, first webhook to last socket closed). */
  setupsPerSecond: number;
  /** Webhook request to the first mix received, per admitted call (ms). */
  setupMs: { p50: number; p99: number };
  roundMs: number;
  gcPauses: number;
  loadgenCpuPercentOfCore: number;
  otherProcessesPercentOfCore: number;
  firstError: string | null;
  firstRefusal: string | null;
  /** With --cpu-prof (main only): the server's profile restricted to the measured round. */
  profile?: ProfileSummary;
}

/**
 * --setup-cost: the server's CPU per call set-up. Into an otherwise idle server, `warmupCalls` then
 * `calls` calls are dialled (`dialConcurrency` at a time), each hanging up (stop, close) as soon as
 * its first mix arrives, so streaming costs stay out. Per set-up: the server process's CPU over the
 * measured round (until every socket has closed, + 200 ms), minus its idle CPU (measured for 1 s
 * just before) over as long, divided
 * by the calls admitted. Included: the webhook POST /voice?room=N and its TwiML (admission, ticket),
 * the WebSocket upgrade, connected + start, the media the call sent until its first mix (a frame
 * or two), the mix ticks while it was in, stop + close and the teardown, and the garbage collection
 * all this caused within the round. Not included: the idle clock, the load generator.
 */
export async function runSetupCost(impl: ServerImpl, setup: SetupCostOptions, options: RunOptions): Promise<SetupCostResult> {
  const execArgv = ['--expose-gc'];
  let profileDir: string | null = null;
  if (options.cpuProfDir) {
    profileDir = join(options.cpuProfDir, `${impl}-setup-${setup.calls}-${Date.now()}`);
    mkdirSync(profileDir, { recursive: true });
    execArgv.push('--cpu-prof', '--cpu-prof-dir', profileDir);
  }
  const pin = options.pin && canPin;
  const server = new Child(`${impl} server`, forkTs('./serverProcess.ts', [impl, JSON.stringify(options.serverEnv)], execArgv, pin ? 0 : null));
  // Both start at once: nothing is measured before the idle window.
  const loadgen = new Child('load generator', forkTs('./loadgen.ts', [], [], pin ? 1 : null));
  try {
    const ready = await server.waitFor<ServerReady>('ready', 60_000);
    const config: LoadConfig = {
      baseUrl: `http://127.0.0.1:${ready.port}`,
      callers: Math.max(setup.calls, setup.warmupCalls),
      roomSize: setup.roomSize,
      talkersMin: 0,
      talkersMax: 0,
      dialConcurrency: setup.dialConcurrency,
      joinsPerSecond: setup.joinsPerSecond,
      silence: 'zero',
      churnPerSecond: 0,
      seed: options.seed,
      joinDeadlineMs: joinDeadlineMs(setup.calls, setup.joinsPerSecond),
      hangUpAfterFirstMix: true,
    };
    const roundTimeout = config.joinDeadlineMs + 40_000;
    if (setup.warmupCalls > 0) {
      options.log(`${impl}: ${setup.warmupCalls} call set-ups to warm up`);
      await loadgen.request<SetupRoundReport>('setupRound', { config, calls: setup.warmupCalls }, roundTimeout);
    }
    await sleep(300);
    options.log(`${impl}: idle CPU for 1 s`);
    await server.request('reset');
    await sleep(1000);
    const idle = await server.request<ServerSample>('stats');
    const idleUsPerMs = (idle.cpuUserMicros + idle.cpuSystemMicros) / idle.elapsedMs;

    options.log(`${impl}: ${setup.calls} call set-ups, ${setup.dialConcurrency} at a time, each hung up at its first mix`);
    // The round on the machine's monotonic clock (us), to cut the server's CPU profile to it.
    const fromUs = Number(process.hrtime.bigint() / 1000n);
    const busyBefore = machineBusyMicros();
    await server.request('reset');
    const round = await loadgen.request<SetupRoundReport>('setupRound', { config, calls: setup.calls }, roundTimeout);
    await sleep(200);
    const sample = await server.request<ServerSample>('stats');
    const busyAfter = machineBusyMicros();
    const toUs = Number(process.hrtime.bigint() / 1000n);
    await server.request('close', undefined, 20_000).catch(() => undefined);
    await withTimeout(server.exited, 10_000);

    const serverMicros = sample.cpuUserMicros + sample.cpuSystemMicros;
    const idleMicros = idleUsPerMs * sample.elapsedMs;
    const admitted = Math.max(1, round.admitted);
    // Idle CPU is mostly user time (the clock): taken off user, system as measured.
    const userMicros = Math.max(0, sample.cpuUserMicros - idleMicros * (idle.cpuUserMicros / Math.max(1, idle.cpuUserMicros + idle.cpuSystemMicros)));
    const systemMicros = Math.max(0, serverMicros - idleMicros - userMicros);
    const r1 = (v: number) => Math.round(v * 10) / 10;
    const windowUs = sample.elapsedMs * 1000;
    const result: SetupCostResult = {
      impl,
      options: setup,
      admitted: round.admitted,
      refused: round.refused,
      failed: round.failed,
      cpuUsPerSetup: r1((serverMicros - idleMicros) / admitted),
      userUsPerSetup: r1(userMicros / admitted),
      systemUsPerSetup: r1(systemMicros / admitted),
      idleCpuPercentOfCore: r1(idleUsPerMs / 10),
      cpuPercentOfCore: r1((serverMicros / windowUs) * 100),
      setupsPerSecond: r1(round.admitted / (round.ms / 1000)),
      setupMs: round.setupMs,
      roundMs: round.ms,
      gcPauses: sample.gc.count,
      loadgenCpuPercentOfCore: r1((round.cpuMicros / (round.ms * 1000)) * 100),
      otherProcessesPercentOfCore:
        busyBefore !== null && busyAfter !== null
          ? r1((Math.max(0, ((busyAfter - busyBefore) * windowUs) / (toUs - fromUs) - serverMicros - round.cpuMicros) / windowUs) * 100)
          : NaN,
      firstError: round.firstError,
      firstRefusal: round.firstRefusal,
    };
    if (profileDir) {
      const files = readdirSync(profileDir)
        .filter((f) => f.endsWith('.cpuprofile'))
        .map((f) => join(profileDir!, f))
        .sort((a, b) => statSync(b).size - statSync(a).size);
      if (files[0]) result.profile = topSelfTime(files[0], 20, { fromUs, toUs });
    }
    return result;
  } finally {
    await loadgen.kill();
    await server.kill();
  }
}
