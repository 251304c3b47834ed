// Networks and storage through the UI: busybox httpd run from the dialog with a published
// port, a read-only bind mount holding index.html and a new named volume, fetched through
// the published port from inside the helper's network namespace; the Network tab (eth0,
// its address, the veth end on the bridge); restart policy and restart; the Networks and
// Volumes views (create, the in-use message, remove); an anonymous volume from the dialog.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';

import { HelperClient } from '../electron/core/helper-client';
import { openApp, pageErrors } from './support/browser';

const env = inject('e2eEnv');
let browser: Browser;
let page: Page;
let client: HelperClient;
let helperPid = 0;
let site: string;
const PORT = 18080;
const PAGE_TEXT = 'hello from a bind mount, through a published port';

/** GET from inside berthd's network namespace (the published port is bound there, not on the machine). */
function fetchInHelperNet(url: string): { ok: boolean; body: string; err: string } {
  const r = spawnSync('nsenter', [`--net=/proc/${helperPid}/ns/net`, '/bin/busybox', 'wget', '-O', '-', url], { encoding: 'utf8', timeout: 10000 });
  return { ok: r.status === 0, body: r.stdout ?? '', err: (r.stderr ?? '') + (r.error ? String(r.error) : '') };
}

async function fetchEventually(url: string, ms = 15000): Promise<string> {
  const end = Date.now() + ms;
  let last = { ok: false, body: '', err: '' };
  while (Date.now() < end) {
    last = fetchInHelperNet(url);
    if (last.ok) return last.body;
    await new Promise((r) => setTimeout(r, 250));
  }
  const listening = spawnSync('nsenter', [`--net=/proc/${helperPid}/ns/net`, 'ss', '-ltnp'], { encoding: 'utf8' }).stdout;
  throw new Error(`GET ${url} inside the helper's network namespace failed: ${last.err}\nlistening there:\n${listening}`);
}

/** A screenshot without the passing success notices over the view (they expire on their own). */
async function quietShot(p: Page, name: string): Promise<void> {
  await p.screenshot({ path: path.join(env.screenshots, `${name}.png`), animations: 'disabled', style: '.notices { display: none; }' });
}

beforeAll(async () => {
  client = await HelperClient.connect(env.socket);
  helperPid = (await client.call('hello', {})).pid;
  site = fs.mkdtempSync(path.join(env.tmp, 'site-'));
  fs.writeFileSync(path.join(site, 'index.html'), `<p>${PAGE_TEXT}</p>\n`);
  ({ browser, page } = await openApp(env.url));
});

afterAll(async () => {
  await browser?.close();
  for (const ref of ['e2e-web', 'e2e-flaky', 'e2e-on-net', 'e2e-isolated', 'e2e-anon']) await client?.call('container.remove', { ref, force: true, volumes: true }).catch(() => undefined);
  for (const name of ['e2e-data', 'e2e-vol', 'e2e-spare']) await client?.call('volume.remove', { name }).catch(() => undefined);
  await client?.call('network.remove', { ref: 'e2e-net' }).catch(() => undefined);
  client?.close();
  if (site) fs.rmSync(site, { recursive: true, force: true });
});

