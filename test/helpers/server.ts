/** A real server on a real port (env PORT, else any free one), configured as a test needs. */
import { readFileSync } from 'node:fs';
import { createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join as joinPath } from 'node:path';
import { parseConfig } from '../../src/config.js';
import { createServer, type ConferenceServer, type ServerDeps } from '../../src/server.js';
import { captureLog, type CapturedLog } from './log.js';

export interface TestServer {
  baseUrl: string;
  server: ConferenceServer;
  captured: CapturedLog;
  close(): Promise<void>;
}

/**
 * Defaults for tests, under whatever `env` sets: the room database in memory (nothing written to
 * ./data; uploaded audio in a folder of the system's temporary one), and quiet rooms (no join/leave
 * beeps, no wait loop, silence on hold), so tests that measure what
 * callers hear measure only the callers. Tests of those sounds turn them on. No overload guard:
 * these servers share their event loop with their test's clients (a flood test keeps it busy on
 * purpose), so load is not the server's own; test/integration/overload.serial.test.ts turns it on.
 */
export const TEST_ENV_DEFAULTS: Readonly<Record<string, string>> = Object.freeze({
  ROOMS_DB_PATH: ':memory:',
  BEEP: 'off',
  WAIT_TONE: 'off',
  HOLD_MUSIC: 'none',
  AUDIO_DIR: joinPath(tmpdir(), `conference-test-audio-${process.pid}`),
  OVERLOAD_BUSY_PERCENT: '0',
});

export async function startTestServer(env: Record<string, string> = {}, deps: Omit<ServerDeps, 'log'> = {}): Promise<TestServer> {
  const captured = captureLog('info');
  const server = createServer(parseConfig({ ...TEST_ENV_DEFAULTS, ...env }), { ...deps, log: captured.log });
  // PORT when the test gives one (a cluster node whose internal URL other nodes forward to), else any free one.
  const { port } = await server.listen(env['PORT'] ? Number(env['PORT']) : 0, '127.0.0.1');
  return { baseUrl: `http://127.0.0.1:${port}`, server, captured, close: () => server.close() };
}

/** A TCP port free on 127.0.0.1 right now (for a server started in another process). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createNetServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** Every configuration key the server reads: .env.example lists each one. */
export const CONFIG_KEYS: readonly string[] = readFileSync(joinPath(import.meta.dirname, '..', '..', '.env.example'), 'utf8')
  .split('\n')
  .flatMap((line) => /^#?\s*([A-Z][A-Z0-9_]*)=/.exec(line)?.[1] ?? []);

/**
 * Every configuration key set empty, but `keep`. An empty variable means "not set" to the config,
 * and dotenv never overrides a variable that is set, even empty: so neither the developer's shell
 * nor their .env (a README-following developer has TWILIO_AUTH_TOKEN there) reaches a server
 * started in a child process (src/main.ts loads .env).
 */
export function blankConfigEnv(keep: readonly string[] = []): Record<string, string> {
  return Object.fromEntries(CONFIG_KEYS.filter((k) => !keep.includes(k)).map((k) => [k, '']));
}

/** The environment for a server in a child process: this one's, every configuration key blank, then `env`. */
export function childProcessEnv(env: Record<string, string>): Record<string, string> {
  return { ...(process.env as Record<string, string>), ...blankConfigEnv(), ...env };
}

/** Keys tools/cluster/launcher.ts sets for its nodes unless the caller does: not blanked for it. */
export const CLUSTER_LAUNCHER_KEYS: readonly string[] = ['PUBLIC_URL', 'REDIS_URL', 'JOIN_TICKET_SECRET', 'ROOMS_DB_PATH', 'LOG_PRETTY'];
