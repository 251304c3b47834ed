// The facts behind a layer stack, and a container's writable layer as an image layer:
// container.commit (twice, with a deletion and an opaque dir), image.layers, image.tree,
// container.diff / container.tree, container.export and a re-import of the export.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { HelperClient, HelperError } from '../../electron/core/helper-client';
import type { ImageLayers } from '../../electron/core/protocol';
import { berth, berthOk, inspect, removeTracked, runDetached, testEnv, track, uniqueName, waitExited } from './support/berth';

const BIG = 1000;
const tag = uniqueName('facts').toLowerCase();
const ONE = `${tag}:one`;
const TWO = `${tag}:two`;
const REIMPORT = `${tag}:reimport`;

let client: HelperClient;
let base = 0; // layers of busybox:latest
let c2 = ''; // the container whose upper dir became layer base+1

async function runToEnd(args: string[]): Promise<string> {
  const name = track(uniqueName('facts'));
  await berthOk(['run', '--name', name, ...args]);
  const info = await waitExited(name);
  expect(info.exitCode).toBe(0);
  return name;
}

async function expectError(p: Promise<unknown>, code: string, re?: RegExp): Promise<void> {
  const e = await p.then(
    () => null,
    (x: unknown) => x,
  );
  expect(e).toBeInstanceOf(HelperError);
  expect((e as HelperError).code).toBe(code);
  if (re) expect((e as HelperError).message).toMatch(re);
}

/** A plain tar (ustar) of `files` empty files in directories of 500, made in memory. */
function manyFilesTar(files: number): Buffer {
  const blocks: Buffer[] = [];
  const header = (name: string, type: '0' | '5'): Buffer => {
    const h = Buffer.alloc(512);
    h.write(name, 0, 100, 'utf8');
    h.write(type === '5' ? '0000755\0' : '0000644\0', 100);
    h.write('0000000\0', 108);
    h.write('0000000\0', 116);
    h.write('00000000000\0', 124);
    h.write('00000000000\0', 136);
    h.write('        ', 148);
    h.write(type, 156);
    h.write('ustar\0' + '00', 257);
    let sum = 0;
    for (const b of h) sum += b;
    h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
    return h;
  };
  for (let i = 0; i < files; i++) {
    if (i % 500 === 0) blocks.push(header(`d${i / 500}/`, '5'));
    blocks.push(header(`d${Math.floor(i / 500)}/f${i}`, '0'));
  }
  blocks.push(Buffer.alloc(1024));
  return Buffer.concat(blocks);
}

