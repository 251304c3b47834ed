// The service's pushed lists against a fake berthd on a Unix socket: networks and volumes
// re-read on berthd's events (debounced), only while someone listens, and the new calls
// passing their params through.
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import type { BerthEvents, BerthService } from '../api';
import { encodeFrame } from '../frames';
import { HelperClient } from '../helper-client';
import { FrameType, type BerthdEvent, type NetworkInfo, type VolumeInfo } from '../protocol';
import { createBerthService } from './index';

interface Fake {
  socket: string;
  calls: { method: string; params: unknown }[];
  networks: NetworkInfo[];
  volumes: VolumeInfo[];
  /** methods answered with unknown_method, as an older berthd would */
  missing: Set<string>;
  /** sends an EVENT frame to every events.subscribe stream */
  push(ev: Omit<BerthdEvent, 'time'>): void;
  count(method: string): number;
  close(): Promise<void>;
}

function network(name: string): NetworkInfo {
  return { id: `${name}-id`, name, driver: 'bridge', bridge: 'berth0', subnet: '10.89.0.0/16', gateway: '10.89.0.1', builtin: name === 'bridge', created: '2026-01-01T00:00:00Z', active: false, containers: [] };
}

async function fakeBerthd(): Promise<Fake> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-fake-'));
  const socket = path.join(dir, 's');
  const subscribers = new Set<net.Socket>();
  const fake: Fake = {
    socket,
    calls: [],
    networks: [network('bridge')],
    volumes: [],
    missing: new Set(),
    push(ev) {
      const frame = encodeFrame(FrameType.Event, Buffer.from(JSON.stringify({ ...ev, time: new Date().toISOString() })));
      for (const s of subscribers) s.write(frame);
    },
    count(method) {
      return this.calls.filter((c) => c.method === method).length;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of subscribers) s.destroy();
        server.close(() => {
          fs.rmSync(dir, { recursive: true, force: true });
          resolve();
        });
      }),
  };
  const results: Record<string, (p: Record<string, unknown>) => unknown> = {
    hello: () => ({ protocol: 1, version: '0.1.0', pid: 1, root: '/x', cgroup: { layout: 'unified', parent: '/' } }),
    'container.list': () => ({ containers: [] }),
    'image.list': () => ({ images: [] }),
    'network.list': () => ({ networks: fake.networks }),
    'volume.list': () => ({ volumes: fake.volumes }),
    'network.create': (p) => network(String(p.name)),
    'volume.create': (p) => ({ name: String(p.name ?? 'generated'), mountpoint: '/x', created: '', usedBy: [], sizeBytes: null }),
    'volume.remove': (p) => ({ name: p.name }),
    'container.restart': (p) => ({ id: p.ref }),
  };
  const server = net.createServer((sock) => {
    let buf = '';
    sock.on('error', () => undefined);
    sock.on('data', (d) => {
      buf += d.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (subscribers.has(sock)) continue;
        const req = JSON.parse(line) as { id: number; method: string; params?: Record<string, unknown> };
        fake.calls.push({ method: req.method, params: req.params });
        if (req.method === 'events.subscribe') {
          subscribers.add(sock);
          sock.on('close', () => subscribers.delete(sock));
          sock.write(JSON.stringify({ v: 1, id: req.id, ok: true, result: { stream: true } }) + '\n');
          continue;
        }
        const fn = fake.missing.has(req.method) ? undefined : results[req.method];
        sock.write(
          JSON.stringify(
            fn
              ? { v: 1, id: req.id, ok: true, result: fn(req.params ?? {}) }
              : { v: 1, id: req.id, ok: false, error: { code: 'unknown_method', message: `no ${req.method}` } },
          ) + '\n',
        );
      }
    });
  });
  await new Promise<void>((r) => server.listen(socket, r));
  return fake;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(cond: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out');
    await sleep(5);
  }
}

