/**
 * Programs as participants (issue 18): `npm run bot` (the real tool, spawned) joins a room of
 * simulated phone callers with a ticket from the admin API, in mu-law and in raw PCM16 at 8 and
 * 16 kHz. Measured: the callers hear each program's file at 0 +/- 1 dB, and each program's
 * recording holds the callers at 0 +/- 1 dB. Then a listener program is never heard, and forged,
 * reused, expired and mismatched tickets are refused with one log line each.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join as joinPath } from 'node:path';
import { after, before, describe, test } from 'node:test';
import WebSocket from 'ws';
import { bestFrameLag, estimateGains, percentile, toneDbfs } from '../../src/audio/analysis.js';
import { FULL_SCALE } from '../../src/audio/format.js';
import { parseWav, encodeWav } from '../../src/audio/wav.js';
import { SimulatedStream } from '../../src/sim/simulatedStream.js';
import { fromMulaw, speechLike, tone, toMulaw } from '../helpers/audio.js';
import { heardToneDbfs, join, sentToneDbfs, sleep, until } from '../helpers/calls.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const ADMIN = 'programs-test-admin-token-0123456789';
const ROOT = joinPath(import.meta.dirname, '..', '..');
const PEAK_DBFS = -26;

/** tone() at any rate. */
function toneAt(rateHz: number, frequencyHz: number, peakDbfs: number, durationMs: number): Int16Array {
  const amplitude = FULL_SCALE * 10 ** (peakDbfs / 20);
  return Int16Array.from({ length: Math.round((durationMs / 1000) * rateHz) }, (_, i) =>
    Math.round(amplitude * Math.sin((2 * Math.PI * frequencyHz * i) / rateHz)),
  );
}

async function api(t: TestServer, method: string, path: string, body?: unknown) {
  const res = await fetch(t.baseUrl + path, {
    method,
    headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, any> };
}

interface BotRun {
  /** performance.now() when the bot said it started playing. */
  playingAtMs: number;
  done: Promise<{ code: number | null; out: string }>;
}

/** `npm run bot -- ...args`: resolves once it prints `ready` ("playing" by default). */
function runBot(args: string[], ready = 'playing'): Promise<BotRun> {
  const child = spawn('npm', ['run', '--silent', 'bot', '--', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const done = new Promise<{ code: number | null; out: string }>((resolve) => child.once('close', (code) => resolve({ code, out })));
  return new Promise((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes(ready)) resolve({ playingAtMs: performance.now(), done });
    });
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    void done.then(() => reject(new Error(`bot ended before playing: ${out}`)));
  });
}

