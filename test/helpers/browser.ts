/**
 * Debian's chromium driven by playwright-core, for the browser tests (issue 7). Headless, no
 * sandbox (CI runs as root), no background networking (this machine has no network but loopback),
 * a fresh profile per launch (playwright's own temporary one). `.ci/run` installs chromium through apt when it is missing.
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser, type BrowserContext } from 'playwright-core';

export const CHROMIUM_PATH = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';

/** Why browser tests cannot run here, or null when they can (CI must have chromium: never skips). */
export function browserSkipReason(): string | null {
  if (existsSync(CHROMIUM_PATH)) return null;
  if (process.env['CI']) throw new Error(`${CHROMIUM_PATH} is missing: .ci/run installs it (apt-get install -y chromium)`);
  return `no chromium at ${CHROMIUM_PATH} (apt-get install -y chromium)`;
}

export interface LaunchedBrowser {
  browser: Browser;
  context: BrowserContext;
  close(): Promise<void>;
}

/**
 * Launches chromium (playwright gives it a fresh, temporary --user-data-dir of its own); `args`
 * adds flags (the fake microphone ...).
 */
export async function launchChromium(args: string[] = [], contextOptions: Parameters<Browser['newContext']>[0] = {}): Promise<LaunchedBrowser> {
  const browser = await chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-quic',
      '--no-first-run',
      ...args,
    ],
  });
  const context = await browser.newContext(contextOptions);
  return {
    browser,
    context,
    async close() {
      await context.close().catch(() => {});
      await browser.close().catch(() => {});
    },
  };
}
