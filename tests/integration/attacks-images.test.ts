// Attacks on images and the store, through the real (sanitized) helper: hostile
// layers imported and uploaded, a hostile registry (a small HTTP server playing
// one, for what a real registry never does), hostile names and configs. Each
// attack must be refused with an error that names the reason, write nothing
// outside the store (a canary directory beside the store keeps its bytes and
// metadata), leave no half image in the store, and leave the helper serving.
// The layer tarballs come from native-helper/tests/layer_attacks.py, the same
// ones the C unit test test_layer_attacks unpacks (with memory measurements).
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import zlib from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { HelperClient, HelperError } from '../../electron/core/helper-client';
import type { ImageSummary } from '../../electron/core/protocol';
import { goArch } from '../../electron/core/registry/client';
import { pullImage, PullError } from '../../electron/core/registry/pull';
import { helperPid, testEnv } from './support/berth';
import { OCI_CONFIG, OCI_INDEX, OCI_LAYER_GZ, OCI_MANIFEST, sha256 } from './support/registry';


let client: HelperClient;
let tmp = '';
let canary = '';
let pid0 = 0;
const made = new Set<string>();

// ---- the host side and the store -----------------------------------------------

interface Meta {
  mode: number;
  uid: number;
  gid: number;
  mtimeMs: number;
  nlink: number;
  ino: number;
}
let canaryMeta: { dir: Meta; secret: Meta } | null = null;
const meta = (p: string): Meta => {
  const s = fs.lstatSync(p);
  return { mode: s.mode, uid: s.uid, gid: s.gid, mtimeMs: s.mtimeMs, nlink: s.nlink, ino: s.ino };
};

function makeCanary(): void {
  fs.mkdirSync(canary, { mode: 0o755 });
  const secret = path.join(canary, 'secret');
  fs.writeFileSync(secret, 'secret\n');
  fs.chmodSync(secret, 0o640);
  fs.chownSync(secret, 1234, 1234);
  fs.utimesSync(secret, 1_000_000, 1_000_000);
  fs.utimesSync(canary, 2_000_000, 2_000_000);
  canaryMeta = { dir: meta(canary), secret: meta(secret) };
}

/** The canary beside the store: same bytes, mode, owner, times, links; nothing new around it. */
function expectCanaryIntact(): void {
  expect(fs.readdirSync(canary)).toEqual(['secret']);
  expect(fs.readFileSync(path.join(canary, 'secret'), 'utf8')).toBe('secret\n');
  expect(meta(path.join(canary, 'secret'))).toEqual(canaryMeta?.secret);
  expect(meta(canary)).toEqual(canaryMeta?.dir);
  const evil = (d: string): string[] => (fs.existsSync(d) ? fs.readdirSync(d).filter((n) => n.startsWith('evil')) : []);
  expect([...evil(path.dirname(canary)), ...evil(testEnv().root), ...evil('/tmp'), ...evil('/')]).toEqual([]);
}

function ls(...parts: string[]): string[] {
  const d = path.join(testEnv().root, ...parts);
  return fs.existsSync(d) ? fs.readdirSync(d).sort() : [];
}

interface StoreState {
  images: string[];
  layers: string[];
  blobs: string[];
  tmp: string[];
  partial: string[];
}

async function storeState(): Promise<StoreState> {
  const images = (await client.call('image.list')).images.map((i) => i.id).sort();
  return { images, layers: ls('layers/sha256'), blobs: ls('blobs/sha256'), tmp: ls('tmp').filter((n) => n !== 'partial'), partial: ls('tmp/partial') };
}

/** Refused, nothing half-added, nothing outside, the same helper still answering. */
async function expectRefused(p: Promise<unknown>, before: StoreState, code: string | string[], reason: RegExp): Promise<HelperError> {
  const e = await p.then(
    () => null,
    (x: unknown) => x,
  );
  expect(e, 'the attack was accepted').toBeInstanceOf(HelperError);
  const he = e as HelperError;
  expect([code].flat()).toContain(he.code);
  expect(he.message).toMatch(reason);
  expect(he.message).not.toContain('\n');
  expect(await storeState()).toEqual(before);
  expectCanaryIntact();
  await expectServing();
  return he;
}

async function expectServing(): Promise<void> {
  expect(helperPid()).toBe(pid0);
  expect((await client.call('hello')).pid).toBe(pid0);
}

