/**
 * The one structured logger (pino): JSON lines, a child logger per call carrying callSid,
 * streamSid and room. Lifecycle at info; nothing per frame above debug. In development (a
 * terminal, or LOG_PRETTY=true) the same lines are printed readable by pino-pretty.
 */
import { pino, type Logger, type DestinationStream } from 'pino';
import pinoPretty from 'pino-pretty';

export type { Logger };

export interface LoggerOptions {
  /** Human-readable lines (pino-pretty, synchronous, to stdout) instead of JSON. */
  pretty?: boolean;
}

export function createLogger(level: string, destination?: DestinationStream, options: LoggerOptions = {}): Logger {
  const opts = { level, base: undefined, timestamp: pino.stdTimeFunctions.isoTime };
  if (options.pretty && !destination) {
    return pino(opts, pinoPretty({ sync: true, colorize: pinoPretty.isColorSupported, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' }));
  }
  return pino(opts, destination);
}

/** A logger that writes nothing: for tests and tools that do not want server logs. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
