import { describe, expect, it } from 'vitest';

import type { ContainerInfo, ImageDetails, VolumeInfo } from '../protocol';
import { diskUsage, diskUsageText } from './system';

const layer = (diffId: string, unpackedSize: number) => ({ digest: `b-${diffId}`, diffId, size: 1, unpackedSize });
const image = (id: string, refs: string[], layers: ReturnType<typeof layer>[]): ImageDetails => ({ id, refs, manifestDigest: `m-${id}`, created: '', size: 0, config: {}, layers });
const ctr = (id: string, imageId: string, status: ContainerInfo['status']): ContainerInfo => ({ id, imageId, status, name: `n-${id}`, image: 'img' }) as ContainerInfo;
const vol = (name: string, usedBy: string[], sizeBytes: number): VolumeInfo => ({ name, mountpoint: '', created: '', anonymous: false, usedBy, sizeBytes });

describe('system df numbers', () => {
  const base = layer('base', 1000);
  const images = [image('sha256:a', ['a:1'], [base]), image('sha256:b', ['b:1'], [base, layer('b', 300)]), image('sha256:c', [], [layer('c', 50)])];
  const containers = [ctr('1', 'sha256:b', 'running'), ctr('2', 'sha256:b', 'exited')];
  const u = diskUsage(images, containers, new Map([['1', 10], ['2', 20]]), [vol('v', ['1'], 7), vol('w', [], 5)]);

  it('counts a shared layer once, and what no container uses as reclaimable', () => {
    expect(u.images).toEqual({ total: 3, active: 1, size: 1350, reclaimable: 50 });
    expect(u.imageList.map((i) => [i.size, i.shared, i.unique, i.containers])).toEqual([
      [1000, 1000, 0, 0],
      [1300, 1000, 300, 2],
      [50, 0, 50, 0],
    ]);
  });

  it('containers: running ones are active, the others reclaimable; volumes likewise by use', () => {
    expect(u.containers).toEqual({ total: 2, active: 1, size: 30, reclaimable: 20 });
    expect(u.volumes).toEqual({ total: 2, active: 1, size: 12, reclaimable: 5 });
  });

  it('prints the table with percentages, and the lists with -v', () => {
    expect(diskUsageText(u, false)).toBe(
      ['TYPE            TOTAL   ACTIVE   SIZE     RECLAIMABLE', 'Images          3       1        1.35kB   50B (4%)', 'Containers      2       1        30B      20B (67%)', 'Local Volumes   2       1        12B      5B (42%)', ''].join('\n'),
    );
    const v = diskUsageText(u, true);
    expect(v).toMatch(/\nREPOSITORY:TAG +IMAGE ID +SIZE +SHARED SIZE +UNIQUE SIZE +CONTAINERS\n/);
    expect(v).toMatch(/b:1 +b +1.3kB +1kB +300B +2/);
    expect(v).toMatch(/<none> +c +50B/);
  });
});
