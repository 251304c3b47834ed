// Killing the helper of this run and starting another on the same store, and
// what the helper holds on the host (fds, threads, mounts, cgroups, memory), for
// the fault and load tests.
import fs from 'node:fs';
import path from 'node:path';

import { helperPid, mountInfo, processAlive, testEnv, waitUntil } from './berth';
import { startHelper } from './helper-process';

let restarts = 0;

/** SIGKILL to the helper this run started (that PID only), recorded for the teardown. */
export async function killHelper(): Promise<number> {
  const e = testEnv();
  const pid = helperPid();
  fs.appendFileSync(path.join(e.tmp, 'killed-by-test'), `${pid}\n`);
  process.kill(pid, 'SIGKILL');
  if (!(await waitUntil(() => !processAlive(pid), 5000))) throw new Error(`berthd ${pid} still alive 5 s after SIGKILL`);
  return pid;
}

/** Children of pid (every thread's), read from /proc. */
export function children(pid: number): number[] {
  const out: number[] = [];
  try {
    for (const t of fs.readdirSync(`/proc/${pid}/task`)) {
      try {
        out.push(...fs.readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8').split(' ').filter(Boolean).map(Number));
      } catch {
        /* thread gone */
      }
    }
  } catch {
    /* process gone */
  }
  return out;
}

/** The helper's worker processes and everything below them (not the monitors, proxies or containers). */
export function helperWorkers(pid = helperPid()): number[] {
  const out: number[] = [];
  const walk = (p: number): void => {
    for (const c of children(p)) {
      out.push(c);
      walk(c);
    }
  };
  for (const c of children(pid)) {
    if (['berth-monitor', 'berth-proxy'].includes(commName(c))) continue;
    out.push(c);
    walk(c);
  }
  return out;
}

/**
 * SIGKILL to the helper and, in the same instant, to every worker it forked (as when
 * its whole service is killed): an import, commit or upload at work dies with it.
 * Returns the workers killed.
 */
export async function killHelperAndWorkers(): Promise<number[]> {
  const e = testEnv();
  const pid = helperPid();
  const workers = helperWorkers(pid);
  fs.appendFileSync(path.join(e.tmp, 'killed-by-test'), `${pid}\n`);
  process.kill(pid, 'SIGKILL');
  for (const w of workers) {
    try {
      process.kill(w, 'SIGKILL');
    } catch {
      /* ended meanwhile */
    }
  }
  const gone = await waitUntil(() => [pid, ...workers].every((p) => !processAlive(p)), 5000);
  if (!gone) throw new Error(`berthd ${pid} or its workers ${workers.join(', ')} still alive 5 s after SIGKILL`);
  return workers;
}

/** A new helper on the same store, socket and namespace; it outlives this worker. */
export async function restartHelper(tag: string): Promise<number> {
  const e = testEnv();
  restarts += 1;
  const h = await startHelper({
    binary: e.berthd,
    root: e.root,
    socket: e.socket,
    logPath: path.join(e.tmp, `berthd-${tag}-${process.pid}-${restarts}.log`),
    cgroupProcs: e.cgroupProcs,
    detached: true,
    netns: e.netns,
  });
  fs.writeFileSync(e.helperPidFile, String(h.pid));
  return h.pid;
}

/** Every directory below dir (dir itself not counted). */
function subdirs(dir: string): string[] {
  const out: string[] = [];
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return out;
  }
  for (const d of entries) {
    if (!d.isDirectory()) continue;
    const p = path.join(dir, d.name);
    out.push(p, ...subdirs(p));
  }
  return out;
}

/** The helper's own cgroup directories (one per hierarchy; cpu,cpuacct counted once). */
export function helperCgroupRoots(): string[] {
  return [...new Set(Object.values(testEnv().helperCgroups))];
}

/** Every cgroup directory beneath the helper's own cgroup, in every hierarchy. */
export function cgroupsBelowHelper(): string[] {
  return helperCgroupRoots().flatMap((d) => subdirs(d)).sort();
}

/** PIDs in the helper's cgroup tree outside its `berth/` subtree (the helper, monitors, workers, proxies). */
export function helperSideProcs(): number[] {
  const pids = new Set<number>();
  for (const root of helperCgroupRoots()) {
    for (const dir of [root, ...subdirs(root).filter((d) => !d.startsWith(path.join(root, 'berth') + '/') && d !== path.join(root, 'berth'))]) {
      try {
        for (const l of fs.readFileSync(path.join(dir, 'cgroup.procs'), 'utf8').split('\n')) if (l) pids.add(Number(l));
      } catch {
        /* gone meanwhile */
      }
    }
  }
  return [...pids].sort((a, b) => a - b);
}

export function cmdline(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
  } catch {
    return '(gone)';
  }
}

export function commName(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '(gone)';
  }
}

/** Mount points at or below dir, as the helper sees them (its mount namespace is the host's). */
export function mountsBelow(dir: string, pid: number | 'self' = 'self'): string[] {
  return mountInfo(pid)
    .map((m) => m.mountPoint)
    .filter((p) => p === dir || p.startsWith(dir + '/'));
}

export interface HelperFootprint {
  fds: number;
  threads: number;
  /** lines of its /proc/PID/mountinfo */
  mounts: number;
  /** of those, the ones under the run's temp dir (the store) */
  storeMounts: number;
  /** cgroup directories beneath its own cgroup */
  cgroups: number;
  rssKiB: number;
}

function statusKiB(pid: number, field: string): number {
  const line = fs
    .readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith(field + ':'));
  return line ? parseInt(line.slice(field.length + 1).trim(), 10) : NaN;
}

export function footprint(pid = helperPid()): HelperFootprint {
  return {
    fds: fs.readdirSync(`/proc/${pid}/fd`).length,
    threads: statusKiB(pid, 'Threads'),
    mounts: fs.readFileSync(`/proc/${pid}/mountinfo`, 'utf8').split('\n').filter(Boolean).length,
    storeMounts: mountsBelow(testEnv().tmp, pid).length,
    cgroups: cgroupsBelowHelper().length,
    rssKiB: statusKiB(pid, 'VmRSS'),
  };
}

/** The helper's open fds with what they point at, for an error message. */
export function openFds(pid = helperPid()): string[] {
  const dir = `/proc/${pid}/fd`;
  return fs.readdirSync(dir).map((fd) => {
    try {
      return `${fd} -> ${fs.readlinkSync(path.join(dir, fd))}`;
    } catch {
      return `${fd} -> ?`;
    }
  });
}

/** Whether the helper binary is a sanitized build (its memory says nothing then). */
export function isSanitized(pid = helperPid()): boolean {
  try {
    return /asan|sanitizer/i.test(fs.readFileSync(`/proc/${pid}/maps`, 'utf8')) || /-asan$/.test(fs.readlinkSync(`/proc/${pid}/exe`));
  } catch {
    return false;
  }
}
