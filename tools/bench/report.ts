/**
 * From raw samples (server process + load generator) to the benchmark's figures, the ratios
 * against the baseline, the issue's pass line, and plain-text tables.
 */
import type { JoinReport, LoadgenWindow } from './loadgen.js';
import type { ServerImpl, ServerReady, ServerSample } from './serverProcess.js';
import type { WorkerProbeFigures } from './workerProbe.js';

export interface Scenario {
  label: string;
  callers: number;
  roomSize: number;
  talkersMin: number;
  talkersMax: number;
  seconds: number;
  warmupSeconds: number;
  /** Calls dialling at once (webhook request until `start` sent, or refused / failed). */
  dialConcurrency: number;
  /** Optional cap on calls starting to dial per second; null: none. */
  joinsPerSecond: number | null;
  /** Calls replaced per second during the run; 0: no churn. */
  churnPerSecond: number;
  silence: 'zero' | 'captured';
}

type P3 = { p50: number; p99: number; max: number };

/** Every figure of one run, all numbers (NaN only when something could not be measured). */
export interface Figures {
  /** Callers in the call at the end of the window, of the scenario's `callersTarget`. */
  callers: number;
  callersTarget: number;
  rooms: number;
  windowSeconds: number;
  /** Server CPU (user + system) per WebSocket message in or out, microseconds. */
  cpuUsPerMessage: number;
  /** Server CPU as a percentage of one core. */
  cpuPercentOfCore: number;
  /** Server CPU per caller in the call, ms per second of call (10 ms/s = 1 % of a core). */
  cpuMsPerCallerSecond: number;
  messagesInPerSecond: number;
  messagesOutPerSecond: number;
  eventLoopDelayMs: P3;
  /** Garbage-collection pauses in the window: how many, and the longest (ms). */
  gcPauses: number;
  gcPauseMaxMs: number;
  tickMs: P3;
  /** The main server's tick in two parts: mixing every room, then one socket write per listener (the baseline interleaves them: absent). */
  mixMs?: P3;
  sendMs?: P3;
  /** The main server's input buffers at the window's end, mean over callers (serverProcess.ts). */
  inputBuffers?: { targetFrames: number; depthFrames: number; jitterMs: number; underrunPercent: number };
  tickLatenessMs: P3;
  ticks: number;
  lateTicks: number;
  skippedTicks: number;
  /** Frames received by callers / frames due at 50 per second while they were in the call. */
  framesDeliveredPercent: number;
  framesPerCallerPerSecond: number;
  gapsOver60ms: number;
  /** Gaps > 60 ms per inter-frame interval (frames received: each closes one), %. */
  gapsPercentOfIntervals: number;
  callersWithGaps: number;
  maxGapMs: number;
  /** Marker frame sent -> seen in another caller's mix, measured at the load generator. */
  delayMs: P3;
  delaySamples: number;
  markersMissed: number;
  rssIdleMB: number;
  rssLoadedMB: number;
  rssPerCallerKB: number;
  heapUsedMB: number;
  /** Webhook request -> first mix received. */
  joinMs: { p50: number; p99: number };
  joinFailures: number;
  /** Calls the server refused (its TwiML had no <Connect><Stream>: busy, full ...). */
  callsRefused: number;
  /** Calls still dialling when the window opened (the server answered too slowly). */
  joinsPendingAtStart: number;
  joinsInWindow: number;
  leavesInWindow: number;
  unexpectedCloses: number;
  protocolErrors: number;
  sendsSkippedBackpressure: number;
  loadgen: { cpuPercentOfCore: number; eventLoopDelayP99Ms: number; eventLoopDelayMaxMs: number; sendLatenessP99Ms: number; sendLatenessMaxMs: number };
  /** CPU other processes took during the window (machine busy - server - generator), % of a core. */
  otherProcessesPercentOfCore: number;
  /** --worker-probe only (the main server). */
  workerProbe?: WorkerProbeFigures;
}

