// Network namespaces for the helpers the tests start: every berthd of a test,
// e2e or benchmark run lives in one the run made, so a bridge, a veth, an
// nftables table or a sysctl it sets never touches the machine's own network.
import { execFileSync, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';

/** Creates `<prefix>-<random>` with lo up; returns its name (see `ip netns`). */
export function createNetns(prefix = 'berth-t'): string {
  const name = `${prefix}-${crypto.randomBytes(4).toString('hex')}`;
  execFileSync('ip', ['netns', 'add', name], { stdio: ['ignore', 'ignore', 'pipe'] });
  try {
    execFileSync('ip', ['-n', name, 'link', 'set', 'lo', 'up'], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (e) {
    removeNetns(name);
    throw e;
  }
  return name;
}

/** The path nsenter --net= takes. */
export function netnsPath(name: string): string {
  return `/run/netns/${name}`;
}

/** Deletes the namespace (the kernel frees it once nothing holds it). Never throws. */
export function removeNetns(name: string): void {
  if (!/^[A-Za-z0-9_.-]+$/.test(name) || !fs.existsSync(netnsPath(name))) return;
  spawnSync('ip', ['netns', 'delete', name], { stdio: 'ignore' });
}

/** Runs a command inside the namespace; stdout, stderr and the status. */
export function inNetns(name: string, cmd: string[], timeoutMs = 20000): { status: number; stdout: string; stderr: string } {
  const r = spawnSync('ip', ['netns', 'exec', name, ...cmd], { encoding: 'utf8', timeout: timeoutMs });
  return { status: r.status ?? 128, stdout: r.stdout ?? '', stderr: (r.stderr ?? '') + (r.error ? String(r.error) : '') };
}

/** What berthd may have left in the namespace: berth bridges, veths, the nft table. */
export function netnsLeftovers(name: string): string[] {
  const left: string[] = [];
  const links = spawnSync('ip', ['-n', name, '-o', 'link', 'show'], { encoding: 'utf8' }).stdout ?? '';
  for (const line of links.split('\n')) {
    const m = /^\d+:\s+([^:@\s]+)/.exec(line);
    if (m && /^(berth0|berth-[0-9a-f]{8}|veth[0-9a-f]{8})$/.test(m[1])) left.push(`link ${m[1]}`);
  }
  const nft = spawnSync('ip', ['netns', 'exec', name, 'nft', 'list', 'tables'], { encoding: 'utf8' }).stdout ?? '';
  if (/\btable ip berth\b/.test(nft)) left.push('nft table ip berth');
  return left;
}
