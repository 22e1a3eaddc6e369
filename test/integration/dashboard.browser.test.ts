/**
 * Issue 7: the dashboard in a real browser (Debian's chromium through playwright-core). The page
 * loads with the token from the one-click link, shows a room whose simulated callers join and
 * leave live, a mute click mutes that caller (the other callers' measured audio shows it), an
 * API error is shown in the page, and a screenshot is saved to test/artifacts/dashboard.png. Issue
 * 17: a room's hold music from the create form, coaching and an announcement from the buttons; an
 * existing room's music and moderation edited from its card.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { dirname, join as joinPath } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { browserSkipReason, launchChromium, type LaunchedBrowser } from '../helpers/browser.js';
import { heardToneDbfs, join, sentToneDbfs, sleep, toneMulaw, until } from '../helpers/calls.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

// Run inside the page by playwright (the project's tsconfig has no DOM types).
declare const document: any;
declare const sessionStorage: any;
declare function getComputedStyle(element: unknown, pseudo: string): { content: string };

const ADMIN = 'admin-test-token-0123456789abcdef';
const ARTIFACTS = joinPath(dirname(fileURLToPath(import.meta.url)), '..', 'artifacts');
const skip = browserSkipReason();
const measured: string[] = [];
after(() => {
  if (measured.length) console.log(`# measured: ${measured.join('; ')}`);
});

describe('dashboard in chromium', { skip: skip ?? false }, () => {
  let t: TestServer;
  let chromium: LaunchedBrowser;
  let page: Page;
  const pageErrors: string[] = [];
  const promptAnswers: string[] = [];
  before(async () => {
    t = await startTestServer({ ADMIN_TOKEN: ADMIN });
    chromium = await launchChromium([], { viewport: { width: 1280, height: 860 }, colorScheme: 'light' });
    page = await chromium.context.newPage();
    page.on('pageerror', (e) => pageErrors.push(e.message));
    page.on('console', (m) => {
      // The API's own 4xx answers are expected (the error test); anything else is a bug
      // (and the dial-out's 503: this server has no Twilio credentials; the bad music name's 400).
      if (m.type() === 'error' && !/Failed to load resource: .* (400|404|409|503)/.test(m.text())) pageErrors.push(m.text());
    });
    // confirm() is accepted; prompt() answers the next of promptAnswers (none: empty).
    page.on('dialog', (d) => void d.accept(promptAnswers.shift()));
  });
  after(async () => {
    await chromium?.close();
    await t?.close();
  });

  test('loads from the one-click link, keeps the token out of the URL and the logs, connects live', async () => {
    await page.goto(`${t.baseUrl}/dashboard#token=${encodeURIComponent(ADMIN)}`);
    await page.locator('#connection', { hasText: 'Live' }).waitFor({ timeout: 5000 });
    assert.equal(new URL(page.url()).hash, '', 'the token is taken out of the address bar');
    assert.equal(await page.evaluate(() => sessionStorage.getItem('conference.adminToken')), ADMIN);
    await page.locator('#no-rooms').waitFor({ state: 'visible' });
    assert.ok(!JSON.stringify(t.captured.lines).includes(ADMIN), 'the token is in no server log line');
    // Health charts fill in once a second.
    await page.locator('.metric[data-metric="callers"] .value', { hasText: '0' }).waitFor({ timeout: 3000 });
    await page.locator('.metric[data-metric="busyPercent"] .value', { hasText: /^\d+(\.\d+)? %$/ }).waitFor({ timeout: 3000 });
    assert.equal(await page.locator('.metric.alert').count(), 0, 'not overloaded');
    // Issue 16: Twilio's stream-error reports since start (none here).
    await page.locator('.metric[data-metric="twilioStreamErrors"] .value', { hasText: /^0$/ }).waitFor({ timeout: 3000 });
  });

  test('a room with callers joining and leaving, live; a mute click mutes that caller', async () => {
    const a = await join(t.baseUrl, ['7500'], { from: '+12025550101' });
    const rows = page.locator('[data-room="7500"] tr.person');
    await page.locator('[data-room="7500"]').waitFor({ timeout: 3000 });
    await rows.first().waitFor();
    const b = await join(t.baseUrl, ['7500'], { from: '+12025550102' });
    const c = await join(t.baseUrl, ['7500'], { from: '+12025550103' });
    const d = await join(t.baseUrl, ['7500'], { from: '+12025550104' });
    await page.waitForFunction(() => document.querySelectorAll('[data-room="7500"] tr.person').length === 4, undefined, { timeout: 3000 });
    assert.deepEqual(await rows.locator('td.from').allTextContents(), ['+1******0101', '+1******0102', '+1******0103', '+1******0104']);
    assert.deepEqual(await rows.locator('td.seat').allTextContents(), ['1', '2', '3', '4']);
    await d.stream.stop();
    await page.waitForFunction(() => document.querySelectorAll('[data-room="7500"] tr.person').length === 3, undefined, { timeout: 3000 });

    // A and B talk (tones); C listens. Mute A from the page halfway.
    const t0 = performance.now() + 300;
    const plays = [a.stream.play(toneMulaw(700, -20, 4000), t0), b.stream.play(toneMulaw(1100, -20, 4000), t0)];
    await sleep(t0 - performance.now() + 1000);
    // The speaking indicator and level meter show A talking.
    const rowA = page.locator(`tr[data-call-sid="${a.callSid}"]`);
    await page.waitForFunction((sid) => document.querySelector(`tr[data-call-sid="${sid}"]`)?.classList.contains('talking'), a.callSid, { timeout: 2000 });
    const levelA = Number(await rowA.locator('.meter').getAttribute('aria-valuenow'));
    assert.ok(levelA > -30 && levelA < -15, `A's meter at ${levelA} dBFS`);
    const muteA = rowA.getByRole('button', { name: 'Mute seat 1' });
    await muteA.focus();
    await page.keyboard.press('Enter'); // keyboard, as an operator without a mouse would
    await until(() => t.server.conference.participant(a.callSid)?.muted === true, 'A muted on the server');
    const mutedAt = performance.now();
    await rowA.locator('.muted-badge').waitFor({ state: 'visible', timeout: 2000 });
    assert.equal(await rowA.locator('.act-mute').textContent(), 'Unmute');
    await sleep(Math.max(0, t0 + 3000 - performance.now()));
    await page.screenshot({ path: joinPath(await mkdir(ARTIFACTS, { recursive: true }).then(() => ARTIFACTS), 'dashboard.png') });
    await Promise.all(plays);

    const ref700 = sentToneDbfs(700, -20);
    const ref1100 = sentToneDbfs(1100, -20);
    const before = { b: heardToneDbfs(b.stream, 700, t0 + 300, mutedAt - 200) - ref700, c: heardToneDbfs(c.stream, 700, t0 + 300, mutedAt - 200) - ref700 };
    const afterMute = {
      b: heardToneDbfs(b.stream, 700, mutedAt + 300, t0 + 3800) - ref700,
      c: heardToneDbfs(c.stream, 700, mutedAt + 300, t0 + 3800) - ref700,
    };
    const cHearsB = heardToneDbfs(c.stream, 1100, mutedAt + 300, t0 + 3800) - ref1100;
    measured.push(
      `dashboard mute: A heard by B ${before.b.toFixed(1)} -> ${afterMute.b.toFixed(1)} dB, by C ${before.c.toFixed(1)} -> ${afterMute.c.toFixed(1)} dB; C hears B ${cHearsB.toFixed(1)} dB`,
    );
    assert.ok(Math.abs(before.b) <= 1 && Math.abs(before.c) <= 1, `A heard before the mute (${before.b.toFixed(2)}, ${before.c.toFixed(2)} dB)`);
    assert.ok(afterMute.b < -40 && afterMute.c < -40, `A not heard after the mute (${afterMute.b.toFixed(1)}, ${afterMute.c.toFixed(1)} dB)`);
    assert.ok(Math.abs(cHearsB) <= 1, `B still heard (${cHearsB.toFixed(2)} dB)`);

    // Leaving, live.
    await c.stream.stop();
    await page.waitForFunction(() => document.querySelectorAll('[data-room="7500"] tr.person').length === 2, undefined, { timeout: 3000 });
    await Promise.all([a.stream.stop(), b.stream.stop()]);
    await page.waitForFunction(() => !document.querySelector('[data-room="7500"]'), undefined, { timeout: 3000 });
  });

  test('create a room from the form; an API error is shown in the page', async () => {
    await page.fill('#room-id', '7600');
    await page.fill('#room-label', 'Board call');
    await page.fill('#room-pin', '2468');
    await page.fill('#room-hold', 'wait');
    await page.click('#create-form button[type=submit]');
    await page.locator('[data-room="7600"] .room-label', { hasText: 'Board call' }).waitFor({ timeout: 3000 });
    const stored = await fetch(`${t.baseUrl}/api/rooms/7600`, { headers: { authorization: `Bearer ${ADMIN}` } }).then(
      (r) => r.json() as Promise<{ waitMusic: unknown; holdMusic: unknown }>,
    );
    assert.deepEqual([stored.waitMusic, stored.holdMusic], [null, 'wait'], 'the hold music field reached the room');
    assert.equal(await page.locator('[data-room="7600"] .badge.pin').isVisible(), true);
    await page.fill('#room-id', '7600');
    await page.click('#create-form button[type=submit]');
    await page.locator('#alert', { hasText: 'room 7600 exists' }).waitFor({ timeout: 3000 });
    // Issue 17: "Call a number" asks for the number and posts it; without Twilio credentials the
    // catalog's answer, naming the variables, is shown.
    promptAnswers.push('+15005550100');
    await page.getByRole('button', { name: 'Call a number into room 7600' }).click();
    await page
      .locator('#alert', {
        hasText: 'Calling +15005550100 into room 7600 failed: calling a number needs Twilio REST credentials: set TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN',
      })
      .waitFor({ timeout: 3000 });
    await page.getByRole('button', { name: 'Lock room 7600' }).click();
    await page.locator('[data-room="7600"] .badge.locked').waitFor({ state: 'visible', timeout: 3000 });
    await page.getByRole('button', { name: 'End and delete room 7600' }).click();
    await page.waitForFunction(() => !document.querySelector('[data-room="7600"]'), undefined, { timeout: 3000 });
    assert.deepEqual(pageErrors, []);
  });

  test('issue 17: a moderated room from the form; the moderator shown; mute all (but moderators), the settings, End keeps the room', async () => {
    await page.fill('#room-id', '7700');
    await page.fill('#room-moderator-pin', '97531');
    await page.check('#create-form input[name=waitForModerator]');
    await page.click('#create-form button[type=submit]');
    await page.locator('[data-room="7700"] .badge.moderator-pin').waitFor({ state: 'visible', timeout: 3000 });
    const waitToggle = page.getByRole('button', { name: 'Wait for the moderator' }).and(page.locator('[data-room="7700"] .act-setting'));
    assert.equal(await waitToggle.getAttribute('aria-pressed'), 'true');
    const a = await join(t.baseUrl, ['7700', ''], { from: '+12025550105' });
    await page.locator('[data-room="7700"] .badge.waiting').waitFor({ state: 'visible', timeout: 3000 });
    const m = await join(t.baseUrl, ['7700', '97531'], { from: '+12025550106' });
    await page.locator('[data-room="7700"] .badge.waiting').waitFor({ state: 'hidden', timeout: 3000 });
    const rowM = page.locator(`tr[data-call-sid="${m.callSid}"]`);
    await rowM.locator('.moderator-badge').waitFor({ state: 'visible', timeout: 3000 });
    assert.equal(await page.locator(`tr[data-call-sid="${a.callSid}"] .moderator-badge`).isVisible(), false);
    await page.getByRole('button', { name: 'Mute everyone but the moderators in room 7700' }).click();
    await until(() => t.server.conference.participant(a.callSid)?.hardMuted === true, 'a muted by mute-all');
    assert.equal(t.server.conference.participant(m.callSid)?.muted, false, 'the moderator is not muted');
    await page.locator(`tr[data-call-sid="${a.callSid}"] .muted-badge`, { hasText: 'Muted by moderator' }).waitFor({ timeout: 3000 });
    await page.locator('[data-room="7700"] .act-setting[data-setting="startMuted"]').click();
    await page.locator('[data-room="7700"] .act-setting[data-setting="startMuted"][aria-pressed="true"]').waitFor({ timeout: 3000 });
    await page.getByRole('button', { name: 'End the calls in room 7700 and keep its settings' }).click();
    await Promise.all([a.stream.closed, m.stream.closed]);
    await page.locator('[data-room="7700"] .room-empty').waitFor({ state: 'visible', timeout: 3000 });
    const kept = await fetch(`${t.baseUrl}/api/rooms/7700`, { headers: { authorization: `Bearer ${ADMIN}` } }).then(
      (r) => r.json() as Promise<{ startMuted: boolean; waitForModerator: boolean }>,
    );
    assert.equal(kept.startMuted, true);
    assert.equal(kept.waitForModerator, true);
    assert.deepEqual(pageErrors, []);
  });

  test("an existing room's music and moderation edited from its card (the API's PATCH); a bad clip name shows the API's message", async () => {
    const card = page.locator('[data-room="7700"]');
    const stored = () =>
      fetch(`${t.baseUrl}/api/rooms/7700`, { headers: { authorization: `Bearer ${ADMIN}` } }).then(
        (r) => r.json() as Promise<{ waitMusic: string | null; holdMusic: string | null; waitForModerator: boolean; endWhenModeratorLeaves: boolean }>,
      );
    const waitField = page.getByLabel('Wait music of room 7700');
    const holdField = page.getByLabel('Hold music of room 7700');
    const save = page.getByRole('button', { name: 'Save the music of room 7700' });
    assert.deepEqual([await waitField.inputValue(), await holdField.inputValue()], ['', ''], "the server's music: empty fields");
    await waitField.fill('hold');
    await holdField.fill('wait');
    await save.click();
    await page.locator('#notice', { hasText: 'Set the music of room 7700' }).waitFor({ state: 'attached', timeout: 3000 });
    let room = await stored();
    assert.deepEqual([room.waitMusic, room.holdMusic], ['hold', 'wait'], 'the music reached the room');
    // A clip the library lacks: the API's message, and nothing changed.
    await waitField.fill('nothing');
    await save.click();
    await page.locator('#alert', { hasText: 'Set the music of room 7700 failed: waitMusic: no audio "nothing" in the library' }).waitFor({ timeout: 3000 });
    assert.equal((await stored()).waitMusic, 'hold');
    assert.equal(await waitField.inputValue(), 'nothing', "the operator's edit stays to be corrected");
    // Emptied: the server's music again (null).
    await waitField.fill('');
    await save.click();
    await page.locator('#alert').waitFor({ state: 'hidden', timeout: 3000 });
    for (let i = 0; (room = await stored()).waitMusic !== null; i++) {
      assert.ok(i < 60, "the wait music back to the server's");
      await sleep(50);
    }
    assert.equal(room.holdMusic, 'wait');
    // The moderation toggles of the same card: waitForModerator off, endWhenModeratorLeaves on.
    await card.locator('.act-setting[data-setting="waitForModerator"]').click();
    await card.locator('.act-setting[data-setting="waitForModerator"][aria-pressed="false"]').waitFor({ timeout: 3000 });
    await card.locator('.act-setting[data-setting="endWhenModeratorLeaves"]').click();
    await card.locator('.act-setting[data-setting="endWhenModeratorLeaves"][aria-pressed="true"]').waitFor({ timeout: 3000 });
    room = await stored();
    assert.deepEqual([room.waitForModerator, room.endWhenModeratorLeaves], [false, true]);
    assert.deepEqual(pageErrors, []);
  });

  test('issue 17: coach another caller and announce from the page', async () => {
    const a = await join(t.baseUrl, ['7701'], { from: '+12025550105' });
    const b = await join(t.baseUrl, ['7701'], { from: '+12025550106' });
    try {
      await page.waitForFunction(() => document.querySelectorAll('[data-room="7701"] tr.person').length === 2, undefined, { timeout: 3000 });
      const rowA = page.locator(`tr[data-call-sid="${a.callSid}"]`);
      promptAnswers.push('2');
      await rowA.getByRole('button', { name: 'Coach another caller as seat 1' }).click();
      await until(() => t.server.conference.participant(a.callSid)?.coaching === b.callSid, 'A coaches B on the server');
      await rowA.locator('.coach-badge', { hasText: 'Coaching seat 2' }).waitFor({ state: 'visible', timeout: 2000 });
      await rowA.getByRole('button', { name: 'Stop coaching by seat 1' }).click();
      await until(() => t.server.conference.participant(a.callSid)?.coaching === null, 'coaching ended on the server');
      await rowA.locator('.coach-badge').waitFor({ state: 'hidden', timeout: 2000 });
      promptAnswers.push('hold');
      await page.getByRole('button', { name: 'Play an announcement to room 7701' }).click();
      await until(() => (t.server.conference.room('7701')?.activeCues ?? 0) === 1, 'the announcement playing');
      await page.locator('#alert').waitFor({ state: 'hidden', timeout: 1000 });
    } finally {
      await Promise.all([a.stream.stop(), b.stream.stop()]);
    }
    assert.deepEqual(pageErrors, []);
  });

  test('at capacity: the busy figure turns red and says new calls are refused', { timeout: 20_000 }, async () => {
    // A second server whose budget (1 % of the event loop) is below what its idle loop takes: at
    // capacity from the start (src/timing/capacity.ts).
    const full = await startTestServer({ ADMIN_TOKEN: ADMIN, OVERLOAD_BUSY_PERCENT: '1' });
    const other = await chromium.context.newPage();
    try {
      await other.goto(`${full.baseUrl}/dashboard#token=${encodeURIComponent(ADMIN)}`);
      await other.locator('#connection', { hasText: 'Live' }).waitFor({ timeout: 5000 });
      await other.locator('.metric.alert[data-metric="busyPercent"]').waitFor({ timeout: 4000 });
      const caption = await other.evaluate(() => getComputedStyle(document.querySelector('.metric.alert figcaption'), '::after').content);
      assert.match(caption, /refusing new calls/);
      assert.equal(
        await other.locator('.metric.alert').getAttribute('title'),
        'At capacity: one more call would not fit, so new calls are refused until calls leave',
      );
      assert.equal(await other.locator('.metric.alert').count(), 1, 'only the busy figure');
    } finally {
      await other.close();
      await full.close();
    }
  });

  test('a wrong token is refused and asks to sign in again', async () => {
    const other = await chromium.context.newPage();
    await other.goto(`${t.baseUrl}/dashboard#token=${'x'.repeat(32)}`);
    await other.locator('#sign-in').waitFor({ state: 'visible', timeout: 3000 });
    await other.locator('#alert', { hasText: 'refused' }).waitFor({ timeout: 3000 });
    assert.equal(await other.evaluate(() => sessionStorage.getItem('conference.adminToken')), null);
    await other.close();
  });
});
