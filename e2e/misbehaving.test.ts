// The UI while containers misbehave: one is OOM-killed, one fork-bombs against its pids
// limit, one spins the CPU against its quota. The list and the details keep answering
// and report each one correctly; a well-behaved container's terminal still works.
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';

import { HelperClient } from '../electron/core/helper-client';
import { focusTerminal, openApp, pageErrors, shot } from './support/browser';

const env = inject('e2eEnv');
let browser: Browser;
let page: Page;
let client: HelperClient;
const names = ['e2e-oom', 'e2e-bomb', 'e2e-spin', 'e2e-calm'];

const row = (name: string) => page.locator(`[data-testid=container-row][data-name=${name}]`);

async function openDetail(name: string): Promise<void> {
  await page.getByRole('navigation', { name: 'Main' }).getByRole('button', { name: /Containers/ }).click();
  await row(name).click();
  await page.getByTestId('detail-name').filter({ hasText: name }).waitFor();
}

beforeAll(async () => {
  client = await HelperClient.connect(env.socket);
  ({ browser, page } = await openApp(env.url));
});

afterAll(async () => {
  for (const n of names) await client?.call('container.remove', { ref: n, force: true }).catch(() => undefined);
  await browser?.close();
  client?.close();
});

describe('misbehaving containers', () => {
  it('reports an OOM kill, a fork bomb at its pids limit and a CPU spinner, and keeps working', async () => {
    const run = (name: string, cmd: string, limits: { memory?: number; cpus?: number; pids?: number }) =>
      client.call('container.run', { image: 'busybox', name, cmd: ['sh', '-c', cmd], limits, network: 'none' });
    await run('e2e-calm', 'sleep 600', {});
    await run('e2e-spin', 'while :; do :; done', { cpus: 0.5 });
    // forks until refused, forever (an inner shell that dies of a failed fork is started
    // again); each child sleeps, so the count stays at the limit
    await run('e2e-bomb', `while :; do sh -c 'while :; do sleep 600 & done' 2>/dev/null; done`, { pids: 20, cpus: 0.25 });
    await run('e2e-oom', 'dd if=/dev/zero of=/dev/null bs=64M count=1', { memory: 16 * 1024 * 1024 });

    await page.getByRole('navigation', { name: 'Main' }).getByRole('button', { name: /Containers/ }).click();
    await expect.poll(() => row('e2e-oom').getByTestId('state').textContent(), { timeout: 20_000 }).toBe('OOM killed');
    for (const n of ['e2e-bomb', 'e2e-spin', 'e2e-calm']) await expect.poll(() => row(n).getByTestId('state').textContent()).toBe('Running');

    await openDetail('e2e-oom');
    await expect.poll(() => page.getByTestId('exit-box').textContent()).toMatch(/OOM killed/);

    // the bomb sits at its limit: the Resources tab says "20 of 20" (or 19, in the moment
    // an inner shell that died of a refused fork is started again)
    await openDetail('e2e-bomb');
    await page.getByRole('tab', { name: 'Resources' }).click();
    const pidsTile = page.locator('.tile').filter({ hasText: 'PIDs' }).locator('.value');
    await expect.poll(() => pidsTile.textContent(), { timeout: 20_000 }).toMatch(/^(19|20)\s*of 20$/);
    await shot(page, env.screenshots, '50-fork-bomb-resources');

    // the spinner runs against its quota (loose: the machine may be busy)
    await openDetail('e2e-spin');
    await page.getByRole('tab', { name: 'Resources' }).click();
    await expect.poll(() => page.locator('.tile').filter({ hasText: 'CPU' }).locator('.value').textContent(), { timeout: 20_000 }).toMatch(/quota 50/);

    // and a shell in the calm one still answers
    await openDetail('e2e-calm');
    await page.getByRole('tab', { name: 'Terminal' }).click();
    await page.getByTestId('open-shell').click();
    await page.locator('[data-testid=terminal] .xterm').waitFor();
    await focusTerminal(page);
    await page.keyboard.type('echo still-$((40+2))\n');
    await expect.poll(() => page.locator('[data-testid=terminal] .xterm-rows').innerText(), { timeout: 20_000 }).toContain('still-42');
    expect(pageErrors(page)).toEqual([]);
  });
});
