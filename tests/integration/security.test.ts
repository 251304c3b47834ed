// Security: who may talk to the helper, what it does with hostile lines, and
// what a container may do (capabilities, no_new_privs, masked and read-only paths).
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';

import { berth, berthOk, removeTracked, runDetached, testEnv } from './support/berth';
import { runNodeAs } from './support/peer-call';
import { LineClient } from './support/rawsock';

const MiB = 1024 * 1024;

/** Connects as another uid, sends a hello line and reports what came back. */
function helloAs(uid: number, gid: number): Promise<{ connectError?: string; line?: string | null; closed?: boolean; timeout?: boolean }> {
  const script = `
    const net = require('net');
    const out = (o) => { process.stdout.write(JSON.stringify(o)); process.exit(0); };
    const s = net.createConnection(process.argv[1]);
    let buf = '', line = null;
    const timer = setTimeout(() => out({ line, timeout: true }), 5000);
    s.on('error', (e) => { clearTimeout(timer); out(line === null ? { connectError: e.code } : { line, closed: true }); });
    s.on('connect', () => s.write(JSON.stringify({ v: 1, id: 1, method: 'hello' }) + '\\n'));
    s.on('data', (d) => { buf += d; const nl = buf.indexOf('\\n'); if (nl >= 0 && line === null) line = buf.slice(0, nl); });
    s.on('close', () => { clearTimeout(timer); out({ line, closed: true }); });
  `;
  return runNodeAs(uid, gid, script, [testEnv().socket]);
}

async function helloWorks(): Promise<void> {
  const c = await LineClient.connect(testEnv().socket);
  try {
    const r = await c.request('check', 'hello');
    expect(r.ok).toBe(true);
    expect(r.result?.protocol).toBe(1);
  } finally {
    c.close();
  }
}

