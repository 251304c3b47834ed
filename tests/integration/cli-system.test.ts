// berth system df and berth system prune through the real CLI and berthd: two images
// that share a base layer are counted once, each with its shared and unique bytes; a
// container's writable layer and a volume's data are counted; prune asks, then removes
// stopped containers, unused networks and untagged images (volumes with --volumes), and
// keeps what is in use.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';

import { berth, berthJson, berthOk, inspect, listContainers, removeTracked, runDetached, testEnv, track, uniqueName, waitExited } from './support/berth';

const NET = ['--network', 'none'];

interface Row {
  total: number;
  active: number;
  size: number;
  reclaimable: number;
}
interface Usage {
  images: Row;
  containers: Row;
  volumes: Row;
  imageList: { id: string; refs: string[]; size: number; shared: number; unique: number; containers: number }[];
  containerList: { id: string; size: number; status: string }[];
  volumeList: { name: string; size: number; containers: number }[];
}

describe('berth system df', () => {
  afterEach(removeTracked);

  it('counts a shared layer once and tells each image its own bytes; counts writable layers and volumes', async () => {
    const base = `${uniqueName('dfbase')}:1`;
    const child = `${uniqueName('dfchild')}:1`;
    const vol = uniqueName('dfvol');
    try {
      // base: busybox + 200 kB; child: base + its own 300 kB layer
      const a = track((await berthOk(['create', ...NET, 'busybox', 'sh', '-c', 'head -c 200000 /dev/zero > /base.bin'])).stdout.trim());
      await berthOk(['start', '-a', a]);
      await berthOk(['commit', '-q', a, base]);
      const b = track((await berthOk(['create', ...NET, base, 'sh', '-c', 'head -c 300000 /dev/zero > /child.bin'])).stdout.trim());
      await berthOk(['start', '-a', b]);
      await berthOk(['commit', '-q', b, child]);
      // a running container of child with 50 kB of its own, and a volume with 70 kB
      const run = await runDetached([...NET, '-v', `${vol}:/data`, child, 'sh', '-c', 'head -c 50000 /dev/zero > /mine.bin; head -c 70000 /dev/zero > /data/v.bin; sleep 60']);
      await new Promise((r) => setTimeout(r, 500));

      const u = await berthJson<Usage>(['system', 'df', '--json']);
      const baseId = (await berthJson<{ id: string }[]>(['image', 'inspect', base]))[0].id;
      const childId = (await berthJson<{ id: string }[]>(['image', 'inspect', child]))[0].id;
      const bi = u.imageList.find((i) => i.id === baseId);
      const ci = u.imageList.find((i) => i.id === childId);
      expect(bi && ci).toBeTruthy();
      if (!bi || !ci) return;
      // child has base's layers (shared) and its own 300 kB
      expect(ci.size - bi.size).toBeGreaterThanOrEqual(300_000);
      expect(ci.shared).toBe(bi.size);
      expect(ci.unique).toBe(ci.size - bi.size);
      expect(bi.unique).toBe(0);
      expect(ci.containers).toBe(1);
      // the total counts each layer once: less than the images' sizes added up
      const naive = u.imageList.reduce((n, i) => n + i.size, 0);
      expect(u.images.size).toBeLessThan(naive);
      expect(u.images.total).toBe(u.imageList.length);
      expect(u.images.active).toBeGreaterThanOrEqual(1);

      const mine = u.containerList.find((c) => c.id === run);
      expect(mine?.size).toBeGreaterThanOrEqual(50_000);
      expect(mine?.status).toBe('running');
      expect(u.containers.active).toBeGreaterThanOrEqual(1);
      const v = u.volumeList.find((x) => x.name === vol);
      expect(v?.size).toBeGreaterThanOrEqual(70_000);
      expect(v?.containers).toBe(1);

      const text = (await berthOk(['system', 'df'])).stdout;
      expect(text).toMatch(/^TYPE +TOTAL +ACTIVE +SIZE +RECLAIMABLE\nImages +\d+ +\d+ +\S+ +\S+ \(\d+%\)\nContainers .*\nLocal Volumes .*\n$/);
      const verbose = (await berthOk(['system', 'df', '-v'])).stdout;
      expect(verbose).toMatch(new RegExp(`${child.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} +${childId.slice(7, 19)} `));
      expect(verbose).toContain('SHARED SIZE');
    } finally {
      await removeTracked();
      await berth(['rmi', child]);
      await berth(['rmi', base]);
      await berth(['volume', 'rm', '-f', vol]);
    }
  });
});

describe('berth system prune', () => {
  afterEach(removeTracked);

  it('asks, then removes stopped containers, unused networks and untagged images; keeps what is in use', async () => {
    const unused = uniqueName('unusednet');
    const kept = uniqueName('keptnet');
    const freed = uniqueName('freednet');
    const tag = `${uniqueName('prunetag')}:1`;
    const vol = uniqueName('keptvol');
    try {
      const stopped = await runDetached([...NET, 'busybox', 'true']);
      await waitExited(stopped);
      await berthOk(['network', 'create', unused]);
      await berthOk(['network', 'create', kept]);
      const running = await runDetached(['--network', kept, 'busybox', 'sleep', '60']);
      await berthOk(['network', 'create', freed]);
      const onNet = track((await berthOk(['create', '--network', freed, 'busybox', 'true'])).stdout.trim());
      // an untagged image: a commit's tag moved to another commit
      await berthOk(['commit', '-q', stopped, tag]);
      const firstId = (await berthJson<{ id: string }[]>(['image', 'inspect', tag]))[0].id;
      await berthOk(['commit', '-q', '-m', 'again', stopped, tag]);
      await berthOk(['volume', 'create', vol]);

      const no = await berth(['system', 'prune'], { input: 'n\n' });
      expect(no.status).toBe(0);
      expect(no.stderr).toMatch(/WARNING! This will remove:\n {2}- all stopped containers\n {2}- all networks not used by at least one container\n {2}- all dangling images\n\nAre you sure/);
      expect((await listContainers()).map((c) => c.id)).toContain(stopped);

      const r = await berthJson<{ containers: string[]; networks: string[]; volumes: string[]; images: string[]; reclaimedBytes: number }>(['system', 'prune', '-f', '--json']);
      expect(r.containers).toContain(stopped);
      expect(r.containers).toContain(onNet); // created, never started: stopped
      expect(r.containers).not.toContain(running);
      // containers go first, so a network only a stopped container named goes too
      expect(r.networks).toEqual(expect.arrayContaining([unused, freed]));
      expect(r.networks).not.toContain(kept);
      expect(r.networks).not.toContain('bridge');
      expect(r.images).toContain(firstId);
      expect(r.volumes).toEqual([]);
      expect((await inspect(running)).status).toBe('running');
      expect((await berth(['volume', 'inspect', vol])).status).toBe(0);
      expect((await berth(['image', 'inspect', tag])).status).toBe(0);
      expect(fs.existsSync(path.join(testEnv().root, 'containers', stopped))).toBe(false);
    } finally {
      await removeTracked();
      for (const n of [kept, freed, unused]) await berth(['network', 'rm', n]);
      await berth(['volume', 'rm', '-f', vol]);
      await berth(['rmi', tag]);
    }
  });
});
