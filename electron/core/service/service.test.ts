import { describe, expect, it } from 'vitest';

import type { BerthEvents, EventListener, BerthEventName } from '../api';
import { attachTerminal, followLogStream } from '../api-streams';
import { HelperClient } from '../helper-client';
import { cpuPercentBetween, createBerthService, timeMs } from './index';
import { LogParser } from './logs';
import { ByteRing } from './terminals';

describe('LogParser', () => {
  it('parses records split anywhere and joins partial ones per stream', () => {
    const p = new LogParser();
    const text = '2026-01-01T00:00:00.1Z stdout F one\n2026-01-01T00:00:00.2Z stderr P a\n2026-01-01T00:00:00.3Z stdout F \n2026-01-01T00:00:00.4Z stderr F b\n';
    const out = [...p.push(text.slice(0, 30)), ...p.push(text.slice(30, 77)), ...p.push(text.slice(77)), ...p.flush()];
    expect(out).toEqual([
      { time: '2026-01-01T00:00:00.1Z', stream: 'stdout', text: 'one' },
      { time: '2026-01-01T00:00:00.3Z', stream: 'stdout', text: '' },
      { time: '2026-01-01T00:00:00.2Z', stream: 'stderr', text: 'ab' },
    ]);
  });
  it('ends an unfinished partial line on flush and skips garbage', () => {
    const p = new LogParser();
    expect(p.push('junk\n2026-01-01T00:00:00Z stdout P half')).toEqual([]);
    expect(p.push('\n')).toEqual([]);
    expect(p.flush()).toEqual([{ time: '2026-01-01T00:00:00Z', stream: 'stdout', text: 'half' }]);
  });
});

describe('ByteRing', () => {
  it('keeps the last cap bytes and where they start', () => {
    const r = new ByteRing(10);
    r.push(Buffer.from('0123456'));
    r.push(Buffer.from('789abc'));
    const s = r.snapshot();
    expect(s.data.toString()).toBe('3456789abc');
    expect(s.offset).toBe(3);
    expect(r.total).toBe(13);
  });
});

describe('stats arithmetic', () => {
  it('reads nanosecond times and computes CPU percent of one core', () => {
    expect(timeMs('2026-01-01T00:00:01.500000000Z') - timeMs('2026-01-01T00:00:01Z')).toBeCloseTo(500, 3);
    const s = (t: string, ns: number) => ({ id: 'x', time: t, memory: { usage: 0, limit: null }, cpu: { usageNs: ns, quotaCpus: null }, pids: { current: 1, limit: null }, oomKills: 0 });
    expect(cpuPercentBetween(undefined, s('2026-01-01T00:00:01Z', 0))).toBeNull();
    expect(cpuPercentBetween(s('2026-01-01T00:00:01Z', 0), s('2026-01-01T00:00:02Z', 500e6))).toBe(50);
  });
});

/** An API whose events are fired by hand. */
function fakeApi(backlog: { data: string; offset: number }) {
  const ls = new Map<string, Set<(p: unknown) => void>>();
  let backlogCalls = 0;
  return {
    fire<E extends BerthEventName>(e: E, p: BerthEvents[E]) {
      ls.get(e)?.forEach((l) => l(p));
    },
    get backlogCalls() {
      return backlogCalls;
    },
    on<E extends BerthEventName>(e: E, l: EventListener<E>) {
      if (!ls.has(e)) ls.set(e, new Set());
      ls.get(e)!.add(l as (p: unknown) => void);
      return () => void ls.get(e)!.delete(l as (p: unknown) => void);
    },
    openTerminal: async () => {
      throw new Error('unused');
    },
    terminalBacklog: async () => {
      backlogCalls++;
      return backlog;
    },
    followLogs: async () => ({ stream: 's1' }),
    stopFollow: async () => undefined,
    pullImage: async () => ({ pull: 'p1' }),
  };
}

const b64 = (s: string): string => Buffer.from(s).toString('base64');

describe('attachTerminal', () => {
  it('gives the backlog, then live output, each byte once', async () => {
    const api = fakeApi({ data: b64('hello '), offset: 100 });
    let out = '';
    attachTerminal(api, 't', { onData: (d) => (out += Buffer.from(d).toString()) });
    // Arrives before the backlog reply: overlaps it by two bytes.
    api.fire('terminalOutput', { session: 't', data: b64('o world'), offset: 104 });
    api.fire('terminalOutput', { session: 'other', data: b64('X'), offset: 0 });
    await new Promise((r) => setTimeout(r, 0));
    api.fire('terminalOutput', { session: 't', data: b64('!'), offset: 111 });
    expect(out).toBe('hello world!');
  });
  it('re-reads the backlog after a gap', async () => {
    const api = fakeApi({ data: b64('ab'), offset: 0 });
    let out = '';
    attachTerminal(api, 't', { onData: (d) => (out += Buffer.from(d).toString()) });
    await new Promise((r) => setTimeout(r, 0));
    api.fire('terminalOutput', { session: 't', data: b64('z'), offset: 9 });
    await new Promise((r) => setTimeout(r, 0));
    expect(api.backlogCalls).toBe(2);
  });
});

describe('followLogStream', () => {
  it('keeps lines that arrive before the stream id is known', async () => {
    const api = fakeApi({ data: '', offset: 0 });
    const lines: string[] = [];
    let ended = false;
    const p = followLogStream(api, 'c', {}, { onLines: (l) => lines.push(...l.map((x) => x.text)), onEnd: () => (ended = true) });
    api.fire('logLines', { stream: 's1', lines: [{ time: 't', stream: 'stdout', text: 'early' }] });
    api.fire('logLines', { stream: 's9', lines: [{ time: 't', stream: 'stdout', text: 'not mine' }] });
    await p;
    api.fire('logLines', { stream: 's1', lines: [{ time: 't', stream: 'stdout', text: 'late' }] });
    api.fire('logEnd', { stream: 's1' });
    expect(lines).toEqual(['early', 'late']);
    expect(ended).toBe(true);
  });
});

describe('createBerthService without a helper', () => {
  it('reports unavailable with the reason and a hint, and calls fail with that message', async () => {
    const svc = createBerthService({
      connect: () => HelperClient.connect('/nonexistent/berthd.sock'),
      explain: () => ({ reason: 'berthd is not running', hint: 'sudo systemctl start berthd' }),
      retryMs: 60000,
    });
    const seen: BerthEvents['helperStatus'][] = [];
    svc.on('helperStatus', (s) => seen.push(s));
    await expect(svc.listContainers()).rejects.toMatchObject({ code: 'unavailable', message: expect.stringContaining('sudo systemctl start berthd') });
    expect(await svc.helperStatus()).toEqual({ state: 'unavailable', reason: 'berthd is not running', hint: 'sudo systemctl start berthd' });
    expect(seen.at(-1)?.state).toBe('unavailable');
    // What needs no helper keeps working.
    expect(await svc.listTerminals()).toEqual([]);
    expect(await svc.listPulls()).toEqual([]);
    svc.close();
  });
});
