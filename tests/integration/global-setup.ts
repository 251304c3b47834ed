// Global setup of the integration suite: one temp store, one sanitized berthd
// (our child, in a cgroup of its own beneath ours so that nothing else on the
// machine shares its container cgroups), the default image; and in teardown
// everything removed again and the helper's log checked for sanitizer reports.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestProject } from 'vitest/node';

import { cgroupTreeProcs, ownV1Cgroups, rmCgroupTree } from '../support/cgroups';
import type { BerthTestEnv } from './support/env';
import { helperLogs, processAlive, sanitizerFindings, startHelper, stopHelper, tail, waitUntil } from './support/helper-process';
import { createNetns, netnsLeftovers, removeNetns } from './support/netns';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

function cliSync(env: BerthTestEnv, args: string[], timeoutMs = 120000): { status: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [path.join(repo, 'bin/berth.mjs'), ...args], {
    env: { ...process.env, BERTH_ROOT: env.root, BERTH_SOCKET: env.socket, BERTHD: env.berthd, NO_COLOR: '1', BERTH_NO_AUTOSTART: '1' },
    encoding: 'utf8',
    timeout: timeoutMs,
  });
  return { status: r.status ?? 128, stdout: r.stdout ?? '', stderr: (r.stderr ?? '') + (r.error ? String(r.error) : '') };
}

function readLines(file: string): string[] {
  return fs.readFileSync(file, 'utf8').split('\n').filter(Boolean);
}

