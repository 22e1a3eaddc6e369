/**
 * Issue 17 over a real server: the audio library (a 44.1 kHz stereo upload converted to 8 kHz and
 * kept across a restart), announcements to a room and to one caller (with announcement-end
 * callbacks), wait and hold music, and coaching. Every check measures what callers heard.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join as joinPath } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { rmsDbfs } from '../../src/audio/analysis.js';
import { SAMPLES_PER_FRAME } from '../../src/audio/format.js';
import { fromMulaw, wav } from '../helpers/audio.js';
import { heardToneDbfs, join, sentToneDbfs, sleep, toneMulaw, until } from '../helpers/calls.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const ADMIN = 'audio-library-admin-token-0123456789';

function api(baseUrl: string) {
  return async (method: string, path: string, body?: unknown, contentType = 'application/json') => {
    const raw = body instanceof Uint8Array;
    const res = await fetch(baseUrl + path, {
      method,
      headers: { authorization: `Bearer ${ADMIN}`, 'content-type': raw ? contentType : 'application/json' },
      body: body === undefined ? undefined : raw ? body : JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as any };
  };
}

/** The level of a sine with this peak as heard through mu-law (dBFS). */
const heardLevel = (frequencyHz: number, peakDbfs: number) => sentToneDbfs(frequencyHz, peakDbfs);

function near(actual: number, expected: number, tolerance: number, what: string) {
  assert.ok(Math.abs(actual - expected) <= tolerance, `${what}: ${actual.toFixed(2)} dBFS, expected ${expected.toFixed(2)} +/- ${tolerance}`);
}

