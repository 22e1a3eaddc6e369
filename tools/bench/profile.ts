/**
 * Reads a V8 .cpuprofile (node --cpu-prof) and ranks functions by self time: the time the
 * sampler found that function itself on top of the stack.
 */
import { readFileSync } from 'node:fs';
import { SourceMap, type SourceMapping } from 'node:module';
import { dirname, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { REPO_ROOT } from './ipc.js';
import type { ProfileSummary } from './report.js';

interface CpuProfile {
  nodes: Array<{ id: number; callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number } }>;
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

export function topSelfTime(file: string, count = 10): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<string, { functionName: string; location: string; us: number }>();
  let totalUs = 0;
  profile.samples.forEach((id, i) => {
    const node = byId.get(id);
    if (!node) return;
    const delta = profile.timeDeltas[i] ?? 0;
    const { functionName, url, lineNumber, columnNumber } = node.callFrame;
    if (functionName === '(idle)') return;
    totalUs += delta;
    const name = functionName || '(anonymous)';
    const loc = name.startsWith('(') ? '' : location(url, lineNumber, columnNumber);
    const key = `${name}@${loc}`;
    const entry = selfUs.get(key) ?? { functionName: name, location: loc, us: 0 };
    entry.us += delta;
    selfUs.set(key, entry);
  });
  const top = [...selfUs.values()]
    .sort((a, b) => b.us - a.us)
    .slice(0, count)
    .map((e) => ({ functionName: e.functionName, location: e.location, selfMs: Math.round(e.us / 100) / 10, selfPercent: Math.round((e.us / totalUs) * 1000) / 10 }));
  return { file: relative(REPO_ROOT, file), totalMs: Math.round(totalUs / 1000), top };
}
