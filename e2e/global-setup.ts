// Global setup of the e2e suite: the renderer built into a temp dir, one berthd (our
// child, in a cgroup of its own beneath ours) on a temp store with the default image,
// and web mode serving the renderer against it. Teardown removes every container,
// stops the helper and leaves no mount, cgroup or file behind.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestProject } from 'vitest/node';

import { ensureDefaultImage } from '../electron/core/default-image';
import { HelperClient } from '../electron/core/helper-client';
import { createBerthService } from '../electron/core/service';
import { startWebServer } from '../electron/web/web-server';
import { processAlive, sanitizerFindings, startHelper, stopHelper, tail, waitUntil } from '../tests/integration/support/helper-process';
import { createNetns, netnsLeftovers, removeNetns } from '../tests/integration/support/netns';
import { cgroupTreeProcs, makeHelperCgroups, rmCgroupTree } from '../tests/support/cgroups';
import type { E2eEnv } from './support/env';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  if (process.getuid?.() !== 0) throw new Error('the e2e tests run real containers and need root');
  const berthd = process.env.BERTHD ?? path.join(repo, 'native-helper/build/berthd-asan');
  if (!fs.existsSync(berthd)) throw new Error(`${berthd} is missing: build it (make -C native-helper sanitize) or set BERTHD`);
  if (!fs.existsSync('/usr/bin/chromium')) throw new Error('/usr/bin/chromium is missing (apt-get install chromium)');

  const tmp = fs.mkdtempSync('/tmp/be2e-');
  const root = path.join(tmp, 'root');
  const socket = path.join(tmp, 'b.sock');
  const logPath = path.join(tmp, 'berthd.log');
  const webDir = path.join(tmp, 'renderer');
  const screenshots = path.join(repo, 'test-results/screenshots');
  fs.mkdirSync(screenshots, { recursive: true });

  // The renderer, built from the sources under test into our own dir.
  const vite = await import('vite');
  await vite.build({ configFile: path.join(repo, 'renderer/vite.config.ts'), logLevel: 'warn', build: { outDir: webDir, emptyOutDir: true } });

  process.env.BERTH_NO_AUTOSTART = '1';
  const cg = makeHelperCgroups(`berth-e2e-${path.basename(tmp)}`);
  const cleanupCgroups = (): string[] => cg.dirs.flatMap((d) => rmCgroupTree(d));
  let helper: Awaited<ReturnType<typeof startHelper>>;
  // The helper's own network namespace: its bridges and NAT never reach the machine's.
  let netns = '';
  try {
    netns = createNetns('berth-e2e');
    helper = await startHelper({ binary: berthd, root, socket, logPath, cgroupProcs: cg.procs, detached: false, netns });
  } catch (e) {
    cleanupCgroups();
    if (netns) removeNetns(netns);
    fs.rmSync(tmp, { recursive: true, force: true });
    throw e;
  }

  const setupClient = await HelperClient.connect(socket);
  await ensureDefaultImage(setupClient);
  setupClient.close();

  const service = createBerthService(await HelperClient.connect(socket));
  const web = await startWebServer({ service, staticDir: webDir, port: 0 });
  const env: E2eEnv = { repo, tmp, root, socket, url: web.url, webDir, screenshots };
  project.provide('e2eEnv', env);

  return async () => {
    const failures: string[] = [];
    service.close();
    await web.close();
    if (processAlive(helper.pid)) {
      try {
        const c = await HelperClient.connect(socket);
        const { containers } = await c.call('container.list', { all: true });
        for (const x of containers) await c.call('container.remove', { ref: x.id, force: true }).catch((e: Error) => failures.push(`rm ${x.name}: ${e.message}`));
        c.close();
      } catch (e) {
        failures.push(`could not clean containers: ${(e as Error).message}`);
      }
    } else failures.push('berthd died during the e2e tests');
    await stopHelper(helper.pid);
    const netLeft = netnsLeftovers(netns);
    if (netLeft.length > 0) failures.push(`network leftovers in namespace ${netns}: ${netLeft.join(', ')}`);
    removeNetns(netns);
    await waitUntil(() => cg.dirs.every((d) => cgroupTreeProcs(d).length === 0), 5000);
    const strays = [...new Set(cg.dirs.flatMap((d) => cgroupTreeProcs(d)))];
    for (const p of strays) {
      failures.push(`process ${p} left in the helper's cgroup`);
      try {
        // Started by our helper inside our own cgroup: ours to end.
        process.kill(p, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    const log = fs.existsSync(logPath) ? fs.readFileSync(logPath, 'utf8') : '';
    const found = sanitizerFindings(log);
    if (found.length > 0) failures.push(`sanitizer report:\n${found.join('\n')}\n${tail(logPath, 60)}`);
    const mounts = fs
      .readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => l.split(' ')[4])
      .filter((m) => m === tmp || m.startsWith(tmp + '/'));
    for (const m of mounts.sort((a, b) => b.length - a.length)) {
      failures.push(`mount left: ${m}`);
      spawnSync('umount', ['-l', m]);
    }
    const stuck = cleanupCgroups();
    if (stuck.length > 0) failures.push(`cgroups left: ${stuck.join(', ')}`);
    if (failures.length > 0) {
      const keep = `/tmp/berth-e2e-logs-${path.basename(tmp)}`;
      fs.mkdirSync(keep, { recursive: true });
      if (fs.existsSync(logPath)) fs.copyFileSync(logPath, path.join(keep, 'berthd.log'));
      failures.push(`helper log kept in ${keep}`);
    }
    fs.rmSync(tmp, { recursive: true, force: true });
    if (failures.length > 0) throw new Error(`e2e teardown found problems:\n- ${failures.join('\n- ')}`);
  };
}
