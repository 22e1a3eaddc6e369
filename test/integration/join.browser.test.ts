/**
 * Issues 7 and 16: joining a room from a browser (/join), by an invite link (or the admin token). Chromium's fake microphone plays a WAV (a
 * 600 Hz tone); the page resamples it to 8 kHz and mu-law in an AudioWorklet and speaks the Media
 * Streams protocol on /media with a join ticket. A simulated phone caller in the same room hears
 * the browser's tone, and the browser reports hearing the phone caller's 1 kHz tone.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join as joinPath } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { toneDbfs } from '../../src/audio/analysis.js';
import { FULL_SCALE, SAMPLE_RATE_HZ } from '../../src/audio/format.js';
import { encodeWav } from '../../src/audio/wav.js';
import { browserSkipReason, launchChromium, type LaunchedBrowser } from '../helpers/browser.js';
import { fromMulaw } from '../helpers/audio.js';
import { join, sentToneDbfs, sleep, toneMulaw, until } from '../helpers/calls.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

declare const window: any;

const ADMIN = 'admin-test-token-0123456789abcdef';
const ARTIFACTS = joinPath(dirname(fileURLToPath(import.meta.url)), '..', 'artifacts');
const MIC_HZ = 600;
const MIC_PEAK_DBFS = -12;
const PHONE_HZ = 1000;
const skip = browserSkipReason();
const measured: string[] = [];
after(() => {
  if (measured.length) console.log(`# measured: ${measured.join('; ')}`);
});

/** A 48 kHz tone for chromium's fake microphone (it loops the file). */
function micWav(): Uint8Array {
  const rate = 48000;
  const samples = new Int16Array(rate * 4);
  const amplitude = FULL_SCALE * 10 ** (MIC_PEAK_DBFS / 20);
  for (let i = 0; i < samples.length; i++) samples[i] = Math.round(amplitude * Math.sin((2 * Math.PI * MIC_HZ * i) / rate));
  return encodeWav({ sampleRateHz: rate, samples });
}

