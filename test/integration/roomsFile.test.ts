/**
 * Rooms as code (issue 18, part D): `npm run rooms -- export|import` as an operator runs it (a child
 * process) against real servers on real ports. An export imported into a fresh server gives the
 * same rooms, and callers get in with the same PINs (and hear each other as sent); a new PIN in the
 * file works and the old one stops; a bad file changes nothing and names the room and the field;
 * --dry-run only prints the plan; --prune deletes what the file does not name.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join as joinPath } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parse as parseYaml, stringify } from 'yaml';
import type { SimulatedStream } from '../../src/sim/simulatedStream.js';
import { dial, heardToneDbfs, join, sentToneDbfs, toneMulaw, until } from '../helpers/calls.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const ADMIN = 'rooms-file-admin-token-0123456789';
const root = joinPath(import.meta.dirname, '..', '..');

interface Cli {
  code: number;
  stdout: string;
  stderr: string;
}

/** `npm run rooms -- <args>` against `server`, as a child process. */
function rooms(server: TestServer, args: string[]): Promise<Cli> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', joinPath(root, 'tools', 'rooms.ts'), ...args, '--url', server.baseUrl, '--token', ADMIN],
      { cwd: root, timeout: 30_000 },
      (error, stdout, stderr) => resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr }),
    );
  });
}

