import { describe, expect, it } from 'vitest';

import {
  ago,
  buildTopTree,
  cleanCreatedBy,
  diffLetter,
  formatBytes,
  formatDecimalBytes,
  formatPercent,
  historyTable,
  humanDuration,
  isStopped,
  layersTable,
  parseSize,
  quoteCommand,
  shortId,
  statusText,
  table,
} from './format';
import type { ContainerInfo, TopProcess } from './protocol';

describe('parseSize', () => {
  it.each([
    ['64m', 64 * 1024 ** 2],
    ['64M', 64 * 1024 ** 2],
    ['64mb', 64 * 1024 ** 2],
    ['64MiB', 64 * 1024 ** 2],
    ['1k', 1024],
    ['1kb', 1024],
    ['2g', 2 * 1024 ** 3],
    ['1.5g', 1.5 * 1024 ** 3],
    ['100', 100],
    ['100b', 100],
    ['100B', 100],
    [' 6m ', 6 * 1024 ** 2],
  ])('%s = %d bytes', (text, bytes) => {
    expect(parseSize(text)).toBe(bytes);
  });

  it.each(['', 'm', '64x', '-1m', '64 mm', '1bb', '10ib', 'abc', '1e3'])('refuses %j', (text) => {
    expect(() => parseSize(text)).toThrow(/invalid size/);
  });
});

describe('formatBytes', () => {
  it.each([
    [0, '0B'],
    [12, '12B'],
    [1536, '1.5KiB'],
    [64 * 1024 ** 2, '64MiB'],
    [1.25 * 1024 ** 3, '1.25GiB'],
    [500 * 1024 ** 2, '500MiB'],
  ])('%d -> %s', (n, s) => expect(formatBytes(n)).toBe(s));
});

describe('human durations', () => {
  it.each([
    [400, 'Less than a second'],
    [1000, '1 second'],
    [5000, '5 seconds'],
    [59_000, '59 seconds'],
    [60_000, 'About a minute'],
    [3 * 60_000, '3 minutes'],
    [60 * 60_000, 'About an hour'],
    [5 * 3600_000, '5 hours'],
    [3 * 86400_000, '3 days'],
    [15 * 86400_000, '2 weeks'],
    [90 * 86400_000, '3 months'],
    [800 * 86400_000, '2 years'],
  ])('%d ms -> %s', (ms, s) => expect(humanDuration(ms)).toBe(s));

  it('ago', () => {
    const now = Date.parse('2026-11-25T06:00:10Z');
    expect(ago('2026-11-25T06:00:05Z', now)).toBe('5 seconds ago');
    expect(ago('2026-11-25T06:00:10.5Z', now)).toBe('Less than a second ago');
    expect(ago(null, now)).toBe('');
    expect(ago('not a date', now)).toBe('');
  });
});

describe('statusText', () => {
  const now = Date.parse('2026-11-25T06:10:00Z');
  const base: Pick<ContainerInfo, 'status' | 'startedAt' | 'finishedAt' | 'exitCode' | 'oomKilled' | 'exitReason' | 'paused'> = {
    status: 'running',
    startedAt: '2026-11-25T06:07:00Z',
    finishedAt: null,
    exitCode: null,
    oomKilled: false,
    paused: false,
    exitReason: null,
  };
  it('running', () => expect(statusText(base, now)).toBe('Up 3 minutes'));
  it('paused', () => expect(statusText({ ...base, paused: true }, now)).toBe('Up 3 minutes (Paused)'));
  it('created', () => expect(statusText({ ...base, status: 'created', startedAt: null }, now)).toBe('Created'));
  it('exited', () => {
    expect(statusText({ ...base, status: 'exited', finishedAt: '2026-11-25T06:08:00Z', exitCode: 0, exitReason: 'exited' }, now)).toBe('Exited (0) 2 minutes ago');
  });
  it('OOM killed', () => {
    expect(statusText({ ...base, status: 'exited', finishedAt: null, exitCode: 137, oomKilled: true, exitReason: 'oom-killed' }, now)).toBe('Exited (137, OOM killed)');
    expect(statusText({ ...base, status: 'exited', finishedAt: '2026-11-25T06:09:59Z', exitCode: 137, oomKilled: true, exitReason: 'oom-killed' }, now)).toBe(
      'Exited (137, OOM killed) 1 second ago',
    );
  });
});

describe('isStopped', () => {
  it('is created or exited, not running or waiting for its restart policy', () => {
    expect((['created', 'exited', 'running', 'restarting'] as const).map((status) => isStopped({ status }))).toEqual([true, true, false, false]);
  });
});

