// Containers through the UI: run busybox from the dialog, see it running, its PID tree,
// a terminal, the memory chart's limit line, logs, namespaces, the start timeline, the
// writable layer; pause and resume one; then stop and remove it.
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';

import { HelperClient } from '../electron/core/helper-client';
import { focusTerminal, openApp, pageErrors, shot } from './support/browser';

const env = inject('e2eEnv');
let browser: Browser;
let page: Page;
let client: HelperClient;

async function runFromDialog(p: Page, f: { name: string; command: string; memory?: string; cpus?: string; pids?: string; env?: string }): Promise<void> {
  await p.getByRole('navigation', { name: 'Main' }).getByRole('button', { name: /Containers/ }).click();
  await p.keyboard.press('n');
  const dlg = p.getByTestId('run-dialog');
  await dlg.waitFor();
  await dlg.locator('input[name=name]').fill(f.name);
  await dlg.locator('input[name=command]').fill(f.command);
  if (f.env) await dlg.locator('textarea[name=env]').fill(f.env);
  if (f.memory || f.cpus || f.pids) await dlg.getByRole('tab', { name: /Resources/ }).click();
  if (f.memory) await dlg.locator('input[name=memory]').fill(f.memory);
  if (f.cpus) await dlg.locator('input[name=cpus]').fill(f.cpus);
  if (f.pids) await dlg.locator('input[name=pids]').fill(f.pids);
  await dlg.getByRole('button', { name: 'Run', exact: true }).click();
  await dlg.waitFor({ state: 'detached' });
  await p.getByTestId('detail-name').filter({ hasText: f.name }).waitFor();
}

async function tab(p: Page, name: string): Promise<void> {
  await p.getByRole('tab', { name }).click();
}

beforeAll(async () => {
  client = await HelperClient.connect(env.socket);
  ({ browser, page } = await openApp(env.url));
});

afterAll(async () => {
  await browser?.close();
  client?.close();
});

