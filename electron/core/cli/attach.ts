// Attached streams: a container's or an exec'd process's output on this terminal, its
// input from ours, and its exit as our exit status (docker's numbers). Used by run,
// start -a and exec.
import os from 'node:os';

import { formatBytes } from '../format';
import { HelperError, type HelperClient, type HelperStream } from '../helper-client';
import type { ContainerInfo, ExitInfo, StreamMethod } from '../protocol';
import { currentClient, err, EXIT_BERTH_ERROR } from './context';

function signalNumber(name: string | null): number {
  if (!name) return 0;
  const n = (os.constants.signals as Record<string, number>)[name];
  return typeof n === 'number' ? n : 0;
}

export function exitStatus(info: ExitInfo): number {
  if (info.oomKilled) return 137;
  if (typeof info.exitCode === 'number') return info.exitCode;
  const sig = signalNumber(info.signal);
  return sig > 0 ? 128 + sig : EXIT_BERTH_ERROR;
}

export interface AttachOptions {
  interactive: boolean;
  tty: boolean;
  /** Signals the CLI receives are sent to this container (docker's sig-proxy), when not on a raw TTY. */
  proxyTo?: string;
}

/** Wires a stream to this process's stdio; resolves with the EXIT info. */
export function attach(stream: HelperStream<StreamMethod>, o: AttachOptions): Promise<ExitInfo> {
  return new Promise<ExitInfo>((resolve, reject) => {
    const stdin = process.stdin;
    const rawTty = o.tty && stdin.isTTY === true;
    const cleanups: (() => void)[] = [];
    const cleanup = (): void => {
      for (const c of cleanups.splice(0).reverse()) c();
    };

    // Output with backpressure: stop reading frames while stdout/stderr are full.
    const forward = (target: NodeJS.WriteStream) => (data: Buffer) => {
      if (!target.write(data)) {
        stream.pause();
        target.once('drain', () => stream.resume());
      }
    };
    stream.on('stdout', forward(process.stdout));
    stream.on('stderr', forward(process.stderr));

    if (rawTty) {
      stdin.setRawMode(true);
      cleanups.push(() => stdin.setRawMode(false));
    }
    if (o.tty) {
      const sendSize = (): void => {
        const rows = process.stdout.rows;
        const cols = process.stdout.columns;
        if (rows && cols) stream.resize(rows, cols);
      };
      sendSize();
      process.on('SIGWINCH', sendSize);
      cleanups.push(() => void process.off('SIGWINCH', sendSize));
    }
    if (o.interactive) {
      const onData = (d: Buffer): void => {
        if (!stream.writeStdin(d)) {
          stdin.pause();
          stream.once('drain', () => stdin.resume());
        }
      };
      const onEnd = (): void => stream.closeStdin();
      stdin.on('data', onData);
      stdin.once('end', onEnd);
      cleanups.push(() => {
        stdin.off('data', onData);
        stdin.off('end', onEnd);
        stdin.pause();
        stdin.destroy();
      });
    }
    if (!rawTty && o.proxyTo) {
      const ref = o.proxyTo;
      const proxy = (sig: NodeJS.Signals): void => {
        void currentClient()?.call('container.kill', { ref, signal: sig }).catch(() => undefined);
      };
      for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
        process.on(s, proxy);
        cleanups.push(() => void process.off(s, proxy));
      }
    }
    stream.once('exit', (info) => {
      cleanup();
      resolve(info);
    });
    stream.once('error', (e) => {
      cleanup();
      reject(e);
    });
  });
}

/** The PTY's first size: this terminal's, so a full-screen program draws right from the start. */
export function terminalSize(tty: boolean): { rows?: number; cols?: number } {
  const { rows, columns } = process.stdout;
  return tty && process.stdout.isTTY && rows && columns ? { rows, cols: columns } : {};
}

export function brokenByLateWrite(e: unknown): boolean {
  return e instanceof HelperError && e.code === 'connection' && (e.errno === 'EPIPE' || e.errno === 'ECONNRESET');
}

/** A container's exit as an EXIT frame says it, from its ContainerInfo (container.wait, inspect). */
export function exitOfContainer(info: ContainerInfo): ExitInfo {
  return { exitCode: info.exitCode, signal: info.exitSignal, reason: info.exitReason ?? 'exited', oomKilled: info.oomKilled };
}

/**
 * Follows an attached container.run / container.start stream to the container's exit:
 * its exit status, with docker's one line when the OOM killer ended it.
 */
export async function followContainer(c: HelperClient, stream: HelperStream<StreamMethod>, info: ContainerInfo, o: { interactive: boolean; tty: boolean; memoryLimit?: number | null }): Promise<number> {
  let exit: ExitInfo;
  try {
    exit = await attach(stream, { interactive: o.interactive, tty: o.tty, proxyTo: info.id });
  } catch (e) {
    // berthd closes the stream right after EXIT; input we were still sending then fails
    // (EPIPE) and takes the unread EXIT frame with it. The exit status is on record.
    if (!brokenByLateWrite(e)) throw e;
    const done = await c.call('container.wait', { ref: info.id }).catch(() => null);
    if (!done) throw e;
    exit = exitOfContainer(done);
  }
  if (exit.oomKilled) {
    const limit = o.memoryLimit;
    err(`berth: container ${info.name} was killed by the OOM killer${limit ? ` (memory limit ${formatBytes(limit).replace(/([A-Za-z]+)$/, ' $1')})` : ''}\n`);
  }
  return exitStatus(exit);
}
