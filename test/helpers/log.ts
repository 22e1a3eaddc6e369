/** A real pino logger whose lines the test can read. */
import { createLogger, type Logger } from '../../src/log.js';

export interface CapturedLog {
  log: Logger;
  lines: Array<Record<string, unknown> & { level: number; msg: string }>;
  /** Lines at warn (40) or above. */
  warnings(): Array<Record<string, unknown> & { msg: string }>;
}

export function captureLog(level = 'info'): CapturedLog {
  const lines: CapturedLog['lines'] = [];
  const log = createLogger(level, { write: (s: string) => void lines.push(JSON.parse(s)) });
  return { log, lines, warnings: () => lines.filter((l) => l.level >= 40) };
}
