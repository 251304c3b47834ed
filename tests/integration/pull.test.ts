// Pulling from a real OCI distribution registry (Debian's docker-registry on
// loopback), filled by skopeo from OCI layouts built here: tags, digests,
// multi-arch indexes, layer reuse, resume after an interruption, corrupted
// blobs, missing tags, basic auth and a Bearer token flow.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { HelperClient } from '../../electron/core/helper-client';
import type { WorkerProgress } from '../../electron/core/protocol';
import { goArch } from '../../electron/core/registry/client';
import { pullImage, PullError, type PullProgress } from '../../electron/core/registry/pull';
import { berth, nsInode, testEnv, waitUntil } from './support/berth';
import { freePort, slowProxy, tcpProxy, type TcpProxy } from '../support/net';
import { Layout, makeLayer as makeTestLayer, OCI_CONFIG, OCI_LAYER_GZ, OCI_MANIFEST, Registry, sha256, type Layer } from './support/registry';

let tmp = '';

/** A gzip'd tar of files, made under this file's temp dir. */
const makeLayer = (files: Parameters<typeof makeTestLayer>[1]): Layer => makeTestLayer(tmp, files);

/**
 * A TCP proxy to `target` that passes requests whole but cuts a response whose
 * request names `cutPath` after `afterBytes` bytes (a connection lost mid-download).
 */
async function cuttingProxy(target: string, cutPath: string, afterBytes: number): Promise<TcpProxy & { cuts: number }> {
  let cuts = 0;
  const proxy = await tcpProxy(target, (down, up) => {
    let cutting = false;
    let passed = 0;
    down.on('data', (chunk: Buffer) => {
      if (chunk.toString('latin1').includes(cutPath)) cutting = true;
      up.write(chunk);
    });
    up.on('data', (chunk: Buffer) => {
      if (!cutting) return void down.write(chunk);
      const room = afterBytes - passed;
      passed += chunk.length;
      if (room > 0) down.write(chunk.subarray(0, room));
      if (passed >= afterBytes) {
        cuts++;
        down.destroy();
        up.destroy();
      }
    });
  });
  return {
    ...proxy,
    get cuts() {
      return cuts;
    },
  };
}

/** Passes a request on to the registry on `port` without its Authorization (a gate in front of it). */
function forwardToRegistry(port: number, req: http.IncomingMessage, res: http.ServerResponse): void {
  const up = http.request({ host: '127.0.0.1', port, path: req.url, method: req.method, headers: { ...req.headers, authorization: '' } }, (ur) => {
    res.writeHead(ur.statusCode ?? 502, ur.headers);
    ur.pipe(res);
  });
  up.on('error', () => res.destroy());
  req.pipe(up);
}

