/**
 * Test support for the console: Debian's headless Chromium (/usr/bin/chromium, installed by
 * .ci/run) driven by playwright-core, with a fresh profile and the flags that keep it off
 * the network (this machine's network is closed; Chromium would otherwise call home at
 * every start). Playwright gives each launch a fresh, empty profile (--user-data-dir) of
 * its own and removes it on close; it refuses that flag in `args`. Screenshots go to test-output/screenshots/ (git-ignored) for a human to look at.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext } from 'playwright-core';
import { REPO_ROOT } from '../support/cli.js';

const CHROMIUM = process.env.HOZIRON_CHROMIUM ?? '/usr/bin/chromium';
export const SCREENSHOTS = join(REPO_ROOT, 'test-output', 'screenshots');

export interface TestBrowser {
  browser: Browser;
  /** A new context (its own sessionStorage) at a viewport size. */
  context: (width?: number, height?: number) => Promise<BrowserContext>;
  close: () => Promise<void>;
}

export async function launchBrowser(): Promise<TestBrowser> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--headless',
      '--disable-gpu',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-quic',
    ],
  });
  return {
    browser,
    context: (width = 1280, height = 900) => browser.newContext({ viewport: { width, height } }),
    close: () => browser.close(),
  };
}
