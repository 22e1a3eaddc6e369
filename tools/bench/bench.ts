/**
 * npm run bench: how many callers this machine carries in real time, and at what cost, for the
 * real server (src/) and the straightforward baseline (tools/bench/baseline/) side by side.
 *
 * Each run forks the server under test and the load generator as separate processes on
 * 127.0.0.1, joins the callers through the webhook, warms up, measures, and hangs up. Results are
 * printed as tables and written to bench-results/<timestamp>.json (and .svg for --find-max).
 * `npm run bench -- --help` lists the options.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { findMaxSvg, type ChartSeries } from './chart.js';
import { canPin, REPO_ROOT } from './ipc.js';
import { runMicro, type MicroResult } from './micro.js';
import {
  describeScenario,
  fmt,
  HELD,
  holds,
  passLine,
  passTable,
  ratios,
  scenarioTable,
  table,
  workerProbeTable,
  type ProfileSummary,
  type RunResult,
  type Scenario,
} from './report.js';
import { runOne, runSetupCost, waitForQuiet, type RunOptions, type SetupCostResult } from './run.js';

export const USAGE = `npm run bench -- [options]

  Scenario (one run of the real server, then the baseline, with the same load):
    --callers N          concurrent callers (default 100)
    --room-size K        callers per room (default 5); --room-size N puts everyone in one room
    --talkers A[-B]      per room: A always talking (the floor rotates), up to B with the
                         intermittent ones (default 1-2); e.g. --talkers 10
    --seconds S          measurement window (default 10; 20 for --find-max)
    --warmup S           after everyone joined, before measuring (default 5)
    --dial-concurrency N calls dialling at once, as users do at the start of a busy hour
                         (default 16): a call dials from its webhook request until its stream
                         has sent \`start\`, or it was refused (TwiML without <Connect><Stream>:
                         busy, full ...; counted as "calls refused") or failed
    --ramp R             also at most R calls starting to dial per second (default: no cap)
    --churn              callers hang up and new ones dial in during the run
    --churn-rate R       calls replaced per second (default callers/30, at least 1)
    --silence zero|captured
                         non-talkers send 0xFF/0x7F (default) or Twilio's captured frames,
                         which hold a stray 0x7E/0xFE (+/-8): not digital zero
    --no-baseline        only the real server
    --pin                pin the server to core 0 and the load generator to core 1 (taskset)
  Other modes:
    --pass-line          issue 6's two pass-line scenarios: 1,000 callers in rooms of 5, and one
                         room of 1,000 with 10 talking
    --find-max           the largest caller count that holds, for the real server and then the
                         baseline: ramp (--start 200 --step 200 --max 3000), then bisect to
                         --resolution 50. A step holds (issue 13) when every call was admitted,
                         >= 99.5 % of frames arrived and < 0.5 % of intervals were > 60 ms;
                         chart in .svg
    --setup-cost         server CPU per call set-up (us), real server and baseline: --callers
                         calls (default 400, after a quarter as many to warm up) dialled into an
                         idle server, each hung up at its first mix; idle CPU subtracted. With
                         --cpu-prof, the real server's profile of just those set-ups
    --micro              micro-benchmarks of the per-frame path (ns per frame), main vs baseline
    --cpu-prof           run the real server with node --cpu-prof; prints its top functions
    --worker-probe       in the real server, a worker thread runs a second 20 ms clock with the
                         mixing work and signals the main thread; prints both clocks' lateness
  Output:
    --out DIR            where results go (default bench-results; "-" writes nothing)
    --server-env K=V     extra configuration for the real server (repeatable)
    --seed N             talk pattern seed (default 1)
`;

export interface BenchOptions {
  scenario: Scenario;
  baseline: boolean;
  mode: 'scenario' | 'pass-line' | 'find-max' | 'micro' | 'setup-cost';
  findMax: { start: number; step: number; max: number; resolution: number };
  /** --setup-cost: measured calls and warm-up calls. */
  setupCost: { calls: number; warmupCalls: number };
  cpuProf: boolean;
  workerProbe: boolean;
  outDir: string | null;
  serverEnv: Record<string, string>;
  seed: number;
  pin: boolean;
  log: (line: string) => void;
}

