/**
 * Issue 16: calls survive a restart of one process. Real processes (node src/main.ts), a real
 * database file, and ten simulated calls in three rooms that follow the TwiML as Twilio does
 * (the <Connect action> when a stream ends, <Pause>, <Redirect>). The test is the supervisor, as
 * deploy/systemd/conference.service says: it runs that unit's ExecStartPre and ExecStart (the build,
 * then the compiled server on plain node), sends SIGTERM, and starts the next process the moment
 * the first one exits (Restart=always). Every caller must be back in its room, one mix per room, with its
 * seat, its own mute (*6), its listening volume (*7 *7) and an administrator's hold, without the
 * seat announcement, within 6 s of SIGTERM; the measured gaps are printed.
 *
 * The same restart with callers wherever they are (s15): one in a room with a PIN, one who keyed
 * the number and is asked for the PIN when the server stops (it keys the PIN during the shutdown),
 * and one who dials during the shutdown: the three end in that room, hearing each other, the second
 * after keying its PIN again. And coaching kept: two coached calls, one whose coach is back first,
 * one whose coach is back last; each hears its coach, the third caller of its room does not.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join as joinPath } from 'node:path';
import { PROMPTS } from '../../src/http/twiml.js';
import { randomSid } from '../../src/sim/simulatedStream.js';
import { sentToneDbfs, until } from '../helpers/calls.js';
import { ClusterCall } from '../helpers/clusterCalls.js';
import { childProcessEnv, freePort } from '../helpers/server.js';

const ROOT = joinPath(import.meta.dirname, '..', '..');
const ADMIN_TOKEN = 'restart-test-admin-token-0123456789';
/** The calls' tones are sent at -20 dBFS peak and heard at about -23 dBFS; not heard: 37 dB or more below. */
const HEARD_FLOOR_DBFS = -60;
const PIN = '2468';
/** The server's line for each caller in a prompt it sends on to the next process. */
const PROMPT_PAUSED = /the caller goes on with the next process after a pause/g;

