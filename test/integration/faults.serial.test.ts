/**
 * Issue 5, faults: a real process shut down with SIGTERM (stops admitting, ends each stream with
 * 1001 so Twilio goes on after </Connect>, closes the database, exits in bounded time); one
 * room's tick throwing through a real server (that room closed with 1011, the other keeps mixing);
 * and the heartbeat keeping a live caller while dropping a dead one.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join as joinPath } from 'node:path';
import { heardToneDbfs, join, sentToneDbfs, sleep, toneMulaw, until } from '../helpers/calls.js';
import { childProcessEnv, freePort, startTestServer } from '../helpers/server.js';

const ROOT = joinPath(import.meta.dirname, '..', '..');

describe('graceful shutdown of the real process (node src/main.ts)', () => {
  test('SIGTERM: streams end with 1001, the process exits 0 within a bounded time', { timeout: 30_000 }, async () => {
    const port = await freePort();
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      cwd: ROOT,
      env: childProcessEnv({
        PORT: String(port),
        HOST: '127.0.0.1',
        ROOMS_DB_PATH: ':memory:',
        LOG_LEVEL: 'info',
        BEEP: 'off',
        WAIT_TONE: 'off',
        LOG_PRETTY: 'false',
      }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const exited = new Promise<{ code: number | null; atMs: number }>((resolve) => child.on('exit', (code) => resolve({ code, atMs: performance.now() })));
    try {
      await until(() => /conference server listening/.test(output), 'the server to listen', 20_000);
      assert.match(output, /DEVELOPMENT MODE/, 'development mode is said loudly at start');
      const baseUrl = `http://127.0.0.1:${port}`;
      const a = await join(baseUrl, ['4711']);
      const b = await join(baseUrl, ['4711']);
      const startAtMs = performance.now() + 100;
      void a.stream.play(toneMulaw(1000, -20, 3000), startAtMs);
      void b.stream.play(toneMulaw(1500, -20, 3000), startAtMs);
      await sleep(400);
      const sentAtMs = performance.now();
      child.kill('SIGTERM');
      const [closeA, closeB, exit] = await Promise.all([a.stream.closed, b.stream.closed, exited]);
      const shutdownMs = exit.atMs - sentAtMs;
      console.log(`# measured: SIGTERM to exit ${shutdownMs.toFixed(0)} ms with 2 callers; exit code ${exit.code}; close codes ${closeA.code}, ${closeB.code}`);
      assert.equal(closeA.code, 1001);
      assert.equal(closeB.code, 1001);
      assert.equal(exit.code, 0, output.slice(-2000));
      assert.ok(shutdownMs < 5000, `exited in ${shutdownMs.toFixed(0)} ms`);
      assert.match(output, /"msg":"shutting down"/);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});

describe('the real process in production mode', () => {
  test('with TWILIO_AUTH_TOKEN: the banner and /health say signatures are checked; SIGINT exits 0', { timeout: 30_000 }, async () => {
    const port = await freePort();
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      cwd: ROOT,
      env: childProcessEnv({
        PORT: String(port),
        HOST: '127.0.0.1',
        ROOMS_DB_PATH: ':memory:',
        LOG_LEVEL: 'info',
        TWILIO_ACCOUNT_SID: 'AC0123456789abcdef0123456789abcdef',
        TWILIO_AUTH_TOKEN: 'process-test-auth-token',
      }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      await until(() => /conference server listening/.test(output), 'the server to listen', 20_000);
      assert.match(output, /Twilio signatures are checked/);
      assert.doesNotMatch(output, /DEVELOPMENT MODE/);
      assert.ok(!output.includes('process-test-auth-token'), 'the token is never printed');
      const health = (await (await fetch(`http://127.0.0.1:${port}/health`)).json()) as { mode: string };
      assert.equal(health.mode, 'production');
      const unsigned = await fetch(`http://127.0.0.1:${port}/voice`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: 'CallSid=CA1',
      });
      assert.equal(unsigned.status, 400);
      child.kill('SIGINT');
      assert.equal(await exited, 0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});

describe("one room's tick throws, through a real server", () => {
  test('that room is closed (1011, one error line), the room beside it keeps mixing', async () => {
    const t = await startTestServer();
    try {
      const a = await join(t.baseUrl, ['8001']);
      const b = await join(t.baseUrl, ['8001']);
      const x = await join(t.baseUrl, ['8002']);
      const y = await join(t.baseUrl, ['8002']);
      const durationMs = 2000;
      const startAtMs = performance.now() + 100;
      const plays = [a.stream.play(toneMulaw(1300, -20, durationMs), startAtMs), b.stream.play(toneMulaw(1900, -20, durationMs), startAtMs)];
      void x.stream.play(toneMulaw(700, -20, durationMs), startAtMs);
      await sleep(600);
      const broken = t.server.conference.room('8002')!;
      broken.mix = () => {
        throw new Error('injected fault in room 8002');
      };
      const [cx, cy] = await Promise.all([x.stream.closed, y.stream.closed]);
      await Promise.all(plays);
      assert.equal(cx.code, 1011);
      assert.equal(cy.code, 1011);
      assert.equal(t.server.conference.room('8002'), undefined);
      const errors = t.captured.lines.filter((l) => l.level >= 50);
      assert.equal(errors.length, 1, JSON.stringify(errors.map((e) => e.msg)));
      assert.match(errors[0]!.msg, /room tick failed/);
      const ref = sentToneDbfs(1300, -20);
      const ab = heardToneDbfs(a.stream, 1900, startAtMs + 300, startAtMs + durationMs - 100) - ref;
      assert.ok(Math.abs(ab) <= 1, `a hears b at ${ab.toFixed(2)} dB`);
      const times = a.stream.receivedAtMs.filter((v) => v >= startAtMs + 300 && v <= startAtMs + durationMs - 100);
      let gap = 0;
      for (let i = 1; i < times.length; i++) gap = Math.max(gap, times[i]! - times[i - 1]!);
      assert.ok(gap <= 60, `longest gap ${gap.toFixed(1)} ms`);
      await Promise.all([a.stream.stop(), b.stream.stop()]);
    } finally {
      await t.close();
    }
  });
});

describe('an observer that throws, through a real server', () => {
  test('a listener and a tap that throw every time: the room keeps mixing (0 dB, no gap), one error line each', async () => {
    const t = await startTestServer();
    try {
      const a = await join(t.baseUrl, ['8101']);
      const b = await join(t.baseUrl, ['8101']);
      // A dashboard or callback bug: throws from inside the mixer's tick.
      t.server.conference.on('participantSpeech', () => {
        throw new Error('injected listener fault');
      });
      let tapCalls = 0;
      t.server.conference.room('8101')!.addTap({
        mix() {
          tapCalls++;
          throw new Error('injected tap fault');
        },
      });
      const durationMs = 2000;
      const startAtMs = performance.now() + 100;
      await Promise.all([a.stream.play(toneMulaw(1300, -20, durationMs), startAtMs), b.stream.play(toneMulaw(1900, -20, durationMs), startAtMs)]);
      await sleep(100); // the last mixes arrive
      assert.ok(tapCalls >= 50, `the tap was called every tick (${tapCalls})`);
      assert.ok(a.stream.isOpen && b.stream.isOpen, 'both streams open');
      const ref = sentToneDbfs(1300, -20);
      for (const [listener, frequencyHz, name] of [
        [a, 1900, 'a hears b'],
        [b, 1300, 'b hears a'],
      ] as const) {
        const level = heardToneDbfs(listener.stream, frequencyHz, startAtMs + 300, startAtMs + durationMs - 100) - ref;
        assert.ok(Math.abs(level) <= 1, `${name} at ${level.toFixed(2)} dB`);
        const times = listener.stream.receivedAtMs.filter((v) => v >= startAtMs + 300 && v <= startAtMs + durationMs - 100);
        let gap = 0;
        for (let i = 1; i < times.length; i++) gap = Math.max(gap, times[i]! - times[i - 1]!);
        assert.ok(gap <= 60, `${name}: longest gap ${gap.toFixed(1)} ms`);
      }
      const errors = t.captured.lines.filter((l) => l.level >= 50);
      assert.ok(errors.length >= 1 && errors.length <= 2, `one line per listener that threw: ${JSON.stringify(errors.map((e) => e.msg))}`);
      assert.ok(errors.every((e) => /listener threw/.test(e.msg)));
      assert.equal(errors.filter((e) => /room tap/.test(e.msg)).length, 1, 'the tap, once');
      await Promise.all([a.stream.stop(), b.stream.stop()]);
    } finally {
      await t.close();
    }
  });
});

describe('heartbeat', () => {
  test('a caller that answers pings stays for many intervals; the server pings on its own', async () => {
    const t = await startTestServer({ HEARTBEAT_INTERVAL_MS: '200' });
    try {
      const a = await join(t.baseUrl, ['9001']);
      // No media at all from this caller for 1.2 s (6 intervals): the pongs alone keep it.
      await sleep(1200);
      assert.ok(a.stream.isOpen);
      assert.equal(t.server.conference.room('9001')?.size, 1);
      assert.equal(t.captured.warnings().length, 0);
      await a.stream.stop();
    } finally {
      await t.close();
    }
  });
});
