import { describe, expect, it } from 'vitest';

import { cpuPercent, LogPrinter, psTable } from './main';
import type { ContainerInfo, Stats } from '../protocol';

function printed(timestamps: boolean, chunks: string[]): { stdout: string; stderr: string } {
  const out = { stdout: '', stderr: '' };
  const p = new LogPrinter(timestamps, (s, t) => (out[s] += t));
  for (const c of chunks) p.push(c);
  p.flush();
  return out;
}

describe('LogPrinter', () => {
  const log = [
    '2026-11-25T05:40:00.1Z stdout F one\n',
    '2026-11-25T05:40:00.2Z stderr F two\n',
    '2026-11-25T05:40:00.3Z stdout P par',
    'tial\n2026-11-25T05:40:00.4Z stdout F  line\n',
    '2026-11-25T05:40:00.5Z stdout F \n',
    '2026-11-25T05:40:00.6Z stdout P end',
  ];

  it('separates the streams and joins partial records', () => {
    expect(printed(false, log)).toEqual({ stdout: 'one\npartial line\n\nend', stderr: 'two\n' });
  });

  it('prefixes timestamps at the start of each line only', () => {
    expect(printed(true, log).stdout).toBe(
      '2026-11-25T05:40:00.1Z one\n2026-11-25T05:40:00.3Z partial line\n2026-11-25T05:40:00.5Z \n2026-11-25T05:40:00.6Z end',
    );
  });

  it('keeps text with spaces and odd characters', () => {
    expect(printed(false, ['2026-11-25T05:40:00.1Z stdout F a  b\tc F x\n']).stdout).toBe('a  b\tc F x\n');
  });
});

describe('stats and ps helpers', () => {
  const s = (usageNs: number): Stats => ({
    id: 'x',
    time: '',
    memory: { usage: 0, limit: null },
    cpu: { usageNs, quotaCpus: null },
    pids: { current: 1, limit: null },
    oomKills: 0,
  });
  it('CPU % is the usage delta over the wall time', () => {
    expect(cpuPercent(undefined, { stats: s(0), at: 0 })).toBe(null);
    expect(cpuPercent({ stats: s(0), at: 1000 }, { stats: s(500_000_000), at: 2000 })).toBeCloseTo(50);
    expect(cpuPercent({ stats: s(0), at: 1000 }, { stats: s(2_000_000_000), at: 2000 })).toBeCloseTo(200);
  });

  it('ps table', () => {
    const c: ContainerInfo = {
      id: 'a'.repeat(64),
      shortId: 'a'.repeat(12),
      name: 'web',
      image: 'busybox:latest',
      imageId: 'sha256:' + 'b'.repeat(64),
      command: ['sh', '-c', 'while :; do sleep 1; done'],
      status: 'running',
      created: '2026-11-25T06:00:00Z',
      startedAt: '2026-11-25T06:00:01Z',
      finishedAt: null,
      pid: 10,
      monitorPid: 9,
      exitCode: null,
      exitSignal: null,
      exitReason: null,
      oomKilled: false,
      paused: false,
      network: { mode: 'none', name: null, ip: null, prefixLen: null, gateway: null, mac: null },
      ports: [],
      mounts: [],
      restart: { policy: 'no', count: 0, nextAttempt: null },
    };
    const t = psTable([c], Date.parse('2026-11-25T06:00:06Z'));
    expect(t.split('\n')[0]).toMatch(/^CONTAINER ID\s+IMAGE\s+COMMAND\s+CREATED\s+STATUS\s+PORTS\s+NAMES$/);
    expect(t).toMatch(/aaaaaaaaaaaa {3}busybox:latest {3}"sh -c 'while :; do…" {3}6 seconds ago {3}Up 5 seconds {3}\S* *web/);
  });
});