describe('containers', () => {
  it('runs busybox from the dialog and shows it running', async () => {
    // A second, busy container first, so the list has live sparklines and logs to show.
    await runFromDialog(page, { name: 'e2e-ticker', command: `sh -c 'i=0; while :; do echo "tick $i"; i=$((i+1)); j=0; while [ $j -lt 20000 ]; do j=$((j+1)); done; sleep 1; done'`, cpus: '0.5', pids: '32', env: 'GREETING=hello' });
    await runFromDialog(page, { name: 'e2e-shell', command: 'sh', memory: '64m' });
    await expect.poll(() => page.getByTestId('state').first().textContent()).toBe('Running');
    await page.getByRole('button', { name: /Containers/ }).first().click();
    const row = page.locator('[data-testid=container-row][data-name=e2e-shell]');
    await expect.poll(() => row.getByTestId('state').textContent()).toBe('Running');
    // A few stats samples for the sparklines.
    await page.waitForTimeout(6000);
    await shot(page, env.screenshots, '01-containers');
  });

  it('shows the shell as container PID 1 beside its host PID', async () => {
    await page.locator('[data-testid=container-row][data-name=e2e-shell]').click();
    await tab(page, 'Processes');
    const pid1 = page.locator('[data-testid=proc-row][data-ctr-pid="1"]');
    await pid1.waitFor();
    const info = await client.call('container.inspect', { ref: 'e2e-shell' });
    expect(await pid1.getAttribute('data-host-pid')).toBe(String(info.pid));
    expect(info.pid).toBeGreaterThan(1);
    expect(await pid1.locator('td.cmd').textContent()).toContain('sh');
    await shot(page, env.screenshots, '03-processes');
  });

  it('types echo hi in a terminal and reads hi back', async () => {
    await tab(page, 'Terminal');
    await page.getByTestId('open-shell').click();
    const term = page.locator('[data-testid=terminal] .xterm');
    await term.waitFor();
    await focusTerminal(page);
    await page.keyboard.type('echo hi > /hello.txt; echo hi\n');
    const rows = page.locator('[data-testid=terminal] .xterm-rows');
    await expect.poll(async () => (await rows.innerText()).split('\n').map((l) => l.trim()), { timeout: 15000 }).toContain('hi');
    // A second tab, and the first one survives a view switch.
    await page.getByTestId('new-terminal').click();
    await expect.poll(() => page.locator('.term-tab').count()).toBe(2);
    await page.locator('.term-tab').nth(1).and(page.locator('[aria-selected=true]')).waitFor();
    await focusTerminal(page);
    await page.keyboard.type('ps\n');
    await page.waitForTimeout(800);
    await shot(page, env.screenshots, '05-terminal');
    await tab(page, 'Overview');
    await page.getByTestId('nav-images').click();
    await page.getByTestId('nav-containers').click();
    await page.locator('[data-testid=container-row][data-name=e2e-shell]').click();
    await tab(page, 'Terminal');
    await page.locator('.term-tab').first().click();
    await expect.poll(async () => (await rows.innerText()).split('\n').map((l) => l.trim()), { timeout: 10000 }).toContain('hi');
  });

  it('resizes the PTY with the window', async () => {
    const rows = page.locator('[data-testid=terminal] .xterm-rows');
    const sttySize = async (marker: string): Promise<[number, number]> => {
      await focusTerminal(page);
      await page.keyboard.type(`echo ${marker} $(stty size)\n`);
      let found: [number, number] | null = null;
      await expect
        .poll(async () => {
          const m = new RegExp(`^${marker} (\\d+) (\\d+)$`, 'm').exec((await rows.innerText()).split('\n').map((l) => l.trim()).join('\n'));
          found = m ? [Number(m[1]), Number(m[2])] : null;
          return found !== null;
        }, { timeout: 10000 })
        .toBe(true);
      return found as unknown as [number, number];
    };
    const [r1, c1] = await sttySize('big');
    await page.setViewportSize({ width: 1000, height: 640 });
    await page.waitForTimeout(600);
    const [r2, c2] = await sttySize('small');
    await page.setViewportSize({ width: 1360, height: 860 });
    expect(c2).toBeLessThan(c1);
    expect(r2).toBeLessThan(r1);
  });

  it('draws the memory chart with its limit line', async () => {
    await tab(page, 'Resources');
    const chart = page.getByTestId('chart-memory');
    await page.waitForTimeout(2000);
    await shot(page, env.screenshots, '04-resources');
    const limit = chart.locator('.recharts-reference-line');
    await limit.waitFor({ state: 'attached' });
    await chart.locator('svg text', { hasText: 'limit 64MiB' }).first().waitFor();
    // The line is drawn inside the plot: a real segment across the chart's width.
    const line = limit.locator('line');
    const box = await line.boundingBox();
    expect(box?.width ?? 0).toBeGreaterThan(200);
  });

  it('shows namespaces, the start timeline, the writable layer and the overview', async () => {
    await tab(page, 'Namespaces');
    await page.getByTestId('ns-pid').getByText('Isolated').waitFor();
    expect(await page.getByTestId('ns-user').textContent()).toContain('Shared with host');
    await shot(page, env.screenshots, '06-namespaces');
    await tab(page, 'Start timeline');
    await page.getByTestId('timeline').waitFor();
    expect(await page.locator('.tl-row').count()).toBeGreaterThanOrEqual(4);
    await shot(page, env.screenshots, '08-timeline');
    await tab(page, 'Filesystem');
    await page.getByTestId('layer-writable').waitFor();
    await page.getByTestId('writable-layer').getByText('hello.txt').waitFor();
    await shot(page, env.screenshots, '09-filesystem');
    await tab(page, 'Overview');
    await shot(page, env.screenshots, '02-overview');
  });

  it('follows the logs with search', async () => {
    await page.getByRole('button', { name: /Containers/ }).first().click();
    await page.locator('[data-testid=container-row][data-name=e2e-ticker]').click();
    await tab(page, 'Logs');
    await page.getByTestId('log-view').getByText('tick 2').first().waitFor({ timeout: 15000 });
    await page.getByLabel('Search the log').fill('tick 1');
    await page.locator('.log-line mark').first().waitFor();
    await page.getByLabel('Search the log').fill('');
    await shot(page, env.screenshots, '07-logs');
  });

  it('pauses and resumes a container from its row', async () => {
    await page.getByRole('button', { name: /Containers/ }).first().click();
    const row = page.locator('[data-testid=container-row][data-name=e2e-ticker]');
    await row.getByRole('button', { name: 'Pause e2e-ticker' }).click();
    await expect.poll(() => row.getByTestId('state').textContent(), { timeout: 10000 }).toBe('Paused');
    await expect.poll(() => page.locator('.page-head .sub').textContent()).toMatch(/running \(1 paused\)/);
    const paused = await client.call('container.inspect', { ref: 'e2e-ticker' });
    expect(paused.paused).toBe(true);
    expect(paused.status).toBe('running');
    await shot(page, env.screenshots, '09b-paused');
    await row.getByRole('button', { name: 'Resume e2e-ticker' }).click();
    await expect.poll(() => row.getByTestId('state').textContent(), { timeout: 10000 }).toBe('Running');
    expect((await client.call('container.inspect', { ref: 'e2e-ticker' })).paused).toBe(false);
  });

  it('stops and removes the container', async () => {
    await page.getByRole('button', { name: /Containers/ }).first().click();
    const row = page.locator('[data-testid=container-row][data-name=e2e-shell]');
    await row.getByRole('button', { name: 'Stop e2e-shell' }).click();
    await expect.poll(() => row.getByTestId('state').textContent(), { timeout: 20000 }).toBe('Stopped');
    await row.getByRole('button', { name: 'Remove e2e-shell' }).click();
    const confirm = page.getByTestId('confirm');
    await confirm.waitFor();
    await shot(page, env.screenshots, '10-confirm-remove');
    await confirm.getByRole('button', { name: 'Remove' }).click();
    await row.waitFor({ state: 'detached' });
    await expect(client.call('container.inspect', { ref: 'e2e-shell' })).rejects.toThrow(/no container|not found/i);
    expect(pageErrors(page)).toEqual([]);
  });
});
