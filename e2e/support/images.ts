// Test images: a three-layer image with a deletion built through the helper (import a
// rootfs, then commit twice), and OCI layouts with random layers for registry pulls.
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';

import type { HelperClient } from '../../electron/core/helper-client';

/** A tar of a directory, reproducible. */
function tarDir(dir: string, out: string): void {
  execFileSync('tar', ['--sort=name', '--owner=0', '--group=0', '--numeric-owner', '-C', dir, '-cf', out, '.']);
}

/**
 * NAME:base (one layer: busybox, /data/a.txt, /data/b.txt), NAME:two (deletes
 * /data/b.txt, adds /data/c.txt), NAME:latest (adds /data/d.txt): three layers, one
 * deletion in the middle one.
 */
export async function buildThreeLayerImage(client: HelperClient, tmp: string, name: string): Promise<void> {
  const dir = fs.mkdtempSync(path.join(tmp, 'rootfs-'));
  fs.mkdirSync(path.join(dir, 'bin'));
  fs.mkdirSync(path.join(dir, 'data'));
  fs.mkdirSync(path.join(dir, 'tmp'));
  fs.copyFileSync('/bin/busybox', path.join(dir, 'bin/busybox'));
  fs.chmodSync(path.join(dir, 'bin/busybox'), 0o755);
  fs.symlinkSync('busybox', path.join(dir, 'bin/sh'));
  fs.writeFileSync(path.join(dir, 'data/a.txt'), 'a\n');
  fs.writeFileSync(path.join(dir, 'data/b.txt'), crypto.randomBytes(256 * 1024));
  const tar = path.join(tmp, 'three-base.tar');
  tarDir(dir, tar);
  fs.rmSync(dir, { recursive: true, force: true });
  await client.work('image.import', { path: tar, format: 'rootfs', ref: `${name}:base`, config: { Cmd: ['sh'] } });
  fs.rmSync(tar, { force: true });

  const step = async (from: string, script: string, to: string, message: string): Promise<void> => {
    const c = await client.call('container.run', { image: from, cmd: ['sh', '-c', script], namespaces: { net: true } });
    await client.call('container.wait', { ref: c.id });
    await client.work('container.commit', { ref: c.id, image: to, message });
    await client.call('container.remove', { ref: c.id, force: true });
  };
  await step(`${name}:base`, 'rm /data/b.txt && echo c > /data/c.txt', `${name}:two`, 'delete b.txt, add c.txt');
  await step(`${name}:two`, 'echo d > /data/d.txt', `${name}:latest`, 'add d.txt');
}

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
const OCI_LAYER_GZ = 'application/vnd.oci.image.layer.v1.tar+gzip';

function sha256(b: Buffer): string {
  return `sha256:${crypto.createHash('sha256').update(b).digest('hex')}`;
}

function goArch(): string {
  return process.arch === 'x64' ? 'amd64' : process.arch;
}

/** An OCI image layout with one image tagged `tag`: one layer per size, random (incompressible) bytes. */
export function writeRandomLayout(dir: string, tag: string, layerBytes: number[]): void {
  const blobs = path.join(dir, 'blobs/sha256');
  fs.mkdirSync(blobs, { recursive: true });
  fs.writeFileSync(path.join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  const put = (b: Buffer): string => {
    const d = sha256(b);
    fs.writeFileSync(path.join(blobs, d.slice(7)), b);
    return d;
  };
  const layers = layerBytes.map((n, i) => {
    const src = fs.mkdtempSync(path.join(dir, '..', 'l-'));
    fs.writeFileSync(path.join(src, `blob-${i}.bin`), crypto.randomBytes(n));
    const tarFile = path.join(src, '..', `l-${i}-${path.basename(src)}.tar`);
    tarDir(src, tarFile);
    const tar = fs.readFileSync(tarFile);
    fs.rmSync(src, { recursive: true, force: true });
    fs.rmSync(tarFile, { force: true });
    const gz = zlib.gzipSync(tar, { level: 1 });
    return { diffId: sha256(tar), digest: put(gz), size: gz.length };
  });
  const config = Buffer.from(
    JSON.stringify({
      architecture: goArch(),
      os: 'linux',
      config: { Cmd: ['sh'] },
      rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
      history: layers.map((l, i) => ({ created_by: `ADD blob-${i}.bin /` })),
    }),
  );
  const cfg = { mediaType: OCI_CONFIG, digest: put(config), size: config.length };
  const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: cfg, layers: layers.map((l) => ({ mediaType: OCI_LAYER_GZ, digest: l.digest, size: l.size })) }));
  const md = put(manifest);
  fs.writeFileSync(
    path.join(dir, 'index.json'),
    JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: OCI_MANIFEST, digest: md, size: manifest.length, annotations: { 'org.opencontainers.image.ref.name': tag } }] }),
  );
}
