/**
 * Reads a V8 .cpuprofile (node --cpu-prof) and ranks functions by self time (the sampler found that
 * function itself on top of the stack) and by total time (on the stack at all: itself and what it
 * called), optionally only over a time window.
 */
import { readFileSync } from 'node:fs';
import { SourceMap, type SourceMapping } from 'node:module';
import { dirname, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { REPO_ROOT } from './ipc.js';
import type { ProfileEntry, ProfileSummary } from './report.js';

interface CpuProfile {
  nodes: Array<{ id: number; callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number }; children?: number[] }>;
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

const sourceMaps = new Map<string, SourceMap | null>();

/** The source map beside a compiled file (tools/build.mjs writes one per module), if any. */
function sourceMapOf(file: string): SourceMap | null {
  if (!sourceMaps.has(file)) {
    let map: SourceMap | null = null;
    try {
      map = new SourceMap(JSON.parse(readFileSync(`${file}.map`, 'utf8')));
    } catch {
      // No map: the compiled file's own lines.
    }
    sourceMaps.set(file, map);
  }
  return sourceMaps.get(file)!;
}

function location(url: string, line: number, column: number): string {
  if (!url) return '(native)';
  let path = url;
  if (url.startsWith('file://')) {
    let file = fileURLToPath(url);
    // The main server runs compiled (dist/): report where the function is in src/.
    // findEntry answers {} where the map has nothing.
    const entry: Partial<SourceMapping> | undefined = file.endsWith('.js') ? sourceMapOf(file)?.findEntry(line, column) : undefined;
    if (entry?.originalSource && entry.originalLine !== undefined) {
      file = resolve(dirname(file), entry.originalSource);
      line = entry.originalLine;
    }
    path = relative(REPO_ROOT, file);
  } else if (url.startsWith('node:')) path = url;
  // Modules compiled by tsx report line 0 for everything: the file alone says more.
  return line === 0 && /\.[cm]?ts$/.test(path) ? path : `${path}:${line + 1}`;
}

/**
 * Top `count` functions by self time, and by total time. `window`: only the samples taken between
 * these two instants of the machine's monotonic clock, in us (V8's profile timestamps are on the
 * same clock as `process.hrtime`, in every process).
 */
export function topSelfTime(file: string, count = 10, window?: { fromUs: number; toUs: number }): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const keyOf = new Map<number, { key: string; functionName: string; location: string }>();
  for (const n of profile.nodes) {
    const raw = n.callFrame.functionName;
    // V8's own entries ("(program)", "(garbage collector)" ...) have no place; an anonymous function does.
    const loc = raw.startsWith('(') ? '' : location(n.callFrame.url, n.callFrame.lineNumber, n.callFrame.columnNumber);
    const name = raw || '(anonymous)';
    keyOf.set(n.id, { key: `${name}@${loc}`, functionName: name, location: loc });
  }
  const selfUs = new Map<string, { functionName: string; location: string; us: number }>();
  const areaUs = new Map<string, { functionName: string; location: string; us: number }>();
  const totalUs = new Map<string, { functionName: string; location: string; us: number }>();
  let sumUs = 0;
  let t = profile.startTime;
  profile.samples.forEach((id, i) => {
    const delta = profile.timeDeltas[i] ?? 0;
    t += delta;
    if (window && (t < window.fromUs || t > window.toUs)) return;
    const node = byId.get(id);
    if (!node || node.callFrame.functionName === '(idle)') return;
    sumUs += delta;
    const leaf = keyOf.get(id)!;
    const self = selfUs.get(leaf.key) ?? { functionName: leaf.functionName, location: leaf.location, us: 0 };
    self.us += delta;
    selfUs.set(leaf.key, self);
    const area = areaOf(leaf.functionName, leaf.location);
    const a = areaUs.get(area) ?? { functionName: area, location: '', us: 0 };
    a.us += delta;
    areaUs.set(area, a);
    // Every function on the stack once (recursion counted once).
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const k = keyOf.get(at)!;
      // Only the project's own functions: what a change to src/ can cut.
      if (seen.has(k.key) || !k.location.startsWith('src/')) continue;
      seen.add(k.key);
      const total = totalUs.get(k.key) ?? { functionName: k.functionName, location: k.location, us: 0 };
      total.us += delta;
      totalUs.set(k.key, total);
    }
  });
  const rank = (m: Map<string, { functionName: string; location: string; us: number }>, n = count): ProfileEntry[] =>
    [...m.values()]
      .sort((a, b) => b.us - a.us)
      .slice(0, n)
      .map((e) => ({
        functionName: e.functionName,
        location: e.location,
        selfMs: Math.round(e.us / 100) / 10,
        selfPercent: Math.round((e.us / sumUs) * 1000) / 10,
      }));
  return {
    file: relative(REPO_ROOT, file),
    ...(window ? { windowUs: window } : {}),
    totalMs: Math.round(sumUs / 1000),
    top: rank(selfUs),
    topTotal: rank(totalUs),
    byArea: rank(areaUs, 12),
  };
}

/** Where a function lives, coarsely: a folder of src/, a package, Node's internals, V8. */
function areaOf(functionName: string, where: string): string {
  if (where === '') return functionName === '(garbage collector)' ? 'garbage collector' : `V8 ${functionName}`;
  if (where === '(native)') return 'native (system calls, V8 builtins)';
  if (where.startsWith('node:')) return "Node's JavaScript (node:*)";
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(where);
  if (pkg) return `package ${pkg[1]}`;
  const dir = /^src\/([^/]+\/)?/.exec(where);
  if (dir) return `src/${dir[1] ?? ''}`;
  return where.split(':')[0]!;
}
