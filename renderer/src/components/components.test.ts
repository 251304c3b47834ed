import { describe, expect, it } from 'vitest';

import { timelineBars } from '../views/detail/Timeline';
import { joinPath } from './FileTree';
import { sparkPath } from '../lib/spark';

describe('sparkPath', () => {
  it('right-aligns a young series in its window and scales to the max', () => {
    const { line } = sparkPath([0, 50, 100], 5, 100, 40, 10);
    // 5 slots over 40px: step 10; 3 values start at x = 20.
    expect(line).toBe('M20.0,9.5L30.0,5.0L40.0,0.5');
  });

  it('breaks the line at gaps and clamps above the max', () => {
    const { line, area } = sparkPath([1, NaN, 200], 3, 100, 20, 10);
    expect(line.match(/M/g)?.length).toBe(2);
    expect(line.endsWith('L20.0,0.5') || line.endsWith('M20.0,0.5')).toBe(true);
    expect(area.match(/Z/g)?.length).toBe(2);
  });

  it('draws nothing without data', () => {
    expect(sparkPath([], 60, 100, 96, 24)).toEqual({ line: '', area: '' });
  });
});

describe('timelineBars', () => {
  it('places each step where it began: side by side where they overlap', () => {
    const { bars, totalUs } = timelineBars([
      { step: 'cgroup', us: 250, atUs: 40 },
      { step: 'clone', us: 100, atUs: 30 },
      { step: 'mounts', us: 400, atUs: 140 },
      { step: 'exec', us: 150, atUs: 600 },
    ]);
    expect(totalUs).toBe(750);
    expect(bars.map((b) => [b.step, b.startUs, b.us])).toEqual([
      ['cgroup', 40, 250],
      ['clone', 30, 100],
      ['mounts', 140, 400],
      ['exec', 600, 150],
    ]);
  });

  it('lays the steps end to end in µs when they say nothing of when they began', () => {
    const { bars, totalUs } = timelineBars([
      { step: 'cgroup', us: 120 },
      { step: 'clone', us: 310 },
      { step: 'exec', us: -5 },
    ]);
    expect(totalUs).toBe(430);
    expect(bars.map((b) => [b.step, b.startUs, b.us])).toEqual([
      ['cgroup', 0, 120],
      ['clone', 120, 310],
      ['exec', 430, 0],
    ]);
  });
});

describe('joinPath', () => {
  it('joins tree paths', () => {
    expect(joinPath('/', 'etc')).toBe('/etc');
    expect(joinPath('/etc', 'ssl')).toBe('/etc/ssl');
  });
});