async function importRootfs(file: string, ref: string, config?: Record<string, unknown>): Promise<ImageSummary[]> {
  const r = (await client.work('image.import', { path: file, format: 'rootfs', ref, ...(config ? { config } : {}) })) as unknown as { images: ImageSummary[] };
  for (const i of r.images) made.add(i.id);
  return r.images;
}

/** image.blob.put of a whole blob; the helper's result or its error. */
async function put(digest: string, size: number, mediaType: string, data: Buffer): Promise<{ digest: string; size: number; diffId?: string }> {
  const s = await client.stream('image.blob.put', { digest, size, mediaType });
  const done = s.finish({});
  s.writeStdin(data);
  s.closeStdin();
  return done;
}

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(testEnv().tmp, 'attacks-'));
  // beside the store (<tmp>/root): what a breakout would reach first
  canary = path.join(path.dirname(testEnv().root), `canary-${path.basename(tmp)}`);
  makeCanary();
  execFileSync('python3', [path.join(testEnv().repo, 'native-helper/tests/layer_attacks.py'), tmp, canary], { env: { ...process.env, LAYER_ATTACKS_LIGHT: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
  client = await HelperClient.connect(testEnv().socket);
  pid0 = helperPid();
});

afterAll(async () => {
  for (const id of made) await client?.call('image.remove', { ref: id, force: true }).catch(() => undefined);
  client?.close();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  if (canary) fs.rmSync(canary, { recursive: true, force: true });
});

// ---- layers ------------------------------------------------------------------------

describe('hostile layers (image.import and image.blob.put)', () => {
  // [tarball, error code, the reason the message must give]
  const refused: [string, string, RegExp][] = [
    ['a-dotdot.tar', 'invalid', /entry `\.\.\/evil-a` refused: path has a `\.\.` component/],
    ['a-dotdot-deep.tar', 'invalid', /path has a `\.\.` component/],
    ['a-dotdot-gnu.tar', 'invalid', /path has a `\.\.` component/],
    ['a-abs.tar', 'invalid', /refused: absolute path/],
    ['a-abs-pax.tar', 'invalid', /refused: absolute path/],
    ['a-symdir.tar', 'invalid', /entry `out\/evil-f` refused: its path goes through the symlink `out`/],
    ['a-symchain.tar', 'invalid', /goes through the symlink `b`/],
    ['a-hard-host.tar', 'invalid', /hardlink target `\/etc\/passwd`: absolute path/],
    ['a-hard-dotdot.tar', 'invalid', /hardlink target `\.\.\/outside\/secret`: path has a `\.\.` component|hardlink target `[^`]*`: path has a `\.\.` component/],
    ['a-hard-via-sym.tar', 'invalid', /goes through the symlink `o`/],
    ['a-hard-to-sym-pax.tar', 'invalid', /hardlink with data to the symlink `s`/],
    ['a-hard-to-sym-data.tar', 'invalid', /Damaged tar archive/],
    ['a-wh-dot.tar', 'invalid', /entry `\.wh\.\.` refused: whiteout of an invalid name/],
    ['a-wh-dotdot.tar', 'invalid', /entry `\.wh\.\.\.` refused: whiteout of an invalid name/],
    ['a-wh-empty.tar', 'invalid', /entry `\.wh\.` refused: whiteout of an invalid name/],
    ['a-wh-dir-dotdot.tar', 'invalid', /whiteout of an invalid name/],
    ['a-wh-symparent.tar', 'invalid', /entry `o\/\.wh\.secret` refused: its path goes through the symlink `o`/],
    ['a-wh-opq-symparent.tar', 'invalid', /goes through the symlink `o`/],
    ['a-repeat.tar', 'invalid', /entry `p\/evil-i` refused: its path goes through the symlink `p`/],
    ['a-sparse-huge.tar', 'limit', /entry `huge`: layer unpacks to more than 8589934592 bytes \(cap\)/],
    ['a-bomb-9g.tar.gz', 'limit', /entry `bomb`: layer unpacks to more than 8589934592 bytes \(cap\)/],
    ['a-pax-huge.tar', 'invalid', /Special header too large/],
    ['a-sparse-map01.tar', 'invalid', /Special header too large/],
    ['a-gz-truncated.tar.gz', 'invalid', /truncated gzip input/],
    ['a-gz-corrupt.tar.gz', 'invalid', /broken tar archive after \d+ entries/],
    ['a-cksum-first.tar', 'invalid', /not a tar/],
    ['a-cksum-later.tar', 'invalid', /broken tar archive after \d+ entries: Damaged tar archive/],
  ];
  for (const [file, code, reason] of refused) {
    it(`refuses ${file}`, async () => {
      const before = await storeState();
      await expectRefused(importRootfs(path.join(tmp, file), `attack/${file.replace(/[^a-z0-9]+/g, '-')}:1`), before, code, reason);
    });
  }

  // Accepted, but the last entry for a path wins inside the layer; the host is untouched.
  const harmless = ['a-symreplace-dir.tar', 'a-hard-to-sym.tar', 'a-sym-write.tar', 'a-meta-sym-entry.tar', 'a-meta-dir-then-sym.tar', 'a-meta-dir-then-symdir.tar', 'a-meta-file-dir-sym.tar', 'a-wh-of-symlink.tar', 'a-repeat-ok.tar'];
  it('writes nothing outside the layer for symlink replacements, chmod/chown/utime through symlinks, repeated paths', async () => {
    for (const file of harmless) {
      const before = await storeState();
      const r = await importRootfs(path.join(tmp, file), `attack/ok-${file.replace(/[^a-z0-9]+/g, '-')}:1`).then(
        (x) => x,
        (e: unknown) => e,
      );
      if (r instanceof HelperError) {
        expect(r.code, `${file}: ${r.message}`).toBe('invalid');
        expect(await storeState()).toEqual(before);
      } else expect(r, file).toHaveLength(1);
      expectCanaryIntact();
    }
    await expectServing();
  });

  it('refuses a hostile layer on the pull path too (image.blob.put), keeping no blob and no partial', async () => {
    for (const file of ['a-dotdot.tar', 'a-symdir.tar', 'a-wh-dotdot.tar']) {
      const blob = zlib.gzipSync(fs.readFileSync(path.join(tmp, file)));
      const digest = sha256(blob);
      const before = await storeState();
      await expectRefused(put(digest, blob.length, OCI_LAYER_GZ, blob), before, 'invalid', /refused: (path has a `\.\.` component|its path goes through the symlink|whiteout of an invalid name)/);
      expect(await client.call('image.blob.stat', { digest, mediaType: OCI_LAYER_GZ })).toEqual({ present: false, partial: 0 });
    }
  });

  it('keeps device nodes and setuid files as the layer says, in a store other users cannot reach', async () => {
    const [img] = await importRootfs(path.join(tmp, 'a-devices.tar'), 'attack/devices:1');
    const details = await client.call('image.inspect', { ref: img.id });
    const dir = path.join(testEnv().root, 'layers/sha256', details.layers[0].diffId.slice(7));
    const su = fs.lstatSync(path.join(dir, 'bin/su'));
    expect(su.mode & 0o7777).toBe(0o4755);
    expect(su.uid).toBe(0);
    expect(fs.lstatSync(path.join(dir, 'bin/sg')).mode & 0o7777).toBe(0o2755);
    const sda = fs.lstatSync(path.join(dir, 'dev/sda'));
    expect(sda.isBlockDevice()).toBe(true);
    expect([Math.floor(sda.rdev / 256), sda.rdev % 256]).toEqual([8, 0]);
    expect(fs.lstatSync(path.join(dir, 'dev/mem')).isCharacterDevice()).toBe(true);
    // inert from the host side: an unprivileged user reaches neither the setuid
    // file nor the device nodes (a directory on the way is root-only)
    const modes = ['', 'layers', 'layers/sha256'].map((p) => fs.statSync(path.join(testEnv().root, p)).mode & 0o777);
    expect(modes.some((m) => (m & 0o001) === 0), `store dir modes ${modes.map((m) => m.toString(8))}`).toBe(true);
    for (const target of ['bin/su', 'dev/sda', 'dev/mem']) {
      const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', '--', 'stat', '-c', '%a', path.join(dir, target)], { encoding: 'utf8' });
      expect(r.status, `nobody could reach ${target}: ${r.stdout}`).not.toBe(0);
      expect(r.stderr).toMatch(/Permission denied/);
    }
    const exe = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', '--', path.join(dir, 'bin/su')], { encoding: 'utf8' });
    expect(exe.status).not.toBe(0);
    expect(exe.stderr).toMatch(/Permission denied/);
    expectCanaryIntact();
  });
});

// ---- a hostile registry -----------------------------------------------------------

interface Seen {
  method: string;
  url: string;
  auth: string;
}

/** A registry in memory: manifests by tag or digest, blobs by digest, and hooks to misbehave. */
class FakeRegistry {
  readonly server: http.Server;
  readonly seen: Seen[] = [];
  readonly manifests = new Map<string, { type: string; body: Buffer }>();
  readonly blobs = new Map<string, Buffer>();
  /** returns true when it answered the request itself */
  hook: ((req: http.IncomingMessage, res: http.ServerResponse) => boolean) | null = null;
  port = 0;
  constructor() {
    this.server = http.createServer((req, res) => {
      this.seen.push({ method: req.method ?? '', url: req.url ?? '', auth: req.headers.authorization ?? '' });
      if (this.hook?.(req, res)) return;
      const url = req.url ?? '';
      if (url === '/v2/') return void res.writeHead(200).end('{}');
      let m = /^\/v2\/(.+)\/manifests\/([^/]+)$/.exec(url);
      if (m) {
        const hit = this.manifests.get(m[2]);
        if (!hit) return void res.writeHead(404, { 'Content-Type': 'application/json' }).end('{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}');
        return void res.writeHead(200, { 'Content-Type': hit.type, 'Content-Length': hit.body.length }).end(hit.body);
      }
      m = /^\/v2\/(.+)\/blobs\/([^/]+)$/.exec(url);
      if (m) {
        const blob = this.blobs.get(m[2]);
        if (!blob) return void res.writeHead(404, { 'Content-Type': 'application/json' }).end('{"errors":[{"code":"BLOB_UNKNOWN","message":"blob unknown"}]}');
        return void res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': blob.length }).end(blob);
      }
      res.writeHead(404).end();
    });
  }
  async start(): Promise<void> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as net.AddressInfo).port;
  }
  stop(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((r) => this.server.close(() => r()));
  }
  get addr(): string {
    return `127.0.0.1:${this.port}`;
  }
  blob(data: Buffer | string): { digest: string; size: number } {
    const b = Buffer.from(data);
    this.blobs.set(sha256(b), b);
    return { digest: sha256(b), size: b.length };
  }
  /** An image (one runnable-enough layer) under `tag`; returns its parts. */
  image(tag: string, extra: Record<string, unknown> = {}, layerFiles: Record<string, string> = { 'hello.txt': `hi ${tag}\n` }): { manifest: Buffer; layer: { digest: string; size: number; blob: Buffer; diffId: string }; config: Buffer } {
    const { blob, diffId } = gzLayer(layerFiles);
    const ld = this.blob(blob);
    const config = Buffer.from(JSON.stringify({ architecture: goArch(), os: 'linux', config: { Cmd: ['/bin/sh'] }, rootfs: { type: 'layers', diff_ids: [diffId] } }));
    const cd = this.blob(config);
    const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: { mediaType: OCI_CONFIG, ...cd }, layers: [{ mediaType: OCI_LAYER_GZ, ...ld }], ...extra }));
    this.manifests.set(tag, { type: OCI_MANIFEST, body: manifest });
    this.manifests.set(sha256(manifest), { type: OCI_MANIFEST, body: manifest });
    return { manifest, layer: { ...ld, blob, diffId }, config };
  }
  setManifest(tag: string, doc: unknown, type = OCI_MANIFEST): Buffer {
    const body = Buffer.from(JSON.stringify(doc));
    this.manifests.set(tag, { type, body });
    this.manifests.set(sha256(body), { type, body });
    return body;
  }
  blobGets(): Seen[] {
    return this.seen.filter((s) => s.url.includes('/blobs/'));
  }
}

function gzLayer(files: Record<string, string>): { blob: Buffer; diffId: string } {
  const dir = fs.mkdtempSync(path.join(tmp, 'l-'));
  for (const [p, c] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, p)), { recursive: true });
    fs.writeFileSync(path.join(dir, p), c);
  }
  const tar = execFileSync('tar', ['--sort=name', '--owner=0', '--group=0', '--numeric-owner', '--mtime=@0', '-C', dir, '-cf', '-', '.']);
  fs.rmSync(dir, { recursive: true, force: true });
  return { blob: zlib.gzipSync(tar), diffId: sha256(tar) };
}

function authFile(registry: string, user: string, password: string): string {
  const f = path.join(tmp, `auth-${randomBytes(4).toString('hex')}.json`);
  fs.writeFileSync(f, JSON.stringify({ auths: { [registry]: { auth: Buffer.from(`${user}:${password}`).toString('base64') } } }));
  return f;
}

/** A pull that must fail: its PullError, with the store as it was and the helper serving. */
async function expectPullRefused(p: Promise<unknown>, before: StoreState, code: string, reason: RegExp): Promise<PullError> {
  const e = await p.then(
    () => null,
    (x: unknown) => x,
  );
  expect(e, 'the pull succeeded').toBeInstanceOf(PullError);
  expect((e as PullError).code).toBe(code);
  expect((e as PullError).message).toMatch(reason);
  expect((e as PullError).message).not.toContain('\n');
  const after = await storeState();
  expect(after.images).toEqual(before.images);
  expect(after.tmp).toEqual(before.tmp);
  expect(after.partial).toEqual(before.partial);
  expectCanaryIntact();
  await expectServing();
  return e as PullError;
}

describe('a hostile registry', () => {
  let reg: FakeRegistry;
  let other: FakeRegistry; // "another host": another origin the registry points at
  beforeAll(async () => {
    reg = new FakeRegistry();
    other = new FakeRegistry();
    await reg.start();
    await other.start();
  });
  afterAll(async () => {
    await reg?.stop();
    await other?.stop();
  });

  it('a layer whose bytes do not match its digest: refused, nothing stored', async () => {
    const img = reg.image('mismatch');
    // same size, other bytes: what a tampering mirror would serve
    const forged = Buffer.from(img.layer.blob);
    forged.write('evil', Math.floor(forged.length / 2));
    reg.blobs.set(img.layer.digest, forged);
    const before = await storeState();
    await expectPullRefused(pullImage(client, `${reg.addr}/x/y:mismatch`), before, 'digest', /digest mismatch/);
    expect(await client.call('image.blob.stat', { digest: img.layer.digest, mediaType: OCI_LAYER_GZ })).toEqual({ present: false, partial: 0 });
  });

  it('a digest like sha256:../../x in a manifest is refused before any request or path', async () => {
    const img = reg.image('dotdot');
    const doc = JSON.parse(img.manifest.toString()) as { layers: { digest: string }[]; config: { digest: string } };
    doc.layers[0].digest = 'sha256:../../../../x';
    reg.setManifest('dotdot', doc);
    const before = await storeState();
    reg.seen.length = 0;
    await expectPullRefused(pullImage(client, `${reg.addr}/x/y:dotdot`), before, 'unsupported', /layers\[0\]: digest `sha256:\.\.\/\.\.\/\.\.\/\.\.\/x` is not sha256/);
    expect(reg.seen.filter((s) => s.url.includes('..'))).toEqual([]);
    doc.layers[0].digest = img.layer.digest;
    doc.config.digest = 'sha256:../x';
    reg.setManifest('dotdot', doc);
    await expectPullRefused(pullImage(client, `${reg.addr}/x/y:dotdot`), before, 'unsupported', /config: digest `sha256:\.\.\/x` is not sha256/);
  });

  it('a digest like sha256:../../x in the protocol is refused before it becomes a path', async () => {
    const before = await storeState();
    for (const digest of ['sha256:../../x', 'sha256:../../../../../../etc/passwd', `sha256:${'0'.repeat(63)}/`, 'sha256:%2e%2e%2fx']) {
      await expectRefused(client.call('image.blob.stat', { digest }), before, 'invalid', /`digest` must be sha256: and 64 lowercase hex digits/);
      await expectRefused(client.stream('image.blob.put', { digest, size: 1, mediaType: OCI_LAYER_GZ }), before, 'invalid', /`digest` must be sha256:/);
    }
    // image.create: a config or layer digest with a path in it
    const config = JSON.stringify({ architecture: goArch(), os: 'linux', rootfs: { type: 'layers', diff_ids: ['sha256:../../../x'] } });
    const layer = { mediaType: OCI_LAYER_GZ, digest: 'sha256:../../../blobs', size: 1 };
    const m1 = JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: { mediaType: OCI_CONFIG, digest: 'sha256:../../x', size: config.length }, layers: [layer] });
    await expectRefused(client.call('image.create', { manifest: m1, config, ref: 'attack/create:1' }), before, 'invalid', /the manifest names no sha256 config digest/);
    const m2 = JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: { mediaType: OCI_CONFIG, digest: sha256(config), size: config.length }, layers: [layer] });
    await expectRefused(client.call('image.create', { manifest: m2, config, ref: 'attack/create:1' }), before, 'invalid', /layer 0 has a malformed digest/);
  });

  it('a layer with foreign `urls` is fetched from the registry only, never from the URL', async () => {
    const img = reg.image('foreign');
    const doc = JSON.parse(img.manifest.toString()) as { layers: Record<string, unknown>[] };
    doc.layers[0].urls = [`http://${other.addr}/evil.tar.gz`, `http://${other.addr}/v2/x/blobs/${img.layer.digest}`];
    reg.setManifest('foreign', doc);
    other.seen.length = 0;
    const s = await pullImage(client, `${reg.addr}/x/y:foreign`);
    made.add(s.id);
    expect(other.seen).toEqual([]);
    // a foreign layer the registry does not have: not found, still no fetch elsewhere
    doc.layers[0].mediaType = 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip';
    doc.layers[0].digest = sha256('not here');
    reg.setManifest('foreign2', doc);
    const before = await storeState();
    await expectPullRefused(pullImage(client, `${reg.addr}/x/y:foreign2`), before, 'not_found', /blob unknown/);
    expect(other.seen).toEqual([]);
  });

  it('a 401 whose token realm is another host gets no credentials', async () => {
    reg.image('realm');
    const TOKEN = randomBytes(8).toString('hex');
    reg.hook = (req, res) => {
      if (req.url === '/v2/' || req.headers.authorization === `Bearer ${TOKEN}`) return false;
      res.writeHead(401, { 'WWW-Authenticate': `Bearer realm="http://${other.addr}/token",service="evil",scope="repository:x/y:pull"` }).end();
      return true;
    };
    // the other host hands out tokens to anyone: the pull works, anonymously
    other.hook = (req, res) => {
      if (!req.url?.startsWith('/token')) return false;
      res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ token: TOKEN }));
      return true;
    };
    other.seen.length = 0;
    try {
      const creds = authFile(reg.addr, 'alice', 'hunter2');
      const s = await pullImage(client, `${reg.addr}/x/y:realm`, { authFile: creds });
      made.add(s.id);
      expect(other.seen.length).toBeGreaterThan(0);
      expect(other.seen.map((x) => x.auth)).toEqual(other.seen.map(() => ''));
      // the other host refuses anonymous tokens: a clear error, still nothing sent
      other.hook = (req, res) => {
        if (!req.url?.startsWith('/token')) return false;
        res.writeHead(401).end();
        return true;
      };
      const before = await storeState();
      await expectPullRefused(pullImage(client, `${reg.addr}/x/y:realm`, { authFile: creds }), before, 'auth', new RegExp(`its token server ${other.addr} is not the registry's host; the credentials of \`alice\` were not sent there`));
      expect(other.seen.every((x) => x.auth === '')).toBe(true);
      expect(reg.seen.every((x) => !x.auth.startsWith('Basic'))).toBe(true);
    } finally {
      reg.hook = null;
      other.hook = null;
    }
  });

  it('a redirect to another host gets no credentials', async () => {
    const img = reg.image('redirect');
    const basic = `Basic ${Buffer.from('alice:hunter2').toString('base64')}`;
    reg.hook = (req, res) => {
      if (req.headers.authorization !== basic) {
        res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="fake"' }).end();
        return true;
      }
      if (req.url?.includes(`/blobs/${img.layer.digest}`)) {
        res.writeHead(307, { Location: `http://${other.addr}/cdn/${img.layer.digest}` }).end();
        return true;
      }
      return false;
    };
    other.hook = (req, res) => {
      if (!req.url?.startsWith('/cdn/')) return false;
      res.writeHead(200, { 'Content-Length': img.layer.blob.length }).end(img.layer.blob);
      return true;
    };
    other.seen.length = 0;
    try {
      const s = await pullImage(client, `${reg.addr}/x/y:redirect`, { authFile: authFile(reg.addr, 'alice', 'hunter2') });
      made.add(s.id);
      expect(other.seen.map((x) => x.url)).toEqual([`/cdn/${img.layer.digest}`]);
      expect(other.seen[0].auth).toBe('');
    } finally {
      reg.hook = null;
      other.hook = null;
    }
  });

  it('pull by digest: a manifest that is not the digest asked for is refused', async () => {
    const img = reg.image('bydigest');
    const asked = sha256(img.manifest);
    const forged = reg.image('forged').manifest;
    reg.manifests.set(asked, { type: OCI_MANIFEST, body: forged });
    const before = await storeState();
    await expectPullRefused(pullImage(client, `${reg.addr}/x/y@${asked}`), before, 'digest', new RegExp(`digest mismatch: registry \`${reg.addr}\` served bytes hashing to ${sha256(forged)} for manifest ${asked}`));
    // by tag, a Docker-Content-Digest header that disagrees with the bytes
    reg.hook = (req, res) => {
      if (!req.url?.endsWith('/manifests/bydigest')) return false;
      res.writeHead(200, { 'Content-Type': OCI_MANIFEST, 'Docker-Content-Digest': sha256(forged) }).end(img.manifest);
      return true;
    };
    try {
      await expectPullRefused(pullImage(client, `${reg.addr}/x/y:bydigest`), before, 'digest', /digest mismatch: manifest .* hashes to .*, the registry says/);
    } finally {
      reg.hook = null;
    }
  });

  it("an index whose platform manifest does not hash to the index's digest is refused", async () => {
    const img = reg.image('plat');
    const forged = reg.image('plat-forged').manifest;
    const entry = { mediaType: OCI_MANIFEST, digest: sha256(img.manifest), size: img.manifest.length, platform: { os: 'linux', architecture: goArch() } };
    reg.setManifest('multi', { schemaVersion: 2, mediaType: OCI_INDEX, manifests: [entry] }, OCI_INDEX);
    reg.manifests.set(entry.digest, { type: OCI_MANIFEST, body: forged });
    const before = await storeState();
    await expectPullRefused(pullImage(client, `${reg.addr}/x/y:multi`), before, 'digest', /digest mismatch: .* served bytes hashing to .* for manifest sha256:/);
  });

  it('an oversized manifest or config is refused without being stored', async () => {
    const before = await storeState();
    const img = reg.image('big');
    const doc = JSON.parse(img.manifest.toString()) as Record<string, unknown>;
    reg.setManifest('bigmanifest', { ...doc, annotations: { pad: 'x'.repeat(5 * 1024 * 1024) } });
    await expectPullRefused(pullImage(client, `${reg.addr}/x/y:bigmanifest`), before, 'protocol', /manifest `.*:bigmanifest` is over 4194304 bytes/);
    const cfg = (doc as { config: { size: number } }).config;
    reg.setManifest('bigconfig', { ...doc, config: { ...cfg, size: 64 * 1024 * 1024 } });
    await expectPullRefused(pullImage(client, `${reg.addr}/x/y:bigconfig`), before, 'protocol', /blob sha256:[0-9a-f]+ is 67108864 bytes, over 8388608/);
    // a config that is larger than its descriptor says: cut off, digest fails
    reg.blobs.set((doc as { config: { digest: string } }).config.digest, Buffer.concat([img.config, Buffer.alloc(9 * 1024 * 1024, 32)]));
    await expectPullRefused(pullImage(client, `${reg.addr}/x/y:big`), before, 'protocol', /is over 8388608 bytes/);
    // berthd itself: a manifest over 1 MiB cannot even reach image.create (on a connection of its own:
    // the line cap ends that connection)
    const c2 = await HelperClient.connect(testEnv().socket);
    try {
      await expectRefused(c2.call('image.create', { manifest: 'x'.repeat(1100 * 1024), config: '{}' }), before, 'too_large', /the line is over 1048576 bytes/);
    } finally {
      c2.close();
    }
  });

  it('too many layers: refused before any layer is downloaded', async () => {
    const img = reg.image('many');
    const doc = JSON.parse(img.manifest.toString()) as { layers: unknown[] };
    doc.layers = Array(1001).fill(doc.layers[0]);
    reg.setManifest('many', doc);
    reg.seen.length = 0;
    const before = await storeState();
    await expectPullRefused(pullImage(client, `${reg.addr}/x/y:many`), before, 'unsupported', /1001 layers; at most 1000 are supported/);
    expect(reg.blobGets()).toEqual([]);
  });
});

