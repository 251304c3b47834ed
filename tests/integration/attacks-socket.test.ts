// Attacks on the helper socket and on what a client may ask, through the real
// helper: a process inside a container trying to reach the socket (host network,
// namespaces off, a way out of a chroot); malformed, truncated, huge and endless
// requests; clients that leave in the middle of a stream (their fds, threads and
// memory must come back, counted on the helper); hostile names and bind sources;
// racing starts and removes; and host paths a non-root client names (opened with
// that client's own permissions). The basics (another uid refused, bad lines,
// 1 MiB lines, a flood) are in security.test.ts.
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { encodeFrame, encodeResize } from '../../electron/core/frames';
import { HelperClient, HelperError } from '../../electron/core/helper-client';
import { FrameType, type ContainerInfo } from '../../electron/core/protocol';
import {
  berth,
  containerCgroupDirs,
  describeResult,
  helperPid,
  inspect,
  leftovers,
  mountsMentioning,
  removeTracked,
  runDetached,
  sleep,
  testEnv,
  track,
  uniqueName,
  waitUntil,
} from './support/berth';
import { plainBinary, startExtraHelper, type ExtraHelper } from './support/extra-helper';
import { callAs, outcomeError } from './support/peer-call';
import { LineClient, type Reply } from './support/rawsock';

const MiB = 1024 * 1024;

// ---- what the helper holds ---------------------------------------------------------

interface Held {
  fds: number;
  /** what each fd is (socket:[ino], pipe:[ino], a path), for the message when counts differ */
  fdKinds: string[];
  threads: number;
  rssKiB: number;
  children: number;
}

function statusField(pid: number, field: string): number {
  const line = fs.readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith(`${field}:`));
  if (!line) throw new Error(`no ${field} in /proc/${pid}/status`);
  return Number(line.slice(field.length + 1).trim().split(/\s+/)[0]);
}

function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push(Number(d));
    } catch {
      /* gone meanwhile */
    }
  }
  return out;
}

function fdKinds(pid: number): string[] {
  const out: string[] = [];
  for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
    try {
      out.push(`${fd}:${fs.readlinkSync(`/proc/${pid}/fd/${fd}`).replace(/\[\d+\]$/, '')}`);
    } catch {
      /* closed meanwhile */
    }
  }
  return out.sort();
}

function held(pid: number): Held {
  return {
    fds: fs.readdirSync(`/proc/${pid}/fd`).length,
    fdKinds: fdKinds(pid),
    threads: statusField(pid, 'Threads'),
    rssKiB: statusField(pid, 'VmRSS'),
    children: childrenOf(pid).length,
  };
}

function figures(before: Held, after: Held): string {
  const f = (h: Held): string => `fds ${h.fds}, threads ${h.threads}, children ${h.children}, VmRSS ${h.rssKiB} KiB`;
  return `before: ${f(before)}; after: ${f(after)}`;
}

// ---- raw streams ----------------------------------------------------------------------

/** Sends one request on a new connection and waits for its reply line; the socket is left paused. */
function openStream(socket: string, method: string, params: object): Promise<{ sock: net.Socket; reply: Reply }> {
  return new Promise((resolve, reject) => {
    const sock = net.createConnection(socket);
    let buf = Buffer.alloc(0);
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`no reply to ${method} within 30 s`));
    }, 30000);
    const onData = (d: Buffer): void => {
      buf = Buffer.concat([buf, d]);
      const nl = buf.indexOf(10);
      if (nl < 0) return;
      clearTimeout(timer);
      sock.off('data', onData);
      sock.pause();
      resolve({ sock, reply: JSON.parse(buf.subarray(0, nl).toString('utf8')) as Reply });
    };
    sock.on('data', onData);
    sock.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    sock.on('connect', () => sock.write(JSON.stringify({ v: 1, id: 1, method, params }) + '\n'));
  });
}

/** Reads until some bytes came (or ms passed), so the stream is really flowing. */
function someOutput(sock: net.Socket, ms = 5000): Promise<number> {
  return new Promise((resolve) => {
    let got = 0;
    const done = (): void => {
      clearTimeout(timer);
      sock.off('data', onData);
      sock.pause();
      resolve(got);
    };
    const onData = (d: Buffer): void => {
      got += d.length;
      if (got > 64) done();
    };
    const timer = setTimeout(done, ms);
    sock.on('data', onData);
    sock.resume();
  });
}

function writeAll(sock: net.Socket, data: Buffer): Promise<void> {
  return new Promise((resolve) => {
    if (sock.write(data)) resolve();
    else sock.once('drain', () => resolve());
  });
}

// ---- 1. the socket from inside a container --------------------------------------------

