import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

import type { BerthApi, BerthEventName, BerthEvents, ContainerInfo, StatsSample } from '../../electron/core/api';
import { createBerthStore, MAX_FINISHED_PULLS, MAX_NOTICES, trimPulls, type PullEntry } from './store';

function ctr(id: string, created: string, status: ContainerInfo['status'] = 'running'): ContainerInfo {
  return { id, shortId: id.slice(0, 12), name: `n-${id}`, image: 'busybox:latest', imageId: 'sha256:1', command: ['sh'], status, created, startedAt: created, finishedAt: null, pid: 1, monitorPid: 1, exitCode: null, exitSignal: null, exitReason: null, oomKilled: false, paused: false, network: { mode: 'none', name: null, ip: null, prefixLen: null, gateway: null, mac: null }, ports: [], mounts: [], restart: { policy: 'no', count: 0, nextAttempt: null } };
}

function sample(id: string, t: number, usage: number): StatsSample {
  return { id, time: new Date(t).toISOString(), memory: { usage, limit: 1000 }, cpu: { usageNs: t * 1000, quotaCpus: null }, pids: { current: 1, limit: 10 }, oomKills: 0, cpuPercent: 5 };
}

/** A BerthApi whose events the test fires by hand. */
function fakeApi() {
  const listeners = new Map<string, Set<(p: unknown) => void>>();
  const emit = <E extends BerthEventName>(e: E, p: BerthEvents[E]): void => {
    for (const l of listeners.get(e) ?? []) l(p);
  };
  const api = {
    on: (e: string, l: (p: unknown) => void) => {
      const s = listeners.get(e) ?? new Set();
      s.add(l);
      listeners.set(e, s);
      return () => s.delete(l);
    },
    helperStatus: vi.fn(async () => ({ state: 'connected' as const, version: '0.1.0' })),
    listContainers: vi.fn(async () => [ctr('b', '2026-01-01T00:00:00Z'), ctr('a', '2026-01-02T00:00:00Z')]),
    listImages: vi.fn(async () => []),
    listPulls: vi.fn(async () => []),
    inspectVolume: vi.fn(async (name: string) => ({ name, mountpoint: `/v/${name}/_data`, created: '', usedBy: [], sizeBytes: name.length * 100 })),
  };
  return { api: api as unknown as BerthApi, emit, listeners };
}

