/**
 * Configuration, read once from the environment (and a .env file, through dotenv) at start,
 * validated, and passed down as a frozen object. No other module reads process.env.
 * Every key is listed with a comment in .env.example and in the README's configuration table.
 */
import { hostname } from 'node:os';
import { z } from 'zod';

const bool = z
  .string()
  .trim()
  .toLowerCase()
  .transform((v, ctx) => {
    if (['1', 'true', 'yes', 'on'].includes(v)) return true;
    if (['0', 'false', 'no', 'off', ''].includes(v)) return false;
    ctx.addIssue({ code: 'custom', message: 'expected true/false (also 1/0, yes/no, on/off)' });
    return z.NEVER;
  });

const int = (min: number, max: number) =>
  z.string().trim().regex(/^\d+$/, 'expected a whole number').transform(Number).pipe(z.number().int().min(min).max(max));

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

/** An http(s) URL to POST to (a query string is fine here). */
const callbackUrl = z
  .string()
  .trim()
  .refine((v) => {
    try {
      const url = new URL(v);
      return /^https?:$/.test(url.protocol) && url.hostname !== '';
    } catch {
      return false;
    }
  }, 'expected an http:// or https:// URL');

/** An audio library clip's name; `none` (or empty): no music. */
const audioName = z
  .string()
  .trim()
  .toLowerCase()
  .refine((v) => v === '' || /^[a-z0-9][a-z0-9_-]{0,63}$/.test(v), 'expected an audio library name (a-z, 0-9, - and _), or none')
  .transform((v) => (v === '' || v === 'none' ? null : v));

const beep = z
  .string()
  .trim()
  .toLowerCase()
  .transform((v, ctx) => {
    if (['on', 'true', '1', 'yes'].includes(v)) return 'on' as const;
    if (['off', 'false', '0', 'no'].includes(v)) return 'off' as const;
    if (v === 'onenter') return 'onEnter' as const;
    if (v === 'onexit') return 'onExit' as const;
    ctx.addIssue({ code: 'custom', message: 'expected on, off, onEnter or onExit' });
    return z.NEVER;
  });

const secret = (minChars: number) => z.string().trim().min(minChars, `too short: use at least ${minChars} random characters (e.g. openssl rand -hex 32)`);