// ---- names and configs ---------------------------------------------------------------

describe('hostile names and configs', () => {
  let imageId = '';
  beforeAll(async () => {
    const [img] = await importRootfs(path.join(tmp, 'good.tar'), 'attack/names:1');
    imageId = img.id;
  });

  const badRefs = ['a/../b', '../x', 'a/..', '/..', 'busybox:../x', 'busybox:a/..', 'busybox:..', 'a\u0000b', 'busybox:\u0000', 'x'.repeat(10 * 1024), `busybox:${'x'.repeat(10 * 1024)}`, `${'a/'.repeat(5000)}b`];
  it('image references and tags with /.., NUL or 10 kB are refused with a clear error', async () => {
    const before = await storeState();
    for (const bad of badRefs) {
      const shown = JSON.stringify(bad.slice(0, 40));
      const tag = await expectRefused(client.call('image.tag', { ref: imageId, target: bad }), before, ['invalid', 'bad_request'], /image reference|must be|NUL|string/);
      expect(tag.message.length, shown).toBeLessThan(600);
      await expectRefused(client.work('image.import', { path: path.join(tmp, 'good.tar'), format: 'rootfs', ref: bad }), before, ['invalid', 'bad_request'], /image reference|must be|NUL|string/);
      const insp = await client.call('image.inspect', { ref: bad }).then(
        () => null,
        (e: unknown) => e as HelperError,
      );
      expect(insp?.code, shown).toMatch(/^(invalid|bad_request|not_found)$/);
      const pe = await pullImage(client, bad).then(
        () => null,
        (e: unknown) => e as PullError,
      );
      expect(pe?.code, shown).toBe('bad_reference');
      expect(pe?.message ?? '').not.toContain('\n');
    }
    expect((await storeState()).images).toEqual(before.images);
    const refs = (await client.call('image.list')).images.flatMap((i) => i.refs);
    expect(refs.filter((r) => r.includes('..') || r.includes('\u0000') || r.length > 300)).toEqual([]);
  });

  it('an image config with a huge Env or argv is refused with the limit', async () => {
    const before = await storeState();
    const env = Array.from({ length: 5000 }, (_, i) => `K${i}=v`);
    await expectRefused(importRootfs(path.join(tmp, 'good.tar'), 'attack/env:1', { Env: env }), before, 'limit', /config\.Env has 5000 entries; at most 4096 are accepted/);
    await expectRefused(importRootfs(path.join(tmp, 'good.tar'), 'attack/argv:1', { Cmd: ['sh', 'x'.repeat(70_000)] }), before, 'limit', /config\.Cmd\[1\] is 70000 bytes; at most 65536 are accepted/);
    // the same limits for a config that comes from a registry (image.create)
    const { blob, diffId } = gzLayer({ 'e.txt': 'e\n' });
    await put(sha256(blob), blob.length, OCI_LAYER_GZ, blob);
    const before2 = await storeState();
    for (const [cfg, re] of [
      [{ Env: env }, /image config sha256:[0-9a-f]{64}: config\.Env has 5000 entries; at most 4096/],
      [{ Entrypoint: Array(5000).fill('x') }, /config\.Entrypoint has 5000 entries/],
      [{ Cmd: ['x'.repeat(70_000)] }, /config\.Cmd\[0\] is 70000 bytes/],
    ] as [Record<string, unknown>, RegExp][]) {
      const config = JSON.stringify({ architecture: goArch(), os: 'linux', config: cfg, rootfs: { type: 'layers', diff_ids: [diffId] } });
      const manifest = JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: { mediaType: OCI_CONFIG, digest: sha256(config), size: config.length }, layers: [{ mediaType: OCI_LAYER_GZ, digest: sha256(blob), size: blob.length }] });
      await expectRefused(client.call('image.create', { manifest, config, ref: 'attack/create-env:1' }), before2, 'limit', re);
    }
  });
});