describe('pull from a registry', () => {
  let reg: Registry;
  let layout: Layout;
  let client: HelperClient;
  let busyboxLayer: Layer;

  beforeAll(async () => {
    tmp = fs.mkdtempSync('/tmp/bpull-');
    reg = new Registry(path.join(tmp, 'reg'));
    await reg.start();
    layout = new Layout(path.join(tmp, 'oci'));
    // A runnable base: a static busybox and its sh.
    busyboxLayer = makeLayer({ 'bin/busybox': { copy: '/bin/busybox' }, 'bin/sh': { link: 'busybox' }, 'bin/cat': { link: 'busybox' } });
    client = await HelperClient.connect(testEnv().socket);
  });

  afterAll(async () => {
    client?.close();
    await reg?.stop();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  const images = async (): Promise<string[]> => (await client.call('image.list')).images.flatMap((i) => i.refs);

  it('pulls by tag: layers streamed, image recorded, a container runs from it', async () => {
    const app = makeLayer({ 'hello.txt': 'hello from the registry\n' });
    layout.tag('app', layout.image([busyboxLayer, app]));
    reg.push(layout, 'app', 'team/app:1');

    const events: PullProgress[] = [];
    const ref = `${reg.addr}/team/app:1`;
    const summary = await pullImage(client, ref, { onProgress: (e) => events.push(e) });
    expect(summary.refs).toContain(ref);
    expect(summary.layers).toBe(2);
    const last = events[events.length - 1];
    expect(last.phase).toBe('done');
    expect(last.layers.map((l) => l.status)).toEqual(['done', 'done']);
    expect(last.layers.every((l) => l.done === l.size)).toBe(true);
    expect(events.some((e) => e.layers.some((l) => l.status === 'downloading'))).toBe(true);
    const inspect = await client.call('image.inspect', { ref });
    expect(inspect.manifestDigest).toBe(layout.refs.app.digest);
    expect(last.manifestDigest).toBe(layout.refs.app.digest);
    expect(inspect.layers.map((l) => l.diffId)).toEqual([busyboxLayer.diffId, app.diffId]);

    const r = await berth(['run', '--rm', ref, 'cat', '/hello.txt']);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('hello from the registry\n');
  });

  it('pulls by digest (verified) and a Docker schema 2 image', async () => {
    const layer = makeLayer({ 'd.txt': 'by digest\n' });
    const m = layout.image([busyboxLayer, layer]);
    layout.tag('dig', m);
    reg.push(layout, 'dig', 'dig:1');
    const ref = `${reg.addr}/dig@${m.digest}`;
    const summary = await pullImage(client, ref);
    expect(summary.refs).toContain(ref);

    // skopeo converts to Docker's media types: vnd.docker.distribution.manifest.v2+json
    reg.push(layout, 'dig', 'docker-v2:1', ['--format', 'v2s2']);
    const dref = `${reg.addr}/docker-v2:1`;
    const ds = await pullImage(client, dref);
    expect(ds.refs).toContain(dref);
    const r = await berth(['run', '--rm', dref, 'cat', '/d.txt']);
    expect(r.stdout).toBe('by digest\n');
  });

  it('picks the host platform from a multi-arch index, and another on request', async () => {
    const host = goArch();
    const other = host === 'arm64' ? 'amd64' : 'arm64';
    const mHost = layout.image([busyboxLayer, makeLayer({ 'arch.txt': `${host}\n` })], host);
    const mOther = layout.image([makeLayer({ 'arch.txt': `${other}\n` })], other);
    const idx = layout.index([mOther, mHost]);
    layout.tag('multi', idx);
    execFileSync('skopeo', ['copy', '-q', '--all', '--dest-tls-verify=false', `oci:${layout.dir}:multi`, `docker://${reg.addr}/multi:1`]);

    const events: PullProgress[] = [];
    const ref = `${reg.addr}/multi:1`;
    await pullImage(client, ref, { onProgress: (e) => events.push(e) });
    const insp = await client.call('image.inspect', { ref });
    expect(insp.manifestDigest).toBe(mHost.digest);
    expect(insp.config.architecture).toBe(host);
    expect(events[0].indexDigest).toBe(idx.digest);
    expect(events[0].platform).toBe(`linux/${host}`);

    const oref = `${reg.addr}/multi-other:1`;
    execFileSync('skopeo', ['copy', '-q', '--all', '--dest-tls-verify=false', `oci:${layout.dir}:multi`, `docker://${reg.addr}/multi-other:1`]);
    await pullImage(client, oref, { platform: { os: 'linux', architecture: other } });
    expect((await client.call('image.inspect', { ref: oref })).manifestDigest).toBe(mOther.digest);

    // an index without the platform asked for: a clear error
    await expect(pullImage(client, ref, { platform: { os: 'linux', architecture: 's390x' } })).rejects.toThrow(/no linux\/s390x image in .*multi:1.* \(it has linux\/(arm64|amd64), linux\/(amd64|arm64)\)/);
  });

  it('skips layers the store has: a second image on the same base transfers only its own layer', async () => {
    const base = makeLayer({ 'base.bin': randomBytes(512 * 1024) });
    const a = makeLayer({ 'a.txt': 'a\n' });
    const b = makeLayer({ 'b.txt': 'b\n' });
    layout.tag('sa', layout.image([busyboxLayer, base, a]));
    layout.tag('sb', layout.image([busyboxLayer, base, b]));
    reg.push(layout, 'sa', 'share:a');
    reg.push(layout, 'sb', 'share:b');

    await pullImage(client, `${reg.addr}/share:a`);
    const baseGets = reg.blobGets(base.desc.digest).length;
    expect(baseGets).toBe(1);
    const events: PullProgress[] = [];
    await pullImage(client, `${reg.addr}/share:b`, { onProgress: (e) => events.push(e) });
    const last = events[events.length - 1];
    expect(last.layers.map((l) => l.status)).toEqual(['exists', 'exists', 'done']);
    expect(reg.blobGets(base.desc.digest).length).toBe(baseGets);
    expect(reg.blobGets(busyboxLayer.desc.digest).length).toBe(1);
    expect(reg.blobGets(b.desc.digest)).toEqual([{ status: 200, written: b.desc.size }]);
  });

  it('two pulls of one image at once both succeed (one upload per blob at a time)', async () => {
    const layer = makeLayer({ 'twice.bin': randomBytes(3 * 1024 * 1024) });
    layout.tag('twice', layout.image([busyboxLayer, layer]));
    reg.push(layout, 'twice', 'twice:1');
    reg.push(layout, 'twice', 'twice:2');
    const [a, b] = await Promise.all([pullImage(client, `${reg.addr}/twice:1`), pullImage(client, `${reg.addr}/twice:2`)]);
    expect(a.id).toBe(b.id);
    expect((await client.call('image.inspect', { ref: `${reg.addr}/twice:1` })).refs).toEqual([`${reg.addr}/twice:1`, `${reg.addr}/twice:2`]);
  });

  it('resumes an interrupted download with a Range request', async () => {
    const big = makeLayer({ 'big.bin': randomBytes(30 * 1024 * 1024) });
    layout.tag('big', layout.image([busyboxLayer, big]));
    reg.push(layout, 'big', 'big:1');
    // the first pull goes through a slow proxy, so the cancel lands mid-download
    // however fast loopback is; the resumed one talks to the registry directly
    const slow = await slowProxy(reg.addr, 4 * 1024 * 1024);
    const ref = `${reg.addr}/big:1`;

    const ac = new AbortController();
    const err = await pullImage(client, `${slow.addr}/big:1`, {
      signal: ac.signal,
      onProgress: (e) => {
        const l = e.layers.find((x) => x.digest === big.desc.digest);
        if (l && l.status === 'downloading' && l.done > 2 * 1024 * 1024) ac.abort();
      },
    })
      .catch((e: unknown) => e)
      .finally(() => slow.close());
    expect(err).toBeInstanceOf(PullError);
    expect((err as PullError).code).toBe('cancelled');
    expect(await images()).not.toContain(`${slow.addr}/big:1`);
    expect(await images()).not.toContain(ref);

    // the helper kept what came (its worker writes what it read before it saw the close)
    let partial = 0;
    await waitUntil(async () => {
      const st = await client.call('image.blob.stat', { digest: big.desc.digest, mediaType: OCI_LAYER_GZ });
      const stable = st.partial === partial && st.partial > 0;
      partial = st.partial;
      return stable;
    }, 5000, 200);
    expect(partial).toBeGreaterThan(0);
    expect(partial).toBeLessThan(big.desc.size);

    const events: PullProgress[] = [];
    await pullImage(client, ref, { onProgress: (e) => events.push(e) });
    const resumed = events[events.length - 1].layers.find((l) => l.digest === big.desc.digest);
    expect(resumed?.status).toBe('done');
    expect(resumed?.resumedFrom).toBeGreaterThan(0);
    const gets = reg.blobGets(big.desc.digest);
    const last = gets[gets.length - 1];
    expect(last.status).toBe(206);
    expect(last.written).toBe(big.desc.size - (resumed?.resumedFrom ?? 0));
    expect((await client.call('image.blob.stat', { digest: big.desc.digest })).partial).toBe(0);
    const r = await berth(['run', '--rm', ref, 'sh', '-c', 'wc -c < /big.bin']);
    expect(r.stdout.trim()).toBe(String(30 * 1024 * 1024));
  });

  it('berthd downloads the layers itself, from the network namespace of the client that asked', async () => {
    // the helper lives in a network namespace of its own, where this registry's
    // loopback address leads nowhere: its worker reaches it from ours
    const helperPid = Number(fs.readFileSync(testEnv().helperPidFile, 'utf8'));
    expect(nsInode(helperPid, 'net')).not.toBe(nsInode('self', 'net'));
    const layer = makeLayer({ 'f.bin': randomBytes(256 * 1024) });
    layout.tag('fetch', layout.image([busyboxLayer, layer]));
    reg.push(layout, 'fetch', 'fetch:1');
    const events: WorkerProgress[] = [];
    const { digest, size, mediaType } = layer.desc;
    const res = await client.work('image.blob.fetch', { digest, size, mediaType, url: `http://${reg.addr}/v2/fetch/blobs/${digest}` }, { onProgress: (e) => events.push(e) });
    expect(res).toEqual({ digest, size, diffId: layer.diffId });
    expect(events[0]).toEqual({ phase: 'response', item: digest, status: 200, offset: 0, total: size });
    expect(events.some((e) => e.phase === 'write' && e.done === size)).toBe(true);
    expect(events.filter((e) => e.phase === 'extract').map((e) => e.done)).toEqual([0, size]);
    expect(reg.blobGets(digest)).toEqual([{ status: 200, written: size }]);
    expect(await client.call('image.blob.stat', { digest, mediaType })).toEqual({ present: true, size, partial: 0 });
  });

  it('a download cut off midway fails as unreachable, keeps what came, and the next pull resumes it', async () => {
    const big = makeLayer({ 'cut.bin': randomBytes(4 * 1024 * 1024) });
    layout.tag('cut', layout.image([busyboxLayer, big]));
    reg.push(layout, 'cut', 'cut:1');
    const proxy = await cuttingProxy(reg.addr, `/blobs/${big.desc.digest}`, 1024 * 1024);
    try {
      const err = await pullImage(client, `${proxy.addr}/cut:1`).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(PullError);
      expect((err as PullError).code).toBe('unreachable');
      expect((err as Error).message.startsWith(`layer ${big.desc.digest} from registry \`${proxy.addr}\`: http://${proxy.addr}: `)).toBe(true);
      expect((err as Error).message).toMatch(/\(pull again to resume\)$/);
      expect(proxy.cuts).toBe(1);
    } finally {
      proxy.close();
    }
    const kept = (await client.call('image.blob.stat', { digest: big.desc.digest, mediaType: OCI_LAYER_GZ })).partial;
    expect(kept).toBeGreaterThan(0);
    expect(kept).toBeLessThanOrEqual(1024 * 1024);

    const events: PullProgress[] = [];
    await pullImage(client, `${reg.addr}/cut:1`, { onProgress: (e) => events.push(e) });
    const l = events[events.length - 1].layers.find((x) => x.digest === big.desc.digest);
    expect(l?.resumedFrom).toBe(kept);
    expect(reg.blobGets(big.desc.digest).at(-1)).toEqual({ status: 206, written: big.desc.size - kept });
    const r = await berth(['run', '--rm', `${reg.addr}/cut:1`, 'sh', '-c', 'wc -c < /cut.bin']);
    expect(r.stdout.trim()).toBe(String(4 * 1024 * 1024));
  });

  it('a missing tag is a one-line error and stores nothing', async () => {
    const before = await images();
    const err = await pullImage(client, `${reg.addr}/team/app:nope`).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PullError);
    expect((err as PullError).code).toBe('not_found');
    expect((err as Error).message).toBe(`manifest unknown: no image \`${reg.addr}/team/app:nope\` on registry \`${reg.addr}\``);
    expect(await images()).toEqual(before);
  });

  it('a corrupted blob on the registry fails with a digest error and no image', async () => {
    const layer = makeLayer({ 'c.bin': randomBytes(256 * 1024) });
    layout.tag('bad', layout.image([busyboxLayer, layer]));
    reg.push(layout, 'bad', 'bad:1');
    // flip bytes in the middle of the registry's copy of the layer (same size)
    const file = reg.blobFile(layer.desc.digest);
    const fd = fs.openSync(file, 'r+');
    fs.writeSync(fd, Buffer.from('tampered'), 0, 8, Math.floor(layer.desc.size / 2));
    fs.closeSync(fd);

    const ref = `${reg.addr}/bad:1`;
    const err = await pullImage(client, ref).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PullError);
    expect((err as PullError).code).toBe('digest');
    expect((err as Error).message).toMatch(/digest mismatch/);
    expect(await images()).not.toContain(ref);
    const st = await client.call('image.blob.stat', { digest: layer.desc.digest, mediaType: OCI_LAYER_GZ });
    expect(st).toEqual({ present: false, partial: 0 });
  });

  it('clear errors for a bad name and an unreachable registry', async () => {
    await expect(pullImage(client, 'Bad/Name')).rejects.toMatchObject({ code: 'bad_reference' });
    const port = await freePort();
    const err = await pullImage(client, `127.0.0.1:${port}/x:1`).catch((e: unknown) => e);
    expect((err as PullError).code).toBe('unreachable');
    expect((err as Error).message).toBe(`cannot reach registry \`127.0.0.1:${port}\` at http://127.0.0.1:${port}: ECONNREFUSED`);
  });

  it('basic auth: credentials from an auth file; none or wrong ones are refused', async () => {
    // bcrypt, as the registry's htpasswd wants it, from libcrypt through perl
    const hash = execFileSync('perl', ['-e', 'print crypt($ARGV[0], "\\$2b\\$05\\$" . $ARGV[1])', 's3cret', 'abcdefghijklmnopqrstuu'], { encoding: 'utf8' });
    const areg = new Registry(path.join(tmp, 'areg'), `alice:${hash}\n`);
    await areg.start();
    try {
      areg.push(layout, 'app', 'private/app:1', ['--dest-creds', 'alice:s3cret']);
      const ref = `${areg.addr}/private/app:1`;
      const auth = (u: string, p: string): string => {
        const f = path.join(tmp, `auth-${u}-${p}.json`);
        fs.writeFileSync(f, JSON.stringify({ auths: { [areg.addr]: { auth: Buffer.from(`${u}:${p}`).toString('base64') } } }));
        return f;
      };
      const none = await pullImage(client, ref, { authFile: path.join(tmp, 'empty.json') }).catch((e: unknown) => e);
      expect((none as Error).message).toMatch(/does not exist/);
      fs.writeFileSync(path.join(tmp, 'noauths.json'), '{"auths": {}}');
      const anon = await pullImage(client, ref, { authFile: path.join(tmp, 'noauths.json') }).catch((e: unknown) => e);
      expect((anon as PullError).code).toBe('auth');
      expect((anon as Error).message).toBe(`registry \`${areg.addr}\` needs a login (no credentials for it in the auth files)`);
      const wrong = await pullImage(client, ref, { authFile: auth('alice', 'nope') }).catch((e: unknown) => e);
      expect((wrong as PullError).code).toBe('auth');
      expect((wrong as Error).message).toMatch(/denied access to `private\/app` as `alice` \(401/);
      const s = await pullImage(client, ref, { authFile: auth('alice', 's3cret') });
      expect(s.refs).toContain(ref);
    } finally {
      await areg.stop();
    }
  });

  it('Bearer tokens: a token server in front of the registry, credentials go to the realm only', async () => {
    // A gate that speaks the token protocol of the distribution spec in front of the
    // real registry: /v2/ needs "Bearer <token>", the token comes from /token with Basic.
    const TOKEN = randomBytes(16).toString('hex');
    const seen: { path: string; auth: string }[] = [];
    const gate = http.createServer((req, res) => {
      const auth = req.headers.authorization ?? '';
      seen.push({ path: req.url ?? '', auth });
      if (req.url?.startsWith('/token')) {
        const u = new URL(req.url, 'http://x');
        if (auth !== `Basic ${Buffer.from('bob:pw').toString('base64')}` || u.searchParams.get('service') !== 'gate' || !u.searchParams.getAll('scope').includes('repository:team/app:pull')) {
          res.writeHead(401).end();
          return;
        }
        res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ access_token: TOKEN }));
        return;
      }
      if (auth !== `Bearer ${TOKEN}`) {
        const port = (gate.address() as net.AddressInfo).port;
        res.writeHead(401, { 'WWW-Authenticate': `Bearer realm="http://127.0.0.1:${port}/token",service="gate",scope="repository:team/app:pull"` }).end();
        return;
      }
      forwardToRegistry(reg.port, req, res);
    });
    await new Promise<void>((r) => gate.listen(0, '127.0.0.1', r));
    try {
      const port = (gate.address() as net.AddressInfo).port;
      const ref = `127.0.0.1:${port}/team/app:1`;
      const f = path.join(tmp, 'bearer.json');
      fs.writeFileSync(f, JSON.stringify({ auths: { [`127.0.0.1:${port}`]: { auth: Buffer.from('bob:pw').toString('base64') } } }));
      const s = await pullImage(client, ref, { authFile: f });
      expect(s.refs).toContain(ref);
      expect(seen.filter((x) => x.path.startsWith('/token')).length).toBe(1);
      expect(seen.filter((x) => !x.path.startsWith('/token')).every((x) => x.auth === '' || x.auth === `Bearer ${TOKEN}`)).toBe(true);

      fs.writeFileSync(f, JSON.stringify({ auths: { [`127.0.0.1:${port}`]: { auth: Buffer.from('bob:bad').toString('base64') } } }));
      const err = await pullImage(client, ref, { authFile: f }).catch((e: unknown) => e);
      expect((err as PullError).code).toBe('auth');
      expect((err as Error).message).toMatch(/refused the credentials of `bob` \(401\)/);
    } finally {
      await new Promise((r) => gate.close(r));
    }
  });
  it('a token that expires during the pull is renewed once, and the layer is fetched with the new one', async () => {
    const app = makeLayer({ 'exp.txt': 'renewed\n' });
    layout.tag('exp', layout.image([busyboxLayer, app]));
    reg.push(layout, 'exp', 'team/exp:1');
    // token N is valid until a layer is asked for with it: then it has "expired"
    let issued = 0;
    const expired = new Set<string>();
    const seen: { path: string; auth: string }[] = [];
    const gate = http.createServer((req, res) => {
      const auth = req.headers.authorization ?? '';
      seen.push({ path: req.url ?? '', auth });
      if (req.url?.startsWith('/token')) {
        res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ token: `tok${++issued}` }));
        return;
      }
      const token = auth.replace(/^Bearer /, '');
      if (req.url?.includes(`/blobs/${app.desc.digest}`) && token === 'tok1') expired.add(token);
      if (!/^Bearer tok\d+$/.test(auth) || expired.has(token)) {
        const port = (gate.address() as net.AddressInfo).port;
        res.writeHead(401, { 'WWW-Authenticate': `Bearer realm="http://127.0.0.1:${port}/token",service="gate"` }).end();
        return;
      }
      forwardToRegistry(reg.port, req, res);
    });
    await new Promise<void>((r) => gate.listen(0, '127.0.0.1', r));
    try {
      const port = (gate.address() as net.AddressInfo).port;
      const ref = `127.0.0.1:${port}/team/exp:1`;
      const s = await pullImage(client, ref);
      expect(s.refs).toContain(ref);
      expect(issued).toBe(2);
      const layerGets = seen.filter((x) => x.path.includes(`/blobs/${app.desc.digest}`));
      expect(layerGets.map((x) => x.auth)).toEqual(['Bearer tok1', '', 'Bearer tok2', 'Bearer tok2']);
      const r = await berth(['run', '--rm', ref, 'cat', '/exp.txt']);
      expect(r.stdout).toBe('renewed\n');
    } finally {
      await new Promise((r) => gate.close(r));
    }
  });
});

