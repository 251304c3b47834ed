import { describe, expect, it } from 'vitest';

import { formatCpu, formatMicros, modeString, parseEnvLines, parseLogLine, shortUptime, splitCommand, uptime } from './fmt';
import { niceStep, niceTicks } from './scale';
import { containerState } from './status';
import { cpuPercent, StatsBook } from './stats';

describe('formatters', () => {
  it('formats CPU, microseconds and uptime', () => {
    expect(formatCpu(3.14159)).toBe('3.1%');
    expect(formatCpu(150.4)).toBe('150%');
    expect(formatCpu(NaN)).toBe('–');
    expect(formatMicros(850)).toBe('850 µs');
    expect(formatMicros(1240)).toBe('1.24 ms');
    expect(formatMicros(52_400)).toBe('52.4 ms');
    expect(formatMicros(2_500_000)).toBe('2.50 s');
    const now = Date.parse('2026-01-01T12:00:00Z');
    expect(shortUptime('2026-01-01T11:59:18Z', now)).toBe('42s');
    expect(shortUptime('2026-01-01T08:48:00Z', now)).toBe('3h 12m');
    expect(shortUptime(null, now)).toBe('');
    expect(uptime('2026-01-01T11:59:59.8Z', now)).toBe('less than a second');
    expect(uptime('2026-01-01T11:59:00Z', now)).toBe('about a minute');
  });

  it('writes modes as ls -l does', () => {
    expect(modeString(0o755, 'dir')).toBe('drwxr-xr-x');
    expect(modeString(0o644, 'file')).toBe('-rw-r--r--');
    expect(modeString(0o4755, 'file')).toBe('-rwsr-xr-x');
    expect(modeString(0o1777, 'dir')).toBe('drwxrwxrwt');
    expect(modeString(0o777, 'symlink')).toBe('lrwxrwxrwx');
  });

  it('splits commands like a shell', () => {
    expect(splitCommand(`sh -c 'echo "hi there"; sleep 1'`)).toEqual(['sh', '-c', 'echo "hi there"; sleep 1']);
    expect(splitCommand('echo a\\ b "c\\"d" \'\'')).toEqual(['echo', 'a b', 'c"d', '']);
    expect(splitCommand('   ')).toEqual([]);
    expect(() => splitCommand('echo "open')).toThrow(/unclosed/);
  });

  it('parses env lines and refuses lines without a key', () => {
    expect(parseEnvLines('A=1\n\n# comment\n B=two words ')).toEqual(['A=1', 'B=two words']);
    expect(() => parseEnvLines('=x')).toThrow(/KEY=VALUE/);
    expect(() => parseEnvLines('NOVALUE')).toThrow(/KEY=VALUE/);
  });

  it('parses log file lines', () => {
    expect(parseLogLine('2026-11-25T05:40:00.123456789Z stderr P part')).toEqual({ time: '2026-11-25T05:40:00.123456789Z', stream: 'stderr', partial: true, text: 'part' });
    expect(parseLogLine('garbage').text).toBe('garbage');
  });
});

describe('chart scales', () => {
  it('picks round steps and tops', () => {
    expect(niceStep(0.7)).toBe(1);
    expect(niceStep(17)).toBe(20);
    expect(niceStep(2.2)).toBe(2.5);
    expect(niceTicks(100)).toEqual({ top: 100, ticks: [0, 25, 50, 75, 100] });
    const mib = 1024 * 1024;
    const t = niceTicks(64 * mib * 1.12, 4, mib);
    expect(t.ticks.map((v) => v / mib)).toEqual([0, 20, 40, 60, 80]);
  });
});

describe('container state', () => {
  it('always has a text label', () => {
    const base = { status: 'exited' as const, exitCode: 137, exitReason: 'oom-killed' as const, oomKilled: true };
    expect(containerState(base)).toEqual({ label: 'OOM killed', tone: 'bad' });
    expect(containerState({ ...base, exitReason: 'stopped', oomKilled: false }).label).toBe('Stopped');
    expect(containerState({ ...base, exitCode: 0, exitReason: 'exited', oomKilled: false })).toEqual({ label: 'Exited (0)', tone: 'idle' });
    expect(containerState({ ...base, status: 'running', oomKilled: false }).label).toBe('Running');
    expect(containerState({ ...base, status: 'running', oomKilled: false, paused: true })).toEqual({ label: 'Paused', tone: 'warn' });
  });
});

describe('stats history', () => {
  const sample = (id: string, t: number, ns: number, cpuPercentValue?: number | null) => ({
    id,
    time: new Date(t).toISOString(),
    memory: { usage: 1000 + t / 1000, limit: 64 * 1024 * 1024 },
    cpu: { usageNs: ns, quotaCpus: 0.5 },
    pids: { current: 2, limit: null },
    oomKills: 0,
    ...(cpuPercentValue !== undefined ? { cpuPercent: cpuPercentValue } : {}),
  });

  it('computes CPU % between samples when the sample does not carry it', () => {
    expect(cpuPercent(0, 0, 500_000_000, 1000)).toBe(50);
    expect(cpuPercent(NaN, NaN, 1, 1000)).toBeNaN();
    expect(cpuPercent(10, 0, 5, 1000)).toBeNaN();
    const book = new StatsBook();
    book.add([sample('a', 0, 0)]);
    book.add([sample('a', 1000, 250_000_000)]);
    const h = book.get('a')!;
    expect(h.ring.tail('cpu')[1]).toBe(25);
    expect(h.ring.last('cpuQuota')).toBe(50);
    expect(h.ring.last('memLimit')).toBe(64 * 1024 * 1024);
    expect(h.ring.last('pidsLimit')).toBeNaN();
  });

  it('prefers the service’s cpuPercent and ignores repeated samples', () => {
    const book = new StatsBook();
    book.add([sample('a', 0, 0, null), sample('a', 0, 0, null), sample('a', 1000, 1, 12.5)]);
    expect(book.get('a')!.ring.length).toBe(2);
    expect(book.get('a')!.ring.last('cpu')).toBe(12.5);
  });

  it('keeps five minutes per container and forgets removed containers', () => {
    const book = new StatsBook();
    for (let i = 0; i < 1000; i++) book.add([sample('a', i * 1000, i), sample('b', i * 1000, i)]);
    expect(book.get('a')!.ring.length).toBe(300);
    book.retain(new Set(['b']));
    expect(book.get('a')).toBeUndefined();
    expect(book.size).toBe(1);
  });
});
