// Namespaces: what the container sees of PIDs, hostname, network, /proc, and
// that each --ns toggle isolates exactly what it names (compared on the host
// through /proc/PID/ns and inspect's namespace inodes).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';

import {
  berthOk,
  helperPid,
  inspect,
  nsInode,
  procStatusField,
  removeTracked,
  runDetached,
  top,
  waitUntil,
} from './support/berth';

// [the protocol's / CLI's name, the /proc/PID/ns entry]
const KINDS: [string, string][] = [
  ['pid', 'pid'],
  ['mount', 'mnt'],
  ['uts', 'uts'],
  ['ipc', 'ipc'],
  ['net', 'net'],
  ['cgroup', 'cgroup'],
];

function hostInterfaces(text = fs.readFileSync('/proc/net/dev', 'utf8')): string[] {
  return text
    .split('\n')
    .filter((l) => l.includes(':'))
    .map((l) => l.split(':')[0].trim())
    .sort();
}

function nsEntry(info: Awaited<ReturnType<typeof inspect>>, name: string, procName: string) {
  const e = info.namespaces[name] ?? info.namespaces[procName];
  if (!e) throw new Error(`inspect has no namespaces.${name}: ${JSON.stringify(info.namespaces)}`);
  return e;
}

describe('namespaces', () => {
  afterEach(removeTracked);

  it('runs the command as PID 1 of its own PID namespace', async () => {
    const r = await berthOk(['run', '--rm', 'busybox', 'sh', '-c', 'echo $$']);
    expect(r.stdout.trim()).toBe('1');
  });

  it('isolates the hostname (--hostname) without touching the host', async () => {
    const before = os.hostname();
    const r = await berthOk(['run', '--rm', '--hostname', 'box', 'busybox', 'sh', '-c', 'hostname; cat /proc/sys/kernel/hostname']);
    expect(r.stdout.trim().split('\n')).toEqual(['box', 'box']);
    expect(os.hostname()).toBe(before);
    expect(fs.readFileSync('/proc/sys/kernel/hostname', 'utf8').trim()).toBe(before);
  });

  it('names the container host after its short id by default', async () => {
    const id = await runDetached(['busybox', 'sleep', '60']);
    const r = await berthOk(['exec', id, 'hostname']);
    expect(r.stdout.trim()).toBe(id.slice(0, 12));
  });

  it('--network none gives a network namespace with only lo, and lo is up', async () => {
    const r = await berthOk(['run', '--rm', '--network', 'none', 'busybox', 'sh', '-c', 'cat /proc/net/dev; echo ---; ip -o link']);
    const [dev, links] = r.stdout.split('---\n');
    expect(hostInterfaces(dev)).toEqual(['lo']);
    const linkLines = links.trim().split('\n');
    expect(linkLines).toHaveLength(1);
    expect(linkLines[0]).toMatch(/^1: lo: <[^>]*\bUP\b[^>]*>/);
  });

  it('by default (network bridge) adds eth0 beside lo', async () => {
    const r = await berthOk(['run', '--rm', 'busybox', 'cat', '/proc/net/dev']);
    expect(hostInterfaces(r.stdout)).toEqual(['eth0', 'lo']);
  });

  it("--network host shares the helper's network namespace", async () => {
    // The helper runs in the test run's own network namespace, not the machine's.
    const r = await berthOk(['run', '--rm', '--network', 'host', 'busybox', 'readlink', '/proc/self/ns/net']);
    expect(r.stdout.trim()).toBe(fs.readlinkSync(`/proc/${helperPid()}/ns/net`));
    expect(r.stdout.trim()).not.toBe(fs.readlinkSync('/proc/self/ns/net'));
  });

  it('/proc shows only the container processes', async () => {
    const r = await berthOk(['run', '--rm', 'busybox', 'sh', '-c', 'ls /proc | grep -E "^[0-9]+$"']);
    const pids = r.stdout.trim().split('\n').map(Number);
    expect(pids).toContain(1);
    expect(pids.length).toBeLessThanOrEqual(4); // sh, ls, grep
    expect(pids).not.toContain(process.pid);
    expect(pids).not.toContain(helperPid());
    expect(Math.max(...pids)).toBeLessThan(20);
  });

  it('by default isolates pid, mount, uts, ipc, net and cgroup but not user', async () => {
    const id = await runDetached(['busybox', 'sleep', '60']);
    const info = await inspect(id);
    expect(info.status).toBe('running');
    expect(info.pid).toBeGreaterThan(1);
    for (const [name, procName] of KINDS) {
      const e = nsEntry(info, name, procName);
      expect.soft(e.isolated, name).toBe(true);
      expect.soft(e.inode, name).toBe(nsInode(info.pid, procName));
      // "the host" is berthd's side: it runs in the test run's own network namespace
      expect.soft(e.hostInode, name).toBe(nsInode(helperPid(), procName));
      expect.soft(e.inode, name).not.toBe(e.hostInode);
    }
    const user = nsEntry(info, 'user', 'user');
    expect(user.isolated).toBe(false);
    expect(nsInode(info.pid, 'user')).toBe(nsInode(helperPid(), 'user'));
  });

  for (const [only] of KINDS) {
    it(`--ns ${only} isolates exactly the ${only} namespace`, async () => {
      const id = await runDetached(['--ns', only, 'busybox', 'sleep', '60']);
      const info = await inspect(id);
      expect(info.status).toBe('running');
      for (const [name, procName] of [...KINDS, ['user', 'user']]) {
        const isolated = name === only;
        const host = nsInode(helperPid(), procName); // berthd's, in the run's network namespace
        const ctr = nsInode(info.pid, procName);
        const e = nsEntry(info, name, procName);
        expect.soft(e.isolated, `${name}.isolated`).toBe(isolated);
        expect.soft(e.inode, `${name}.inode`).toBe(ctr);
        expect.soft(e.hostInode, `${name}.hostInode`).toBe(host);
        if (isolated) expect.soft(ctr, `${name} inode on the host`).not.toBe(host);
        else expect.soft(ctr, `${name} inode on the host`).toBe(host);
      }
    });
  }

  it('--ns pid,mount shares the UTS namespace: the hostname is the host\'s', async () => {
    const r = await berthOk(['run', '--rm', '--ns', 'pid,mount', 'busybox', 'sh', '-c', 'hostname; echo $$']);
    expect(r.stdout.trim().split('\n')).toEqual([os.hostname(), '1']);
  });

  it('--pid host shares the PID namespace: the shell sees its host PID', async () => {
    const id = await runDetached(['--pid', 'host', 'busybox', 'sh', '-c', 'echo $$; exec sleep 60']);
    const info = await inspect(id);
    expect(nsEntry(info, 'pid', 'pid').isolated).toBe(false);
    expect(nsInode(info.pid, 'pid')).toBe(nsInode('self', 'pid'));
    let logged = '';
    await waitUntil(async () => {
      logged = (await berthOk(['logs', id])).stdout.trim();
      return logged !== '';
    }, 5000);
    expect(Number(logged)).toBe(info.pid);
  });

  it('--userns maps root inside to an unprivileged range outside', async () => {
    const id = await runDetached(['--userns', 'busybox', 'sleep', '60']);
    const info = await inspect(id);
    expect(nsEntry(info, 'user', 'user').isolated).toBe(true);
    expect(nsInode(info.pid, 'user')).not.toBe(nsInode('self', 'user'));
    const r = await berthOk(['exec', id, 'sh', '-c', 'id -u; cat /proc/self/uid_map']);
    const [uid, ...map] = r.stdout.trim().split('\n');
    expect(uid).toBe('0');
    expect(map.join('\n')).not.toMatch(/^\s*0\s+0\s+4294967295\s*$/);
    // The init's uid on the host is not root.
    const hostUid = procStatusField(info.pid, 'Uid')?.split(/\s+/)[0];
    expect(hostUid).not.toBe('0');
    // The image's files (owned by host root, shared with other containers) appear owned by
    // root inside through idmapped layers, so root inside may change them: the change lands
    // in the upper dir owned by the mapped uid, the layer on disk is untouched.
    const w = await berthOk(['exec', id, 'sh', '-c', 'stat -c %u /bin/busybox && echo changed >> /etc/passwd && tail -n1 /etc/passwd']);
    expect(w.stdout.trim().split('\n')).toEqual(['0', 'changed']);
    const upper = path.join(info.rootfs!.upper, 'etc/passwd');
    expect(fs.statSync(upper).uid).toBe(Number(hostUid));
    for (const lower of info.rootfs!.lower) {
      const p = path.join(lower, 'etc/passwd');
      if (fs.existsSync(p)) expect(fs.readFileSync(p, 'utf8')).not.toContain('changed');
    }
  });

  it('exec joins the namespaces of the container init', async () => {
    const id = await runDetached(['busybox', 'sleep', '60']);
    const info = await inspect(id);
    const names = KINDS.map(([, p]) => p);
    const r = await berthOk(['exec', id, 'sh', '-c', `for n in ${names.join(' ')}; do readlink /proc/self/ns/$n; done`]);
    const inside = r.stdout.trim().split('\n');
    expect(inside).toHaveLength(names.length);
    KINDS.forEach(([name, procName], i) => {
      expect.soft(inside[i], procName).toBe(fs.readlinkSync(`/proc/${info.pid}/ns/${procName}`));
      expect.soft(inside[i], procName).toBe(`${procName}:[${nsEntry(info, name, procName).inode}]`);
    });
    // ...and its cgroup: inside the cgroup namespace both sit at the same place.
    const cg = await berthOk(['exec', id, 'sh', '-c', 'cat /proc/self/cgroup; echo ---; cat /proc/1/cgroup']);
    const [self, init] = cg.stdout.split('---\n').map((s) => s.trim().split('\n').filter((l) => /:(memory|pids|cpu|cpuacct|freezer)(,|:)/.test(l) || l.startsWith('0::')));
    expect(self).toEqual(init);
    // And the exec'd shell is not PID 1 but is a small number in the container's namespace.
    const pidInside = Number((await berthOk(['exec', id, 'sh', '-c', 'echo $$'])).stdout.trim());
    expect(pidInside).toBeGreaterThan(1);
    expect(pidInside).toBeLessThan(100);
  });

  it('top lists the container processes with host and namespace PIDs', async () => {
    const id = await runDetached(['busybox', 'sh', '-c', 'sleep 60 & sleep 61 & wait']);
    const info = await inspect(id);
    let procs: Awaited<ReturnType<typeof top>> = [];
    await waitUntil(async () => {
      procs = await top(id);
      return procs.length >= 3;
    }, 5000);
    expect(procs).toHaveLength(3);
    const init = procs.find((p) => p.pid === info.pid);
    expect(init, JSON.stringify(procs)).toBeDefined();
    expect(init?.nspid).toEqual([info.pid, 1]);
    expect(init?.name).toBe('sh');
    for (const p of procs) {
      expect(p.nspid[0]).toBe(p.pid);
      expect(p.nspid.join(' ')).toBe(procStatusField(p.pid, 'NSpid')?.split(/\s+/).join(' '));
      if (p !== init) {
        expect(p.name).toBe('sleep');
        expect(p.ppid).toBe(info.pid);
        expect(p.cmdline[0]).toBe('sleep');
      }
    }
  });
});