export interface Diagnostics {
  /** The load generator was near its limit: the server's figures may be understated. */
  loadgenSaturated: boolean;
  /** Other processes took a fifth of a core or more during the window: figures are disturbed. */
  machineBusy: boolean;
  /** 1-minute load average when the window opened. */
  loadAverage1m: number;
  closeCodes: Record<string, number>;
  protocolErrorSamples: string[];
  firstJoinError: string | null;
  /** What the first refused call heard. */
  firstRefusal: string | null;
  /** Calls that had not got in when measuring began (counted in `callers` only once streaming). */
  joinsPendingAtStart: number;
}

export interface RunResult {
  impl: ServerImpl;
  scenario: Scenario;
  figures: Figures;
  diagnostics: Diagnostics;
  profile?: ProfileSummary;
}

export interface ProfileEntry {
  functionName: string;
  location: string;
  selfMs: number;
  selfPercent: number;
}
export interface ProfileSummary {
  file: string;
  /** When only part of the profile was read: that window, on the monotonic clock (us). */
  windowUs?: { fromUs: number; toUs: number };
  totalMs: number;
  /** Top functions by self time, excluding (idle). */
  top: ProfileEntry[];
  /** The project's (src/) functions by total time: itself and all it called (`selfMs` is that total). */
  topTotal: ProfileEntry[];
  /** Self time summed by where the code lives: src/<folder>, a package, Node, native, GC. */
  byArea: ProfileEntry[];
}

export function percentile(values: readonly number[], fraction: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(fraction * sorted.length) - 1))]!;
}

const round = (v: number, digits = 3) => (Number.isFinite(v) ? Math.round(v * 10 ** digits) / 10 ** digits : v);

