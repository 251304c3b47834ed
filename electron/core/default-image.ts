// The default image, busybox:latest, built on the spot from the host's static busybox
// so that a fresh machine can run containers without any registry.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { HelperError, type HelperClient } from './helper-client';
import type { ImageSummary } from './protocol';

export const DEFAULT_IMAGE = 'busybox:latest';
export const DEFAULT_PATH_ENV = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const BUSYBOX = '/bin/busybox';

/** True when ref names the default image ("busybox", "busybox:latest"). */
export function isDefaultImageRef(ref: string): boolean {
  return ref === DEFAULT_IMAGE || ref === 'busybox';
}

export async function hasDefaultImage(client: HelperClient): Promise<boolean> {
  const { images } = await client.call('image.list');
  return images.some((i) => i.refs.includes(DEFAULT_IMAGE));
}

/**
 * Runs fn (a create or run of image); when the image is the default one and it is not
 * there yet, makes it and runs fn once more: the default image is made on first use.
 */
export async function withDefaultImage<T>(client: HelperClient, image: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof HelperError && e.code === 'not_found' && isDefaultImageRef(image) && !(await hasDefaultImage(client))) {
      await ensureDefaultImage(client);
      return await fn();
    }
    throw e;
  }
}

/** Imports busybox:latest unless it is there; returns the image when it was made. */
export async function ensureDefaultImage(client: HelperClient): Promise<ImageSummary | null> {
  if (await hasDefaultImage(client)) return null;
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-busybox-'));
  try {
    const tarball = buildBusyboxRootfs(tmp);
    const { images } = await client.work('image.import', {
      path: tarball,
      format: 'rootfs',
      ref: DEFAULT_IMAGE,
      config: { Cmd: ['sh'], Env: [DEFAULT_PATH_ENV] },
    });
    return images[0] ?? null;
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

/** Lays out a minimal rootfs in dir/rootfs and tars it to dir/rootfs.tar; returns the tar's path. */
export function buildBusyboxRootfs(dir: string): string {
  if (!fs.existsSync(BUSYBOX)) throw new Error(`${BUSYBOX} is missing: install busybox-static (apt-get install busybox-static)`);
  const rootfs = path.join(dir, 'rootfs');
  const mk = (rel: string, mode = 0o755): void => {
    fs.mkdirSync(path.join(rootfs, rel), { recursive: true });
    fs.chmodSync(path.join(rootfs, rel), mode);
  };
  for (const d of ['bin', 'sbin', 'usr/bin', 'usr/sbin', 'usr/local/bin', 'etc', 'dev', 'proc', 'sys', 'run', 'mnt', 'home', 'var', 'var/log']) mk(d);
  mk('tmp', 0o1777);
  mk('var/tmp', 0o1777);
  mk('root', 0o700);
  fs.copyFileSync(BUSYBOX, path.join(rootfs, 'bin/busybox'));
  fs.chmodSync(path.join(rootfs, 'bin/busybox'), 0o755);
  const applets = execFileSync(BUSYBOX, ['--list'], { encoding: 'utf8' })
    .split('\n')
    .map((s) => s.trim())
    .filter((a) => a && a !== 'busybox' && !a.includes('/'));
  for (const a of applets) fs.symlinkSync('busybox', path.join(rootfs, 'bin', a));
  const files: Record<string, string> = {
    'etc/passwd': 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n',
    'etc/group': 'root:x:0:\nnogroup:x:65534:\n',
    'etc/hosts': '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n',
    'etc/os-release': 'NAME="Berth busybox"\nID=busybox\nPRETTY_NAME="Berth default image (busybox)"\n',
  };
  for (const [rel, text] of Object.entries(files)) fs.writeFileSync(path.join(rootfs, rel), text, { mode: 0o644 });
  const tarball = path.join(dir, 'rootfs.tar');
  execFileSync('tar', ['-C', rootfs, '--owner=0', '--group=0', '--numeric-owner', '-cf', tarball, '.'], { stdio: ['ignore', 'ignore', 'pipe'] });
  return tarball;
}
