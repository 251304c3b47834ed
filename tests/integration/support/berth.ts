// Driving the real CLI (node bin/berth.mjs) against the helper of this run, and
// reading the host's side of things (/proc, mountinfo, cgroupfs) to check it.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { inject } from 'vitest';

import type { BerthTestEnv } from './env';
import { processAlive, waitUntil } from './helper-process';

export { processAlive, waitUntil };

export function testEnv(): BerthTestEnv {
  return inject('berthEnv');
}

export interface CliResult {
  stdout: string;
  stderr: string;
  /** Exit status; 128 + n when the CLI itself died of signal n. */
  status: number;
  signal: NodeJS.Signals | null;
  ms: number;
}

export interface CliOptions {
  input?: string | Buffer;
  timeoutMs?: number;
  env?: Record<string, string>;
}

function cliEnv(extra?: Record<string, string>): NodeJS.ProcessEnv {
  const e = testEnv();
  return { ...process.env, BERTH_ROOT: e.root, BERTH_SOCKET: e.socket, BERTHD: e.berthd, NO_COLOR: '1', BERTH_NO_AUTOSTART: '1', ...extra };
}

/** Runs `berth ARGS...`; never throws on a non-zero status. */
export function berth(args: string[], opts: CliOptions = {}): Promise<CliResult> {
  const e = testEnv();
  const started = Date.now();
  return new Promise((resolve, reject) => {
    // BERTH_TEST_CLI: another build's bin/berth.mjs (its own dist/ beside it), e.g. one not yet in dist/
    const cli = process.env.BERTH_TEST_CLI ?? path.join(e.repo, 'bin/berth.mjs');
    const child = spawn(process.execPath, [cli, ...args], {
      env: cliEnv(opts.env),
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    const timeoutMs = opts.timeoutMs ?? 60000;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(
        new Error(
          `berth ${args.join(' ')} did not finish within ${timeoutMs} ms; stdout: ${Buffer.concat(out).toString()} stderr: ${Buffer.concat(err).toString()}`,
        ),
      );
    }, timeoutMs);
    child.on('error', (er) => {
      clearTimeout(timer);
      reject(er);
    });
    child.stdin.on('error', () => {
      /* the CLI may exit before reading all of its stdin */
    });
    if (opts.input !== undefined) child.stdin.end(opts.input);
    else child.stdin.end();
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const sigNum = signal ? (osSignals[signal] ?? 0) : 0;
      resolve({
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        status: code ?? 128 + sigNum,
        signal,
        ms: Date.now() - started,
      });
    });
  });
}

const osSignals: Partial<Record<NodeJS.Signals, number>> = { SIGKILL: 9, SIGTERM: 15, SIGABRT: 6, SIGSEGV: 11 };

export function describeResult(args: string[], r: CliResult): string {
  return `berth ${args.join(' ')} -> status ${r.status}${r.signal ? ` (${r.signal})` : ''}\n--- stdout ---\n${r.stdout}\n--- stderr ---\n${r.stderr}`;
}

/** Runs berth and throws (with both streams) unless it exits 0. */
export async function berthOk(args: string[], opts: CliOptions = {}): Promise<CliResult> {
  const r = await berth(args, opts);
  if (r.status !== 0) throw new Error(describeResult(args, r));
  return r;
}

export function parseJson<T>(args: string[], r: CliResult): T {
  try {
    return JSON.parse(r.stdout) as T;
  } catch {
    throw new Error(`output of berth ${args.join(' ')} is not JSON:\n${r.stdout}\n${r.stderr}`);
  }
}

export async function berthJson<T>(args: string[], opts: CliOptions = {}): Promise<T> {
  return parseJson<T>(args, await berthOk(args, opts));
}

// --- Containers -----------------------------------------------------------

export interface NamespaceInfo {
  isolated: boolean;
  inode: number;
  hostInode: number;
}