export function computeFigures(
  scenario: Scenario,
  ready: ServerReady,
  server: ServerSample,
  lg: LoadgenWindow,
  join: JoinReport,
  machine: { busyMicros: number; loadAverage1m: number },
): { figures: Figures; diagnostics: Diagnostics } {
  const windowSeconds = lg.windowMs / 1000;
  // The server's own window (reset -> stats) differs from the generator's by the IPC latency; scale.
  const cpuMicros = ((server.cpuUserMicros + server.cpuSystemMicros) * lg.windowMs) / server.elapsedMs;
  const messages = lg.mediaSent + lg.otherSent + lg.messagesReceived;
  const callers = lg.callersAtEnd;
  const lgCpuPercent = (lg.cpuMicros / (lg.windowMs * 1000)) * 100;
  const otherPercent = Math.max(0, ((machine.busyMicros - cpuMicros - lg.cpuMicros) / (lg.windowMs * 1000)) * 100);
  const figures: Figures = {
    callers,
    callersTarget: scenario.callers,
    rooms: Math.ceil(scenario.callers / scenario.roomSize),
    windowSeconds,
    cpuUsPerMessage: round(cpuMicros / messages),
    cpuPercentOfCore: round((cpuMicros / (lg.windowMs * 1000)) * 100, 1),
    cpuMsPerCallerSecond: round(cpuMicros / 1000 / Math.max(1, callers) / windowSeconds, 3),
    messagesInPerSecond: Math.round((lg.mediaSent + lg.otherSent) / windowSeconds),
    messagesOutPerSecond: Math.round(lg.messagesReceived / windowSeconds),
    eventLoopDelayMs: server.eventLoopDelayMs,
    gcPauses: server.gc.count,
    gcPauseMaxMs: server.gc.maxMs,
    tickMs: server.tickMs,
    ...(server.mixMs && server.sendMs ? { mixMs: server.mixMs, sendMs: server.sendMs } : {}),
    ...(server.inputBuffers ? { inputBuffers: server.inputBuffers } : {}),
    tickLatenessMs: server.latenessMs,
    ticks: server.ticks,
    lateTicks: server.lateTicks,
    skippedTicks: server.skippedTicks,
    framesDeliveredPercent: round((lg.framesReceived / lg.framesExpected) * 100, 3),
    framesPerCallerPerSecond: round(lg.framesReceived / (lg.framesExpected * 0.02), 2),
    gapsOver60ms: lg.gapsOver60ms,
    gapsPercentOfIntervals: round((lg.gapsOver60ms / Math.max(1, lg.framesReceived)) * 100, 4),
    callersWithGaps: lg.callersWithGaps,
    maxGapMs: round(lg.maxGapMs, 1),
    delayMs: {
      p50: round(percentile(lg.delaysMs, 0.5), 2),
      p99: round(percentile(lg.delaysMs, 0.99), 2),
      max: round(lg.delaysMs.length ? lg.delaysMs.reduce((a, b) => (b > a ? b : a), 0) : NaN, 2),
    },
    delaySamples: lg.delaysMs.length,
    markersMissed: lg.markersMissed,
    rssIdleMB: round(ready.idleRssBytes / 2 ** 20, 1),
    rssLoadedMB: round(server.rssBytes / 2 ** 20, 1),
    rssPerCallerKB: round((server.rssBytes - ready.idleRssBytes) / Math.max(1, callers) / 1024, 1),
    heapUsedMB: round(server.heapUsedBytes / 2 ** 20, 1),
    joinMs: { p50: round(percentile(lg.joinLatencyMs, 0.5), 1), p99: round(percentile(lg.joinLatencyMs, 0.99), 1) },
    joinFailures: join.failed + lg.joinFailures,
    callsRefused: join.refused + lg.joinRefusals,
    joinsPendingAtStart: join.pending,
    joinsInWindow: lg.joins,
    leavesInWindow: lg.leaves,
    unexpectedCloses: lg.unexpectedCloses,
    protocolErrors: lg.protocolErrors,
    sendsSkippedBackpressure: lg.sendsSkippedBackpressure,
    loadgen: {
      cpuPercentOfCore: round(lgCpuPercent, 1),
      eventLoopDelayP99Ms: lg.eventLoopDelayMs.p99,
      eventLoopDelayMaxMs: lg.eventLoopDelayMs.max,
      sendLatenessP99Ms: lg.sendLatenessMs.p99,
      sendLatenessMaxMs: lg.sendLatenessMs.max,
    },
    otherProcessesPercentOfCore: round(otherPercent, 1),
    ...(server.workerProbe ? { workerProbe: server.workerProbe } : {}),
  };
  const diagnostics: Diagnostics = {
    loadgenSaturated: lgCpuPercent > 90 || lg.sendLatenessMs.p99 > 10 || lg.eventLoopDelayMs.p99 > 20,
    machineBusy: otherPercent >= 20,
    loadAverage1m: round(machine.loadAverage1m, 2),
    closeCodes: lg.closeCodes,
    protocolErrorSamples: lg.protocolErrorSamples,
    firstJoinError: join.firstError,
    firstRefusal: join.firstRefusal,
    joinsPendingAtStart: join.pending,
  };
  return { figures, diagnostics };
}

/** Every numeric leaf of the figures, as dotted paths (for the smoke test and the JSON reader). */
export function numericLeaves(value: unknown, path = ''): Array<[string, unknown]> {
  if (value !== null && typeof value === 'object') return Object.entries(value).flatMap(([k, v]) => numericLeaves(v, path ? `${path}.${k}` : k));
  return [[path, value]];
}

// ---------------------------------------------------------------------------------------------
// Ratios and the pass line

interface Row {
  label: string;
  get: (f: Figures) => number;
  unit: string;
  digits: number;
  /** For the ratio column: is a smaller number better? (null: no ratio) */
  lowerIsBetter: boolean | null;
}

