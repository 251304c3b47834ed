// What the benchmarks share: timing helpers, process checks, and berthd's cgroup
// placement (a cgroup of its own beneath ours, removed afterwards).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CONTROLLERS = ['memory', 'cpu', 'cpuacct', 'pids', 'freezer'];

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export function median(xs) {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

export const lines = (file) => fs.readFileSync(file, 'utf8').split('\n').filter(Boolean);

/** True while pid exists and is not a zombie. */
export function alive(pid) {
  try {
    const st = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^[ZX]$/.test(st.slice(st.lastIndexOf(')') + 2, st.lastIndexOf(')') + 3));
  } catch {
    return false;
  }
}

export async function waitUntil(cond, ms) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await cond()) return true;
    await sleep(25);
  }
  return false;
}

/** This process's own cgroup v1 directories, one per controller berthd uses. */
export function ownV1Cgroups() {
  const mounts = new Map();
  for (const l of lines('/proc/self/mountinfo')) {
    const [pre, post] = l.split(' - ');
    const [fstype, , opts] = post.split(' ');
    if (fstype === 'cgroup') for (const o of opts.split(',')) if (CONTROLLERS.includes(o)) mounts.set(o, pre.split(' ')[4]);
  }
  const own = new Set();
  for (const l of lines('/proc/self/cgroup')) {
    const [, ctls, ...rest] = l.split(':');
    for (const c of ctls.split(',')) if (mounts.has(c)) own.add(path.join(mounts.get(c), rest.join(':')));
  }
  return [...own];
}

/** Removes a cgroup directory and its (empty) children, deepest first. */
export function rmCgroupTree(dir) {
  if (!fs.existsSync(dir)) return;
  for (const d of fs.readdirSync(dir, { withFileTypes: true })) if (d.isDirectory()) rmCgroupTree(path.join(dir, d.name));
  try {
    fs.rmdirSync(dir);
  } catch (e) {
    console.error(`bench: could not remove cgroup ${dir}: ${e.code}`);
  }
}

/** The optimised helper: BENCH_BERTHD, else native-helper/build/berthd (made with make). */
export function helperBinary() {
  if (process.env.BENCH_BERTHD) return process.env.BENCH_BERTHD;
  const make = spawnSync('make', ['-C', path.join(repo, 'native-helper')], { encoding: 'utf8' });
  if (make.status !== 0) throw new Error(`make -C native-helper failed:\n${make.stdout}\n${make.stderr}`);
  return path.join(repo, 'native-helper/build/berthd');
}

/**
 * The network namespace every benchmark helper runs in (made on first use, lo up,
 * deleted when the process exits): a berthd never touches the machine's own network.
 * Returns the argv prefix that starts a command inside it.
 */
let benchNs = null;
export function inBenchNetns() {
  if (!benchNs) {
    const name = `berth-bench-${process.pid}-${Math.random().toString(16).slice(2, 8)}`;
    const add = spawnSync('ip', ['netns', 'add', name], { encoding: 'utf8' });
    if (add.status !== 0) throw new Error(`ip netns add ${name}: ${add.stderr}`);
    benchNs = name;
    process.on('exit', () => spawnSync('ip', ['netns', 'delete', name]));
    spawnSync('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
    // a CLI call must never start a helper of its own outside the namespace
    process.env.BERTH_NO_AUTOSTART = '1';
  }
  return ['nsenter', `--net=/run/netns/${benchNs}`];
}
