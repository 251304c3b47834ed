import { describe, expect, it } from 'vitest';

import type { TopProcess } from '../../../electron/core/protocol';
import { buildPidTree, containerPidOf, treePrefix } from './pidtree';

const p = (pid: number, ppid: number, nspid: number[] = [pid], name = 'sh'): TopProcess => ({ pid, ppid, nspid, state: 'S', name, cmdline: [name], rssBytes: 0, uid: 0 });

describe('buildPidTree', () => {
  it('puts parents before children, siblings by PID, with both PIDs', () => {
    // 100 is PID 1 inside (its parent, the monitor, is not in the list).
    const rows = buildPidTree([p(130, 100, [130, 4]), p(100, 99, [100, 1]), p(120, 100, [120, 2]), p(125, 120, [125, 3])]);
    expect(rows.map((r) => [r.process.pid, r.containerPid, r.depth])).toEqual([
      [100, 1, 0],
      [120, 2, 1],
      [125, 3, 2],
      [130, 4, 1],
    ]);
  });

  it('draws tree guides', () => {
    const rows = buildPidTree([p(1, 0), p(2, 1), p(3, 2), p(4, 1)]);
    expect(rows.map(treePrefix)).toEqual(['', '├─ ', '│  └─ ', '└─ ']);
  });

  it('uses the innermost NSpid as the container PID', () => {
    expect(containerPidOf(p(500, 1, [500, 20, 1]))).toBe(1);
    expect(containerPidOf(p(500, 1, []))).toBe(500);
  });

  it('survives cycles and duplicates (untrusted data)', () => {
    const rows = buildPidTree([p(5, 6), p(6, 5), p(7, 7), p(7, 1)]);
    expect(rows.map((r) => r.process.pid).sort()).toEqual([5, 6, 7]);
  });

  it('gives several roots when the list has no common parent', () => {
    const rows = buildPidTree([p(10, 1), p(11, 2)]);
    expect(rows.map((r) => r.depth)).toEqual([0, 0]);
  });
});
