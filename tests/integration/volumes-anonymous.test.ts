// Anonymous volumes, as docker has them: `-v /data` and `--mount type=volume,target=/data`
// without a source, and one per entry of an image's Volumes that the run does not mount
// over. Their lifetime: kept across restarts and by `rm`, removed by `rm -v` (never a named
// volume, never one another container still mounts), by `--rm`, by a run that fails to
// start, and by `volume prune` (which takes named volumes only with -a).
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { buildBusyboxRootfs } from '../../electron/core/default-image';
import { HelperClient } from '../../electron/core/helper-client';
import type { MountInfo, VolumeInfo } from '../../electron/core/protocol';
import { berth, berthJson, berthOk, describeResult, inspect, removeTracked, runDetached, testEnv, track, uniqueName, waitUntil } from './support/berth';

const NET = ['--network', 'none'];
const HEX64 = /^[0-9a-f]{64}$/;

let tmp = '';
let client: HelperClient;
/** volumes a test saw made: removed at the end whatever happened */
const seenVolumes = new Set<string>();
const madeImages = new Set<string>();
const IMG = `anonvol/with-volumes:${process.pid}`;
const HOSTILE = `anonvol/hostile-volumes:${process.pid}`;

async function volumes(): Promise<VolumeInfo[]> {
  const list = await berthJson<VolumeInfo[]>(['volume', 'ls', '--json']);
  for (const v of list) if (v.anonymous) seenVolumes.add(v.name);
  return list;
}

async function volumeNamed(name: string): Promise<VolumeInfo | undefined> {
  return (await volumes()).find((v) => v.name === name);
}

async function mountsOf(ref: string): Promise<MountInfo[]> {
  const info = (await inspect(ref)) as unknown as { mounts: MountInfo[] };
  for (const m of info.mounts) if (m.anonymous && m.name) seenVolumes.add(m.name);
  return info.mounts;
}

async function anonymousAt(ref: string, target: string): Promise<string> {
  const m = (await mountsOf(ref)).find((x) => x.target === target);
  expect(m, `${ref} has no mount on ${target}`).toMatchObject({ type: 'volume', anonymous: true });
  expect(m?.name).toMatch(HEX64);
  expect(m?.source).toBe(path.join(testEnv().root, 'volumes', m?.name ?? '', '_data'));
  return m?.name ?? '';
}

function sha256(b: Buffer | string): string {
  return `sha256:${createHash('sha256').update(b).digest('hex')}`;
}

/** The pull path (image.blob.put, then image.create): a config berthd stores as the registry gave it. */
async function createImage(ref: string, layerTar: Buffer, exec: Record<string, unknown>): Promise<void> {
  const layerType = 'application/vnd.oci.image.layer.v1.tar';
  const diffId = sha256(layerTar);
  const s = await client.stream('image.blob.put', { digest: diffId, size: layerTar.length, mediaType: layerType });
  const done = s.finish({});
  s.writeStdin(layerTar);
  s.closeStdin();
  await done;
  const config = JSON.stringify({ architecture: 'amd64', os: 'linux', config: exec, rootfs: { type: 'layers', diff_ids: [diffId] } });
  const manifest = JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: Buffer.byteLength(config) },
    layers: [{ mediaType: layerType, digest: diffId, size: layerTar.length }],
  });
  await client.call('image.create', { manifest, config, ref });
  madeImages.add(ref);
}

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(testEnv().tmp, 'anonvol-'));
  client = await HelperClient.connect(testEnv().socket);
  // busybox with files in /data (copied into its volume) and a Dockerfile's VOLUME /data /cache
  buildBusyboxRootfs(tmp);
  const rootfs = path.join(tmp, 'rootfs');
  fs.mkdirSync(path.join(rootfs, 'data'));
  fs.writeFileSync(path.join(rootfs, 'data/seed.txt'), 'from the image\n');
  const tar = path.join(tmp, 'with-data.tar');
  execFileSync('tar', ['-C', rootfs, '--owner=0', '--group=0', '--numeric-owner', '-cf', tar, '.']);
  await berthOk(['import', '--change', 'VOLUME /data /cache', '--change', 'CMD ["sh"]', tar, IMG], { timeoutMs: 120000 });
  madeImages.add(IMG);
  // the same layer with a Volumes no import would take: only /data is usable
  await createImage(HOSTILE, fs.readFileSync(tar), {
    Cmd: ['sh'],
    Volumes: { '/data': {}, 'relative/dir': {}, '/proc/evil': {}, '/a/../../etc': {}, '/': {}, '/odd': 'not an object' },
  });
}, 300000);