describe('npm run bot: programs in mu-law, PCM16 8 kHz and PCM16 16 kHz among phone callers', () => {
  let t: TestServer;
  const dir = mkdtempSync(joinPath(tmpdir(), 'bot-test-'));
  const programs = [
    { format: 'mulaw', rateHz: 8000, frequencyHz: 1000 },
    { format: 'pcm16-8k', rateHz: 8000, frequencyHz: 1400 },
    { format: 'pcm16-16k', rateHz: 16000, frequencyHz: 2200 },
  ] as const;
  const callerTones = [500, 700];
  const heard: Array<{ format: string; dbByCaller: number[] }> = [];
  const heardByCallers: Array<{ format: string; db: number[] }> = [];
  let botStreams: string[] = [];

  before(async () => {
    t = await startTestServer({ ADMIN_TOKEN: ADMIN });
    assert.equal((await api(t, 'POST', '/api/rooms', { id: '4100' })).status, 201);
    const callers = [await join(t.baseUrl, ['4100']), await join(t.baseUrl, ['4100'])];
    const startAtMs = performance.now() + 100;
    const plays = callers.map((c, i) => c.stream.play(toMulaw(tone(callerTones[i]!, PEAK_DBFS, 12_000)), startAtMs));
    const playMs = 2400;
    const runs = await Promise.all(
      programs.map((p) => {
        const wav = joinPath(dir, `${p.format}.wav`);
        writeFileSync(wav, encodeWav({ sampleRateHz: p.rateHz, samples: toneAt(p.rateHz, p.frequencyHz, PEAK_DBFS, playMs) }));
        const args = ['--url', t.baseUrl, '--token', ADMIN, '--room', '4100', '--label', p.format, '--format', p.format, '--play', wav];
        return runBot([...args, '--record', joinPath(dir, `${p.format}.heard.wav`)]);
      }),
    );
    for (const [i, run] of runs.entries()) {
      const ended = await run.done;
      assert.equal(ended.code, 0, ended.out);
      const p = programs[i]!;
      // The callers, in the middle of the program's 2 s (after the jitter buffer fills, before it ends).
      // The level is the median of 240 ms windows: a moment when this machine's scheduler held the
      // bot's process back (a late frame, concealed) is not the level the room plays it at; the
      // whole window's level must still be within 3 dB.
      const sent = toneDbfs(tone(p.frequencyHz, PEAK_DBFS, 1000), p.frequencyHz, 8000);
      const playFrom = run.playingAtMs + 400;
      const playTo = run.playingAtMs + playMs - 300;
      heardByCallers.push({
        format: p.format,
        db: callers.map((c) => {
          const whole = heardToneDbfs(c.stream, p.frequencyHz, playFrom, playTo) - sent;
          const pcm = fromMulaw(c.stream.receivedMulaw());
          const first = c.stream.receivedAtMs.findIndex((at) => at >= playFrom);
          const last = c.stream.receivedAtMs.findIndex((at) => at >= playTo);
          const windows: number[] = [];
          for (let f = first; f + 12 <= last; f += 12) windows.push(toneDbfs(pcm, p.frequencyHz, 8000, f * 160, (f + 12) * 160) - sent);
          assert.ok(Math.abs(whole) <= 3, `${p.format} heard over its whole window at ${whole.toFixed(2)} dB`);
          return percentile(windows, 0.5);
        }),
      });
      const rec = parseWav(readFileSync(joinPath(dir, `${p.format}.heard.wav`)));
      assert.equal(rec.sampleRateHz, p.rateHz, `${p.format} records at its rate`);
      const from = Math.round(0.5 * rec.sampleRateHz);
      const to = rec.samples.length - Math.round(0.2 * rec.sampleRateHz);
      const streams = t.captured.lines.filter((l) => l.msg === 'stream ended').map((l) => JSON.stringify(l));
      assert.ok(to - from > rec.sampleRateHz, `${p.format} recorded over a second (${rec.samples.length} samples): ${streams.join('\n')}`);
      heard.push({
        format: p.format,
        dbByCaller: callerTones.map((f) => toneDbfs(rec.samples, f, rec.sampleRateHz, from, to) - sentToneDbfs(f, PEAK_DBFS)),
      });
    }
    botStreams = t.captured.lines
      .filter((l) => l.msg === 'stream ended')
      .map((l) => `seat ${l['seat']}: in ${l['framesIn']}, underruns ${l['underruns']}, jitter ${l['jitterMs']} ms`);
    for (const c of callers) c.stream.terminate();
    await Promise.allSettled(plays);
  });
  after(() => t.close());

  test('the callers hear each program at 0 +/- 1 dB, whatever its format', () => {
    const all = heardByCallers.map((h) => `${h.format} ${h.db.map((d) => d.toFixed(2)).join('/')}`).join(', ');
    for (const { format, db } of heardByCallers)
      for (const d of db) assert.ok(Math.abs(d) <= 1, `${format} heard at ${d.toFixed(2)} dB (${all}; ${botStreams.join(' | ')})`);
    console.log(`callers hear the programs at: ${heardByCallers.map((h) => `${h.format} ${h.db.map((d) => d.toFixed(2)).join('/')} dB`).join(', ')}`);
  });

  test("each program's recording holds both callers at 0 +/- 1 dB", () => {
    for (const { format, dbByCaller } of heard) for (const d of dbByCaller) assert.ok(Math.abs(d) <= 1, `${format} recorded a caller at ${d.toFixed(2)} dB`);
    console.log(`programs record the callers at: ${heard.map((h) => `${h.format} ${h.dbByCaller.map((d) => d.toFixed(2)).join('/')} dB`).join(', ')}`);
  });
});

