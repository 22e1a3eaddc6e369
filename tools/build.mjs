/**
 * The build `npm start` runs before the server (issue 13): every module of src/ to JavaScript in
 * dist/src/ (one file per module, the same esbuild transform tsx applies at run time; no type check,
 * that is `npm run typecheck`), and every other file of src/ (the pages in src/http/public/) copied
 * beside the code that serves them, so paths taken from import.meta.url hold in both trees. The
 * server then runs on plain node: under tsx, its loader thread alone costs ~30 MB of RSS.
 *
 *   node tools/build.mjs [more .ts files]   the benchmark adds its server process's own modules
 *
 * Plain JavaScript, so that it runs without tsx; ~0.2 s, cheap enough for every start. Safe beside
 * a server already running from dist/ (another node, a benchmark): a file is written only when its
 * content changed, through a rename, so a reader sees the old file or the new one, never half of
 * one; and dist/src/ keeps nothing that src/ no longer has. Source maps (.js.map) go beside each
 * file: `node --enable-source-maps` and the benchmark's --cpu-prof report use them.
 */
import { build } from 'esbuild';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmdirSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const OUT = join(ROOT, 'dist');

/** Every file under `dir`, as absolute paths. */
function filesUnder(dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath ?? entry.path, entry.name));
}

/** Writes `contents` to `path` unless it holds exactly that already; true when it wrote. */
function writeIfChanged(path, contents) {
  if (existsSync(path) && Buffer.compare(readFileSync(path), contents) === 0) return false;
  mkdirSync(dirname(path), { recursive: true });
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, contents);
  renameSync(temporary, path);
  return true;
}

const startedMs = performance.now();
const sources = filesUnder(join(ROOT, 'src'));
const modules = [...sources.filter((file) => file.endsWith('.ts')), ...process.argv.slice(2).map((file) => resolve(file))];
const assets = sources.filter((file) => !file.endsWith('.ts'));

const result = await build({
  entryPoints: modules,
  outdir: OUT,
  outbase: ROOT,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  sourcemap: 'linked',
  // The sources are in the repository; the maps only need to point at them.
  sourcesContent: false,
  write: false,
  logLevel: 'warning',
});

const outputs = [
  ...result.outputFiles.map((file) => ({ path: file.path, contents: Buffer.from(file.contents) })),
  ...assets.map((file) => ({ path: join(OUT, relative(ROOT, file)), contents: readFileSync(file) })),
];
let changed = 0;
for (const { path, contents } of outputs) if (writeIfChanged(path, contents)) changed++;

// dist/src/ mirrors src/: a module or page deleted there goes here too.
const expected = new Set(outputs.map((output) => output.path));
let removed = 0;
for (const file of filesUnder(join(OUT, 'src'))) {
  if (expected.has(file) || file.endsWith('.tmp')) continue;
  unlinkSync(file);
  removed++;
}
for (const dir of readdirSync(join(OUT, 'src'), { withFileTypes: true, recursive: true })
  .filter((entry) => entry.isDirectory())
  .map((entry) => join(entry.parentPath ?? entry.path, entry.name))
  .sort((a, b) => b.length - a.length)) {
  if (readdirSync(dir).length === 0) rmdirSync(dir);
}

const ms = Math.round(performance.now() - startedMs);
console.error(
  `build: ${modules.length} modules and ${assets.length} other files to ${relative(ROOT, OUT)}/ in ${ms} ms (${changed} written, ${removed} removed)`,
);