export interface ScenarioReport {
  scenario: Scenario;
  main: RunResult | null;
  baseline: RunResult | null;
  /** Runs that did not complete (the server crashed, nobody could join ...). */
  errors: string[];
  ratios: Record<string, number | null> | null;
  /** Issue 13's criteria (every call admitted, >= 99.5 % of frames, < 0.5 % of intervals > 60 ms). */
  held: { main: ReturnType<typeof passLine> | null; baseline: ReturnType<typeof passLine> | null };
  /** Issue 6's pass line. */
  passLine: { main: ReturnType<typeof passLine> | null; baseline: ReturnType<typeof passLine> | null };
}

export interface SetupCostReport {
  main: SetupCostResult | null;
  baseline: SetupCostResult | null;
  /** Baseline CPU per set-up / main's (above 1: main cheaper). */
  ratio: number | null;
  included: string;
  excluded: string;
  errors: string[];
}

export interface FindMaxReport {
  criteria: string;
  steps: Array<{ impl: 'main' | 'baseline'; callers: number; held: boolean; loadgenSaturated: boolean; result: RunResult | null; error?: string }>;
  /** The largest caller count that held (0: none did); baseline null with --no-baseline. */
  maxCallers: { main: number; baseline: number | null };
  /** A server held while the load generator was near its limit: it may hold more. */
  limitedByLoadGenerator: { main: boolean; baseline: boolean };
  chart: string | null;
}

export interface BenchReport {
  meta: {
    startedAt: string;
    durationSeconds: number;
    machine: { cpu: string; cores: number; memoryGiB: number; node: string; os: string };
    git: { commit: string; dirty: boolean } | null;
    command: string;
    /** Server on core 0, load generator on core 1. */
    pinned: boolean;
  };
  scenarios: ScenarioReport[];
  findMax: FindMaxReport | null;
  setupCost: SetupCostReport | null;
  micro: MicroResult | null;
  files: { json: string | null; svg: string | null };
}

function int(value: string | undefined, name: string, fallback: number, min = 1): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n < min) throw new Error(`--${name}: expected a number >= ${min}, got "${value}"`);
  return n;
}