afterEach(removeTracked);

afterAll(async () => {
  await removeTracked();
  for (const v of seenVolumes) await berth(['volume', 'rm', '-f', v]);
  for (const ref of madeImages) await berth(['rmi', '-f', ref]);
  client?.close();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

describe('-v /data and --mount without a source', () => {
  it('get a volume of their own, marked anonymous, kept across a restart', async () => {
    const id = await runDetached([...NET, '-v', '/data', '--mount', 'type=volume,target=/other', 'busybox', 'sh', '-c', 'date +%s%N >> /data/starts; sleep 1000']);
    const vol = await anonymousAt(id, '/data');
    const other = await anonymousAt(id, '/other');
    expect(other).not.toBe(vol);
    const [info] = await berthJson<VolumeInfo[]>(['volume', 'inspect', vol]);
    expect(info).toMatchObject({ name: vol, anonymous: true, usedBy: [(await inspect(id)).id] });
    const ls = await berthOk(['volume', 'ls']);
    expect(ls.stdout).toMatch(new RegExp(`^${vol}\\s+anonymous\\s`, 'm'));

    await berthOk(['restart', '-t', '1', id]);
    expect(await anonymousAt(id, '/data')).toBe(vol);
    // the second run wrote into the same volume, next to what the first one wrote
    const starts = (): string[] => fs.readFileSync(path.join(testEnv().root, 'volumes', vol, '_data', 'starts'), 'utf8').split('\n').filter(Boolean);
    expect(await waitUntil(() => starts().length >= 2, 20000), JSON.stringify(starts())).toBe(true);
    expect(starts()).toHaveLength(2);
  });

  it('rm keeps them; rm -v removes them, but never a named volume', async () => {
    const named = uniqueName('kept-named');
    seenVolumes.add(named);
    const a = track(uniqueName('anon-a'));
    const b = track(uniqueName('anon-b'));
    await berthOk(['run', ...NET, '--name', a, '-v', '/data', 'busybox', 'sh', '-c', 'echo a > /data/f']);
    await berthOk(['run', ...NET, '--name', b, '-v', '/data', '-v', `${named}:/named`, 'busybox', 'sh', '-c', 'echo b > /data/f; echo n > /named/f']);
    const va = await anonymousAt(a, '/data');
    const vb = await anonymousAt(b, '/data');
    await berthOk(['rm', a]);
    expect(await volumeNamed(va)).toMatchObject({ anonymous: true, usedBy: [] });
    expect(fs.readFileSync(path.join(testEnv().root, 'volumes', va, '_data', 'f'), 'utf8')).toBe('a\n');
    await berthOk(['rm', '-v', b]);
    expect(await volumeNamed(vb)).toBeUndefined();
    expect(fs.existsSync(path.join(testEnv().root, 'volumes', vb))).toBe(false);
    expect(await volumeNamed(named)).toMatchObject({ anonymous: false, usedBy: [] });
    await berthOk(['volume', 'rm', va, named]);
  });

  it('rm -v keeps an anonymous volume that another container still mounts', async () => {
    const a = track(uniqueName('owner'));
    const b = track(uniqueName('sharer'));
    await berthOk(['run', ...NET, '--name', a, '-v', '/data', 'busybox', 'sh', '-c', 'echo shared > /data/f']);
    const vol = await anonymousAt(a, '/data');
    const r = await berthOk(['run', ...NET, '--name', b, '-v', `${vol}:/d`, 'busybox', 'cat', '/d/f']);
    expect(r.stdout).toBe('shared\n');
    await berthOk(['rm', '-v', a]);
    expect((await volumeNamed(vol))?.usedBy).toEqual([(await inspect(b)).id]);
    // b names it as a volume of its own choosing: rm -v of b keeps it too
    await berthOk(['rm', '-v', b]);
    expect(await volumeNamed(vol)).toMatchObject({ anonymous: true, usedBy: [] });
    await berthOk(['volume', 'rm', vol]);
  });

  it('run --rm removes its anonymous volumes and keeps named ones', async () => {
    const named = uniqueName('rm-named');
    seenVolumes.add(named);
    const before = new Set((await volumes()).map((v) => v.name));
    const r = await berthOk(['run', '--rm', ...NET, '-v', '/data', '-v', `${named}:/n`, 'busybox', 'sh', '-c', 'echo x > /data/f; echo ok']);
    expect(r.stdout).toBe('ok\n');
    const after = await volumes();
    expect(after.filter((v) => !before.has(v.name)).map((v) => v.name)).toEqual([named]);
    await berthOk(['volume', 'rm', named]);
  });

  it('a run that fails to start, or to be created, leaves no anonymous volume behind', async () => {
    const before = new Set((await volumes()).map((v) => v.name));
    const args = ['run', ...NET, '-v', '/data', 'busybox', '/no/such/command'];
    const r = await berth(args);
    expect(r.status, describeResult(args, r)).not.toBe(0);
    // a bind source checked after the anonymous volume was made
    const missing = path.join(tmp, 'no-such-dir');
    const args2 = ['run', '--rm', ...NET, '-v', '/data', '-v', `${missing}:/x`, 'busybox', 'true'];
    const r2 = await berth(args2);
    expect(r2.status, describeResult(args2, r2)).toBe(125);
    expect(r2.stderr).toContain(`bind source \`${missing}\` does not exist`);
    expect((await volumes()).filter((v) => !before.has(v.name))).toEqual([]);
  });

  it('refuses a volume without a source next to another mount on the same path', async () => {
    const args = ['run', '--rm', ...NET, '-v', '/data', '--tmpfs', '/data', 'busybox', 'true'];
    const r = await berth(args);
    expect(r.status, describeResult(args, r)).toBe(125);
    expect(r.stderr).toMatch(/two mounts on \/data/);
  });
});

describe("an image's Volumes", () => {
  it('get an anonymous volume each, starting as a copy of the image', async () => {
    const name = track(uniqueName('imgvol'));
    const r = await berthOk(['run', ...NET, '--name', name, IMG, 'sh', '-c', 'cat /data/seed.txt; ls -A /cache | wc -l']);
    expect(r.stdout).toBe('from the image\n0\n');
    const data = await anonymousAt(name, '/data');
    await anonymousAt(name, '/cache');
    expect(fs.readFileSync(path.join(testEnv().root, 'volumes', data, '_data', 'seed.txt'), 'utf8')).toBe('from the image\n');
    const [details] = await berthJson<{ config: { config: { Volumes?: Record<string, unknown> } } }[]>(['image', 'inspect', IMG]);
    expect(details.config.config.Volumes).toEqual({ '/data': {}, '/cache': {} });
    await berthOk(['rm', '-v', name]);
    expect(await volumeNamed(data)).toBeUndefined();
  });

  it('a mount of the user at that path replaces the image volume', async () => {
    const named = uniqueName('over-image');
    seenVolumes.add(named);
    const name = track(uniqueName('imgover'));
    await berthOk(['run', ...NET, '--name', name, '-v', `${named}:/data`, '--tmpfs', '/cache/', IMG, 'cat', '/data/seed.txt']);
    const mounts = await mountsOf(name);
    expect(mounts.map((m) => `${m.type}:${m.target}:${m.anonymous === true}`).sort()).toEqual([`tmpfs:/cache:false`, `volume:/data:false`]);
    expect(mounts.find((m) => m.target === '/data')?.name).toBe(named);
    await berthOk(['rm', '-v', name]);
    expect(await volumeNamed(named)).toMatchObject({ anonymous: false });
    await berthOk(['volume', 'rm', named]);
  });

  it('an image in the store with hostile Volumes entries gets a volume only for the clean one', async () => {
    const name = track(uniqueName('hostile'));
    const r = await berthOk(['run', ...NET, '--name', name, HOSTILE, 'cat', '/data/seed.txt']);
    expect(r.stdout).toBe('from the image\n');
    const mounts = await mountsOf(name);
    expect(mounts.map((m) => m.target)).toEqual(['/data']);
    expect(mounts[0]).toMatchObject({ type: 'volume', anonymous: true });
    // berthd's log says which entries got no volume, and why
    const logged = (): string =>
      fs
        .readdirSync(testEnv().tmp)
        .filter((f) => /^berthd.*\.log$/.test(f))
        .map((f) => fs.readFileSync(path.join(testEnv().tmp, f), 'utf8'))
        .join('');
    // four lines at most, then a count (a config with many bad entries cannot flood the log)
    const why = [
      `config.Volumes entry \`relative/dir\` must be an absolute path`,
      'config.Volumes entry `/proc/evil` is not allowed',
      'config.Volumes entry `/a/../../etc` must not contain `..`',
      'config.Volumes entry `/` is not allowed',
      `image ${HOSTILE}: 1 more config.Volumes entries skipped`,
    ];
    expect(await waitUntil(() => why.every((w) => logged().includes(w)), 5000), why.filter((w) => !logged().includes(w)).join('; ')).toBe(true);
    await berthOk(['rm', '-v', name]);
  });

  it('import refuses a Volumes entry that is not a clean absolute path, with a clear error', async () => {
    const tar = path.join(tmp, 'with-data.tar');
    for (const [change, reason] of [
      ['VOLUME /proc/x', /config\.Volumes entry `\/proc\/x` is not allowed/],
      ['VOLUME /a/../etc', /config\.Volumes entry `\/a\/\.\.\/etc` must not contain `\.\.`/],
      ['VOLUME /', /is not allowed: not `\/`/],
    ] as const) {
      const args = ['import', '--change', change, tar, `anonvol/refused:${process.pid}`];
      const r = await berth(args);
      expect(r.status, describeResult(args, r)).toBe(125);
      expect(r.stderr).toMatch(reason);
    }
    const list = await berthJson<{ refs: string[] }[]>(['images', '--json']);
    expect(list.some((i) => i.refs.includes(`anonvol/refused:${process.pid}`))).toBe(false);
    const bad = await client.work('image.import', { path: tar, format: 'rootfs', ref: `anonvol/refused:${process.pid}`, config: { Volumes: { '/data': { driver: 'x' } } } }).catch((e: Error) => e);
    expect(bad).toBeInstanceOf(Error);
    expect((bad as Error).message).toMatch(/config\.Volumes\[`\/data`\] must be an empty object/);
  });
});

describe('volume prune', () => {
  it('removes unused anonymous volumes only; -a named ones too; never one in use', async () => {
    const named = uniqueName('prune-named');
    seenVolumes.add(named);
    await berthOk(['volume', 'create', named]);
    const left = track(uniqueName('left'));
    await berthOk(['run', ...NET, '--name', left, '-v', '/data', 'busybox', 'true']);
    const leftVol = await anonymousAt(left, '/data');
    const user = track(uniqueName('user'));
    await berthOk(['run', ...NET, '--name', user, '-v', '/data', 'busybox', 'true']);
    const usedVol = await anonymousAt(user, '/data');
    await berthOk(['rm', left]); // its volume stays, unused

    // without -f it asks, and a no keeps everything
    const asked = await berth(['volume', 'prune'], { input: 'n\n' });
    expect(asked.status).toBe(0);
    expect(asked.stderr).toMatch(/WARNING! This will remove anonymous local volumes not used by at least one container\.\nAre you sure you want to continue\? \[y\/N\]/);
    expect(asked.stdout).toBe('');
    expect(await volumeNamed(leftVol)).toMatchObject({ anonymous: true });

    const pruned = await berthJson<{ removed: string[]; reclaimedBytes: number }>(['volume', 'prune', '-f', '--json']);
    expect(pruned.removed).toContain(leftVol);
    expect(pruned.removed).not.toContain(named);
    expect(pruned.removed).not.toContain(usedVol);
    expect(pruned.removed.every((n) => HEX64.test(n))).toBe(true);
    expect(await volumeNamed(named)).toBeDefined();

    const all = await berthJson<{ removed: string[] }>(['volume', 'prune', '-a', '-f', '--json']);
    expect(all.removed).toContain(named);
    expect(all.removed).not.toContain(usedVol);
    expect(await volumeNamed(usedVol)).toMatchObject({ anonymous: true });
    await berthOk(['rm', '-v', user]);
    expect(await volumeNamed(usedVol)).toBeUndefined();
  });
});
