// The container verbs beside run, through the real CLI and berthd: berth create
// (a container that does not run yet), berth start (again after an exit, -a
// with the container's output and exit status, -ai with stdin), berth wait,
// berth container prune (only stopped containers; asks first) and berth events
// (a container's life as lines, until Ctrl-C), and the `berth container SUB`
// aliases.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';

import { berth, berthJson, berthOk, inspect, listContainers, removeTracked, runDetached, testEnv, track, uniqueName, waitExited, waitUntil } from './support/berth';

async function create(args: string[]): Promise<string> {
  const r = await berthOk(['create', ...args]);
  const id = r.stdout.trim();
  expect(id).toMatch(/^[0-9a-f]{64}$/);
  return track(id);
}

describe('berth create, start, wait', () => {
  afterEach(removeTracked);

  it('creates a container that does not run until started, starts it again after it exits, and waits for its exit code', async () => {
    const name = uniqueName('created');
    const id = await create(['--name', name, '-e', 'GREETING=hi', 'busybox', 'sh', '-c', 'echo $GREETING; sleep 0.3; exit 3']);
    const info = await inspect(id);
    expect(info.status).toBe('created');
    expect(info.pid).toBe(0);
    expect((await listContainers(false)).map((c) => c.id)).not.toContain(id);
    expect((await berthOk(['ps', '-a'])).stdout.split('\n').find((l) => l.includes(name))).toMatch(/Created/);

    expect((await berthOk(['start', name])).stdout).toBe(`${name}\n`);
    expect((await inspect(id)).status).toBe('running');
    // a running container counts as started (docker's way)
    expect((await berthOk(['start', name])).stdout).toBe(`${name}\n`);
    expect((await berthOk(['wait', name])).stdout).toBe('3\n');
    expect((await berthOk(['logs', name])).stdout).toBe('hi\n');

    // started again: the same container, its log goes on
    await berthOk(['start', id]);
    expect((await berthOk(['wait', id])).stdout).toBe('3\n');
    expect((await berthOk(['logs', name])).stdout).toBe('hi\nhi\n');
  });

  it('start -a prints the output and exits with the status; -ai forwards stdin to a container created with -i', async () => {
    const id = await create(['busybox', 'sh', '-c', 'echo out; echo err >&2; exit 7']);
    const r = await berth(['start', '-a', id]);
    expect(r.status).toBe(7);
    expect(r.stdout).toBe('out\n');
    expect(r.stderr).toBe('err\n');

    const cat = await create(['-i', 'busybox', 'sh', '-c', 'tr a-z A-Z']);
    const up = await berth(['start', '-ai', cat], { input: 'hello\nworld\n' });
    expect(up.status).toBe(0);
    expect(up.stdout).toBe('HELLO\nWORLD\n');

    // a container killed: 128 + the signal, as a shell says it
    const sig = await create(['busybox', 'sleep', '30']);
    const attached = berth(['start', '-a', sig]);
    expect(await waitUntil(async () => (await inspect(sig)).status === 'running', 10000, 50)).toBe(true);
    await berthOk(['kill', sig]);
    expect((await attached).status).toBe(128 + 9);
    expect((await berthOk(['wait', sig])).stdout).toBe('137\n');
  });

  it('says what was wrong: an unknown container or image, two containers for -a, -a on a running one', async () => {
    const none = await berth(['start', 'no-such-container']);
    expect(none.status).toBe(125);
    expect(none.stderr).toMatch(/^berth: .*no-such-container.*\n$/);
    const img = await berth(['create', 'no-such-image:1']);
    expect(img.status).toBe(125);
    expect(img.stderr).toMatch(/no-such-image/);
    const two = await berth(['start', '-a', 'a', 'b']);
    expect(two.status).toBe(125);
    expect(two.stderr).toMatch(/one container/);
    const w = await berth(['wait', 'no-such-container']);
    expect(w.status).toBe(125);
    expect(w.stderr).toMatch(/berth ps -a|no-such-container/);

    const id = await runDetached(['busybox', 'sleep', '30']);
    const busy = await berth(['start', '-a', id]);
    expect(busy.status).toBe(125);
    expect(busy.stderr).toMatch(/already running; berth logs -f/);
    expect((await inspect(id)).status).toBe('running');
  });
});