describe('a process inside a container cannot reach the helper socket', () => {
  let probe = '';
  beforeAll(() => {
    const e = testEnv();
    probe = path.join(e.tmp, 'sock-probe');
    execFileSync('cc', ['-static', '-O1', '-o', probe, path.join(e.repo, 'tests/integration/support/sock-probe.c')]);
  });
  afterEach(removeTracked);

  // Every way to leave namespaces off that the helper accepts, host network first.
  const configs: { label: string; flags: string[]; hostNet: boolean; hostMounts: boolean }[] = [
    { label: 'host network', flags: ['--network', 'host'], hostNet: true, hostMounts: false },
    { label: 'host network and host PIDs', flags: ['--network', 'host', '--pid', 'host'], hostNet: true, hostMounts: false },
    { label: 'only a mount namespace', flags: ['--ns', 'mount'], hostNet: true, hostMounts: false },
    { label: 'a user namespace on the host network', flags: ['--userns', '--network', 'host'], hostNet: true, hostMounts: false },
    { label: 'no mount namespace (chrooted in the host mount namespace)', flags: ['--ns', 'pid,uts,ipc,net,cgroup', '--network', 'none'], hostNet: false, hostMounts: true },
    { label: 'no namespace at all', flags: ['--ns', ''], hostNet: true, hostMounts: true },
  ];

  for (const { label, flags, hostNet, hostMounts } of configs) {
    it(`${label}: no abstract socket, no socket path, no way out of the root`, async () => {
      const e = testEnv();
      const sock = e.socket;
      const hp = helperPid();
      const script = [
        '/probe abstract',
        `/probe connect ${sock} /proc/${hp}/root${sock} /proc/${hp}/cwd${sock.slice(sock.lastIndexOf('/'))} /proc/1/root${sock}`,
        `for p in ${sock} ${path.dirname(sock)} ${e.root}; do test -e $p && echo "visible: $p"; done`,
        `/probe escape ${sock}`,
        `unshare -r /probe escape ${sock} || echo "unshare refused"`,
        'grep -E "^CapBnd:" /proc/self/status',
      ].join('; ');
      const args = ['run', '--rm', ...flags, '-v', `${probe}:/probe:ro`, 'busybox', 'sh', '-c', script];
      const r = await berth(args);
      expect(r.status, describeResult(args, r)).toBe(0);
      const lines = r.stdout.split('\n');
      expect(lines.filter((l) => l.includes('connected:')), describeResult(args, r)).toEqual([]);
      expect(lines.filter((l) => l.startsWith('abstract:')), describeResult(args, r)).toEqual([]);
      expect(lines.filter((l) => l.startsWith('visible:')), describeResult(args, r)).toEqual([]);
      expect(r.stdout).not.toContain('escaped: the socket path exists');
      if (hostNet) {
        // the container really shares berthd's network namespace: it sees berthd's
        // (path) socket listed, so an abstract one would show up as well
        expect(lines, describeResult(args, r)).toContain(`path: ${sock}`);
      }
      if (hostMounts) {
        // chrooted in the host's mount namespace: CAP_SYS_CHROOT (bit 18) is gone,
        // and a user namespace (which would bring it back) is refused in a chroot
        const bnd = BigInt(`0x${/CapBnd:\s+([0-9a-f]+)/.exec(r.stdout)?.[1] ?? '0'}`);
        expect(bnd & (1n << 18n)).toBe(0n);
        expect(r.stdout).toContain('chroot: Operation not permitted');
        expect(r.stdout + r.stderr).toMatch(/unshare refused|Operation not permitted/);
      }
    });
  }

  it('an exec into a container without a mount namespace cannot climb out either', async () => {
    const id = await runDetached(['--ns', '', '-v', `${probe}:/probe:ro`, 'busybox', 'sleep', '600']);
    const r = await berth(['exec', id, '/probe', 'escape', testEnv().socket]);
    expect(r.stdout, describeResult(['exec'], r)).toContain('chroot: Operation not permitted');
    expect(r.stdout).not.toContain('connected:');
  });

  it('a process in a container cgroup is refused even as root with the socket at hand', async () => {
    // Defence in depth: should a container process ever reach the socket, berthd
    // still refuses it. A process of the test (root, outside, with the path) is
    // moved into a running container's cgroups and then connects.
    const id = await runDetached(['busybox', 'sleep', '600']);
    const info = await inspect(id);
    const dirs = [...new Set(Object.values(info.cgroup.paths))];
    expect(dirs.length).toBeGreaterThan(0);
    const child = spawn('/bin/sh', ['-c', `read go; exec ${probe} connect ${testEnv().socket}`], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const closed = new Promise<void>((resolve) => child.on('close', () => resolve()));
    for (const d of dirs) fs.writeFileSync(path.join(d, 'cgroup.procs'), String(child.pid));
    child.stdin.end('go\n');
    await closed;
    expect(out).toMatch(/connected: .*"ok":false.*"code":"denied"/);
    expect(out).toMatch(new RegExp(`runs inside container ${info.id.slice(0, 12)}: processes inside containers may not use berthd`));
    // and the same process outside any container is served
    const ok = execFileSync(probe, ['connect', testEnv().socket], { encoding: 'utf8' });
    expect(ok).toMatch(/connected: .*"ok":true/);
  });
});

// ---- 2. malformed, truncated, huge and endless requests --------------------------------

describe('malformed, truncated, huge and endless requests', () => {
  let pid0 = 0;
  let other: LineClient;
  beforeAll(async () => {
    pid0 = helperPid();
    other = await LineClient.connect(testEnv().socket);
  });
  afterAll(async () => {
    // the same helper answered everything
    const r = await other.request('end', 'hello');
    expect(r.result?.pid).toBe(pid0);
    other.close();
  });

  it('an endless line trickled in slowly: one too_large, others served meanwhile, memory bounded', async () => {
    const c = await LineClient.connect(testEnv().socket);
    try {
      await c.write('{"v":1,"id":"endless","method":"hello","params":{"pad":"');
      const chunk = 'a'.repeat(16 * 1024);
      let sent = 0;
      let rssAt2MiB = 0;
      for (let i = 0; sent < 16 * MiB; i++) {
        await c.write(chunk);
        sent += chunk.length;
        await sleep(1); // a trickle, not one big write
        if (i % 64 === 0) expect((await other.request(`meanwhile-${i}`, 'hello')).ok).toBe(true);
        if (sent === 2 * MiB) {
          const r = await c.next(10000);
          expect(r).toMatchObject({ ok: false, id: null, error: { code: 'too_large' } });
          rssAt2MiB = statusField(pid0, 'VmRSS');
        }
      }
      // past the limit the rest is discarded as it comes: 14 more MiB, and the
      // helper's memory does not follow it (bound: a few MiB of the sanitizer's
      // quarantine of freed buffers; keeping the line would be 14 MiB and more)
      expect(statusField(pid0, 'VmRSS') - rssAt2MiB).toBeLessThan(4 * 1024);
      // one error for the whole line, not one per MiB; the line ends, serving goes on
      await c.write('"}}\n');
      expect(await c.request('after', 'hello')).toMatchObject({ id: 'after', ok: true });
    } finally {
      c.close();
    }
  });

  it('a client that sends half a line and waits does not hold up anyone else', async () => {
    const half = await LineClient.connect(testEnv().socket);
    try {
      await half.write('{"v":1,"id":"half","meth');
      for (let i = 0; i < 20; i++) expect((await other.request(`h-${i}`, 'container.list', { all: true })).ok).toBe(true);
      // a second waiting client, in the middle of a UTF-8 sequence
      const mid = await LineClient.connect(testEnv().socket);
      await mid.write(Buffer.from([0x7b, 0x22, 0xe2, 0x82]));
      expect((await other.request('h-mid', 'hello')).ok).toBe(true);
      mid.close();
      // the half line, finished much later, is answered
      await half.write('od":"hello"}\n');
      expect(await half.next()).toMatchObject({ id: 'half', ok: true });
    } finally {
      half.close();
    }
  });

  it('deep nesting (100,000 [) is refused without recursion', async () => {
    const c = await LineClient.connect(testEnv().socket);
    try {
      const deep = '['.repeat(100000) + ']'.repeat(100000);
      await c.write(`{"v":1,"id":"deep","method":"hello","params":{"a":${deep}}}\n`);
      let r = await c.next(10000);
      expect(r).toMatchObject({ ok: false, error: { code: 'bad_request' } });
      expect(r.error?.message).toMatch(/nesting|depth/i);
      await c.write('['.repeat(500000) + '\n'); // unclosed
      r = await c.next(10000);
      expect(r.error?.code).toBe('bad_request');
      await c.write(`{"v":1,"id":${'{"a":'.repeat(50000)}1${'}'.repeat(50000)},"method":"hello"}\n`);
      expect((await c.next(10000)).error?.code).toBe('bad_request');
      expect((await c.request('after', 'hello')).ok).toBe(true);
    } finally {
      c.close();
    }
  });

  it('huge numbers are refused where a number is expected, never wrapped', async () => {
    const c = await LineClient.connect(testEnv().socket);
    try {
      const raw = async (line: string): Promise<Reply> => {
        await c.write(line + '\n');
        return c.next(10000);
      };
      const big = '9'.repeat(5000);
      expect((await raw(`{"v":1,"id":1e400,"method":"hello"}`)).error?.code).toBe('bad_request');
      expect((await raw(`{"v":1,"id":-1e400,"method":"hello"}`)).error?.code).toBe('bad_request');
      // an id beyond 64 bits would come back changed (clamped): refused instead
      for (const id of [big, `-${big}`, '18446744073709551615']) {
        const r = await raw(`{"v":1,"id":${id},"method":"hello"}`);
        expect(r).toMatchObject({ ok: false, id: null, error: { code: 'bad_request' } });
        expect(r.error?.message).toMatch(/out of range/);
      }
      expect((await raw(`{"v":1e400,"id":2,"method":"hello"}`)).error?.code).toMatch(/^(bad_request|version)$/);
      expect((await raw(`{"v":${big},"id":3,"method":"hello"}`)).error?.code).toMatch(/^(bad_request|version)$/);
      expect((await raw(`{"v":1,"id":4,"method":"container.list","params":{"all":1e400}}`)).error?.code).toBe('bad_request');
      for (const tail of [big, `-${big}`, '1e400', '1.5', '4294967296']) {
        const r = await raw(`{"v":1,"id":5,"method":"container.logs","params":{"ref":"nope","tail":${tail}}}`);
        expect(r.error?.code, `tail ${tail.slice(0, 20)}`).toMatch(/^(bad_request|invalid)$/);
      }
      for (const limits of [`{"memory":${big}}`, '{"memory":1e400}', '{"cpus":1e308}', `{"pids":${big}}`, '{"cpuWeight":-1e30}']) {
        const r = await raw(`{"v":1,"id":6,"method":"container.create","params":{"image":"busybox","limits":${limits}}}`);
        expect(r.error?.code, limits.slice(0, 30)).toMatch(/^(bad_request|invalid)$/);
      }
      // a bad terminal size is refused before anything is made: no container is left behind
      const before = (await other.request('n0', 'container.list', { all: true })).result?.containers as unknown[];
      for (const [k, v] of [['rows', '1e10'], ['cols', big], ['rows', '-1'], ['cols', '1.5']]) {
        const size = `"${k}":${v},"${k === 'rows' ? 'cols' : 'rows'}":24`;
        const r = await raw(`{"v":1,"id":7,"method":"container.start","params":{"ref":"nope",${size}}}`);
        expect(r.error?.code, `start ${size}`).toMatch(/^(bad_request|invalid)$/);
        const run = await raw(`{"v":1,"id":8,"method":"container.run","params":{"image":"busybox","cmd":["true"],"network":"none",${size}}}`);
        expect(run.error?.code, `run ${size}`).toMatch(/^(bad_request|invalid)$/);
      }
      expect((await other.request('n1', 'container.list', { all: true })).result?.containers).toHaveLength(before.length);
      expect((await c.request('after', 'hello')).ok).toBe(true);
    } finally {
      c.close();
    }
  });

  it('invalid UTF-8 and NUL bytes are refused, raw or escaped', async () => {
    const c = await LineClient.connect(testEnv().socket);
    try {
      const raw = async (parts: (string | number[])[]): Promise<Reply> => {
        await c.write(Buffer.concat([...parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : Buffer.from(p))), Buffer.from('\n')]));
        return c.next(10000);
      };
      const bad: [string, number[]][] = [
        ['a 0xff byte', [0xff]],
        ['an overlong slash', [0xc0, 0xaf]],
        ['a UTF-16 surrogate in UTF-8', [0xed, 0xa0, 0x80]],
        ['a sequence cut short', [0xe2, 0x82]],
        ['a code point above U+10FFFF', [0xf4, 0x90, 0x80, 0x80]],
      ];
      for (const [what, bytes] of bad) {
        const r = await raw(['{"v":1,"id":1,"method":"hel', bytes, 'lo"}']);
        expect(r.error?.code, what).toBe('bad_request');
        const r2 = await raw(['{"v":1,"id":2,"method":"container.inspect","params":{"ref":"a', bytes, 'b"}}']);
        expect(r2.error?.code, what).toBe('bad_request');
      }
      const nul = await raw(['{"v":1,"id":3,"method":"hello"', [0], '}']);
      expect(nul.error?.code).toBe('bad_request');
      expect(nul.error?.message).toMatch(/NUL/);
      expect((await raw(['{"v":1,"id":4,"method":"hello\\u0000x"}'])).error?.code).toBe('bad_request');
      expect((await raw(['{"v":1,"id":"a\\u0000b","method":"hello"}'])).error?.code).toBe('bad_request');
      const ref = await raw(['{"v":1,"id":5,"method":"container.inspect","params":{"ref":"web\\u0000x"}}']);
      expect(ref.error?.code).toBe('bad_request');
      expect(ref.error?.message).toMatch(/NUL/);
      const key = await raw(['{"v":1,"id":6,"method":"container.list","params":{"all\\u0000x":true}}']);
      expect(key.error?.code).toBe('bad_request');
      expect((await c.request('after', 'hello')).ok).toBe(true);
    } finally {
      c.close();
    }
  });

  it('a params object with as many keys as 1 MiB holds (115,000) is answered at once', async () => {
    // 1e6 keys do not fit in a 1 MiB line (6+ bytes each); this is the most a line can carry.
    const c = await LineClient.connect(testEnv().socket);
    try {
      const keys = (n: number, same: boolean): string => Array.from({ length: n }, (_, i) => `"${same ? 'k' : i.toString(36)}":0`).join(',');
      const line = (id: string, method: string, body: string): string => `{"v":1,"id":"${id}","method":"${method}","params":{${body}}}\n`;
      const n = 115000;
      const distinct = line('d', 'container.list', keys(n, false));
      expect(distinct.length).toBeLessThan(MiB);
      await c.write(distinct);
      const r = await c.next(30000);
      expect(r).toMatchObject({ id: 'd', ok: false, error: { code: 'bad_request' } });
      expect(r.error?.message).toMatch(/unknown field/);
      await c.write(line('dup', 'container.list', keys(n, true)));
      expect((await c.next(30000)).error?.code).toBe('bad_request');
      await c.write(line('h', 'hello', keys(n, false)));
      expect(await c.next(30000)).toMatchObject({ id: 'h', ok: true });
      await c.write(line('cr', 'container.create', `"image":"busybox",${keys(n, false)}`));
      expect((await c.next(30000)).error?.code).toBe('bad_request');
      await c.write(`{"v":1,"id":"env","method":"container.create","params":{"image":"busybox","env":[${Array.from({ length: 150000 }, () => '"A=1"').join(',')}]}}\n`);
      expect((await c.next(30000)).error?.code).toMatch(/^(bad_request|invalid|limit)$/);
    } finally {
      c.close();
    }
  });
});