const schema = z.object({
  PORT: int(0, 65535).default(3000),
  HOST: z.string().trim().min(1).default('0.0.0.0'),
  PUBLIC_URL: publicUrl.optional(),
  LOG_LEVEL: z
    .string()
    .trim()
    .toLowerCase()
    .pipe(z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']))
    .default('info'),
  LOG_PRETTY: bool.optional(),
  RECORDINGS_DIR: z.string().trim().min(1).default('./recordings'),
  RECORD_ROOMS: z
    .string()
    .trim()
    .toLowerCase()
    .pipe(z.enum(['off', 'always']))
    .default('off'),
  RECORD_TRACKS: bool.default(false),
  ECHO_WHEN_ALONE: bool.default(false),
  ROOM_NUMBER_MAX_DIGITS: int(1, 32).default(10),
  GATHER_TIMEOUT_SECONDS: int(1, 60).default(8),
  PROMPT_ATTEMPTS: int(1, 10).default(3),
  START_TIMEOUT_MS: int(100, 120000).default(10000),
  AUTO_CREATE_ROOMS: bool.default(true),
  MAX_ROOMS: int(1, 100000).default(1000),
  MAX_PARTICIPANTS_PER_ROOM: int(1, 1000).default(250),
  MAX_PARTICIPANTS: int(1, 100000).default(1000),
  ROOMS_DB_PATH: z.string().trim().min(1).default('./data/rooms.sqlite'),
  ADMIN_TOKEN: secret(16).optional(),
  JOIN_TICKET_SECRET: secret(32).optional(),
  JOIN_TICKET_TTL_SECONDS: int(5, 300).default(30),
  PIN_ATTEMPTS: int(1, 10).default(3),
  JOIN_PAGE: z
    .string()
    .trim()
    .toLowerCase()
    .pipe(z.enum(['off', 'invite', 'pin'], { message: 'expected off, invite or pin' }))
    .default('invite'),
  JOIN_SEATS_PER_ADDRESS: int(1, 10000).default(5),
  JOIN_TICKETS_PER_MINUTE: int(1, 10000).default(10),
  BEEP: beep.default('on'),
  WAIT_TONE: bool.default(true),
  AUDIO_DIR: z.string().trim().min(1).default('./data/audio'),
  AUDIO_MAX_BYTES: int(1024, 100 * 1024 * 1024).default(10 * 1024 * 1024),
  WAIT_MUSIC: audioName.optional(),
  HOLD_MUSIC: audioName.default('hold'),
  STATUS_CALLBACK_URL: callbackUrl.optional(),
  STATUS_CALLBACK_SECRET: secret(32).optional(),
  TWILIO_ACCOUNT_SID: z
    .string()
    .trim()
    .regex(/^AC[0-9a-fA-F]{32}$/, 'expected AC followed by 32 hex digits')
    .optional(),
  TWILIO_AUTH_TOKEN: z.string().trim().min(1).optional(),
  TWILIO_CALLER_ID: z
    .string()
    .trim()
    .regex(/^\+[1-9][0-9]{1,14}$/, 'expected a phone number in E.164 form, e.g. +15005550006')
    .optional(),
  MAX_ACTIVE_SPEAKERS: int(0, 1000).default(0),
  AGC: bool.default(false),
  NOISE_SUPPRESSION: bool.default(false),
  TALK_FLOOR_CEILING_DBFS: z
    .string()
    .trim()
    .regex(/^-\d+(\.\d+)?$/, 'expected a negative level in dBFS, e.g. -40')
    .transform(Number)
    .pipe(z.number().min(-70).max(-20))
    .default(-40),
  COMFORT_NOISE_DBFS: z
    .string()
    .trim()
    .regex(/^-\d+(\.\d+)?$/, 'expected a negative level in dBFS, e.g. -65')
    .transform(Number)
    .pipe(z.number().min(-90).max(-30))
    .optional(),
  OUTBOUND_MAX_LEAD_MS: int(100, 10000).default(500),
  OUTBOUND_MESSAGE_MS: z.enum(['20', '40'], { message: 'expected 20 or 40' }).default('20'),
  HEARTBEAT_INTERVAL_MS: int(0, 600000).default(5000),
  OVERLOAD_BUSY_PERCENT: int(0, 100).default(90),
  REDIS_URL: z
    .string()
    .trim()
    .regex(/^rediss?:\/\/\S+$/, 'expected redis://host:port (or rediss://)')
    .optional(),
  REDIS_KEY_PREFIX: z
    .string()
    .trim()
    .regex(/^[A-Za-z0-9:_.-]{1,40}$/, 'expected letters, digits and : _ . - (at most 40)')
    .default('conf:'),
  NODE_ID: z
    .string()
    .trim()
    .regex(/^[A-Za-z0-9_.-]{1,40}$/, 'expected letters, digits and _ . - (at most 40)')
    .optional(),
  NODE_PUBLIC_PREFIX: z
    .string()
    .trim()
    .regex(/^(\/[A-Za-z0-9_.-]+)+$/, 'expected a path such as /p/1 (no trailing slash)')
    .optional(),
  NODE_INTERNAL_URL: publicUrl.optional(),
  LEASE_TTL_MS: int(500, 60000).default(2000),
  REJOIN_ATTEMPTS: int(0, 10).default(3),
  RESTART_PAUSE_SECONDS: int(0, 30).default(3),
});

export interface Config {
  port: number;
  host: string;
  /** Public base URL (https://host[/prefix]) Twilio uses; undefined: derived from each request. */
  publicUrl: string | undefined;
  logLevel: z.infer<typeof schema>['LOG_LEVEL'];
  /** Readable (pino-pretty) logs; undefined: when stdout is a terminal. */
  logPretty: boolean | undefined;
  /** Where recordings are written. */
  recordingsDir: string;
  /** `always`: every room is recorded from its start; `off`: only on demand (admin API). */
  recordRooms: 'off' | 'always';
  /** Recordings also keep one track per participant (what each caller said). */
  recordTracks: boolean;
  echoWhenAlone: boolean;
  roomNumberMaxDigits: number;
  gatherTimeoutSeconds: number;
  promptAttempts: number;
  startTimeoutMs: number;
  /** A caller keying an unknown number opens a new room (else: "no such conference"). */
  autoCreateRooms: boolean;
  /** Rooms open at once; also the most rooms the administrator can create. */
  maxRooms: number;
  /** Seats per room (a room may set a lower limit). */
  maxParticipantsPerRoom: number;
  /** Seats in the whole server. */
  maxParticipants: number;
  /** SQLite file of the administrator's rooms (`:memory:`: kept in memory, lost on restart). */
  roomsDbPath: string;
  /** Bearer token of the admin API; undefined: the API answers 503. */
  adminToken: string | undefined;
  /** HMAC key of join tickets; undefined: a random one per process. */
  joinTicketSecret: string | undefined;
  /** How long a join ticket (and the seat reserved with it) waits for the stream to start. */
  joinTicketTtlSeconds: number;
  /** Wrong PINs before the goodbye. */
  pinAttempts: number;
  /**
   * What the browser entry (/join) accepts besides the admin token: `off` nothing (no /join at
   * all), `invite` invite links, `pin` invite links and a room's PIN. A room without a PIN is never
   * open to an anonymous browser.
   */
  joinPage: 'off' | 'invite' | 'pin';
  /** Seats one client address may hold through /join at once (reserved or taken). */
  joinSeatsPerAddress: number;
  /** Admissions through /join per client address per minute. */
  joinTicketsPerMinute: number;
  /** Join/leave beeps, as Twilio's `beep`. */
  beep: 'on' | 'off' | 'onEnter' | 'onExit';
  /** A caller alone in a room hears a soft wait loop (not with ECHO_WHEN_ALONE). */
  waitTone: boolean;
  /** Where uploaded audio library clips are stored (8 kHz WAV, one per name). */
  audioDir: string;
  /** Largest WAV upload accepted (bytes). */
  audioMaxBytes: number;
  /** The audio library clip a lone caller hears by default; null: the wait chime (WAIT_TONE). */
  waitMusic: string | null;
  /** The audio library clip a caller on hold hears by default; null: silence. */
  holdMusic: string | null;
  /** Where conference events are POSTed; undefined: not sent. */
  statusCallbackUrl: string | undefined;
  /** HMAC-SHA256 key of the status callbacks' X-Conference-Signature (required with the URL). */
  statusCallbackSecret: string | undefined;
  /** Twilio REST credentials (both or neither): a kick may then also end the call. */
  twilioAccountSid: string | undefined;
  twilioAuthToken: string | undefined;
  /** The number calls placed by the admin API come from (Twilio's From) unless the request names one. */
  twilioCallerId: string | undefined;
  /** At most this many callers feed a room's mix at once (0: no cap). */
  maxActiveSpeakers: number;
  /** Per-caller automatic gain control. */
  agc: boolean;
  /** Per-caller noise suppression (speexdsp) in rooms that do not set it themselves. */
  noiseSuppression: boolean;
  /** The talk gate's noise floor rises above this (dBFS) only under broadband noise. */
  talkFloorCeilingDbfs: number;
  /** Faint noise while nobody in a room talks, at this level (dBFS); undefined: off. */
  comfortNoiseDbfs: number | undefined;
  /** Audio queued at Twilio beyond this (a stall's backlog) is dropped with `clear` (ms). */
  outboundMaxLeadMs: number;
  /**
   * Audio per outbound media message (ms): 20, or 40 (half the socket writes; Twilio plays the
   * stream 20 ms later, since every other frame waits for the next).
   */
  outboundMessageMs: 20 | 40;
  /** Media sockets are pinged this often (ms); one silent for a whole interval is dropped. 0: off. */
  heartbeatIntervalMs: number;
  /**
   * New calls are refused (twiml/busy.xml, /ready 503) while the event loop was busy at least this
   * share of the last second, until it falls 10 points below (0..1; 0: never refuse for load).
   */
  overloadBusyFraction: number;
  /** With REDIS_URL this process is one node of a cluster (rooms, leases and nodes in Redis). */
  redisUrl: string | undefined;
  /** Prefix of every Redis key this cluster uses (several clusters can share one Redis). */
  redisKeyPrefix: string;
  /** This node's id (cluster mode; default: host name and process id). */
  nodeId: string;
  /** Path prefix the proxy routes to this node (e.g. /p/1); '' in single-process mode. */
  nodePublicPrefix: string;
  /** Base URL other nodes reach this node at directly; default http://HOST:PORT (127.0.0.1 for 0.0.0.0). */
  nodeInternalUrl: string | undefined;
  /** A room's ownership lease: a node that cannot renew it within this stops mixing the room (ms). */
  leaseTtlMs: number;
  /** Times a call whose stream dropped is sent back to its room before an apology and goodbye. */
  rejoinAttempts: number;
  /**
   * One process: on SIGTERM/SIGINT the calls in progress are told to wait this long (twiml/rejoin-wait.xml),
   * then rejoin their rooms on the next process (seat, mute, hold and volume kept). 0: they hear
   * twiml/restarting.xml and the calls end.
   */
  restartPauseSeconds: number;
}

/** Variables whose values never appear in messages. */
const SECRETS = new Set(['ADMIN_TOKEN', 'JOIN_TICKET_SECRET', 'STATUS_CALLBACK_SECRET', 'TWILIO_AUTH_TOKEN', 'REDIS_URL']);

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Reads and validates configuration; throws ConfigError naming every bad variable. */
export function parseConfig(env: Record<string, string | undefined>): Readonly<Config> {
  // An empty variable means "not set" (as in .env.example's blank lines).
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v.trim() !== ''));
  const result = schema.safeParse(present);
  if (!result.success) {
    const lines = result.error.issues.map((i) => {
      const name = String(i.path[0]);
      // Secrets are never echoed back, not even wrong ones.
      const got = SECRETS.has(name) ? '(value hidden)' : `(got "${present[name] ?? ''}")`;
      return `  ${name}: ${i.message} ${got}`;
    });
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
  }
  const c = result.data;
  if ((c.TWILIO_ACCOUNT_SID === undefined) !== (c.TWILIO_AUTH_TOKEN === undefined)) {
    const missing = c.TWILIO_ACCOUNT_SID === undefined ? 'TWILIO_ACCOUNT_SID' : 'TWILIO_AUTH_TOKEN';
    throw new ConfigError(`invalid configuration:\n  ${missing}: needed too (TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN go together)`);
  }
  if (c.STATUS_CALLBACK_URL !== undefined && c.STATUS_CALLBACK_SECRET === undefined) {
    // Unsigned callbacks cannot be told from a forgery by the receiver: none are sent.
    throw new ConfigError(
      'invalid configuration:\n  STATUS_CALLBACK_SECRET: needed with STATUS_CALLBACK_URL (every status callback is signed with it; e.g. openssl rand -hex 32)',
    );
  }
  if (c.REDIS_URL !== undefined && c.JOIN_TICKET_SECRET === undefined) {
    // A call's ticket is issued by one node and redeemed by another: they must share the key.
    throw new ConfigError(
      'invalid configuration:\n  JOIN_TICKET_SECRET: needed with REDIS_URL (every node of a cluster signs and checks join tickets with it)',
    );
  }
  return Object.freeze({
    port: c.PORT,
    host: c.HOST,
    publicUrl: c.PUBLIC_URL,
    logLevel: c.LOG_LEVEL,
    logPretty: c.LOG_PRETTY,
    recordingsDir: c.RECORDINGS_DIR,
    recordRooms: c.RECORD_ROOMS,
    recordTracks: c.RECORD_TRACKS,
    echoWhenAlone: c.ECHO_WHEN_ALONE,
    roomNumberMaxDigits: c.ROOM_NUMBER_MAX_DIGITS,
    gatherTimeoutSeconds: c.GATHER_TIMEOUT_SECONDS,
    promptAttempts: c.PROMPT_ATTEMPTS,
    startTimeoutMs: c.START_TIMEOUT_MS,
    autoCreateRooms: c.AUTO_CREATE_ROOMS,
    maxRooms: c.MAX_ROOMS,
    maxParticipantsPerRoom: c.MAX_PARTICIPANTS_PER_ROOM,
    maxParticipants: c.MAX_PARTICIPANTS,
    roomsDbPath: c.ROOMS_DB_PATH,
    adminToken: c.ADMIN_TOKEN,
    joinTicketSecret: c.JOIN_TICKET_SECRET,
    joinTicketTtlSeconds: c.JOIN_TICKET_TTL_SECONDS,
    pinAttempts: c.PIN_ATTEMPTS,
    joinPage: c.JOIN_PAGE,
    joinSeatsPerAddress: c.JOIN_SEATS_PER_ADDRESS,
    joinTicketsPerMinute: c.JOIN_TICKETS_PER_MINUTE,
    beep: c.BEEP,
    waitTone: c.WAIT_TONE,
    audioDir: c.AUDIO_DIR,
    audioMaxBytes: c.AUDIO_MAX_BYTES,
    waitMusic: c.WAIT_MUSIC ?? null,
    holdMusic: c.HOLD_MUSIC,
    statusCallbackUrl: c.STATUS_CALLBACK_URL,
    statusCallbackSecret: c.STATUS_CALLBACK_SECRET,
    twilioAccountSid: c.TWILIO_ACCOUNT_SID,
    twilioAuthToken: c.TWILIO_AUTH_TOKEN,
    twilioCallerId: c.TWILIO_CALLER_ID,
    maxActiveSpeakers: c.MAX_ACTIVE_SPEAKERS,
    agc: c.AGC,
    noiseSuppression: c.NOISE_SUPPRESSION,
    talkFloorCeilingDbfs: c.TALK_FLOOR_CEILING_DBFS,
    comfortNoiseDbfs: c.COMFORT_NOISE_DBFS,
    outboundMaxLeadMs: c.OUTBOUND_MAX_LEAD_MS,
    outboundMessageMs: c.OUTBOUND_MESSAGE_MS === '40' ? 40 : 20,
    heartbeatIntervalMs: c.HEARTBEAT_INTERVAL_MS,
    overloadBusyFraction: c.OVERLOAD_BUSY_PERCENT / 100,
    redisUrl: c.REDIS_URL,
    redisKeyPrefix: c.REDIS_KEY_PREFIX,
    nodeId:
      c.NODE_ID ??
      `${hostname()
        .replace(/[^A-Za-z0-9_.-]/g, '-')
        .slice(0, 28)}-${process.pid}`,
    nodePublicPrefix: c.NODE_PUBLIC_PREFIX ?? '',
    nodeInternalUrl: c.NODE_INTERNAL_URL,
    leaseTtlMs: c.LEASE_TTL_MS,
    rejoinAttempts: c.REJOIN_ATTEMPTS,
    restartPauseSeconds: c.RESTART_PAUSE_SECONDS,
  });
}

/** Loads .env (if present, without overriding real environment variables) and parses. */
export async function loadConfig(): Promise<Readonly<Config>> {
  const dotenv = await import('dotenv');
  dotenv.config({ quiet: true });
  return parseConfig(process.env);
}