describe('network and storage', () => {
  it('says what to do while there are no volumes and only the default network', async () => {
    await page.getByTestId('nav-volumes').click();
    await page.getByRole('heading', { name: 'No volumes yet' }).waitFor();
    await quietShot(page, '41-volumes-empty');
    await page.keyboard.press('3');
    await page.locator('[data-testid=network-row][data-name=bridge]').waitFor();
    await page.getByRole('heading', { name: 'Only the default network so far' }).waitFor();
    await quietShot(page, '42-networks-default-only');
  });

  it('runs busybox httpd with a published port, a bind mount and a new volume, and serves the page', async () => {
    await page.getByTestId('nav-containers').click();
    await page.keyboard.press('n');
    const dlg = page.getByTestId('run-dialog');
    await dlg.waitFor();
    await dlg.locator('input[name=name]').fill('e2e-web');
    // 96 KiB into the new volume first, so its size shows.
    await dlg.locator('input[name=command]').fill(`sh -c 'head -c 98304 /dev/zero > /data/blob && exec httpd -f -p 80 -h /www'`);
    await dlg.locator('select[name=restart]').selectOption('on-failure');
    await dlg.locator('input[name=maxRetries]').fill('3');

    await dlg.getByRole('tab', { name: /Network/ }).click();
    // The default is the bridge network; 127.0.0.1 is the default host address.
    expect(await dlg.locator('input[name=network][value=bridge]').isChecked()).toBe(true);
    await dlg.getByTestId('add-port').click();
    expect(await dlg.locator('input[name=port-0-hostIp]').inputValue()).toBe('127.0.0.1');
    await dlg.locator('input[name=port-0-hostPort]').fill(String(PORT));
    await dlg.locator('input[name=port-0-containerPort]').fill('80');
    await quietShot(page, '30-run-network');

    await dlg.getByRole('tab', { name: /Storage/ }).click();
    await dlg.getByTestId('add-bind').click();
    await dlg.locator('input[name=mount-0-source]').fill(site);
    await dlg.locator('input[name=mount-0-target]').fill('/www');
    await dlg.locator('input[name=mount-0-readOnly]').check();
    await dlg.getByTestId('add-volume').click();
    await dlg.locator('input[name=mount-1-source]').fill('e2e-data');
    await dlg.locator('input[name=mount-1-target]').fill('/data');
    await dlg.getByTestId('add-tmpfs').click();
    await dlg.locator('input[name=mount-2-target]').fill('/scratch');
    await dlg.locator('input[name=mount-2-size]').fill('8m');
    await quietShot(page, '31-run-storage');

    await dlg.getByRole('button', { name: 'Run', exact: true }).click();
    await dlg.waitFor({ state: 'detached' });
    await page.getByTestId('detail-name').filter({ hasText: 'e2e-web' }).waitFor();

    const info = await client.call('container.inspect', { ref: 'e2e-web' });
    expect(info.ports).toEqual([{ hostIp: '127.0.0.1', hostPort: PORT, containerPort: 80, protocol: 'tcp' }]);
    expect(info.restart).toMatchObject({ policy: 'on-failure', maxRetries: 3 });
    expect(info.mounts.map((m) => `${m.type}:${m.target}:${m.readOnly}`).sort()).toEqual(['bind:/www:true', 'tmpfs:/scratch:false', 'volume:/data:false']);
    expect(await fetchEventually(`http://127.0.0.1:${PORT}/`)).toContain(PAGE_TEXT);
  });

  it('shows the restart policy and the mounts in the Overview', async () => {
    await page.getByRole('tab', { name: 'Overview' }).click();
    await expect.poll(() => page.getByTestId('restart-policy').textContent()).toContain('on failure, at most 3×');
    const storage = page.getByTestId('storage-panel');
    await storage.locator('[data-testid=mount][data-target="/www"]').waitFor();
    expect(await storage.locator('[data-testid=mount][data-target="/www"]').textContent()).toContain('read-only');
    expect(await storage.locator('[data-testid=mount][data-target="/data"]').textContent()).toContain('volume e2e-data');
    await quietShot(page, '32-overview-storage');
  });

  it('shows eth0 with its address beside its veth end on the bridge, and the port as a link', async () => {
    await page.getByRole('tab', { name: 'Network' }).click();
    const info = await client.call('container.inspect', { ref: 'e2e-web' });
    expect(info.network.ip).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    const eth0 = page.locator('[data-testid=container-ifaces] [data-testid=iface][data-name=eth0]');
    await eth0.waitFor();
    expect(await eth0.textContent()).toContain(`${info.network.ip}/${info.network.prefixLen}`);
    await page.locator('[data-testid=container-ifaces] [data-testid=iface][data-name=lo]').waitFor();
    // The other end of eth0 is a veth in the helper's namespace, a port of berth0.
    const pair = page.getByTestId('veth-pair');
    await pair.waitFor();
    expect(await pair.textContent()).toMatch(/veth[0-9a-f]{8}/);
    expect(await pair.textContent()).toContain('berth0');
    expect(await page.getByTestId('netns-sentence').textContent()).toContain('network namespace of its own');
    const link = page.getByTestId('published-ports').getByRole('link', { name: `http://127.0.0.1:${PORT}` });
    expect(await link.getAttribute('href')).toBe(`http://127.0.0.1:${PORT}`);
    await quietShot(page, '33-network-tab');
  });

  it('restarts the container from its page and it serves again', async () => {
    const before = await client.call('container.inspect', { ref: 'e2e-web' });
    await page.getByRole('button', { name: 'Restart e2e-web' }).click();
    await expect.poll(async () => (await client.call('container.inspect', { ref: 'e2e-web' })).startedAt, { timeout: 20000 }).not.toBe(before.startedAt);
    await expect.poll(() => page.getByTestId('state').first().textContent()).toBe('Running');
    expect(await fetchEventually(`http://127.0.0.1:${PORT}/`)).toContain(PAGE_TEXT);
  });

  it('shows a container waiting for its restart policy as Restarting', async () => {
    await client.call('container.run', { image: 'busybox:latest', name: 'e2e-flaky', cmd: ['sh', '-c', 'sleep 0.3; exit 3'], restart: { policy: 'always' } });
    await page.getByTestId('nav-containers').click();
    const row = page.locator('[data-testid=container-row][data-name=e2e-flaky]');
    // The backoff doubles (100 ms, 200 ms, …): soon the wait between runs is long enough to see.
    await expect.poll(() => row.getByTestId('state').textContent(), { timeout: 30000, interval: 100 }).toBe('Restarting');
    await quietShot(page, '34-restarting');
    await client.call('container.remove', { ref: 'e2e-flaky', force: true });
    await row.waitFor({ state: 'detached' });
  });

  it('creates a network, refuses to remove it while a container names it, then removes it', async () => {
    await page.getByTestId('nav-networks').click();
    await page.locator('[data-testid=network-row][data-name=bridge]').waitFor();
    await page.getByTestId('create-network').click();
    const dlg = page.getByTestId('network-dialog');
    await dlg.locator('input[name=name]').fill('e2e-net');
    await dlg.locator('input[name=subnet]').fill('10.90.77.0/24');
    await dlg.getByRole('button', { name: 'Create' }).click();
    await dlg.waitFor({ state: 'detached' });
    const row = page.locator('[data-testid=network-row][data-name=e2e-net]');
    await row.waitFor();
    expect(await row.textContent()).toContain('10.90.77.0/24');
    // The web container is on the default network, listed with its address.
    expect(await page.locator('[data-testid=network-row][data-name=bridge]').textContent()).toContain('e2e-web');
    await client.call('container.create', { image: 'busybox:latest', name: 'e2e-on-net', cmd: ['true'], network: 'e2e-net' });
    await expect.poll(() => row.textContent()).toContain('e2e-on-net');
    await quietShot(page, '35-networks');

    await row.getByRole('button', { name: 'Remove network e2e-net' }).click();
    const confirm = page.getByTestId('confirm');
    await confirm.getByTestId('network-in-use').waitFor();
    expect(await confirm.getByTestId('network-in-use').textContent()).toContain('e2e-on-net');
    expect(await confirm.getByRole('button', { name: 'Remove' }).isDisabled()).toBe(true);
    await quietShot(page, '36-network-in-use');
    await confirm.getByRole('button', { name: 'Cancel' }).click();

    await client.call('container.remove', { ref: 'e2e-on-net' });
    await expect.poll(() => row.textContent()).not.toContain('e2e-on-net');
    await row.getByRole('button', { name: 'Remove network e2e-net' }).click();
    await page.getByTestId('confirm').getByRole('button', { name: 'Remove' }).click();
    await row.waitFor({ state: 'detached' });
    // The default network cannot be removed.
    expect(await page.getByRole('button', { name: 'Remove network bridge' }).isDisabled()).toBe(true);
  });

  it('lists volumes with size and users, creates one, says when one is in use, removes one', async () => {
    await page.getByTestId('nav-volumes').click();
    const data = page.locator('[data-testid=volume-row][data-name=e2e-data]');
    await data.waitFor();
    expect(await data.textContent()).toContain('e2e-web');
    // The size comes from volume.inspect.
    await expect.poll(() => data.locator('td').nth(1).textContent()).toMatch(/^(9[6-9]|1\d\d)(\.\d+)?KiB$/);

    await page.getByTestId('create-volume').click();
    const dlg = page.getByTestId('volume-dialog');
    await dlg.locator('input[name=name]').fill('e2e-vol');
    await dlg.getByRole('button', { name: 'Create' }).click();
    await dlg.waitFor({ state: 'detached' });
    const vol = page.locator('[data-testid=volume-row][data-name=e2e-vol]');
    await vol.waitFor();
    expect(await vol.textContent()).toContain('unused');
    await quietShot(page, '37-volumes');

    await data.getByRole('button', { name: 'Remove volume e2e-data' }).click();
    const confirm = page.getByTestId('confirm');
    await confirm.getByTestId('volume-in-use').waitFor();
    expect(await confirm.getByTestId('volume-in-use').textContent()).toContain('e2e-web');
    await quietShot(page, '38-volume-in-use');
    await confirm.getByRole('button', { name: 'Cancel' }).click();

    await vol.getByRole('button', { name: 'Remove volume e2e-vol' }).click();
    await page.getByTestId('confirm').getByRole('button', { name: 'Remove' }).click();
    await vol.waitFor({ state: 'detached' });

    // Remove unused: takes the unused one, keeps the one e2e-web mounts.
    await client.call('volume.create', { name: 'e2e-spare' });
    const spare = page.locator('[data-testid=volume-row][data-name=e2e-spare]');
    await spare.waitFor();
    await page.getByRole('button', { name: 'Remove unused' }).click();
    const prune = page.getByTestId('confirm');
    expect(await prune.textContent()).toContain('e2e-spare');
    expect(await prune.textContent()).not.toContain('e2e-data');
    await prune.getByRole('button', { name: 'Remove 1' }).click();
    await spare.waitFor({ state: 'detached' });
    await data.waitFor();
    expect(pageErrors(page)).toEqual([]);
  });

  it('runs a container with an anonymous volume (a volume row without a name), shown by its short id and marked', async () => {
    await page.getByTestId('nav-containers').click();
    await page.keyboard.press('n');
    const dlg = page.getByTestId('run-dialog');
    await dlg.waitFor();
    await dlg.locator('input[name=name]').fill('e2e-anon');
    await dlg.locator('input[name=command]').fill('sleep 300');
    await dlg.getByRole('tab', { name: /Network/ }).click();
    await dlg.locator('input[name=network][value=none]').check();
    await dlg.getByRole('tab', { name: /Storage/ }).click();
    await dlg.getByTestId('add-volume').click();
    await dlg.locator('input[name=mount-0-target]').fill('/cache');
    expect(await dlg.getByTestId('mount-row').textContent()).toContain('anonymous');
    await dlg.getByRole('button', { name: 'Run', exact: true }).click();
    await dlg.waitFor({ state: 'detached' });
    await page.getByTestId('detail-name').filter({ hasText: 'e2e-anon' }).waitFor();

    const info = await client.call('container.inspect', { ref: 'e2e-anon' });
    expect(info.mounts).toHaveLength(1);
    expect(info.mounts[0]).toMatchObject({ type: 'volume', target: '/cache', anonymous: true });
    const name = info.mounts[0].name ?? '';
    expect(name).toMatch(/^[0-9a-f]{64}$/);
    await page.getByRole('tab', { name: 'Overview' }).click();
    const mount = page.getByTestId('storage-panel').locator('[data-testid=mount][data-target="/cache"]');
    await mount.waitFor();
    expect(await mount.textContent()).toContain(`anonymous volume ${name.slice(0, 12)}`);

    await page.getByTestId('nav-volumes').click();
    const row = page.locator(`[data-testid=volume-row][data-name="${name}"]`);
    await row.getByTestId('volume-anonymous').waitFor();
    expect(await row.textContent()).toContain('e2e-anon');
    await quietShot(page, '44-volumes-anonymous');
    // Remove with "also delete its anonymous volume" ticked: the container and its volume go
    await page.getByTestId('nav-containers').click();
    const crow = page.locator('[data-testid=container-row][data-name=e2e-anon]');
    await crow.getByRole('button', { name: 'Remove e2e-anon' }).click();
    const box = page.getByTestId('remove-volumes');
    await box.waitFor();
    expect(await box.locator('xpath=..').textContent()).toContain('/cache');
    await box.check();
    await quietShot(page, '45-remove-with-volumes');
    await page.getByRole('button', { name: 'Kill and remove' }).click();
    await crow.waitFor({ state: 'detached' });
    expect((await client.call('volume.list')).volumes.map((v) => v.name)).not.toContain(name);
    await page.getByTestId('nav-volumes').click();
    await row.waitFor({ state: 'detached' });
    expect(pageErrors(page)).toEqual([]);
  });

  it('shows a container on the none network with only lo', async () => {
    await client.call('container.run', { image: 'busybox:latest', name: 'e2e-isolated', cmd: ['sleep', '300'], network: 'none' });
    await page.getByTestId('nav-containers').click();
    await page.locator('[data-testid=container-row][data-name=e2e-isolated]').click();
    await page.getByRole('tab', { name: 'Network' }).click();
    const ifs = page.getByTestId('container-ifaces');
    await ifs.locator('[data-testid=iface][data-name=lo]').waitFor();
    expect(await ifs.locator('[data-testid=iface]').count()).toBe(1);
    expect(await page.getByTestId('netns-sentence').textContent()).toContain('only lo');
    expect(await page.getByTestId('veth-pair').count()).toBe(0);
    await quietShot(page, '43-network-none');
    await client.call('container.remove', { ref: 'e2e-isolated', force: true });
  });

  it('looks right in the dark theme too', async () => {
    const dark = await openApp(env.url, { colorScheme: 'dark' });
    try {
      await dark.page.locator('[data-testid=container-row][data-name=e2e-web]').click();
      await dark.page.getByRole('tab', { name: 'Network' }).click();
      await dark.page.locator('[data-testid=container-ifaces] [data-testid=iface][data-name=eth0]').waitFor();
      await quietShot(dark.page, '39-dark-network-tab');
      await dark.page.getByTestId('nav-volumes').click();
      await dark.page.locator('[data-testid=volume-row][data-name=e2e-data]').waitFor();
      await quietShot(dark.page, '40-dark-volumes');
      expect(pageErrors(dark.page)).toEqual([]);
    } finally {
      await dark.browser.close();
    }
  });
});