// ---- 3. clients that leave in the middle of a stream ----------------------------------

/** One round of every way to leave mid-stream, against the helper on socket. */
async function leaveMidStream(socket: string, ref: string, round: number): Promise<void> {
  // logs -f, left while following
  {
    const s = await openStream(socket, 'container.logs', { ref, follow: true, tail: 5 });
    expect(s.reply.ok, JSON.stringify(s.reply)).toBe(true);
    await someOutput(s.sock, 200);
    s.sock.destroy();
  }
  // events, left at once
  {
    const s = await openStream(socket, 'events.subscribe', {});
    expect(s.reply.ok).toBe(true);
    s.sock.destroy();
  }
  // stats asked 100 times, replies never read
  {
    const s = await openStream(socket, 'container.stats', { ref });
    expect(s.reply.ok).toBe(true);
    s.sock.write(Array.from({ length: 100 }, (_, i) => JSON.stringify({ v: 1, id: i + 2, method: 'container.stats', params: { ref } }) + '\n').join(''));
    s.sock.destroy();
  }
  // exec with a PTY, left while output flows
  {
    const s = await openStream(socket, 'container.exec', { ref, cmd: ['sh', '-c', 'while :; do echo tick; done'], tty: true, stdin: true });
    expect(s.reply.ok, JSON.stringify(s.reply)).toBe(true);
    expect(await someOutput(s.sock)).toBeGreaterThan(0);
    s.sock.destroy();
  }
  // exec with a PTY flooded with 4 MiB of input, its output never read
  {
    const s = await openStream(socket, 'container.exec', { ref, cmd: ['cat'], tty: true, stdin: true });
    expect(s.reply.ok).toBe(true);
    const frame = encodeFrame(FrameType.Stdin, Buffer.alloc(64 * 1024, 0x61));
    for (let i = 0; i < 64; i++) s.sock.write(frame);
    // until the helper stops taking it (its caps reached), then leave
    let last = -1;
    await waitUntil(() => {
      const now = s.sock.writableLength;
      const still = now === last;
      last = now;
      return still;
    }, 5000, 100);
    s.sock.destroy();
  }
  // 10,000 resizes, then gone
  {
    const s = await openStream(socket, 'container.exec', { ref, cmd: ['sh'], tty: true, stdin: true, rows: 24, cols: 80 });
    expect(s.reply.ok).toBe(true);
    await writeAll(s.sock, Buffer.concat(Array.from({ length: 10000 }, (_, k) => encodeResize(10 + (k % 90), 20 + (k % 200)))));
    s.sock.destroy();
  }
  // an attached run with a PTY, left while output flows, then removed
  {
    const name = `leave-${process.pid}-${round}`;
    const s = await openStream(socket, 'container.run', {
      image: 'busybox',
      name,
      cmd: ['sh', '-c', 'while :; do echo tick; done'],
      tty: true,
      stdin: true,
      attach: true,
      network: 'none',
    });
    expect(s.reply.ok, JSON.stringify(s.reply)).toBe(true);
    expect(await someOutput(s.sock)).toBeGreaterThan(0);
    s.sock.destroy();
    const c = await HelperClient.connect(socket);
    try {
      await c.call('container.remove', { ref: name, force: true });
    } finally {
      c.close();
    }
  }
}