/** Parses command-line arguments into options (throws with a message on a bad value). */
export function parseOptions(argv: string[]): BenchOptions | 'help' {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      callers: { type: 'string' },
      'room-size': { type: 'string' },
      talkers: { type: 'string' },
      seconds: { type: 'string' },
      warmup: { type: 'string' },
      ramp: { type: 'string' },
      'dial-concurrency': { type: 'string' },
      'setup-cost': { type: 'boolean' },
      churn: { type: 'boolean' },
      'churn-rate': { type: 'string' },
      silence: { type: 'string' },
      'no-baseline': { type: 'boolean' },
      pin: { type: 'boolean' },
      'pass-line': { type: 'boolean' },
      'find-max': { type: 'boolean' },
      start: { type: 'string' },
      step: { type: 'string' },
      max: { type: 'string' },
      resolution: { type: 'string' },
      micro: { type: 'boolean' },
      'cpu-prof': { type: 'boolean' },
      'worker-probe': { type: 'boolean' },
      out: { type: 'string' },
      'server-env': { type: 'string', multiple: true },
      seed: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return 'help';
  const callers = int(values.callers, 'callers', 100);
  const talkers = /^(\d+)(?:-(\d+))?$/.exec(values.talkers ?? '1-2');
  if (!talkers) throw new Error(`--talkers: expected A or A-B, got "${values.talkers}"`);
  const talkersMin = Number(talkers[1]);
  const talkersMax = Number(talkers[2] ?? talkers[1]);
  if (talkersMax < talkersMin) throw new Error('--talkers: A-B with B >= A');
  const silence = values.silence ?? 'zero';
  if (silence !== 'zero' && silence !== 'captured') throw new Error(`--silence: zero or captured, got "${silence}"`);
  const serverEnv: Record<string, string> = {};
  for (const kv of values['server-env'] ?? []) {
    const eq = kv.indexOf('=');
    if (eq <= 0) throw new Error(`--server-env: expected KEY=VALUE, got "${kv}"`);
    serverEnv[kv.slice(0, eq)] = kv.slice(eq + 1);
  }
  const modes = [values['pass-line'], values['find-max'], values.micro, values['setup-cost']].filter(Boolean).length;
  if (modes > 1) throw new Error('choose one of --pass-line, --find-max, --micro, --setup-cost');
  const scenario: Scenario = {
    label: 'custom',
    callers,
    roomSize: Math.min(callers, int(values['room-size'], 'room-size', 5)),
    talkersMin,
    talkersMax,
    // Issue 13 judges find-max steps over 20 s.
    seconds: int(values.seconds, 'seconds', values['find-max'] ? 20 : 10, 0.1),
    warmupSeconds: int(values.warmup, 'warmup', 5, 0),
    dialConcurrency: int(values['dial-concurrency'], 'dial-concurrency', 16),
    joinsPerSecond: values.ramp === undefined ? null : int(values.ramp, 'ramp', 0, 0.1),
    churnPerSecond: values.churn ? int(values['churn-rate'], 'churn-rate', Math.max(1, Math.round(callers / 30)), 0.1) : 0,
    silence,
  };
  const setupCalls = int(values.callers, 'callers', 400);
  return {
    scenario,
    baseline: !values['no-baseline'],
    mode: values.micro ? 'micro' : values['find-max'] ? 'find-max' : values['pass-line'] ? 'pass-line' : values['setup-cost'] ? 'setup-cost' : 'scenario',
    findMax: {
      start: int(values.start, 'start', 200),
      step: int(values.step, 'step', 200),
      max: int(values.max, 'max', 3000),
      resolution: int(values.resolution, 'resolution', 50),
    },
    setupCost: { calls: setupCalls, warmupCalls: Math.max(16, Math.round(setupCalls / 4)) },
    cpuProf: values['cpu-prof'] ?? false,
    workerProbe: values['worker-probe'] ?? false,
    outDir: values.out === '-' ? null : resolve(values.out ?? join(REPO_ROOT, 'bench-results')),
    serverEnv,
    seed: int(values.seed, 'seed', 1, 0),
    pin: values.pin ?? false,
    log: (line) => process.stderr.write(`[bench] ${line}\n`),
  };
}

function machine(): BenchReport['meta']['machine'] {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model ?? 'unknown',
    cores: os.availableParallelism(),
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
  };
}

function gitState(): BenchReport['meta']['git'] {
  try {
    const commit = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: REPO_ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain'], { cwd: REPO_ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim() !== '';
    return { commit, dirty };
  } catch {
    return null;
  }
}

/** Runs one server's part; a run that throws is reported (printed and kept in `errors`) as null. */
function attempter<T>(run: (impl: 'main' | 'baseline', o: RunOptions) => Promise<T>, errors: string[], print: (text: string) => void) {
  return async (impl: 'main' | 'baseline', o: RunOptions): Promise<T | null> => {
    try {
      return await run(impl, o);
    } catch (error) {
      const message = `${impl}: the run did not complete: ${error instanceof Error ? error.message : String(error)}`;
      errors.push(message);
      print(message);
      return null;
    }
  };
}

