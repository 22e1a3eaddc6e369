/**
 * `npm test`'s runner: node's own test runner (`run()` from node:test), in two phases, one report.
 *
 * 1. Every other test file, two at a time. Most of them wait on real 20 ms clocks rather than use
 *    the CPU: run one at a time, the suite took 278 s for 131 s of CPU here.
 * 2. The `*.serial.test.ts` and `*.browser.test.ts` files, one at a time and alone. They judge real
 *    time (every frame, gaps, delays, an echo) with several processes at work: under load (hundreds
 *    of callers, a cluster, a restart), or beside other real-time processes (a bot, the simulator,
 *    chromium); next to another file they would measure its load as well.
 *
 * One reporter prints both phases (TAP, or spec on a terminal, as `node --test` chooses) with one
 * summary at the end counting both, so CI reads one `# tests / # pass / # fail`.
 *
 *   npm test                                                   # lint, typecheck, then this
 *   node --import tsx tools/test.ts test/unit/wav.test.ts      # some files only, each in its phase
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { run } from 'node:test';
import { spec, tap } from 'node:test/reporters';

const DIRS = ['test/unit', 'test/integration'];
const PARALLEL_FILES = 2;
/** The root summary node's runner prints after each run, in its order. */
const SUMMARY_KEYS = ['tests', 'suites', 'pass', 'fail', 'cancelled', 'skipped', 'todo', 'duration_ms'] as const;

type TestEvent = { type: string; data: Record<string, unknown> & { nesting?: number } };

function testFiles(args: string[]): string[] {
  if (args.length > 0) return args;
  return DIRS.flatMap((dir) =>
    readdirSync(dir)
      .filter((name) => name.endsWith('.test.ts'))
      .sort()
      .map((name) => join(dir, name)),
  );
}

/**
 * Both phases' events as one run's: each phase's root summary and plan are held back and given
 * once at the end, summed; top-level test numbers continue from one phase to the next.
 */
async function* phases(groups: Array<{ files: string[]; concurrency: number }>): AsyncGenerator<TestEvent> {
  const totals = new Map<string, number>();
  let topLevel = 0;
  for (const { files, concurrency } of groups) {
    if (files.length === 0) continue;
    const offset = topLevel;
    for await (const event of run({ files, concurrency }) as AsyncIterable<TestEvent>) {
      const { data } = event;
      if (data.nesting === 0) {
        if (event.type === 'test:plan') continue;
        if (event.type === 'test:diagnostic' && data['file'] === undefined) {
          const [key, value] = String(data['message']).split(' ');
          if (SUMMARY_KEYS.includes(key as (typeof SUMMARY_KEYS)[number]) && value !== undefined) {
            totals.set(key!, (totals.get(key!) ?? 0) + Number(value));
            continue;
          }
        }
        if (event.type === 'test:pass' || event.type === 'test:fail') {
          data['testNumber'] = Number(data['testNumber']) + offset;
          topLevel++;
        }
      }
      yield event;
    }
  }
  yield { type: 'test:plan', data: { nesting: 0, count: topLevel } };
  for (const key of SUMMARY_KEYS) {
    yield { type: 'test:diagnostic', data: { nesting: 0, message: `${key} ${totals.get(key) ?? 0}` } };
  }
  if ((totals.get('fail') ?? 0) > 0 || (totals.get('cancelled') ?? 0) > 0 || (totals.get('tests') ?? 0) === 0) {
    process.exitCode = 1;
  }
}

const files = testFiles(process.argv.slice(2));
const runsAlone = (file: string) => file.endsWith('.serial.test.ts') || file.endsWith('.browser.test.ts');
const events = Readable.from(
  phases([
    { files: files.filter((file) => !runsAlone(file)), concurrency: PARALLEL_FILES },
    { files: files.filter(runsAlone), concurrency: 1 },
  ]),
);
const report = process.stdout.isTTY ? events.compose(new spec()) : events.compose(tap);
report.pipe(process.stdout);