describe('the helper socket', () => {
  it('is a socket that is not world-writable, in a directory that is not world-writable', () => {
    const st = fs.statSync(testEnv().socket);
    expect(st.isSocket()).toBe(true);
    expect(st.mode & 0o002).toBe(0);
    expect(st.uid).toBe(0);
    expect(fs.statSync(path.dirname(testEnv().socket)).mode & 0o002).toBe(0);
  });

  it('refuses a peer of another uid with a denied error, then closes', async () => {
    // gid 0 gets it past the socket file's group permission, so that berthd's own
    // SO_PEERCRED check is what answers.
    const r = await helloAs(65534, 0);
    expect(r.timeout, JSON.stringify(r)).not.toBe(true);
    expect(r.connectError, JSON.stringify(r)).toBeUndefined();
    const reply = JSON.parse(r.line ?? 'null') as { ok: boolean; error?: { code: string } } | null;
    expect(reply?.ok).toBe(false);
    expect(reply?.error?.code).toBe('denied');
    expect(r.closed).toBe(true);
    await helloWorks();
  });

  it('a peer without even group access is stopped at connect or denied, never left hanging', async () => {
    const r = await helloAs(65534, 65534);
    expect(r.timeout, JSON.stringify(r)).not.toBe(true);
    if (r.connectError) expect(r.connectError).toBe('EACCES');
    else expect(JSON.parse(r.line ?? 'null')?.error?.code).toBe('denied');
    await helloWorks();
  });

  it('answers hello with the protocol version, its pid, root and cgroup layout', async () => {
    const c = await LineClient.connect(testEnv().socket);
    try {
      const r = await c.request(1, 'hello');
      expect(r).toMatchObject({ v: 1, id: 1, ok: true });
      expect(r.result?.protocol).toBe(1);
      expect(r.result?.root).toBe(testEnv().root);
      expect(typeof r.result?.pid).toBe('number');
      expect(['unified', 'hybrid', 'legacy']).toContain((r.result?.cgroup as { layout: string }).layout);
    } finally {
      c.close();
    }
  });

  it('gives each bad line its error code and goes on serving the same connection', async () => {
    const c = await LineClient.connect(testEnv().socket);
    try {
      await c.write('{not json\n');
      let r = await c.next();
      expect(r).toMatchObject({ v: 1, ok: false, id: null, error: { code: 'bad_request' } });

      await c.write('[1,2,3]\n');
      expect((await c.next()).error?.code).toBe('bad_request');

      await c.write('"a string"\n');
      expect((await c.next()).error?.code).toBe('bad_request');

      r = await c.request('s-1', 'hello');
      expect(r).toMatchObject({ id: 's-1', ok: true });

      r = await c.request(3, 'no.such.method');
      expect(r).toMatchObject({ id: 3, ok: false, error: { code: 'unknown_method' } });
      expect(r.error?.message).toMatch(/container\.list/);

      await c.send({ v: 2, id: 4, method: 'hello' });
      r = await c.next();
      expect(r).toMatchObject({ id: 4, ok: false, error: { code: 'version' } });
      expect(r.error?.message).toMatch(/1/);

      await c.send({ id: 5, method: 'hello' });
      r = await c.next();
      expect(r.id).toBe(5);
      expect(['bad_request', 'version']).toContain(r.error?.code);

      await c.send({ v: 1, id: 6, method: 42 });
      expect((await c.next()).error?.code).toBe('bad_request');

      await c.send({ v: 1, id: { nested: true }, method: 'hello' });
      expect((await c.next()).error?.code).toBe('bad_request');

      r = await c.request(7, 'container.inspect', { ref: 42 });
      expect(r).toMatchObject({ id: 7, error: { code: 'bad_request' } });

      r = await c.request(8, 'container.inspect', { ref: 'no-such-container-xyz' });
      expect(r).toMatchObject({ id: 8, error: { code: 'not_found' } });

      r = await c.request(9, 'container.create', { image: 'busybox', limits: { memory: 1024 } });
      expect(r).toMatchObject({ id: 9, error: { code: 'invalid' } });

      r = await c.request(10, 'container.create', { image: 'busybox', name: 'bad name/..' });
      expect(r).toMatchObject({ id: 10, error: { code: 'invalid' } });

      r = await c.request(11, 'container.create', { image: 'busybox', limits: { cpus: -1 } });
      expect(r).toMatchObject({ id: 11, error: { code: 'invalid' } });

      r = await c.request(12, 'container.create', { image: 'no-such-image' });
      expect(r).toMatchObject({ id: 12, error: { code: 'not_found' } });

      r = await c.request(13, 'container.create', { image: 'busybox', cmd: 'not-an-array' });
      expect(r).toMatchObject({ id: 13, error: { code: 'bad_request' } });

      r = await c.request(14, 'container.list', 'not-an-object');
      expect(r).toMatchObject({ id: 14, error: { code: 'bad_request' } });

      r = await c.request(15, 'hello');
      expect(r).toMatchObject({ id: 15, ok: true });
    } finally {
      c.close();
    }
  });

  it('answers pipelined requests by id', async () => {
    const c = await LineClient.connect(testEnv().socket);
    try {
      await c.write(
        [
          { v: 1, id: 'a', method: 'hello' },
          { v: 1, id: 'b', method: 'container.list', params: { all: true } },
          { v: 1, id: 'c', method: 'image.list' },
        ]
          .map((o) => JSON.stringify(o) + '\n')
          .join(''),
      );
      const replies = [await c.next(), await c.next(), await c.next()];
      expect(replies.map((r) => r.id).sort()).toEqual(['a', 'b', 'c']);
      for (const r of replies) expect(r.ok).toBe(true);
    } finally {
      c.close();
    }
  });

  it('refuses a line over 1 MiB with too_large, keeps serving others meanwhile, and then this one', async () => {
    const c = await LineClient.connect(testEnv().socket);
    const other = await LineClient.connect(testEnv().socket);
    try {
      const head = '{"v":1,"id":20,"method":"hello","params":{"pad":"';
      const big = head + 'a'.repeat(MiB + 4096) + '"}}\n';
      // Half a line in, the daemon is not stuck on this connection.
      await c.write(big.slice(0, 512 * 1024));
      expect((await other.request('o1', 'hello')).ok).toBe(true);
      await c.write(big.slice(512 * 1024));
      const r = await c.next(10000);
      expect(r).toMatchObject({ ok: false, error: { code: 'too_large' } });
      expect(c.closed).toBe(false);
      expect((await c.request(21, 'hello')).ok).toBe(true);

      // The limit is 1 MiB including the newline: that exact size is not too large...
      const exact = (n: number, id: number): string => {
        const h = `{"v":1,"id":${id},"method":"hello","params":{"pad":"`;
        const t = '"}}';
        return h + 'b'.repeat(n - 1 - h.length - t.length) + t + '\n';
      };
      const fits = exact(MiB, 22);
      expect(Buffer.byteLength(fits)).toBe(MiB);
      await c.write(fits);
      const rFits = await c.next(10000);
      expect(rFits.error?.code).not.toBe('too_large');
      expect(rFits.id).toBe(22);
      // ...and one byte more is.
      await c.write(exact(MiB + 1, 23));
      expect((await c.next(10000)).error?.code).toBe('too_large');
      expect((await c.request(24, 'hello')).ok).toBe(true);
    } finally {
      c.close();
      other.close();
    }
  });

  it('survives a peer that disconnects mid-line and one that floods without reading', async () => {
    const a = await LineClient.connect(testEnv().socket);
    await a.write('{"v":1,"id":1,"meth');
    a.close();
    const b = await LineClient.connect(testEnv().socket);
    // Many requests, replies not read until the end.
    b.pause();
    const n = 2000;
    await b.write(Array.from({ length: n }, (_, i) => JSON.stringify({ v: 1, id: i, method: 'hello' }) + '\n').join(''));
    await helloWorks();
    b.resume();
    let got = 0;
    for (; got < n; got++) {
      const r = await b.next(10000);
      expect(r.ok).toBe(true);
    }
    expect(got).toBe(n);
    b.close();
    await helloWorks();
  });
});