describe('a listener program, and tickets that are refused', () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer({ ADMIN_TOKEN: ADMIN });
    assert.equal((await api(t, 'POST', '/api/rooms', { id: '4200' })).status, 201);
  });
  after(() => t.close());

  const ticketFor = async (body: Record<string, unknown>) => {
    const r = await api(t, 'POST', '/api/rooms/4200/programs', body);
    assert.equal(r.status, 201, JSON.stringify(r.body));
    return r.body as { url: string; ticket: string; callSid: string; streamSid: string; seat: number };
  };
  const open = (p: { url: string; ticket: string; callSid: string }, ticket = p.ticket) =>
    SimulatedStream.open({ url: p.url, callSid: p.callSid, customParameters: { ticket } });

  test('the ticket call: 201 with the URL, ticket and mediaFormat; bad bodies, unknown rooms, full rooms and missing tokens are refused', async () => {
    const ok = await api(t, 'POST', '/api/rooms/4200/programs', { label: 'agent', format: 'pcm16-16k' });
    assert.equal(ok.status, 201);
    assert.match(ok.body.url, /^ws:\/\/127\.0\.0\.1:\d+\/media\?ticket=v1\./);
    assert.deepEqual(ok.body.mediaFormat, { encoding: 'audio/L16', sampleRate: 16000, channels: 1 });
    assert.equal(ok.body.role, 'talker');
    assert.equal((await api(t, 'POST', '/api/rooms/4200/programs', { label: 'x', format: 'opus' })).body.error.code, 'BAD_REQUEST');
    assert.equal((await api(t, 'POST', '/api/rooms/4200/programs', {})).status, 400, 'a label is required');
    assert.equal((await api(t, 'POST', '/api/rooms/4999/programs', { label: 'x' })).status, 404);
    assert.equal((await api(t, 'POST', '/api/rooms', { id: '4201', maxParticipants: 1 })).status, 201);
    assert.equal((await api(t, 'POST', '/api/rooms/4201/programs', { label: 'one' })).status, 201);
    const full = await api(t, 'POST', '/api/rooms/4201/programs', { label: 'two' });
    assert.deepEqual([full.status, full.body.error.code], [409, 'ROOM_FULL']);
    const anonymous = await fetch(`${t.baseUrl}/api/rooms/4200/programs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"label":"x"}',
    });
    assert.equal(anonymous.status, 401);
  });

  test('a listener hears the room, is never heard (<= -60 dB), and neither its *6 nor the API unmutes it', async () => {
    const caller = await join(t.baseUrl, ['4200']);
    const listener = await open(await ticketFor({ label: 'transcriber', role: 'listener' }));
    const live = await api(t, 'GET', '/api/rooms/4200');
    const view = (live.body.participants as Array<Record<string, any>>).find((p) => p.label === 'transcriber');
    assert.deepEqual(view?.program, { role: 'listener', format: 'mulaw' });
    assert.equal(view?.muted, true);
    // It tries to unmute itself, and the API tries too.
    listener.sendDtmf('*');
    listener.sendDtmf('6');
    const patch = await api(t, 'PATCH', `/api/rooms/4200/participants/${view!.callSid}`, { muted: false });
    assert.equal(patch.body.muted, true, 'still muted after the API unmuted it');
    const startAtMs = performance.now() + 100;
    const plays = Promise.all([listener.play(toMulaw(tone(1000, -20, 2500)), startAtMs), caller.stream.play(toMulaw(tone(600, -20, 2500)), startAtMs)]);
    await sleep(1200);
    const shown = (await api(t, 'GET', '/api/rooms/4200')).body.participants as Array<{ label: string | null; talking: boolean }>;
    assert.deepEqual(
      shown.map((p) => [p.label, p.talking]),
      [
        [null, true],
        ['transcriber', false],
      ],
      'mid-tone: the caller talks, the listener sending its tone does not',
    );
    await plays;
    const leak = heardToneDbfs(caller.stream, 1000, startAtMs + 500, startAtMs + 2300) - sentToneDbfs(1000, -20);
    const hears = heardToneDbfs(listener, 600, startAtMs + 500, startAtMs + 2300) - sentToneDbfs(600, -20);
    console.log(`listener: heard by the caller at ${leak.toFixed(1)} dB, hears the caller at ${hears.toFixed(2)} dB`);
    assert.ok(leak <= -60, `the listener leaks at ${leak.toFixed(1)} dB`);
    assert.ok(Math.abs(hears) <= 1, `the listener hears the caller at ${hears.toFixed(2)} dB`);
    listener.terminate();
    caller.stream.terminate();
  });

  test('npm run bot -- --echo: a caller hears its own voice back through the program, correlated (>= 0.9) at 0 +/- 1 dB', async () => {
    assert.equal((await api(t, 'POST', '/api/rooms', { id: '4300' })).status, 201);
    const caller = await join(t.baseUrl, ['4300']);
    const bot = await runBot(['--url', t.baseUrl, '--token', ADMIN, '--room', '4300', '--echo', '--seconds', '4'], 'connected');
    // "connected" is said as the bot sends its start: the caller talks once the room has it.
    for (let tries = 0; ; tries++) {
      const shown = (await api(t, 'GET', '/api/rooms/4300')).body.participants as Array<{ program: unknown }>;
      if (shown.some((p) => p.program !== null)) break;
      assert.ok(tries < 100, 'the echo bot in the room within 2 s');
      await sleep(20);
    }
    const startAtMs = performance.now() + 300;
    // A voice-like signal (noise bursts and pauses), as the server will decode it.
    const sent = fromMulaw(toMulaw(speechLike(2000, -20, 7)));
    await caller.stream.play(toMulaw(sent), startAtMs);
    await sleep(300);
    const heard = fromMulaw(caller.stream.receivedMulaw());
    const first = caller.stream.receivedAtMs.findIndex((at) => at >= startAtMs);
    // Where in what the caller heard its voice came back (within 1 s), how alike, and how loud.
    const { lagFrames, correlation } = bestFrameLag(sent, heard, first, first + 50);
    const [gain] = estimateGains(heard, [sent], [lagFrames * 160]);
    const echoedDb = 20 * Math.log10(gain!);
    console.log(`echo bot: the caller hears itself ${(lagFrames - first) * 20} ms later, correlation ${correlation.toFixed(3)}, at ${echoedDb.toFixed(2)} dB`);
    assert.ok(correlation >= 0.9, `correlation ${correlation.toFixed(3)}`);
    assert.ok(Math.abs(echoedDb) <= 1, `echoed at ${echoedDb.toFixed(2)} dB`);
    const ended = await bot.done;
    assert.equal(ended.code, 0, ended.out);
    caller.stream.terminate();
  });

  const refusedOnce = async (connect: () => Promise<SimulatedStream>, expectCode: number, logText: RegExp) => {
    const before = t.captured.warnings().filter((l) => logText.test(l.msg)).length;
    const s = await connect();
    const closed = await s.closed;
    assert.equal(closed.code, expectCode);
    await until(() => t.captured.warnings().filter((l) => logText.test(l.msg)).length > before, 'the log line');
    assert.equal(t.captured.warnings().filter((l) => logText.test(l.msg)).length, before + 1, 'one log line');
  };

  test('a forged, a reused and an expired program ticket are refused with 1008 and one log line each', async () => {
    const good = await ticketFor({ label: 'agent' });
    const forged = `${good.ticket.slice(0, -4)}AAAA`;
    await refusedOnce(() => open(good, forged), 1008, /join ticket bad-signature/);
    const first = await open(good);
    await sleep(100);
    assert.ok(first.isOpen, 'the good ticket joins');
    await refusedOnce(() => open(good), 1008, /join ticket reused/);
    first.terminate();
    const short = await ticketFor({ label: 'late', ttlSeconds: 1 });
    await sleep(2100);
    await refusedOnce(() => open(short), 1008, /join ticket expired/);
  });

  test('a start in another format than its ticket, is refused with one log line', async () => {
    // A pcm16-8k ticket, a start that says mu-law: 1003.
    const pcm = await ticketFor({ label: 'pcm', format: 'pcm16-8k' });
    await refusedOnce(() => open(pcm), 1003, /the ticket is for pcm16-8k/);
  });

  test('a PCM16 program that sends an odd number of bytes (not whole samples) is closed with 1007 and one log line', async () => {
    const p = await ticketFor({ label: 'odd', format: 'pcm16-8k' });
    const before = t.captured.warnings().filter((l) => /not whole 16-bit samples/.test(l.msg)).length;
    const ws = new WebSocket(p.url);
    const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
    await new Promise((resolve) => ws.once('open', resolve));
    const { callSid, streamSid } = p;
    ws.send(JSON.stringify({ event: 'connected', protocol: 'Call', version: '1.0.0' }));
    const start = { accountSid: 'ACprogram', streamSid, callSid, tracks: ['inbound'], mediaFormat: { encoding: 'audio/L16', sampleRate: 8000, channels: 1 } };
    ws.send(JSON.stringify({ event: 'start', sequenceNumber: '1', streamSid, start: { ...start, customParameters: { ticket: p.ticket } } }));
    // 320 bytes (a good 20 ms), then 3.
    const media = (n: number, seq: number) => ({
      event: 'media',
      sequenceNumber: String(seq),
      streamSid,
      media: { chunk: String(seq), timestamp: String(20 * seq), payload: Buffer.alloc(n).toString('base64') },
    });
    ws.send(JSON.stringify(media(320, 2)));
    ws.send(JSON.stringify(media(3, 3)));
    assert.equal(await closed, 1007);
    await until(() => t.captured.warnings().filter((l) => /not whole 16-bit samples/.test(l.msg)).length > before, 'the log line');
    assert.equal(t.captured.warnings().filter((l) => /not whole 16-bit samples/.test(l.msg)).length, before + 1);
  });
});
