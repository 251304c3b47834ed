// The app shell: keyboard use (shortcuts, dialogs that trap focus and close on Esc, list
// rows reachable by arrow keys), the dark theme, and the banner shown when no helper
// can be reached.
import fs from 'node:fs';
import path from 'node:path';

import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';

import { ensureHelper, explainHelperFailure } from '../electron/core/helper-launcher';
import { HelperClient } from '../electron/core/helper-client';
import { createBerthService } from '../electron/core/service';
import { startWebServer } from '../electron/web/web-server';
import { openApp, pageErrors, shot } from './support/browser';

const env = inject('e2eEnv');
let browser: Browser;
let page: Page;
let client: HelperClient;

beforeAll(async () => {
  client = await HelperClient.connect(env.socket);
  ({ browser, page } = await openApp(env.url));
});

afterAll(async () => {
  await browser?.close();
  client?.close();
});

const focusedInDialog = (p: Page): Promise<boolean> => p.evaluate(() => Boolean(document.activeElement?.closest('[role=dialog]')));

describe('keyboard', () => {
  it('opens the shortcuts with ?, traps focus in the dialog and closes on Esc', async () => {
    await page.locator('body').click({ position: { x: 700, y: 600 } });
    await page.keyboard.press('?');
    await page.getByRole('dialog', { name: 'Keyboard shortcuts' }).waitFor();
    for (let i = 0; i < 6; i++) {
      await page.keyboard.press('Tab');
      expect(await focusedInDialog(page)).toBe(true);
    }
    await page.keyboard.press('Shift+Tab');
    expect(await focusedInDialog(page)).toBe(true);
    await page.keyboard.press('Escape');
    await page.getByRole('dialog').waitFor({ state: 'detached' });
  });

  it('runs a container with the keyboard only and moves between rows with the arrows', async () => {
    await page.keyboard.press('1');
    await page.keyboard.press('n');
    const dlg = page.getByRole('dialog', { name: 'Run a container' });
    await dlg.waitFor();
    // The image field has focus first; Tab to the name and the command.
    expect(await page.evaluate(() => (document.activeElement as HTMLInputElement).name)).toBe('image');
    await page.keyboard.press('Tab');
    await page.keyboard.type('kbd-one');
    await page.keyboard.press('Tab');
    await page.keyboard.type('busybox sleep 300');
    await page.keyboard.press('Enter');
    await page.getByTestId('detail-name').filter({ hasText: 'kbd-one' }).waitFor();
    // Esc goes back to the list.
    await page.keyboard.press('Escape');
    await page.locator('[data-testid=container-row][data-name=kbd-one]').waitFor();
    await client.call('container.run', { image: 'busybox:latest', name: 'kbd-two', cmd: ['busybox', 'sleep', '300'] });
    await page.locator('[data-testid=container-row][data-name=kbd-two]').waitFor();
    const first = page.locator('[data-testid=container-row]').first();
    await first.focus();
    const firstName = await first.getAttribute('data-name');
    await page.keyboard.press('ArrowDown');
    const focusedName = await page.evaluate(() => document.activeElement?.getAttribute('data-name'));
    expect(focusedName).not.toBe(firstName);
    await page.keyboard.press('Enter');
    await page.getByTestId('detail-name').filter({ hasText: focusedName ?? '' }).waitFor();
    // Arrow keys move between the detail tabs.
    await page.getByRole('tab', { name: 'Overview' }).focus();
    await page.keyboard.press('ArrowRight');
    expect(await page.getByRole('tab', { name: 'Processes' }).getAttribute('aria-selected')).toBe('true');
    await page.keyboard.press('Escape');
    // Delete on a row asks before removing.
    await page.locator('[data-testid=container-row][data-name=kbd-two]').focus();
    await page.keyboard.press('Delete');
    const confirm = page.getByTestId('confirm');
    await confirm.waitFor();
    // The safe choice has focus.
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Cancel');
    await confirm.getByRole('button', { name: 'Kill and remove' }).click();
    await page.locator('[data-testid=container-row][data-name=kbd-two]').waitFor({ state: 'detached' });
    expect(pageErrors(page)).toEqual([]);
  });
});

describe('dark theme', () => {
  it('follows the system colour scheme', async () => {
    const dark = await openApp(env.url, { colorScheme: 'dark' });
    try {
      const bg = await dark.page.evaluate(() => getComputedStyle(document.body).backgroundColor);
      expect(bg).toBe('rgb(21, 23, 27)');
      await dark.page.locator('[data-testid=container-row]').first().waitFor();
      await dark.page.waitForTimeout(3000);
      await shot(dark.page, env.screenshots, '20-dark-containers');
      await dark.page.locator('[data-testid=container-row][data-name=kbd-one]').click();
      await dark.page.getByRole('tab', { name: 'Resources' }).click();
      await dark.page.getByTestId('chart-memory').waitFor();
      await dark.page.waitForTimeout(2000);
      await shot(dark.page, env.screenshots, '21-dark-resources');
      await dark.page.getByTestId('nav-images').click();
      await dark.page.locator('[data-testid=image-row][data-ref="busybox:latest"]').click();
      await dark.page.getByTestId('layer-stack').waitFor();
      await shot(dark.page, env.screenshots, '22-dark-image-detail');
      await dark.page.keyboard.press('n');
      await dark.page.getByTestId('run-dialog').waitFor();
      await shot(dark.page, env.screenshots, '23-dark-run-dialog');
    } finally {
      await dark.browser.close();
    }
  });
});

describe('without a helper', () => {
  it('says why and what to do, and keeps working (renderer, helper status pushed as unavailable)', async () => {
    // The renderer's side: the bridge reports what the service reports when berthd cannot be reached.
    const off = await openApp(env.url, {
      bridge: {
        helperStatus: { state: 'unavailable', reason: 'berthd is not running (/run/berth/berthd.sock: ENOENT)', hint: 'Start it with: sudo systemctl start berthd' },
        failCalls: 'berthd is not available: berthd is not running',
      },
    });
    try {
      const banner = off.page.getByTestId('helper-banner');
      await banner.waitFor();
      expect(await banner.textContent()).toContain('sudo systemctl start berthd');
      await off.page.getByText('Helper unavailable').waitFor();
      // The rest still works: navigation and dialogs; actions that need the helper are disabled.
      expect(await off.page.getByRole('button', { name: /Run container/ }).isDisabled()).toBe(true);
      await off.page.getByTestId('nav-images').click();
      await off.page.getByRole('heading', { name: 'Images', exact: true }).waitFor();
      await off.page.getByTestId('nav-containers').click();
      await off.page.waitForTimeout(300);
      await shot(off.page, env.screenshots, '16-helper-unavailable');
      expect(pageErrors(off.page)).toEqual([]);
    } finally {
      await off.browser.close();
    }
  });

  it('says why through the real service and web mode', async () => {
    const missing = path.join(env.tmp, 'no-such-helper.sock');
    const service = createBerthService({
      connect: async () => (await ensureHelper({ autoStart: false, paths: { socket: missing, root: path.join(env.tmp, 'none'), berthd: '/nonexistent/berthd', log: '/dev/null' } })).client,
      explain: explainHelperFailure,
      retryMs: 60_000,
    });
    const web = await startWebServer({ service, staticDir: env.webDir, port: 0 });
    const off = await openApp(web.url);
    try {
      const banner = off.page.getByTestId('helper-banner');
      await banner.waitFor();
      expect(await banner.textContent()).toMatch(/berthd/);
      expect(fs.existsSync(missing)).toBe(false);
    } finally {
      await off.browser.close();
      service.close();
      await web.close();
    }
  });
});