async function runScenario(scenario: Scenario, options: BenchOptions, runOptions: RunOptions, print: (text: string) => void): Promise<ScenarioReport> {
  print(`\n== ${scenario.label}: ${describeScenario(scenario)}`);
  const errors: string[] = [];
  const attempt = attempter((impl, o) => runOne(impl, scenario, o), errors, print);
  const main = await attempt('main', runOptions);
  const baseline = options.baseline ? await attempt('baseline', { ...runOptions, cpuProfDir: null, workerProbe: false }) : null;
  if (!main && !baseline)
    return { scenario, main, baseline, errors, ratios: null, held: { main: null, baseline: null }, passLine: { main: null, baseline: null } };
  print('');
  print(scenarioTable(main, baseline));
  print('');
  print(passTable(main, baseline));
  for (const r of [main, baseline]) {
    if (!r) continue;
    const d = r.diagnostics;
    if (d.loadgenSaturated)
      print(
        `note (${r.impl}): the load generator was near its limit (CPU ${fmt(r.figures.loadgen.cpuPercentOfCore, 0)} %, send lateness p99 ${fmt(r.figures.loadgen.sendLatenessP99Ms, 1)} ms): figures may be understated`,
      );
    if (d.machineBusy)
      print(
        `note (${r.impl}): other processes used ${fmt(r.figures.otherProcessesPercentOfCore, 0)} % of a core during the window (load average ${d.loadAverage1m} when it opened): the figures are disturbed`,
      );
    if (d.protocolErrorSamples.length) print(`note (${r.impl}): messages Twilio would reject: ${d.protocolErrorSamples.join(' | ')}`);
    if (Object.keys(d.closeCodes).length) print(`note (${r.impl}): streams closed by the server during the window: ${JSON.stringify(d.closeCodes)}`);
    if (r.figures.callsRefused > 0)
      print(`note (${r.impl}): ${r.figures.callsRefused} calls refused by the server; the first heard: "${d.firstRefusal ?? ''}"`);
    if (d.firstJoinError) print(`note (${r.impl}): a call failed to join: ${d.firstJoinError}`);
    if (d.joinsPendingAtStart > 0)
      print(
        `note (${r.impl}): ${d.joinsPendingAtStart} of ${r.scenario.callers} calls had not got in when measuring began (the server answered too slowly); ${r.figures.callers} were in at the end`,
      );
  }
  if (main?.profile) print(profileTable(main));
  if (main?.figures.workerProbe) print('\n' + workerProbeTable(main));
  return {
    scenario,
    main,
    baseline,
    errors,
    ratios: main && baseline ? ratios(main.figures, baseline.figures) : null,
    held: { main: main ? passLine(main.figures, HELD) : null, baseline: baseline ? passLine(baseline.figures, HELD) : null },
    passLine: { main: main ? passLine(main.figures) : null, baseline: baseline ? passLine(baseline.figures) : null },
  };
}

function profileTable(r: { impl: string; profile?: ProfileSummary }, span = 'whole process life', withTotal = false): string {
  const p = r.profile!;
  return [
    `\nCPU profile of the ${r.impl} server (${p.file}, ${fmt(p.totalMs / 1000, 2)} s of CPU outside idle, ${span}): top self time`,
    table([['function', 'where', 'self ms', 'self %'], ...p.top.map((e) => [e.functionName, e.location, fmt(e.selfMs, 1), fmt(e.selfPercent, 1)])]),
    ...(withTotal
      ? [
          '\nself time by where the code lives',
          table([['where', 'self ms', 'self %'], ...p.byArea.map((e) => [e.functionName, fmt(e.selfMs, 1), fmt(e.selfPercent, 1)])]),
          "\nthe project's functions (src/) by total time: the function and everything it called",
          table([
            ['function', 'where', 'total ms', 'total %'],
            ...p.topTotal.map((e) => [e.functionName, e.location, fmt(e.selfMs, 1), fmt(e.selfPercent, 1)]),
          ]),
        ]
      : []),
  ].join('\n');
}

