// Starting and stopping the berthd under test. Used by the global setup and by
// restart.test.ts (which kills the helper and starts a new one on the same store).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';

import { netnsPath } from './netns';

// A sanitizer error aborts the helper (and is printed on its stderr = the log);
// leaks are not errors here because the helper's forked children exit by exec or _exit.
export const SANITIZER_ENV = {
  ASAN_OPTIONS: 'detect_leaks=0:abort_on_error=1:halt_on_error=1:print_stacktrace=1:disable_coredump=1',
  UBSAN_OPTIONS: 'halt_on_error=1:abort_on_error=1:print_stacktrace=1',
};

const SANITIZER_REPORT = [
  /ERROR: AddressSanitizer/,
  /ERROR: LeakSanitizer/,
  /SUMMARY: (Address|UndefinedBehavior|Leak)Sanitizer/,
  /: runtime error: /,
  /==\d+==ERROR/,
];

/** The sanitizer report lines in a helper log, empty when clean. */
export function sanitizerFindings(logText: string): string[] {
  return logText.split('\n').filter((line) => SANITIZER_REPORT.some((re) => re.test(line)));
}

export interface HelperOptions {
  binary: string;
  root: string;
  socket: string;
  logPath: string;
  /** cgroup.procs files the helper is moved into before it execs (its own cgroup). */
  cgroupProcs: string[];
  /** Detached helpers outlive the process that started them (restart test). */
  detached: boolean;
  /** The network namespace (support/netns.ts) the helper runs in: never the machine's own. */
  netns: string;
  extraArgs?: string[];
}

export interface HelloResult {
  protocol: number;
  version: string;
  pid: number;
  root: string;
  cgroup: { layout: string; parent: string };
}

export interface StartedHelper {
  pid: number;
  hello: HelloResult;
  /** Resolves with how the helper ended, when it was our child. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Sends one request on a fresh connection and returns the reply line parsed. */
export function requestOnce(socket: string, method: string, params?: object, timeoutMs = 5000): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const conn = net.createConnection(socket);
    let buf = '';
    const timer = setTimeout(() => {
      conn.destroy();
      reject(new Error(`no reply to ${method} within ${timeoutMs} ms`));
    }, timeoutMs);
    conn.on('connect', () => conn.write(JSON.stringify({ v: 1, id: 1, method, params: params ?? {} }) + '\n'));
    conn.on('data', (d) => {
      buf += d.toString('utf8');
      const nl = buf.indexOf('\n');
      if (nl >= 0) {
        clearTimeout(timer);
        conn.destroy();
        try {
          resolve(JSON.parse(buf.slice(0, nl)) as Record<string, unknown>);
        } catch (e) {
          reject(e as Error);
        }
      }
    });
    conn.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    conn.on('close', () => {
      clearTimeout(timer);
      reject(new Error(`connection closed before a reply to ${method}`));
    });
  });
}

export function tail(file: string, lines = 40): string {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

export function processAlive(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

export async function waitUntil(cond: () => boolean | Promise<boolean>, timeoutMs: number, stepMs = 50): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await cond()) return true;
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, stepMs));
  }
}

export async function startHelper(o: HelperOptions): Promise<StartedHelper> {
  const logFd = fs.openSync(o.logPath, 'a');
  // The shell moves itself into the helper's cgroup and then becomes the helper,
  // so berthd sees that cgroup as its own from its first instruction.
  const moves = o.cgroupProcs.map((f) => `echo $$ > '${f}' || exit 97`).join('; ');
  // --foreground: stay our child (berthd detaches otherwise).
  const args = ['--foreground', '--root', o.root, '--socket', o.socket, ...(o.extraArgs ?? [])];
  const script = `${moves}${moves ? '; ' : ''}exec "$0" "$@"`;
  if (!o.netns || !fs.existsSync(netnsPath(o.netns))) throw new Error(`startHelper: no network namespace ${o.netns}`);
  // nsenter joins only the network namespace (ip netns exec would also make a mount
  // namespace, hiding the helper's mounts from the checks of the teardown).
  const child = spawn('nsenter', [`--net=${netnsPath(o.netns)}`, '/bin/sh', '-c', script, o.binary, ...args], {
    stdio: ['ignore', logFd, logFd],
    env: { ...process.env, ...SANITIZER_ENV },
    detached: o.detached,
  });
  fs.closeSync(logFd);
  if (o.detached) child.unref();
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('exit', (code, signal) => resolve({ code, signal }));
  });
  let ended: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  void exited.then((e) => (ended = e));
  const pid = child.pid;
  if (pid === undefined) throw new Error(`could not start ${o.binary}`);

  let hello: HelloResult | null = null;
  let lastErr = '';
  const ok = await waitUntil(async () => {
    if (ended) return true;
    if (!fs.existsSync(o.socket)) return false;
    try {
      const r = await requestOnce(o.socket, 'hello', undefined, 2000);
      if (r.ok === true) {
        hello = r.result as HelloResult;
        return true;
      }
      lastErr = JSON.stringify(r);
    } catch (e) {
      lastErr = (e as Error).message;
    }
    return false;
  }, 20000, 50);
  if (ended || !ok || !hello) {
    if (!ended) process.kill(pid, 'SIGKILL');
    throw new Error(
      `berthd did not come up on ${o.socket} (${ended ? `exited ${JSON.stringify(ended)}` : `last error: ${lastErr}`}); log ${o.logPath}:\n${tail(o.logPath)}`,
    );
  }
  return { pid, hello, exited };
}

/** SIGTERM to that one PID, SIGKILL after graceMs; waits until it is gone. */
export async function stopHelper(pid: number, graceMs = 10000): Promise<'terminated' | 'killed' | 'gone'> {
  if (!processAlive(pid)) return 'gone';
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return 'gone';
  }
  if (await waitUntil(() => !processAlive(pid), graceMs)) return 'terminated';
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    /* already gone */
  }
  await waitUntil(() => !processAlive(pid), 5000);
  return 'killed';
}

export function helperLogs(dir: string): string[] {
  return fs
    .readdirSync(dir)
    .filter((f) => /^berthd.*\.log$/.test(f))
    .map((f) => path.join(dir, f));
}
