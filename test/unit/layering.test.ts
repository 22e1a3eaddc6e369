/**
 * Imports point inward. Each folder of src/ may import only the folders listed for it here (and
 * itself); the README's "Project layout" gives the same rule in words. Read from the import and
 * export lines of every source file, `import type` included: a type is a dependency too.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '../../src');

/** The shared kernel at src/'s top: config.ts, errors.ts, log.ts. Anything may import it. */
const ROOT = 'root';
/** Folder -> the folders it may import, innermost first. */
export const LAYERS: Record<string, readonly string[]> = {
  [ROOT]: [],
  audio: [],
  timing: [],
  conference: ['audio', 'timing'],
  security: ['timing'],
  rooms: ['conference', 'security', 'audio', 'timing'],
  events: ['conference', 'timing'],
  recording: ['conference', 'audio', 'timing'],
  media: ['rooms', 'conference', 'security', 'audio', 'timing'],
  observability: ['rooms', 'events', 'conference', 'timing'],
  library: ['rooms', 'conference', 'audio'],
  sim: ['audio', 'timing'],
  http: ['library', 'observability', 'recording', 'events', 'media', 'rooms', 'conference', 'security', 'audio', 'timing'],
  cluster: ['http', 'rooms', 'conference', 'security', 'timing'],
  app: ['cluster', 'http', 'library', 'observability', 'recording', 'events', 'media', 'rooms', 'conference', 'security', 'audio', 'timing'],
};
/** server.ts and main.ts compose everything. */
const COMPOSITION = new Set(['server.ts', 'main.ts']);

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'public' ? [] : sourceFiles(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

const layerOf = (file: string): string => {
  const rel = relative(SRC, file);
  return rel.includes('/') ? rel.slice(0, rel.indexOf('/')) : ROOT;
};

/** Every relative module a file imports or re-exports (static and dynamic). */
export function importsOf(text: string): string[] {
  const found: string[] = [];
  for (const m of text.matchAll(/^\s*(?:import|export)\b[^;]*?\bfrom\s+'(\.[^']+)'/gms)) found.push(m[1]!);
  for (const m of text.matchAll(/\bimport\(\s*'(\.[^']+)'\s*\)/g)) found.push(m[1]!);
  return found;
}

test('every folder of src/ has a place in the layering, and the layering has no cycle', () => {
  const folders = new Set(
    sourceFiles(SRC)
      .filter((f) => !COMPOSITION.has(relative(SRC, f)))
      .map(layerOf),
  );
  for (const folder of folders) assert.ok(LAYERS[folder], `src/${folder}/ is not in LAYERS`);
  // Inward means acyclic: a folder never reaches itself through what it may import.
  const reaches = (from: string, seen = new Set<string>()): Set<string> => {
    for (const to of LAYERS[from] ?? []) if (!seen.has(to)) reaches(to, seen.add(to));
    return seen;
  };
  for (const folder of Object.keys(LAYERS)) assert.ok(!reaches(folder).has(folder), `${folder} reaches itself`);
});

test('imports point inward: each file imports only what its folder may', () => {
  const wrong: string[] = [];
  for (const file of sourceFiles(SRC)) {
    const rel = relative(SRC, file);
    if (COMPOSITION.has(rel)) continue;
    const from = layerOf(file);
    for (const spec of importsOf(readFileSync(file, 'utf8'))) {
      const to = layerOf(resolve(dirname(file), spec));
      if (to === from || to === ROOT) continue;
      if (!LAYERS[from]!.includes(to)) wrong.push(`src/${rel} imports ${spec} (${from} -> ${to})`);
    }
  }
  assert.deepEqual(wrong, []);
});

test('the import reader finds static, type-only, re-exported, multi-line and dynamic imports', () => {
  const text = [
    "import { a } from './a.js';",
    "import type { B } from '../b/b.js';",
    "export { c } from './c.js';",
    'import {',
    '  d,',
    "} from '../d/d.js';",
    "const e = await import('../e/e.js');",
    "import express from 'express';",
  ].join('\n');
  assert.deepEqual(importsOf(text).sort(), ['../b/b.js', '../d/d.js', '../e/e.js', './a.js', './c.js']);
});

/** The web frameworks stay at the edges: the core never sees a request or a socket object. */
const EDGE_PACKAGES: Record<string, readonly string[]> = {
  express: ['http', 'cluster', 'app'],
  'express-ws': ['media', 'app'],
  ws: ['media', 'sim', 'app'],
};

test('express, express-ws and ws are imported only by the folders at the edge', () => {
  const wrong: string[] = [];
  for (const file of sourceFiles(SRC)) {
    const rel = relative(SRC, file);
    if (COMPOSITION.has(rel)) continue;
    const text = readFileSync(file, 'utf8');
    for (const [pkg, folders] of Object.entries(EDGE_PACKAGES)) {
      const imported = new RegExp(`^\\s*(?:import|export)\\b[^;]*?\\bfrom\\s+'${pkg}'`, 'ms').test(text);
      if (imported && !folders.includes(layerOf(file))) wrong.push(`src/${rel} imports ${pkg}`);
    }
  }
  assert.deepEqual(wrong, []);
});
