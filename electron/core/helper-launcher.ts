// Finding berthd (socket, store, binary) and starting it when none is running.
// This is on the hot path of every `berth` command: one connect when the helper is up.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { HelperClient, HelperError } from './helper-client';

export const DEFAULT_SOCKET = '/run/berth/berthd.sock';
export const DEFAULT_ROOT = '/var/lib/berth';
const START_TIMEOUT_MS = 5000;
/** pkexec waits for the user to authenticate first. */
const PKEXEC_TIMEOUT_MS = 120000;

/** A helper that cannot be had: why, and what the user can do (shown by the UI as they are). */
export class HelperUnavailableError extends HelperError {
  constructor(
    readonly reason: string,
    readonly hint: string,
    errno?: string,
  ) {
    super('connection', `${reason}: ${hint}`, errno);
  }
}

/** For the UI: a failed ensureHelper as a reason and a hint. */
export function explainHelperFailure(e: unknown): { reason: string; hint?: string } {
  if (e instanceof HelperUnavailableError) return { reason: e.reason, hint: e.hint };
  return { reason: e instanceof Error ? e.message : String(e) };
}

function which(cmd: string): string | null {
  for (const dir of (process.env.PATH ?? '/usr/bin:/bin').split(':')) {
    const p = path.join(dir || '.', cmd);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  return null;
}

/** The repository (or install) directory: the first parent holding native-helper/. */
export function repoRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (fs.existsSync(path.join(dir, 'native-helper')) || fs.existsSync(path.join(dir, 'package.json'))) return dir;
    const up = path.dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  return path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
}

export interface HelperPaths {
  socket: string;
  root: string;
  berthd: string;
  log: string;
}

export function helperPaths(env: NodeJS.ProcessEnv = process.env): HelperPaths {
  const root = env.BERTH_ROOT || DEFAULT_ROOT;
  return {
    socket: env.BERTH_SOCKET || DEFAULT_SOCKET,
    root,
    berthd: env.BERTHD || path.join(repoRoot(), 'native-helper/build/berthd'),
    log: path.join(root, 'berthd.log'),
  };
}

export interface EnsureResult {
  client: HelperClient;
  /** True when this call started berthd. */
  started: boolean;
  paths: HelperPaths;
}

function isRoot(): boolean {
  return typeof process.geteuid === 'function' && process.geteuid() === 0;
}