async function findMax(options: BenchOptions, runOptions: RunOptions, print: (text: string) => void): Promise<FindMaxReport> {
  const { start, step, max, resolution } = options.findMax;
  const base = options.scenario;
  const roomSize = base.roomSize;
  const steps: FindMaxReport['steps'] = [];
  const scenarioFor = (callers: number): Scenario => ({
    ...base,
    label: `find-max ${callers}`,
    callers,
    roomSize: Math.min(roomSize, callers),
    churnPerSecond: base.churnPerSecond > 0 ? Math.max(1, Math.round(callers / 30)) : 0,
  });
  const run = async (impl: 'main' | 'baseline', callers: number) => {
    print(`\n-- find-max: ${impl}, ${callers} callers`);
    let result: RunResult;
    try {
      // On a shared machine, a step other processes disturbed is repeated (twice at most) once
      // the machine is quiet again: the ramp should find the server's limit, not a neighbour's.
      for (let attempt = 1; ; attempt++) {
        result = await runOne(impl, scenarioFor(callers), impl === 'main' ? runOptions : { ...runOptions, cpuProfDir: null, workerProbe: false });
        if (!result.diagnostics.machineBusy || attempt === 3) break;
        print(`   disturbed: other processes used ${fmt(result.figures.otherProcessesPercentOfCore, 0)} % of a core; repeating when the machine is quiet`);
        await waitForQuiet(20, 120_000);
      }
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      print(`   FAILED: the run did not complete: ${message}`);
      const failed = { impl, callers, held: false, loadgenSaturated: false, result: null, error: message };
      steps.push(failed);
      return failed;
    }
    const entry = { impl, callers, held: holds(result.figures), loadgenSaturated: result.diagnostics.loadgenSaturated, result };
    steps.push(entry);
    const f = result.figures;
    print(
      `   ${entry.held ? 'held' : 'FAILED'}: refused ${f.callsRefused}, failed ${f.joinFailures + f.joinsPendingAtStart}, delivered ${fmt(f.framesDeliveredPercent, 3)} %, ` +
        `intervals > 60 ms ${fmt(f.gapsPercentOfIntervals, 3)} % (${f.gapsOver60ms}), delay p50/p99 ${fmt(f.delayMs.p50, 1)} / ${fmt(f.delayMs.p99, 1)} ms, ` +
        `CPU ${fmt(f.cpuPercentOfCore, 0)} % (${fmt(f.cpuMsPerCallerSecond, 2)} ms/s per caller), load generator CPU ${fmt(f.loadgen.cpuPercentOfCore, 0)} %${entry.loadgenSaturated ? ' (saturated)' : ''}, ` +
        `other processes ${fmt(f.otherProcessesPercentOfCore, 0)} %`,
    );
    return entry;
  };
  const snap = (n: number) => Math.max(roomSize, Math.round(n / roomSize) * roomSize);

  /** Ramps until a step fails, then bisects between the last held and the first failed. */
  const search = async (impl: 'main' | 'baseline') => {
    let pass = 0;
    let fail = Infinity;
    let limited = false;
    for (let n = start; n <= max; n += step) {
      const r = await run(impl, n);
      if (!r.held) {
        fail = n;
        break;
      }
      pass = n;
      if (r.loadgenSaturated) {
        limited = true;
        break;
      }
    }
    while (!limited && fail !== Infinity && fail - pass > resolution) {
      const mid = snap((pass + fail) / 2);
      if (mid <= pass || mid >= fail) break;
      const r = await run(impl, mid);
      if (r.held) pass = mid;
      else fail = mid;
    }
    return { pass, limited };
  };
  const main = await search('main');
  const baseline = options.baseline ? await search('baseline') : null;

  print('\nfind-max steps:');
  print(
    table([
      [
        'server',
        'callers',
        'held',
        'refused',
        'delivered %',
        'gaps > 60 ms %',
        'delay p50/p99 ms',
        'CPU %',
        'CPU ms/s per caller',
        'us/msg',
        'tick p99 ms',
        'RSS KB/caller',
        'loadgen CPU %',
        'others CPU %',
      ],
      ...[...steps]
        .sort((a, b) => (a.impl === b.impl ? a.callers - b.callers : a.impl === 'main' ? -1 : 1))
        .map((s) => {
          if (!s.result)
            return [s.impl, String(s.callers), 'FAILED', `did not complete: ${s.error ?? ''}`.slice(0, 60), '', '', '', '', '', '', '', '', '', ''];
          const f = s.result.figures;
          return [
            s.impl,
            String(s.callers),
            s.held ? 'held' : 'FAILED',
            String(f.callsRefused + f.joinFailures + f.joinsPendingAtStart),
            fmt(f.framesDeliveredPercent, 3),
            fmt(f.gapsPercentOfIntervals, 3),
            `${fmt(f.delayMs.p50, 1)} / ${fmt(f.delayMs.p99, 1)}`,
            fmt(f.cpuPercentOfCore, 0),
            fmt(f.cpuMsPerCallerSecond, 2),
            fmt(f.cpuUsPerMessage, 2),
            fmt(f.tickMs.p99, 2),
            fmt(f.rssPerCallerKB, 0),
            fmt(f.loadgen.cpuPercentOfCore, 0) + (s.loadgenSaturated ? ' (sat.)' : ''),
            fmt(f.otherProcessesPercentOfCore, 0),
          ];
        }),
    ]),
  );
  const said = (impl: 'main' | 'baseline', r: { pass: number; limited: boolean }) => {
    const atMax = steps.find((s) => s.impl === impl && s.callers === r.pass && s.held);
    return `${r.pass || 'none'}${r.limited ? ' (or more: the load generator saturated first)' : atMax?.loadgenSaturated ? ' (the load generator was near its limit there)' : ''}`;
  };
  print(
    `\nlargest caller count that held (every call admitted, >= 99.5 % of frames delivered, < 0.5 % of intervals > 60 ms; rooms of ${roomSize}, ` +
      `dialled ${base.dialConcurrency} at a time, ${base.seconds} s measured): main ${said('main', main)}${baseline ? `, baseline ${said('baseline', baseline)}` : ''}` +
      (baseline && main.pass > 0 && baseline.pass > 0 ? ` (main holds ${fmt(main.pass / baseline.pass, 2)}x the baseline's callers)` : ''),
  );
  return {
    criteria: 'every call admitted (none refused, failed or late), frames delivered >= 99.5 %, < 0.5 % of inter-frame intervals > 60 ms',
    steps,
    maxCallers: { main: main.pass, baseline: baseline ? baseline.pass : null },
    limitedByLoadGenerator: { main: main.limited, baseline: baseline?.limited ?? false },
    chart: null,
  };
}

