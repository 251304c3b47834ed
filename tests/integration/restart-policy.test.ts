// Restart policies, applied by berthd: on-failure:N (exactly N restarts), always
// (also after a helper restart), unless-stopped (not after the user stopped it), a stop
// that ends the restarts, berth restart, and --rm refused with a policy.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';

import { berth, berthOk, helperPid, inspect, processAlive, removeTracked, runDetached, sleep, testEnv, uniqueName, waitUntil } from './support/berth';
import { requestOnce, startHelper } from './support/helper-process';

// Networking is not what these tests are about: only loopback.
const NET = ['--network', 'none'];

interface RestartInfo {
  status: string;
  pid: number;
  exitCode: number | null;
  exitReason: string | null;
  restart: { policy: string; maxRetries: number; count: number; nextAttempt: string | null };
}

async function info(ref: string): Promise<RestartInfo> {
  return (await inspect(ref)) as unknown as RestartInfo;
}

/** Polls until cond holds for the container's info; the last info otherwise in the error. */
async function waitInfo(ref: string, cond: (i: RestartInfo) => boolean, timeoutMs: number): Promise<RestartInfo> {
  let last: RestartInfo | null = null;
  const ok = await waitUntil(async () => cond((last = await info(ref))), timeoutMs, 50);
  if (!ok) throw new Error(`container ${ref} did not reach the state in ${timeoutMs} ms: ${JSON.stringify(last)}`);
  return last as unknown as RestartInfo;
}

let restarts = 0;

/** SIGKILL to the helper this run started (that PID only), then a new one on the same store. */
async function killAndRestartHelper(whileDown?: () => Promise<void>): Promise<void> {
  const e = testEnv();
  const pid = helperPid();
  fs.appendFileSync(path.join(e.tmp, 'killed-by-test'), `${pid}\n`);
  process.kill(pid, 'SIGKILL');
  expect(await waitUntil(() => !processAlive(pid), 5000)).toBe(true);
  if (whileDown) await whileDown();
  restarts += 1;
  const h = await startHelper({
    binary: e.berthd,
    root: e.root,
    socket: e.socket,
    logPath: path.join(e.tmp, `berthd-restart-policy-${process.pid}-${restarts}.log`),
    cgroupProcs: e.cgroupProcs,
    detached: true,
    netns: e.netns,
  });
  fs.writeFileSync(e.helperPidFile, String(h.pid));
}

describe('restart policies', () => {
  afterEach(removeTracked);
  afterAll(async () => {
    if (!processAlive(helperPid())) await killAndRestartHelper();
  });

  it('on-failure:2 restarts a failing container exactly twice, then leaves it exited', async () => {
    const id = await runDetached([...NET, '--restart', 'on-failure:2', 'busybox', 'sh', '-c', 'echo run; exit 3']);
    const done = await waitInfo(id, (i) => i.restart.count === 2 && i.status === 'exited', 15000);
    expect(done.exitCode).toBe(3);
    expect(done.restart).toMatchObject({ policy: 'on-failure', maxRetries: 2, count: 2, nextAttempt: null });
    await sleep(1500); // the backoff would have fired by now (100 ms, 200 ms, 400 ms)
    const later = await info(id);
    expect(later.status).toBe('exited');
    expect(later.restart.count).toBe(2);
    const logs = await berthOk(['logs', id]);
    expect(logs.stdout.split('\n').filter((l) => l === 'run')).toHaveLength(3);
  });

  it('on-failure leaves a container that exits 0 alone', async () => {
    const id = await runDetached([...NET, '--restart', 'on-failure', 'busybox', 'true']);
    await waitInfo(id, (i) => i.status === 'exited', 10000);
    await sleep(500);
    const i = await info(id);
    expect(i.status).toBe('exited');
    expect(i.restart.count).toBe(0);
  });

  it('always restarts after each exit, shows restarting with a next attempt, and a stop ends it', async () => {
    const id = await runDetached([...NET, '--restart', 'always', 'busybox', 'sh', '-c', 'sleep 0.3; exit 0']);
    const waiting = await waitInfo(id, (i) => i.status === 'restarting', 10000);
    expect(waiting.restart.nextAttempt).not.toBeNull();
    await waitInfo(id, (i) => i.restart.count >= 2, 10000);
    const ps = await berthOk(['ps']);
    expect(ps.stdout).toContain(id.slice(0, 12));
    await berthOk(['stop', '-t', '1', id]);
    const stopped = await waitInfo(id, (i) => i.status === 'exited', 10000);
    await sleep(1200);
    const later = await info(id);
    expect(later.status).toBe('exited');
    expect(later.restart.count).toBe(stopped.restart.count);
  });

  it('berth restart starts a running container again and resets the count', async () => {
    const id = await runDetached([...NET, '--restart', 'on-failure:5', 'busybox', 'sh', '-c', 'trap "exit 1" TERM; sleep 1; exit 1']);
    await waitInfo(id, (i) => i.restart.count >= 1 && i.status === 'running', 10000);
    const before = await info(id);
    const r = await berthOk(['restart', '-t', '5', id]);
    expect(r.stdout.trim()).toBe(id);
    const after = await info(id);
    expect(after.status).toBe('running');
    expect(after.pid).not.toBe(before.pid);
    expect(after.restart.count).toBe(0);
  });

  it('--rm with a restart policy is refused, by the CLI and by the helper', async () => {
    const r = await berth(['run', '--rm', '--restart', 'always', 'busybox', 'true']);
    expect(r.status).toBe(125);
    expect(r.stderr).toMatch(/--rm and --restart/);
    const direct = await requestOnce(testEnv().socket, 'container.create', {
      image: 'busybox',
      name: uniqueName('rm-restart'),
      autoRemove: true,
      restart: { policy: 'unless-stopped' },
    });
    expect(direct.ok).toBe(false);
    expect((direct.error as { code: string }).code).toBe('invalid');
  });

  it('brings always and unless-stopped containers back after a helper restart, but not one the user stopped', async () => {
    const always = await runDetached([...NET, '--restart', 'always', '--name', uniqueName('always'), 'busybox', 'sleep', '1000']);
    const unless = await runDetached([...NET, '--restart', 'unless-stopped', '--name', uniqueName('unless'), 'busybox', 'sleep', '1000']);
    const stopped = await runDetached([...NET, '--restart', 'unless-stopped', '--name', uniqueName('stopped'), 'busybox', 'sleep', '1000']);
    await berthOk(['stop', '-t', '0', stopped]);
    const [a0, u0] = [await info(always), await info(unless)];
    expect(a0.status).toBe('running');
    // While nobody serves, both running containers die; their monitors record it.
    await killAndRestartHelper(async () => {
      for (const pid of [a0.pid, u0.pid]) process.kill(pid, 'SIGKILL');
      expect(await waitUntil(() => !processAlive(a0.pid) && !processAlive(u0.pid), 5000)).toBe(true);
      await sleep(300);
    });
    const a1 = await waitInfo(always, (i) => i.status === 'running', 10000);
    const u1 = await waitInfo(unless, (i) => i.status === 'running', 10000);
    expect(a1.pid).not.toBe(a0.pid);
    expect(u1.pid).not.toBe(u0.pid);
    await sleep(500);
    const s1 = await info(stopped);
    expect(s1.status).toBe('exited');
    expect(s1.exitReason).toBe('stopped');
  });
});