async function containerProcs(socket: string, ref: string): Promise<number> {
  const c = await HelperClient.connect(socket);
  try {
    return (await c.call('container.top', { ref })).processes.length;
  } finally {
    c.close();
  }
}

/** Warm-up, baseline, rounds, then waits for the helper to settle and returns both counts. */
async function leaveRounds(socket: string, pid: number, rounds: number): Promise<{ before: Held; after: Held; procsBefore: number; procsAfter: number }> {
  const c = await HelperClient.connect(socket);
  const name = uniqueName('held');
  let id = '';
  try {
    id = (await c.call('container.run', { image: 'busybox', name, cmd: ['sleep', '100000'], network: 'none' })).id;
  } finally {
    c.close();
  }
  if (socket === testEnv().socket) track(id);
  // warm-up: first-time allocations (hash tables, malloc arenas) are not leaks
  await leaveMidStream(socket, id, -1);
  await leaveMidStream(socket, id, -2);
  // Closed connections are noticed by the helper a moment later: wait until the
  // counts hold still (baseline) or are back (after), within a generous bound.
  const steady = async (): Promise<Held> => {
    let last = held(pid);
    let same = 0;
    await waitUntil(() => {
      const now = held(pid);
      same = now.fds === last.fds && now.children === last.children ? same + 1 : 0;
      last = now;
      return same >= 3;
    }, 30000, 200);
    return last;
  };
  await waitUntil(async () => (await containerProcs(socket, id)) === 1, 30000, 200);
  const procsBefore = await containerProcs(socket, id);
  const before = await steady();
  for (let i = 0; i < rounds; i++) await leaveMidStream(socket, id, i);
  await waitUntil(async () => (await containerProcs(socket, id)) <= procsBefore, 30000, 200);
  await waitUntil(() => {
    const now = held(pid);
    return now.fds <= before.fds && now.children <= before.children;
  }, 30000, 200);
  const after = await steady();
  const procsAfter = await containerProcs(socket, id);
  return { before, after, procsBefore, procsAfter };
}