describe('the store side of pulls (image.blob.*, image.create) with hostile input', () => {
  let client: HelperClient;
  beforeAll(async () => {
    tmp = fs.mkdtempSync('/tmp/bpull-');
    client = await HelperClient.connect(testEnv().socket);
  });
  afterAll(() => {
    client?.close();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  /** Uploads data as one blob; resolves with the result or rejects with the helper's error. */
  const put = async (digest: string, size: number, mediaType: string, data: Buffer, offset = 0): Promise<{ digest: string; size: number; diffId?: string }> => {
    const s = await client.stream('image.blob.put', { digest, size, mediaType, offset });
    const done = s.finish({});
    s.writeStdin(data);
    s.closeStdin();
    return done;
  };

  it('refuses malformed digests, sizes and offsets before any path is made', async () => {
    for (const digest of ['sha256:../../etc/passwd', 'sha256:' + 'A'.repeat(64), 'md5:' + 'a'.repeat(32), '']) {
      await expect(client.call('image.blob.stat', { digest })).rejects.toMatchObject({ code: 'invalid' });
      await expect(client.stream('image.blob.put', { digest, size: 1, mediaType: 'x' })).rejects.toMatchObject({ code: 'invalid' });
    }
    const d = sha256('x');
    await expect(client.stream('image.blob.put', { digest: d, size: -1, mediaType: 'x' })).rejects.toMatchObject({ code: 'invalid' });
    await expect(client.stream('image.blob.put', { digest: d, size: 1, mediaType: 'x', offset: 2 })).rejects.toMatchObject({ code: 'invalid' });
    // an offset past what an earlier upload kept
    await expect(put(d, 1, 'application/octet-stream', Buffer.alloc(0), 1)).rejects.toThrow(/past the 0 bytes kept/);
    await expect(client.call('image.blob.stat', { digest: d, extra: 1 } as never)).rejects.toMatchObject({ code: 'bad_request' });
  });

  it('image.blob.fetch takes http(s) URLs and one-line headers only; a refusal or no answer keeps nothing', async () => {
    const d = sha256(`fetch ${Math.random()}`);
    const base = { digest: d, size: 10, mediaType: OCI_CONFIG };
    for (const url of ['file:///etc/passwd', 'gopher://127.0.0.1/x', 'ftp://127.0.0.1/x', 'http://127.0.0.1/a b', 'http://127.0.0.1/x\r\nHost: evil', `http://127.0.0.1/${'x'.repeat(5000)}`]) {
      await expect(client.stream('image.blob.fetch', { ...base, url })).rejects.toMatchObject({ code: 'invalid', message: expect.stringMatching(/`url` must be an http/) });
    }
    await expect(client.stream('image.blob.fetch', { ...base, url: 'http://127.0.0.1/x', authorization: 'Bearer x\r\nX-Evil: 1' })).rejects.toMatchObject({ code: 'invalid', message: expect.stringMatching(/`authorization` must be one line/) });
    await expect(client.stream('image.blob.fetch', { ...base, url: 'http://127.0.0.1/x', insecure: 'yes' } as never)).rejects.toMatchObject({ code: 'bad_request' });
    await expect(client.stream('image.blob.fetch', { ...base, url: 'http://127.0.0.1/x', offset: 1 } as never)).rejects.toMatchObject({ code: 'bad_request' });

    // nobody listening: `remote`, and no partial file
    const port = await freePort();
    const events: WorkerProgress[] = [];
    await expect(client.work('image.blob.fetch', { ...base, url: `http://127.0.0.1:${port}/v2/x/blobs/${d}` }, { onProgress: (e) => events.push(e) })).rejects.toMatchObject({
      code: 'remote',
      message: expect.stringContaining(`http://127.0.0.1:${port}`),
    });
    expect(events).toEqual([]);
    expect(await client.call('image.blob.stat', { digest: d })).toEqual({ present: false, partial: 0 });

    // an error status: its `response` event, the server's words in the message, no partial
    const server = http.createServer((_req, res) => res.writeHead(404, { 'Content-Type': 'application/json' }).end('{"errors":[{"code":"BLOB_UNKNOWN","message":"blob unknown to registry"}]}'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const sp = (server.address() as net.AddressInfo).port;
      await expect(client.work('image.blob.fetch', { ...base, url: `http://127.0.0.1:${sp}/v2/x/blobs/${d}` }, { onProgress: (e) => events.push(e) })).rejects.toMatchObject({
        code: 'remote',
        message: `the registry answered 404 for blob ${d}: BLOB_UNKNOWN: blob unknown to registry`,
      });
      expect(events).toEqual([{ phase: 'response', item: d, status: 404, offset: 0, total: 10 }]);
    } finally {
      await new Promise((r) => server.close(r));
    }
    expect(await client.call('image.blob.stat', { digest: d })).toEqual({ present: false, partial: 0 });
  });

  it('image.blob.fetch over HTTPS: a certificate it cannot check is refused unless insecure; credentials stay on the host', async () => {
    const certDir = fs.mkdtempSync(path.join(tmp, 'tls-'));
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1',
      '-keyout', path.join(certDir, 'key.pem'), '-out', path.join(certDir, 'cert.pem')], { stdio: 'ignore' });
    const data = Buffer.from(`over tls ${Math.random()}`);
    const d = sha256(data);
    const plainSeen: string[] = [];
    const plain = http.createServer((req, res) => {
      plainSeen.push(req.headers.authorization ?? '');
      res.writeHead(200).end(data);
    });
    await new Promise<void>((r) => plain.listen(0, '127.0.0.1', r));
    const plainPort = (plain.address() as net.AddressInfo).port;
    const seen: { url: string; auth: string }[] = [];
    const tls = https.createServer({ key: fs.readFileSync(path.join(certDir, 'key.pem')), cert: fs.readFileSync(path.join(certDir, 'cert.pem')) }, (req, res) => {
      seen.push({ url: req.url ?? '', auth: req.headers.authorization ?? '' });
      if (req.url === '/elsewhere') res.writeHead(302, { Location: `http://127.0.0.1:${plainPort}/blob` }).end();
      else res.writeHead(200).end(data);
    });
    await new Promise<void>((r) => tls.listen(0, '127.0.0.1', r));
    const port = (tls.address() as net.AddressInfo).port;
    const base = { digest: d, size: data.length, mediaType: OCI_CONFIG, authorization: 'Bearer s3cret' };
    try {
      // a self-signed certificate: refused before any request is sent
      await expect(client.work('image.blob.fetch', { ...base, url: `https://127.0.0.1:${port}/blob` })).rejects.toMatchObject({
        code: 'remote',
        message: expect.stringMatching(/^https:\/\/127\.0\.0\.1:\d+: SSL certificate problem: self.signed certificate/),
      });
      expect(seen).toEqual([]);
      expect((await client.call('image.blob.stat', { digest: d })).partial).toBe(0);
      // insecure: fetched over TLS, the header sent to the registry's host
      expect(await client.work('image.blob.fetch', { ...base, url: `https://127.0.0.1:${port}/blob`, insecure: true })).toEqual({ digest: d, size: data.length });
      expect(seen).toEqual([{ url: '/blob', auth: 'Bearer s3cret' }]);
      // an insecure registry may redirect to plain HTTP on another port: the header stays behind
      const other = Buffer.from(`moved ${Math.random()}`);
      data.set(other.subarray(0, Math.min(other.length, data.length)));
      const od = sha256(data);
      expect(await client.work('image.blob.fetch', { ...base, digest: od, url: `https://127.0.0.1:${port}/elsewhere`, insecure: true })).toEqual({ digest: od, size: data.length });
      expect(seen.at(-1)).toEqual({ url: '/elsewhere', auth: 'Bearer s3cret' });
      expect(plainSeen).toEqual(['']);
    } finally {
      await new Promise((r) => tls.close(r));
      await new Promise((r) => plain.close(r));
    }
  });

  it('image.blob.fetch of a blob whose every byte an earlier upload kept asks the registry nothing', async () => {
    const data = Buffer.from(`kept whole ${Math.random()}`);
    const d = sha256(data);
    const up = await client.stream('image.blob.put', { digest: d, size: data.length, mediaType: OCI_CONFIG });
    const ended = up.finish({}).catch((e: unknown) => e);
    up.writeStdin(data);
    await waitUntil(async () => (await client.call('image.blob.stat', { digest: d })).partial === data.length, 5000);
    up.close(); // before STDIN_EOF: the bytes stay as a partial upload
    await ended;
    const port = await freePort(); // nobody there: a request would fail
    const events: WorkerProgress[] = [];
    const res = await client.work('image.blob.fetch', { digest: d, size: data.length, mediaType: OCI_CONFIG, url: `http://127.0.0.1:${port}/x` }, { onProgress: (e) => events.push(e) });
    expect(res).toEqual({ digest: d, size: data.length });
    expect(events[0]).toEqual({ phase: 'response', item: d, offset: data.length, total: data.length });
    expect(await client.call('image.blob.stat', { digest: d })).toEqual({ present: true, size: data.length, partial: 0 });
  });

  it('stores a verified plain blob; a wrong digest or size is discarded', async () => {
    const data = Buffer.from(`config ${Math.random()}`);
    const d = sha256(data);
    expect(await client.call('image.blob.stat', { digest: d })).toEqual({ present: false, partial: 0 });
    expect(await put(d, data.length, OCI_CONFIG, data)).toEqual({ digest: d, size: data.length });
    expect(await client.call('image.blob.stat', { digest: d })).toEqual({ present: true, size: data.length, partial: 0 });

    const other = Buffer.from(`other ${Math.random()}`);
    const od = sha256(other);
    await expect(put(od, other.length, OCI_CONFIG, Buffer.from('x'.repeat(other.length)))).rejects.toMatchObject({ code: 'invalid', message: expect.stringMatching(/digest mismatch/) });
    expect((await client.call('image.blob.stat', { digest: od })).partial).toBe(0);
    await expect(put(od, other.length, OCI_CONFIG, Buffer.concat([other, Buffer.from('more')]))).rejects.toMatchObject({ code: 'invalid', message: expect.stringMatching(/more than the announced/) });
    await expect(put(od, other.length, OCI_CONFIG, other.subarray(0, 3))).rejects.toMatchObject({ code: 'invalid', message: expect.stringMatching(/3 bytes came/) });
    expect((await client.call('image.blob.stat', { digest: od })).partial).toBe(0);
    // a layer type whose bytes are not a layer: the tree is missing, so not present
    expect((await client.call('image.blob.stat', { digest: d, mediaType: OCI_LAYER_GZ })).present).toBe(false);
  });

  it('keeps an interrupted upload, resumes it, and lets one upload of a blob run at a time', async () => {
    const layer = makeLayer({ 'r.bin': randomBytes(200 * 1024) });
    const { digest, size } = layer.desc;
    const first = await client.stream('image.blob.put', { digest, size, mediaType: OCI_LAYER_GZ });
    first.writeStdin(layer.blob.subarray(0, 100_000));
    // a second upload of the same blob waits, then gives up with `conflict`
    const t0 = Date.now();
    const second = await client.stream('image.blob.put', { digest, size, mediaType: OCI_LAYER_GZ });
    const secondDone = second.finish({});
    second.writeStdin(layer.blob.subarray(0, 10));
    await expect(secondDone).rejects.toMatchObject({ code: 'conflict' });
    expect(Date.now() - t0).toBeGreaterThan(4000);
    await waitUntil(async () => (await client.call('image.blob.stat', { digest })).partial === 100_000, 5000);
    first.close();
    await waitUntil(async () => (await client.call('image.blob.stat', { digest })).partial === 100_000, 5000);
    // resume: bytes before the offset are kept; the result carries the diffID
    const res = await put(digest, size, OCI_LAYER_GZ, layer.blob.subarray(60_000), 60_000);
    expect(res).toEqual({ digest, size, diffId: layer.diffId });
    expect(await client.call('image.blob.stat', { digest, mediaType: OCI_LAYER_GZ })).toEqual({ present: true, size, partial: 0 });
  });

  it('a lease keeps what a pull added from a prune meanwhile; once it ends, the next prune removes it', async () => {
    const lease = await client.stream('image.lease', {});
    let id = '';
    const held = lease.finish({ onProgress: (ev: WorkerProgress) => void (ev.phase === 'lease' && (id = ev.item ?? '')) });
    held.catch(() => undefined);
    await waitUntil(() => id !== '', 5000, 20);
    expect(id).toMatch(/^[0-9a-f]{32}$/);

    const layer = makeLayer({ 'leased.bin': randomBytes(64 * 1024) });
    const s = await client.stream('image.blob.put', { ...layer.desc, mediaType: OCI_LAYER_GZ, lease: id });
    const done = s.finish({});
    s.writeStdin(layer.blob);
    s.closeStdin();
    await done;
    // an interrupted upload under the same lease
    const other = makeLayer({ 'half.bin': randomBytes(64 * 1024) });
    const half = await client.stream('image.blob.put', { ...other.desc, mediaType: OCI_LAYER_GZ, lease: id });
    const halfDone = half.finish({});
    halfDone.catch(() => undefined);
    half.writeStdin(other.blob.subarray(0, 20_000));
    await waitUntil(async () => (await client.call('image.blob.stat', { digest: other.desc.digest })).partial === 20_000, 5000);
    half.close();

    await client.call('image.prune', {});
    expect(await client.call('image.blob.stat', { digest: layer.desc.digest, mediaType: OCI_LAYER_GZ })).toMatchObject({ present: true });
    expect((await client.call('image.blob.stat', { digest: other.desc.digest })).partial).toBe(20_000);

    lease.close(); // the pull is gone without an image.create
    await held.catch(() => undefined);
    // the lease has ended once its worker has seen the close (a moment later on a busy machine)
    await waitUntil(() => client.call('image.blob.stat', { digest: layer.desc.digest, lease: id }).then(() => false, () => true), 5000, 50);
    // the lease has ended: using it again says so
    await expect(client.call('image.blob.stat', { digest: layer.desc.digest, mediaType: OCI_LAYER_GZ, lease: id })).rejects.toMatchObject({ code: 'not_found', message: expect.stringMatching(/lease .* gone/) });
    const put2 = await client.stream('image.blob.put', { ...other.desc, mediaType: OCI_LAYER_GZ, lease: id }).catch((e: unknown) => e);
    if (!(put2 instanceof Error)) await expect(put2.finish({})).rejects.toMatchObject({ code: 'not_found', message: expect.stringMatching(/lease .* (gone|no longer held)/) });
    await waitUntil(async () => {
      await client.call('image.prune', {});
      const st = await client.call('image.blob.stat', { digest: layer.desc.digest, mediaType: OCI_LAYER_GZ });
      return !st.present;
    }, 5000);
    expect(await client.call('image.blob.stat', { digest: other.desc.digest })).toEqual({ present: false, partial: 0 });
    const leftovers = fs.existsSync(path.join(testEnv().root, 'leases')) ? fs.readdirSync(path.join(testEnv().root, 'leases')) : [];
    expect(leftovers).toEqual([]);
    expect(fs.existsSync(path.join(testEnv().root, 'blobs/sha256', layer.desc.digest.slice(7)))).toBe(false);
    expect(fs.existsSync(path.join(testEnv().root, 'layers/sha256', layer.diffId.slice(7)))).toBe(false);
  });

  it('image.create checks the config digest and the layers', async () => {
    const layer = makeLayer({ 'c.txt': 'c\n' });
    await put(layer.desc.digest, layer.desc.size, OCI_LAYER_GZ, layer.blob);
    const config = JSON.stringify({ architecture: goArch(), os: 'linux', rootfs: { type: 'layers', diff_ids: [layer.diffId] } });
    const cdesc = { mediaType: OCI_CONFIG, digest: sha256(config), size: config.length };
    const manifest = JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: cdesc, layers: [layer.desc] });
    await expect(client.call('image.create', { manifest, config: config + ' ', ref: 'create-test:1' })).rejects.toMatchObject({ code: 'invalid', message: expect.stringMatching(/digest mismatch/) });
    const badLayers = JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: cdesc, layers: [{ ...layer.desc, digest: sha256('nope') }] });
    await expect(client.call('image.create', { manifest: badLayers, config, ref: 'create-test:1' })).rejects.toMatchObject({ code: 'invalid' });
    await expect(client.call('image.create', { manifest: '[1]', config })).rejects.toMatchObject({ code: 'invalid' });
    await expect(client.call('image.create', { manifest, config, ref: 'Bad Name' })).rejects.toMatchObject({ code: 'invalid' });
    const md = sha256(manifest);
    const s = await client.call('image.create', { manifest, config, ref: 'create-test:1', extraRefs: [`create-test@${md}`] });
    expect(s.refs).toEqual(expect.arrayContaining(['create-test:1', `create-test@${md}`]));
    expect((await client.call('image.inspect', { ref: `create-test@${md}` })).manifestDigest).toBe(md);
    await client.call('image.remove', { ref: s.id });
  });
});
