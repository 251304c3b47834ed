// cgroups: the limits are written and enforced (OOM kill, fork bomb, CPU quota),
// reported back (inspect, stats), and the container's cgroup sits beneath the
// helper's own.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';

import { berth, berthOk, cgroupMounts, describeResult, helperPid, inspect, procCgroups, readIfExists, removeTracked, runDetached, sleep, stats, testEnv, track, uniqueName, waitExited, waitUntil } from './support/berth';

const V1 = ['memory', 'cpu', 'cpuacct', 'pids', 'freezer'];

function cgroupFile(paths: Record<string, string>, v1ctl: string, v1file: string, v2file: string): string | null {
  const dir = paths[v1ctl] ?? paths.unified;
  if (!dir) return null;
  return readIfExists(path.join(dir, paths[v1ctl] ? v1file : v2file))?.trim() ?? null;
}

describe('cgroups', () => {
  afterEach(removeTracked);

  it('writes -m, --cpus and --pids-limit into the container cgroup and reports them in stats', async () => {
    const id = await runDetached(['-m', '64m', '--cpus', '0.5', '--pids-limit', '30', 'busybox', 'sleep', '60']);
    const info = await inspect(id);
    const p = info.cgroup.paths;
    if (info.cgroup.layout === 'unified') {
      expect(cgroupFile(p, 'memory', '', 'memory.max')).toBe('67108864');
      expect(cgroupFile(p, 'cpu', '', 'cpu.max')).toBe('50000 100000');
      expect(cgroupFile(p, 'pids', '', 'pids.max')).toBe('30');
    } else {
      expect(cgroupFile(p, 'memory', 'memory.limit_in_bytes', '')).toBe('67108864');
      expect(cgroupFile(p, 'cpu', 'cpu.cfs_quota_us', '')).toBe('50000');
      expect(cgroupFile(p, 'cpu', 'cpu.cfs_period_us', '')).toBe('100000');
      expect(cgroupFile(p, 'pids', 'pids.max', '')).toBe('30');
    }
    const s = await stats(id);
    expect(s.memory.limit).toBe(67108864);
    expect(s.cpu.quotaCpus).toBeCloseTo(0.5, 5);
    expect(s.pids.limit).toBe(30);
    expect(s.pids.current).toBeGreaterThanOrEqual(1);
    expect(s.memory.usage).toBeGreaterThan(0);
  });

  it('OOM-kills a process that allocates past -m and reports it (137, oom-killed)', async () => {
    const name = track(uniqueName('oom'));
    // PID 1 itself doubles a string until the 16 MiB limit stops it: one process, so
    // the OOM killer has no other choice.
    const args = ['run', '--name', name, '-m', '16m', 'busybox', 'sh', '-c', 'x=a; while :; do x=$x$x; done'];
    const r = await berth(args, { timeoutMs: 60000 });
    expect(r.status, describeResult(args, r)).toBe(137);
    expect(r.stderr, describeResult(args, r)).toMatch(/oom/i);
    const info = await waitExited(name);
    expect(info.exitReason).toBe('oom-killed');
    expect(info.oomKilled).toBe(true);
    expect(info.exitCode).toBe(137);
  });

  it('an allocation that fits under -m is not OOM-killed', async () => {
    const name = track(uniqueName('fits'));
    const args = ['run', '--name', name, '-m', '64m', 'busybox', 'sh', '-c', 'x=$(head -c 4000000 /dev/zero | tr "\\0" a); echo ${#x}'];
    const r = await berth(args, { timeoutMs: 60000 });
    expect(r.status, describeResult(args, r)).toBe(0);
    expect(r.stdout.trim()).toBe('4000000');
    const info = await waitExited(name);
    expect(info.oomKilled).toBe(false);
    expect(info.exitReason).toBe('exited');
  });

  it('--pids-limit 20 stops a fork bomb: forks fail and pids.current never passes 20', async () => {
    // Each round, a shell forks background sleeps until a fork fails (busybox sh then
    // exits with "can't fork"); the sleeps stay and hold their PIDs.
    const inner = 'i=0; while [ $i -lt 40 ]; do sleep 60 & i=$((i+1)); echo spawned $i; done';
    const outer = `for j in 1 2 3; do sh -c '${inner}'; done; echo bomb-over; exec sleep 60`;
    const id = await runDetached(['--pids-limit', '20', 'busybox', 'sh', '-c', outer]);
    const info = await inspect(id);
    const pidsDir = info.cgroup.paths.pids ?? info.cgroup.paths.unified;
    expect(pidsDir).toBeTruthy();
    let maxSeen = 0;
    let logs = '';
    const done = await waitUntil(async () => {
      const cur = Number(readIfExists(path.join(pidsDir, 'pids.current')) ?? '0');
      maxSeen = Math.max(maxSeen, cur);
      const l = await berth(['logs', id]);
      logs = l.stdout + l.stderr;
      return logs.includes('bomb-over');
    }, 20000, 20);
    expect(done, logs).toBe(true);
    for (let k = 0; k < 10; k++) {
      maxSeen = Math.max(maxSeen, Number(readIfExists(path.join(pidsDir, 'pids.current')) ?? '0'));
      const s = await stats(id);
      maxSeen = Math.max(maxSeen, s.pids.current);
      expect(s.pids.limit).toBe(20);
    }
    expect(maxSeen).toBeGreaterThan(10);
    expect(maxSeen).toBeLessThanOrEqual(20);
    const failures = logs.split('\n').filter((l) => /can't fork|Resource temporarily unavailable/.test(l));
    expect(failures.length, logs).toBeGreaterThanOrEqual(3);
    const spawned = logs.split('\n').filter((l) => /spawned \d+/.test(l)).map((l) => Number(/spawned (\d+)/.exec(l)?.[1]));
    expect(Math.max(...spawned)).toBeLessThan(20);
    // The kernel counted the refused forks too (pids.events "max N").
    const events = readIfExists(path.join(pidsDir, 'pids.events'));
    if (events !== null) expect(Number(/max (\d+)/.exec(events)?.[1] ?? '0')).toBeGreaterThanOrEqual(3);
  });

  it('--cpus 0.5 holds a busy loop near half a core', async () => {
    const id = await runDetached(['--cpus', '0.5', 'busybox', 'sh', '-c', 'while :; do :; done']);
    const info = await inspect(id);
    const acctDir = info.cgroup.paths.cpuacct ?? info.cgroup.paths.cpu ?? info.cgroup.paths.unified;
    const usageNs = (): number => {
      const v1 = readIfExists(path.join(acctDir, 'cpuacct.usage'));
      if (v1 !== null) return Number(v1.trim());
      const v2 = readIfExists(path.join(acctDir, 'cpu.stat')) ?? '';
      return Number(/usage_usec (\d+)/.exec(v2)?.[1] ?? 'NaN') * 1000;
    };
    await sleep(500);
    const s0 = await stats(id);
    const f0 = usageNs();
    const t0 = process.hrtime.bigint();
    await sleep(3000);
    const f1 = usageNs();
    const t1 = process.hrtime.bigint();
    const s1 = await stats(id);
    const wall = Number(t1 - t0);
    const fileCores = (f1 - f0) / wall;
    const statsCores = (s1.cpu.usageNs - s0.cpu.usageNs) / wall;
    expect(fileCores).toBeGreaterThan(0.3);
    expect(fileCores).toBeLessThan(0.7);
    // stats is sampled around slower CLI calls: looser.
    expect(statsCores).toBeGreaterThan(0.25);
    expect(statsCores).toBeLessThan(0.8);
  });

  it('puts the container cgroup beneath the helper\'s own cgroup', async () => {
    const id = await runDetached(['busybox', 'sleep', '60']);
    const info = await inspect(id);
    const mounts = cgroupMounts();
    const own = procCgroups(helperPid());
    const initCg = procCgroups(info.pid);
    const env = testEnv();
    const ctls = Object.keys(info.cgroup.paths);
    expect(ctls.length).toBeGreaterThan(0);
    const hasV1 = V1.some((c) => mounts.has(c));
    expect(info.cgroup.layout).toBe(hasV1 ? (mounts.has('unified') ? 'hybrid' : 'legacy') : 'unified');
    for (const ctl of ctls) {
      const dir = info.cgroup.paths[ctl];
      const mount = mounts.get(ctl);
      const helperDir = path.join(mount ?? '', own.get(ctl) ?? '');
      expect.soft(mount, ctl).toBeDefined();
      expect.soft(dir.startsWith(helperDir + '/'), `${ctl}: ${dir} beneath ${helperDir}`).toBe(true);
      expect.soft(dir.startsWith(env.helperCgroups[ctl] + '/'), `${ctl}: ${dir} beneath ${env.helperCgroups[ctl]}`).toBe(true);
      expect.soft(path.basename(dir), ctl).toContain(id.slice(0, 12));
      expect.soft(fs.existsSync(dir), ctl).toBe(true);
      // The init process is in it, as its own /proc/PID/cgroup says.
      expect.soft(path.join(mount ?? '', initCg.get(ctl) ?? ''), ctl).toBe(dir);
      expect.soft(fs.readFileSync(path.join(dir, 'cgroup.procs'), 'utf8').split('\n'), ctl).toContain(String(info.pid));
    }
    for (const ctl of ['memory', 'pids', 'cpu']) if (hasV1) expect(ctls).toContain(ctl);
  });

  it('stats of a stopped container are refused cleanly or report no processes', async () => {
    const name = track(uniqueName('st'));
    await berthOk(['run', '--name', name, 'busybox', 'true']);
    const r = await berth(['stats', '--no-stream', '--json', name]);
    if (r.status === 0) {
      const s = await stats(name);
      expect(s.pids.current).toBe(0);
    } else {
      expect(r.status).toBe(125);
      expect(r.stderr).toMatch(/^berth: /m);
    }
  });
});
