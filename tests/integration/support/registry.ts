// A real OCI distribution registry (Debian's docker-registry) on loopback, filled by
// skopeo from OCI layouts written here, for tests that pull (the test process
// resolves manifests and configs on it; berthd's workers fetch the layers from the
// test process's network namespace, not from the helper's own); and the OCI media
// types and digests the tests build images with.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';

import { goArch } from '../../../electron/core/registry/client';
import { freePort, httpStatus } from '../../support/net';
import { waitUntil } from './helper-process';

export const sha256 = (b: Buffer | string): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;
export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
export const OCI_LAYER_GZ = 'application/vnd.oci.image.layer.v1.tar+gzip';

export interface Desc {
  mediaType: string;
  digest: string;
  size: number;
  platform?: { os: string; architecture: string };
}

export interface Layer {
  blob: Buffer;
  diffId: string;
  desc: Desc;
}

/** A gzip'd tar (made in workDir) of files: path -> content, {link} a symlink, {copy} a host file. */
export function makeLayer(workDir: string, files: Record<string, string | Buffer | { link: string } | { copy: string }>): Layer {
  const dir = fs.mkdtempSync(path.join(workDir, 'layer-'));
  for (const [p, c] of Object.entries(files)) {
    const full = path.join(dir, p);
    fs.mkdirSync(path.dirname(full), { recursive: true });
    if (typeof c === 'string' || Buffer.isBuffer(c)) fs.writeFileSync(full, c);
    else if ('link' in c) fs.symlinkSync(c.link, full);
    else fs.copyFileSync(c.copy, full);
  }
  const tar = execFileSync('tar', ['--sort=name', '--owner=0', '--group=0', '--numeric-owner', '--mtime=@0', '-C', dir, '-cf', '-', '.'], {
    maxBuffer: 512 * 1024 * 1024,
  });
  fs.rmSync(dir, { recursive: true, force: true });
  const blob = zlib.gzipSync(tar, { level: 1 });
  return { blob, diffId: sha256(tar), desc: { mediaType: OCI_LAYER_GZ, digest: sha256(blob), size: blob.length } };
}

/** An OCI image layout directory written by hand (so indexes can be built too). */
export class Layout {
  readonly refs: Record<string, Desc> = {};
  constructor(readonly dir: string) {
    fs.mkdirSync(path.join(dir, 'blobs/sha256'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  }
  blob(data: Buffer | string, mediaType: string): Desc {
    const b = Buffer.from(data);
    const d = sha256(b);
    fs.writeFileSync(path.join(this.dir, 'blobs/sha256', d.slice(7)), b);
    return { mediaType, digest: d, size: b.length };
  }
  image(layers: Layer[], arch = goArch(), cmd = ['/bin/sh']): Desc {
    for (const l of layers) this.blob(l.blob, l.desc.mediaType);
    const config = { architecture: arch, os: 'linux', config: { Cmd: cmd }, rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) }, history: layers.map(() => ({ created_by: 'test' })) };
    const cd = this.blob(JSON.stringify(config), OCI_CONFIG);
    const manifest = { schemaVersion: 2, mediaType: OCI_MANIFEST, config: cd, layers: layers.map((l) => l.desc) };
    return { ...this.blob(JSON.stringify(manifest), OCI_MANIFEST), platform: { os: 'linux', architecture: arch } };
  }
  index(manifests: Desc[]): Desc {
    return this.blob(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests }), OCI_INDEX);
  }
  tag(name: string, d: Desc): void {
    this.refs[name] = d;
    const manifests = Object.entries(this.refs).map(([n, x]) => ({ mediaType: x.mediaType, digest: x.digest, size: x.size, annotations: { 'org.opencontainers.image.ref.name': n } }));
    fs.writeFileSync(path.join(this.dir, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests }));
  }
}

/** docker-registry on 127.0.0.1:<free port> with its own storage and log (and basic auth with htpasswd). */
export class Registry {
  proc: ChildProcess | null = null;
  port = 0;
  constructor(
    readonly dir: string,
    readonly htpasswd?: string,
  ) {}
  get addr(): string {
    return `127.0.0.1:${this.port}`;
  }
  get log(): string {
    return fs.readFileSync(path.join(this.dir, 'registry.log'), 'utf8');
  }
  async start(): Promise<void> {
    fs.mkdirSync(this.dir, { recursive: true });
    this.port = await freePort();
    let auth = '';
    if (this.htpasswd) {
      fs.writeFileSync(path.join(this.dir, 'htpasswd'), this.htpasswd);
      auth = `auth:\n  htpasswd:\n    realm: berth-test\n    path: ${path.join(this.dir, 'htpasswd')}\n`;
    }
    const cfg = `version: 0.1\nlog:\n  level: info\nstorage:\n  filesystem:\n    rootdirectory: ${path.join(this.dir, 'data')}\n  delete:\n    enabled: true\nhttp:\n  addr: ${this.addr}\n${auth}`;
    fs.writeFileSync(path.join(this.dir, 'config.yml'), cfg);
    const log = fs.openSync(path.join(this.dir, 'registry.log'), 'a');
    this.proc = spawn('/usr/bin/docker-registry', ['serve', path.join(this.dir, 'config.yml')], { stdio: ['ignore', log, log] });
    fs.closeSync(log);
    const up = await waitUntil(async () => (await httpStatus(`http://${this.addr}/v2/`)) > 0, 15000, 50);
    if (!up) throw new Error(`docker-registry did not come up on ${this.addr}:\n${this.log}`);
  }
  async stop(): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null) return;
    const gone = new Promise((r) => p.once('exit', r));
    p.kill('SIGTERM');
    await Promise.race([gone, new Promise((r) => setTimeout(r, 5000))]);
    if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  }
  /** skopeo copy from an OCI layout into this registry. */
  push(layout: Layout, tag: string, dest: string, extra: string[] = []): void {
    execFileSync('skopeo', ['copy', '-q', '--dest-tls-verify=false', ...extra, `oci:${layout.dir}:${tag}`, `docker://${this.addr}/${dest}`], { stdio: ['ignore', 'pipe', 'pipe'], timeout: 120000 });
  }
  /** Where the registry keeps a blob's bytes. */
  blobFile(digest: string): string {
    const hex = digest.slice(7);
    return path.join(this.dir, 'data/docker/registry/v2/blobs/sha256', hex.slice(0, 2), hex, 'data');
  }
  /** "response completed" lines for GETs of one blob: [status, bytes written]. */
  blobGets(digest: string): { status: number; written: number }[] {
    return this.log
      .split('\n')
      .filter((l) => l.includes('msg="response completed"') && l.includes('http.request.method=GET') && l.includes(`/blobs/${digest}`))
      .map((l) => ({ status: Number(/http\.response\.status=(\d+)/.exec(l)?.[1]), written: Number(/http\.response\.written=(\d+)/.exec(l)?.[1] ?? 0) }));
  }
}
