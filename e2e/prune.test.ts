// Housekeeping through the UI: "Remove stopped" on the Containers view lists the stopped
// containers (not a running one) and removes them; "Remove unused" on the Images view
// lists an untagged image no container uses and removes it, a tagged one only when asked.
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';

import { HelperClient } from '../electron/core/helper-client';
import { openApp, pageErrors, shot } from './support/browser';

const env = inject('e2eEnv');
let browser: Browser;
let page: Page;
let client: HelperClient;
const made: string[] = [];

beforeAll(async () => {
  client = await HelperClient.connect(env.socket);
  ({ browser, page } = await openApp(env.url));
});

afterAll(async () => {
  for (const ref of made) await client.call('container.remove', { ref, force: true }).catch(() => undefined);
  await client.call('image.remove', { ref: 'e2e-prune:1' }).catch(() => undefined);
  await browser?.close();
  client?.close();
});

async function containerIds(): Promise<string[]> {
  return (await client.call('container.list', { all: true })).containers.map((c) => c.id);
}

describe('housekeeping', () => {
  it('removes the stopped containers, after listing them, and keeps a running one', async () => {
    const created = await client.call('container.create', { image: 'busybox:latest', name: 'e2e-never-started', cmd: ['true'], network: 'none' });
    const exited = await client.call('container.run', { image: 'busybox:latest', name: 'e2e-exited', cmd: ['true'], network: 'none' });
    const running = await client.call('container.run', { image: 'busybox:latest', name: 'e2e-keeps-running', cmd: ['sleep', '300'], network: 'none' });
    made.push(created.id, exited.id, running.id);
    await client.call('container.wait', { ref: exited.id });

    await page.getByTestId('nav-containers').click();
    await page.locator('[data-testid=container-row][data-name=e2e-exited]').waitFor();
    await page.getByRole('button', { name: 'Remove stopped' }).click();
    const dlg = page.getByTestId('confirm');
    await dlg.waitFor();
    const text = (await dlg.textContent()) ?? '';
    expect(text).toContain('e2e-never-started');
    expect(text).toContain('e2e-exited');
    expect(text).not.toContain('e2e-keeps-running');
    await shot(page, env.screenshots, '16-remove-stopped');
    await dlg.getByRole('button', { name: /^Remove \d+$/ }).click();
    await dlg.waitFor({ state: 'detached' });
    await expect.poll(containerIds).not.toContain(exited.id);
    const left = await containerIds();
    expect(left).not.toContain(created.id);
    expect(left).toContain(running.id);
    await page.locator('[data-testid=container-row][data-name=e2e-exited]').waitFor({ state: 'detached' });
    await page.locator('[data-testid=container-row][data-name=e2e-keeps-running]').waitFor();
  });

  it('removes an untagged image no container uses; tagged ones only when asked', async () => {
    // an untagged image: a commit's tag moved on by a second commit
    const src = await client.call('container.create', { image: 'busybox:latest', cmd: ['true'], network: 'none' });
    made.push(src.id);
    const first = await client.work('container.commit', { ref: src.id, image: 'e2e-prune:1' });
    await client.work('container.commit', { ref: src.id, image: 'e2e-prune:1', message: 'again' });

    await page.getByTestId('nav-images').click();
    await page.locator('[data-testid=image-row][data-ref="e2e-prune:1"]').waitFor();
    await page.getByRole('button', { name: 'Remove unused' }).click();
    const dlg = page.getByTestId('confirm');
    await dlg.waitFor();
    expect(await dlg.textContent()).toContain(`<none> ${first.id.replace(/^sha256:/, '').slice(0, 12)}`);
    expect(await dlg.textContent()).not.toContain('e2e-prune:1');
    // asking for tagged ones too lists the tagged image no container uses
    await dlg.getByLabel(/Tagged images too/).check();
    expect(await dlg.textContent()).toContain('e2e-prune:1');
    await dlg.getByLabel(/Tagged images too/).uncheck();
    await dlg.getByRole('button', { name: /^Remove \d+$/ }).click();
    await dlg.waitFor({ state: 'detached' });
    await expect.poll(async () => (await client.call('image.list')).images.map((i) => i.id)).not.toContain(first.id);
    expect((await client.call('image.list')).images.some((i) => i.refs.includes('e2e-prune:1'))).toBe(true);
    expect(pageErrors(page)).toEqual([]);
  });
});
