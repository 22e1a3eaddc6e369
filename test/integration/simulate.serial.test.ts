/**
 * `npm run simulate` with the three bundled voices, as a user runs it (a child process against a
 * real server): it must write three WAVs in which each caller hears the other two and not itself.
 * The WAVs are judged here independently of the simulator's own report.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { bestFrameLag, followSource, percentile, rmsDbfs } from '../../src/audio/analysis.js';
import { SAMPLE_RATE_HZ, SAMPLES_PER_FRAME } from '../../src/audio/format.js';
import { parseWav } from '../../src/audio/wav.js';
import { fromMulaw, toMulaw } from '../helpers/audio.js';
import { startTestServer } from '../helpers/server.js';

const run = promisify(execFile);
const root = join(import.meta.dirname, '..', '..');
const names = ['alice', 'bob', 'carol'];
const GAP_MS = 400; // the simulator's default gap between talkers

test('npm run simulate: each of three callers hears the other two at 0 dB and not itself', async () => {
  const server = await startTestServer();
  const out = await mkdtemp(join(tmpdir(), 'simulate-'));
  try {
    const wavs = names.map((n) => join(root, 'test', 'fixtures', 'voices', `${n}.wav`));
    const { stdout } = await run(
      process.execPath,
      ['--import', 'tsx', join(root, 'tools', 'simulate.ts'), '--url', server.baseUrl, '--room', '1234', ...wavs.flatMap((w) => ['--wav', w]), '--out', out],
      { cwd: root, timeout: 60_000 },
    );
    assert.match(stdout, /who heard whom/);

    // What each caller sent, as the server decodes it, and where it sits on the shared timeline.
    const sources = await Promise.all(wavs.map(async (w) => fromMulaw(toMulaw(parseWav(await readFile(w)).samples))));
    // (the simulator starts talker k after the others' durations and gaps, on a 20 ms boundary)
    const offsets: number[] = [];
    let offsetMs = 0;
    for (const s of sources) {
      offsets.push(Math.round(offsetMs / 20) * SAMPLES_PER_FRAME);
      offsetMs += (s.length / SAMPLE_RATE_HZ) * 1000 + GAP_MS;
    }

    for (const [i, name] of names.entries()) {
      const heard = parseWav(await readFile(join(out, `${name}.heard.wav`)));
      assert.equal(heard.sampleRateHz, SAMPLE_RATE_HZ);
      // Where each other caller's voice is in this recording, and how loud relative to what it sent.
      const starts: number[] = [];
      for (const [j, source] of sources.entries()) {
        if (j === i) continue;
        // Where the voice is overall, then segment by segment (a loaded machine may slip a frame).
        const { lagFrames } = bestFrameLag(source, heard.samples, 0, Math.ceil(heard.samples.length / SAMPLES_PER_FRAME) - 10);
        const segments = followSource(source, heard.samples, lagFrames, { segmentFrames: 10 });
        assert.ok(segments.length >= 15, `${name}: ${names[j]} has ${segments.length} 200 ms segments with speech`);
        const clear = segments.filter((m) => m.correlation > 0.98).length / segments.length;
        const level = percentile(
          segments.map((m) => m.levelDb),
          0.5,
        );
        assert.ok(clear >= 0.8, `${name} hears ${names[j]} clearly in ${(clear * 100).toFixed(0)} % of segments`);
        assert.ok(Math.abs(level) <= 1, `${name} hears ${names[j]} at ${level.toFixed(2)} dB (median of segments)`);
        const at = lagFrames * SAMPLES_PER_FRAME;
        starts.push(at - offsets[j]!);
      }
      // The shared timeline's origin in this recording, from the others; own voice sat there + its offset.
      assert.ok(Math.abs(starts[0]! - starts[1]!) <= 3 * SAMPLES_PER_FRAME, 'the other two agree on the timeline');
      const ownAt = starts[0]! + offsets[i]!;
      const own = rmsDbfs(heard.samples, ownAt, ownAt + sources[i]!.length) - rmsDbfs(sources[i]!);
      assert.ok(own <= -40, `${name} hears itself at ${own.toFixed(1)} dB`);
    }
    const report = JSON.parse(await readFile(join(out, 'report.json'), 'utf8'));
    assert.equal(report.pairs.length, 9);
  } finally {
    await rm(out, { recursive: true, force: true });
    await server.close();
  }
});
