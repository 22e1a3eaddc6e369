/**
 * The one structured logger (pino): JSON lines, a child logger per call carrying callSid,
 * streamSid and room. Lifecycle at info; nothing per frame above debug.
 */
import { pino, type Logger, type DestinationStream } from 'pino';

export type { Logger };

export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino({ level, base: undefined, timestamp: pino.stdTimeFunctions.isoTime }, destination);
}

/** A logger that writes nothing: for tests and tools that do not want server logs. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
