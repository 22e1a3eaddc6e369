/**
 * Issue 7: room recordings. A recorded WAV of a simulated room holds every caller's tone at the
 * level they sent it (the mix after the limiter, as a silent listener hears it); per-participant
 * tracks hold each caller alone; files are valid WAV after a clean stop and repairable after a
 * crash; list, download and delete through the admin API; RECORD_ROOMS=always.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join as joinPath } from 'node:path';
import { toneDbfs } from '../../src/audio/analysis.js';
import { SAMPLE_RATE_HZ } from '../../src/audio/format.js';
import { parseWav } from '../../src/audio/wav.js';
import { repairWav, WavFileWriter } from '../../src/recording/wavFileWriter.js';
import { tone } from '../helpers/audio.js';
import { join, sentToneDbfs, sleep, toneMulaw, until } from '../helpers/calls.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const ADMIN = 'admin-test-token-0123456789abcdef';
const measured: string[] = [];
after(() => {
  if (measured.length) console.log(`# measured: ${measured.join('; ')}`);
});

function api(baseUrl: string) {
  return async (method: string, path: string, body?: unknown) => {
    const res = await fetch(baseUrl + path, {
      method,
      headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const type = res.headers.get('content-type') ?? '';
    return { status: res.status, type, body: type.includes('json') ? ((await res.json()) as any) : new Uint8Array(await res.arrayBuffer()) };
  };
}

/** Index of the first sample louder than `threshold` from `from` on. */
function onset(samples: Int16Array, threshold = 500, from = 0): number {
  for (let i = from; i < samples.length; i++) if (Math.abs(samples[i]!) > threshold) return i;
  return -1;
}

const CALLERS = [
  { hz: 500, peakDbfs: -14 },
  { hz: 900, peakDbfs: -20 },
  { hz: 1300, peakDbfs: -26 },
];

