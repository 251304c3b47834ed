// exec (and the attached run's stdio): output, exit codes, PTYs, stdin.
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { HelperClient, type HelperStream } from '../../electron/core/helper-client';
import type { StreamMethod } from '../../electron/core/protocol';
import { berth, berthOk, describeResult, inspect, removeTracked, runDetached, testEnv, top, track, uniqueName, waitUntil } from './support/berth';

/** Everything a stream writes to STDOUT until its EXIT. */
function collect(stream: HelperStream<StreamMethod>): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    stream.on('stdout', (d) => (out += d.toString()));
    stream.once('exit', () => resolve(out));
    stream.once('error', reject);
  });
}

describe('exec', () => {
  let id = '';
  beforeAll(async () => {
    id = await runDetached(['-e', 'FROM_RUN=yes', 'busybox', 'sleep', '300']);
  });
  afterAll(removeTracked);

  it('returns stdout, stderr and the exit status without a PTY', async () => {
    const args = ['exec', id, 'sh', '-c', 'echo out; echo err >&2; exit 3'];
    const r = await berth(args);
    expect(r.status, describeResult(args, r)).toBe(3);
    expect(r.stdout).toBe('out\n');
    expect(r.stderr).toBe('err\n');
    expect((await berth(['exec', id, 'true'])).status).toBe(0);
  });

  it('sees the container environment', async () => {
    const r = await berthOk(['exec', id, 'sh', '-c', 'echo $FROM_RUN']);
    expect(r.stdout).toBe('yes\n');
  });

  it('a PTY starts with the size the client gives (rows, cols), then follows RESIZE', async () => {
    const client = await HelperClient.connect(testEnv().socket);
    try {
      const ex = await client.stream('container.exec', { ref: id, cmd: ['sh', '-c', 'stty size; read x; stty size'], tty: true, stdin: true, rows: 33, cols: 111 });
      let seen = '';
      ex.on('stdout', (d) => (seen += d.toString()));
      const out = collect(ex);
      expect(await waitUntil(() => seen.includes('33 111'), 5000)).toBe(true);
      ex.resize(40, 100);
      ex.writeStdin(Buffer.from('go\n'));
      expect((await out).replace(/\r/g, '')).toMatch(/^33 111\ngo\n40 100\n$/);
      const name = track(uniqueName('size'));
      const run = await client.stream('container.run', { image: 'busybox', name, cmd: ['stty', 'size'], tty: true, attach: true, rows: 50, cols: 132 });
      expect((await collect(run)).trim()).toBe('50 132');
      await expect(client.call('container.exec', { ref: id, cmd: ['true'], tty: true, rows: 10 })).rejects.toThrow(/rows.*cols/);
    } finally {
      client.close();
    }
  });

  it('-t gives the process a terminal', async () => {
    const r = await berthOk(['exec', '-t', id, 'tty']);
    expect(r.stdout.trim()).toMatch(/^\/dev\/pts\/\d+$/);
    const noTty = await berth(['exec', id, 'tty']);
    expect(noTty.status).not.toBe(0);
    expect(noTty.stdout.trim()).toBe('not a tty');
  });

  it('-i passes stdin through and closes it at the end', async () => {
    const r = await berthOk(['exec', '-i', id, 'cat'], { input: 'hi\n' });
    expect(r.stdout).toBe('hi\n');
    const big = Buffer.alloc(300_000, 'z');
    const n = await berthOk(['exec', '-i', id, 'wc', '-c'], { input: big });
    expect(n.stdout.trim()).toBe('300000');
  });

  it('without -i the process gets no stdin', async () => {
    const r = await berth(['exec', id, 'cat'], { input: 'must not arrive\n', timeoutMs: 15000 });
    expect(r.status).toBe(0);
    expect(r.stdout).toBe('');
  });

  it('-it runs an interactive shell on a PTY', async () => {
    const r = await berth(['exec', '-i', '-t', id, 'sh'], { input: 'echo from-$((40+2))\nexit 4\n', timeoutMs: 20000 });
    expect(r.status, describeResult(['exec', '-it'], r)).toBe(4);
    expect(r.stdout).toContain('from-42');
  });

  it('streams large output intact', async () => {
    const r = await berthOk(['exec', id, 'sh', '-c', 'head -c 3000000 /dev/zero | tr "\\0" x']);
    expect(r.stdout.length).toBe(3_000_000);
    expect(/^x+$/.test(r.stdout)).toBe(true);
  });

  it('the exec process runs inside the container cgroup', async () => {
    const info = await inspect(id);
    const pending = berth(['exec', id, 'sleep', '3']);
    let found: Awaited<ReturnType<typeof top>>[number] | undefined;
    await waitUntil(async () => {
      found = (await top(id)).find((p) => p.cmdline.join(' ') === 'sleep 3');
      return found !== undefined;
    }, 5000, 100);
    expect(found).toBeDefined();
    for (const dir of Object.values(info.cgroup.paths)) {
      expect(fs.readFileSync(`${dir}/cgroup.procs`, 'utf8').split('\n')).toContain(String(found?.pid));
    }
    expect(found?.nspid.length).toBe(2);
    expect((await pending).status).toBe(0);
  });

  it('a missing command is an error with the usual status', async () => {
    const r = await berth(['exec', id, '/no/such/binary']);
    expect([125, 126, 127], describeResult(['exec'], r)).toContain(r.status);
    expect(r.stderr).toMatch(/no such file|not found|ENOENT/i);
  });

  it('exec into a container that is not running is refused', async () => {
    const done = track(`execdone-${process.pid}`);
    await berthOk(['run', '--name', done, 'busybox', 'true']);
    const r = await berth(['exec', done, 'true']);
    expect(r.status).toBe(125);
    expect(r.stderr).toMatch(/^berth: /m);
    const unknown = await berth(['exec', 'no-such-container-xyz', 'true']);
    expect(unknown.status).toBe(125);
  });
});

describe('attached run stdio', () => {
  afterAll(removeTracked);

  it('run -t gives a terminal', async () => {
    const r = await berthOk(['run', '--rm', '-t', 'busybox', 'tty']);
    expect(r.stdout.trim()).toMatch(/^\/dev\/(pts\/\d+|console)$/);
  });

  it('run -i passes stdin through', async () => {
    const r = await berthOk(['run', '--rm', '-i', 'busybox', 'sh', '-c', 'cat; echo end'], { input: 'hello\n' });
    expect(r.stdout).toBe('hello\nend\n');
  });

  it('run without -i gives no stdin', async () => {
    const r = await berthOk(['run', '--rm', 'busybox', 'cat'], { input: 'must not arrive\n', timeoutMs: 15000 });
    expect(r.stdout).toBe('');
  });

  it('nothing written right at the start is lost', async () => {
    const r = await berthOk(['run', '--rm', 'busybox', 'sh', '-c', 'seq 1 2000']);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(2000);
    expect(lines[0]).toBe('1');
    expect(lines[1999]).toBe('2000');
  });
});
