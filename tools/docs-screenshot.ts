/**
 * Makes docs/dashboard.png, the README's dashboard screenshot: a server on loopback, a room of
 * simulated callers talking (one muted, one on hold, the room recorded), the dashboard in
 * Debian's chromium. Run by hand after changing the page: `npx tsx tools/docs-screenshot.ts`.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join as joinPath } from 'node:path';
import { launchChromium } from '../test/helpers/browser.js';
import { join, sleep } from '../test/helpers/calls.js';
import { speechLike } from '../test/helpers/audio.js';
import { toMulaw } from '../test/helpers/audio.js';
import { startTestServer } from '../test/helpers/server.js';

const ADMIN = 'docs-screenshot-token-0123456789';
const dir = await mkdtemp(joinPath(tmpdir(), 'docs-shot-'));
const t = await startTestServer({ ADMIN_TOKEN: ADMIN, RECORDINGS_DIR: dir });
const api = (method: string, path: string, body?: unknown) =>
  fetch(t.baseUrl + path, {
    method,
    headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
await api('POST', '/api/rooms', { id: '4711', label: 'Weekly sync', pin: '2468', maxParticipants: 12 });
await api('POST', '/api/rooms', { id: '5000', label: 'Support bridge' });
const numbers = ['+12025550148', '+447700900123', '+33612345678', '+4915123456789'];
const callers = [];
for (const from of numbers) callers.push(await join(t.baseUrl, ['4711', '2468'], { from }));
const other = await join(t.baseUrl, ['830'], { from: '+12125550199' });
const start = performance.now() + 100;
const plays = callers.map((c, i) => c.stream.play(toMulaw(speechLike(14_000, [-14, -20, -30, -24][i]!, i + 1)), start));
void other.stream.play(toMulaw(speechLike(14_000, -22, 9)), start);
await api('PATCH', `/api/rooms/4711/participants/${callers[2]!.callSid}`, { muted: true });
await api('PATCH', `/api/rooms/4711/participants/${callers[3]!.callSid}`, { hold: true });
await api('POST', '/api/rooms/4711/recording', {});
const chromium = await launchChromium([], { viewport: { width: 1280, height: 980 }, colorScheme: 'light' });
const page = await chromium.context.newPage();
await page.goto(`${t.baseUrl}/dashboard#token=${ADMIN}`);
await sleep(9000);
await page.screenshot({ path: 'docs/dashboard.png' });
await chromium.close();
await Promise.all(plays.map((p) => p.catch(() => {})));
await t.close();
await rm(dir, { recursive: true, force: true });
console.log('wrote docs/dashboard.png');
process.exit(0);