function tail(file: string, lines = 15): string {
  try {
    return fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/**
 * Connects to berthd; when none answers, starts one: directly when we are root, through
 * pkexec (the polkit policy in assets/) when `viaPkexec` and pkexec is installed.
 */
export async function ensureHelper(opts: { autoStart?: boolean; paths?: HelperPaths; viaPkexec?: boolean } = {}): Promise<EnsureResult> {
  const paths = opts.paths ?? helperPaths();
  let pkexec: string | null = null;
  try {
    return { client: await HelperClient.connect(paths.socket), started: false, paths };
  } catch (e) {
    const err = e as HelperError;
    const absent = err.errno === 'ENOENT' || err.errno === 'ECONNREFUSED';
    // BERTH_NO_AUTOSTART=1 (the test harnesses): a helper must only ever start inside their network namespace
    const autoStart = opts.autoStart ?? process.env.BERTH_NO_AUTOSTART !== '1';
    if (!absent || !autoStart) throw explainConnectError(err, paths);
    if (!isRoot()) {
      pkexec = opts.viaPkexec ? which('pkexec') : null;
      if (!pkexec) {
        throw new HelperUnavailableError(
          `berthd is not running (${paths.socket}: ${err.errno}) and only root can start it`,
          `sudo systemctl start berthd (unit: assets/berthd.service), or sudo ${paths.berthd} --root ${paths.root} --socket ${paths.socket} --serve-uid ${process.getuid?.() ?? 1000}`,
          err.errno,
        );
      }
    }
  }
  if (pkexec) await startHelperWithPkexec(pkexec, paths);
  else await startHelper(paths);
  return { client: await HelperClient.connect(paths.socket), started: true, paths };
}

/**
 * Starts berthd as root through pkexec after the user authenticates; berthd serves the
 * user's uid. pkexec returns once berthd has detached (its socket is ready).
 */
export async function startHelperWithPkexec(pkexec: string, paths: HelperPaths): Promise<void> {
  if (!fs.existsSync(paths.berthd)) {
    throw new HelperUnavailableError(`berthd is not running and ${paths.berthd} does not exist`, 'build it with make -C native-helper (or set BERTHD)');
  }
  const log = path.join(process.env.XDG_RUNTIME_DIR || os.tmpdir(), `berthd-${process.getuid?.() ?? 'user'}.log`);
  const logFd = fs.openSync(log, 'a', 0o600);
  let child;
  try {
    child = spawn(pkexec, [paths.berthd, '--root', paths.root, '--socket', paths.socket, '--serve-uid', String(process.getuid?.() ?? 0)], {
      stdio: ['ignore', logFd, logFd],
    });
  } finally {
    fs.closeSync(logFd);
  }
  const exited = await new Promise<number | null | 'timeout' | Error>((resolve) => {
    const timer = setTimeout(() => resolve('timeout'), PKEXEC_TIMEOUT_MS);
    child.once('error', (e) => {
      clearTimeout(timer);
      resolve(e);
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
  if (exited === 0) {
    for (let i = 0; i < 50 && !fs.existsSync(paths.socket); i++) await new Promise((r) => setTimeout(r, 20));
    return;
  }
  if (exited === 'timeout') child.kill();
  const why =
    exited instanceof Error
      ? `pkexec could not run: ${exited.message}`
      : exited === 'timeout'
        ? 'nobody answered the authentication dialog'
        : exited === 126 || exited === 127
          ? 'starting berthd was not authorized (the authentication dialog was dismissed or failed)'
          : `berthd started through pkexec exited with ${String(exited)}; see ${log}`;
  throw new HelperUnavailableError(why, 'restart Berth and authenticate, or start the service: sudo systemctl start berthd');
}

function explainConnectError(err: HelperError, paths: HelperPaths): HelperError {
  if (err.errno === 'EACCES' || err.errno === 'EPERM') {
    return new HelperUnavailableError(
      `cannot reach berthd at ${paths.socket}: permission denied`,
      `run Berth as root, or restart berthd with --serve-uid ${process.getuid?.() ?? 1000} (or --serve-gid with a group you are in)`,
      err.errno,
    );
  }
  if (err.errno === 'ENOENT' || err.errno === 'ECONNREFUSED') {
    return new HelperUnavailableError(`berthd is not running (${paths.socket}: ${err.errno})`, 'start it with sudo systemctl start berthd', err.errno);
  }
  return err;
}

/**
 * Starts berthd in its own session with its output in <root>/berthd.log. berthd
 * detaches by itself once its socket is ready, so the first process's exit is the signal.
 */
export async function startHelper(paths: HelperPaths): Promise<void> {
  if (!fs.existsSync(paths.berthd)) {
    throw new HelperUnavailableError(`berthd is not running and ${paths.berthd} does not exist`, 'build it with make -C native-helper (or set BERTHD)');
  }
  fs.mkdirSync(paths.root, { recursive: true, mode: 0o711 });
  fs.mkdirSync(path.dirname(paths.socket), { recursive: true, mode: 0o755 });
  const logFd = fs.openSync(paths.log, 'a', 0o600);
  let child;
  try {
    child = spawn(paths.berthd, ['--root', paths.root, '--socket', paths.socket], {
      detached: true,
      stdio: ['ignore', logFd, logFd],
    });
  } finally {
    fs.closeSync(logFd);
  }
  const exited = await new Promise<{ code: number | null; signal: string | null } | 'timeout' | Error>((resolve) => {
    const timer = setTimeout(() => resolve('timeout'), START_TIMEOUT_MS);
    child.once('error', (e) => {
      clearTimeout(timer);
      resolve(e);
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal });
    });
  });
  child.unref();
  if (exited instanceof Error) throw new HelperUnavailableError(`could not start ${paths.berthd}: ${exited.message}`, `check that ${paths.berthd} is executable`);
  if (exited === 'timeout' || exited.code !== 0) {
    const how = exited === 'timeout' ? `did not get ready within ${START_TIMEOUT_MS / 1000} s` : `exited with ${exited.code ?? exited.signal}`;
    throw new HelperUnavailableError(`berthd ${how}`, `see ${paths.log}; its last lines:\n${tail(paths.log)}`);
  }
  // Ready: the socket accepts connections now. Poll briefly in case of a slow rename.
  for (let i = 0; i < 50 && !fs.existsSync(paths.socket); i++) await new Promise((r) => setTimeout(r, 20));
}