describe('recordings', () => {
  let t: TestServer;
  let dir: string;
  let call: ReturnType<typeof api>;
  before(async () => {
    dir = await mkdtemp(joinPath(tmpdir(), 'recordings-'));
    t = await startTestServer({ ADMIN_TOKEN: ADMIN, RECORDINGS_DIR: dir });
    call = api(t.baseUrl);
  });
  after(async () => {
    await t.close();
    await rm(dir, { recursive: true, force: true });
  });

  test("the mix holds each caller's tone at its level; tracks hold each caller alone", async () => {
    const callers = [];
    for (let i = 0; i < CALLERS.length; i++) callers.push(await join(t.baseUrl, ['7300'], { from: `+1202555010${i}` }));
    assert.equal((await call('POST', '/api/rooms/7300/recording', { tracks: 'yes' })).status, 400);
    assert.equal((await call('POST', '/api/rooms/7399/recording', {})).status, 404);
    const started = await call('POST', '/api/rooms/7300/recording', { tracks: true });
    assert.equal(started.status, 201, JSON.stringify(started.body));
    const id = started.body.id as string;
    assert.match(id, /^RE[0-9a-f]{16}$/);
    assert.equal((await call('POST', '/api/rooms/7300/recording', {})).status, 409, 'one recording per room');
    // The recorder is not a participant anyone sees.
    const room = await call('GET', '/api/rooms/7300');
    assert.equal(room.body.participants.length, 3);

    const startAtMs = performance.now() + 200;
    await Promise.all(callers.map((c, i) => c.stream.play(toneMulaw(CALLERS[i]!.hz, CALLERS[i]!.peakDbfs, 1500), startAtMs)));
    await sleep(200);
    const listed = await call('GET', '/api/recordings');
    assert.equal(listed.body.recordings[0].active, true);
    const stopped = await call('DELETE', '/api/rooms/7300/recording');
    assert.equal(stopped.status, 200);
    assert.equal(stopped.body.active, false);
    assert.deepEqual(stopped.body.tracks.sort(), ['seat1', 'seat2', 'seat3']);

    const wav = await call('GET', `/api/recordings/${id}`);
    assert.equal(wav.status, 200);
    assert.equal(wav.type, 'audio/wav');
    const mix = parseWav(wav.body as Uint8Array);
    assert.equal(mix.sampleRateHz, 8000);
    const view = new DataView((wav.body as Uint8Array).buffer);
    assert.equal(view.getUint32(40, true), mix.samples.length * 2, 'true data size in the header after a clean stop');
    assert.equal(view.getUint32(4, true), 36 + mix.samples.length * 2);
    const start = onset(mix.samples);
    assert.ok(start >= 0, 'the tones are in the recording');
    // 300 ms after the onset (past the talk gate's and ramps' start) for 1 s.
    const from = start + 0.3 * SAMPLE_RATE_HZ;
    const to = from + SAMPLE_RATE_HZ;
    const levels = CALLERS.map(({ hz, peakDbfs }) => toneDbfs(mix.samples, hz, SAMPLE_RATE_HZ, from, to) - sentToneDbfs(hz, peakDbfs));
    measured.push(`recorded mix, tones relative to sent: ${levels.map((l, i) => `${CALLERS[i]!.hz} Hz ${l.toFixed(2)} dB`).join(', ')}`);
    for (const [i, level] of levels.entries())
      assert.ok(Math.abs(level) <= 0.5, `caller ${i + 1} (${CALLERS[i]!.hz} Hz) recorded at ${level.toFixed(2)} dB relative to what it sent`);

    for (let seat = 1; seat <= 3; seat++) {
      const track = await call('GET', `/api/recordings/${id}?track=seat${seat}`);
      assert.equal(track.status, 200);
      const pcm = parseWav(track.body as Uint8Array).samples;
      assert.ok(Math.abs(pcm.length - mix.samples.length) <= 160, `track seat${seat} aligned with the mix (${pcm.length} vs ${mix.samples.length})`);
      const own = toneDbfs(pcm, CALLERS[seat - 1]!.hz, SAMPLE_RATE_HZ, from, to) - sentToneDbfs(CALLERS[seat - 1]!.hz, CALLERS[seat - 1]!.peakDbfs);
      const others = CALLERS.filter((_, i) => i !== seat - 1).map((c) => toneDbfs(pcm, c.hz, SAMPLE_RATE_HZ, from, to) - sentToneDbfs(c.hz, c.peakDbfs));
      assert.ok(Math.abs(own) <= 1, `seat${seat} track: own tone at ${own.toFixed(2)} dB`);
      for (const o of others) assert.ok(o < -40, `seat${seat} track: another caller at ${o.toFixed(1)} dB`);
      if (seat === 1) measured.push(`track seat1: own ${own.toFixed(2)} dB, others <= ${Math.max(...others).toFixed(1)} dB`);
    }
    assert.equal((await call('GET', `/api/recordings/${id}?track=seat9`)).status, 404);
    assert.equal((await call('GET', '/api/recordings/REnotanid')).status, 404);
    assert.equal((await call('GET', '/api/recordings/..%2F..%2Fetc%2Fpasswd')).status, 404);

    assert.equal((await call('DELETE', `/api/recordings/${id}`)).status, 200);
    assert.equal((await readdir(dir)).filter((n) => n.startsWith(id)).length, 0, 'mix, tracks and sidecar deleted');
    assert.equal((await call('GET', `/api/recordings/${id}`)).status, 404);
    await Promise.all(callers.map((c) => c.stream.stop()));
  });

  test('stops by itself when the last caller leaves, and the room closes', async () => {
    const a = await join(t.baseUrl, ['7301']);
    const started = await call('POST', '/api/rooms/7301/recording', {});
    assert.equal(started.status, 201);
    const events: string[] = [];
    t.server.recordings.once('stopped', (info) => events.push(`stopped ${info.id}`));
    await a.stream.stop();
    await until(() => t.server.conference.room('7301') === undefined, 'room closed');
    await until(() => events.length === 1, 'stopped event');
    const list = (await call('GET', '/api/recordings')).body.recordings as any[];
    const rec = list.find((r) => r.id === started.body.id);
    assert.equal(rec.active, false);
    assert.equal(rec.room, '7301');
  });
});