describe('clients that leave in the middle of a stream free everything', () => {
  afterEach(removeTracked);

  it('on the helper under test (sanitized): fds, threads, children and container processes back after 10 rounds', async () => {
    const { before, after, procsBefore, procsAfter } = await leaveRounds(testEnv().socket, helperPid(), 10);
    console.log(`clients leaving mid-stream, 10 rounds on ${testEnv().berthd}: ${figures(before, after)}`);
    expect(procsBefore).toBe(1);
    expect(procsAfter, 'processes left in the container (exec sessions nobody can reach)').toBe(1);
    expect(after.children).toBe(before.children);
    expect(after.fds, `${before.fdKinds.join(' ')}\n${after.fdKinds.join(' ')}`).toBe(before.fds);
    expect(after.threads).toBe(before.threads);
  }, 600_000);

  describe('on the plain build, 50 rounds, with memory', () => {
    let h: ExtraHelper;
    beforeAll(async () => {
      h = await startExtraHelper('rss', { binary: plainBinary() });
    });
    afterAll(async () => {
      await h?.stop();
    });

    it('fds and threads exactly back, RSS flat', async () => {
      const { before, after, procsAfter } = await leaveRounds(h.socket, h.pid, 50);
      console.log(`clients leaving mid-stream, 50 rounds (350 streams, 50 containers) on ${h.binary}: ${figures(before, after)}`);
      expect(procsAfter).toBe(1);
      expect(after.children).toBe(before.children);
      expect(after.fds, `${before.fdKinds.join(' ')}\n${after.fdKinds.join(' ')}`).toBe(before.fds);
      expect(after.threads).toBe(before.threads);
      // 350 streams and 50 containers went through; one leaked 64 KiB input
      // buffer per connection would be > 20 MiB, one per round > 3 MiB.
      expect(after.rssKiB - before.rssKiB).toBeLessThan(1024);
    }, 900_000);
  });
});

// ---- 4. names and bind sources ----------------------------------------------------------

