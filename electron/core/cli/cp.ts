// `berth cp`: files between this machine and a container, as tar streams
// (container.copy.out / container.copy.in). This side of the copy is the system's tar,
// run as the user of berth; berthd's side runs inside the container's file system.
// main.ts loads this module on demand.
import { spawn, type ChildProcess } from 'node:child_process';
import { PassThrough } from 'node:stream';
import fs from 'node:fs';
import path from 'node:path';

import { formatDecimalBytes } from '../format';
import { HelperError, type HelperClient } from '../helper-client';
import type { Command } from './args';
import { err, helper } from './context';

type CpCommand = Extract<Command, { verb: 'cp' }>;

/** `CONTAINER:PATH` or a local path (docker's rule: a colon before any slash names a container; ./a:b is local). */
export function parseCpOperand(text: string): { container: string; path: string } | { local: string } {
  const colon = text.indexOf(':');
  const slash = text.indexOf('/');
  if (colon > 0 && (slash < 0 || colon < slash)) return { container: text.slice(0, colon), path: text.slice(colon + 1) };
  return { local: text };
}

/** A path in the container: relative ones start at its root, as docker's do. */
export function containerPath(p: string): string {
  const abs = p.startsWith('/') ? p : `/${p}`;
  return abs.length > 1 ? abs.replace(/\/+$/, '') || '/' : abs;
}

interface Exited {
  code: number | null;
  stderr: string;
}

function tarProcess(args: string[], stdio: ('pipe' | 'inherit' | 'ignore')[]): { child: ChildProcess; done: Promise<Exited> } {
  const child = spawn('tar', args, { stdio: stdio as ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<Exited>((resolve, reject) => {
    child.once('error', (e) => reject(new HelperError('invalid', `cannot run tar: ${e.message} (install tar)`)));
    child.once('close', (code) => resolve({ code, stderr: stderr.trim() }));
  });
  return { child, done };
}

function said(bytes: number, where: string): void {
  if (process.stderr.isTTY) err(`Successfully copied ${formatDecimalBytes(bytes)} to ${where}\n`);
}

/** CONTAINER:SRC → DEST: DEST an existing directory gets SRC in it; otherwise SRC becomes DEST; '-' writes the tar to stdout. */
async function copyOut(c: HelperClient, ref: string, src: string, dest: string): Promise<number> {
  const from = containerPath(src);
  let tar: ReturnType<typeof tarProcess> | null = null;
  let name: string | undefined;
  if (dest !== '-') {
    const abs = path.resolve(dest);
    const st = fs.statSync(abs, { throwIfNoEntry: false });
    let dir = abs;
    if (!st?.isDirectory()) {
      if (dest.endsWith('/')) throw new HelperError('not_found', `no directory ${dest} to copy into`);
      dir = path.dirname(abs);
      name = path.basename(abs);
      if (!fs.statSync(dir, { throwIfNoEntry: false })?.isDirectory()) throw new HelperError('not_found', `no directory ${dir} to copy into`);
    }
    // files become the user's own, as docker cp makes them, with the umask's modes: no
    // setuid bit of the container's reaches this machine
    tar = tarProcess(['-x', '-f', '-', '-C', dir, '--no-same-owner', '--no-same-permissions'], ['pipe', 'inherit', 'pipe']);
  }
  const sink = tar ? (tar.child.stdin as NodeJS.WritableStream) : process.stdout;
  try {
    const stream = await c.stream('container.copy.out', { ref, path: from, ...(name === undefined ? {} : { name }) });
    stream.on('stdout', (d) => {
      if (!sink.write(d)) {
        stream.pause();
        sink.once('drain', () => stream.resume());
      }
    });
    const r = await stream.finish();
    if (tar) {
      tar.child.stdin?.end();
      const t = await tar.done;
      if (t.code !== 0) throw new HelperError('invalid', `tar could not write the copy into ${dest}: ${t.stderr || `status ${t.code}`}`);
      said(r.bytes, dest);
    }
    return 0;
  } catch (e) {
    tar?.child.kill();
    throw e;
  }
}

/** SRC → CONTAINER:DEST: DEST an existing directory gets SRC in it; otherwise SRC becomes DEST; '-' reads a tar from stdin. */
async function copyIn(c: HelperClient, src: string, ref: string, dest: string, archive: boolean): Promise<number> {
  const to = containerPath(dest);
  let tar: ReturnType<typeof tarProcess> | null = null;
  if (src !== '-') {
    const abs = path.resolve(src);
    if (!fs.lstatSync(abs, { throwIfNoEntry: false })) throw new HelperError('not_found', `no ${src} here to copy`);
    // owned by root in the container unless -a keeps the numbers
    const owners = archive ? ['--numeric-owner'] : ['--owner=0', '--group=0', '--numeric-owner'];
    tar = tarProcess(['-c', '-f', '-', '-C', path.dirname(abs), ...owners, '--', path.basename(abs)], ['ignore', 'pipe', 'pipe']);
  }
  // piped at once: Node throws away what a child wrote to a pipe nobody reads once it exits
  const source = tar ? (tar.child.stdout as NodeJS.ReadableStream).pipe(new PassThrough()) : process.stdin;
  try {
    const stream = await c.stream('container.copy.in', { ref, path: to });
    source.on('data', (d: Buffer) => {
      if (!stream.writeStdin(d)) {
        source.pause();
        stream.once('drain', () => source.resume());
      }
    });
    source.once('end', () => stream.closeStdin());
    const r = await stream.finish();
    if (tar) {
      const t = await tar.done;
      if (t.code !== 0) throw new HelperError('invalid', `tar could not read ${src}: ${t.stderr || `status ${t.code}`}`);
    }
    said(r.bytes, `${ref}:${to}`);
    return 0;
  } catch (e) {
    tar?.child.kill();
    throw e;
  }
}

export async function runCp(cmd: CpCommand): Promise<number> {
  const from = parseCpOperand(cmd.source);
  const to = parseCpOperand(cmd.destination);
  const c = await helper();
  if ('container' in from && 'local' in to) return copyOut(c, from.container, from.path, to.local);
  if ('local' in from && 'container' in to) return copyIn(c, from.local, to.container, to.path, cmd.archive);
  throw new HelperError('invalid', 'berth cp copies between this machine and a container: one of SRC and DEST is CONTAINER:PATH, the other a local path (or -)');
}