describe('image facts, commit and export', () => {
  beforeAll(async () => {
    client = await HelperClient.connect(testEnv().socket);
    base = (await client.call('image.inspect', { ref: 'busybox:latest' })).layers.length;

    // layer base: /data/big (1000 bytes), /data/keep, /data/sub/a
    const c1 = await runToEnd(['busybox', 'sh', '-c', `mkdir -p /data/sub && head -c ${BIG} /dev/zero > /data/big && echo keep > /data/keep && echo a > /data/sub/a`]);
    const progress: string[] = [];
    const one = await client.work('container.commit', { ref: c1, image: ONE, message: 'first', author: 'tester <t@example.org>' }, { onProgress: (ev) => progress.push(ev.phase) });
    expect(one.refs).toContain(`${ONE}`);
    expect(one.layers).toBe(base + 1);
    expect(progress).toContain('write');

    // layer base+1: deletes /data/big, adds /data/new, replaces the dir /data/sub (opaque)
    c2 = await runToEnd([ONE, 'sh', '-c', 'rm /data/big && echo new > /data/new && rm -rf /data/sub && mkdir /data/sub && echo b > /data/sub/b']);
    const two = await client.work('container.commit', {
      ref: c2,
      image: TWO,
      message: 'second',
      config: { Env: ['PATH=/bin:/usr/bin', 'FACTS=yes'], Labels: { 'org.example.facts': 'yes' } },
    });
    expect(two.layers).toBe(base + 2);
  });

  afterAll(async () => {
    await removeTracked();
    for (const ref of [REIMPORT, TWO, ONE]) await client.call('image.remove', { ref }).catch(() => undefined);
    client.close();
  });

  it('image.layers counts the deletion and the wasted bytes; history maps to layers', async () => {
    const facts: ImageLayers = await client.call('image.layers', { ref: TWO });
    expect(facts.layers).toHaveLength(base + 2);
    const first = facts.layers[base];
    const second = facts.layers[base + 1];
    expect(first.createdBy).toBe('berth commit');
    expect(first.comment).toBe('first');
    expect(second.comment).toBe('second');
    // first: /data, /data/big, /data/keep, /data/sub, /data/sub/a, maybe more the run wrote
    expect(first.files.added).toBeGreaterThanOrEqual(5);
    expect(first.unpackedSize).toBeGreaterThanOrEqual(BIG + 5 + 2);
    // second: /data/big deleted, /data/sub/a hidden by the opaque /data/sub
    expect(second.files.deleted).toBeGreaterThanOrEqual(2);
    expect(second.shadowedBytes).toBeGreaterThanOrEqual(BIG + 2);
    expect(first.wastedBytes).toBe(second.shadowedBytes);
    expect(second.wastedBytes).toBe(0);
    const wasted = facts.layers.reduce((n, l) => n + l.wastedBytes, 0);
    expect(facts.wastedBytes).toBe(wasted);
    const size = facts.layers.reduce((n, l) => n + l.unpackedSize, 0);
    expect(facts.size).toBe(size);
    expect(facts.efficiency).toBeCloseTo(1 - wasted / size, 6);
    expect(second.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(second.diffId).toMatch(/^sha256:[0-9a-f]{64}$/);
    const hist = facts.history.filter((h) => h.layer !== null);
    expect(hist.map((h) => h.layer)).toEqual([...Array(hist.length).keys()]);
    expect(facts.history.at(-1)).toMatchObject({ createdBy: 'berth commit', comment: 'second', emptyLayer: false, layer: base + 1 });

    // asked again: the cached answer, the same
    expect(await client.call('image.layers', { ref: TWO })).toEqual(facts);
    // a malformed cache is not trusted
    const cache = path.join(testEnv().root, 'facts', `${facts.id.slice(7)}.json`);
    expect(fs.existsSync(cache)).toBe(true);
    fs.writeFileSync(cache, '{"version":1,"facts":{"id":"x"}}');
    expect(await client.call('image.layers', { ref: TWO })).toEqual(facts);

    const config = (await client.call('image.inspect', { ref: TWO })).config as { config: { Env: string[]; Labels: Record<string, string> }; history: { author?: string }[] };
    expect(config.config.Env).toContain('FACTS=yes');
    expect(config.config.Labels['org.example.facts']).toBe('yes');
  });

  it("an image's first layer walk runs beside the request loop: other clients are answered meanwhile", async () => {
    const ref = `${tag}:many`;
    const file = path.join(testEnv().tmp, `${tag}-many.tar`);
    fs.writeFileSync(file, manyFilesTar(20000));
    await client.work('image.import', { path: file, format: 'rootfs', ref });
    fs.rmSync(file);
    const other = await HelperClient.connect(testEnv().socket);
    try {
      const t0 = performance.now();
      let walked = 0;
      const walk = client.call('image.layers', { ref }).then((r) => ((walked = performance.now() - t0), r));
      await new Promise((r) => setTimeout(r, 5)); // the walk has begun
      await other.call('hello');
      const answered = performance.now() - t0;
      const facts = await walk;
      expect(facts.layers[0].files.added).toBe(20000 + 40);
      // in the loop, hello would have waited for the whole walk
      expect(answered).toBeLessThan(walked);
      // the walk is cached: the next answer comes from the loop at once, the same
      expect(await client.call('image.layers', { ref })).toEqual(facts);
      // an image that is not there: the loop's own error, no walk
      await expectError(client.call('image.layers', { ref: `${tag}:absent` }), 'not_found');
    } finally {
      other.close();
      await client.call('image.remove', { ref }).catch(() => undefined);
    }
  });

  it('a container from the committed image sees the deletion and the opaque dir', async () => {
    const r = await berth(['run', '--rm', TWO, 'sh', '-c', 'test -e /data/big && echo big; cat /data/keep /data/new; ls /data/sub; echo $FACTS']);
    expect(r.status).toBe(0);
    expect(r.stdout.trim().split('\n')).toEqual(['keep', 'new', 'b', 'yes']);
  });

  it('image.tree lists the deletion, the opaque dir and the additions of one layer', async () => {
    const t = await client.call('image.tree', { ref: TWO, layer: base + 1, path: '/data' });
    expect(t.path).toBe('/data');
    const by = new Map(t.entries.map((e) => [e.name, e]));
    expect(by.get('big')).toMatchObject({ change: 'deleted', type: 'file', size: BIG });
    expect(by.get('new')).toMatchObject({ change: 'added', type: 'file', size: 4 });
    expect(by.get('sub')).toMatchObject({ change: 'opaque', type: 'dir' });
    expect(by.has('keep')).toBe(false);
    expect(t.entries.map((e) => e.name)).toEqual([...t.entries.map((e) => e.name)].sort());

    const root = await client.call('image.tree', { ref: TWO, layer: base + 1 });
    expect(root.entries.find((e) => e.name === 'data')).toMatchObject({ change: 'unchanged', type: 'dir' });
    const page = await client.call('image.tree', { ref: TWO, layer: 0, path: '/', offset: 1, limit: 2 });
    expect(page.entries.length).toBeLessThanOrEqual(2);
    expect(page.offset).toBe(1);

    await expectError(client.call('image.tree', { ref: TWO, layer: base + 1, path: '/data/../../etc' }), 'invalid', /\.\./);
    await expectError(client.call('image.tree', { ref: TWO, layer: base + 2 }), 'invalid', /no layer/);
    await expectError(client.call('image.tree', { ref: TWO, layer: base + 1, path: '/nope' }), 'not_found');
  });

  it('container.diff lists changes like docker diff; container.tree shows the upper dir', async () => {
    const d = await client.call('container.diff', { ref: c2 });
    const changes = new Map(d.changes.map((c) => [c.path, c.change]));
    expect(changes.get('/data')).toBe('modified');
    expect(changes.get('/data/big')).toBe('deleted');
    expect(changes.get('/data/new')).toBe('added');
    expect(changes.get('/data/sub')).toBe('modified');
    expect(changes.get('/data/sub/a')).toBe('deleted');
    expect(changes.get('/data/sub/b')).toBe('added');
    expect(changes.has('/data/keep')).toBe(false);
    const paths = d.changes.map((c) => c.path);
    expect(paths).toEqual([...paths].sort());
    expect(d.shadowedBytes).toBeGreaterThanOrEqual(BIG + 2);
    expect(d.totalChanges).toBe(d.changes.length);

    const t = await client.call('container.tree', { ref: c2, path: 'data' });
    expect(new Map(t.entries.map((e) => [e.name, e.change]))).toEqual(
      new Map([
        ['big', 'deleted'],
        ['new', 'added'],
        ['sub', 'opaque'],
      ]),
    );
    await expectError(client.call('container.diff', { ref: 'no-such-container-here' }), 'not_found');
  });

  it('export writes what a running container sees; the tar imports again as a rootfs', async () => {
    const id = await runDetached([TWO, 'sh', '-c', 'echo live > /data/live && exec sleep 60']);
    const info = await inspect(id);
    // until the write is there
    for (let i = 0; i < 50 && !fs.existsSync(path.join(info.rootfs.upper, 'data/live')); i++) await new Promise((r) => setTimeout(r, 100));
    const out = path.join(testEnv().tmp, `${tag}-export.tar`);
    const res = await client.work('container.export', { ref: id, path: out });
    expect(res.path).toBe(out);
    expect(fs.statSync(out).size).toBe(res.size);

    const tar = spawnSync('tar', ['-tf', out], { encoding: 'utf8' });
    expect(tar.status).toBe(0);
    const listed = new Set(tar.stdout.split('\n').filter(Boolean).map((p) => p.replace(/\/$/, '')));
    for (const p of ['data/keep', 'data/new', 'data/live', 'data/sub/b', 'bin/busybox', 'proc', 'dev', 'sys']) expect(listed, p).toContain(p);
    for (const p of ['data/big', 'data/sub/a']) expect(listed, p).not.toContain(p);
    expect([...listed].some((p) => p.startsWith('proc/'))).toBe(false);

    // what the container sees on its root file system, without the kernel file systems' contents
    const seen = await berthOk(['exec', id, 'find', '/', '-xdev']);
    const inside = new Set(seen.stdout.split('\n').filter((p) => p && p !== '/').map((p) => p.slice(1)));
    expect([...inside].filter((p) => !listed.has(p))).toEqual([]);
    expect([...listed].filter((p) => !inside.has(p))).toEqual([]);

    await expectError(client.work('container.export', { ref: id, path: out }), 'conflict', /exists/);

    // a running container commits as its files are at that moment
    const live = await client.work('container.commit', { ref: id, image: `${tag}:live` });
    expect(live.layers).toBe(base + 3);
    const lr = await berth(['run', '--rm', `${tag}:live`, 'cat', '/data/live']);
    expect(lr.stdout).toBe('live\n');
    await berthOk(['rm', '-f', id]);
    await client.call('image.remove', { ref: `${tag}:live` });

    // the protocol's result is {"images": [ImageSummary]}; older helpers gave the summary itself
    const imported = (await client.work('image.import', { path: out, format: 'rootfs', ref: REIMPORT })) as unknown as { images?: { refs: string[] }[]; refs?: string[] };
    expect(imported.images ? imported.images.flatMap((i) => i.refs) : imported.refs).toContain(REIMPORT);
    const r = await berth(['run', '--rm', REIMPORT, '/bin/sh', '-c', 'cat /data/keep /data/new /data/live; test -e /data/big || echo no-big']);
    expect(r.status).toBe(0);
    expect(r.stdout.trim().split('\n')).toEqual(['keep', 'new', 'live', 'no-big']);
    fs.rmSync(out, { force: true });
    // nothing left behind: no work dirs, no temp files, no mounts
    const tmpLeft = fs.readdirSync(path.join(testEnv().root, 'tmp')).filter((n) => /^(commit|export)-/.test(n));
    expect(tmpLeft).toEqual([]);
    expect(fs.readdirSync(testEnv().tmp).filter((n) => n.includes('.berth-') && n.endsWith('.tmp'))).toEqual([]);
    expect(fs.readFileSync('/proc/self/mountinfo', 'utf8')).not.toContain(`${testEnv().root}/tmp/export-`);
  });
});
