// The overlay rootfs: a container's writes land in its own upper dir only; the
// image's layer dirs never change; deletions become whiteouts.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';

import { berth, berthOk, inspect, leftovers, mountsMentioning, removeTracked, runDetached, track, uniqueName, waitExited } from './support/berth';

/** path -> "type mode size mtime" for every entry below dir (lstat, no following). */
function fingerprint(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (rel: string): void => {
    const st = fs.lstatSync(path.join(dir, rel));
    const kind = st.isDirectory() ? 'd' : st.isSymbolicLink() ? 'l' : st.isFile() ? 'f' : 'o';
    out.set(rel || '.', `${kind} ${st.mode.toString(8)} ${st.size} ${st.mtimeMs} ${st.uid}:${st.gid}`);
    if (st.isDirectory()) for (const e of fs.readdirSync(path.join(dir, rel))) walk(path.join(rel, e));
  };
  walk('');
  return out;
}

describe('rootfs', () => {
  afterEach(removeTracked);

  it('writes land in the container upper dir only; other containers and the image do not see them', async () => {
    // Where the image's layers are, from a first container.
    const probe = track(uniqueName('probe'));
    await berthOk(['run', '--name', probe, 'busybox', 'true']);
    const lower = (await inspect(probe)).rootfs.lower;
    expect(lower.length).toBeGreaterThan(0);
    for (const l of lower) expect(fs.statSync(l).isDirectory()).toBe(true);
    const before = lower.map(fingerprint);

    const writer = track(uniqueName('writer'));
    await berthOk(['run', '--name', writer, 'busybox', 'sh', '-c', 'echo hi > /hello && mkdir -p /var/data && echo x > /var/data/y && rm /bin/ls']);
    const w = await waitExited(writer);
    expect(w.exitCode).toBe(0);
    expect(w.rootfs.lower).toEqual(lower);
    expect(fs.readFileSync(path.join(w.rootfs.upper, 'hello'), 'utf8')).toBe('hi\n');
    expect(fs.readFileSync(path.join(w.rootfs.upper, 'var/data/y'), 'utf8')).toBe('x\n');
    // The deletion is an overlay whiteout (a 0:0 character device) in the upper dir.
    const wh = fs.lstatSync(path.join(w.rootfs.upper, 'bin/ls'));
    expect(wh.isCharacterDevice()).toBe(true);
    expect(wh.rdev).toBe(0);

    for (const l of lower) expect(fs.existsSync(path.join(l, 'hello'))).toBe(false);
    expect(lower.map(fingerprint)).toEqual(before);

    // A second container from the same image starts from the image, not from the writer.
    const r = await berth(['run', '--rm', 'busybox', 'sh', '-c', 'test -e /hello && echo present || echo absent; test -e /bin/ls && echo ls-present']);
    expect(r.status).toBe(0);
    expect(r.stdout.trim().split('\n')).toEqual(['absent', 'ls-present']);
    const other = await inspect(probe);
    expect(other.rootfs.upper).not.toBe(w.rootfs.upper);
    expect(fs.existsSync(path.join(other.rootfs.upper, 'hello'))).toBe(false);
  });

  it('each container has its own upper, work and merged dirs inside its state directory', async () => {
    const a = await runDetached(['busybox', 'sleep', '60']);
    const b = await runDetached(['busybox', 'sleep', '60']);
    const [ia, ib] = [await inspect(a), await inspect(b)];
    for (const k of ['upper', 'work', 'merged'] as const) {
      expect(ia.rootfs[k]).not.toBe(ib.rootfs[k]);
      expect(ia.rootfs[k]).toContain(ia.id);
    }
    // The running container writes; the other one does not see it.
    await berthOk(['exec', a, 'sh', '-c', 'echo only-a > /tmp/mark']);
    expect(fs.readFileSync(path.join(ia.rootfs.upper, 'tmp/mark'), 'utf8')).toBe('only-a\n');
    const seen = await berth(['exec', b, 'cat', '/tmp/mark']);
    expect(seen.status).not.toBe(0);
  });

  it('without a mount namespace the overlay is mounted on the host and removed with the container', async () => {
    const id = await runDetached(['--ns', 'pid,uts,ipc,net,cgroup', 'busybox', 'sh', '-c', 'echo host-visible > /written; exec sleep 60']);
    const info = await inspect(id);
    expect(mountsMentioning(id).length).toBeGreaterThan(0);
    const merged = info.rootfs.merged;
    await expect.poll(() => fs.existsSync(path.join(merged, 'written')), { timeout: 5000 }).toBe(true);
    expect(fs.readFileSync(path.join(info.rootfs.upper, 'written'), 'utf8')).toBe('host-visible\n');
    await berthOk(['rm', '-f', id]);
    expect(leftovers(id)).toEqual([]);
  });

  it('a container that ran to completion keeps its upper dir until it is removed', async () => {
    const name = track(uniqueName('keep'));
    await berthOk(['run', '--name', name, 'busybox', 'sh', '-c', 'echo kept > /kept']);
    const info = await inspect(name);
    expect(fs.readFileSync(path.join(info.rootfs.upper, 'kept'), 'utf8')).toBe('kept\n');
    await berthOk(['rm', name]);
    expect(fs.existsSync(info.rootfs.upper)).toBe(false);
    expect(leftovers(info.id)).toEqual([]);
  });
});