export interface ContainerInfo {
  id: string;
  shortId: string;
  name: string;
  image: string;
  imageId: string;
  command: string[];
  status: 'created' | 'running' | 'exited';
  pid: number;
  monitorPid: number;
  exitCode: number | null;
  exitSignal: string | null;
  exitReason: string | null;
  oomKilled: boolean;
  rootfs: { lower: string[]; upper: string; work: string; merged: string };
  cgroup: { layout: string; paths: Record<string, string> };
  namespaces: Record<string, NamespaceInfo>;
  timeline: { step: string; us: number; atUs?: number }[];
  startToExitUs: number | null;
  spec?: Record<string, unknown>;
}

/** Every container created through these helpers; removed by removeTracked(). */
const tracked = new Set<string>();

/** A container name no other test (or run) uses. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${process.pid}-${Math.floor(Math.random() * 1e6)}`;
}

export function track(ref: string): string {
  tracked.add(ref);
  return ref;
}

/** `berth run -d ARGS...`: returns the id printed and tracks it for cleanup. */
export async function runDetached(args: string[], opts: CliOptions = {}): Promise<string> {
  const full = ['run', '-d', ...args];
  const r = await berthOk(full, opts);
  const id = r.stdout.trim().split('\n').pop()?.trim() ?? '';
  if (!/^[0-9a-f]{12,64}$/.test(id)) throw new Error(`run -d printed no id:\n${describeResult(full, r)}`);
  return track(id);
}

/** Removes every tracked container (rm -f); used in afterEach so failures leave nothing. */
export async function removeTracked(): Promise<void> {
  const refs = [...tracked];
  tracked.clear();
  for (const ref of refs) {
    await berth(['rm', '-f', ref], { timeoutMs: 30000 }).catch(() => undefined);
  }
}

export async function inspect(ref: string): Promise<ContainerInfo> {
  const arr = await berthJson<ContainerInfo[]>(['inspect', ref]);
  if (!Array.isArray(arr) || arr.length !== 1) throw new Error(`inspect ${ref} did not give a one-element array: ${JSON.stringify(arr)}`);
  return arr[0];
}

/** Polls inspect until the container is not running any more. */
export async function waitExited(ref: string, timeoutMs = 20000): Promise<ContainerInfo> {
  let info: ContainerInfo | null = null;
  const ok = await waitUntil(async () => {
    info = await inspect(ref);
    return info.status === 'exited';
  }, timeoutMs, 100);
  if (!ok || !info) throw new Error(`container ${ref} still ${(info as ContainerInfo | null)?.status} after ${timeoutMs} ms`);
  return info;
}

export async function listContainers(all = true): Promise<ContainerInfo[]> {
  const r = await berthJson<ContainerInfo[] | { containers: ContainerInfo[] }>(['ps', ...(all ? ['-a'] : []), '--json']);
  return Array.isArray(r) ? r : r.containers;
}

export interface StatsEntry {
  id: string;
  memory: { usage: number; limit: number | null };
  cpu: { usageNs: number; quotaCpus: number | null };
  pids: { current: number; limit: number | null };
  oomKills: number;
}

export async function stats(ref: string): Promise<StatsEntry> {
  const args = ['stats', '--no-stream', '--json', ref];
  const r = await berthJson<StatsEntry | StatsEntry[] | { stats: StatsEntry[] }>(args);
  const list = Array.isArray(r) ? r : 'stats' in r ? r.stats : [r];
  const hit = list.find((s) => s.id.startsWith(ref) || ref.startsWith(s.id)) ?? (list.length === 1 ? list[0] : undefined);
  if (!hit) throw new Error(`stats for ${ref} not found in ${JSON.stringify(r)}`);
  return hit;
}

export interface TopProcess {
  pid: number;
  ppid: number;
  nspid: number[];
  state: string;
  name: string;
  cmdline: string[];
  rssBytes: number;
  uid: number;
}

export async function top(ref: string): Promise<TopProcess[]> {
  const r = await berthJson<{ processes: TopProcess[] }>(['top', ref, '--json']);
  return r.processes;
}

export function stateDir(id: string): string {
  return path.join(testEnv().root, 'containers', id);
}

export function containerDirs(): string[] {
  try {
    return fs.readdirSync(path.join(testEnv().root, 'containers')).sort();
  } catch {
    return [];
  }
}

