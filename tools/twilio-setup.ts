/**
 * npm run twilio:setup -- --number +15551234567 [--url https://host] [--room 1234] [--dry-run]
 *
 * Points a Twilio phone number's Voice webhook ("A call comes in", HTTP POST) at this server's
 * PUBLIC_URL/voice (or --url), through twilio's REST client with TWILIO_ACCOUNT_SID and
 * TWILIO_AUTH_TOKEN (from the environment or .env), and says what it changed. With --room the
 * number goes straight to that room (/voice?room=N). --dry-run says what it would change.
 */
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import twilio from 'twilio';
import { ConfigError, loadConfig } from '../src/config.js';

export type TwilioClient = ReturnType<typeof twilio>;

export interface SetupOptions {
  number: string;
  /** The public base URL (https://host[/prefix]). */
  baseUrl: string;
  room?: string;
  dryRun?: boolean;
}

export interface SetupResult {
  sid: string;
  number: string;
  before: { voiceUrl: string | null; voiceMethod: string | null };
  after: { voiceUrl: string; voiceMethod: 'POST' };
  changed: boolean;
}

export class SetupError extends Error {
  override name = 'SetupError';
}

const USAGE = 'usage: npm run twilio:setup -- --number +15551234567 [--url https://your-host] [--room 1234] [--dry-run]';

/** Parses the command line; throws SetupError with the usage on a bad one. */
export function parseSetupArgs(argv: string[]): { number: string; url?: string; room?: string; dryRun: boolean; help: boolean } {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        number: { type: 'string' },
        url: { type: 'string' },
        room: { type: 'string' },
        'dry-run': { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
    }));
  } catch (error) {
    throw new SetupError(`${(error as Error).message}\n${USAGE}`);
  }
  if (values.help) return { number: '', dryRun: false, help: true };
  if (!values.number || !/^\+[1-9]\d{6,14}$/.test(values.number)) throw new SetupError(`--number: an E.164 phone number such as +15551234567\n${USAGE}`);
  if (values.room !== undefined && !/^\d{1,32}$/.test(values.room)) throw new SetupError(`--room: a conference number (digits)\n${USAGE}`);
  return { number: values.number, url: values.url, room: values.room, dryRun: values['dry-run'] ?? false, help: false };
}

/** The Voice webhook URL for a base URL (and optional room). */
export function voiceWebhookUrl(baseUrl: string, room?: string): string {
  const url = new URL(`${baseUrl.replace(/\/+$/, '')}/voice`);
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new SetupError(`the public URL must be https:// (got ${baseUrl})`);
  if (room) url.searchParams.set('room', room);
  return url.toString();
}

/** Finds the number in the account and points its Voice webhook here. */
export async function pointNumberAtServer(client: TwilioClient, options: SetupOptions): Promise<SetupResult> {
  const voiceUrl = voiceWebhookUrl(options.baseUrl, options.room);
  const found = await client.incomingPhoneNumbers.list({ phoneNumber: options.number, limit: 2 });
  if (found.length === 0) throw new SetupError(`${options.number} is not a phone number of this Twilio account`);
  const number = found[0]!;
  const before = { voiceUrl: number.voiceUrl ?? null, voiceMethod: number.voiceMethod ?? null };
  const changed = before.voiceUrl !== voiceUrl || (before.voiceMethod ?? '').toUpperCase() !== 'POST';
  if (changed && !options.dryRun) {
    const updated = await client.incomingPhoneNumbers(number.sid).update({ voiceUrl, voiceMethod: 'POST' });
    if (updated.voiceUrl !== voiceUrl) throw new SetupError(`Twilio kept the Voice webhook at ${updated.voiceUrl}`);
  }
  return { sid: number.sid, number: number.phoneNumber, before, after: { voiceUrl, voiceMethod: 'POST' }, changed };
}

/** What the tool prints. */
export function describeResult(result: SetupResult, dryRun = false): string {
  if (!result.changed) return `${result.number} (${result.sid}): the Voice webhook is already POST ${result.after.voiceUrl}; nothing changed.`;
  return [
    `${result.number} (${result.sid}): ${dryRun ? 'would change' : 'changed'} the Voice webhook ("A call comes in")`,
    `  from: ${result.before.voiceMethod ?? '-'} ${result.before.voiceUrl || '(none)'}`,
    `  to:   POST ${result.after.voiceUrl}`,
    dryRun ? '' : 'Call the number: you will be asked for a conference number.',
  ]
    .filter(Boolean)
    .join('\n');
}

async function main(): Promise<void> {
  const args = parseSetupArgs(process.argv.slice(2));
  if (args.help) {
    console.log(USAGE);
    return;
  }
  const config = await loadConfig();
  if (!config.twilioAccountSid || !config.twilioAuthToken)
    throw new SetupError('set TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN (in .env or the environment): the Twilio Console shows both on its home page');
  const baseUrl = args.url ?? config.publicUrl;
  if (!baseUrl) throw new SetupError("set PUBLIC_URL (your tunnel's https URL, e.g. from `ngrok http 3000`) in .env, or pass --url https://...");
  const client = twilio(config.twilioAccountSid, config.twilioAuthToken);
  const result = await pointNumberAtServer(client, { number: args.number, baseUrl, room: args.room, dryRun: args.dryRun });
  console.log(describeResult(result, args.dryRun));
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((error) => {
    if (error instanceof SetupError || error instanceof ConfigError) console.error(error.message);
    else
      console.error(
        `twilio:setup failed: ${error?.message ?? error}${error?.status ? ` (HTTP ${error.status}${error.code ? `, Twilio error ${error.code}` : ''})` : ''}`,
      );
    process.exit(1);
  });
}
