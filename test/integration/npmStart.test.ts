/**
 * Issue 13: `npm start` as a user runs it. The script builds src/ to dist/ and execs plain node on
 * the compiled server (no tsx at run time): it must listen, answer /health, find the pages it
 * serves from its own folder (src/http/public/, copied beside the compiled code), and, because
 * node is npm's direct child, shut down in order when npm itself gets SIGTERM (a service manager
 * or a container stops `npm start` that way). The other process tests run src/main.ts through tsx.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join as joinPath } from 'node:path';
import { until } from '../helpers/calls.js';
import { childProcessEnv, freePort } from '../helpers/server.js';

const ROOT = joinPath(import.meta.dirname, '..', '..');

/** `pid`'s only child process and its command line (Linux), or null where /proc cannot say. */
function onlyChild(pid: number): { pid: number; command: string } | null {
  const tasks = `/proc/${pid}/task`;
  if (!existsSync(tasks)) return null;
  const children = readdirSync(tasks).flatMap((task) => readFileSync(`${tasks}/${task}/children`, 'utf8').trim().split(/\s+/).filter(Boolean));
  assert.equal(children.length, 1, `npm has one child process: ${children.join(', ')}`);
  return { pid: Number(children[0]), command: readFileSync(`/proc/${children[0]}/cmdline`, 'utf8').split('\0').join(' ') };
}

test('npm start builds, runs the compiled server on plain node, serves /health and its pages, and stops on SIGTERM to npm', { timeout: 60_000 }, async () => {
  const port = await freePort();
  // Under `npm test`, the npm that runs the tests; otherwise the one on PATH.
  const npmCli = process.env['npm_execpath'];
  const [command, args] = npmCli?.endsWith('.js') ? [process.execPath, [npmCli, 'start']] : ['npm', ['start']];
  const startedMs = performance.now();
  const npm = spawn(command, args, {
    cwd: ROOT,
    env: childProcessEnv({ PORT: String(port), HOST: '127.0.0.1', ROOMS_DB_PATH: ':memory:', LOG_LEVEL: 'info', LOG_PRETTY: 'false' }),
    stdio: ['ignore', 'pipe', 'pipe'],
    // Its own process group: a failed test ends npm, sh and node together.
    detached: true,
  });
  let output = '';
  npm.stdout.on('data', (d: Buffer) => (output += d.toString()));
  npm.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) => npm.on('exit', (code) => resolve(code)));
  try {
    await until(() => /conference server listening/.test(output), 'npm start to listen', 30_000);
    const listeningMs = performance.now() - startedMs;
    assert.match(output, /build: \d+ modules/, 'the build ran first');

    const server = onlyChild(npm.pid!);
    if (server !== null) {
      assert.match(server.command, /^\S*node .*dist\/src\/main\.js/, 'npm execs the compiled server');
      assert.doesNotMatch(server.command, /tsx/, 'no tsx at run time');
    }

    const base = `http://127.0.0.1:${port}`;
    const health = (await (await fetch(`${base}/health`)).json()) as { status: string; memory: { rssBytes: number } };
    assert.equal(health.status, 'ok');
    for (const [path, file] of [
      ['/dashboard', 'dashboard/index.html'],
      ['/dashboard/app.js', 'dashboard/app.js'],
      ['/join/worklet.js', 'join/worklet.js'],
    ] as const) {
      const res = await fetch(`${base}${path}`);
      assert.equal(res.status, 200, path);
      assert.equal(await res.text(), readFileSync(joinPath(ROOT, 'src', 'http', 'public', file), 'utf8'), `${path} is src/http/public/${file}`);
    }
    console.log(`# measured: npm start to listening ${listeningMs.toFixed(0)} ms (build included); RSS ${(health.memory.rssBytes / 1048576).toFixed(0)} MB`);

    npm.kill('SIGTERM');
    assert.equal(await exited, 0, output.slice(-2000));
    assert.match(output, /"msg":"shutting down"/, 'npm passed SIGTERM to the server');
    await assert.rejects(fetch(`${base}/health`), 'the server is gone with npm');
  } finally {
    // Whatever is left of the group (nothing when the test passed): also a server that outlived npm.
    try {
      process.kill(-npm.pid!, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
});