describe('hostile names and bind sources', () => {
  let c: HelperClient;
  const made: string[] = [];
  beforeAll(async () => {
    c = await HelperClient.connect(testEnv().socket);
  });
  afterAll(async () => {
    for (const m of made.reverse()) {
      try {
        execFileSync('umount', [m]);
      } catch {
        /* not a mount */
      }
      fs.rmSync(m, { recursive: true, force: true });
    }
    c.close();
  });
  afterEach(removeTracked);

  const refused = async (p: Promise<unknown>, code: string | RegExp, re: RegExp): Promise<HelperError> => {
    const e = await p.then(
      () => null,
      (x: unknown) => x as HelperError,
    );
    expect(e, 'should have been refused').toBeInstanceOf(HelperError);
    if (typeof code === 'string') expect(e?.code).toBe(code);
    else expect(e?.code).toMatch(code);
    expect(e?.message).toMatch(re);
    expect(e?.message.length).toBeLessThan(700);
    return e as HelperError;
  };

  const BAD_NAMES = ['a/b', 'x\u001b]0;title\u0007\u001b[2J', '/', '..', '.', '../x', 'a\u0000b', 'x'.repeat(10 * 1024), '-rf', '-', '.hidden', '_x', 'a b', 'a\nb', 'caf\u00e9', 'a:b'];

  it('container names with /, .., NUL, 10 kB or a leading - are refused (protocol)', async () => {
    const before = (await c.call('container.list', { all: true })).containers.length;
    for (const name of BAD_NAMES) {
      const shown = JSON.stringify(name.slice(0, 20));
      const e = await refused(c.call('container.create', { image: 'busybox', name, cmd: ['true'] }), /^(invalid|bad_request)$/, /container name|NUL/);
      expect(e.message, shown).not.toContain('x'.repeat(100));
      await refused(c.call('container.run', { image: 'busybox', name, cmd: ['true'] }), /^(invalid|bad_request)$/, /container name|NUL/);
    }
    expect((await c.call('container.list', { all: true })).containers.length).toBe(before);
    expect(fs.readdirSync(path.join(testEnv().root, 'containers')).filter((d) => !/^[0-9a-f]{64}$/.test(d))).toEqual([]);
  });

  it('the same through the CLI (run --name, volume create, network create)', async () => {
    for (const name of BAD_NAMES.filter((n) => !n.includes('\u0000'))) {
      const shown = JSON.stringify(name.slice(0, 20));
      const run = await berth(['run', '--rm', `--name=${name}`, 'busybox', 'true']);
      expect(run.status, `${shown}: ${describeResult(['run'], run)}`).not.toBe(0);
      expect(run.stderr, shown).toMatch(/invalid container name|name/i);
      expect(run.stderr.length).toBeLessThan(800);
      const vol = await berth(['volume', 'create', name]);
      expect(vol.status, `${shown}: ${describeResult(['volume', 'create'], vol)}`).not.toBe(0);
      const netw = await berth(['network', 'create', name]);
      // what the helper says is one line on the terminal, whatever the name held
      for (const r of [run, vol, netw]) expect(r.stderr.trim().split('\n'), shown).toHaveLength(1);
      expect(netw.status, `${shown}: ${describeResult(['network', 'create'], netw)}`).not.toBe(0);
    }
    const vols = path.join(testEnv().root, 'volumes');
    expect((fs.existsSync(vols) ? fs.readdirSync(vols) : []).filter((d) => !/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(d))).toEqual([]);
  });

  it('volume and network names are held to the same rule (protocol)', async () => {
    for (const name of BAD_NAMES) {
      await refused(c.call('volume.create', { name }), /^(invalid|bad_request)$/, /volume name|NUL/);
      await refused(c.call('container.create', { image: 'busybox', cmd: ['true'], mounts: [{ type: 'volume', source: name, target: '/v' }] }), /^(invalid|bad_request)$/, /volume name|NUL|absolute/);
      await refused(c.call('network.create', { name }), /^(invalid|bad_request)$/, /network name|NUL/);
      await refused(c.call('container.create', { image: 'busybox', cmd: ['true'], network: name }), /^(invalid|bad_request|not_found)$/, /network|NUL/);
    }
    for (const n of (await c.call('volume.list')).volumes) expect(n.name).toMatch(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/);
  });

  it("bind sources: the helper's socket, its directory, the store and their parents, and the kernel's views wherever they are mounted", async () => {
    const e = testEnv();
    const dir = fs.mkdtempSync('/tmp/bt-binds-');
    made.push(dir);
    const link = (name: string, to: string): string => {
      const p = path.join(dir, name);
      fs.symlinkSync(to, p);
      return p;
    };
    const procAgain = path.join(dir, 'proc-again');
    fs.mkdirSync(procAgain);
    execFileSync('mount', ['-t', 'proc', 'proc', procAgain]);
    made.push(procAgain);
    const cgAgain = path.join(dir, 'sysfs-again');
    fs.mkdirSync(cgAgain);
    execFileSync('mount', ['-t', 'sysfs', 'sysfs', cgAgain]);
    made.push(cgAgain);
    const sources: [string, RegExp][] = [
      [e.socket, /socket/],
      [path.dirname(e.socket), /socket|store/],
      [e.root, /store/],
      [path.join(e.root, 'containers'), /store/],
      [link('to-socket-dir', path.dirname(e.socket)), /socket|store/],
      [link('to-store', e.root), /store/],
      [link('to-proc', '/proc'), /\/proc/],
      [link('to-self-root', '/proc/self/root'), /not allowed/],
      ['/proc/self/root', /\/proc/],
      ['/proc/sys/kernel', /\/proc/],
      ['/sys/fs/cgroup', /\/sys/],
      ['/sys/kernel/security', /\/sys/],
      [procAgain, /proc filesystem/],
      [cgAgain, /sysfs filesystem/],
      ['/dev/pts', /devpts filesystem/],
      ['/proc/../etc', /\.\./],
      ['/', /not allowed/],
    ];
    for (const [src, re] of sources) {
      const mounts = [{ type: 'bind' as const, source: src, target: '/host' }];
      const err = await refused(c.call('container.create', { image: 'busybox', cmd: ['true'], network: 'none', mounts }), 'invalid', re);
      expect(err.message, src).toMatch(/not allowed|`\.\.`/);
      const args = ['run', '--rm', '--network', 'none', '-v', `${src}:/host`, 'busybox', 'true'];
      const r = await berth(args);
      expect(r.status, describeResult(args, r)).toBe(125);
      expect(r.stderr, src).toMatch(/not allowed|`\.\.`/);
    }
    // a plain directory beside them is fine
    const fine = path.join(dir, 'fine');
    fs.mkdirSync(fine);
    fs.writeFileSync(path.join(fine, 'f'), 'ok\n');
    const ok = await berth(['run', '--rm', '--network', 'none', '-v', `${fine}:/host:ro`, 'busybox', 'cat', '/host/f']);
    expect(ok.stdout).toBe('ok\n');
  });
});