/** Unified-only hosts: the test process's cgroup2 directory. */
function ownUnifiedCgroup(): string | null {
  const line = readLines('/proc/self/cgroup').find((l) => l.startsWith('0::'));
  const mount = readLines('/proc/self/mountinfo').find((l) => l.split(' - ')[1]?.startsWith('cgroup2 '));
  if (!line || !mount) return null;
  return path.join(mount.split(' ')[4], line.slice(3));
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  if (process.getuid?.() !== 0) throw new Error('the integration tests run real containers and need root');
  if (!process.env.BERTH_TEST_NO_BUILD) {
    const make = spawnSync('make', ['-C', path.join(repo, 'native-helper'), 'sanitize'], { encoding: 'utf8' });
    if (make.status !== 0) throw new Error(`make -C native-helper sanitize failed:\n${make.stdout}\n${make.stderr}`);
  }
  const berthd = process.env.BERTH_TEST_HELPER ?? path.join(repo, 'native-helper/build/berthd-asan');
  if (!fs.existsSync(berthd)) throw new Error(`${berthd} is missing (make -C native-helper sanitize)`);
  if (!fs.existsSync(path.join(repo, 'bin/berth.mjs'))) throw new Error('bin/berth.mjs is missing');

  // Short paths: a socket path must fit in sun_path (108 bytes).
  const tmp = fs.mkdtempSync('/tmp/bt-');
  // Other uids may reach the socket (security.test.ts checks berthd refuses them);
  // the directory itself is not writable by them.
  fs.chmodSync(tmp, 0o755);
  const root = path.join(tmp, 'root');
  const socket = path.join(tmp, 'b.sock');

  const helperCgroups: Record<string, string> = {};
  const cgroupProcs: string[] = [];
  const madeCgroups: string[] = [];
  const v1 = ownV1Cgroups();
  if (v1.size > 0) {
    const seen = new Set<string>();
    for (const [ctl, own] of v1) {
      const dir = path.join(own, `berth-it-${path.basename(tmp)}`);
      helperCgroups[ctl] = dir;
      if (seen.has(dir)) continue; // co-mounted cpu,cpuacct
      seen.add(dir);
      fs.mkdirSync(dir);
      madeCgroups.push(dir);
      cgroupProcs.push(path.join(dir, 'cgroup.procs'));
    }
  } else {
    const unified = ownUnifiedCgroup();
    if (unified) helperCgroups.unified = unified;
  }

  // Every helper of the run lives in this network namespace, removed in teardown.
  let netns: string;
  try {
    netns = createNetns('berth-it');
  } catch (e) {
    madeCgroups.forEach((d) => rmCgroupTree(d));
    fs.rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  const env: BerthTestEnv = { repo, tmp, root, socket, berthd, helperPidFile: path.join(tmp, 'helper.pid'), helperCgroups, cgroupProcs, netns };
  const logPath = path.join(tmp, 'berthd-1.log');

  const cleanupCgroups = (): string[] => madeCgroups.flatMap((d) => rmCgroupTree(d));

  let helper;
  try {
    helper = await startHelper({ binary: berthd, root, socket, logPath, cgroupProcs, detached: false, netns });
  } catch (e) {
    cleanupCgroups();
    removeNetns(netns);
    fs.rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  fs.writeFileSync(env.helperPidFile, String(helper.pid));
  let firstEnded: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  void helper.exited.then((x) => (firstEnded = x));

  process.env.BERTH_ROOT = root;
  // A CLI call while the helper is down must fail, not start one outside the namespace.
  process.env.BERTH_NO_AUTOSTART = '1';
  process.env.BERTH_SOCKET = socket;
  process.env.BERTHD = berthd;
  project.provide('berthEnv', env);

  // The default image: the CLI builds busybox:latest when it is missing.
  const hasBusybox = (): boolean => {
    const r = cliSync(env, ['images', '--json']);
    if (r.status !== 0) return false;
    try {
      const parsed = JSON.parse(r.stdout) as { refs?: string[] }[] | { images: { refs?: string[] }[] };
      const list = Array.isArray(parsed) ? parsed : parsed.images;
      return list.some((i) => (i.refs ?? []).includes('busybox:latest'));
    } catch {
      return false;
    }
  };
  const setupProblems: string[] = [];
  if (!hasBusybox()) {
    const r = cliSync(env, ['run', '--rm', 'busybox:latest', 'true'], 300000);
    if (!hasBusybox()) setupProblems.push(`the default image busybox:latest could not be made: berth run --rm busybox:latest true -> ${r.status}\n${r.stdout}\n${r.stderr}`);
  }

  const teardown = async (): Promise<void> => {
    const failures: string[] = [...setupProblems];
    const pid = Number(fs.readFileSync(env.helperPidFile, 'utf8').trim());
    const killedByTests = fs.existsSync(path.join(tmp, 'killed-by-test'))
      ? readLines(path.join(tmp, 'killed-by-test')).map(Number)
      : [];
    if (firstEnded && !killedByTests.includes(helper.pid)) {
      failures.push(`berthd (PID ${helper.pid}) died during the tests: ${JSON.stringify(firstEnded)}`);
    }

    // Every container in this store was created by the tests.
    if (processAlive(pid)) {
      const ps = cliSync(env, ['ps', '-a', '-q'], 30000);
      if (ps.status !== 0) failures.push(`berth ps -a -q failed in teardown: ${ps.stderr}`);
      const ids = ps.stdout.split('\n').map((s) => s.trim()).filter(Boolean);
      for (const id of ids) {
        const r = cliSync(env, ['rm', '-f', id], 30000);
        if (r.status !== 0) failures.push(`berth rm -f ${id} failed in teardown: ${r.stderr}`);
      }
    } else {
      failures.push(`no helper was running at teardown (PID ${pid})`);
    }
    await stopHelper(pid);
    if (pid !== helper.pid) await stopHelper(helper.pid);

    // With every container removed, berthd must have taken its bridges, veths and NAT down.
    const netLeft = netnsLeftovers(netns);
    if (netLeft.length > 0) failures.push(`network leftovers in namespace ${netns}: ${netLeft.join(', ')}`);
    removeNetns(netns);

    // Monitors and containers live in the helper's cgroup subtree; after rm -f of
    // every container nothing but the (stopped) helper may be left there.
    const allDirs = [...new Set(Object.values(helperCgroups))].filter((d) => madeCgroups.includes(d));
    await waitUntil(() => allDirs.every((d) => cgroupTreeProcs(d).length === 0), 5000);
    const strays = [...new Set(allDirs.flatMap((d) => cgroupTreeProcs(d)))];
    if (strays.length > 0) {
      const desc = strays.map((p) => `${p} ${fs.existsSync(`/proc/${p}/cmdline`) ? fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').replace(/\0/g, ' ') : ''}`);
      failures.push(`processes left in the helper's cgroup after teardown: ${desc.join('; ')}`);
      // They were started by our helper, inside our cgroup: ours to end.
      for (const p of strays) {
        try {
          process.kill(p, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
      await waitUntil(() => allDirs.every((d) => cgroupTreeProcs(d).length === 0), 5000);
    }

    for (const log of helperLogs(tmp)) {
      const found = sanitizerFindings(fs.readFileSync(log, 'utf8'));
      if (found.length > 0) failures.push(`sanitizer report in ${log}:\n${found.join('\n')}\n${tail(log, 80)}`);
    }

    const mounts = readLines('/proc/self/mountinfo')
      .map((l) => l.split(' ')[4].replace(/\\040/g, ' '))
      .filter((m) => m === tmp || m.startsWith(tmp + '/'));
    if (mounts.length > 0) {
      failures.push(`mounts left under ${tmp}: ${mounts.join(', ')}`);
      for (const m of mounts.sort((a, b) => b.length - a.length)) {
        try {
          execFileSync('umount', ['-l', m]);
        } catch {
          /* reported above */
        }
      }
    }

    const stuck = cleanupCgroups();
    if (stuck.length > 0) failures.push(`cgroup dirs that could not be removed: ${stuck.join(', ')}`);

    const mountsNow = readLines('/proc/self/mountinfo').filter((l) => l.split(' ')[4].startsWith(tmp));
    if (failures.length > 0) {
      const keep = `/tmp/berth-it-logs-${path.basename(tmp)}`;
      fs.mkdirSync(keep, { recursive: true });
      for (const log of helperLogs(tmp)) fs.copyFileSync(log, path.join(keep, path.basename(log)));
      failures.push(`helper logs kept in ${keep}`);
    }
    if (mountsNow.length === 0) fs.rmSync(tmp, { recursive: true, force: true });
    else failures.push(`${tmp} kept: still mounted below it`);
    if (failures.length > 0) throw new Error(`integration teardown found problems:\n- ${failures.join('\n- ')}`);
  };
  if (setupProblems.length > 0) {
    // No test can run without the image: clean up now and say why.
    await teardown().catch(() => undefined);
    throw new Error(setupProblems.join('\n'));
  }
  return teardown;
}