describe('join from a browser', { skip: skip ?? false }, () => {
  let t: TestServer;
  let dir: string;
  let chromium: LaunchedBrowser;
  let page: Page;
  const pageErrors: string[] = [];
  before(async () => {
    dir = await mkdtemp(joinPath(tmpdir(), 'fake-mic-'));
    const wav = joinPath(dir, 'mic.wav');
    await writeFile(wav, micWav());
    t = await startTestServer({ ADMIN_TOKEN: ADMIN });
    chromium = await launchChromium([
      '--use-fake-ui-for-media-stream',
      '--use-fake-device-for-media-stream',
      `--use-file-for-fake-audio-capture=${wav}`,
      '--autoplay-policy=no-user-gesture-required',
    ]);
    await chromium.context.grantPermissions(['microphone'], { origin: t.baseUrl });
    page = await chromium.context.newPage();
    page.on('pageerror', (e) => pageErrors.push(e.message));
  });
  const makeInvite = async (room: string): Promise<{ id: string; url: string }> => {
    const res = await fetch(`${t.baseUrl}/api/rooms/${room}/invites`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ ttlSeconds: 600 }),
    });
    assert.equal(res.status, 201);
    return (await res.json()) as { id: string; url: string };
  };
  after(async () => {
    await chromium?.close();
    await t?.close();
    await rm(dir, { recursive: true, force: true });
  });

  test('without an invite (default JOIN_PAGE=invite) the page is refused, and a revoked invite too', async () => {
    const created = await fetch(`${t.baseUrl}/api/rooms`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ id: '7701', pin: '2468' }),
    });
    assert.equal(created.status, 201);
    await page.goto(`${t.baseUrl}/join?room=7701`);
    await page.fill('#pin', '2468');
    await page.click('#join-button');
    await page.locator('#alert', { hasText: 'takes no PINs from the browser' }).waitFor({ timeout: 3000 });
    const invite = await makeInvite('7701');
    const revoked = await fetch(`${t.baseUrl}/api/rooms/7701/invites/${invite.id}`, { method: 'DELETE', headers: { authorization: `Bearer ${ADMIN}` } });
    assert.equal(revoked.status, 200);
    await page.goto(invite.url);
    assert.equal(await page.isVisible('#invite-note'), true);
    await page.click('#join-button');
    await page.locator('#alert', { hasText: 'invite link is not valid' }).waitFor({ timeout: 3000 });
    assert.equal(t.server.conference.room('7701'), undefined);
  });

  test("a phone caller hears the browser's microphone; the browser hears the phone caller", async () => {
    const phone = await join(t.baseUrl, ['7700']);
    // An invite link, as the operator would send it (the phone caller opened the room).
    await page.goto((await makeInvite('7700')).url);
    await page.click('#join-button');
    await page.locator('#status', { hasText: 'In room 7700' }).waitFor({ timeout: 5000 });
    await until(() => t.server.conference.room('7700')?.size === 2, 'the browser in the room', 5000);
    const browserSid = t.server.conference
      .room('7700')!
      .participants()
      .find((p) => p.callSid !== phone.callSid)!.callSid;
    assert.equal(t.server.conference.participant(browserSid)?.info.seat, 2);

    const t0 = performance.now() + 100;
    const play = phone.stream.play(toneMulaw(PHONE_HZ, -20, 3000), t0);
    await sleep(2500);
    // What the browser heard in the last 1.5 s, as it reports it.
    const heardByBrowser = Int16Array.from(await page.evaluate(() => Array.from(window.joinState.recent(1.5) as Int16Array)));
    const state = await page.evaluate(() => ({
      framesSent: window.joinState.framesSent,
      framesReceived: window.joinState.framesReceived,
      marks: window.joinState.marksEchoed,
      heard: window.joinState.heardDbfs,
    }));
    await mkdir(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: joinPath(ARTIFACTS, 'join.png') });
    await play;
    const phoneLevelInBrowser = toneDbfs(heardByBrowser, PHONE_HZ, SAMPLE_RATE_HZ) - sentToneDbfs(PHONE_HZ, -20);
    const micInBrowser = toneDbfs(heardByBrowser, MIC_HZ, SAMPLE_RATE_HZ);

    // What the phone heard over the same time: the browser's 600 Hz tone.
    const heardByPhone = fromMulaw(phone.stream.receivedMulaw());
    const last = heardByPhone.length;
    const first = Math.max(0, last - 1.5 * SAMPLE_RATE_HZ);
    const micAtPhone = toneDbfs(heardByPhone, MIC_HZ, SAMPLE_RATE_HZ, first, last);
    // The fake microphone's tone, as sent (RMS of a sine: peak - 3 dB).
    const micSentDbfs = MIC_PEAK_DBFS - 3.01;
    measured.push(
      `browser join: phone's 1 kHz in the browser ${phoneLevelInBrowser.toFixed(2)} dB rel. sent; browser mic 600 Hz at the phone ${micAtPhone.toFixed(1)} dBFS (file ${micSentDbfs.toFixed(1)} dBFS); frames sent ${state.framesSent}, received ${state.framesReceived}, marks echoed ${state.marks}`,
    );
    assert.ok(state.framesSent > 100 && state.framesReceived > 100, `frames flow both ways (${state.framesSent} sent, ${state.framesReceived} received)`);
    assert.ok(state.marks > 0, 'marks echoed after playout');
    assert.ok(Math.abs(phoneLevelInBrowser) <= 1, `the browser hears the phone's tone at ${phoneLevelInBrowser.toFixed(2)} dB`);
    assert.ok(micInBrowser < -60, `the browser does not hear itself (${micInBrowser.toFixed(1)} dBFS)`);
    assert.ok(Math.abs(micAtPhone - micSentDbfs) <= 3, `the phone hears the browser's tone at ${micAtPhone.toFixed(1)} dBFS (sent ${micSentDbfs.toFixed(1)})`);
    assert.ok(state.heard > -40, `the page shows what it hears (${state.heard} dBFS)`);

    await page.click('#leave-button');
    await until(() => t.server.conference.participant(browserSid) === undefined, 'the browser left', 3000);
    assert.equal(t.server.conference.room('7700')?.size, 1);
    await phone.stream.stop();
    assert.deepEqual(pageErrors, []);
  });

  test("the dashboard's Invite button makes a link that admits a browser", async () => {
    const dashboard = await chromium.context.newPage();
    try {
      await dashboard.goto(`${t.baseUrl}/dashboard#token=${encodeURIComponent(ADMIN)}`);
      // The link is shown in a prompt, which blocks the page: dismissed as it opens, or the click never finishes.
      let url = '';
      dashboard.once('dialog', (dialog) => {
        url = dialog.defaultValue();
        void dialog.dismiss();
      });
      await dashboard.click('[data-room="7701"] .act-invite');
      await until(() => url !== '', 'the invite link shown', 5000);
      assert.match(url, new RegExp(`^${t.baseUrl}/join\\?room=7701#invite=i1\\.7701\\.`));
      const invite = new URL(url).hash.slice('#invite='.length);
      const res = await fetch(`${t.baseUrl}/join/ticket`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ room: '7701', invite }),
      });
      assert.equal(res.status, 200);
    } finally {
      await dashboard.close();
    }
  });
});

test('with Twilio signature checks on (TWILIO_AUTH_TOKEN), the browser still gets in with its ticket', { skip: skip ?? false }, async () => {
  const t = await startTestServer({ ADMIN_TOKEN: ADMIN, TWILIO_ACCOUNT_SID: 'AC0123456789abcdef0123456789abcdef', TWILIO_AUTH_TOKEN: 'test-auth-token' });
  const chromium = await launchChromium(['--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream', '--autoplay-policy=no-user-gesture-required']);
  try {
    await chromium.context.grantPermissions(['microphone'], { origin: t.baseUrl });
    const page = await chromium.context.newPage();
    // The web entry never opens a room: the administrator stores it first.
    const created = await fetch(`${t.baseUrl}/api/rooms`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ id: '7800' }),
    });
    assert.equal(created.status, 201);
    await page.goto(`${t.baseUrl}/join?room=7800`);
    await page.fill('#token', ADMIN);
    await page.click('#join-button');
    await until(() => t.server.conference.room('7800')?.size === 1, 'the browser in the room', 5000);
    await page.click('#leave-button');
    await until(() => t.server.conference.room('7800') === undefined, 'left', 3000);
  } finally {
    await chromium.close();
    await t.close();
  }
});