const SETUP_INCLUDED =
  'the webhook POST /voice?room=N and its TwiML (admission, join ticket), the WebSocket upgrade, connected + start, the frame or two the call sent until its first mix, ' +
  'the mix ticks while it was in, stop + close and the teardown, and the garbage collection all this caused within the round';
const SETUP_EXCLUDED = "the server's idle clock (its CPU measured for 1 s just before, subtracted), the load generator's work";

async function setupCost(options: BenchOptions, runOptions: RunOptions, print: (text: string) => void): Promise<SetupCostReport> {
  const s = options.scenario;
  const setup = {
    calls: options.setupCost.calls,
    warmupCalls: options.setupCost.warmupCalls,
    roomSize: s.roomSize,
    dialConcurrency: s.dialConcurrency,
    joinsPerSecond: s.joinsPerSecond,
  };
  print(
    `\n== set-up cost: ${setup.calls} call set-ups (after ${setup.warmupCalls} to warm up) into an idle server, rooms of ${setup.roomSize}, dialled ${setup.dialConcurrency} at a time` +
      `${setup.joinsPerSecond !== null ? ` (at most ${setup.joinsPerSecond}/s)` : ''}, each call hung up as soon as its first mix arrived`,
  );
  const errors: string[] = [];
  const attempt = attempter((impl, o) => runSetupCost(impl, setup, o), errors, print);
  const main = await attempt('main', runOptions);
  const baseline = options.baseline ? await attempt('baseline', { ...runOptions, cpuProfDir: null, workerProbe: false }) : null;
  const ratio = main && baseline && main.cpuUsPerSetup > 0 ? Math.round((baseline.cpuUsPerSetup / main.cpuUsPerSetup) * 100) / 100 : null;
  const runs = [main, baseline].filter((r): r is SetupCostResult => r !== null);
  if (runs.length > 0) {
    const row = (label: string, get: (r: SetupCostResult) => string, ratioCell = '') => [label, ...runs.map(get), ...(runs.length === 2 ? [ratioCell] : [])];
    print('');
    print(
      table([
        ['figure', ...runs.map((r) => r.impl), ...(runs.length === 2 ? ['main better by'] : [])],
        row('server CPU per set-up', (r) => `${fmt(r.cpuUsPerSetup, 0)} us`, ratio !== null ? `${fmt(ratio, 2)}x` : 'n/a'),
        row('  of which user / system', (r) => `${fmt(r.userUsPerSetup, 0)} / ${fmt(r.systemUsPerSetup, 0)} us`),
        row(`set-ups per second (${setup.dialConcurrency} dialling)`, (r) => fmt(r.setupsPerSecond, 0)),
        row('set-up (webhook -> first mix) p50 / p99', (r) => `${fmt(r.setupMs.p50, 1)} / ${fmt(r.setupMs.p99, 1)} ms`),
        row('calls admitted / refused / failed', (r) => `${r.admitted} / ${r.refused} / ${r.failed}`),
        row('server CPU during the set-ups', (r) => `${fmt(r.cpuPercentOfCore, 1)} % core`),
        row('idle CPU subtracted', (r) => `${fmt(r.idleCpuPercentOfCore, 1)} % core`),
        row('GC pauses in the round', (r) => String(r.gcPauses)),
        row('load generator CPU', (r) => `${fmt(r.loadgenCpuPercentOfCore, 1)} % core`),
        row('other processes on the machine', (r) => `${fmt(r.otherProcessesPercentOfCore, 1)} % core`),
      ]),
    );
    print(`included: ${SETUP_INCLUDED}.\nnot included: ${SETUP_EXCLUDED}.`);
    for (const r of runs) {
      if (r.refused > 0)
        print(`note (${r.impl}): ${r.refused} calls refused ("${r.firstRefusal ?? ''}"): their webhooks' CPU is in the total, divided by the calls admitted`);
      if (r.failed > 0) print(`note (${r.impl}): ${r.failed} calls failed (first: ${r.firstError})`);
      if (r.otherProcessesPercentOfCore >= 20)
        print(`note (${r.impl}): other processes used ${fmt(r.otherProcessesPercentOfCore, 0)} % of a core during the round: the figures are disturbed`);
    }
    if (main?.profile) print(profileTable(main, `the ${setup.calls} measured set-ups only`, true));
  }
  return { main, baseline, ratio, included: SETUP_INCLUDED, excluded: SETUP_EXCLUDED, errors };
}

