/**
 * npm run simulate -- --room 1234 --wav a.wav --wav b.wav --wav c.wav --out out/
 *
 * Plays each WAV as one phone caller, exactly as Twilio would (voice webhook, TwiML followed,
 * the number keyed at the prompt, Media Stream WebSocket, real-time 20 ms mu-law frames), and
 * writes what each caller heard as a WAV in --out, with a report of who heard whom at what level
 * and with what delay. Without --url, and with nothing listening on PORT, it starts a server of
 * its own for the run.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { SAMPLE_RATE_HZ } from '../src/audio/format.js';
import { resample } from '../src/audio/resample.js';
import { encodeWav, parseWav } from '../src/audio/wav.js';
import { parseConfig } from '../src/config.js';
import { createServer } from '../src/server.js';
import { LEVEL_FLOOR_DB, runSimulation, type SimCaller } from '../src/sim/simulation.js';

const usage = `usage: npm run simulate -- --room 1234 --wav a.wav --wav b.wav [--wav ...] [--out out/]
  --url URL      server to call (default http://localhost:$PORT, or 3000; if nothing answers
                 there and --url was not given, a server is started in-process for the run)
  --room N       conference number to key at the prompt (default 1234)
  --wav FILE     one caller per file (any rate/channels; converted to 8 kHz mono)
  --out DIR      where to write <name>.heard.wav and report.json (default out/)
  --overlap      everyone talks at once (default: one after another, like a conversation)
  --gap-ms MS    silence between talkers when not overlapping (default 400)
  --direct       join with POST /voice?room=N instead of keying the number
  --jitter-ms MS network jitter: each caller's frames arrive in bursts every MS ms (default 0);
                 the delay column then includes what the jitter buffer needed to absorb it`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      url: { type: 'string' },
      room: { type: 'string', default: '1234' },
      wav: { type: 'string', multiple: true, default: [] },
      out: { type: 'string', default: 'out' },
      overlap: { type: 'boolean', default: false },
      'gap-ms': { type: 'string', default: '400' },
      direct: { type: 'boolean', default: false },
      'jitter-ms': { type: 'string', default: '0' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help || values.wav.length === 0) {
    console.log(usage);
    process.exit(values.help ? 0 : 2);
  }
  const gapMs = Number(values['gap-ms']);
  if (!Number.isFinite(gapMs) || gapMs < 0) throw new Error('--gap-ms must be a number of milliseconds >= 0');
  if (!/^\d{1,32}$/.test(values.room)) throw new Error('--room must be digits');
  const burstMs = Number(values['jitter-ms']);
  if (!Number.isFinite(burstMs) || burstMs < 0 || burstMs > 1000) throw new Error('--jitter-ms must be a number of milliseconds from 0 to 1000');

  const callers: SimCaller[] = [];
  let offsetMs = 0;
  const names = new Set<string>();
  for (const file of values.wav) {
    const wav = parseWav(await readFile(file));
    const audio = wav.sampleRateHz === SAMPLE_RATE_HZ ? wav.samples : resample(wav.samples, wav.sampleRateHz, SAMPLE_RATE_HZ);
    let name = basename(file, extname(file));
    while (names.has(name)) name += '_';
    names.add(name);
    callers.push({ name, audio, startOffsetMs: values.overlap ? 0 : offsetMs });
    offsetMs += (audio.length / SAMPLE_RATE_HZ) * 1000 + gapMs;
  }

  const port = Number(process.env.PORT ?? 3000);
  let baseUrl = values.url ?? `http://localhost:${port}`;
  let ownServer: ReturnType<typeof createServer> | null = null;
  if (!values.url && !(await answers(baseUrl))) {
    ownServer = createServer(parseConfig({ ROOMS_DB_PATH: ':memory:' }));
    const { port: ownPort } = await ownServer.listen(0, '127.0.0.1');
    baseUrl = `http://127.0.0.1:${ownPort}`;
    console.log(`nothing answered at http://localhost:${port}: started a server for this run at ${baseUrl}`);
  }

  console.log(`calling ${baseUrl}, room ${values.room}: ${callers.map((c) => c.name).join(', ')} (${values.overlap ? 'all at once' : 'one after another'})`);
  const report = await runSimulation({ baseUrl, room: values.room, callers, direct: values.direct, burstMs });
  await ownServer?.close();

  await mkdir(values.out, { recursive: true });
  for (const c of report.callers) {
    await writeFile(join(values.out, `${c.name}.heard.wav`), encodeWav({ sampleRateHz: SAMPLE_RATE_HZ, samples: c.heard }));
  }
  await writeFile(
    join(values.out, 'report.json'),
    JSON.stringify(
      {
        baseUrl,
        room: values.room,
        pairs: report.pairs,
        callers: report.callers.map((c) => ({
          name: c.name,
          callSid: c.callSid,
          close: c.close,
          protocolErrors: c.protocolErrors,
          framesHeard: c.receivedAtMs.length,
        })),
      },
      null,
      2,
    ),
  );

  console.log('\nwho heard whom (level relative to what the talker sent; own voice should be far below 0 dB):');
  const fmt = (v: number, digits = 1) => (Number.isFinite(v) ? v.toFixed(digits) : '-');
  console.log(['listener', 'source', 'level dB', 'delay p50 ms', 'delay p99 ms'].map((h) => h.padEnd(14)).join(''));
  for (const p of report.pairs) {
    const own = p.listener === p.source;
    const level = p.levelDb <= LEVEL_FLOOR_DB ? `<= ${LEVEL_FLOOR_DB}` : fmt(p.levelDb);
    console.log(
      [p.listener, own ? `${p.source} (own)` : p.source, level, own ? '-' : fmt(p.delayMsP50), own ? '-' : fmt(p.delayMsP99)]
        .map((v) => String(v).padEnd(14))
        .join(''),
    );
  }
  const problems = report.callers.flatMap((c) => c.protocolErrors.map((e) => `${c.name}: ${e}`));
  if (problems.length) console.log(`\nprotocol problems in what the server sent:\n  ${problems.join('\n  ')}`);
  console.log(`\nwrote ${report.callers.map((c) => join(values.out, `${c.name}.heard.wav`)).join(', ')} and ${join(values.out, 'report.json')}`);
}

async function answers(baseUrl: string): Promise<boolean> {
  try {
    const res = await fetch(new URL('/health', baseUrl), { signal: AbortSignal.timeout(1000) });
    return res.ok;
  } catch {
    return false;
  }
}

main().catch((error) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