// ---- 5. races -----------------------------------------------------------------------------

describe('racing starts and removes of one container', () => {
  let a: HelperClient;
  let b: HelperClient;
  beforeAll(async () => {
    a = await HelperClient.connect(testEnv().socket);
    b = await HelperClient.connect(testEnv().socket);
  });
  afterAll(() => {
    a.close();
    b.close();
  });
  afterEach(removeTracked);

  const settle = async <T>(p: Promise<T>): Promise<{ ok: true; v: T } | { ok: false; e: HelperError }> =>
    p.then(
      (v) => ({ ok: true as const, v }),
      (e: unknown) => ({ ok: false as const, e: e as HelperError }),
    );

  it('two starts at once: exactly one wins, the other gets conflict; one init, one cgroup set, one rootfs mount; two removes: one wins', async () => {
    const base = await a.call('container.run', { image: 'busybox', name: uniqueName('race-ref'), cmd: ['sleep', '600'], network: 'none' });
    const cgPerContainer = containerCgroupDirs().filter((d) => d.includes(base.id.slice(0, 12))).length;
    const mountsPerContainer = mountsMentioning(base.id).length;
    await a.call('container.remove', { ref: base.id, force: true });
    expect(cgPerContainer).toBeGreaterThan(0);

    for (let i = 0; i < 20; i++) {
      const ctr = await a.call('container.create', { image: 'busybox', name: uniqueName('race'), cmd: ['sleep', '600'], network: 'none' });
      track(ctr.id);
      const [x, y] = await Promise.all([settle(a.call('container.start', { ref: ctr.id })), settle(b.call('container.start', { ref: ctr.id }))]);
      const wins = [x, y].filter((r) => r.ok);
      const losses = [x, y].filter((r): r is { ok: false; e: HelperError } => !r.ok);
      expect(wins.length, `round ${i}`).toBe(1);
      expect(losses[0].e.code).toBe('conflict');
      expect(losses[0].e.message).toMatch(/already running/);
      const info: ContainerInfo = await a.call('container.inspect', { ref: ctr.id });
      expect(info.status).toBe('running');
      expect(containerCgroupDirs().filter((d) => d.includes(ctr.id.slice(0, 12))).length).toBe(cgPerContainer);
      expect(mountsMentioning(ctr.id).length).toBe(mountsPerContainer);
      const [r1, r2] = await Promise.all([settle(a.call('container.remove', { ref: ctr.id, force: true })), settle(b.call('container.remove', { ref: ctr.id, force: true }))]);
      expect([r1, r2].filter((r) => r.ok).length, `round ${i}`).toBe(1);
      const lost = [r1, r2].find((r): r is { ok: false; e: HelperError } => !r.ok);
      expect(lost?.e.code).toBe('not_found');
      expect(leftovers(ctr.id)).toEqual([]);
    }
  }, 300_000);

  it('a start racing a remove: one of them wins, the other gets a clear error, nothing is left', async () => {
    for (let i = 0; i < 20; i++) {
      const ctr = await a.call('container.create', { image: 'busybox', name: uniqueName('race-rm'), cmd: ['sleep', '600'], network: 'none' });
      track(ctr.id);
      const [s, r] = await Promise.all([settle(a.call('container.start', { ref: ctr.id })), settle(b.call('container.remove', { ref: ctr.id }))]);
      if (s.ok) {
        // the start came first: a running container is not removed without force
        expect(r.ok).toBe(false);
        if (!r.ok) expect(r.e.code).toBe('conflict');
        await a.call('container.remove', { ref: ctr.id, force: true });
      } else {
        // the remove came first: nothing to start
        expect(r.ok).toBe(true);
        expect(s.e.code).toBe('not_found');
      }
      expect(leftovers(ctr.id)).toEqual([]);
    }
  }, 300_000);
});

// ---- 6. host paths a client names -----------------------------------------------------------

