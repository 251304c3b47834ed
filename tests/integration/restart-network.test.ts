// Networks across a helper crash: a re-adopted container keeps its address, bridge,
// NAT and published port; what belonged to containers that ended while the helper
// was down (their address, bridge, nft table), and stray veths of ours, are gone
// after the restart. Runs after the other files (the sequencer puts restart* last).
import { execFileSync } from 'node:child_process';
import { afterAll, afterEach, describe, expect, it } from 'vitest';

import { berthOk, helperPid, inspect, processAlive, removeTracked, runDetached, sleep, testEnv, waitExited, waitUntil } from './support/berth';
import { killHelper, restartHelper } from './support/helper-control';
import { inNetns, netnsLeftovers } from './support/netns';

const links = (): string[] =>
  execFileSync('ip', ['-n', testEnv().netns, '-o', 'link', 'show'], { encoding: 'utf8' })
    .split('\n')
    .map((l) => /^\d+:\s+([^:@\s]+)/.exec(l)?.[1] ?? '')
    .filter(Boolean);

describe('networks across a helper restart', () => {
  afterEach(removeTracked);
  afterAll(async () => {
    if (!processAlive(helperPid())) await restartHelper('netrestart');
  });

  it('keeps what a re-adopted container needs and cleans up after the ones that ended meanwhile', async () => {
    const port = 20000 + Math.floor(Math.random() * 20000);
    const net = `rn-${process.pid}`;
    await berthOk(['network', 'create', net]);
    try {
      const keep = await runDetached(['-p', `${port}:80`, 'busybox', 'sh', '-c', 'mkdir /w; echo kept > /w/index.html; exec httpd -f -p 80 -h /w']);
      const gone = await runDetached(['--network', net, 'busybox', 'sleep', '60']);
      const goneInfo = await inspect(gone);
      const keepIp = ((await inspect(keep)) as unknown as { network: { ip: string } }).network.ip;
      const userBridge = links().find((l) => /^berth-[0-9a-f]{8}$/.test(l));
      expect(userBridge).toBeDefined();

      await killHelper();
      process.kill(goneInfo.pid, 'SIGKILL'); // only the init of a container this test started
      await sleep(500);
      // a stray veth of ours, as a crash between its creation and the record would leave
      execFileSync('ip', ['-n', testEnv().netns, 'link', 'add', 'vethdeadbeef', 'type', 'veth', 'peer', 'name', 'vethstraypeer']);
      await restartHelper('netrestart');

      await waitExited(gone, 10000);
      const now = links();
      expect(now).not.toContain('vethdeadbeef');
      expect(now).not.toContain(userBridge);
      expect(now).toContain('berth0');
      expect(now).toContain(`veth${keep.slice(0, 8)}`);
      // the kept container still serves on its port and keeps its address
      const r = inNetns(testEnv().netns, ['busybox', 'wget', '-q', '-O-', `http://127.0.0.1:${port}/`], 5000);
      expect(r.stdout).toBe('kept\n');
      expect(((await inspect(keep)) as unknown as { network: { ip: string } }).network.ip).toBe(keepIp);
      expect(inNetns(testEnv().netns, ['nft', 'list', 'table', 'ip', 'berth']).stdout).toContain('masquerade');

      // a new container does not get the kept one's address
      const fresh = await runDetached(['busybox', 'sleep', '60']);
      expect(((await inspect(fresh)) as unknown as { network: { ip: string } }).network.ip).not.toBe(keepIp);
      await berthOk(['rm', '-f', keep, fresh, gone]);
      await waitUntil(() => netnsLeftovers(testEnv().netns).length === 0, 5000);
      expect(netnsLeftovers(testEnv().netns)).toEqual([]);
    } finally {
      await removeTracked();
      await berthOk(['network', 'rm', net]);
    }
  });
});
