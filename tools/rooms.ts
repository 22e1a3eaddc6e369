/**
 * npm run rooms -- export [--url URL] [--token TOKEN] > rooms.yaml
 * npm run rooms -- import rooms.yaml [--url URL] [--token TOKEN] [--dry-run] [--prune]
 *
 * Rooms as code: the stored rooms as a YAML file to keep in git, and that file applied back, through
 * the admin API over HTTP (GET /api/rooms-file, POST /api/rooms-file/import; src/http/roomsFile.ts),
 * so it works the same against one process or any node of a cluster. The export carries PIN hashes,
 * never PINs; the import takes either (`pin: "2468"` or `pinHash: "scrypt$..."`).
 *
 * YAML reads an unquoted 0042 as the number 42: room numbers and PINs are taken as written, digits
 * and leading zeros kept, whether quoted or not.
 */
import { readFile } from 'node:fs/promises';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { isScalar, parseDocument, stringify, visit } from 'yaml';

const usage = `usage: npm run rooms -- export [--url URL] [--token TOKEN] > rooms.yaml
       npm run rooms -- import rooms.yaml [--url URL] [--token TOKEN] [--dry-run] [--prune]
  --url URL     the server (default http://localhost:$PORT, or 3000)
  --token T     the admin token (default $ADMIN_TOKEN, from the environment or .env)
  --dry-run     import: print what would change; change nothing
  --prune       import: delete the stored rooms the file does not name (their calls end)`;

/** Fields whose digits are text: a room number and PINs. */
const DIGIT_FIELDS = new Set(['number', 'pin', 'moderatorPin']);

/** The YAML text as the import's `rooms`, digits kept as written; throws with the line on bad YAML. */
export function parseRoomsYaml(text: string): unknown {
  const doc = parseDocument(text, { prettyErrors: true });
  if (doc.errors.length > 0) throw new Error(`not valid YAML: ${doc.errors[0]!.message}`);
  visit(doc, {
    Pair(_key, pair) {
      if (isScalar(pair.key) && DIGIT_FIELDS.has(String(pair.key.value)) && isScalar(pair.value) && typeof pair.value.value === 'number') {
        const source = pair.value.source;
        if (typeof source === 'string' && /^[0-9]+$/.test(source)) pair.value.value = source;
      }
    },
  });
  const file = doc.toJS() as unknown;
  if (!file || typeof file !== 'object' || !Array.isArray((file as { rooms?: unknown }).rooms)) {
    throw new Error('a rooms file is a map with a list "rooms:" (npm run rooms -- export writes one)');
  }
  const keys = Object.keys(file).filter((k) => k !== 'rooms');
  if (keys.length > 0) throw new Error(`a rooms file has only "rooms:"; it has ${keys.map((k) => JSON.stringify(k)).join(', ')} too`);
  return (file as { rooms: unknown }).rooms;
}

interface Plan {
  dryRun: boolean;
  prune: boolean;
  created: string[];
  updated: string[];
  unchanged: string[];
  deleted: string[];
}

/** The plan as lines a person reads. */
export function describePlan(plan: Plan): string {
  const line = (what: string, ids: string[]) => `${what} ${ids.length}${ids.length ? `: ${ids.join(', ')}` : ''}`;
  const verb = plan.dryRun ? 'would be ' : '';
  return [
    plan.dryRun ? 'dry run: nothing changed' : 'imported',
    `  ${line(`${verb}created`, plan.created)}`,
    `  ${line(`${verb}updated`, plan.updated)}`,
    `  ${line('unchanged', plan.unchanged)}`,
    `  ${line(`${verb}deleted`, plan.deleted)}${plan.prune ? '' : ' (without --prune rooms not in the file are kept)'}`,
  ].join('\n');
}

async function api(url: string, token: string, path: string, init: RequestInit = {}): Promise<unknown> {
  let res: Response;
  try {
    res = await fetch(url + path, { ...init, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' } });
  } catch (error) {
    throw new Error(`no answer from ${url}: ${error instanceof Error ? (error.cause as Error | undefined)?.message || error.message : String(error)}`);
  }
  const text = await res.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new Error(`${url}${path} answered ${res.status}, not JSON: is this the conference server?`);
  }
  if (!res.ok) {
    const error = (body as { error?: { code?: string; message?: string } }).error;
    throw new Error(`the server refused (${res.status} ${error?.code ?? ''}): ${error?.message ?? text.slice(0, 200)}`);
  }
  return body;
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      url: { type: 'string' },
      token: { type: 'string' },
      'dry-run': { type: 'boolean', default: false },
      prune: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const [command, file, ...rest] = positionals;
  const valid = (command === 'export' && !file) || (command === 'import' && file);
  if (values.help || !valid || rest.length > 0) {
    console.log(usage);
    process.exit(values.help ? 0 : 2);
  }
  // ADMIN_TOKEN and PORT as the server reads them: the environment, else .env.
  const dotenv = await import('dotenv');
  dotenv.config({ quiet: true });
  const url = (values.url ?? `http://localhost:${process.env['PORT'] || 3000}`).replace(/\/+$/, '');
  const token = values.token ?? process.env['ADMIN_TOKEN'];
  if (!token) throw new Error('no admin token: pass --token or set ADMIN_TOKEN');

  if (command === 'export') {
    const { rooms } = (await api(url, token, '/api/rooms-file')) as { rooms: unknown[] };
    const header = `# Rooms of the conference server (npm run rooms -- export): ${rooms.length} rooms.\n# PINs are stored as hashes; to set a new PIN write pin: "1234" in place of pinHash.\n`;
    process.stdout.write(header + stringify({ rooms }, { lineWidth: 0 }));
    return;
  }
  const rooms = parseRoomsYaml(await readFile(file!, 'utf8'));
  const plan = (await api(url, token, '/api/rooms-file/import', {
    method: 'POST',
    body: JSON.stringify({ rooms, prune: values.prune, dryRun: values['dry-run'] }),
  })) as Plan;
  console.log(describePlan(plan));
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((error: unknown) => {
    console.error(`rooms: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  });
}
