// Storage: bind mounts (-v, read-only for real), named volumes (kept, shared, refused
// removal while used, first-use copy of the image's directory), tmpfs mounts, and the
// sources and targets berthd refuses.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { HelperClient } from '../../electron/core/helper-client';
import type { BerthdEvent, MountInfo, VolumeInfo } from '../../electron/core/protocol';
import { berth, berthJson, berthOk, describeResult, inspect, removeTracked, stateDir, testEnv, track, uniqueName } from './support/berth';
import { requestOnce, waitUntil } from './support/helper-process';

// Networking is not what these tests are about: only loopback.
const NET = ['--network', 'none'];

let hostDir = '';
const volumes: string[] = [];

function volumeName(prefix: string): string {
  const n = uniqueName(prefix);
  volumes.push(n);
  return n;
}

beforeAll(() => {
  hostDir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-storage-'));
  fs.writeFileSync(path.join(hostDir, 'in.txt'), 'from the host\n');
});

afterEach(removeTracked);

afterAll(async () => {
  for (const v of volumes) await berth(['volume', 'rm', '-f', v]);
  fs.rmSync(hostDir, { recursive: true, force: true });
});

describe('bind mounts', () => {
  it('show the host directory and take writes, and inspect lists them', async () => {
    const name = track(uniqueName('bind'));
    const r = await berthOk(['run', ...NET, '--name', name, '-v', `${hostDir}:/data`, 'busybox', 'sh', '-c', 'cat /data/in.txt; echo written > /data/out.txt']);
    expect(r.stdout).toContain('from the host');
    expect(fs.readFileSync(path.join(hostDir, 'out.txt'), 'utf8')).toBe('written\n');
    const info = (await inspect(name)) as unknown as { mounts: MountInfo[] };
    expect(info.mounts).toEqual([{ type: 'bind', source: hostDir, target: '/data', readOnly: false }]);
  });

  it('read-only refuses writes even by root inside, and a remount rw fails', async () => {
    const script = [
      'if echo x > /data/new.txt; then echo WROTE; fi',
      'if mount -o remount,rw /data; then echo REMOUNTED; fi',
      'if echo x > /data/new.txt; then echo WROTE2; fi',
      'grep " /data " /proc/mounts',
      'id -u',
    ].join('; ');
    const r = await berthOk(['run', '--rm', ...NET, '-v', `${hostDir}:/data:ro`, 'busybox', 'sh', '-c', script]);
    expect(r.stdout).not.toMatch(/WROTE|REMOUNTED/);
    expect(r.stderr).toMatch(/Read-only file system/);
    expect(r.stdout).toMatch(/ \/data \S+ ro[, ]/);
    expect(r.stdout.trim().split('\n').pop()).toBe('0');
    expect(fs.existsSync(path.join(hostDir, 'new.txt'))).toBe(false);
  });

  it('bind-mounts a single file', async () => {
    const r = await berthOk(['run', '--rm', ...NET, '--mount', `type=bind,source=${hostDir}/in.txt,target=/etc/motd,readonly`, 'busybox', 'cat', '/etc/motd']);
    expect(r.stdout).toBe('from the host\n');
  });

  it('refuses a host path that does not exist, with a clear error', async () => {
    const missing = path.join(hostDir, 'no-such-dir');
    const args = ['run', '--rm', ...NET, '-v', `${missing}:/data`, 'busybox', 'true'];
    const r = await berth(args);
    expect(r.status, describeResult(args, r)).toBe(125);
    expect(r.stderr).toContain(`bind source \`${missing}\` does not exist`);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('a target under a file of the image is a clear error, on the default network too', async () => {
    for (const net of [NET, []]) {
      const args = ['run', '--rm', ...net, '-v', `${hostDir}:/etc/passwd/sub`, 'busybox', 'true'];
      const r = await berth(args);
      expect(r.status, describeResult(args, r)).toBe(125);
      expect(r.stderr).toMatch(/mounts: mount `[^`]+`: look up `\/etc\/passwd\/sub` in the container's rootfs: Not a directory/);
    }
  });

  it('refuses / and /proc (and /sys, /dev, the store) as sources', async () => {
    for (const src of ['/', '/proc', '/proc/1/root', '/sys', '/dev', testEnv().root]) {
      const args = ['run', '--rm', ...NET, '-v', `${src}:/host`, 'busybox', 'true'];
      const r = await berth(args);
      expect(r.status, describeResult(args, r)).toBe(125);
      expect(r.stderr).toMatch(/is not allowed/);
    }
  });

  it('refuses a target whose symlink leads out of the rootfs, and mounts nothing outside', async () => {
    const outside = path.join(hostDir, 'escape-target');
    const created = await requestOnce(testEnv().socket, 'container.create', {
      image: 'busybox',
      name: track(uniqueName('escape')),
      cmd: ['true'],
      network: 'none',
      mounts: [{ type: 'tmpfs', target: '/escape/sub' }],
    });
    expect(created.ok, JSON.stringify(created)).toBe(true);
    const id = (created.result as { id: string }).id;
    // a symlink in the container's own layer pointing far above its root
    const depth = stateDir(id).split('/').length + 4;
    fs.symlinkSync(`${'../'.repeat(depth)}${outside.slice(1)}`, path.join(stateDir(id), 'upper', 'escape'));
    const started = await requestOnce(testEnv().socket, 'container.start', { ref: id }, 20000);
    expect(started.ok, JSON.stringify(started)).toBe(false);
    expect((started.error as { code: string; message: string }).message).toMatch(/leads out of the container's rootfs/);
    expect(fs.existsSync(outside)).toBe(false);
  });
});

describe('named volumes', () => {
  it('are made on first use, kept after the container is removed, and seen by the next one', async () => {
    const vol = volumeName('vol');
    await berthOk(['run', '--rm', ...NET, '-v', `${vol}:/data`, 'busybox', 'sh', '-c', 'echo kept > /data/f']);
    const list = await berthJson<VolumeInfo[]>(['volume', 'ls', '--json']);
    const v = list.find((x) => x.name === vol);
    expect(v).toBeDefined();
    expect(v?.mountpoint).toBe(path.join(testEnv().root, 'volumes', vol, '_data'));
    expect(fs.readFileSync(path.join(v?.mountpoint ?? '', 'f'), 'utf8')).toBe('kept\n');
    const r = await berthOk(['run', '--rm', ...NET, '--mount', `type=volume,source=${vol},target=/other`, 'busybox', 'cat', '/other/f']);
    expect(r.stdout).toBe('kept\n');
    const [details] = await berthJson<VolumeInfo[]>(['volume', 'inspect', vol]);
    expect(details.sizeBytes).toBeGreaterThan(0);
    expect(details.usedBy).toEqual([]);
  });

  it('refuses removal while a container (even an exited one) uses it', async () => {
    const vol = volumeName('used');
    const created = await berthJson<VolumeInfo>(['volume', 'create', vol, '--json']);
    expect(created.name).toBe(vol);
    const again = await berth(['volume', 'create', vol]);
    expect(again.status).toBe(125);
    expect(again.stderr).toMatch(/already exists/);
    const name = track(uniqueName('user'));
    await berthOk(['run', ...NET, '--name', name, '-v', `${vol}:/data`, 'busybox', 'true']);
    const info = (await inspect(name)) as unknown as { id: string; mounts: MountInfo[] };
    expect(info.mounts[0]).toMatchObject({ type: 'volume', name: vol, target: '/data', source: path.join(testEnv().root, 'volumes', vol, '_data') });
    const [v] = await berthJson<VolumeInfo[]>(['volume', 'inspect', vol]);
    expect(v.usedBy).toEqual([info.id]);
    const refused = await berth(['volume', 'rm', vol]);
    expect(refused.status).toBe(125);
    expect(refused.stderr).toMatch(/in use/);
    const pruned = await berthJson<{ removed: string[] }>(['volume', 'prune', '-f', '--json']);
    expect(pruned.removed).not.toContain(vol);
    await berthOk(['rm', name]);
    await berthOk(['volume', 'rm', vol]);
    expect(fs.existsSync(path.join(testEnv().root, 'volumes', vol))).toBe(false);
  });

  it('a new volume over a non-empty image directory starts with a copy of it', async () => {
    const vol = volumeName('copy');
    const r = await berthOk(['run', '--rm', ...NET, '-v', `${vol}:/etc`, 'busybox', 'sh', '-c', 'cat /etc/passwd | head -1; echo mine > /etc/added']);
    expect(r.stdout).toMatch(/^root:/);
    const data = path.join(testEnv().root, 'volumes', vol, '_data');
    expect(fs.readFileSync(path.join(data, 'passwd'), 'utf8')).toMatch(/^root:/);
    // not copied again over what the volume holds now
    fs.unlinkSync(path.join(data, 'passwd'));
    const again = await berthOk(['run', '--rm', ...NET, '-v', `${vol}:/etc`, 'busybox', 'ls', '/etc']);
    expect(again.stdout.split('\n')).toContain('added');
    expect(again.stdout.split('\n')).not.toContain('passwd');
  });
});

describe('volume methods and events', () => {
  it('volume.create, volume.remove and a volume made by a run each report an event', async () => {
    const client = await HelperClient.connect(testEnv().socket);
    try {
      const stream = await client.stream('events.subscribe', {});
      const events: BerthdEvent[] = [];
      stream.on('event', (e) => events.push(e));
      const [named, byRun] = [volumeName('ev'), volumeName('evrun')];
      const made = await client.call('volume.create', { name: named });
      expect(made).toMatchObject({ name: named, usedBy: [], sizeBytes: null });
      const anon = await client.call('volume.create', {});
      volumes.push(anon.name);
      expect(anon.name).toMatch(/^[0-9a-f]{64}$/);
      const bad = await client.call('volume.create', { name: '../x' }).catch((e: Error & { code?: string }) => e);
      expect((bad as { code?: string }).code).toBe('invalid');
      await berthOk(['run', '--rm', ...NET, '-v', `${byRun}:/d`, 'busybox', 'true']);
      await client.call('volume.remove', { name: named });
      const want = [`create ${named}`, `create ${anon.name}`, `create ${byRun}`, `remove ${named}`];
      const seen = (): string[] => events.filter((e) => e.type === 'volume').map((e) => `${e.action} ${e.id}`);
      expect(await waitUntil(() => want.every((w) => seen().includes(w)), 5000), JSON.stringify(seen())).toBe(true);
      const missing = await client.call('volume.remove', { name: named }).catch((e: Error & { code?: string }) => e);
      expect((missing as { code?: string }).code).toBe('not_found');
      stream.close();
    } finally {
      client.close();
    }
  });
});

describe('with a user namespace', () => {
  it('root inside owns a new volume and a tmpfs, and a read-only bind stays read-only', async () => {
    const vol = volumeName('userns');
    const script = 'echo v > /vol/f && echo t > /t/f && echo ok; if echo x > /ro/new.txt; then echo WROTE; fi; if mount -o remount,rw /ro; then echo REMOUNTED; fi';
    const r = await berthOk(['run', '--rm', ...NET, '--userns', '-v', `${vol}:/vol`, '--tmpfs', '/t', '-v', `${hostDir}:/ro:ro`, 'busybox', 'sh', '-c', script]);
    expect(r.stdout).toContain('ok');
    expect(r.stdout).not.toMatch(/WROTE|REMOUNTED/);
    expect(fs.statSync(path.join(testEnv().root, 'volumes', vol, '_data', 'f')).uid).toBe(100000);
  });
});

describe('tmpfs mounts', () => {
  it('honour size and mode', async () => {
    const script = 'grep " /scratch " /proc/mounts; stat -c %a /scratch; dd if=/dev/zero of=/scratch/f bs=1024 count=2048 2>&1; echo dd=$?';
    const r = await berthOk(['run', '--rm', ...NET, '--tmpfs', '/scratch:size=1m,mode=1770', 'busybox', 'sh', '-c', script]);
    expect(r.stdout).toMatch(/ \/scratch tmpfs \S*size=1024k/);
    expect(r.stdout).toMatch(/^1770$/m);
    expect(r.stdout).toMatch(/No space left on device/);
    expect(r.stdout).toMatch(/dd=1/);
  });
});