/** Runs what the options ask for; prints tables (through `print`) and writes the result files. */
export async function runBench(options: BenchOptions, print: (text: string) => void = (t) => console.log(t)): Promise<BenchReport> {
  const started = Date.now();
  const stamp = new Date(started).toISOString().replace(/[:.]/g, '-');
  const report: BenchReport = {
    meta: {
      startedAt: new Date(started).toISOString(),
      durationSeconds: 0,
      machine: machine(),
      git: gitState(),
      command: `bench ${process.argv.slice(2).join(' ')}`.trim(),
      pinned: options.pin && canPin,
    },
    scenarios: [],
    findMax: null,
    setupCost: null,
    micro: null,
    files: { json: null, svg: null },
  };
  const m = report.meta.machine;
  const pinned = options.pin && canPin;
  print(
    `machine: ${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, Node ${m.node}, ${m.os}; server and load generator in separate processes on 127.0.0.1` +
      (pinned ? ', pinned to cores 0 and 1' : ', not pinned'),
  );
  const runOptions: RunOptions = {
    serverEnv: options.serverEnv,
    cpuProfDir: options.cpuProf ? join(options.outDir ?? join(os.tmpdir(), 'bench'), 'profiles') : null,
    seed: options.seed,
    pin: options.pin,
    workerProbe: options.workerProbe,
    log: options.log,
  };

  if (options.mode === 'micro') {
    options.log('micro-benchmarks (ns per frame)');
    const micro = await runMicro(options.log);
    report.micro = micro;
    print('');
    print(
      table([
        ['step (ns per 20 ms frame)', 'main', 'baseline', 'main faster by', 'main does', 'baseline does'],
        ...micro.rows
          .filter((r) => r.inTotal)
          .map((r) => [r.step, fmt(r.mainNs, 0), fmt(r.baselineNs, 0), `${fmt(r.ratio, 1)}x`, r.what.main, r.what.baseline]),
        ['total, one frame in + one out', fmt(micro.totalMainNs, 0), fmt(micro.totalBaselineNs, 0), `${fmt(micro.totalRatio, 1)}x`, '', ''],
        ...micro.rows.filter((r) => !r.inTotal).map((r) => [`+ ${r.step}`, fmt(r.mainNs, 0), '-', '', r.what.main, '(not in the baseline)']),
      ]),
    );
    const f = micro.socketFloor;
    print(
      `\nsocket floor on this machine (${f.sockets} loopback sockets, ${f.messageBytes}-byte messages, user + kernel CPU): ` +
        `write ${fmt(f.writeUs, 2)} us, read ${fmt(f.readUs, 2)} us; with one system call per message no server goes below ` +
        `${fmt(f.perMessageUs, 2)} us per message in+out (the JavaScript above adds ${fmt(micro.totalMainNs / 2000, 2)} us per message for main).`,
    );
    const sp = micro.sendPath;
    print(
      `outbound message (${sp.sockets} WebSockets, ${sp.messageBytes}-byte frames, user + kernel CPU): ws.send() ${fmt(sp.wsSendUs, 2)} us, ` +
        `the endpoint's one write of a prebuilt frame ${fmt(sp.frameWriteUs, 2)} us (${fmt(sp.wsSendUs / sp.frameWriteUs, 2)}x).`,
    );
    if (micro.otherProcessesPercentOfCore >= 20)
      print(`note: other processes used ${micro.otherProcessesPercentOfCore} % of a core meanwhile: the figures are disturbed`);
  } else if (options.mode === 'find-max') {
    report.findMax = await findMax(options, runOptions, print);
  } else if (options.mode === 'setup-cost') {
    report.setupCost = await setupCost(options, runOptions, print);
  } else {
    const scenarios: Scenario[] =
      options.mode === 'pass-line'
        ? [
            { ...options.scenario, label: 'pass line: rooms of 5', callers: 1000, roomSize: 5, talkersMin: 1, talkersMax: 2, churnPerSecond: 0 },
            {
              ...options.scenario,
              label: 'pass line: one room of 1,000, 10 talking',
              callers: 1000,
              roomSize: 1000,
              talkersMin: 10,
              talkersMax: 10,
              churnPerSecond: 0,
            },
          ]
        : [options.scenario];
    for (const scenario of scenarios) report.scenarios.push(await runScenario(scenario, options, runOptions, print));
  }

  report.meta.durationSeconds = Math.round((Date.now() - started) / 1000);
  if (options.outDir) {
    mkdirSync(options.outDir, { recursive: true });
    if (report.findMax) {
      const svgPath = join(options.outDir, `${stamp}.svg`);
      const series: ChartSeries[] = (['main', 'baseline'] as const)
        .map((impl) => ({
          name: impl === 'main' ? 'main server' : 'baseline',
          color: impl === 'main' ? '#1f5fbf' : '#d9822b',
          maxCallers: (impl === 'main' ? report.findMax!.maxCallers.main : report.findMax!.maxCallers.baseline) ?? 0,
          points: report
            .findMax!.steps.filter((s) => s.impl === impl && s.result !== null)
            .map((s) => ({ callers: s.callers, tickP99Ms: s.result!.figures.tickMs.p99, cpuPercent: s.result!.figures.cpuPercentOfCore, pass: s.held })),
        }))
        .filter((s) => s.points.length > 0);
      writeFileSync(svgPath, findMaxSvg(series, `Callers in rooms of ${options.scenario.roomSize}: tick p99 and server CPU (${m.cores} cores, ${m.cpu})`));
      report.files.svg = relative(REPO_ROOT, svgPath);
      report.findMax.chart = report.files.svg;
    }
    const jsonPath = join(options.outDir, `${stamp}.json`);
    report.files.json = relative(REPO_ROOT, jsonPath);
    writeFileSync(jsonPath, JSON.stringify(report, null, 2) + '\n');
    print(`\nwritten: ${report.files.json}${report.files.svg ? `, ${report.files.svg}` : ''}`);
  }
  return report;
}

async function main(): Promise<void> {
  let options: BenchOptions | 'help';
  try {
    options = parseOptions(process.argv.slice(2));
  } catch (error) {
    console.error(`${error instanceof Error ? error.message : String(error)}\n\n${USAGE}`);
    process.exit(2);
  }
  if (options === 'help') {
    console.log(USAGE);
    return;
  }
  await runBench(options);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().catch((error: unknown) => {
    console.error(error instanceof Error ? error.stack : error);
    process.exit(1);
  });
}
