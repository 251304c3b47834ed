// Pulling from a local registry (Debian's docker-registry, filled by skopeo) through
// the pull dialog: one progress bar per layer, each reaching done.
import fs from 'node:fs';
import path from 'node:path';

import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';

import { openApp, pageErrors, shot } from './support/browser';
import { writeRandomLayout } from './support/images';
import { LocalRegistry } from './support/registry';

const env = inject('e2eEnv');
let browser: Browser;
let page: Page;
let reg: LocalRegistry;
let work: string;

beforeAll(async () => {
  work = fs.mkdtempSync(path.join(env.tmp, 'pull-'));
  reg = new LocalRegistry(path.join(work, 'registry'));
  await reg.start();
  const layout = path.join(work, 'layout');
  writeRandomLayout(layout, '1', [6 * 1024 * 1024, 9 * 1024 * 1024, 12 * 1024 * 1024]);
  reg.push(layout, '1', 'e2e/pulled:1');
  ({ browser, page } = await openApp(env.url));
});

afterAll(async () => {
  await browser?.close();
  await reg?.stop();
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

describe('pull', () => {
  it('pulls from a local registry with a progress bar per layer', async () => {
    await page.getByTestId('nav-images').click();
    await page.keyboard.press('p');
    const dlg = page.getByTestId('pull-dialog');
    await dlg.waitFor();
    await dlg.locator('input[name=ref]').fill(`${reg.addr}/e2e/pulled:1`);
    // Record every layer's progress as the page sees it, to know bars moved.
    await page.evaluate(() => {
      const seen: string[] = [];
      (window as unknown as { __pullSeen: string[] }).__pullSeen = seen;
      new MutationObserver(() => {
        for (const el of document.querySelectorAll('[data-testid=pull-layer]')) seen.push(`${el.getAttribute('data-status')}:${el.querySelector('[role=progressbar]')?.getAttribute('aria-valuenow')}`);
      }).observe(document.body, { subtree: true, childList: true, attributes: true });
    });
    await dlg.getByRole('button', { name: 'Pull', exact: true }).click();
    await expect.poll(() => dlg.getByTestId('pull-layer').count(), { timeout: 30000 }).toBe(3);
    // A moment with bars under way, for the screenshot (loopback may be too quick for it).
    await dlg
      .locator('[data-testid=pull-layer][data-status=downloading], [data-testid=pull-layer][data-status=extracting]')
      .first()
      .waitFor({ timeout: 10000 })
      .catch(() => undefined);
    await shot(page, env.screenshots, '14-pull-progress');
    await dlg.getByTestId('pull-done').waitFor({ timeout: 60000 });
    const statuses = await dlg.getByTestId('pull-layer').evaluateAll((els) => els.map((e) => e.getAttribute('data-status')));
    expect(statuses).toEqual(['done', 'done', 'done']);
    await shot(page, env.screenshots, '15-pull-done');
    const seen = await page.evaluate(() => (window as unknown as { __pullSeen: string[] }).__pullSeen);
    expect(seen.some((s) => s.startsWith('downloading') || s.startsWith('extracting') || s.startsWith('waiting'))).toBe(true);
    await dlg.getByRole('button', { name: 'Close', exact: true }).last().click();
    await page.locator(`[data-testid=image-row][data-ref="${reg.addr}/e2e/pulled:1"]`).waitFor();
    expect(pageErrors(page)).toEqual([]);
  });
});