export const ROWS: Row[] = [
  { label: 'server CPU per message in+out', get: (f) => f.cpuUsPerMessage, unit: 'us', digits: 2, lowerIsBetter: true },
  { label: 'server CPU', get: (f) => f.cpuPercentOfCore, unit: '% core', digits: 1, lowerIsBetter: true },
  { label: 'server CPU per caller (per s of call)', get: (f) => f.cpuMsPerCallerSecond, unit: 'ms', digits: 3, lowerIsBetter: true },
  { label: 'messages in / out per second', get: (f) => f.messagesInPerSecond, unit: '', digits: 0, lowerIsBetter: null },
  { label: 'event-loop delay p50', get: (f) => f.eventLoopDelayMs.p50, unit: 'ms', digits: 2, lowerIsBetter: true },
  { label: 'event-loop delay p99', get: (f) => f.eventLoopDelayMs.p99, unit: 'ms', digits: 2, lowerIsBetter: true },
  { label: 'event-loop delay max', get: (f) => f.eventLoopDelayMs.max, unit: 'ms', digits: 2, lowerIsBetter: true },
  { label: 'GC pauses (longest)', get: (f) => f.gcPauses, unit: '', digits: 0, lowerIsBetter: null },
  { label: 'tick duration p50', get: (f) => f.tickMs.p50, unit: 'ms', digits: 3, lowerIsBetter: true },
  { label: 'tick duration p99', get: (f) => f.tickMs.p99, unit: 'ms', digits: 3, lowerIsBetter: true },
  { label: 'tick duration max', get: (f) => f.tickMs.max, unit: 'ms', digits: 3, lowerIsBetter: true },
  { label: '  of which mixing p50 / p99', get: (f) => f.mixMs?.p99 ?? NaN, unit: 'ms', digits: 3, lowerIsBetter: null },
  { label: '  of which socket writes p50 / p99', get: (f) => f.sendMs?.p99 ?? NaN, unit: 'ms', digits: 3, lowerIsBetter: null },
  { label: 'tick lateness p99', get: (f) => f.tickLatenessMs.p99, unit: 'ms', digits: 2, lowerIsBetter: true },
  { label: 'ticks run', get: (f) => f.ticks, unit: '', digits: 0, lowerIsBetter: null },
  { label: 'late ticks (>= 10 ms)', get: (f) => f.lateTicks, unit: '', digits: 0, lowerIsBetter: null },
  { label: 'skipped ticks', get: (f) => f.skippedTicks, unit: '', digits: 0, lowerIsBetter: null },
  { label: 'frames delivered', get: (f) => f.framesDeliveredPercent, unit: '%', digits: 3, lowerIsBetter: false },
  { label: 'frames per caller per second', get: (f) => f.framesPerCallerPerSecond, unit: '/s', digits: 2, lowerIsBetter: false },
  { label: 'gaps > 60 ms (% of intervals)', get: (f) => f.gapsOver60ms, unit: '', digits: 0, lowerIsBetter: null },
  { label: 'callers with a gap', get: (f) => f.callersWithGaps, unit: '', digits: 0, lowerIsBetter: null },
  { label: 'longest gap', get: (f) => f.maxGapMs, unit: 'ms', digits: 1, lowerIsBetter: true },
  { label: 'server-added delay p50', get: (f) => f.delayMs.p50, unit: 'ms', digits: 2, lowerIsBetter: true },
  { label: 'server-added delay p99', get: (f) => f.delayMs.p99, unit: 'ms', digits: 2, lowerIsBetter: true },
  { label: 'input buffer target / held / jitter', get: (f) => f.inputBuffers?.targetFrames ?? NaN, unit: '', digits: 2, lowerIsBetter: null },
  { label: 'input underruns (ticks concealed)', get: (f) => f.inputBuffers?.underrunPercent ?? NaN, unit: '%', digits: 3, lowerIsBetter: null },
  { label: 'delay samples (markers missed)', get: (f) => f.delaySamples, unit: '', digits: 0, lowerIsBetter: null },
  { label: 'RSS idle -> loaded', get: (f) => f.rssLoadedMB, unit: 'MB', digits: 1, lowerIsBetter: null },
  { label: 'RSS per caller', get: (f) => f.rssPerCallerKB, unit: 'KB', digits: 1, lowerIsBetter: true },
  { label: 'join (webhook -> first mix) p50', get: (f) => f.joinMs.p50, unit: 'ms', digits: 1, lowerIsBetter: true },
  { label: 'calls refused (busy, full ...)', get: (f) => f.callsRefused, unit: '', digits: 0, lowerIsBetter: null },
  { label: 'errors: joins / closes / protocol', get: (f) => f.joinFailures, unit: '', digits: 0, lowerIsBetter: null },
  { label: 'load generator CPU', get: (f) => f.loadgen.cpuPercentOfCore, unit: '% core', digits: 1, lowerIsBetter: null },
  { label: 'load generator send lateness p99', get: (f) => f.loadgen.sendLatenessP99Ms, unit: 'ms', digits: 2, lowerIsBetter: null },
  { label: 'other processes on the machine', get: (f) => f.otherProcessesPercentOfCore, unit: '% core', digits: 1, lowerIsBetter: null },
];

