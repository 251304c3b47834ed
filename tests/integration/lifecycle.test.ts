// Lifecycle: exit status, stop/kill, rm and what it leaves (nothing), --rm,
// logs, failed starts, ps.
import fs from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';

import { berth, berthOk, containerCgroupDirs, containerDirs, describeResult, inspect, leftovers, listContainers, mountsMentioning, mountsUnder, processAlive, removeTracked, runDetached, stateDir, testEnv, track, uniqueName, waitExited, waitUntil } from './support/berth';

const TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})\s/;

/** What exists of containers on the host, to compare before and after. */
function snapshot(): { dirs: string[]; cgroups: string[]; mounts: string[] } {
  return { dirs: containerDirs(), cgroups: containerCgroupDirs(), mounts: mountsUnder(testEnv().tmp) };
}

describe('lifecycle', () => {
  afterEach(removeTracked);

  it('propagates the exit status of an attached run', async () => {
    expect((await berth(['run', '--rm', 'busybox', 'sh', '-c', 'exit 7'])).status).toBe(7);
    expect((await berth(['run', '--rm', 'busybox', 'true'])).status).toBe(0);
    expect((await berth(['run', '--rm', 'busybox', 'false'])).status).toBe(1);
  });

  it('separates stdout and stderr and passes -e, -u and the workdir', async () => {
    const r = await berthOk(['run', '--rm', '-e', 'FOO=bar baz', '-u', '1000:1001', 'busybox', 'sh', '-c', 'echo "$FOO"; id -u; id -g; pwd; echo oops >&2']);
    expect(r.stdout).toBe('bar baz\n1000\n1001\n/\n');
    expect(r.stderr).toBe('oops\n');
  });

  it('stop: SIGTERM first; a container that handles it exits at once with its own status', async () => {
    const id = await runDetached(['busybox', 'sh', '-c', 'trap "exit 0" TERM; while :; do sleep 0.1; done']);
    const t0 = Date.now();
    await berthOk(['stop', '-t', '10', id]);
    expect(Date.now() - t0).toBeLessThan(5000);
    const info = await inspect(id);
    expect(info.status).toBe('exited');
    expect(info.exitCode).toBe(0);
    expect(info.exitReason).toBe('stopped');
    expect(info.pid).toBe(0);
  });

  it('stop: SIGKILL after -t seconds when SIGTERM is ignored', async () => {
    const id = await runDetached(['busybox', 'sh', '-c', 'trap "" TERM; while :; do sleep 0.1; done']);
    const t0 = Date.now();
    await berthOk(['stop', '-t', '2', id]);
    const took = Date.now() - t0;
    expect(took).toBeGreaterThanOrEqual(1900);
    expect(took).toBeLessThan(8000);
    const info = await inspect(id);
    expect(info.status).toBe('exited');
    expect(info.exitCode).toBe(137);
    expect(info.exitSignal).toBe('SIGKILL');
    expect(info.exitReason).toBe('stopped');
  });

  it('kill sends SIGKILL by default and -s another signal', async () => {
    const a = await runDetached(['busybox', 'sleep', '60']);
    await berthOk(['kill', a]);
    const ia = await waitExited(a);
    expect(ia.exitCode).toBe(137);
    expect(ia.exitSignal).toBe('SIGKILL');
    expect(ia.exitReason).toBe('killed');

    const b = await runDetached(['busybox', 'sh', '-c', 'trap "echo got-term; exit 3" TERM; while :; do sleep 0.1; done']);
    await berthOk(['kill', '-s', 'TERM', b]);
    const ib = await waitExited(b);
    expect(ib.exitCode).toBe(3);
    expect((await berthOk(['logs', b])).stdout).toContain('got-term');

    // A bad signal name and a container that is not running are clear errors.
    const c = await runDetached(['busybox', 'sleep', '60']);
    const bad = await berth(['kill', '-s', 'SIGNOPE', c]);
    expect(bad.status, describeResult(['kill'], bad)).toBe(125);
    expect(bad.stderr).toMatch(/^berth: /m);
    expect((await inspect(c)).status).toBe('running');
    const notRunning = await berth(['kill', a]);
    expect(notRunning.status).toBe(125);
    expect(notRunning.stderr).toMatch(/^berth: .*(not running|exited|state)/im);
  });

  it('refuses to rm a running container without -f', async () => {
    const id = await runDetached(['busybox', 'sleep', '60']);
    const r = await berth(['rm', id]);
    expect(r.status).toBe(125);
    expect(r.stderr).toMatch(/^berth: .*(running|force|-f)/im);
    expect((await inspect(id)).status).toBe('running');
    await berthOk(['rm', '-f', id]);
    expect((await berth(['inspect', id])).status).toBe(125);
  });

  it('rm -f leaves no process, mount, cgroup or state dir behind', async () => {
    const id = await runDetached(['busybox', 'sh', '-c', 'sleep 60 & exec sleep 61']);
    const info = await inspect(id);
    const cgroupDirs = Object.values(info.cgroup.paths);
    expect(cgroupDirs.length).toBeGreaterThan(0);
    for (const d of cgroupDirs) expect(fs.existsSync(d)).toBe(true);
    expect(fs.existsSync(stateDir(info.id))).toBe(true);
    const pids = fs.readFileSync(cgroupDirs[0] + '/cgroup.procs', 'utf8').trim().split('\n').map(Number);
    expect(pids.length).toBe(2);

    await berthOk(['rm', '-f', id]);
    for (const d of cgroupDirs) expect(fs.existsSync(d), d).toBe(false);
    expect(fs.existsSync(stateDir(info.id))).toBe(false);
    expect(mountsMentioning(info.id)).toEqual([]);
    expect(leftovers(info.id)).toEqual([]);
    expect(await waitUntil(() => [...pids, info.monitorPid].every((p) => !processAlive(p)), 3000)).toBe(true);
    expect((await listContainers()).map((c) => c.id)).not.toContain(info.id);
  });

  it('--rm removes an attached container when it exits', async () => {
    const before = snapshot();
    const r = await berthOk(['run', '--rm', 'busybox', 'hostname']);
    const shortId = r.stdout.trim();
    expect(shortId).toMatch(/^[0-9a-f]{12}$/);
    // Removal may finish just after the exit status is reported.
    await waitUntil(() => JSON.stringify(snapshot()) === JSON.stringify(before), 5000);
    expect(snapshot()).toEqual(before);
    expect((await listContainers()).some((c) => c.id.startsWith(shortId))).toBe(false);
  });

  it('-d --rm removes a detached container once it has exited', async () => {
    const id = await runDetached(['--rm', 'busybox', 'sh', '-c', 'sleep 0.5']);
    const gone = await waitUntil(async () => !(await listContainers()).some((c) => c.id === id || c.id.startsWith(id)), 15000, 100);
    expect(gone).toBe(true);
    expect(leftovers(id)).toEqual([]);
  });

  it('logs, logs -t and logs --tail', async () => {
    // Pauses between the writes: stdout and stderr are separate pipes, so only
    // writes apart in time have a defined order in the log.
    const id = await runDetached(['busybox', 'sh', '-c', 'echo one; sleep 0.2; echo two >&2; sleep 0.2; echo three']);
    await waitExited(id);
    const plain = await berthOk(['logs', id]);
    expect(plain.stdout).toBe('one\nthree\n');
    expect(plain.stderr).toBe('two\n');
    const stamped = await berthOk(['logs', '-t', id]);
    const split = (text: string): [string, string][] =>
      text.trim().split('\n').map((l) => {
        expect(l).toMatch(TIMESTAMP);
        const sp = l.indexOf(' ');
        return [l.slice(0, sp), l.slice(sp + 1)];
      });
    const outs = split(stamped.stdout);
    const errs = split(stamped.stderr);
    expect(outs.map(([, t]) => t)).toEqual(['one', 'three']);
    expect(errs.map(([, t]) => t)).toEqual(['two']);
    const ms = (ts: string): number => Date.parse(ts);
    expect(ms(outs[0][0])).toBeLessThanOrEqual(ms(errs[0][0]));
    expect(ms(errs[0][0])).toBeLessThanOrEqual(ms(outs[1][0]));
    const tail = await berthOk(['logs', '--tail', '1', id]);
    expect(tail.stdout + tail.stderr).toBe('three\n');
  });

  it('logs -f follows until the container exits', async () => {
    const id = await runDetached(['busybox', 'sh', '-c', 'for i in 1 2 3 4; do echo line$i; sleep 0.5; done; printf partial']);
    const t0 = Date.now();
    const r = await berth(['logs', '-f', id], { timeoutMs: 20000 });
    expect(r.status, describeResult(['logs', '-f', id], r)).toBe(0);
    expect(r.stdout).toBe('line1\nline2\nline3\nline4\npartial');
    expect(Date.now() - t0).toBeGreaterThan(1000);
    expect((await inspect(id)).status).toBe('exited');
  });

  it('a failed start is a clear error and leaves nothing behind', async () => {
    const before = snapshot();
    const name = track(uniqueName('nocmd'));
    const r = await berth(['run', '--name', name, 'busybox', '/no/such/command']);
    expect([125, 126, 127], describeResult(['run'], r)).toContain(r.status);
    expect(r.stderr).toMatch(/^berth: /m);
    expect(r.stderr).toMatch(/\/no\/such\/command/);
    expect(r.stderr).toMatch(/no such file|not found|ENOENT/i);
    expect((await listContainers()).some((c) => c.name === name)).toBe(false);
    expect(snapshot()).toEqual(before);
  });

  it('an unknown image, a bad memory limit and a taken name are refused with berth: errors', async () => {
    const noImage = await berth(['run', '--rm', 'no-such-image:v0', 'true']);
    expect(noImage.status).toBe(125);
    expect(noImage.stderr).toMatch(/^berth: .*no-such-image/m);
    const tiny = await berth(['run', '--rm', '-m', '1k', 'busybox', 'true']);
    expect(tiny.status).toBe(125);
    expect(tiny.stderr).toMatch(/^berth: /m);
    const zeroCpus = await berth(['run', '--rm', '--cpus', '0', 'busybox', 'true']);
    expect(zeroCpus.status).toBe(125);
    const name = uniqueName('taken');
    await runDetached(['--name', name, 'busybox', 'sleep', '60']);
    const again = await berth(['run', '-d', '--name', name, 'busybox', 'true']);
    expect(again.status).toBe(125);
    expect(again.stderr).toMatch(/^berth: .*(in use|taken|exists|conflict)/im);
    const missing = await berth(['inspect', 'no-such-container-xyz']);
    expect(missing.status).toBe(125);
    expect(missing.stderr).toMatch(/^berth: /m);
  });

  it('ps, ps -a, ps -q and ps --json', async () => {
    const name = uniqueName('ps');
    const id = await runDetached(['--name', name, 'busybox', 'sleep', '60']);
    const doneName = track(uniqueName('psdone'));
    await berthOk(['run', '--name', doneName, 'busybox', 'true']);

    const running = await listContainers(false);
    const mine = running.find((c) => c.name === name);
    expect(mine).toBeDefined();
    expect(mine?.id).toMatch(/^[0-9a-f]{64}$/);
    expect(id.length === 64 ? mine?.id : mine?.id.slice(0, id.length)).toBe(id);
    expect(mine?.shortId).toBe(mine?.id.slice(0, 12));
    expect(mine?.status).toBe('running');
    expect(mine?.image).toMatch(/^busybox(:latest)?$/);
    expect(mine?.command).toEqual(['sleep', '60']);
    expect(running.some((c) => c.name === doneName)).toBe(false);

    const all = await listContainers(true);
    const done = all.find((c) => c.name === doneName);
    expect(done?.status).toBe('exited');
    expect(done?.exitCode).toBe(0);

    const q = await berthOk(['ps', '-q']);
    expect(q.stdout.trim().split('\n')).toContain(mine?.shortId);
    const table = await berthOk(['ps']);
    expect(table.stdout).toContain(name);
    expect(table.stdout).not.toContain(doneName);
  });

  it('records the start timeline and start-to-exit time', async () => {
    const name = track(uniqueName('tl'));
    await berthOk(['run', '--name', name, 'busybox', 'true']);
    const info = await waitExited(name);
    expect(info.timeline.map((s) => s.step)).toEqual(['cgroup', 'clone', 'mounts', 'pivot_root', 'mask', 'exec']);
    for (const s of info.timeline) expect(s.us).toBeGreaterThanOrEqual(0);
    // when each began: clone, then the init's own mounts, pivot_root, mask and exec one
    // after another, the cgroup beside them. The init may begin its mounts before the
    // monitor's clone() has returned there (the child runs first), so clone and mounts
    // are ordered by when they began only.
    const at = Object.fromEntries(info.timeline.map((s) => [s.step, s]));
    for (const s of info.timeline) expect(s.atUs).toBeGreaterThanOrEqual(0);
    expect(at.mounts.atUs).toBeGreaterThanOrEqual(at.clone.atUs ?? 0);
    const inInit = ['mounts', 'pivot_root', 'mask', 'exec'];
    for (let i = 1; i < inInit.length; i++) expect(at[inInit[i]].atUs).toBeGreaterThanOrEqual((at[inInit[i - 1]].atUs ?? 0) + at[inInit[i - 1]].us);
    expect(info.startToExitUs).toBeGreaterThan(0);
    expect(info.startToExitUs).toBeLessThan(10_000_000);
    expect(info.exitReason).toBe('exited');
  });
});
