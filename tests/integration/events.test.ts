// berthd's change events (events.subscribe): containers and images, with the real helper.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { HelperClient, type HelperStream } from '../../electron/core/helper-client';
import type { BerthdEvent } from '../../electron/core/protocol';
import { testEnv, uniqueName, waitUntil } from './support/berth';

class EventLog {
  readonly events: BerthdEvent[] = [];
  constructor(readonly stream: HelperStream<'events.subscribe'>) {
    stream.on('event', (e) => this.events.push(e));
  }
  async waitFor(pred: (e: BerthdEvent) => boolean, what: string): Promise<BerthdEvent> {
    if (!(await waitUntil(() => this.events.some(pred), 10000))) throw new Error(`no event: ${what}; got ${JSON.stringify(this.events)}`);
    return this.events.find(pred)!;
  }
}

describe('events.subscribe', () => {
  let client: HelperClient;
  const cleanup: (() => Promise<unknown>)[] = [];
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-events-'));

  beforeAll(async () => {
    client = await HelperClient.connect(testEnv().socket);
  });
  afterAll(async () => {
    for (const f of cleanup.reverse()) await f().catch(() => undefined);
    client.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('reports a container created, started, exited and removed, in that order', async () => {
    const log = new EventLog(await client.stream('events.subscribe', {}));
    const name = uniqueName('ev');
    const ctr = await client.call('container.run', { image: 'busybox', name, cmd: ['sleep', '300'] });
    cleanup.push(() => client.call('container.remove', { ref: ctr.id, force: true }));
    await log.waitFor((e) => e.id === ctr.id && e.action === 'start', 'start');
    await client.call('container.kill', { ref: ctr.id });
    await log.waitFor((e) => e.id === ctr.id && e.action === 'exit', 'exit');
    await client.call('container.remove', { ref: ctr.id });
    await log.waitFor((e) => e.id === ctr.id && e.action === 'remove', 'remove');
    const mine = log.events.filter((e) => e.id === ctr.id);
    expect(mine.map((e) => e.action)).toEqual(['create', 'start', 'exit', 'remove']);
    for (const e of mine) {
      expect(e.type).toBe('container');
      expect(Number.isNaN(Date.parse(e.time))).toBe(false);
    }
    log.stream.close();
  });

  it('an --rm container that exits by itself reports exit and remove', async () => {
    const log = new EventLog(await client.stream('events.subscribe', {}));
    const ctr = await client.call('container.run', { image: 'busybox', cmd: ['true'], autoRemove: true });
    await log.waitFor((e) => e.id === ctr.id && e.action === 'remove', 'remove');
    expect(log.events.filter((e) => e.id === ctr.id).map((e) => e.action)).toEqual(['create', 'start', 'exit', 'remove']);
    log.stream.close();
  });

  it('every subscriber gets every event', async () => {
    const a = new EventLog(await client.stream('events.subscribe', {}));
    const b = new EventLog(await client.stream('events.subscribe', {}));
    const ctr = await client.call('container.create', { image: 'busybox', cmd: ['true'] });
    await a.waitFor((e) => e.id === ctr.id, 'create on a');
    await b.waitFor((e) => e.id === ctr.id, 'create on b');
    await client.call('container.remove', { ref: ctr.id });
    a.stream.close();
    b.stream.close();
  });

  it('reports images: an import (worker end), a tag and a removal', async () => {
    const log = new EventLog(await client.stream('events.subscribe', {}));
    const root = path.join(tmp, 'rootfs');
    fs.mkdirSync(path.join(root, 'etc'), { recursive: true });
    fs.writeFileSync(path.join(root, 'etc/hello'), 'hi\n');
    const tar = path.join(tmp, 'rootfs.tar');
    execFileSync('tar', ['-C', root, '-cf', tar, '.']);
    const ref = `${uniqueName('evimg')}:1`;
    const imported = await client.work('image.import', { path: tar, format: 'rootfs', ref });
    cleanup.push(() => client.call('image.remove', { ref: imported.images[0].id, force: true }));
    await log.waitFor((e) => e.type === 'image' && e.action === 'change', 'image change after the import worker ended');

    const n = log.events.length;
    const tagged = await client.call('image.tag', { ref, target: `${ref.split(':')[0]}:2` });
    await log.waitFor((e) => log.events.indexOf(e) >= n && e.type === 'image' && e.action === 'change' && e.id === tagged.id, 'tag');

    const m = log.events.length;
    const removed = await client.call('image.remove', { ref: imported.images[0].id, force: true });
    expect(removed.removed.length).toBeGreaterThan(0);
    await log.waitFor((e) => log.events.indexOf(e) >= m && e.type === 'image' && e.action === 'remove', 'remove');
    log.stream.close();
  });

  it('a failed import (no image made) reports no image change', async () => {
    const log = new EventLog(await client.stream('events.subscribe', {}));
    const bad = path.join(tmp, 'not-a-tar');
    fs.writeFileSync(bad, 'this is not an archive');
    await expect(client.work('image.import', { path: bad, format: 'rootfs', ref: 'evbad:1' })).rejects.toThrow();
    // A container event afterwards proves everything before it was delivered.
    const ctr = await client.call('container.create', { image: 'busybox', cmd: ['true'] });
    await log.waitFor((e) => e.id === ctr.id, 'create');
    expect(log.events.filter((e) => e.type === 'image')).toEqual([]);
    await client.call('container.remove', { ref: ctr.id });
    log.stream.close();
  });

  it('refuses unknown params, and a subscriber that hangs up is forgotten (the helper serves on)', async () => {
    await expect(client.stream('events.subscribe', { bogus: 1 } as unknown as Record<string, never>)).rejects.toThrow(/bogus/);
    for (let i = 0; i < 80; i++) (await client.stream('events.subscribe', {})).close();
    // More than the table holds were opened and closed: new subscribers still fit.
    const log = new EventLog(await client.stream('events.subscribe', {}));
    const ctr = await client.call('container.create', { image: 'busybox', cmd: ['true'] });
    await log.waitFor((e) => e.id === ctr.id, 'create');
    await client.call('container.remove', { ref: ctr.id });
    log.stream.close();
    expect((await client.call('hello', {})).protocol).toBe(1);
  });
});