/** How many times better main is than the baseline (>1: main better); null where undefined. */
export function ratios(main: Figures, baseline: Figures): Record<string, number | null> {
  const out: Record<string, number | null> = {};
  for (const row of ROWS) {
    if (row.lowerIsBetter === null) continue;
    const m = row.get(main);
    const b = row.get(baseline);
    const r = row.lowerIsBetter ? b / m : m / b;
    out[row.label] = Number.isFinite(r) && r > 0 ? round(r, 2) : null;
  }
  return out;
}

export interface Criterion {
  id: string;
  label: string;
  target: string;
  value: (f: Figures) => number;
  pass: (f: Figures) => boolean;
  format: (f: Figures) => string;
}

/** No call refused (busy, full ...), none failed, none still dialling when measuring began. */
const EVERY_CALL_ADMITTED: Criterion = {
  id: 'admitted',
  label: 'every call admitted',
  target: 'all',
  value: (f) => f.callsRefused + f.joinFailures + f.joinsPendingAtStart,
  pass: (f) => f.callsRefused === 0 && f.joinFailures === 0 && f.joinsPendingAtStart === 0,
  format: (f) =>
    f.callsRefused + f.joinFailures + f.joinsPendingAtStart === 0
      ? `all ${f.callersTarget}`
      : [f.callsRefused && `${f.callsRefused} refused`, f.joinFailures && `${f.joinFailures} failed`, f.joinsPendingAtStart && `${f.joinsPendingAtStart} late`]
          .filter(Boolean)
          .join(', '),
};

/**
 * What "held" means (issue 13, what --find-max judges a step by): every call admitted, >= 99.5 %
 * of frames delivered, fewer than 0.5 % of inter-frame intervals over 60 ms.
 */
export const HELD: Criterion[] = [
  EVERY_CALL_ADMITTED,
  {
    id: 'delivered',
    label: 'frames delivered',
    target: '>= 99.5 %',
    value: (f) => f.framesDeliveredPercent,
    pass: (f) => f.framesDeliveredPercent >= 99.5,
    format: (f) => `${fmt(f.framesDeliveredPercent, 3)} %`,
  },
  {
    id: 'gaps',
    label: 'intervals > 60 ms',
    target: '< 0.5 %',
    value: (f) => f.gapsPercentOfIntervals,
    pass: (f) => f.gapsPercentOfIntervals < 0.5,
    format: (f) => `${fmt(f.gapsPercentOfIntervals, 3)} % (${f.gapsOver60ms})`,
  },
];

