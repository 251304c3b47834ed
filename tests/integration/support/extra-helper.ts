// A second berthd beside the run's own, for tests that need another build (the
// plain one, for memory figures the sanitizer would inflate) or other options
// (--serve-gid): its own store and socket under the run's temp dir, its own
// network namespace, and a cgroup of its own beneath the run helper's cgroup.
// stop() removes its containers, stops it (that PID only), checks its log for
// sanitizer reports and removes everything it made.
import fs from 'node:fs';
import path from 'node:path';

import { ensureDefaultImage } from '../../../electron/core/default-image';
import { HelperClient } from '../../../electron/core/helper-client';
import { cgroupTreeProcs, rmCgroupTree } from '../../support/cgroups';
import { testEnv, waitUntil } from './berth';
import { sanitizerFindings, startHelper, stopHelper, tail } from './helper-process';
import { createNetns, removeNetns } from './netns';

export interface ExtraHelper {
  pid: number;
  dir: string;
  root: string;
  socket: string;
  binary: string;
  logPath: string;
  /** Stops it and removes what it made; throws with what it found wrong. */
  stop(): Promise<void>;
}

/** The plain (not sanitized) berthd next to the sanitized one under test. */
export function plainBinary(): string {
  const asan = testEnv().berthd;
  const plain = asan.replace(/-asan$/, '');
  if (plain === asan || !fs.existsSync(plain)) throw new Error(`no plain berthd next to ${asan} (make -C native-helper all)`);
  return plain;
}

export async function startExtraHelper(tag: string, opts: { binary: string; extraArgs?: string[]; withImage?: boolean }): Promise<ExtraHelper> {
  const e = testEnv();
  // short: the socket path must fit in sun_path
  const dir = fs.mkdtempSync(path.join(e.tmp, `x${tag}-`));
  fs.chmodSync(dir, 0o755);
  const root = path.join(dir, 'root');
  const socket = path.join(dir, 's.sock');
  const logPath = path.join(e.tmp, `berthd-extra-${tag}-${path.basename(dir)}.log`);
  const cgroups = [...new Set(Object.values(e.helperCgroups))].map((d) => path.join(d, `x-${path.basename(dir)}`));
  const netns = createNetns('berth-x');
  const cleanup = (): string[] => {
    const stuck = cgroups.flatMap((d) => rmCgroupTree(d));
    removeNetns(netns);
    return stuck;
  };
  let pid = 0;
  try {
    for (const d of cgroups) fs.mkdirSync(d);
    const h = await startHelper({
      binary: opts.binary,
      root,
      socket,
      logPath,
      cgroupProcs: cgroups.map((d) => path.join(d, 'cgroup.procs')),
      detached: false,
      netns,
      extraArgs: opts.extraArgs,
    });
    pid = h.pid;
    if (opts.withImage !== false) {
      const c = await HelperClient.connect(socket);
      try {
        await ensureDefaultImage(c);
      } finally {
        c.close();
      }
    }
  } catch (err) {
    if (pid) await stopHelper(pid);
    cleanup();
    throw err;
  }

  const stop = async (): Promise<void> => {
    const problems: string[] = [];
    try {
      const c = await HelperClient.connect(socket);
      try {
        for (const ctr of (await c.call('container.list', { all: true })).containers) {
          await c.call('container.remove', { ref: ctr.id, force: true }).catch((er: Error) => problems.push(`remove ${ctr.id}: ${er.message}`));
        }
      } finally {
        c.close();
      }
    } catch (er) {
      problems.push(`could not clean its containers: ${(er as Error).message}`);
    }
    const how = await stopHelper(pid);
    if (how !== 'terminated') problems.push(`it did not stop on SIGTERM (${how})`);
    await waitUntil(() => cgroups.every((d) => cgroupTreeProcs(d).length === 0), 5000);
    const strays = cgroups.flatMap((d) => cgroupTreeProcs(d));
    if (strays.length > 0) {
      problems.push(`processes left in its cgroup: ${strays.join(', ')}`);
      // started by this helper in its own cgroup: ours to end
      for (const p of strays) {
        try {
          process.kill(p, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
      await waitUntil(() => cgroups.every((d) => cgroupTreeProcs(d).length === 0), 5000);
    }
    const found = sanitizerFindings(fs.existsSync(logPath) ? fs.readFileSync(logPath, 'utf8') : '');
    if (found.length > 0) problems.push(`sanitizer report in ${logPath}:\n${found.join('\n')}\n${tail(logPath, 60)}`);
    const stuck = cleanup();
    if (stuck.length > 0) problems.push(`cgroups that would not go: ${stuck.join(', ')}`);
    const mounted = fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').some((l) => (l.split(' ')[4] ?? '').startsWith(dir));
    if (mounted) problems.push(`still mounted below ${dir}`);
    else fs.rmSync(dir, { recursive: true, force: true });
    if (problems.length > 0) throw new Error(`extra helper ${tag} (pid ${pid}): ${problems.join('; ')}`);
  };
  return { pid, dir, root, socket, binary: opts.binary, logPath, stop };
}