describe('berth container prune and the container group', () => {
  afterEach(removeTracked);

  it('removes stopped containers only, after asking; says what it removed and reclaimed', async () => {
    const exited = await runDetached(['busybox', 'sh', '-c', 'head -c 300000 /dev/zero > /big; exit 0']);
    await waitExited(exited);
    const created = await create(['busybox', 'true']);
    const running = await runDetached(['busybox', 'sleep', '30']);

    const no = await berth(['container', 'prune'], { input: 'n\n' });
    expect(no.status).toBe(0);
    expect(no.stderr).toMatch(/WARNING! This will remove all stopped containers/);
    expect((await listContainers()).map((c) => c.id)).toEqual(expect.arrayContaining([exited, created, running]));

    const yes = await berth(['container', 'prune'], { input: 'y\n' });
    expect(yes.status).toBe(0);
    expect(yes.stdout).toMatch(/^Deleted Containers:\n/);
    expect(yes.stdout).toContain(`${exited}\n`);
    expect(yes.stdout).toContain(`${created}\n`);
    expect(yes.stdout).not.toContain(running);
    const kb = Number(/Total reclaimed space: ([\d.]+)kB/.exec(yes.stdout)?.[1] ?? 'NaN');
    expect(kb).toBeGreaterThanOrEqual(300); // the exited one's /big
    const left = (await listContainers()).map((c) => c.id);
    expect(left).toContain(running);
    expect(left).not.toContain(exited);
    expect(left).not.toContain(created);

    await berthOk(['stop', '-t', '0', running]);
    const json = await berthJson<{ removed: string[]; reclaimedBytes: number }>(['container', 'prune', '-f', '--json']);
    expect(json.removed).toContain(running);
  });

  it('runs the top-level verbs under berth container', async () => {
    const id = await create(['busybox', 'true']);
    expect((await berthOk(['container', 'ls', '-a', '-q'])).stdout).toContain(id.slice(0, 12));
    expect((await berthOk(['container', 'start', '-a', id])).status).toBe(0);
    expect((await berthJson<{ id: string }[]>(['container', 'inspect', id]))[0].id).toBe(id);
    await berthOk(['container', 'rm', id]);
    expect((await berth(['container', 'inspect', id])).status).toBe(125);
    const bad = await berth(['container', 'frobnicate']);
    expect(bad.status).toBe(125);
    expect(bad.stderr).toMatch(/unknown command 'container frobnicate'; choose from ls, /);
    expect((await berthOk(['container', '--help'])).stdout).toMatch(/prune +Remove all stopped containers/);
  });
});

describe('berth events', () => {
  afterEach(removeTracked);

  it("prints a container's life as it happens, named, until Ctrl-C", async () => {
    const e = testEnv();
    const child = spawn(process.execPath, [process.env.BERTH_TEST_CLI ?? path.join(e.repo, 'bin/berth.mjs'), 'events'], {
      env: { ...process.env, BERTH_ROOT: e.root, BERTH_SOCKET: e.socket, BERTHD: e.berthd, NO_COLOR: '1', BERTH_NO_AUTOSTART: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let errText = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (errText += d.toString()));
    const closed = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    try {
      // subscribed once a volume made now shows up
      const subscribed = await waitUntil(async () => {
        const probe = uniqueName('probe');
        await berthOk(['volume', 'create', probe]);
        await berthOk(['volume', 'rm', probe]);
        return new RegExp(`^\\S+ volume create ${probe}$`, 'm').test(out);
      }, 15000, 100);
      expect(subscribed, errText).toBe(true);
      const name = uniqueName('evented');
      const r = await berthOk(['run', '--name', name, 'busybox', 'true']);
      expect(r.stdout).toBe('');
      const id = (await inspect(name)).id;
      track(id);
      await berthOk(['rm', name]);
      const line = (action: string): RegExp => new RegExp(`^\\d{4}-\\d\\d-\\d\\dT\\S+ container ${action} ${id} \\(image=busybox(:latest)?, name=${name}\\)$`, 'm');
      expect(await waitUntil(() => line('remove').test(out), 10000, 50)).toBe(true);
      for (const action of ['create', 'start', 'exit', 'remove']) expect(out).toMatch(line(action));
      const order = ['create', 'start', 'exit', 'remove'].map((a) => out.search(line(a)));
      expect(order).toEqual([...order].sort((a, b) => a - b));
    } finally {
      child.kill('SIGINT');
    }
    expect(await closed).toBe(130);
    expect(errText).toBe('');
  });
});