describe('quoteCommand and table', () => {
  it('quotes only words that need it', () => {
    expect(quoteCommand(['sh', '-c', 'echo hi', "it's", ''])).toBe(`sh -c 'echo hi' 'it'\\''s' ''`);
  });
  it('aligns columns with three spaces', () => {
    expect(table(['A', 'BB'], [['xxx', 'y']])).toBe('A     BB\nxxx   y\n');
  });
});

describe('buildTopTree', () => {
  const p = (pid: number, ppid: number, name = `p${pid}`): TopProcess => ({ pid, ppid, nspid: [pid, pid - 100], state: 'S', name, cmdline: [name], rssBytes: 0, uid: 0 });

  it('puts children under their parents, siblings by PID', () => {
    const rows = buildTopTree([p(105, 101), p(101, 50), p(103, 101), p(107, 103), p(102, 50)]);
    expect(rows.map((r) => [r.process.pid, r.depth])).toEqual([
      [101, 0],
      [103, 1],
      [107, 2],
      [105, 1],
      [102, 0],
    ]);
  });

  it('survives a parent cycle and self-parents', () => {
    const rows = buildTopTree([p(1, 2), p(2, 1), p(3, 3)]);
    expect(rows.map((r) => r.process.pid).sort()).toEqual([1, 2, 3]);
  });
});

describe('formatDecimalBytes (docker units)', () => {
  it.each([
    [0, '0B'],
    [999, '999B'],
    [1000, '1kB'],
    [1050, '1.05kB'],
    [12_345_678, '12.3MB'],
    [40_100_000, '40.1MB'],
    [999_950, '1MB'],
    [123_456_789, '123MB'],
    [1.5e9, '1.5GB'],
  ])('%d -> %s', (n, s) => expect(formatDecimalBytes(n)).toBe(s));
});

describe('image tables', () => {
  const id = `sha256:${'c3'.repeat(32)}`;
  const now = Date.parse('2026-11-25T06:00:10Z');

  it('shortId, percent, created-by and diff letters', () => {
    expect(shortId(id)).toBe('c3c3c3c3c3c3');
    expect(formatPercent(0.97345)).toBe('97.3%');
    expect(formatPercent(1)).toBe('100.0%');
    expect(cleanCreatedBy('/bin/sh -c #(nop)  CMD ["sh"]')).toBe('CMD ["sh"]');
    expect(cleanCreatedBy('RUN /bin/sh -c apk add   curl')).toBe('RUN /bin/sh -c apk add curl');
    expect(['added', 'modified', 'deleted', 'opaque'].map(diffLetter)).toEqual(['A', 'C', 'D', 'C']);
  });

  it('history: docker columns, the image id on the newest row', () => {
    const text = historyTable(
      [
        { id, created: '2026-11-25T06:00:05Z', createdBy: 'berth commit', comment: 'a message', emptyLayer: false, size: 12_300_000 },
        { id: '<missing>', created: '2026-11-25T06:00:00Z', createdBy: '/bin/sh -c #(nop)  CMD ["sh"]', comment: '', emptyLayer: true, size: 0 },
      ],
      { noTrunc: false, now },
    );
    expect(text.split('\n')).toEqual([
      'IMAGE          CREATED          CREATED BY     SIZE     COMMENT',
      'c3c3c3c3c3c3   5 seconds ago    berth commit   12.3MB   a message',
      '<missing>      10 seconds ago   CMD ["sh"]     0B',
      '',
    ]);
    expect(historyTable([{ id, created: '', createdBy: 'x', comment: '', emptyLayer: false, size: 1 }], { noTrunc: true, now })).toContain(id);
  });

  it('layers: base at the bottom, then the totals', () => {
    const layer = (index: number, wastedBytes: number) => ({
      index,
      digest: `sha256:${String(index).repeat(64)}`,
      diffId: `sha256:${String(index).repeat(64)}`,
      size: 1000,
      unpackedSize: 2_000_000 * (index + 1),
      createdBy: index === 0 ? 'berth import' : 'berth commit',
      created: '',
      comment: '',
      files: { added: 10 - index, modified: index, deleted: index * 2 },
      shadowedBytes: 0,
      wastedBytes,
    });
    const text = layersTable({ id, size: 6_000_000, wastedBytes: 500_000, efficiency: 1 - 500_000 / 6_000_000, layers: [layer(0, 500_000), layer(1, 0)] }, { noTrunc: false });
    expect(text.split('\n')).toEqual([
      '#   LAYER          SIZE   ADDED   MODIFIED   DELETED   WASTED   CREATED BY',
      '1   111111111111   4MB    9       1          2         -        berth commit',
      '0   000000000000   2MB    10      0          0         500kB    berth import',
      '',
      'Image c3c3c3c3c3c3: 2 layers, total size 6MB, wasted 500kB, efficiency 91.7%',
      '',
    ]);
  });
});
