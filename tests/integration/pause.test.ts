// berth pause / unpause (container.pause, container.unpause): the container's
// cgroup is frozen, its processes stop where they are (a counter it writes
// stands still, read from the host through /proc/PID/root), it stays "running"
// with paused: true; exec is refused meanwhile; unpause lets it go on; stop
// and kill thaw it first; a restarted helper still knows it is paused; a
// commit pauses a running container while it reads its changes (unless told
// not to) and resumes it.
import fs from 'node:fs';
import { afterAll, afterEach, describe, expect, it } from 'vitest';

import { HelperClient } from '../../electron/core/helper-client';
import type { BerthdEvent } from '../../electron/core/protocol';
import { berth, berthOk, helperPid, inspect, processAlive, removeTracked, runDetached, sleep, testEnv, uniqueName, waitExited, waitUntil } from './support/berth';
import { killHelper, killHelperAndWorkers, restartHelper } from './support/helper-control';

/** A container that counts in /tmp/n, ten times a second; each number is renamed into
 *  place, so a read never finds the file truncated and not yet written. */
const COUNTER = ['busybox', 'sh', '-c', 'trap "exit 0" TERM; i=0; while :; do i=$((i+1)); echo $i > /tmp/n.new; mv /tmp/n.new /tmp/n; sleep 0.1; done'];

function counter(pid: number): number {
  const text = fs.readFileSync(`/proc/${pid}/root/tmp/n`, 'utf8').trim();
  if (!/^\d+$/.test(text)) throw new Error(`the counter file holds "${text}"`);
  return Number(text);
}

async function expectCounting(pid: number, yes: boolean): Promise<void> {
  const a = counter(pid);
  await sleep(400);
  const b = counter(pid);
  if (yes) expect(b).toBeGreaterThan(a);
  else expect(b).toBe(a);
}

describe('pause and unpause', () => {
  afterEach(removeTracked);
  afterAll(async () => {
    if (!processAlive(helperPid())) await restartHelper('pause');
  });

  it('freezes the processes, refuses exec meanwhile, and lets them go on', async () => {
    const id = await runDetached(COUNTER);
    const { pid } = await inspect(id);
    await waitUntil(() => fs.existsSync(`/proc/${pid}/root/tmp/n`), 5000);
    await expectCounting(pid, true);

    await berthOk(['pause', id]);
    const paused = await inspect(id);
    expect(paused.status).toBe('running');
    expect(paused.paused).toBe(true);
    await expectCounting(pid, false);
    expect((await berthOk(['ps'])).stdout).toMatch(/Up .* \(Paused\)/);

    const ex = await berth(['exec', id, 'true']);
    expect(ex.status).not.toBe(0);
    expect(ex.stderr).toMatch(/is paused; unpause it first/);
    const again = await berth(['pause', id]);
    expect(again.status).not.toBe(0);
    expect(again.stderr).toMatch(/is already paused/);

    await berthOk(['unpause', id]);
    expect((await inspect(id)).paused).toBe(false);
    await expectCounting(pid, true);
    expect((await berthOk(['exec', id, 'echo', 'back'])).stdout).toBe('back\n');
    const twice = await berth(['unpause', id]);
    expect(twice.status).not.toBe(0);
    expect(twice.stderr).toMatch(/is not paused/);
  });

  it('stop and kill thaw a paused container first; a stopped one cannot be paused', async () => {
    const a = await runDetached(COUNTER);
    await berthOk(['pause', a]);
    await berthOk(['stop', '-t', '5', a]);
    const stopped = await waitExited(a, 10000);
    expect(stopped.exitReason).toBe('stopped');
    expect(stopped.exitCode).toBe(0); // the TERM trap ran: it was thawed, not killed after the timeout
    expect(stopped.paused).toBe(false);
    const p = await berth(['pause', a]);
    expect(p.status).not.toBe(0);
    expect(p.stderr).toMatch(/is not running/);

    const b = await runDetached(COUNTER);
    await berthOk(['pause', b]);
    await berthOk(['kill', b]);
    const killed = await waitExited(b, 10000);
    expect(killed.exitReason).toBe('killed');
  });

  it('a restarted helper still knows the container is paused, and can resume it', async () => {
    const id = await runDetached(COUNTER);
    const { pid } = await inspect(id);
    await waitUntil(() => fs.existsSync(`/proc/${pid}/root/tmp/n`), 5000);
    await berthOk(['pause', id]);
    await killHelper();
    await restartHelper('pause');
    const info = await inspect(id);
    expect(info.status).toBe('running');
    expect(info.paused).toBe(true);
    await expectCounting(pid, false);
    await berthOk(['unpause', id]);
    await expectCounting(pid, true);
  });

  it('commit pauses a running container while it reads the changes and resumes it; --pause=false does not', async () => {
    const id = await runDetached(COUNTER);
    const { pid } = await inspect(id);
    await waitUntil(() => fs.existsSync(`/proc/${pid}/root/tmp/n`), 5000);
    const client = await HelperClient.connect(testEnv().socket);
    const images: string[] = [];
    try {
      const events: BerthdEvent[] = [];
      const sub = await client.stream('events.subscribe', {});
      sub.on('event', (e) => e.type === 'container' && e.id.startsWith(id) && events.push(e));
      const first = `${uniqueName('paused').toLowerCase()}:1`;
      await berthOk(['commit', '-q', id, first]);
      images.push(first);
      await waitUntil(() => events.length >= 2, 5000);
      expect(events.map((e) => e.action)).toEqual(['pause', 'unpause']);
      expect((await inspect(id)).paused).toBe(false);
      await expectCounting(pid, true);

      events.length = 0;
      const second = `${uniqueName('unpaused').toLowerCase()}:1`;
      await berthOk(['commit', '-q', '--pause=false', id, second]);
      images.push(second);
      await sleep(300);
      expect(events).toEqual([]);
      // already paused by the user: the commit leaves it paused
      await berthOk(['pause', id]);
      const third = `${uniqueName('kept').toLowerCase()}:1`;
      await berthOk(['commit', '-q', id, third]);
      images.push(third);
      expect((await inspect(id)).paused).toBe(true);
      sub.close();
    } finally {
      for (const ref of images) await client.call('image.remove', { ref }).catch(() => undefined);
      client.close();
    }
  });

  it('a berthd killed in the middle of a commit that paused the container: the next one resumes it', async () => {
    // 64 MiB of changes: the commit takes long enough to be killed in the middle
    const id = await runDetached(['busybox', 'sh', '-c', 'head -c 67108864 /dev/urandom > /big; i=0; while :; do i=$((i+1)); echo $i > /tmp/n; sleep 0.1; done']);
    const { pid } = await inspect(id);
    await waitUntil(() => fs.existsSync(`/proc/${pid}/root/tmp/n`), 20000);
    const client = await HelperClient.connect(testEnv().socket);
    let fire: () => void = () => undefined;
    const writing = new Promise<void>((r) => (fire = r));
    const commit = client.work('container.commit', { ref: id, image: `${uniqueName('cut').toLowerCase()}:1` }, { onProgress: (ev) => ev.phase === 'write' && fire() }).catch((e: unknown) => e);
    await writing;
    expect((await berthOk(['ps'])).stdout).toMatch(/\(Paused\)/);
    await killHelperAndWorkers();
    expect(await commit).toBeInstanceOf(Error);
    client.close();
    await restartHelper('pause-commit');
    const info = await inspect(id);
    expect(info.status).toBe('running');
    expect(info.paused).toBe(false);
    await expectCounting(pid, true);
  });
});
