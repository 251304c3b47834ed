// For the integration and e2e suites: the helper under test runs in a cgroup of its
// own beneath ours (never elsewhere), so its containers' cgroups are ours to clean up.
import fs from 'node:fs';
import path from 'node:path';

const CONTROLLERS = ['memory', 'cpu', 'cpuacct', 'pids', 'freezer'];

function readLines(file: string): string[] {
  return fs.readFileSync(file, 'utf8').split('\n').filter(Boolean);
}

/** controller -> our directory in it, for the v1 controllers berth uses. */
export function ownV1Cgroups(): Map<string, string> {
  const mounts = new Map<string, string>();
  for (const line of readLines('/proc/self/mountinfo')) {
    const [pre, post] = line.split(' - ');
    const [fstype, , superOpts] = post.split(' ');
    if (fstype !== 'cgroup') continue;
    for (const o of superOpts.split(',')) if (CONTROLLERS.includes(o)) mounts.set(o, pre.split(' ')[4]);
  }
  const own = new Map<string, string>();
  for (const line of readLines('/proc/self/cgroup')) {
    const parts = line.split(':');
    const p = parts.slice(2).join(':');
    for (const c of parts[1].split(',')) {
      const m = mounts.get(c);
      if (m) own.set(c, path.join(m, p));
    }
  }
  return own;
}

/** Makes `name` beneath each of our v1 cgroups; returns the dirs made and their cgroup.procs files. */
export function makeHelperCgroups(name: string): { dirs: string[]; procs: string[] } {
  const dirs: string[] = [];
  for (const own of new Set(ownV1Cgroups().values())) {
    const dir = path.join(own, name);
    fs.mkdirSync(dir);
    dirs.push(dir);
  }
  return { dirs, procs: dirs.map((d) => path.join(d, 'cgroup.procs')) };
}

export function cgroupTreeProcs(dir: string): number[] {
  if (!fs.existsSync(dir)) return [];
  const pids: number[] = [];
  try {
    pids.push(...readLines(path.join(dir, 'cgroup.procs')).map(Number));
  } catch {
    /* gone meanwhile */
  }
  for (const d of fs.readdirSync(dir, { withFileTypes: true })) if (d.isDirectory()) pids.push(...cgroupTreeProcs(path.join(dir, d.name)));
  return pids;
}

/** Removes a cgroup tree bottom-up; returns what would not go. */
export function rmCgroupTree(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  const stuck: string[] = [];
  for (const d of fs.readdirSync(dir, { withFileTypes: true })) if (d.isDirectory()) stuck.push(...rmCgroupTree(path.join(dir, d.name)));
  try {
    fs.rmdirSync(dir);
  } catch (e) {
    stuck.push(`${dir} (${(e as NodeJS.ErrnoException).code})`);
  }
  return stuck;
}
