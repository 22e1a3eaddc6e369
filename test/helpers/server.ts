/** A real server on a real port (0: any free one), configured as a test needs. */
import { parseConfig } from '../../src/config.js';
import { createServer, type ConferenceServer } from '../../src/server.js';
import { captureLog, type CapturedLog } from './log.js';

export interface TestServer {
  baseUrl: string;
  server: ConferenceServer;
  captured: CapturedLog;
  close(): Promise<void>;
}

export async function startTestServer(env: Record<string, string> = {}): Promise<TestServer> {
  const captured = captureLog('info');
  const server = createServer(parseConfig(env), { log: captured.log });
  const { port } = await server.listen(0, '127.0.0.1');
  return { baseUrl: `http://127.0.0.1:${port}`, server, captured, close: () => server.close() };
}
