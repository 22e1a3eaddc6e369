/**
 * Reads a V8 .cpuprofile (node --cpu-prof) and ranks functions by self time: the time the
 * sampler found that function itself on top of the stack.
 */
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { REPO_ROOT } from './ipc.js';
import type { ProfileSummary } from './report.js';

interface CpuProfile {
  nodes: Array<{ id: number; callFrame: { functionName: string; url: string; lineNumber: number } }>;
  samples: number[];
  timeDeltas: number[];
}

function location(url: string, line: number): string {
  if (!url) return '(native)';
  let path = url;
  if (url.startsWith('file://')) path = relative(REPO_ROOT, fileURLToPath(url));
  else if (url.startsWith('node:')) path = url;
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
    const { functionName, url, lineNumber } = node.callFrame;
    if (functionName === '(idle)') return;
    totalUs += delta;
    const name = functionName || '(anonymous)';
    const loc = name.startsWith('(') ? '' : location(url, lineNumber);
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
