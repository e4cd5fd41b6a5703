import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { makeHome, startDaemon, type ApiClient, type TestHome } from '../daemon/support.js';
import { launchBrowser, SCREENSHOTS, type TestBrowser } from './browser.js';

let t: TestHome;
let api: ApiClient;
let b: TestBrowser;

/** Open the console in a new context and sign in with `token`; collects console errors (a CSP violation is one). */
async function signIn(token: string, width?: number): Promise<{ page: Page; errors: string[] }> {
  const ctx = await b.context(width);
  const page = await ctx.newPage();
  const errors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`http://${api.address}/`);
  await page.getByLabel('API key').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  return { page, errors };
}

/** Errors other than the 4xx answers the page expects and shows (Chromium logs each failed fetch). */
function unexpected(errors: string[]): string[] {
  // 4xx: the page's own refusals; 503: the daemon's gate while a live restore runs (by design,
  // with Retry-After), which the page's polling meets during the restore test.
  return errors.filter((e) => !/Failed to load resource: the server responded with a status of (4\d\d|503)/.test(e));
}

describe('the operator console in a real browser', () => {
  beforeAll(async () => {
    t = makeHome();
    api = await startDaemon(t);
    b = await launchBrowser();
  });

  afterAll(async () => {
    await b?.close();
    await t?.cleanup();
  });

  it('signs in, creates a backup and lists it with scope, size, location and encryption', async () => {
    const { page, errors } = await signIn(t.adminToken);
    await page.getByText('admin', { exact: true }).waitFor(); // the role the key signed in with
    await page.getByRole('button', { name: 'Create backup' }).click();
    await page.getByText(/^Backup [0-9a-f-]+ created\.$/).waitFor();
    const card = page.locator('li.backup').first();
    await card.waitFor();
    const text = await card.innerText();
    expect(text).toMatch(/full/);
    expect(text).toMatch(/Location\s+local/);
    expect(text).toMatch(/Encrypted\s+no/);
    expect(text).toMatch(/Verified\s+never/);
    // Verify, then the card says when.
    await card.getByRole('button', { name: /^Verify backup/ }).click();
    await page.getByText(/verified: sound/).waitFor();
    await expect.poll(async () => card.innerText()).toMatch(/Verified\s+\d+ s ago/);
    await page.locator('svg.chart rect.bar').first().waitFor();
    await page.screenshot({ path: join(SCREENSHOTS, 'list.png'), fullPage: true });
    expect(unexpected(errors), errors.join('\n')).toEqual([]);
    await page.context().close();
  });

  it('fits a 360 px phone without sideways scrolling', async () => {
    const { page, errors } = await signIn(t.adminToken, 360);
    await page.locator('li.backup').first().waitFor();
    // A string: the test is compiled without the DOM's types.
    const overflow = await page.evaluate<number>('document.documentElement.scrollWidth - document.documentElement.clientWidth');
    expect(overflow).toBeLessThanOrEqual(0);
    await page.screenshot({ path: join(SCREENSHOTS, 'list-360px.png'), fullPage: true });
    expect(unexpected(errors), errors.join('\n')).toEqual([]);
    await page.context().close();
  });

  it('shows the dry-run plan first and restores only after an explicit confirmation', async () => {
    const { page, errors } = await signIn(t.adminToken);
    const card = page.locator('li.backup').first();
    await card.getByRole('button', { name: /^Restore backup/ }).click();
    const plan = page.getByTestId('restore-plan');
    await plan.waitFor();
    const text = await plan.innerText();
    expect(text).toMatch(/can be restored/);
    expect(text).toMatch(/config\.toml/); // a path that changes
    expect(text).toMatch(/\d+ (s|min) ago/); // the backup's age
    const go = page.getByRole('button', { name: 'Restore now' });
    expect(await go.isDisabled()).toBe(true);
    await page.screenshot({ path: join(SCREENSHOTS, 'restore-plan.png') });
    await page.getByRole('checkbox').check();
    expect(await go.isDisabled()).toBe(false);
    await go.click();
    await page.getByText(/^Restored backup [0-9a-f-]+ \(safety backup [0-9a-f-]+\)\.$/).waitFor({ timeout: 30_000 });
    await page.locator('li.backup .scope', { hasText: 'pre-restore' }).first().waitFor();
    expect(unexpected(errors), errors.join('\n')).toEqual([]);
    await page.context().close();
  });

  it('downloads an archive with an operator key', async () => {
    const { page } = await signIn(t.token('operator'));
    const card = page.locator('li.backup').filter({ hasText: 'full' }).first();
    const [download] = await Promise.all([page.waitForEvent('download'), card.getByRole('button', { name: /^Download backup/ }).click()]);
    expect(download.suggestedFilename()).toMatch(/^hoziron-backup-.*\.tar\.gz$/);
    expect(await card.getByRole('button', { name: /^Restore backup/ }).isDisabled()).toBe(true);
    await page.context().close();
  });

  it('shows a 401 page for a key the daemon does not accept', async () => {
    const { page } = await signIn('hzk_not_a_real_key');
    await page.getByRole('heading', { name: /401/ }).waitFor();
    expect(await page.getByRole('button', { name: 'Sign in with another key' }).isVisible()).toBe(true);
    await page.screenshot({ path: join(SCREENSHOTS, 'unauthorized.png') });
    await page.context().close();
  });

  it('disables the actions a viewer key may not take', async () => {
    const { page, errors } = await signIn(t.token('viewer'));
    await page.locator('li.backup').first().waitFor();
    expect(await page.getByRole('button', { name: 'Create backup' }).isDisabled()).toBe(true);
    expect(await page.getByText('Needs the operator role; this key is viewer.').isVisible()).toBe(true);
    expect(
      await page
        .locator('li.backup')
        .first()
        .getByRole('button', { name: /^Verify backup.*needs the operator role/ })
        .isDisabled(),
    ).toBe(true);
    expect(unexpected(errors), errors.join('\n')).toEqual([]);
    await page.context().close();
  });

  it('shows the reasons of a degraded health answer as a banner', async () => {
    // The daemon's degraded states come from the health route; here its answer is stubbed in
    // the browser, to check how the page shows one.
    const ctx = await b.context();
    await ctx.route('**/v1/health', async (route) => {
      const real = (await (await route.fetch()).json()) as Record<string, unknown>;
      await route.fulfill({
        json: {
          ...real,
          status: 'degraded',
          reasons: ['the last scheduled backup failed: storage path is not writable', 'the newest backup is 3 days old'],
        },
      });
    });
    const page = await ctx.newPage();
    await page.goto(`http://${api.address}/`);
    await page.getByLabel('API key').fill(t.adminToken);
    await page.getByRole('button', { name: 'Sign in' }).click();
    const banner = page.getByRole('alert').filter({ hasText: 'Degraded' });
    await banner.waitFor();
    expect(await banner.innerText()).toMatch(/newest backup is 3 days old/);
    await page.screenshot({ path: join(SCREENSHOTS, 'degraded.png') });
    await ctx.close();
  });

  it('serves the page under a strict Content-Security-Policy, with no inline script', async () => {
    const res = await fetch(`http://${api.address}/`);
    expect(res.headers.get('content-security-policy')).toMatch(/default-src 'none'; script-src 'self'; style-src 'self'/);
    const html = await res.text();
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    const js = /src="(\/assets\/[^"]+\.js)"/.exec(html)![1]!;
    const asset = await fetch(`http://${api.address}${js}`);
    expect(asset.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect((await fetch(`http://${api.address}/assets/..%2Fpackage.json`)).status).toBe(404);
  });
});