describe('container confinement', () => {
  afterEach(removeTracked);

  it('bounds capabilities to the default set and sets no_new_privs', async () => {
    const r = await berthOk(['run', '--rm', 'busybox', 'grep', '-E', '^(CapBnd|CapEff|CapPrm|CapInh|CapAmb|NoNewPrivs):', '/proc/self/status']);
    const f = Object.fromEntries(r.stdout.trim().split('\n').map((l) => l.split(/:\s+/)));
    expect(f.CapBnd).toBe('00000000a80425fb');
    expect(f.CapEff).toBe('00000000a80425fb');
    expect(f.CapPrm).toBe('00000000a80425fb');
    expect(f.CapAmb).toBe('0000000000000000');
    expect(f.NoNewPrivs).toBe('1');
  });

  it('a non-root user has no effective capabilities', async () => {
    const r = await berthOk(['run', '--rm', '-u', '1000', 'busybox', 'grep', '-E', '^Cap(Eff|Prm):', '/proc/self/status']);
    for (const l of r.stdout.trim().split('\n')) expect(l).toMatch(/:\s+0000000000000000$/);
  });

  it('a user given by name is looked up in the image\'s own /etc/passwd and /etc/group', async () => {
    const r = await berthOk(['run', '--rm', '-u', 'nobody', 'busybox', 'sh', '-c', 'id -u; id -g']);
    expect(r.stdout).toBe('65534\n65534\n');
    const g = await berthOk(['run', '--rm', '-u', 'nobody:root', 'busybox', 'sh', '-c', 'id -u; id -g']);
    expect(g.stdout).toBe('65534\n0\n');
    const id = await runDetached(['busybox', 'sleep', '60']);
    const e = await berthOk(['exec', '-u', 'nobody', id, 'id', '-u']);
    expect(e.stdout).toBe('65534\n');
    const missing = await berth(['run', '--rm', '-u', 'nosuchuser', 'busybox', 'true']);
    expect(missing.status).not.toBe(0);
    expect(missing.stderr).toMatch(/nosuchuser.*\/etc\/passwd/);
  });

  // The OCI/Docker defaults; only paths this kernel has can be checked.
  const MASKED = ['/proc/kcore', '/proc/keys', '/proc/timer_list', '/proc/latency_stats', '/proc/sched_debug', '/proc/timer_stats', '/proc/acpi', '/proc/scsi', '/proc/asound', '/sys/firmware'];
  const READONLY = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

  it('masks the default masked paths (a mount over each, nothing readable)', async () => {
    const present = MASKED.filter((p) => fs.existsSync(p));
    expect(present.length).toBeGreaterThan(0);
    const script = `cat /proc/self/mountinfo; echo ---; for p in ${present.join(' ')}; do if [ -d $p ]; then echo "$p $(ls -A $p | wc -l)"; elif [ -e $p ]; then echo "$p $(cat $p 2>/dev/null | wc -c)"; else echo "$p absent"; fi; done`;
    const r = await berthOk(['run', '--rm', 'busybox', 'sh', '-c', script]);
    const [mountinfo, listing] = r.stdout.split('---\n');
    const mountPoints = mountinfo.trim().split('\n').map((l) => l.split(' ')[4]);
    for (const line of listing.trim().split('\n')) {
      const [p, what] = line.trim().split(/\s+/);
      expect.soft(mountPoints, `${p} is masked by a mount`).toContain(p);
      expect.soft(what, `${p} shows nothing`).toMatch(/^(0|absent)$/);
    }
    // What the host kernel lacks stays absent.
    const missing = MASKED.filter((p) => !fs.existsSync(p));
    if (missing.length > 0) {
      const m = await berthOk(['run', '--rm', 'busybox', 'sh', '-c', `for p in ${missing.join(' ')}; do test -e $p && echo $p; done; true`]);
      expect(m.stdout).toBe('');
    }
  });

  it('mounts /proc/sys and the other default read-only paths read-only', async () => {
    const r = await berth(['run', '--rm', '--hostname', 'before', 'busybox', 'sh', '-c', 'echo evil > /proc/sys/kernel/hostname; echo rc=$?; hostname; echo ---; cat /proc/self/mountinfo']);
    const [head, mountinfo] = r.stdout.split('---\n');
    const lines = head.trim().split('\n');
    expect(lines[0]).not.toBe('rc=0');
    expect(lines[1]).toBe('before');
    expect(r.stderr).toMatch(/Read-only file system/);
    const mounts = new Map(mountinfo.trim().split('\n').map((l) => [l.split(' ')[4], l.split(' ')[5]] as [string, string]));
    for (const p of READONLY.filter((x) => fs.existsSync(x))) {
      expect.soft(mounts.get(p), `${p} mount options`).toMatch(/^ro(,|$)/);
    }
  });

  it('mounts /sys read-only: writing there fails', async () => {
    const r = await berth(['run', '--rm', 'busybox', 'sh', '-c', 'touch /sys/berth-probe; echo rc=$?; grep -E " /sys " /proc/self/mountinfo']);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).not.toBe('rc=0');
    expect(r.stderr).toMatch(/Read-only file system/);
    expect(lines[1]).toMatch(/ \/sys ro[ ,]/);
  });

  it('gives only the default devices', async () => {
    const r = await berthOk(['run', '--rm', 'busybox', 'ls', '/dev']);
    const devs = r.stdout.trim().split('\n');
    for (const d of ['null', 'zero', 'full', 'random', 'urandom', 'tty']) expect(devs).toContain(d);
    for (const d of ['mem', 'kmem', 'kmsg', 'port', 'sda', 'vda']) expect(devs).not.toContain(d);
    const w = await berth(['run', '--rm', 'busybox', 'sh', '-c', 'echo x > /dev/null && head -c 4 /dev/zero | wc -c']);
    expect(w.stdout.trim()).toBe('4');
  });
});
