// The UI's service (createBerthService) on the test helper: lists pushed on events,
// live stats, a terminal, log follows, the web server in front of it.
import http from 'node:http';
import os from 'node:os';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { BerthEvents, BerthService, ContainerInfo, LogLine } from '../../electron/core/api';
import { attachTerminal, followLogStream } from '../../electron/core/api-streams';
import { HelperClient } from '../../electron/core/helper-client';
import { createBerthService } from '../../electron/core/service';
import { startWebServer, type WebServer } from '../../electron/web/web-server';
import { testEnv, uniqueName, waitUntil } from './support/berth';

async function until(cond: () => boolean, what: string, ms = 10000): Promise<void> {
  if (!(await waitUntil(cond, ms))) throw new Error(`timed out waiting for ${what}`);
}

describe('the UI service on berthd', () => {
  let service: BerthService;
  const created: string[] = [];

  beforeAll(() => {
    // The 30 s resync is far away: what arrives here came from berthd's events.
    service = createBerthService({ connect: () => HelperClient.connect(testEnv().socket), resyncMs: 0 });
  });
  afterAll(async () => {
    for (const id of created) await service.remove(id, true).catch(() => undefined);
    service.close();
  });

  const run = async (cmd: string[], extra: Record<string, unknown> = {}): Promise<ContainerInfo> => {
    const c = await service.runContainer({ image: 'busybox', name: uniqueName('ui'), cmd, ...extra });
    created.push(c.id);
    return c;
  };

  it('reports the helper connected', async () => {
    const seen: BerthEvents['helperStatus'][] = [];
    const off = service.on('helperStatus', (s) => seen.push(s));
    await until(() => seen.some((s) => s.state === 'connected'), 'connected');
    const s = await service.helperStatus();
    expect(s.state).toBe('connected');
    expect(s.version).toMatch(/^\d+\.\d+/);
    expect(['legacy', 'hybrid', 'unified']).toContain(s.cgroupLayout);
    off();
  });

  it('pushes container lists on berthd events, not by polling', async () => {
    let lists: ContainerInfo[][] = [];
    const off = service.on('containersChanged', (l) => lists.push(l));
    await until(() => lists.length > 0, 'the first list');
    lists = [];
    const c = await run(['sleep', '300']);
    await until(() => lists.some((l) => l.some((x) => x.id === c.id && x.status === 'running')), 'the new container, running');
    // Killed behind the service's back (another client): berthd's exit event brings the change.
    const other = await HelperClient.connect(testEnv().socket);
    await other.call('container.kill', { ref: c.id });
    other.close();
    await until(() => lists.some((l) => l.some((x) => x.id === c.id && x.status === 'exited')), 'the container, exited');
    off();
  });

  it('samples stats each second for running containers while subscribed', async () => {
    const c = await run(['sh', '-c', 'while :; do :; done'], { limits: { memory: 64 * 1024 * 1024 } });
    const got: BerthEvents['stats'][] = [];
    const off = service.on('stats', (s) => got.push(s));
    await until(() => got.filter((s) => s.samples[c.id]).length >= 3, 'three samples', 8000);
    off();
    const mine = got.filter((s) => s.samples[c.id]).map((s) => s.samples[c.id]);
    expect(mine[0].memory.limit).toBe(64 * 1024 * 1024);
    expect(mine[0].pids.current).toBeGreaterThanOrEqual(1);
    const cpu = mine.slice(1).map((s) => s.cpuPercent ?? 0);
    expect(Math.max(...cpu)).toBeGreaterThan(20); // a busy loop
    const n = got.length;
    await new Promise((r) => setTimeout(r, 1500));
    expect(got.length).toBe(n); // nobody listens: no more sampling
    await service.kill(c.id);
  });

  it('a terminal echoes `echo hi` back as hi, survives a detach, resizes, and closes', async () => {
    const c = await run(['sleep', '300']);
    const t = await service.openTerminal(c.id, { rows: 30, cols: 100 });
    expect(t.containerId).toBe(c.id);
    let out = '';
    const dec = new TextDecoder();
    let detach = attachTerminal(service, t.session, { onData: (d) => (out += dec.decode(d, { stream: true })) });
    await service.terminalInput(t.session, 'echo h""i\n');
    await until(() => /\nhi\r?\n/.test(out), `hi in ${JSON.stringify(out)}`);
    // Detached (a view switch) and attached again: the backlog redraws what was there.
    detach();
    let again = '';
    detach = attachTerminal(service, t.session, { onData: (d) => (again += dec.decode(d)) });
    await until(() => again.includes('hi'), 'the backlog');
    await service.terminalResize(t.session, 40, 120);
    await service.terminalInput(t.session, 'stty size\n');
    await until(() => again.includes('40 120'), `40 120 in ${JSON.stringify(again)}`);
    expect((await service.listTerminals()).map((x) => x.session)).toContain(t.session);
    let exit: unknown = null;
    detach();
    detach = attachTerminal(service, t.session, { onData: () => undefined, onExit: (e) => (exit = e) });
    await service.terminalInput(t.session, 'exit 3\n');
    await until(() => exit !== null, 'the exit');
    expect(exit).toMatchObject({ exitCode: 3 });
    await service.closeTerminal(t.session);
    expect((await service.listTerminals()).map((x) => x.session)).not.toContain(t.session);
    detach();
  });

  it('follows logs: the tail first, then new lines, then the end when the container exits', async () => {
    const c = await run(['sh', '-c', 'echo one; echo two >&2; sleep 1; echo three; printf part; sleep 0.3; echo ial']);
    const lines: LogLine[] = [];
    let ended = false;
    const stop = await followLogStream(service, c.id, { tail: 10 }, { onLines: (l) => lines.push(...l), onEnd: () => (ended = true) });
    await until(() => ended, 'the end of the log');
    stop();
    expect(lines.map((l) => `${l.stream}:${l.text}`)).toEqual(['stdout:one', 'stderr:two', 'stdout:three', 'stdout:partial']);
    expect(Number.isNaN(Date.parse(lines[0].time))).toBe(false);
    // tail counts log records: "part" and "ial" were written apart, so three records give two lines
    const all = await service.containerLogs(c.id, { tail: 3 });
    expect(all.map((l) => l.text)).toEqual(['three', 'partial']);
  });

  it('top, inspect and a clear error for a missing container', async () => {
    const c = await run(['sleep', '300']);
    const procs = await service.topContainer(c.id);
    expect(procs[0].nspid.at(-1)).toBe(1);
    expect((await service.inspectContainer(c.id)).timeline?.length).toBeGreaterThan(0);
    await expect(service.inspectContainer('no-such-container-x')).rejects.toMatchObject({ code: 'not_found' });
  });

  it('pushes network and volume lists on berthd events, with who is on or uses them', async () => {
    const nets: BerthEvents['networksChanged'][] = [];
    const vols: BerthEvents['volumesChanged'][] = [];
    const offN = service.on('networksChanged', (l) => nets.push(l));
    const offV = service.on('volumesChanged', (l) => vols.push(l));
    await until(() => nets.length > 0 && vols.length > 0, 'the first lists');
    expect(nets.at(-1)?.some((n) => n.builtin && n.name === 'bridge')).toBe(true);
    // Made by another client: berthd's network and volume events bring them.
    const netName = uniqueName('uinet');
    const volName = uniqueName('uivol');
    const other = await HelperClient.connect(testEnv().socket);
    try {
      await other.call('network.create', { name: netName });
      await other.call('volume.create', { name: volName });
    } finally {
      other.close();
    }
    await until(() => nets.at(-1)?.some((n) => n.name === netName) === true, 'the new network');
    await until(() => vols.at(-1)?.some((v) => v.name === volName) === true, 'the new volume');
    const c = await run(['sleep', '300'], { network: netName, mounts: [{ type: 'volume', source: volName, target: '/data' }] });
    await until(() => nets.at(-1)?.find((n) => n.name === netName)?.containers.some((x) => x.id === c.id) === true, 'the container on the network');
    await until(() => vols.at(-1)?.find((v) => v.name === volName)?.usedBy.includes(c.id) === true, 'the container using the volume');
    const ifs = await service.containerInterfaces(c.id);
    const info = await service.inspectContainer(c.id);
    expect(ifs.isolated).toBe(true);
    expect(ifs.container.interfaces.find((i) => i.name === 'eth0')?.addresses.some((a) => a.address === info.network.ip)).toBe(true);
    const restarted = await service.restartContainer(c.id, 1);
    expect(restarted.status).toBe('running');
    expect(restarted.startedAt).not.toBe(info.startedAt);
    await expect(service.removeVolume(volName)).rejects.toMatchObject({ code: 'conflict' });
    await expect(service.removeNetwork(netName)).rejects.toMatchObject({ code: 'conflict' });
    await service.remove(c.id, true);
    await service.removeNetwork(netName);
    await service.removeVolume(volName);
    await until(() => nets.at(-1)?.some((n) => n.name === netName) === false && vols.at(-1)?.some((v) => v.name === volName) === false, 'both gone');
    offN();
    offV();
  });

  describe('through the web server', () => {
    let web: WebServer;
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-web-'));
    beforeAll(async () => {
      fs.writeFileSync(path.join(tmp, 'index.html'), '<!doctype html><title>Berth</title>');
      web = await startWebServer({ service, staticDir: tmp });
    });
    afterAll(async () => {
      await web.close();
      fs.rmSync(tmp, { recursive: true, force: true });
    });

    const post = async (p: string, body: unknown, token = web.token): Promise<{ status: number; json: unknown }> => {
      const r = await fetch(`http://127.0.0.1:${web.port}${p}`, { method: 'POST', headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
      const text = await r.text();
      return { status: r.status, json: text.startsWith('{') ? JSON.parse(text) : text };
    };

    it('answers calls with the token only', async () => {
      expect((await post('/api/call', { method: 'listImages', args: [] }, 'wrong')).status).toBe(401);
      const r = await post('/api/call', { method: 'listImages', args: [] });
      expect(r.status).toBe(200);
      expect((r.json as { result: { refs: string[] }[] }).result.some((i) => i.refs.includes('busybox:latest'))).toBe(true);
      const bad = await post('/api/call', { method: 'inspectContainer', args: ['no-such-container-y'] });
      expect(bad.json).toMatchObject({ error: { code: 'not_found' } });
    });

    it('streams the events a page subscribes to over SSE', async () => {
      const events: { event: string; data: unknown }[] = [];
      let conn = '';
      const req = http.get(`http://127.0.0.1:${web.port}/api/events?token=${encodeURIComponent(web.token)}`);
      const res = await new Promise<http.IncomingMessage>((resolve) => req.once('response', resolve));
      expect(res.statusCode).toBe(200);
      let buf = '';
      res.on('data', (d: Buffer) => {
        buf += d.toString();
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const ev = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (ev && data) events.push({ event: ev, data: JSON.parse(data) });
          if (ev === 'connected') conn = (JSON.parse(data!) as { conn: string }).conn;
        }
      });
      await until(() => conn !== '', 'the connected event');
      expect((await post('/api/subscribe', { conn, event: 'containersChanged', on: true })).status).toBe(200);
      expect((await post('/api/subscribe', { conn, event: 'nope', on: true })).status).toBe(400);
      expect((await post('/api/subscribe', { conn, event: 'stats', on: true }, 'wrong')).status).toBe(401);
      await until(() => events.some((e) => e.event === 'containersChanged'), 'a container list');
      const c = await run(['sleep', '300']);
      await until(() => events.some((e) => e.event === 'containersChanged' && (e.data as ContainerInfo[]).some((x) => x.id === c.id)), 'the new container');
      expect(events.some((e) => e.event === 'stats')).toBe(false); // not subscribed
      req.destroy();
    });
  });
});
