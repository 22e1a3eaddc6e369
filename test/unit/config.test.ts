/**
 * Configuration parsing (src/config.ts parseConfig): defaults from .env.example, each variable's
 * parsing and limits, one error naming every bad variable, empty meaning unset, a frozen result.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { hostname } from 'node:os';

import { ConfigError, parseConfig, type Config } from '../../src/config.js';

const DEFAULTS: Config = {
  port: 3000,
  host: '0.0.0.0',
  publicUrl: undefined,
  logLevel: 'info',
  logPretty: undefined,
  recordingsDir: './recordings',
  recordRooms: 'off',
  recordTracks: false,
  echoWhenAlone: false,
  roomNumberMaxDigits: 10,
  gatherTimeoutSeconds: 8,
  promptAttempts: 3,
  startTimeoutMs: 10000,
  autoCreateRooms: true,
  maxRooms: 1000,
  maxParticipantsPerRoom: 250,
  maxParticipants: 1000,
  roomsDbPath: './data/rooms.sqlite',
  adminToken: undefined,
  joinTicketSecret: undefined,
  joinTicketTtlSeconds: 30,
  pinAttempts: 3,
  joinPage: 'invite',
  joinSeatsPerAddress: 5,
  joinTicketsPerMinute: 10,
  beep: 'on',
  waitTone: true,
  audioDir: './data/audio',
  audioMaxBytes: 10485760,
  waitMusic: null,
  holdMusic: 'hold',
  statusCallbackUrl: undefined,
  statusCallbackSecret: undefined,
  twilioAccountSid: undefined,
  twilioAuthToken: undefined,
  twilioCallerId: undefined,
  maxActiveSpeakers: 0,
  agc: false,
  noiseSuppression: false,
  talkFloorCeilingDbfs: -40,
  comfortNoiseDbfs: undefined,
  outboundMaxLeadMs: 500,
  outboundMessageMs: 20,
  heartbeatIntervalMs: 5000,
  overloadBusyFraction: 0.9,
  redisUrl: undefined,
  redisKeyPrefix: 'conf:',
  nodeId: `${hostname()
    .replace(/[^A-Za-z0-9_.-]/g, '-')
    .slice(0, 28)}-${process.pid}`,
  nodePublicPrefix: '',
  nodeInternalUrl: undefined,
  leaseTtlMs: 2000,
  rejoinAttempts: 3,
  restartPauseSeconds: 3,
};

/** The ConfigError thrown for `env`. */
function configError(env: Record<string, string | undefined>): ConfigError {
  try {
    parseConfig(env);
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${String(error)}`);
    assert.equal(error.name, 'ConfigError');
    return error;
  }
  assert.fail(`accepted ${JSON.stringify(env)}`);
}

describe('parseConfig', () => {
  test('an empty environment gives the documented defaults', () => {
    assert.deepEqual({ ...parseConfig({}) }, DEFAULTS);
  });

  test('unrelated variables are ignored', () => {
    assert.deepEqual({ ...parseConfig({ PATH: '/usr/bin', HOME: '/root', NODE_ENV: 'test', port: '1' }) }, DEFAULTS);
  });

  test('empty, blank and undefined values mean unset', () => {
    const blank = {
      PORT: '',
      HOST: '   ',
      PUBLIC_URL: '',
      LOG_LEVEL: '',
      ECHO_WHEN_ALONE: ' ',
      ROOM_NUMBER_MAX_DIGITS: '',
      GATHER_TIMEOUT_SECONDS: undefined,
      PROMPT_ATTEMPTS: '\t',
      START_TIMEOUT_MS: '',
    };
    assert.deepEqual({ ...parseConfig(blank) }, DEFAULTS);
  });

  test('every variable is parsed', () => {
    const config = parseConfig({
      PORT: '8080',
      HOST: '127.0.0.1',
      PUBLIC_URL: 'https://abc123.ngrok-free.app',
      LOG_LEVEL: 'debug',
      LOG_PRETTY: 'true',
      RECORDINGS_DIR: '/var/lib/conference/recordings',
      RECORD_ROOMS: 'always',
      RECORD_TRACKS: 'yes',
      ECHO_WHEN_ALONE: 'true',
      ROOM_NUMBER_MAX_DIGITS: '6',
      GATHER_TIMEOUT_SECONDS: '15',
      PROMPT_ATTEMPTS: '5',
      START_TIMEOUT_MS: '2500',
      AUTO_CREATE_ROOMS: 'off',
      MAX_ROOMS: '20',
      MAX_PARTICIPANTS_PER_ROOM: '12',
      MAX_PARTICIPANTS: '100',
      ROOMS_DB_PATH: '/var/lib/conference/rooms.sqlite',
      ADMIN_TOKEN: 'a-long-admin-token-0123456789',
      JOIN_TICKET_SECRET: '0123456789abcdef0123456789abcdef',
      JOIN_TICKET_TTL_SECONDS: '45',
      PIN_ATTEMPTS: '2',
      JOIN_PAGE: 'PIN',
      JOIN_SEATS_PER_ADDRESS: '3',
      JOIN_TICKETS_PER_MINUTE: '30',
      BEEP: 'onEnter',
      WAIT_TONE: 'false',
      STATUS_CALLBACK_URL: 'https://hooks.example.com/conference?site=1',
      STATUS_CALLBACK_SECRET: 'fedcba9876543210fedcba9876543210',
      TWILIO_ACCOUNT_SID: 'AC0123456789abcdef0123456789abcdef',
      TWILIO_AUTH_TOKEN: 'secret-auth-token',
      TWILIO_CALLER_ID: '+15005550006',
      MAX_ACTIVE_SPEAKERS: '4',
      AGC: 'on',
      NOISE_SUPPRESSION: 'on',
      TALK_FLOOR_CEILING_DBFS: '-45.5',
      COMFORT_NOISE_DBFS: '-65',
      OUTBOUND_MAX_LEAD_MS: '300',
      OUTBOUND_MESSAGE_MS: '40',
      HEARTBEAT_INTERVAL_MS: '2000',
      OVERLOAD_BUSY_PERCENT: '75',
      REDIS_URL: 'redis://:pw@10.0.0.5:6380/2',
      REDIS_KEY_PREFIX: 'line2:',
      NODE_ID: 'node-3',
      NODE_PUBLIC_PREFIX: '/p/3',
      NODE_INTERNAL_URL: 'http://10.0.0.7:3003',
      LEASE_TTL_MS: '1500',
      REJOIN_ATTEMPTS: '2',
      RESTART_PAUSE_SECONDS: '5',
      AUDIO_DIR: '/var/lib/conference/audio',
      AUDIO_MAX_BYTES: '2048',
      WAIT_MUSIC: 'Wait',
      HOLD_MUSIC: 'none',
    });
    assert.deepEqual(
      { ...config },
      {
        port: 8080,
        host: '127.0.0.1',
        publicUrl: 'https://abc123.ngrok-free.app',
        logLevel: 'debug',
        logPretty: true,
        recordingsDir: '/var/lib/conference/recordings',
        recordRooms: 'always',
        recordTracks: true,
        echoWhenAlone: true,
        roomNumberMaxDigits: 6,
        gatherTimeoutSeconds: 15,
        promptAttempts: 5,
        startTimeoutMs: 2500,
        autoCreateRooms: false,
        maxRooms: 20,
        maxParticipantsPerRoom: 12,
        maxParticipants: 100,
        roomsDbPath: '/var/lib/conference/rooms.sqlite',
        adminToken: 'a-long-admin-token-0123456789',
        joinTicketSecret: '0123456789abcdef0123456789abcdef',
        joinTicketTtlSeconds: 45,
        pinAttempts: 2,
        joinPage: 'pin',
        joinSeatsPerAddress: 3,
        joinTicketsPerMinute: 30,
        beep: 'onEnter',
        waitTone: false,
        audioDir: '/var/lib/conference/audio',
        audioMaxBytes: 2048,
        waitMusic: 'wait',
        holdMusic: null,
        statusCallbackUrl: 'https://hooks.example.com/conference?site=1',
        statusCallbackSecret: 'fedcba9876543210fedcba9876543210',
        twilioAccountSid: 'AC0123456789abcdef0123456789abcdef',
        twilioAuthToken: 'secret-auth-token',
        twilioCallerId: '+15005550006',
        maxActiveSpeakers: 4,
        agc: true,
        noiseSuppression: true,
        talkFloorCeilingDbfs: -45.5,
        comfortNoiseDbfs: -65,
        outboundMaxLeadMs: 300,
        outboundMessageMs: 40,
        heartbeatIntervalMs: 2000,
        overloadBusyFraction: 0.75,
        redisUrl: 'redis://:pw@10.0.0.5:6380/2',
        redisKeyPrefix: 'line2:',
        nodeId: 'node-3',
        nodePublicPrefix: '/p/3',
        nodeInternalUrl: 'http://10.0.0.7:3003',
        leaseTtlMs: 1500,
        rejoinAttempts: 2,
        restartPauseSeconds: 5,
      },
    );
  });

  test('a cluster (REDIS_URL) needs JOIN_TICKET_SECRET; REDIS_URL is never echoed; prefixes are paths', () => {
    assert.match(configError({ REDIS_URL: 'redis://127.0.0.1:6379' }).message, /JOIN_TICKET_SECRET: needed with REDIS_URL/);
    const bad = configError({ REDIS_URL: 'http://:hunter2@x', NODE_PUBLIC_PREFIX: 'p/1/', LEASE_TTL_MS: '100' }).message;
    assert.match(bad, /REDIS_URL: expected redis:\/\/host:port/);
    assert.doesNotMatch(bad, /hunter2/);
    assert.match(bad, /NODE_PUBLIC_PREFIX: expected a path such as \/p\/1/);
    assert.match(bad, /LEASE_TTL_MS/);
  });

  test('audio library names: none or empty is no music; other names must be valid (issue 17)', () => {
    assert.equal(parseConfig({ WAIT_MUSIC: '' }).waitMusic, null);
    assert.equal(parseConfig({}).holdMusic, 'hold');
    assert.equal(parseConfig({ HOLD_MUSIC: 'NONE' }).holdMusic, null);
    assert.match(configError({ HOLD_MUSIC: '../etc/passwd' }).message, /HOLD_MUSIC: expected an audio library name/);
  });

  test('surrounding whitespace is trimmed from numbers and the host', () => {
    const config = parseConfig({ PORT: ' 8080 ', HOST: ' example.local ', START_TIMEOUT_MS: '\t500\n' });
    assert.equal(config.port, 8080);
    assert.equal(config.host, 'example.local');
    assert.equal(config.startTimeoutMs, 500);
  });

  test('every log level is accepted; others are refused', () => {
    for (const level of ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const) {
      assert.equal(parseConfig({ LOG_LEVEL: level }).logLevel, level);
    }
    for (const bad of ['verbose', 'loud', 'warning', '1']) assert.match(configError({ LOG_LEVEL: bad }).message, /LOG_LEVEL/);
  });

  test('integers: limits inclusive, out of range / non-integers / signs refused', () => {
    const limits: [string, keyof Config, number, number][] = [
      ['PORT', 'port', 0, 65535],
      ['ROOM_NUMBER_MAX_DIGITS', 'roomNumberMaxDigits', 1, 32],
      ['GATHER_TIMEOUT_SECONDS', 'gatherTimeoutSeconds', 1, 60],
      ['PROMPT_ATTEMPTS', 'promptAttempts', 1, 10],
      ['START_TIMEOUT_MS', 'startTimeoutMs', 100, 120000],
      ['MAX_ROOMS', 'maxRooms', 1, 100000],
      ['MAX_PARTICIPANTS_PER_ROOM', 'maxParticipantsPerRoom', 1, 1000],
      ['MAX_PARTICIPANTS', 'maxParticipants', 1, 100000],
      ['JOIN_TICKET_TTL_SECONDS', 'joinTicketTtlSeconds', 5, 300],
      ['PIN_ATTEMPTS', 'pinAttempts', 1, 10],
      ['JOIN_SEATS_PER_ADDRESS', 'joinSeatsPerAddress', 1, 10000],
      ['JOIN_TICKETS_PER_MINUTE', 'joinTicketsPerMinute', 1, 10000],
    ];
    for (const [name, key, min, max] of limits) {
      assert.equal(parseConfig({ [name]: String(min) })[key], min, `${name}=${min}`);
      assert.equal(parseConfig({ [name]: String(max) })[key], max, `${name}=${max}`);
      for (const bad of [String(max + 1), min > 0 ? String(min - 1) : '-1', '1.5', '1e3', 'abc', '0x10', '+5', '12abc']) {
        assert.match(configError({ [name]: bad }).message, new RegExp(name), `${name}=${bad}`);
      }
    }
  });

  test('JOIN_PAGE: off, invite or pin; anything else is refused naming the choices', () => {
    for (const mode of ['off', 'invite', 'pin'] as const) assert.equal(parseConfig({ JOIN_PAGE: ` ${mode.toUpperCase()} ` }).joinPage, mode);
    assert.match(configError({ JOIN_PAGE: 'open' }).message, /JOIN_PAGE: expected off, invite or pin/);
  });

  describe('PUBLIC_URL', () => {
    test('http and https base URLs, with trailing slashes trimmed', () => {
      const cases: [string, string][] = [
        ['https://example.ngrok.app', 'https://example.ngrok.app'],
        ['https://example.ngrok.app/', 'https://example.ngrok.app'],
        ['https://example.ngrok.app///', 'https://example.ngrok.app'],
        ['https://example.com/conference/', 'https://example.com/conference'],
        ['http://localhost:3000/', 'http://localhost:3000'],
        ['  https://example.com/  ', 'https://example.com'],
      ];
      for (const [input, expected] of cases) assert.equal(parseConfig({ PUBLIC_URL: input }).publicUrl, expected, input);
    });

    test('a query string or fragment is refused', () => {
      for (const bad of ['https://example.com/?a=1', 'https://example.com?token=x', 'https://example.com/path?x=1/', 'https://example.com/#top']) {
        assert.match(configError({ PUBLIC_URL: bad }).message, /PUBLIC_URL/, bad);
      }
    });

    test('a bare "?" or "#" (an empty query or fragment) is refused too', () => {
      // Kept, it would break every URL built on the base: "https://example.com/?" + "/media".
      for (const bad of ['https://example.com/?', 'https://example.com?', 'https://example.com/#']) {
        assert.match(configError({ PUBLIC_URL: bad }).message, /PUBLIC_URL/, bad);
      }
    });

    test('schemes other than http/https are refused', () => {
      for (const bad of ['ftp://example.com', 'wss://example.com', 'file:///etc/passwd', 'mailto:ops@example.com']) {
        assert.match(configError({ PUBLIC_URL: bad }).message, /PUBLIC_URL/, bad);
      }
    });

    test('a value that is not a URL at all is a ConfigError naming it, with the other bad variables', () => {
      for (const bad of ['example.com', 'not a url', 'https://', '//example.com']) {
        assert.match(configError({ PUBLIC_URL: bad }).message, /PUBLIC_URL/, bad);
      }
      const error = configError({ PUBLIC_URL: 'abc123.ngrok-free.app', PORT: 'abc' });
      assert.match(error.message, /\bPUBLIC_URL\b/);
      assert.match(error.message, /\bPORT\b/);
    });
  });

  test('booleans accept true/false, 1/0, yes/no, on/off (any case) and refuse anything else', () => {
    for (const yes of ['true', '1', 'yes', 'on', 'TRUE', 'Yes', ' On ']) {
      assert.equal(parseConfig({ ECHO_WHEN_ALONE: yes }).echoWhenAlone, true, yes);
    }
    for (const no of ['false', '0', 'no', 'off', 'FALSE', 'No', ' off ']) {
      assert.equal(parseConfig({ ECHO_WHEN_ALONE: no }).echoWhenAlone, false, no);
    }
    for (const bad of ['maybe', '2', 'y', 'n', 'enabled', 'truthy', '-1']) {
      const error = configError({ ECHO_WHEN_ALONE: bad });
      assert.match(error.message, /ECHO_WHEN_ALONE/, bad);
    }
  });

  test('one error names every bad variable at once (and no good one)', () => {
    const error = configError({
      PORT: 'abc',
      HOST: 'fine.example',
      PUBLIC_URL: 'ftp://example.com',
      LOG_LEVEL: 'loud',
      ECHO_WHEN_ALONE: 'maybe',
      ROOM_NUMBER_MAX_DIGITS: '0',
      GATHER_TIMEOUT_SECONDS: '61',
      PROMPT_ATTEMPTS: '3',
      START_TIMEOUT_MS: '99',
    });
    for (const name of ['PORT', 'PUBLIC_URL', 'LOG_LEVEL', 'ECHO_WHEN_ALONE', 'ROOM_NUMBER_MAX_DIGITS', 'GATHER_TIMEOUT_SECONDS', 'START_TIMEOUT_MS']) {
      assert.match(error.message, new RegExp(`\\b${name}\\b`), `names ${name}`);
    }
    assert.doesNotMatch(error.message, /\bHOST\b/);
    assert.doesNotMatch(error.message, /\bPROMPT_ATTEMPTS\b/);
    // The bad values are quoted back, so the operator sees what was read.
    assert.match(error.message, /abc/);
    assert.match(error.message, /maybe/);
  });

  test('room service: BEEP values, secrets too short (never echoed), callback URL, Twilio credentials in pairs', () => {
    for (const [raw, mode] of [
      ['on', 'on'],
      ['true', 'on'],
      ['OFF', 'off'],
      ['false', 'off'],
      ['onEnter', 'onEnter'],
      ['onexit', 'onExit'],
    ] as const) {
      assert.equal(parseConfig({ BEEP: raw }).beep, mode, raw);
    }
    assert.match(configError({ BEEP: 'sometimes' }).message, /BEEP/);
    const short = configError({ ADMIN_TOKEN: 'hunter2', JOIN_TICKET_SECRET: 'tooshortsecret' });
    assert.match(short.message, /ADMIN_TOKEN/);
    assert.match(short.message, /JOIN_TICKET_SECRET/);
    assert.doesNotMatch(short.message, /hunter2|tooshortsecret/, 'secrets are not quoted back');
    for (const bad of ['ftp://x.example', 'not a url', 'hooks.example.com/x'])
      assert.match(configError({ STATUS_CALLBACK_URL: bad }).message, /STATUS_CALLBACK_URL/, bad);
    // Every status callback is signed: the URL without the secret is refused, a short secret too (not echoed).
    assert.match(configError({ STATUS_CALLBACK_URL: 'https://hooks.example.com/x' }).message, /STATUS_CALLBACK_SECRET: needed with STATUS_CALLBACK_URL/);
    const shortCallbackSecret = configError({ STATUS_CALLBACK_URL: 'https://hooks.example.com/x', STATUS_CALLBACK_SECRET: 'short-callback-key' });
    assert.match(shortCallbackSecret.message, /STATUS_CALLBACK_SECRET: too short/);
    assert.doesNotMatch(shortCallbackSecret.message, /short-callback-key/);
    assert.match(configError({ TWILIO_ACCOUNT_SID: 'AC0123456789abcdef0123456789abcdef' }).message, /TWILIO_AUTH_TOKEN/);
    assert.match(configError({ TWILIO_AUTH_TOKEN: 'x' }).message, /TWILIO_ACCOUNT_SID/);
    assert.match(configError({ TWILIO_ACCOUNT_SID: 'AC123', TWILIO_AUTH_TOKEN: 'x' }).message, /TWILIO_ACCOUNT_SID/);
  });

  test('the result is frozen', () => {
    const config = parseConfig({ PORT: '4000' });
    assert.ok(Object.isFrozen(config));
    assert.throws(() => {
      (config as { port: number }).port = 1;
    }, TypeError);
    assert.equal(config.port, 4000);
  });
});

test('sound and load options: COMFORT_NOISE_DBFS a negative level in range; OUTBOUND_MAX_LEAD_MS and OVERLOAD_BUSY_PERCENT bounded', () => {
  for (const bad of ['65', '-10', '-120', 'loud']) {
    assert.throws(() => parseConfig({ COMFORT_NOISE_DBFS: bad }), /COMFORT_NOISE_DBFS/, bad);
  }
  assert.throws(() => parseConfig({ OUTBOUND_MAX_LEAD_MS: '50' }), /OUTBOUND_MAX_LEAD_MS/);
  assert.throws(() => parseConfig({ OVERLOAD_BUSY_PERCENT: '101' }), /OVERLOAD_BUSY_PERCENT/);
  assert.throws(() => parseConfig({ OVERLOAD_BUSY_PERCENT: '90%' }), /OVERLOAD_BUSY_PERCENT/);
  assert.equal(parseConfig({ OVERLOAD_BUSY_PERCENT: '0' }).overloadBusyFraction, 0);
  assert.throws(() => parseConfig({ MAX_ACTIVE_SPEAKERS: '-1' }), /MAX_ACTIVE_SPEAKERS/);
  assert.equal(parseConfig({ COMFORT_NOISE_DBFS: '-70.5' }).comfortNoiseDbfs, -70.5);
});

test('issue 14: TALK_FLOOR_CEILING_DBFS a negative level in -70..-20; NOISE_SUPPRESSION a boolean', () => {
  for (const bad of ['40', '-10', '-80', 'quiet']) {
    assert.throws(() => parseConfig({ TALK_FLOOR_CEILING_DBFS: bad }), /TALK_FLOOR_CEILING_DBFS/, bad);
  }
  assert.equal(parseConfig({ TALK_FLOOR_CEILING_DBFS: '-50' }).talkFloorCeilingDbfs, -50);
  assert.throws(() => parseConfig({ NOISE_SUPPRESSION: 'maybe' }), /NOISE_SUPPRESSION/);
  assert.equal(parseConfig({ NOISE_SUPPRESSION: 'true' }).noiseSuppression, true);
});