describe('networks and volumes in the service', () => {
  let fake: Fake;
  let svc: BerthService;
  beforeEach(async () => {
    fake = await fakeBerthd();
    svc = createBerthService({ connect: () => HelperClient.connect(fake.socket), resyncMs: 0 });
    await until(() => fake.count('events.subscribe') === 1);
  });
  afterEach(async () => {
    svc.close();
    await fake.close();
  });

  it('pushes the network list on subscription and again after berthd says it changed, once per burst', async () => {
    const seen: BerthEvents['networksChanged'][] = [];
    const off = svc.on('networksChanged', (l) => seen.push(l));
    await until(() => seen.length === 1);
    expect(seen[0].map((n) => n.name)).toEqual(['bridge']);
    const before = fake.count('network.list');
    fake.networks = [...fake.networks, network('lab')];
    fake.push({ type: 'network', action: 'create', id: 'lab-id' });
    fake.push({ type: 'network', action: 'change', id: 'lab-id' });
    fake.push({ type: 'network', action: 'change', id: 'lab-id' });
    await until(() => seen.length === 2);
    expect(seen[1].map((n) => n.name)).toEqual(['bridge', 'lab']);
    await sleep(60);
    expect(fake.count('network.list') - before).toBe(1);
    off();
  });

  it('re-reads volumes on volume and container events, but only while someone listens', async () => {
    const seen: BerthEvents['volumesChanged'][] = [];
    const off = svc.on('volumesChanged', (l) => seen.push(l));
    await until(() => seen.length === 1);
    expect(seen[0]).toEqual([]);
    fake.volumes = [{ name: 'data', mountpoint: '/x/data/_data', created: '', anonymous: false, usedBy: [], sizeBytes: null }];
    fake.push({ type: 'volume', action: 'create', id: 'data' });
    await until(() => seen.length === 2);
    // A container that starts using it: the volume's usedBy changes, berthd reports the container.
    fake.volumes = [{ ...fake.volumes[0], usedBy: ['c1'] }];
    fake.push({ type: 'container', action: 'create', id: 'c1' });
    await until(() => seen.length === 3);
    expect(seen[2][0].usedBy).toEqual(['c1']);
    off();
    const reads = fake.count('volume.list');
    fake.push({ type: 'volume', action: 'remove', id: 'data' });
    await sleep(80);
    expect(fake.count('volume.list')).toBe(reads);
    // The next subscriber reads it fresh.
    fake.volumes = [];
    const again: BerthEvents['volumesChanged'][] = [];
    const off2 = svc.on('volumesChanged', (l) => again.push(l));
    await until(() => again.length === 1);
    expect(again[0]).toEqual([]);
    off2();
  });

  it('passes the new calls through with their params, trimmed', async () => {
    expect((await svc.createNetwork({ name: ' lab ', subnet: ' ', gateway: '' })).name).toBe('lab');
    expect(fake.calls.find((c) => c.method === 'network.create')?.params).toEqual({ name: 'lab' });
    await expect(svc.createNetwork({ name: '  ' })).rejects.toMatchObject({ code: 'invalid' });
    await svc.createVolume();
    await svc.createVolume('data');
    expect(fake.calls.filter((c) => c.method === 'volume.create').map((c) => c.params)).toEqual([{}, { name: 'data' }]);
    await svc.removeVolume('data');
    expect(fake.calls.find((c) => c.method === 'volume.remove')?.params).toEqual({ name: 'data', force: false });
    await svc.restartContainer('web', 3);
    expect(fake.calls.find((c) => c.method === 'container.restart')?.params).toEqual({ ref: 'web', timeout: 3 });
    await expect(svc.pruneVolumes()).rejects.toMatchObject({ code: 'unknown_method' });
  });

  it('gives an empty list when berthd knows no such method (an older helper)', async () => {
    fake.missing.add('network.list');
    const seen: BerthEvents['networksChanged'][] = [];
    const off = svc.on('networksChanged', (l) => seen.push(l));
    await until(() => seen.length === 1);
    expect(seen[0]).toEqual([]);
    expect(await svc.helperStatus()).toMatchObject({ state: 'connected' });
    off();
  });
});
