// A killed and restarted helper re-adopts its containers: running ones keep
// running and stay controllable, ones that exited meanwhile get their real
// exit status (the monitor wrote exit.json while the helper was down).
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';

import {
  berthOk,
  helperPid,
  inspect,
  listContainers,
  processAlive,
  readIfExists,
  removeTracked,
  runDetached,
  sleep,
  stateDir,
  waitExited,
  waitUntil,
} from './support/berth';
import { killHelper, restartHelper } from './support/helper-control';

describe('helper restart', () => {
  afterEach(removeTracked);
  // Whatever happened, leave a serving helper for the teardown.
  afterAll(async () => {
    if (!processAlive(helperPid())) await restartHelper('restart');
  });

  it('re-adopts a running container and records the exit of one that ended while it was down', async () => {
    const keep = await runDetached(['busybox', 'sh', '-c', 'echo before; trap "echo bye; exit 0" TERM; while :; do sleep 0.1; done']);
    const quick = await runDetached(['busybox', 'sh', '-c', 'sleep 1.5; echo quick-out; exit 5']);
    const keepBefore = await inspect(keep);
    expect(keepBefore.status).toBe('running');
    const quickDir = stateDir((await inspect(quick)).id);

    const oldPid = await killHelper();
    // The containers do not depend on the helper process.
    expect(processAlive(keepBefore.pid)).toBe(true);
    expect(processAlive(keepBefore.monitorPid)).toBe(true);
    // quick exits while nobody serves; its monitor records the status.
    expect(await waitUntil(() => fs.existsSync(path.join(quickDir, 'exit.json')), 10000)).toBe(true);
    const exitJson = JSON.parse(readIfExists(path.join(quickDir, 'exit.json')) ?? '{}') as { exitCode?: number };
    expect(exitJson.exitCode).toBe(5);

    const newPid = await restartHelper('restart');
    expect(newPid).not.toBe(oldPid);

    const running = await listContainers(false);
    const k = running.find((c) => c.id.startsWith(keep));
    expect(k?.status).toBe('running');
    expect(k?.pid).toBe(keepBefore.pid);
    expect(k?.monitorPid).toBe(keepBefore.monitorPid);
    expect(running.some((c) => c.id.startsWith(quick))).toBe(false);

    const q = await inspect(quick);
    expect(q.status).toBe('exited');
    expect(q.exitCode).toBe(5);
    expect(q.exitReason).toBe('exited');
    expect((await berthOk(['logs', quick])).stdout).toBe('quick-out\n');

    // The re-adopted container is fully controllable: exec, logs, stop.
    expect((await berthOk(['exec', keep, 'echo', 'still-here'])).stdout).toBe('still-here\n');
    await berthOk(['stop', '-t', '5', keep]);
    const stopped = await waitExited(keep);
    expect(stopped.exitCode).toBe(0);
    expect(stopped.exitReason).toBe('stopped');
    expect((await berthOk(['logs', keep])).stdout).toBe('before\nbye\n');
  });

  it('a container that is killed from outside while the helper is down is reported with its signal', async () => {
    const id = await runDetached(['busybox', 'sleep', '60']);
    const info = await inspect(id);
    await killHelper();
    // Only the container's init, which this test started through berth.
    process.kill(info.pid, 'SIGKILL');
    await sleep(500);
    await restartHelper('restart');
    const after = await waitExited(id, 10000);
    expect(after.exitCode).toBe(137);
    expect(after.exitSignal).toBe('SIGKILL');
    expect(['signaled', 'killed']).toContain(after.exitReason);
  });
});