describe('host paths a non-root client names are opened with its own permissions', () => {
  const GID = 4242; // the group the second helper serves
  const NOBODY = 65534;
  let h: ExtraHelper;
  let work = '';
  let tarball = '';
  let rootOnly = '';
  let ctrId = '';
  beforeAll(async () => {
    h = await startExtraHelper('peer', { binary: testEnv().berthd, extraArgs: ['--serve-gid', String(GID)] });
    work = fs.mkdtempSync(path.join(testEnv().tmp, 'peer-'));
    fs.chmodSync(work, 0o755);
    // a small rootfs tarball everyone may read
    const src = path.join(work, 'src');
    fs.mkdirSync(path.join(src, 'etc'), { recursive: true });
    fs.writeFileSync(path.join(src, 'etc', 'hello'), 'hi\n');
    tarball = path.join(work, 'rootfs.tar');
    execFileSync('tar', ['-cf', tarball, '-C', src, '.']);
    fs.chmodSync(tarball, 0o644);
    // the same, readable by root only, in a directory only root may enter
    const priv = path.join(work, 'private');
    fs.mkdirSync(priv, { mode: 0o700 });
    rootOnly = path.join(priv, 'rootfs.tar');
    fs.copyFileSync(tarball, rootOnly);
    fs.chmodSync(rootOnly, 0o600);
    // a directory nobody may write into, and one it may
    fs.mkdirSync(path.join(work, 'ro'), { mode: 0o755 });
    fs.mkdirSync(path.join(work, 'mine'), { mode: 0o755 });
    fs.chownSync(path.join(work, 'mine'), NOBODY, GID);
    const c = await HelperClient.connect(h.socket);
    try {
      ctrId = (await c.call('container.create', { image: 'busybox', name: 'exportme', cmd: ['true'], network: 'none' })).id;
    } finally {
      c.close();
    }
  });
  const ATTACK_OUT = '/etc/berth-attack.tar';
  afterAll(async () => {
    // should the attack ever succeed, its file goes too (the test has already failed then)
    for (const f of fs.readdirSync('/etc').filter((n) => n.includes('berth-attack'))) fs.rmSync(path.join('/etc', f), { force: true });
    if (work) fs.rmSync(work, { recursive: true, force: true });
    await h?.stop();
  });

  const asNobody = (method: string, params: object): ReturnType<typeof callAs> => callAs(NOBODY, GID, h.socket, method, params);

  it('the group member is served at all (the precondition of everything below)', async () => {
    const r = await asNobody('hello', {});
    expect(r.reply?.ok, JSON.stringify(r)).toBe(true);
  });

  it('image.import of /etc/shadow or of a root-only file: permission denied, nothing read', async () => {
    for (const p of ['/etc/shadow', rootOnly]) {
      const r = await asNobody('image.import', { path: p, format: 'rootfs', ref: 'stolen:1' });
      const e = outcomeError(r);
      expect(e?.code, JSON.stringify(r)).toBe('denied');
      expect(e?.message).toContain(`permission denied: \`${p}\``);
    }
    const c = await HelperClient.connect(h.socket);
    try {
      expect((await c.call('image.list')).images.flatMap((i) => i.refs)).not.toContain('stolen:1');
    } finally {
      c.close();
    }
  });

  it('image.import of a file the client may read works', async () => {
    const r = await asNobody('image.import', { path: tarball, format: 'rootfs', ref: 'mine:1' });
    expect(r.last?.type, JSON.stringify(r)).toBe(FrameType.Result);
  });

  it('an OCI layout of the client whose blob is a symlink to /etc/shadow is refused', async () => {
    const layout = path.join(work, 'mine', 'layout');
    fs.mkdirSync(path.join(layout, 'blobs', 'sha256'), { recursive: true });
    fs.writeFileSync(path.join(layout, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
    const digest = 'a'.repeat(64);
    fs.writeFileSync(path.join(layout, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: `sha256:${digest}`, size: 100 }] }));
    fs.symlinkSync('/etc/shadow', path.join(layout, 'blobs', 'sha256', digest));
    execFileSync('chown', ['-R', '-h', `${NOBODY}:${GID}`, layout]);
    const r = await asNobody('image.import', { path: layout, format: 'oci', ref: 'stolen:2' });
    const e = outcomeError(r);
    expect(e?.code, JSON.stringify(r)).toBe('invalid');
    expect(e?.message).toMatch(/leads out of the layout/);
    // the same for root: a layout never reaches outside itself
    const asRoot = await callAs(0, 0, h.socket, 'image.import', { path: layout, format: 'oci', ref: 'stolen:3' });
    expect(outcomeError(asRoot)?.message).toMatch(/leads out of the layout/);
  });

  it('image.save and container.export into /etc or a directory it may not write: permission denied, nothing written', async () => {
    for (const p of [ATTACK_OUT, path.join(work, 'ro', 'x.tar'), path.join(work, 'private', 'x.tar')]) {
      const save = await asNobody('image.save', { refs: ['busybox'], path: p });
      expect(outcomeError(save)?.code, JSON.stringify(save)).toBe('denied');
      expect(outcomeError(save)?.message).toMatch(/^(image\.save: )?permission denied: `/);
      const exp = await asNobody('container.export', { ref: ctrId, path: p });
      expect(outcomeError(exp)?.code, JSON.stringify(exp)).toBe('denied');
      expect(fs.existsSync(p)).toBe(false);
      expect(fs.readdirSync(path.dirname(p)).filter((f) => f.includes('x.tar') || f.includes('berth-attack'))).toEqual([]);
    }
  });

  it("an existing file it cannot see is not revealed: permission denied, not 'exists'", async () => {
    const r = await asNobody('image.save', { refs: ['busybox'], path: rootOnly });
    expect(outcomeError(r)?.code, JSON.stringify(r)).toBe('denied');
  });

  it('save and export into its own directory work, and the files are its own', async () => {
    const saved = path.join(work, 'mine', 'img.tar');
    const r = await asNobody('image.save', { refs: ['busybox'], path: saved });
    expect(r.last?.type, JSON.stringify(r)).toBe(FrameType.Result);
    expect(fs.statSync(saved).uid).toBe(NOBODY);
    const exported = path.join(work, 'mine', 'rootfs.tar');
    const x = await asNobody('container.export', { ref: ctrId, path: exported });
    expect(x.last?.type, JSON.stringify(x)).toBe(FrameType.Result);
    expect(fs.statSync(exported).uid).toBe(NOBODY);
    expect(fs.readdirSync(path.join(work, 'mine')).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('a root client still reads and writes root-only places', async () => {
    const c = await HelperClient.connect(h.socket);
    try {
      const { images } = await c.work('image.import', { path: rootOnly, format: 'rootfs', ref: 'rootonly:1' });
      expect(images[0].refs).toContain('rootonly:1');
      const out = path.join(work, 'private', 'saved.tar');
      await c.work('image.save', { refs: ['rootonly:1'], path: out });
      expect(fs.statSync(out).uid).toBe(0);
    } finally {
      c.close();
    }
  });
});