async function admin(server: TestServer, method: string, path: string, body?: object) {
  const res = await fetch(server.baseUrl + path, {
    method,
    headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

/** GET /api/rooms, and the same without the times a fresh server cannot share. */
const roomViews = async (server: TestServer) => (await admin(server, 'GET', '/api/rooms')).body.rooms as Record<string, unknown>[];
const withoutTimes = (rooms: Record<string, unknown>[]) => rooms.map(({ createdAt: _c, updatedAt: _u, ...rest }) => rest);

describe('rooms as code: npm run rooms -- export | import', () => {
  let a: TestServer;
  let b: TestServer;
  let dir: string;
  let exported: string;
  before(async () => {
    [a, b] = await Promise.all([startTestServer({ ADMIN_TOKEN: ADMIN }), startTestServer({ ADMIN_TOKEN: ADMIN })]);
    dir = await mkdtemp(joinPath(tmpdir(), 'rooms-file-'));
  });
  after(async () => {
    await Promise.all([a.close(), b.close()]);
    await rm(dir, { recursive: true, force: true });
  });

  const write = async (name: string, text: string) => {
    const path = joinPath(dir, name);
    await writeFile(path, text);
    return path;
  };

  test('export, then import into a fresh server: the same rooms, and callers get in with the same PINs', async () => {
    const created = [
      { id: '1234', label: 'Weekly sync', pin: '2468', moderatorPin: '13579', maxParticipants: 5, waitMusic: 'wait', holdMusic: 'hold' },
      { id: '0042', pin: '0042', backgroundGate: false, noiseSuppression: true },
      { id: '77', moderatorPin: '7777', waitForModerator: true, endWhenModeratorLeaves: true, startMuted: true },
      { id: '9' },
    ];
    for (const room of created) assert.equal((await admin(a, 'POST', '/api/rooms', room)).status, 201);
    assert.equal((await admin(a, 'PATCH', '/api/rooms/9', { locked: true })).status, 200);

    const out = await rooms(a, ['export']);
    assert.equal(out.code, 0, out.stderr);
    exported = out.stdout;
    const file = parseYaml(exported) as { rooms: Record<string, unknown>[] };
    assert.deepEqual(
      file.rooms.map((r) => r['number']),
      ['0042', '1234', '77', '9'],
      'every stored room, numbers as text (leading zeros kept)',
    );
    assert.match(exported, /number: "0042"/);
    assert.match(String(file.rooms[1]!['pinHash']), /^scrypt\$16384\$8\$1\$/);
    assert.deepEqual(file.rooms[3], { number: '9', locked: true }, 'only what differs from the defaults');
    assert.equal(file.rooms[0]!['backgroundGate'], false, 'false is a sound setting (null is the default)');
    for (const r of file.rooms) assert.ok(!('pin' in r) && !('moderatorPin' in r), 'hashes, never PINs');

    const path = await write('rooms.yaml', exported);
    const imported = await rooms(b, ['import', path]);
    assert.equal(imported.code, 0, imported.stderr);
    assert.match(imported.stdout, /created 4: 0042, 1234, 77, 9/);
    assert.deepEqual(withoutTimes(await roomViews(b)), withoutTimes(await roomViews(a)));
    assert.equal(withoutTimes(await roomViews(b)).length, 4);

    // The PINs were carried as hashes: a caller and the moderator key them on the new server and get in.
    const caller = await join(b.baseUrl, ['1234', '2468']);
    const moderator = await join(b.baseUrl, ['1234', '13579']);
    const zeros = await join(b.baseUrl, ['0042', '0042']);
    await until(() => b.server.conference.room('1234')?.size === 2, 'two callers in room 1234');
    const view = await admin(b, 'GET', '/api/rooms/1234');
    assert.deepEqual(
      view.body.participants.map((p: { moderator: boolean }) => p.moderator),
      [false, true],
    );
    // ... and they are in the same conference: each hears the other as sent.
    const startAtMs = performance.now() + 100;
    await Promise.all([caller.stream.play(toneMulaw(1300, -20, 1200), startAtMs), moderator.stream.play(toneMulaw(1900, -20, 1200), startAtMs)]);
    const heard = (s: SimulatedStream, hz: number) => heardToneDbfs(s, hz, startAtMs + 300, startAtMs + 1100) - sentToneDbfs(hz, -20);
    const levels = [heard(moderator.stream, 1300), heard(caller.stream, 1900)];
    console.log(`# measured: callers who keyed imported PINs hear each other at ${levels.map((l) => l.toFixed(2)).join(' / ')} dB`);
    for (const level of levels) assert.ok(Math.abs(level) <= 1, `heard at ${level.toFixed(2)} dB`);
    await Promise.all([caller, moderator, zeros].map((x) => x.stream.stop()));

    // The same file again: nothing to do.
    const again = await rooms(b, ['import', path]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /unchanged 4: 0042, 1234, 77, 9/);
    assert.match(again.stdout, /created 0\n/);
  });

  test('a file with a new PIN: the new PIN lets callers in, the old one no longer does; importing it again changes nothing', async () => {
    const file = parseYaml(exported) as { rooms: Record<string, unknown>[] };
    const room = file.rooms.find((r) => r['number'] === '1234')!;
    delete room['pinHash'];
    room['pin'] = '8642';
    const path = await write('new-pin.yaml', stringify(file));
    const out = await rooms(b, ['import', path]);
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.stdout, /updated 1: 1234/);
    assert.match(out.stdout, /unchanged 3: 0042, 77, 9/);
    const caller = await join(b.baseUrl, ['1234', '8642']);
    assert.equal(caller.said.at(-1), 'You are participant 1.');
    await caller.stream.stop();
    const old = await dial(b.baseUrl, ['1234', '2468', '2468', '2468']);
    assert.equal(old.dial.kind, 'hangup');
    assert.equal(old.dial.said.at(-1), 'Sorry, that PIN is not correct. Goodbye.');
    // The PIN in the file matches the stored hash: unchanged, not hashed anew.
    const again = await rooms(b, ['import', path]);
    assert.match(again.stdout, /unchanged 4/);
    assert.ok(!b.captured.lines.some((l) => JSON.stringify(l).includes('8642')), 'the PIN is never logged');
  });

  test('a bad file is refused whole, naming the room and the field, and changes nothing', async () => {
    const before = await roomViews(b);
    const good = '  - number: "5000"\n    label: Would be new\n';
    const cases: { name: string; room: string; says: RegExp }[] = [
      { name: 'bad number', room: '  - number: "12ab"\n', says: /room "12ab" \(rooms\[1\]\): number: a room number is 1 to \d+ digits/ },
      { name: 'PIN too short', room: '  - number: "5001"\n    pin: "12"\n', says: /room "5001" \(rooms\[1\]\): pin: a PIN is 4 to 12 digits/ },
      { name: 'unknown field', room: '  - number: "5002"\n    colour: blue\n', says: /room "5002" \(rooms\[1\]\): "colour": unknown field/ },
      {
        name: 'malformed hash',
        room: '  - number: "5003"\n    pinHash: scrypt$16384$8$1$c2hvcnQ=$AAAA\n',
        says: /room "5003" \(rooms\[1\]\): pinHash: not a PIN hash of the form this server makes/,
      },
      { name: 'music not in the library', room: '  - number: "5004"\n    waitMusic: nope\n', says: /room "5004" \(rooms\[1\]\): waitMusic: no audio "nope"/ },
      { name: 'a room twice', room: '  - number: "5000"\n', says: /room "5000" \(rooms\[1\]\): number: the file names room 5000 twice/ },
    ];
    const refusals = () => b.captured.lines.filter((l) => l.msg.startsWith('admin: rooms file refused: '));
    for (const c of cases) {
      const logged = refusals().length;
      const path = await write('bad.yaml', `rooms:\n${good}${c.room}`);
      const out = await rooms(b, ['import', path, '--prune']);
      assert.equal(out.code, 1, `${c.name}: refused`);
      assert.match(out.stderr, /the server refused \(400 BAD_REQUEST\)/, c.name);
      assert.match(out.stderr, c.says, c.name);
      assert.deepEqual(await roomViews(b), before, `${c.name}: nothing changed`);
      assert.equal(refusals().length, logged + 1, `${c.name}: one log line`);
      assert.match(refusals().at(-1)!.msg, c.says, `${c.name}: the log line names room and field`);
    }
    assert.ok(!b.captured.lines.some((l) => JSON.stringify(l).includes('c2hvcnQ=')), 'the malformed hash is not logged');
    // A file that is not YAML is refused before it is sent.
    const notYaml = await rooms(b, ['import', await write('bad.yaml', 'rooms: [\n')]);
    assert.equal(notYaml.code, 1);
    assert.match(notYaml.stderr, /not valid YAML/);
  });

  test('--dry-run prints the plan and changes nothing; --prune deletes the rooms the file does not name', async () => {
    const before = await roomViews(b);
    const file = parseYaml(exported) as { rooms: Record<string, unknown>[] };
    const kept = file.rooms.filter((r) => r['number'] === '1234' || r['number'] === '9');
    kept.find((r) => r['number'] === '9')!['label'] = 'Lobby';
    kept.push({ number: '600', pin: '6006' });
    const path = await write('prune.yaml', stringify({ rooms: kept }));

    const dry = await rooms(b, ['import', path, '--prune', '--dry-run']);
    assert.equal(dry.code, 0, dry.stderr);
    assert.equal(
      dry.stdout.trim(),
      ['dry run: nothing changed', '  would be created 1: 600', '  would be updated 2: 1234, 9', '  unchanged 0', '  would be deleted 2: 0042, 77'].join('\n'),
      "room 1234: the file has the exported hash, the stored one is the new PIN's",
    );
    assert.deepEqual(await roomViews(b), before, 'a dry run changes nothing');

    // A caller is in room 0042: pruning it ends the call, as DELETE /api/rooms/0042 would.
    const inPruned = await join(b.baseUrl, ['0042', '0042']);
    await until(() => b.server.conference.room('0042')?.size === 1, 'a caller in room 0042');
    const pruned = await rooms(b, ['import', path, '--prune']);
    assert.equal(pruned.code, 0, pruned.stderr);
    assert.match(pruned.stdout, /deleted 2: 0042, 77/);
    const after = await roomViews(b);
    assert.deepEqual(
      after.map((r) => [r['id'], r['label'], r['hasPin']]),
      [
        ['9', 'Lobby', false],
        ['600', null, true],
        ['1234', 'Weekly sync', true],
      ],
    );
    await until(() => b.server.conference.room('0042') === undefined, 'the pruned room ended');
    await inPruned.stream.stop();
    const caller = await join(b.baseUrl, ['600', '6006']);
    await caller.stream.stop();

    // Without --prune, rooms the file does not name are kept. Digits written unquoted keep their zeros.
    const partial = await rooms(b, ['import', await write('one.yaml', 'rooms:\n  - number: 0700\n    pin: 0070\n')]);
    assert.equal(partial.code, 0, partial.stderr);
    assert.match(partial.stdout, /created 1: 0700/);
    assert.equal((await roomViews(b)).length, 4);
    const zeros = await join(b.baseUrl, ['0700', '0070']);
    assert.equal(zeros.said.at(-1), 'You are participant 1.');
    await zeros.stream.stop();
  });

  test("a file larger than the admin API's 16 KB body limit imports whole", async () => {
    const many = Array.from({ length: 300 }, (_, i) => ({ number: String(10_000 + i), label: `Room number ${i} of the large file` }));
    const path = await write('many.yaml', stringify({ rooms: many }));
    assert.ok((await readFile(path)).length > 16 * 1024);
    const out = await rooms(b, ['import', path, '--dry-run']);
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.stdout, /would be created 300: 10000, 10001/);
  });

  test('the routes need the admin token', async () => {
    const res = await fetch(`${a.baseUrl}/api/rooms-file`);
    assert.equal(res.status, 401);
    const wrong = await fetch(`${a.baseUrl}/api/rooms-file/import`, { method: 'POST', headers: { authorization: 'Bearer nope' }, body: '{}' });
    assert.equal(wrong.status, 403);
  });
});