interface ServerProcess {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

/** The systemd unit's commands, with this test's node for /usr/bin/node and run in this checkout. */
const UNIT = readFileSync(joinPath(ROOT, 'deploy', 'systemd', 'conference.service'), 'utf8');
function unitCommand(key: 'ExecStartPre' | 'ExecStart'): [string, string[]] {
  const line = new RegExp(`^${key}=(.*)$`, 'm').exec(UNIT)?.[1];
  assert.ok(line, `the unit has ${key}`);
  const [command, ...args] = line.trim().split(/\s+/);
  assert.equal(command, '/usr/bin/node');
  return [process.execPath, args];
}

function startServer(port: number, dir: string): ServerProcess {
  const [build, buildArgs] = unitCommand('ExecStartPre');
  execFileSync(build, buildArgs, { cwd: ROOT, stdio: 'ignore' });
  const [command, args] = unitCommand('ExecStart');
  const child = spawn(command, args, {
    cwd: ROOT,
    env: childProcessEnv({
      PORT: String(port),
      HOST: '127.0.0.1',
      ROOMS_DB_PATH: joinPath(dir, 'rooms.sqlite'),
      ADMIN_TOKEN,
      LOG_LEVEL: 'info',
      LOG_PRETTY: 'false',
      BEEP: 'off',
      WAIT_TONE: 'off',
      // A held caller hears silence (not the hold music), so the test can measure that it hears nobody.
      HOLD_MUSIC: 'none',
    }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, output: () => output, exited };
}

async function participants(
  base: string,
  room: string,
): Promise<Array<{ callSid: string; seat: number; muted: boolean; hold: boolean; listenVolumeDb: number }>> {
  const res = await fetch(`${base}/api/rooms/${room}`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
  assert.equal(res.status, 200, `participants of ${room}`);
  const body = (await res.json()) as { participants: Array<{ callSid: string; seat: number; muted: boolean; hold: boolean; listenVolumeDb: number }> };
  return body.participants;
}

const processes: ServerProcess[] = [];
const calls: ClusterCall[] = [];
/** The callers of rooms 304-306 (checked on their own: coaching and PIN prompts). */
const others: ClusterCall[] = [];
const dir = mkdtempSync(joinPath(tmpdir(), 'conference-restart-'));
after(async () => {
  await Promise.all([...calls, ...others].map((c) => c.hangUp()));
  for (const p of processes) p.child.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

test('SIGTERM with 10 callers in 3 rooms: every caller back in its room on the next process, seat, mute, hold and volume kept, within 6 s; callers at a PIN prompt or dialling meanwhile end in their room; coaching kept, either order', {
  timeout: 90_000,
}, async () => {
  assert.match(UNIT, /^Restart=always$/m, 'systemd starts the next process after the exit');
  assert.match(UNIT, /^ExecStart=\S+ .*dist\/src\/main\.js$/m, 'the compiled server, as npm start runs it');
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const first = startServer(port, dir);
  processes.push(first);
  await until(() => /conference server listening/.test(first.output()), 'the first process to listen', 30_000);
  assert.equal(statSync(joinPath(dir, 'server.key')).mode & 0o777, 0o600, 'the server key is made once, readable by its owner only');

  // Ten callers, each a tone of its own, in rooms of 4, 3 and 3.
  const rooms: Record<string, number[]> = { '301': [350, 450, 550, 650], '302': [750, 850, 950], '303': [1050, 1150, 1250] };
  for (const [room, tones] of Object.entries(rooms)) {
    for (const hz of tones) calls.push(await ClusterCall.start(base, room, hz));
  }
  const inRoom = (room: string) => calls.filter((c) => c.room === room);
  const muted = inRoom('301')[1]!; // mutes itself with *6
  const quieter = inRoom('301')[2]!; // turns its listening volume down twice: -6 dB
  const held = inRoom('302')[0]!; // put on hold by the administrator
  await until(() => calls.every((c) => c.heard.length > 25), 'every caller to hear its room', 10_000);
  await muted.key('*6');
  await quieter.key('*7');
  await new Promise((resolve) => setTimeout(resolve, 3200)); // a new key sequence: the first ends after 3 s
  await quieter.key('*7');
  const hold = await fetch(`${base}/api/rooms/302/participants/${held.callSid}`, {
    method: 'PATCH',
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ hold: true }),
  });
  assert.equal(hold.status, 200);
  const admin = (method: string, path: string, body: object) =>
    fetch(`${base}${path}`, { method, headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });

  // Callers wherever they are: room 304 has a PIN. One is in it; its rejoin waits until the two
  // callers in a prompt have been answered (so they reach the process before it stops listening).
  assert.equal((await admin('POST', '/api/rooms', { id: '304', pin: PIN })).status, 201);
  const prompted = () => first.output().match(PROMPT_PAUSED)?.length ?? 0;
  const inPinRoom = await ClusterCall.start(base, '304', 1350, {
    dial: { keypresses: ['304', PIN] },
    beforeRejoin: () => until(() => prompted() >= 2, 'the callers in a prompt to be answered', 3000),
  });
  // The second has keyed the number and hears the PIN prompt when SIGTERM comes.
  const atPinSid = randomSid('CA');
  const askedPin = await fetch(`${base}/voice/room?attempt=1`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ CallSid: atPinSid, CallStatus: 'in-progress', Digits: '304' }).toString(),
  });
  assert.match(await askedPin.text(), new RegExp(PROMPTS.askPin));

  // Coaching: in 305 the coach is back first, in 306 last (each held back until the other is in).
  const coachRooms = ['305', '306'].map((room, i) => ({ room, hz: [1450 + i * 300, 1550 + i * 300, 1650 + i * 300] }));
  const coached: ClusterCall[] = [];
  const thirds: ClusterCall[] = [];
  const coaches: ClusterCall[] = [];
  const backIn = (c: () => ClusterCall | undefined) => () =>
    until(() => (c()?.streams.length ?? 0) >= 2, 'the other call of the pair back', 8000).then(() => new Promise<void>((r) => setTimeout(r, 300)));
  for (const [i, { room, hz }] of coachRooms.entries()) {
    const coachFirst = i === 0;
    coached.push(await ClusterCall.start(base, room, hz[0]!, coachFirst ? { beforeRedirect: backIn(() => coaches[i]) } : {}));
    thirds.push(await ClusterCall.start(base, room, hz[1]!));
    coaches.push(await ClusterCall.start(base, room, hz[2]!, coachFirst ? {} : { beforeRedirect: backIn(() => coached[i]) }));
    assert.equal((await admin('PATCH', `/api/rooms/${room}/participants/${coaches[i]!.callSid}`, { coaching: coached[i]!.callSid })).status, 200);
  }
  const extras = [inPinRoom, ...coached, ...thirds, ...coaches];
  others.push(...extras);
  await until(() => extras.every((c) => c.heard.length > 25), 'the callers of 304-306 to hear their rooms', 10_000);

  const seatsBefore = new Map<string, number>();
  for (const room of Object.keys(rooms)) {
    for (const p of await participants(base, room)) seatsBefore.set(p.callSid, p.seat);
  }
  assert.equal(seatsBefore.size, 10);
  const before = await participants(base, '301');
  assert.equal(before.find((p) => p.callSid === muted.callSid)?.muted, true, '*6 muted the caller');
  assert.equal(before.find((p) => p.callSid === quieter.callSid)?.listenVolumeDb, -6, '*7 *7: -6 dB');

  // The restart: SIGTERM, and the next process as soon as the first has exited.
  const sigtermMs = performance.now();
  first.child.kill('SIGTERM');
  // While it shuts down: the PIN keyed by the caller at the prompt, and a new call.
  await until(() => /"msg":"shutting down"/.test(first.output()), 'the first process to stop admitting', 5000);
  const pinCallers = [
    ClusterCall.start(base, '304', 2350, {
      callSid: atPinSid,
      dial: { voicePath: '/voice/pin?room=304', firstParams: { Digits: PIN }, keypresses: [PIN] },
    }),
    ClusterCall.start(base, '304', 2450, { dial: { keypresses: ['304', PIN] } }),
  ];
  const code = await first.exited;
  const exitedMs = performance.now();
  assert.equal(code, 0, first.output().slice(-3000));
  const second = startServer(port, dir);
  processes.push(second);
  await until(() => /conference server listening/.test(second.output()), 'the next process to listen', 30_000);
  const listeningMs = performance.now();

  // Every call back on a new stream, hearing its room again.
  const backMs = new Map<ClusterCall, number>();
  await until(
    () => {
      for (const c of calls) {
        if (backMs.has(c) || c.streams.length < 2) continue;
        const other = inRoom(c.room).find((o) => o !== c && o !== muted && o !== held);
        const t = c === held ? c.streams[1]!.openedAtMs : other ? c.firstHeardAfter(other.toneHz, c.streams[1]!.openedAtMs) : null;
        if (t !== null) backMs.set(c, t);
      }
      return backMs.size === calls.length;
    },
    'every caller back in its room',
    15_000,
  );
  const backAfterSigterm = [...backMs.values()].map((t) => t - sigtermMs);
  const gaps = calls.map((c) => {
    const old = c.streams[0]!;
    return (backMs.get(c) ?? Number.NaN) - (old.closedAtMs ?? Number.NaN);
  });
  console.log(
    `# measured: first process exited ${(exitedMs - sigtermMs).toFixed(0)} ms after SIGTERM, the next listened ${(listeningMs - sigtermMs).toFixed(0)} ms after; ` +
      `callers back ${Math.min(...backAfterSigterm).toFixed(0)}-${Math.max(...backAfterSigterm).toFixed(0)} ms after SIGTERM; ` +
      `gap (old stream closed -> room heard again) ${Math.min(...gaps).toFixed(0)}-${Math.max(...gaps).toFixed(0)} ms`,
  );
  for (const c of calls) {
    assert.equal(c.isOver, false, `${c.toneHz} Hz: the call goes on (${c.finalSaid.join(' | ')})`);
    assert.equal(c.streams.length, 2, `${c.toneHz} Hz: one new stream`);
    assert.equal(c.streams[0]!.closeCode, 1001, 'the old stream closed as going away');
    assert.deepEqual(c.streams[1]!.said, [], `${c.toneHz} Hz: no seat announcement on the way back`);
  }
  assert.ok(Math.max(...backAfterSigterm) <= 6000, `every caller back within 6 s of SIGTERM (${Math.max(...backAfterSigterm).toFixed(0)} ms)`);

  const [atPin, dialled] = await Promise.all(pinCallers);
  others.push(atPin!, dialled!);
  await until(() => [inPinRoom, ...coached, ...thirds, ...coaches].every((c) => c.streams.length === 2), 'the callers of 304-306 back', 10_000);

  // One mix per room, seats and settings as they were.
  await new Promise((resolve) => setTimeout(resolve, 1500));
  for (const [room, tones] of Object.entries(rooms)) {
    const now = await participants(base, room);
    assert.equal(now.length, tones.length, `room ${room}: every caller in it`);
    for (const p of now) assert.equal(p.seat, seatsBefore.get(p.callSid), `room ${room}: ${p.callSid} kept seat ${seatsBefore.get(p.callSid)}`);
  }
  const after301 = await participants(base, '301');
  assert.equal(after301.find((p) => p.callSid === muted.callSid)?.muted, true, 'still muted');
  assert.equal(after301.find((p) => p.callSid === quieter.callSid)?.listenVolumeDb, -6, 'still -6 dB');
  assert.equal((await participants(base, '302')).find((p) => p.callSid === held.callSid)?.hold, true, 'still on hold');

  // The audio: what each caller hears over the last second.
  const to = performance.now();
  const from = to - 1000;
  for (const listener of calls) {
    for (const source of calls) {
      if (source === listener) continue;
      const level = listener.heardDbfs(source.toneHz, from, to);
      const shouldHear = source.room === listener.room && source !== muted && source !== held && listener !== held;
      if (!shouldHear) {
        assert.ok(level < HEARD_FLOOR_DBFS, `${listener.toneHz} Hz does not hear ${source.toneHz} Hz (${level.toFixed(1)} dBFS)`);
        continue;
      }
      // The reference: what another caller at unity hears of the same source.
      const reference = inRoom(source.room).find((o) => o !== source && o !== listener && o !== held && o !== quieter);
      const unity = reference ? reference.heardDbfs(source.toneHz, from, to) : level;
      const expected = listener === quieter ? unity - 6 : unity;
      assert.ok(
        Math.abs(level - expected) <= 1,
        `${listener.toneHz} Hz hears ${source.toneHz} Hz at ${level.toFixed(1)} dBFS (expected ${expected.toFixed(1)})`,
      );
      assert.ok(unity > -30, `${source.toneHz} Hz is heard in its room at ${unity.toFixed(1)} dBFS`);
    }
  }
  assert.match(second.output(), /"calls":17,"msg":"calls of the previous process wait to rejoin their rooms"/);

  // Room 304: the caller in it, the one at the PIN prompt (asked again, saying why) and the one who
  // dialled during the shutdown hear each other.
  assert.equal(prompted(), 2, 'the first process sent both callers in a prompt on');
  assert.ok(atPin!.streams[0]!.said.includes(PROMPTS.pinAfterRestart), `asked for the PIN again, saying why: ${atPin!.streams[0]!.said.join(' | ')}`);
  assert.ok(!dialled!.streams[0]!.said.includes(PROMPTS.pinAfterRestart), 'the new caller is asked for the PIN plainly');
  const unity = sentToneDbfs(1350, -20);
  const trio = [inPinRoom, atPin!, dialled!];
  const trioLevels: number[] = [];
  for (const listener of trio) {
    for (const source of trio) {
      if (source === listener) continue;
      const level = listener.heardDbfs(source.toneHz, from, to);
      trioLevels.push(level);
      assert.ok(Math.abs(level - unity) <= 1.5, `304: ${listener.toneHz} Hz hears ${source.toneHz} Hz at ${level.toFixed(1)} dBFS (${unity.toFixed(1)} sent)`);
    }
  }
  console.log(
    `# measured: room 304 (in it, at the PIN prompt, dialling): each hears the others at ${Math.min(...trioLevels).toFixed(1)} to ${Math.max(...trioLevels).toFixed(1)} dBFS`,
  );
  assert.equal((await participants(base, '304')).length, 3, 'room 304: the three callers');

  // Rooms 305 and 306: each coached caller hears its coach, the third caller does not.
  assert.equal(second.output().match(/the coach is back before its caller/g)?.length, 1, '305: the coach was back first (muted meanwhile)');
  assert.equal(second.output().match(/coaching: restored after the rejoin/g)?.length, 2);
  for (const [i, { room }] of coachRooms.entries()) {
    const coach = coaches[i]!;
    const res = await fetch(`${base}/api/rooms/${room}`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    const body = (await res.json()) as { participants: Array<{ callSid: string; coaching: boolean; callSidToCoach: string | null; muted: boolean }> };
    const view = body.participants.find((p) => p.callSid === coach.callSid)!;
    assert.deepEqual([view.coaching, view.callSidToCoach, view.muted], [true, coached[i]!.callSid, false], `${room}: coaching restored, the coach unmuted`);
    const heard = coached[i]!.heardDbfs(coach.toneHz, from, to);
    const byThird = thirds[i]!.heardDbfs(coach.toneHz, from, to);
    console.log(
      `# measured: room ${room} (coach back ${i === 0 ? 'first' : 'last'}): the coached caller hears the coach at ${heard.toFixed(1)} dBFS, the third at ${byThird.toFixed(1)} dBFS`,
    );
    assert.ok(heard >= -25, `${room}: the coached caller hears the coach (${heard.toFixed(1)} dBFS)`);
    assert.ok(byThird - heard <= -40, `${room}: the third does not hear the coach (${(byThird - heard).toFixed(1)} dB relative)`);
    assert.ok(thirds[i]!.heardDbfs(coached[i]!.toneHz, from, to) > -30, `${room}: the third hears the coached caller`);
  }

  second.child.kill('SIGTERM');
  await Promise.all([...calls, ...others].map((c) => c.hangUp()));
  assert.equal(await second.exited, 0);
});