describe('audio library, announcements, wait and hold music, coaching', () => {
  let t: TestServer;
  let dir: string;
  const callbacks: URLSearchParams[] = [];
  const receiver = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      callbacks.push(new URLSearchParams(body));
      res.end();
    });
  });
  let call: ReturnType<typeof api>;
  const env = () => ({
    ADMIN_TOKEN: ADMIN,
    AUDIO_DIR: dir,
    AUDIO_MAX_BYTES: '200000',
    HOLD_MUSIC: 'hold',
    STATUS_CALLBACK_URL: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/events`,
    STATUS_CALLBACK_SECRET: 'audio-library-callback-secret-0123456789',
  });

  before(async () => {
    dir = await mkdtemp(joinPath(tmpdir(), 'audio-library-'));
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    t = await startTestServer(env());
    call = api(t.baseUrl);
  });
  after(async () => {
    await t.close();
    await new Promise<void>((resolve) => receiver.close(() => resolve()));
    await rm(dir, { recursive: true, force: true });
  });

  test('a 44.1 kHz stereo WAV is converted to 8 kHz once, kept on disk, listed, and survives a restart', async () => {
    const up = await call('PUT', '/api/audio/chime44', wav(44_100, 2, 1000, -12, 900), 'audio/wav');
    assert.equal(up.status, 201, JSON.stringify(up.body));
    assert.deepEqual(up.body, { name: 'chime44', bundled: false, durationMs: 900, sourceRateHz: 44_100 });
    const pcm = t.server.library.get('chime44')!;
    assert.equal(pcm.length, 7200, '0.9 s at 8 kHz');
    // Converted, not only stored: the 1 kHz tone at its level (a sine's RMS is its peak - 3 dB).
    near(rmsDbfs(pcm, 800, 6400), -15.05, 0.2, 'converted clip level');
    const listed = (await call('GET', '/api/audio')).body.audio;
    assert.deepEqual(
      listed.map((a: { name: string; bundled: boolean }) => [a.name, a.bundled]),
      [
        ['chime44', false],
        ['hold', true],
        ['wait', true],
      ],
    );
    // Replacing answers 200; a second server on the same folder has it.
    assert.equal((await call('PUT', '/api/audio/tone600', wav(8000, 1, 600, -14, 1000), 'audio/wav')).status, 201);
    assert.equal((await call('PUT', '/api/audio/tone600', wav(16_000, 1, 600, -14, 1000), 'application/octet-stream')).status, 200);
    const second = await startTestServer(env());
    try {
      const names = (await api(second.baseUrl)('GET', '/api/audio')).body.audio.map((a: { name: string }) => a.name);
      assert.deepEqual(names, ['chime44', 'hold', 'tone600', 'wait']);
    } finally {
      await second.close();
    }
  });

  test('refusals: a bad WAV (400, one log line), too large (413), bad names, bundled clips, unknown music', async () => {
    const before = t.captured.warnings().length;
    const bad = await call('PUT', '/api/audio/junk', new TextEncoder().encode('RIFF....not a wave file at all'), 'audio/wav');
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.code, 'BAD_REQUEST');
    assert.match(bad.body.error.message, /not a WAV this server reads/);
    const lines = t.captured.warnings().slice(before);
    assert.equal(lines.length, 1, JSON.stringify(lines));
    assert.equal(lines[0]!.msg, 'admin: audio refused');
    const big = await call('PUT', '/api/audio/big', new Uint8Array(250_000), 'audio/wav');
    assert.equal(big.status, 413);
    assert.equal(big.body.error.code, 'PAYLOAD_TOO_LARGE');
    assert.equal((await call('PUT', '/api/audio/Bad%20Name', wav(8000, 1, 600, -14, 100), 'audio/wav')).status, 400);
    assert.equal((await call('PUT', '/api/audio/hold', wav(8000, 1, 600, -14, 100), 'audio/wav')).status, 409);
    assert.equal((await call('DELETE', '/api/audio/wait')).status, 409);
    assert.equal((await call('DELETE', '/api/audio/nothing')).status, 404);
    const unknown = await call('POST', '/api/rooms', { id: '7790', waitMusic: 'nothing' });
    assert.equal(unknown.status, 400);
    assert.match(unknown.body.error.message, /waitMusic: no audio "nothing"/);
    assert.equal((await call('PUT', '/api/audio/gone', wav(8000, 1, 600, -14, 100), 'audio/wav')).status, 201);
    assert.deepEqual((await call('DELETE', '/api/audio/gone')).body, { name: 'gone', deleted: true });
    assert.equal(t.server.library.has('gone'), false);
    // The server is fine: a room still opens.
    assert.equal((await call('POST', '/api/rooms', { id: '7791', holdMusic: 'hold' })).body.holdMusic, 'hold');
  });

  test('an announcement is heard by the room at its level, then gone; one for a caller is heard by that caller only', async () => {
    const a = await join(t.baseUrl, ['7700']);
    const b = await join(t.baseUrl, ['7700']);
    try {
      const expected = heardLevel(1000, -12);
      const t0 = performance.now();
      const room = await call('POST', '/api/rooms/7700/announcements', { audio: 'chime44' });
      assert.equal(room.status, 202);
      assert.match(room.body.id, /^AN[0-9a-f]{32}$/);
      assert.deepEqual({ ...room.body, id: undefined }, { id: undefined, room: '7700', audio: 'chime44', to: null, durationMs: 900 });
      await sleep(1500);
      near(heardToneDbfs(a.stream, 1000, t0 + 250, t0 + 750), expected, 1, 'a hears the announcement');
      near(heardToneDbfs(b.stream, 1000, t0 + 250, t0 + 750), expected, 1, 'b hears the announcement');
      const afterDbfs = heardToneDbfs(a.stream, 1000, t0 + 1100, t0 + 1450);
      assert.ok(afterDbfs <= -60, `after its end the announcement is gone: ${afterDbfs.toFixed(1)} dBFS`);
      assert.equal(t.server.conference.room('7700')!.activeCues, 0, 'the cue was removed');

      const t1 = performance.now();
      const one = await call('POST', '/api/rooms/7700/announcements', { audio: 'chime44', to: a.callSid });
      assert.equal(one.status, 202);
      await sleep(1300);
      near(heardToneDbfs(a.stream, 1000, t1 + 250, t1 + 750), expected, 1, 'a hears its announcement');
      const other = heardToneDbfs(b.stream, 1000, t1 + 250, t1 + 750);
      assert.ok(other <= -60, `b does not hear a's announcement: ${other.toFixed(1)} dBFS`);

      await until(() => callbacks.filter((c) => c.get('StatusCallbackEvent') === 'announcement-end').length === 2, 'two announcement-end callbacks', 4000);
      const ends = callbacks.filter((c) => c.get('StatusCallbackEvent') === 'announcement-end');
      assert.deepEqual(
        ends.map((c) => [c.get('AnnouncementSid'), c.get('Room'), c.get('CallSid'), c.get('Completed')]),
        [
          [room.body.id, '7700', null, 'true'],
          [one.body.id, '7700', a.callSid, 'true'],
        ],
      );
      assert.equal((await call('POST', '/api/rooms/7700/announcements', { audio: 'nothing' })).status, 400);
      assert.equal((await call('POST', '/api/rooms/7700/announcements', { audio: 'chime44', to: 'CAnobody' })).status, 404);
      assert.equal((await call('POST', '/api/rooms/7799/announcements', { audio: 'chime44' })).status, 404);
    } finally {
      await a.stream.stop();
      await b.stream.stop();
    }
  });

  test('a held caller hears the hold music at its level and is not heard; a lone caller hears the wait music', async () => {
    assert.equal((await call('POST', '/api/rooms', { id: '7800', waitMusic: 'tone600' })).status, 201);
    const a = await join(t.baseUrl, ['7800']);
    try {
      const t0 = performance.now();
      await sleep(700);
      near(heardToneDbfs(a.stream, 600, t0 + 200, t0 + 650), heardLevel(600, -14), 1, 'alone, a hears the wait music');
      const b = await join(t.baseUrl, ['7800']);
      try {
        // The bundled hold music by default (the room names none); then the room's own.
        assert.equal((await call('PATCH', `/api/rooms/7800/participants/${b.callSid}`, { hold: true })).status, 200);
        const t1 = performance.now();
        const playing = b.stream.play(toneMulaw(900, -20, 1600), t1);
        await sleep(700);
        const heard = fromMulaw(b.stream.receivedMulaw());
        const from = b.stream.receivedAtMs.findIndex((x) => x >= t1 + 200) * SAMPLES_PER_FRAME;
        const musicDbfs = rmsDbfs(heard, from, from + 3200);
        assert.ok(musicDbfs > -40 && musicDbfs < -25, `b on hold hears the bundled hold music: ${musicDbfs.toFixed(1)} dBFS RMS`);
        assert.equal((await call('PATCH', '/api/rooms/7800', { holdMusic: 'tone600' })).body.holdMusic, 'tone600');
        const t2 = performance.now();
        await playing;
        near(heardToneDbfs(b.stream, 600, t2 + 150, t2 + 800), heardLevel(600, -14), 1, 'b on hold hears the room hold music');
        const leak = heardToneDbfs(a.stream, 900, t1 + 200, t1 + 1500);
        assert.ok(leak <= -60, `a does not hear b on hold: ${leak.toFixed(1)} dBFS`);
        const aMusic = heardToneDbfs(a.stream, 600, t2 + 150, t2 + 800);
        assert.ok(aMusic <= -60, `a hears neither hold nor wait music now: ${aMusic.toFixed(1)} dBFS`);
      } finally {
        await b.stream.stop();
      }
    } finally {
      await a.stream.stop();
    }
  });

  test('coaching: A hears coach C at 0 +/- 1 dB, B hears C at <= -60 dB, C hears A and B', async () => {
    const a = await join(t.baseUrl, ['7900']);
    const b = await join(t.baseUrl, ['7900']);
    const c = await join(t.baseUrl, ['7900']);
    try {
      const coached = await call('PATCH', `/api/rooms/7900/participants/${c.callSid}`, { coaching: a.callSid });
      assert.equal(coached.status, 200);
      assert.equal(coached.body.coaching, true);
      assert.equal(coached.body.callSidToCoach, a.callSid);
      assert.equal((await call('PATCH', `/api/rooms/7900/participants/${c.callSid}`, { coaching: c.callSid })).status, 400);
      assert.equal((await call('PATCH', `/api/rooms/7900/participants/${b.callSid}`, { coaching: c.callSid })).status, 409);
      const start = performance.now() + 100;
      await Promise.all([
        a.stream.play(toneMulaw(500, -20, 1600), start),
        b.stream.play(toneMulaw(700, -20, 1600), start),
        c.stream.play(toneMulaw(1100, -20, 1600), start),
      ]);
      const w = [start + 400, start + 1300] as const;
      const sent = (hz: number) => heardLevel(hz, -20);
      near(heardToneDbfs(a.stream, 1100, ...w), sent(1100), 1, 'A hears the coach');
      near(heardToneDbfs(a.stream, 700, ...w), sent(700), 1, 'A hears B');
      const bHearsC = heardToneDbfs(b.stream, 1100, ...w);
      assert.ok(bHearsC <= -60, `B does not hear the coach: ${bHearsC.toFixed(1)} dBFS`);
      near(heardToneDbfs(b.stream, 500, ...w), sent(500), 1, 'B hears A');
      near(heardToneDbfs(c.stream, 500, ...w), sent(500), 1, 'C hears A');
      near(heardToneDbfs(c.stream, 700, ...w), sent(700), 1, 'C hears B');
      assert.equal((await call('PATCH', `/api/rooms/7900/participants/${c.callSid}`, { coaching: null })).body.coaching, false);
    } finally {
      await Promise.all([a.stream.stop(), b.stream.stop(), c.stream.stop()]);
    }
  });
});