/** The pass line of issue 6 (its targets for this machine). */
export const PASS_LINE: Criterion[] = [
  EVERY_CALL_ADMITTED,
  {
    id: 'delivered',
    label: 'frames delivered',
    target: '>= 99.9 %',
    value: (f) => f.framesDeliveredPercent,
    pass: (f) => f.framesDeliveredPercent >= 99.9,
    format: (f) => `${fmt(f.framesDeliveredPercent, 3)} %`,
  },
  {
    id: 'gaps',
    label: 'gaps > 60 ms',
    target: 'none',
    value: (f) => f.gapsOver60ms,
    pass: (f) => f.gapsOver60ms === 0,
    format: (f) => `${f.gapsOver60ms} (max ${fmt(f.maxGapMs, 0)} ms)`,
  },
  {
    id: 'tickP99',
    label: 'tick duration p99',
    target: '<= 5 ms',
    value: (f) => f.tickMs.p99,
    pass: (f) => f.tickMs.p99 <= 5,
    format: (f) => `${fmt(f.tickMs.p99, 2)} ms`,
  },
  {
    id: 'delayP50',
    label: 'server-added delay p50',
    target: '<= 30 ms',
    value: (f) => f.delayMs.p50,
    pass: (f) => f.delayMs.p50 <= 30,
    format: (f) => `${fmt(f.delayMs.p50, 1)} ms`,
  },
  {
    id: 'rss',
    label: 'RSS per caller',
    target: '<= 100 KB',
    value: (f) => f.rssPerCallerKB,
    pass: (f) => f.rssPerCallerKB <= 100,
    format: (f) => `${fmt(f.rssPerCallerKB, 1)} KB`,
  },
  {
    id: 'cpu',
    label: 'CPU per message in+out',
    target: '<= 5 us',
    value: (f) => f.cpuUsPerMessage,
    pass: (f) => f.cpuUsPerMessage <= 5,
    format: (f) => `${fmt(f.cpuUsPerMessage, 2)} us`,
  },
];

/** The run held its callers (issue 13's criteria, HELD). */
export const holds = (f: Figures) => HELD.every((c) => c.pass(f));

export type CriterionResult = { id: string; label: string; target: string; value: number; pass: boolean };

export function passLine(f: Figures, criteria: Criterion[] = PASS_LINE): CriterionResult[] {
  return criteria.map((c) => ({ id: c.id, label: c.label, target: c.target, value: c.value(f), pass: c.pass(f) }));
}

// ---------------------------------------------------------------------------------------------
// Text output

export function fmt(v: number, digits: number): string {
  if (!Number.isFinite(v)) return 'n/a';
  return v.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** A plain-text table: first row is the header; numbers right-aligned. */
export function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) =>
    r
      .map((cell, i) => (i > 0 && /^[-+\d.,n/a× x%()]+$/.test(cell) ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(rows[0]!), rows[0]!.map((_, i) => '-'.repeat(widths[i]!)).join('  '), ...rows.slice(1).map(line)].join('\n');
}

function cell(row: Row, f: Figures): string {
  if (row.label === '  of which mixing p50 / p99') return f.mixMs ? `${fmt(f.mixMs.p50, 3)} / ${fmt(f.mixMs.p99, 3)} ms` : 'n/a';
  if (row.label === '  of which socket writes p50 / p99') return f.sendMs ? `${fmt(f.sendMs.p50, 3)} / ${fmt(f.sendMs.p99, 3)} ms` : 'n/a';
  if (row.label === 'input buffer target / held / jitter')
    return f.inputBuffers ? `${fmt(f.inputBuffers.targetFrames, 2)} / ${fmt(f.inputBuffers.depthFrames, 2)} fr, ${fmt(f.inputBuffers.jitterMs, 1)} ms` : 'n/a';
  if (row.label === 'messages in / out per second') return `${fmt(f.messagesInPerSecond, 0)} / ${fmt(f.messagesOutPerSecond, 0)}`;
  if (row.label === 'RSS idle -> loaded') return `${fmt(f.rssIdleMB, 0)} -> ${fmt(f.rssLoadedMB, 0)} MB`;
  if (row.label === 'delay samples (markers missed)') return `${f.delaySamples} (${f.markersMissed})`;
  if (row.label === 'GC pauses (longest)') return `${f.gcPauses} (${fmt(f.gcPauseMaxMs, 2)} ms)`;
  if (row.label === 'gaps > 60 ms (% of intervals)') return `${f.gapsOver60ms} (${fmt(f.gapsPercentOfIntervals, 3)} %)`;
  if (row.label === 'errors: joins / closes / protocol') return `${f.joinFailures} / ${f.unexpectedCloses} / ${f.protocolErrors}`;
  return `${fmt(row.get(f), row.digits)}${row.unit ? ' ' + row.unit : ''}`;
}