describe('the store', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('loads the first data, newest container first, and unsubscribes on disconnect', async () => {
    const { api, listeners } = fakeApi();
    const store = createBerthStore(api);
    const off = store.getState().connect();
    await vi.runOnlyPendingTimersAsync();
    expect(store.getState().containers?.map((c) => c.id)).toEqual(['a', 'b']);
    expect(store.getState().helper?.state).toBe('connected');
    off();
    expect([...listeners.values()].every((s) => s.size === 0)).toBe(true);
  });

  it('applies events: lists, helper status, stats with bounded history', () => {
    const { api, emit } = fakeApi();
    const store = createBerthStore(api);
    store.getState().connect();
    emit('containersChanged', [ctr('a', '2026-01-02T00:00:00Z')]);
    emit('helperStatus', { state: 'unavailable', reason: 'berthd is not running', hint: 'sudo systemctl start berthd' });
    expect(store.getState().helper?.hint).toContain('systemctl');
    for (let i = 0; i < 400; i++) emit('stats', { time: new Date(i * 1000).toISOString(), samples: { a: sample('a', i * 1000, i) } });
    const s = store.getState();
    expect(s.statsSeq).toBe(400);
    expect(s.stats.get('a')!.ring.length).toBe(300);
    expect(s.stats.get('a')!.ring.last('mem')).toBe(399);
    expect(s.stats.get('a')!.ring.last('pidsLimit')).toBe(10);
  });

  it('forgets the stats of removed containers and leaves a removed container’s page', () => {
    const { api, emit } = fakeApi();
    const store = createBerthStore(api);
    store.getState().connect();
    emit('containersChanged', [ctr('a', '2026-01-02T00:00:00Z'), ctr('b', '2026-01-01T00:00:00Z')]);
    emit('stats', { time: '', samples: { a: sample('a', 1000, 1), b: sample('b', 1000, 1) } });
    store.getState().navigate({ view: 'container', id: 'b', tab: 'logs' });
    emit('containersChanged', [ctr('a', '2026-01-02T00:00:00Z')]);
    expect(store.getState().stats.get('b')).toBeUndefined();
    expect(store.getState().stats.get('a')).toBeDefined();
    expect(store.getState().route).toEqual({ view: 'containers' });
  });

  it('tracks pulls from progress to done and says so', () => {
    const { api, emit } = fakeApi();
    const store = createBerthStore(api);
    store.getState().connect();
    store.getState().trackPull('p1', 'reg/x:1');
    const progress = { ref: 'reg/x:1', manifestDigest: 'sha256:m', phase: 'layers' as const, layers: [{ digest: 'sha256:l', size: 10, done: 4, status: 'downloading' as const }] };
    emit('pullProgress', { pull: 'p1', progress });
    expect(store.getState().pulls.p1.progress?.layers[0].done).toBe(4);
    emit('pullDone', { pull: 'p1', image: { id: 'sha256:i', refs: ['reg/x:1'], created: '', size: 10, layers: 1 } });
    expect(store.getState().pulls.p1.finished).toBe(true);
    expect(store.getState().notices.at(-1)).toMatchObject({ kind: 'success', text: 'Pulled reg/x:1' });
    emit('pullDone', { pull: 'p2', error: { code: 'not_found', message: 'no such image' } });
    expect(store.getState().notices.at(-1)?.kind).toBe('error');
  });

  it('keeps notices bounded and lets non-errors expire', () => {
    const { api } = fakeApi();
    const store = createBerthStore(api);
    for (let i = 0; i < 10; i++) store.getState().notify('info', `n${i}`);
    expect(store.getState().notices.length).toBe(MAX_NOTICES);
    store.getState().notify('error', 'stays');
    vi.advanceTimersByTime(6000);
    expect(store.getState().notices.map((n) => n.text)).toEqual(['stays']);
  });

  it('keeps running pulls and only the newest finished ones', () => {
    const pulls: Record<string, PullEntry> = {};
    for (let i = 0; i < 30; i++) pulls[`p${i}`] = { pull: `p${i}`, ref: 'x', started: i, finished: i < 25 };
    const kept = trimPulls(pulls);
    expect(Object.values(kept).filter((p) => p.finished).length).toBe(MAX_FINISHED_PULLS);
    expect(Object.values(kept).filter((p) => !p.finished).length).toBe(5);
    expect(kept.p24).toBeDefined();
    expect(kept.p0).toBeUndefined();
  });

  it('keeps networks and volumes from their events, and volume sizes only for listed volumes', async () => {
    vi.useRealTimers();
    const { api, emit } = fakeApi();
    const store = createBerthStore(api);
    store.getState().connect();
    const net = { id: 'n1', name: 'bridge', driver: 'bridge' as const, bridge: 'berth0', subnet: '10.89.0.0/16', gateway: '10.89.0.1', builtin: true, created: '', active: false, containers: [] };
    emit('networksChanged', [net]);
    expect(store.getState().networks?.map((n) => n.name)).toEqual(['bridge']);
    const vol = (name: string) => ({ name, mountpoint: `/v/${name}/_data`, created: '', anonymous: false, usedBy: [], sizeBytes: null });
    emit('volumesChanged', [vol('data'), vol('cache')]);
    store.getState().measureVolumes(['data', 'cache']);
    // A second ask while one is in flight does not inspect again.
    store.getState().measureVolumes(['data']);
    expect(store.getState().volumeSizes).toEqual({ data: null, cache: null });
    await new Promise((r) => setTimeout(r, 0));
    expect(store.getState().volumeSizes).toEqual({ data: 400, cache: 500 });
    expect((api.inspectVolume as ReturnType<typeof vi.fn>).mock.calls.length).toBe(2);
    emit('volumesChanged', [vol('data')]);
    expect(store.getState().volumeSizes).toEqual({ data: 400 });
  });
});