test('RECORD_ROOMS=always records every room from its first caller; ended with the server', async () => {
  const dir = await mkdtemp(joinPath(tmpdir(), 'recordings-always-'));
  const t = await startTestServer({ ADMIN_TOKEN: ADMIN, RECORDINGS_DIR: dir, RECORD_ROOMS: 'always' });
  try {
    const events: string[] = [];
    t.server.recordings.on('started', (info) => events.push(`started ${info.room}`));
    t.server.recordings.on('stopped', (info) => events.push(`stopped ${info.room}`));
    const a = await join(t.baseUrl, ['7400']);
    await until(() => t.server.recordings.isRecording('7400') !== null, 'recording');
    await a.stream.play(toneMulaw(700, -20, 400), performance.now() + 20);
    await sleep(100);
    await t.close();
    assert.deepEqual(events, ['started 7400', 'stopped 7400']);
    const files = (await readdir(dir)).filter((n) => n.endsWith('.wav'));
    assert.equal(files.length, 1);
    const pcm = parseWav(await readFile(joinPath(dir, files[0]!))).samples;
    assert.ok(pcm.length >= 0.4 * SAMPLE_RATE_HZ, `recorded ${pcm.length} samples`);
  } finally {
    await t.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('a crash loses at most the flush interval; the file reads as WAV and repairWav fixes its header', async () => {
  const dir = await mkdtemp(joinPath(tmpdir(), 'recordings-crash-'));
  try {
    const path = joinPath(dir, 'crash.wav');
    const writer = new WavFileWriter(path, { sampleRateHz: 8000, flushIntervalMs: 100 });
    const pcm = tone(440, -12, 2000);
    for (let i = 0; i < pcm.length; i += 160) writer.push(pcm.subarray(i, i + 160));
    await sleep(250); // flushed by the timer
    // "Crash": the process never closes the writer. What is on disk:
    const onDisk = await readFile(path);
    const view = new DataView(onDisk.buffer, onDisk.byteOffset);
    assert.equal(view.getUint32(40, true), 0xffffffff, 'header fixed at start with "unknown" sizes');
    const read = parseWav(onDisk);
    assert.equal(read.samples.length, pcm.length, 'every flushed sample is there');
    assert.equal(await repairWav(path), pcm.length);
    const repaired = await readFile(path);
    assert.equal(new DataView(repaired.buffer, repaired.byteOffset).getUint32(40, true), pcm.length * 2);
    assert.deepEqual(parseWav(repaired).samples, pcm);
    assert.equal((await stat(path)).size, 44 + pcm.length * 2);
    await writer.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('status callbacks: recording-started / -stopped; the recorder is not a participant-join', async () => {
  const bodies: URLSearchParams[] = [];
  const receiver = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      bodies.push(new URLSearchParams(body));
      res.end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const dir = await mkdtemp(joinPath(tmpdir(), 'recordings-events-'));
  const t = await startTestServer({
    ADMIN_TOKEN: ADMIN,
    RECORDINGS_DIR: dir,
    STATUS_CALLBACK_URL: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/events`,
    STATUS_CALLBACK_SECRET: 'recording-test-callback-secret-0123456789',
  });
  try {
    const call = api(t.baseUrl);
    const a = await join(t.baseUrl, ['7500']);
    const started = await call('POST', '/api/rooms/7500/recording', {});
    await sleep(300);
    await call('DELETE', '/api/rooms/7500/recording');
    await a.stream.stop();
    const events = () => bodies.map((b) => b.get('StatusCallbackEvent'));
    await until(() => events().includes('conference-end'), 'conference-end posted', 5000);
    assert.deepEqual(events(), ['conference-start', 'participant-join', 'recording-started', 'recording-stopped', 'participant-leave', 'conference-end']);
    const stopped = bodies.find((b) => b.get('StatusCallbackEvent') === 'recording-stopped')!;
    assert.equal(stopped.get('RecordingSid'), started.body.id);
    assert.equal(stopped.get('Room'), '7500');
    assert.equal(bodies.at(-1)!.get('ReasonConferenceEnded'), 'last-participant-left');
  } finally {
    await t.close();
    await new Promise<void>((resolve) => receiver.close(() => resolve()));
    await rm(dir, { recursive: true, force: true });
  }
});
