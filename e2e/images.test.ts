// Images through the UI: the list, a three-layer image with a deletion drawn as three
// blocks, a layer's file tree with the whiteout shown as a deletion, the remove warning.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';

import { HelperClient } from '../electron/core/helper-client';
import { openApp, pageErrors, shot } from './support/browser';
import { buildThreeLayerImage } from './support/images';

const env = inject('e2eEnv');
let browser: Browser;
let page: Page;
let client: HelperClient;
let work: string;

beforeAll(async () => {
  client = await HelperClient.connect(env.socket);
  work = fs.mkdtempSync(path.join(env.tmp, 'images-'));
  await buildThreeLayerImage(client, work, 'e2e-three');
  ({ browser, page } = await openApp(env.url));
});

afterAll(async () => {
  await browser?.close();
  client?.close();
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

describe('images', () => {
  it('lists images with size and age', async () => {
    await page.getByTestId('nav-images').click();
    await page.locator('[data-testid=image-row][data-ref="e2e-three:latest"]').waitFor();
    await shot(page, env.screenshots, '11-images');
  });

  it('opens a 3-layer image with a deletion: 3 blocks, the deletion counted', async () => {
    await page.locator('[data-testid=image-row][data-ref="e2e-three:latest"]').click();
    await page.getByTestId('layer-stack').waitFor();
    expect(await page.getByTestId('layer-block').count()).toBe(3);
    expect(await page.getByTestId('layer-count').textContent()).toBe('3');
    const middle = page.locator('[data-testid=layer-block][data-index="1"]');
    expect(await middle.getByTestId('layer-deleted').textContent()).toContain('1');
    // The base block sits at the bottom of the stack.
    const base = await page.locator('[data-testid=layer-block][data-index="0"]').boundingBox();
    const top = await page.locator('[data-testid=layer-block][data-index="2"]').boundingBox();
    expect(base && top && base.y > top.y).toBe(true);
    await middle.click();
    await expect.poll(() => page.getByTestId('facts-deleted').textContent()).toBe('1');
    const tree = page.getByTestId('file-tree');
    await tree.getByRole('button', { name: 'data/' }).click();
    const deleted = tree.locator('tr[data-change=deleted]');
    await deleted.waitFor();
    expect(await deleted.textContent()).toContain('b.txt');
    await shot(page, env.screenshots, '12-image-detail');
  });

  it('imports a rootfs tarball from a file path', async () => {
    const dir = fs.mkdtempSync(path.join(work, 'imp-'));
    fs.mkdirSync(path.join(dir, 'bin'));
    fs.copyFileSync('/bin/busybox', path.join(dir, 'bin/busybox'));
    fs.writeFileSync(path.join(dir, 'hello.txt'), 'hello\n');
    const tar = path.join(work, 'imported.tar');
    execFileSync('tar', ['-C', dir, '-cf', tar, '.']);
    await page.getByTestId('nav-images').click();
    await page.keyboard.press('i');
    const dlg = page.getByTestId('import-dialog');
    await dlg.waitFor();
    await dlg.locator('input[name=path]').fill(tar);
    await dlg.locator('select[name=format]').selectOption('rootfs');
    await dlg.locator('input[name=ref]').fill('e2e-imported:1');
    await dlg.locator('input[name=cmd]').fill('busybox sh');
    await shot(page, env.screenshots, '17-import-dialog');
    await dlg.getByRole('button', { name: 'Import', exact: true }).click();
    await dlg.waitFor({ state: 'detached', timeout: 60000 });
    await page.getByTestId('image-title').filter({ hasText: 'e2e-imported:1' }).waitFor();
    expect(await page.getByTestId('layer-block').count()).toBe(1);
  });

  it('warns before removing an image a container uses', async () => {
    const c = await client.call('container.run', { image: 'e2e-three:latest', name: 'e2e-user', cmd: ['busybox', 'sleep', '300'] });
    await page.getByTestId('nav-images').click();
    const row = page.locator('[data-testid=image-row][data-ref="e2e-three:latest"]');
    await row.getByText('1 container').waitFor();
    await row.getByRole('button', { name: 'Remove e2e-three:latest' }).click();
    await page.getByTestId('image-in-use').waitFor();
    expect(await page.getByTestId('image-in-use').textContent()).toContain('e2e-user');
    await shot(page, env.screenshots, '13-image-remove-warning');
    await page.keyboard.press('Escape');
    await page.getByTestId('confirm').waitFor({ state: 'detached' });
    await client.call('container.remove', { ref: c.id, force: true });
    expect(pageErrors(page)).toEqual([]);
  });
});
