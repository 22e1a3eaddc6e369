/**
 * Configuration, read once from the environment (and a .env file, through dotenv) at start,
 * validated, and passed down as a frozen object. No other module reads process.env.
 * Every key is listed with a comment in .env.example and in the README's configuration table.
 */
import { z } from 'zod';

const bool = z
  .string()
  .trim()
  .toLowerCase()
  .transform((v, ctx) => {
    if (['1', 'true', 'yes', 'on'].includes(v)) return true;
    if (['0', 'false', 'no', 'off', ''].includes(v)) return false;
    ctx.addIssue({ code: 'custom', message: "expected true/false (also 1/0, yes/no, on/off)" });
    return z.NEVER;
  });

const int = (min: number, max: number) =>
  z
    .string()
    .trim()
    .regex(/^\d+$/, 'expected a whole number')
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));

const publicUrl = z
  .string()
  .trim()
  .transform((raw, ctx) => {
    const value = raw.replace(/\/+$/, '');
    let url: URL | null = null;
    try {
      url = new URL(value);
    } catch {
      url = null;
    }
    if (!url || !/^https?:$/.test(url.protocol) || !url.hostname) {
      ctx.addIssue({ code: 'custom', message: 'expected an http:// or https:// URL such as https://example.ngrok.app' });
      return z.NEVER;
    }
    if (value.includes('?') || value.includes('#')) {
      ctx.addIssue({ code: 'custom', message: 'must not have a query string or fragment' });
      return z.NEVER;
    }
    return value;
  });

const schema = z.object({
  PORT: int(0, 65535).default(3000),
  HOST: z.string().trim().min(1).default('0.0.0.0'),
  PUBLIC_URL: publicUrl.optional(),
  LOG_LEVEL: z.string().trim().toLowerCase().pipe(z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])).default('info'),
  ECHO_WHEN_ALONE: bool.default(false),
  ROOM_NUMBER_MAX_DIGITS: int(1, 32).default(10),
  GATHER_TIMEOUT_SECONDS: int(1, 60).default(8),
  PROMPT_ATTEMPTS: int(1, 10).default(3),
  START_TIMEOUT_MS: int(100, 120000).default(10000),
});

export interface Config {
  port: number;
  host: string;
  /** Public base URL (https://host[/prefix]) Twilio uses; undefined: derived from each request. */
  publicUrl: string | undefined;
  logLevel: z.infer<typeof schema>['LOG_LEVEL'];
  echoWhenAlone: boolean;
  roomNumberMaxDigits: number;
  gatherTimeoutSeconds: number;
  promptAttempts: number;
  startTimeoutMs: number;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Reads and validates configuration; throws ConfigError naming every bad variable. */
export function parseConfig(env: Record<string, string | undefined>): Readonly<Config> {
  // An empty variable means "not set" (as in .env.example's blank lines).
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v.trim() !== ''));
  const result = schema.safeParse(present);
  if (!result.success) {
    const lines = result.error.issues.map((i) => `  ${String(i.path[0])}: ${i.message} (got "${present[String(i.path[0])] ?? ''}")`);
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
  }
  const c = result.data;
  return Object.freeze({
    port: c.PORT,
    host: c.HOST,
    publicUrl: c.PUBLIC_URL,
    logLevel: c.LOG_LEVEL,
    echoWhenAlone: c.ECHO_WHEN_ALONE,
    roomNumberMaxDigits: c.ROOM_NUMBER_MAX_DIGITS,
    gatherTimeoutSeconds: c.GATHER_TIMEOUT_SECONDS,
    promptAttempts: c.PROMPT_ATTEMPTS,
    startTimeoutMs: c.START_TIMEOUT_MS,
  });
}

/** Loads .env (if present, without overriding real environment variables) and parses. */
export async function loadConfig(): Promise<Readonly<Config>> {
  const dotenv = await import('dotenv');
  dotenv.config({ quiet: true });
  return parseConfig(process.env);
}
