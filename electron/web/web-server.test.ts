import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { BerthEventName, BerthService, EventListener } from '../core/api';
import { startWebServer, type WebServer } from './web-server';

/** A service with one call and hand-fired events. */
function fakeService(): BerthService & { fire<E extends BerthEventName>(e: E, p: unknown): void; listening(e: BerthEventName): number } {
  const ls = new Map<BerthEventName, Set<(p: unknown) => void>>();
  const svc = {
    listImages: async () => [{ id: 'sha256:1', refs: ['busybox:latest'], created: '', size: 1, layers: 1 }],
    inspectContainer: async (ref: string) => {
      throw Object.assign(new Error(`no container ${ref}`), { code: 'not_found' });
    },
    on<E extends BerthEventName>(e: E, l: EventListener<E>) {
      if (!ls.has(e)) ls.set(e, new Set());
      ls.get(e)!.add(l as (p: unknown) => void);
      return () => ls.get(e)!.delete(l as (p: unknown) => void);
    },
    fire: (e: BerthEventName, p: unknown) => ls.get(e)?.forEach((l) => l(p)),
    listening: (e: BerthEventName) => ls.get(e)?.size ?? 0,
    close() {},
  };
  return svc as unknown as ReturnType<typeof fakeService>;
}

describe('web server', () => {
  const svc = fakeService();
  let web: WebServer;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-web-unit-'));
  beforeAll(async () => {
    fs.writeFileSync(path.join(dir, 'index.html'), '<title>Berth</title>');
    web = await startWebServer({ service: svc, staticDir: dir });
  });
  afterAll(async () => {
    await web.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const req = (p: string, init: RequestInit = {}): Promise<Response> => fetch(`http://127.0.0.1:${web.port}${p}`, init);
  const call = (body: unknown, token: string | null = web.token): Promise<Response> =>
    req('/api/call', { method: 'POST', headers: { 'Content-Type': 'application/json', ...(token ? { Authorization: `Bearer ${token}` } : {}) }, body: JSON.stringify(body) });

  it('has a long random token per start, in the URL fragment', () => {
    expect(web.token.length).toBeGreaterThanOrEqual(40);
    expect(web.url).toBe(`http://127.0.0.1:${web.port}/#token=${web.token}`);
  });

  it('refuses calls and events without the right token', async () => {
    expect((await call({ method: 'listImages', args: [] }, null)).status).toBe(401);
    expect((await call({ method: 'listImages', args: [] }, web.token.slice(1))).status).toBe(401);
    expect((await call({ method: 'listImages', args: [] }, web.token + 'x')).status).toBe(401);
    expect((await req('/api/events')).status).toBe(401);
    expect((await req('/api/events?token=nope')).status).toBe(401);
    expect((await req('/api/subscribe', { method: 'POST', body: '{}' })).status).toBe(401);
  });

  it('answers calls with the token, errors as data', async () => {
    const ok = await call({ method: 'listImages', args: [] });
    expect(await ok.json()).toMatchObject({ result: [{ refs: ['busybox:latest'] }] });
    expect(await (await call({ method: 'inspectContainer', args: ['x'] })).json()).toEqual({ error: { code: 'not_found', message: 'no container x' } });
    expect(await (await call({ method: 'rmrf', args: [] })).json()).toMatchObject({ error: { code: 'unknown_method' } });
    expect((await req('/api/call', { method: 'POST', headers: { Authorization: `Bearer ${web.token}` }, body: 'not json' })).status).toBe(400);
  });

  it('refuses requests naming another host (DNS rebinding)', async () => {
    const status = await new Promise<number>((resolve) => {
      http.get({ host: '127.0.0.1', port: web.port, path: '/', headers: { Host: 'evil.example:80' } }, (r) => resolve(r.statusCode ?? 0));
    });
    expect(status).toBe(421);
  });

  it('serves the renderer without a token, and nothing outside its directory', async () => {
    expect((await req('/')).status).toBe(200);
    expect((await req('/..%2f..%2fetc%2fpasswd')).status).toBe(404);
  });

  it('sends only the subscribed events to a stream, and unsubscribes when it closes', async () => {
    const got: string[] = [];
    let conn = '';
    const r = http.get(`http://127.0.0.1:${web.port}/api/events?token=${encodeURIComponent(web.token)}`);
    const res = await new Promise<http.IncomingMessage>((resolve) => r.once('response', resolve));
    res.on('data', (d: Buffer) => {
      for (const m of d.toString().matchAll(/event: (\w+)\ndata: (.*)\n/g)) {
        got.push(m[1]);
        if (m[1] === 'connected') conn = (JSON.parse(m[2]) as { conn: string }).conn;
      }
    });
    await vi_until(() => conn !== '');
    const sub = (event: string, on: boolean): Promise<Response> =>
      req('/api/subscribe', { method: 'POST', headers: { Authorization: `Bearer ${web.token}` }, body: JSON.stringify({ conn, event, on }) });
    expect((await sub('stats', true)).status).toBe(200);
    expect(svc.listening('stats')).toBe(1);
    svc.fire('stats', { time: 't', samples: {} });
    svc.fire('imagesChanged', []);
    await vi_until(() => got.includes('stats'));
    expect(got).not.toContain('imagesChanged');
    await sub('stats', false);
    expect(svc.listening('stats')).toBe(0);
    await sub('stats', true);
    r.destroy();
    await vi_until(() => svc.listening('stats') === 0);
  });
});

async function vi_until(cond: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}