export function describeScenario(s: Scenario): string {
  const talkers = s.talkersMin === s.talkersMax ? `${s.talkersMin}` : `${s.talkersMin}-${s.talkersMax}`;
  const rooms = s.roomSize >= s.callers ? 'one room' : `rooms of ${s.roomSize}`;
  const churn = s.churnPerSecond > 0 ? `, churn ${s.churnPerSecond} calls/s` : '';
  const dialling = `dialled ${s.dialConcurrency} at a time${s.joinsPerSecond !== null ? ` (at most ${s.joinsPerSecond}/s)` : ''}`;
  return `${s.callers} callers ${dialling}, ${rooms}, ${talkers} talking per room${churn}, silence "${s.silence}", ${s.warmupSeconds} s warm-up + ${s.seconds} s measured`;
}

/** The main table of one scenario: each figure for main, baseline, and the ratio. */
export function scenarioTable(main: RunResult | null, baseline: RunResult | null): string {
  const header = ['figure', ...(main ? ['main'] : []), ...(baseline ? ['baseline'] : []), ...(main && baseline ? ['main better by'] : [])];
  const r = main && baseline ? ratios(main.figures, baseline.figures) : {};
  const rows = ROWS.map((row) => {
    const ratio = r[row.label];
    return [
      row.label,
      ...(main ? [cell(row, main.figures)] : []),
      ...(baseline ? [cell(row, baseline.figures)] : []),
      ...(main && baseline ? [row.lowerIsBetter === null ? '' : ratio == null ? 'n/a' : `${fmt(ratio, 2)}x`] : []),
    ];
  });
  return table([header, ...rows]);
}

/** Issue 13's "held" criteria, then issue 6's pass line, PASS/FAIL for each server. */
export function passTable(main: RunResult | null, baseline: RunResult | null): string {
  const section = (title: string, criteria: Criterion[]) =>
    table([
      [title, 'target', ...(main ? ['main', ''] : []), ...(baseline ? ['baseline', ''] : [])],
      ...criteria.map((c) => [
        c.label,
        c.target,
        ...(main ? [c.format(main.figures), c.pass(main.figures) ? 'PASS' : 'FAIL'] : []),
        ...(baseline ? [c.format(baseline.figures), c.pass(baseline.figures) ? 'PASS' : 'FAIL'] : []),
      ]),
    ]);
  return `${section('held (issue 13)', HELD)}\n\n${section('pass line (issue 6)', PASS_LINE)}`;
}

/** --worker-probe: the server's own tick beside a worker thread's clock, same window, same load. */
export function workerProbeTable(r: RunResult): string {
  const f = r.figures;
  const w = f.workerProbe!;
  const row = (label: string, p: P3, n: string) => [label, fmt(p.p50, 2), fmt(p.p99, 2), fmt(p.max, 2), n];
  return [
    `worker probe (${r.impl} server; the worker mixes for ${w.callersMixed} callers, ${fmt(w.phaseOffsetMs, 1)} ms after the server's tick; load average ${r.diagnostics.loadAverage1m}):`,
    table([
      ['lateness after the 20 ms deadline', 'p50 ms', 'p99 ms', 'max ms', 'deadlines'],
      row('server tick, ticks run (its Ticker)', f.tickLatenessMs, `${f.ticks} (+${f.skippedTicks} skipped)`),
      row('server tick, every deadline', w.mainPerDeadlineMs, String(w.mainDeadlines)),
      row('worker tick, ticks run (its Ticker)', w.workerLatenessMs, `${w.workerTicks} (+${w.workerSkippedTicks} skipped)`),
      row("main thread gets the worker's tick, every deadline", w.receiptLatenessMs, String(w.receiptDeadlines)),
      row('  the same, not after a server tick (optimistic)', w.receiptClearMs, String(w.receiptDeadlines - w.receiptsBehindMainTick)),
    ]),
    `server tick duration p99 ${fmt(f.tickMs.p99, 2)} ms; worker mixing work p50/p99 ${fmt(w.workerTickMs.p50, 3)} / ${fmt(w.workerTickMs.p99, 3)} ms; ` +
      `receipts after a server tick that ended past the worker's deadline: ${w.receiptsBehindMainTick}`,
  ].join('\n');
}
