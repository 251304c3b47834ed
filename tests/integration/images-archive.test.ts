// Image archives and store housekeeping through the real helper: OCI layouts
// built with umoci (two images sharing a base layer), image.save → skopeo →
// image.import round trips, podman load of a saved archive, docker archives written by skopeo, layer dedupe
// (the shared layer's directory keeps its inode), a corrupted blob, image.tag,
// and image.prune around an image a container still uses.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { HelperClient, HelperError } from '../../electron/core/helper-client';
import type { ImageSummary, WorkerProgress } from '../../electron/core/protocol';
import { testEnv, uniqueName } from './support/berth';

const name = uniqueName('arch').toLowerCase();
let client: HelperClient;
let tmp = '';
const made: string[] = []; // image refs to remove afterwards
const containers: string[] = [];

function sh(cmd: string, args: string[], cwd = tmp): string {
  return execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** image.import's result: {"images": [...]}. */
async function importPath(params: { path: string; format?: 'auto' | 'oci' | 'oci-archive' | 'docker-archive' | 'rootfs'; ref?: string }, progress?: WorkerProgress[]): Promise<ImageSummary[]> {
  const r = (await client.work('image.import', params, { onProgress: (ev) => progress?.push(ev) })) as unknown as { images: ImageSummary[] };
  for (const img of r.images) made.push(...img.refs);
  return r.images;
}

function storeDir(...parts: string[]): string {
  return path.join(testEnv().root, ...parts);
}

function files(dir: string): string[] {
  return fs.existsSync(dir) ? fs.readdirSync(dir).sort() : [];
}

/** A layout with base (busybox + 200 KB) and app (base + one more layer), tags `base` and `app`. */
function buildLayout(dir: string, extra: string): void {
  sh('umoci', ['init', '--layout', dir]);
  sh('umoci', ['new', '--image', `${dir}:base`]);
  const b1 = `${dir}.b1`;
  sh('umoci', ['unpack', '--image', `${dir}:base`, b1]);
  fs.mkdirSync(path.join(b1, 'rootfs/bin'), { recursive: true });
  fs.copyFileSync('/bin/busybox', path.join(b1, 'rootfs/bin/busybox'));
  fs.chmodSync(path.join(b1, 'rootfs/bin/busybox'), 0o755);
  fs.symlinkSync('busybox', path.join(b1, 'rootfs/bin/sh'));
  fs.writeFileSync(path.join(b1, 'rootfs/data'), Buffer.alloc(200_000, extra));
  sh('umoci', ['repack', '--image', `${dir}:base`, b1]);
  sh('umoci', ['config', '--image', `${dir}:base`, '--config.cmd', '/bin/sh']);
  sh('umoci', ['tag', '--image', `${dir}:base`, 'app']);
  const b2 = `${dir}.b2`;
  sh('umoci', ['unpack', '--image', `${dir}:app`, b2]);
  fs.writeFileSync(path.join(b2, 'rootfs/app.txt'), `app ${extra}\n`);
  sh('umoci', ['repack', '--image', `${dir}:app`, b2]);
}

async function expectError(p: Promise<unknown>, code: string, re?: RegExp): Promise<HelperError> {
  const e = await p.then(
    () => null,
    (x: unknown) => x,
  );
  expect(e).toBeInstanceOf(HelperError);
  expect((e as HelperError).code).toBe(code);
  if (re) expect((e as HelperError).message).toMatch(re);
  return e as HelperError;
}

describe('image archives and housekeeping', () => {
  beforeAll(async () => {
    tmp = fs.mkdtempSync(path.join(testEnv().tmp, 'archives-'));
    buildLayout(path.join(tmp, 'oci'), 'a');
    client = await HelperClient.connect(testEnv().socket);
  });

  afterAll(async () => {
    for (const c of containers) await client.call('container.remove', { ref: c, force: true }).catch(() => undefined);
    for (const ref of new Set(made)) await client.call('image.remove', { ref, force: true }).catch(() => undefined);
    client.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('imports an OCI layout; bare tags need a name; a second import extracts nothing', async () => {
    await expectError(importPath({ path: path.join(tmp, 'oci') }), 'invalid', /named only by the tag `(base|app)`; give a name/);

    const progress: WorkerProgress[] = [];
    const imgs = await importPath({ path: path.join(tmp, 'oci'), ref: name }, progress);
    expect(imgs.map((i) => i.refs).flat().sort()).toEqual([`${name}:app`, `${name}:base`]);
    expect(progress.some((p) => p.phase === 'extract' && p.item?.startsWith('sha256:'))).toBe(true);

    const app = await client.call('image.inspect', { ref: `${name}:app` });
    expect(app.layers).toHaveLength(2);
    const index = JSON.parse(fs.readFileSync(path.join(tmp, 'oci/index.json'), 'utf8')) as { manifests: { digest: string }[] };
    expect(index.manifests.map((m) => m.digest)).toContain(app.manifestDigest);

    // dedupe: the same layers under another name
    const baseDir = storeDir('layers/sha256', app.layers[0].diffId.slice(7));
    const inode = fs.statSync(baseDir).ino;
    const trees = files(storeDir('layers/sha256')).length;
    const du = Number(sh('du', ['-s', '--block-size=1', storeDir('layers')]).split('\t')[0]);
    const again = await importPath({ path: path.join(tmp, 'oci'), ref: `${name}-again` });
    expect(again).toHaveLength(2);
    expect(fs.statSync(baseDir).ino).toBe(inode);
    expect(files(storeDir('layers/sha256')).length).toBe(trees);
    expect(Number(sh('du', ['-s', '--block-size=1', storeDir('layers')]).split('\t')[0])).toBe(du);
    expect(files(storeDir('tmp')).filter((f) => f !== 'partial')).toEqual([]);
  });

  it('saves an OCI archive that skopeo reads, and imports it back with the same digests', async () => {
    const out = path.join(tmp, 'saved.tar');
    const progress: WorkerProgress[] = [];
    const r = await client.work('image.save', { refs: [`${name}:app`, `${name}:base`], path: out }, { onProgress: (ev) => progress.push(ev) });
    expect(r.path).toBe(out);
    expect(r.size).toBe(fs.statSync(out).size);
    expect(progress.some((p) => p.phase === 'write')).toBe(true);
    await expectError(client.work('image.save', { refs: [`${name}:app`], path: out }), 'conflict', /exists/);

    const inspected = JSON.parse(sh('skopeo', ['inspect', `oci-archive:${out}:${name}:app`])) as { Layers: string[] };
    expect(inspected.Layers).toHaveLength(2);
    sh('skopeo', ['copy', '-q', `oci-archive:${out}:${name}:app`, `oci:${path.join(tmp, 'copied')}:app`]);
    expect(fs.existsSync(path.join(tmp, 'copied/index.json'))).toBe(true);
    const manifest = JSON.parse(sh('tar', ['xOf', out, 'manifest.json'])) as { RepoTags: string[]; Layers: string[] }[];
    expect(manifest.map((m) => m.RepoTags).flat().sort()).toEqual([`${name}:app`, `${name}:base`]);
    // one image: skopeo takes it without a ref, also as a docker archive (manifest.json)
    const one = path.join(tmp, 'one.tar');
    await client.work('image.save', { refs: [`${name}:base`], path: one });
    expect((JSON.parse(sh('skopeo', ['inspect', `oci-archive:${one}`])) as { Layers: string[] }).Layers).toHaveLength(1);
    expect((JSON.parse(sh('skopeo', ['inspect', `docker-archive:${one}`])) as { Layers: string[] }).Layers).toHaveLength(1);

    const before = await client.call('image.inspect', { ref: `${name}:app` });
    await client.call('image.remove', { ref: `${name}:app` });
    const back = await importPath({ path: out });
    expect(back.map((i) => i.refs).flat()).toContain(`${name}:app`);
    const after = await client.call('image.inspect', { ref: `${name}:app` });
    expect(after.manifestDigest).toBe(before.manifestDigest);
    expect(after.id).toBe(before.id);
    expect(after.layers.map((l) => l.diffId)).toEqual(before.layers.map((l) => l.diffId));
  });

  it('saves an archive that podman load takes, with both tags and the same layers', async () => {
    const out = path.join(tmp, 'for-podman.tar');
    await client.work('image.save', { refs: [`${name}:app`, `${name}:base`], path: out });
    // podman with a store of its own in tmp (vfs: no overlay mount, nothing outside tmp)
    const store = path.join(tmp, 'podman');
    const podman = (...args: string[]): string =>
      sh('podman', ['--root', path.join(store, 'root'), '--runroot', path.join(store, 'run'), '--storage-driver', 'vfs', '--cgroup-manager', 'cgroupfs', '--events-backend', 'none', ...args]);
    try {
      const loaded = podman('load', '-q', '-i', out);
      expect(loaded).toContain(`${name}:app`);
      expect(loaded).toContain(`${name}:base`);
      const listed = podman('images', '--format', '{{.Repository}}:{{.Tag}}');
      expect(listed).toContain(`localhost/${name}:app`);
      expect(listed).toContain(`localhost/${name}:base`);
      const ours = await client.call('image.inspect', { ref: `${name}:app` });
      const theirs = JSON.parse(podman('image', 'inspect', `${name}:app`)) as { RootFS: { Layers: string[] } }[];
      expect(theirs[0].RootFS.Layers).toEqual(ours.layers.map((l) => l.diffId));
    } finally {
      // vfs leaves no mounts; its files may be read-only dirs owned by root: rm -rf copes
      fs.rmSync(store, { recursive: true, force: true });
    }
  });

  it('imports a docker archive written by skopeo, and tags it', async () => {
    const file = path.join(tmp, 'docker.tar');
    sh('skopeo', ['copy', '-q', `oci:${path.join(tmp, 'oci')}:app`, `docker-archive:${file}:${name}-docker:1.0`]);
    const imgs = await importPath({ path: file });
    expect(imgs).toHaveLength(1);
    expect(imgs[0].refs).toEqual([`${name}-docker:1.0`]);
    const app = await client.call('image.inspect', { ref: `${name}:app` });
    const docker = await client.call('image.inspect', { ref: `${name}-docker:1.0` });
    expect(docker.layers.map((l) => l.diffId)).toEqual(app.layers.map((l) => l.diffId));

    // the imported layers make a working root filesystem
    const ran = await client.call('container.run', { image: `${name}-docker:1.0`, cmd: ['/bin/sh', '-c', 'test -f /data && grep -q "app a" /app.txt'] });
    containers.push(ran.id);
    expect((await client.call('container.wait', { ref: ran.id })).exitCode).toBe(0);

    const tagged = await client.call('image.tag', { ref: `${name}-docker:1.0`, target: `${name}-docker:latest` });
    made.push(`${name}-docker:latest`);
    expect(tagged.refs).toEqual([`${name}-docker:1.0`, `${name}-docker:latest`]);
    await expectError(client.call('image.tag', { ref: `${name}-docker:1.0`, target: 'Not A Name' }), 'invalid', /lower-case/);
  });

  it('a corrupted blob fails with a digest error and adds no image and no blob', async () => {
    const bad = path.join(tmp, 'bad');
    buildLayout(bad, 'z'); // layers of its own, not in the store yet
    const blobs = path.join(bad, 'blobs/sha256');
    const big = files(blobs).find((f) => fs.statSync(path.join(blobs, f)).size > 100_000);
    expect(big).toBeDefined();
    const fd = fs.openSync(path.join(blobs, big as string), 'r+');
    fs.writeSync(fd, Buffer.from('XXXX'), 0, 4, 200);
    fs.closeSync(fd);

    const imagesBefore = (await client.call('image.list')).images.length;
    const blobsBefore = files(storeDir('blobs/sha256'));
    const treesBefore = files(storeDir('layers/sha256'));
    await expectError(importPath({ path: bad, ref: `${name}-bad` }), 'invalid', /digest mismatch/);
    sh('tar', ['-C', bad, '-cf', `${bad}.tar`, '.']);
    await expectError(importPath({ path: `${bad}.tar`, ref: `${name}-bad` }), 'invalid', /digest mismatch/);
    expect((await client.call('image.list')).images.length).toBe(imagesBefore);
    expect(files(storeDir('blobs/sha256'))).toEqual(blobsBefore);
    expect(files(storeDir('layers/sha256'))).toEqual(treesBefore);
    expect(files(storeDir('tmp')).filter((f) => f !== 'partial')).toEqual([]);
  });

  it('an image removed right after its import takes its layers along: the import holds no lease past its reply', async () => {
    const quick = path.join(tmp, 'quick');
    buildLayout(quick, 'q'); // layers no other image has
    const treesBefore = files(storeDir('layers/sha256'));
    const blobsBefore = files(storeDir('blobs/sha256'));
    const imgs = await importPath({ path: quick, ref: `${name}-quick` });
    // at once (the import's worker may still be ending its connection), the image with more layers first
    for (const ref of [`${name}-quick:app`, `${name}-quick:base`]) await client.call('image.remove', { ref });
    expect(imgs.map((i) => i.refs).flat().sort()).toEqual([`${name}-quick:app`, `${name}-quick:base`]);
    expect(files(storeDir('layers/sha256'))).toEqual(treesBefore);
    expect(files(storeDir('blobs/sha256'))).toEqual(blobsBefore);
  });

  it('prune keeps an untagged image a container uses, and removes it once the container is gone', async () => {
    const solo = path.join(tmp, 'solo');
    buildLayout(solo, 's'); // layers no other image has
    const [img] = (await importPath({ path: solo, ref: `${name}-solo` })).filter((i) => i.refs.includes(`${name}-solo:base`));
    const details = await client.call('image.inspect', { ref: img.id });
    const tree = storeDir('layers/sha256', details.layers[0].diffId.slice(7));

    const ctr = await client.call('container.create', { image: `${name}-solo:base`, cmd: ['/bin/sh', '-c', 'true'] });
    containers.push(ctr.id);
    await expectError(client.call('image.remove', { ref: `${name}-solo:base` }), 'conflict', /used by a container/);
    const forced = await client.call('image.remove', { ref: `${name}-solo:base`, force: true });
    expect(forced.removed).toEqual([]);
    await client.call('image.remove', { ref: `${name}-solo:app` });

    const kept = await client.call('image.prune', {});
    expect(kept.removed).not.toContain(img.id);
    expect(fs.existsSync(tree)).toBe(true);
    expect((await client.call('image.list')).images.map((i) => i.id)).toContain(img.id);

    await client.call('container.remove', { ref: ctr.id, force: true });
    const pruned = await client.call('image.prune', {});
    expect(pruned.removed).toContain(img.id);
    expect(pruned.reclaimedBytes).toBeGreaterThan(200_000);
    expect(fs.existsSync(tree)).toBe(false);
    expect(fs.existsSync(storeDir('blobs/sha256', details.manifestDigest.slice(7)))).toBe(false);
    // the other images are untouched
    await client.call('image.inspect', { ref: `${name}:app` });
  });
});