// --- Host views -----------------------------------------------------------

export interface MountEntry {
  mountPoint: string;
  fsType: string;
  source: string;
  options: string;
  superOptions: string;
}

function unescapeMount(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));
}

export function mountInfo(pid: number | 'self' = 'self'): MountEntry[] {
  return fs
    .readFileSync(`/proc/${pid}/mountinfo`, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [pre, post] = line.split(' - ');
      const f = pre.split(' ');
      const g = post.split(' ');
      return { mountPoint: unescapeMount(f[4]), options: f[5], fsType: g[0], source: unescapeMount(g[1]), superOptions: g[2] ?? '' };
    });
}

/** Mounts in this (the host's) mount namespace at or below dir. */
export function mountsUnder(dir: string): string[] {
  return mountInfo()
    .map((m) => m.mountPoint)
    .filter((p) => p === dir || p.startsWith(dir + '/'));
}

/** Host mounts whose mount point or source mentions the text (a container id). */
export function mountsMentioning(text: string): string[] {
  return mountInfo()
    .filter((m) => m.mountPoint.includes(text) || m.source.includes(text) || m.superOptions.includes(text))
    .map((m) => m.mountPoint);
}

/** "net:[4026531840]" -> 4026531840 */
export function nsInode(pid: number | 'self', ns: string): number {
  const link = fs.readlinkSync(`/proc/${pid}/ns/${ns}`);
  const m = /\[(\d+)\]/.exec(link);
  if (!m) throw new Error(`unexpected ns link ${link}`);
  return Number(m[1]);
}

export function procStatusField(pid: number, field: string): string | undefined {
  const text = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const line = text.split('\n').find((l) => l.startsWith(field + ':'));
  return line?.slice(field.length + 1).trim();
}

/** controller -> mount point of its hierarchy ("unified" for cgroup2). */
export function cgroupMounts(): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of mountInfo()) {
    if (m.fsType === 'cgroup2') out.set('unified', m.mountPoint);
    if (m.fsType !== 'cgroup') continue;
    for (const opt of m.superOptions.split(',')) {
      if (['memory', 'cpu', 'cpuacct', 'pids', 'freezer', 'cpuset', 'blkio', 'devices'].includes(opt)) out.set(opt, m.mountPoint);
    }
  }
  return out;
}

/** controller -> path in /proc/PID/cgroup ("unified" for the 0:: line). */
export function procCgroups(pid: number | 'self'): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n').filter(Boolean)) {
    const [hid, ctls, p] = [line.slice(0, line.indexOf(':')), line.slice(line.indexOf(':') + 1, line.lastIndexOf(':')), line.slice(line.lastIndexOf(':') + 1)];
    if (hid === '0' && ctls === '') out.set('unified', p);
    for (const c of ctls.split(',').filter(Boolean)) out.set(c, p);
  }
  return out;
}

/** The entries of the helper's `<own cgroup>/berth` directory, per controller. */
export function containerCgroupDirs(): string[] {
  const e = testEnv();
  const out: string[] = [];
  for (const [ctl, dir] of Object.entries(e.helperCgroups)) {
    const parent = path.join(dir, 'berth');
    try {
      for (const d of fs.readdirSync(parent, { withFileTypes: true })) if (d.isDirectory()) out.push(`${ctl}:${d.name}`);
    } catch {
      /* not created yet */
    }
  }
  return out.sort();
}

export function readIfExists(file: string): string | null {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return null;
  }
}

export function helperPid(): number {
  return Number(fs.readFileSync(testEnv().helperPidFile, 'utf8').trim());
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** What a clean removal leaves behind of one container: nothing. */
export function leftovers(id: string): string[] {
  const found: string[] = [];
  if (fs.existsSync(stateDir(id))) found.push(`state dir ${stateDir(id)}`);
  for (const m of mountsMentioning(id)) found.push(`mount ${m}`);
  for (const c of containerCgroupDirs()) if (c.includes(id.slice(0, 12))) found.push(`cgroup ${c}`);
  return found;
}
