// Attacks on the runtime, from inside real containers of the sanitized helper:
// its binary through /proc/PID/exe (CVE-2019-5736), file descriptors and
// working directories that lead out, hostile images whose mount targets are
// symlinks, masked paths, cgroup v1 release_agent escapes, TIOCSTI, and
// symlinks planted in a running container before a host-side operation. Each
// attack must fail or stay inside the container, and the test checks the real
// effect on the host: a file's hash, a directory left untouched, a file that
// never appears. The probe a container runs is support/runtime-probe.c, built
// static here and put into a test image.
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { buildBusyboxRootfs } from '../../electron/core/default-image';
import {
  berth,
  berthOk,
  describeResult,
  helperPid,
  inspect,
  removeTracked,
  runDetached,
  testEnv,
  track,
  uniqueName,
  waitUntil,
} from './support/berth';

const TOOLS = 'rt-attack/tools:1';
/** Most attacks need no network: a bridge would only add its own ways to fail. */
const NONET = ['--network', 'none'];
const madeImages = new Set<string>();
const madeNetworks = new Set<string>();
const madeVolumes = new Set<string>();
/** Host-side directory the attacks aim at; must stay as it was. */
let outside = '';
let work = '';
let baseRootfs = '';

const sha256File = (p: string): string => createHash('sha256').update(fs.readFileSync(p)).digest('hex');

/** Every file below dir with its bytes' hash, mode and mtime: what "untouched" means. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      const st = fs.lstatSync(p);
      const what = e.isFile() ? sha256File(p) : e.isSymbolicLink() ? `-> ${fs.readlinkSync(p)}` : e.isDirectory() ? 'dir' : 'other';
      out[path.relative(outside, p)] = `${what} ${st.mode.toString(8)} ${st.mtimeMs}`;
      if (e.isDirectory()) walk(p);
    }
  };
  walk(dir);
  return out;
}

/** Mounts of this (the host's) mount namespace at or below dir. */
function hostMountsUnder(dir: string): string[] {
  return fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split(' ')[4])
    .filter((m) => m === dir || m.startsWith(dir + '/'));
}

/** A copy of the busybox rootfs, changed by edit, imported as ref. */
async function importVariant(ref: string, edit: (root: string) => void): Promise<void> {
  const dir = path.join(work, ref.replace(/[^a-z0-9]/g, '_'));
  const root = path.join(dir, 'rootfs');
  fs.cpSync(baseRootfs, root, { recursive: true, verbatimSymlinks: true });
  edit(root);
  const tar = path.join(dir, 'rootfs.tar');
  execFileSync('tar', ['-C', root, '--owner=0', '--group=0', '--numeric-owner', '-cf', tar, '.']);
  await berthOk(['import', '--change', 'ENV PATH=/usr/local/bin:/usr/bin:/bin:/t', tar, ref], { timeoutMs: 120000 });
  madeImages.add(ref);
}

function replaceWithSymlink(root: string, rel: string, target: string): void {
  fs.rmSync(path.join(root, rel), { recursive: true, force: true });
  fs.symlinkSync(target, path.join(root, rel));
}

/** `berth exec ID sh -c SCRIPT`, both streams, never throws. */
async function sh(id: string, script: string, extra: string[] = []): Promise<{ status: number; out: string; err: string }> {
  const r = await berth(['exec', ...extra, id, 'sh', '-c', script]);
  return { status: r.status, out: r.stdout, err: r.stderr };
}

beforeAll(async () => {
  work = fs.mkdtempSync('/tmp/berth-rt-work-');
  outside = fs.mkdtempSync('/tmp/berth-rt-outside-');
  fs.chmodSync(outside, 0o755);
  for (const d of ['proc-target', 'dev-target', 'sys-target', 'etc-target', 'data-target', 'wd', 'hosts-dir']) fs.mkdirSync(path.join(outside, d));
  fs.writeFileSync(path.join(outside, 'wd/marker'), 'host workdir\n');
  fs.writeFileSync(path.join(outside, 'hosts'), 'canary hosts\n');
  fs.writeFileSync(path.join(outside, 'resolv.conf'), 'canary resolv\n');
  fs.writeFileSync(path.join(outside, 'hostname'), 'canary hostname\n');
  fs.writeFileSync(path.join(outside, 'passwd'), 'hostonly:x:4242:4242::/:/bin/sh\n');
  fs.writeFileSync(path.join(outside, 'secret'), 'host secret 7f3a9c\n');
  fs.chmodSync(path.join(outside, 'secret'), 0o600);

  const base = path.join(work, 'base');
  fs.mkdirSync(base);
  buildBusyboxRootfs(base);
  baseRootfs = path.join(base, 'rootfs');
  const probe = path.join(work, 'runtime-probe');
  execFileSync('cc', ['-static', '-O2', '-Wall', '-o', probe, path.join(testEnv().repo, 'tests/integration/support/runtime-probe.c')], { stdio: ['ignore', 'ignore', 'pipe'] });

  await importVariant(TOOLS, (root) => {
    fs.mkdirSync(path.join(root, 't'));
    fs.copyFileSync(probe, path.join(root, 't/runtime-probe'));
    fs.chmodSync(path.join(root, 't/runtime-probe'), 0o755);
    // working directories that are symlinks out of the rootfs, absolute and by `..`
    fs.symlinkSync(path.join(outside, 'wd'), path.join(root, 'wd-abs'));
    fs.symlinkSync(`../../../../../../../..${path.join(outside, 'wd')}`, path.join(root, 'wd-up'));
  });
}, 300000);

afterAll(async () => {
  await removeTracked();
  for (const n of madeNetworks) await berth(['network', 'rm', n]);
  for (const v of madeVolumes) await berth(['volume', 'rm', v]);
  for (const ref of madeImages) await berth(['rmi', '-f', ref]);
  if (work) fs.rmSync(work, { recursive: true, force: true });
  if (outside && hostMountsUnder(outside).length === 0) fs.rmSync(outside, { recursive: true, force: true });
});

afterEach(removeTracked);

// ---- 1. the helper's binary ----------------------------------------------------------

interface HammerReport {
  lines: string[];
  summary: Record<string, number>;
}

async function startHammer(id: string, n: number): Promise<void> {
  const st = fs.statSync(testEnv().berthd);
  await berthOk(['exec', id, 'sh', '-c', `runtime-probe hammer ${st.dev} ${st.ino} /tmp/stop${n} > /tmp/hammer${n}.log 2>&1 &`]);
  const started = await waitUntil(async () => (await sh(id, `cat /tmp/hammer${n}.log`)).out.includes('started'), 20000, 100);
  expect(started, 'the hammer started').toBe(true);
}

async function stopHammer(id: string, n: number): Promise<HammerReport> {
  await berthOk(['exec', id, 'touch', `/tmp/stop${n}`]);
  let text = '';
  const done = await waitUntil(async () => {
    text = (await sh(id, `cat /tmp/hammer${n}.log`)).out;
    return text.includes('summary ');
  }, 30000, 100);
  expect(done, `the hammer's summary: ${text}`).toBe(true);
  const lines = text.trim().split('\n');
  const last = lines.find((l) => l.startsWith('summary ')) ?? '';
  const summary = Object.fromEntries(last.split(' ').slice(1).map((kv) => [kv.split('=')[0], Number(kv.split('=')[1])]));
  return { lines, summary };
}

/** Host libraries, read-only, so that berthd's (dynamic) binary can run inside. */
function libMounts(): string[] {
  const out: string[] = [];
  for (const [src, dst] of [
    ['/usr/lib', '/usr/lib'],
    ['/lib', '/lib'],
    ['/lib64', '/lib64'],
    ['/usr/lib64', '/usr/lib64'],
  ]) {
    if (fs.existsSync(src)) out.push('-v', `${fs.realpathSync(src)}:${dst}:ro`);
  }
  return out;
}

describe('the helper binary through /proc/PID/exe', () => {
  it('berthd itself runs from a sealed in-memory copy, not from its file', () => {
    const exe = fs.readlinkSync(`/proc/${helperPid()}/exe`);
    expect(exe).toMatch(/^\/memfd:/);
    // the file on disk is not what it has mapped
    const maps = fs.readFileSync(`/proc/${helperPid()}/maps`, 'utf8');
    expect(maps).not.toContain(` ${testEnv().berthd}\n`);
  });

  it('a container hammering every /proc/PID/exe while shells are exec\'d into it never gets the binary', async () => {
    const before = sha256File(testEnv().berthd);
    const id = await runDetached([...NONET, ...libMounts(), TOOLS, 'sleep', '600']);

    // Phase 1: exec'd commands, caught between fork and execve. A PATH of
    // thousands of missing directories keeps each one searching (as berthd,
    // with the container's capabilities) for a while before its execve.
    await startHammer(id, 1);
    const longPath = Array.from({ length: 3000 }, (_, i) => `/nonexistent/dir${i}`).join(':') + ':/bin';
    for (let i = 0; i < 6; i++) {
      expect((await berth(['exec', '-e', `PATH=${longPath}`, id, 'true'])).status).toBe(0);
      expect((await berth(['exec', '-t', '-e', `PATH=${longPath}`, id, 'true'])).status).toBe(0);
      expect((await berth(['exec', '-u', 'nobody', id, 'true'])).status).toBe(0);
      expect((await berth(['exec', id, 'sh', '-c', 'ls -l /proc/*/exe > /dev/null 2>&1; true'])).status).toBe(0);
    }
    const r1 = await stopHammer(id, 1);
    // it really opened other processes' exe links (it could see them)...
    expect(r1.summary.exe_opened, r1.lines.join('\n')).toBeGreaterThan(0);
    // ...but never one that was not a file of the container's own rootfs
    expect(r1.summary.foreign, r1.lines.join('\n')).toBe(0);
    expect(r1.summary.host_berthd).toBe(0);
    expect(r1.summary.write_open).toBe(0);
    expect(r1.summary.wrote).toBe(0);

    // Phase 2: /proc/self/exe tricks: exec'ing the runtime itself, directly
    // and through a `#!/proc/self/exe` script. What runs is berthd's sealed
    // copy; the container may open it, never write it, never reach the file.
    await startHammer(id, 2);
    await berthOk(['exec', id, 'sh', '-c', 'printf "#!/proc/self/exe\\n" > /tmp/self.sh; chmod 755 /tmp/self.sh']);
    let ranInside = false;
    for (let i = 0; i < 4; i++) {
      const v = await berth(['exec', id, '/proc/self/exe', '--version']);
      if (/berthd/.test(v.stdout)) ranInside = true;
      await berth(['exec', '-t', id, '/proc/self/exe', '--version']);
      await berth(['exec', id, '/tmp/self.sh']);
    }
    const r2 = await stopHammer(id, 2);
    expect(r2.summary.host_berthd, r2.lines.join('\n')).toBe(0);
    expect(r2.summary.write_open, r2.lines.join('\n')).toBe(0);
    expect(r2.summary.wrote, r2.lines.join('\n')).toBe(0);
    // what it did see of berthd is the copy: sealed against writes (F_SEAL_WRITE = 8)
    for (const l of r2.lines.filter((x) => x.startsWith('foreign '))) {
      const seals = Number(/sealed=(-?\d+)/.exec(l)?.[1]);
      expect(seals & 8, l).toBe(8);
      expect(l).toMatch(/\/memfd:/);
    }
    // with the host's libraries mounted, berthd's binary really ran in there (the attack was live)
    if (process.arch === 'x64' && fs.existsSync('/lib64/ld-linux-x86-64.so.2')) expect(ranInside).toBe(true);
    if (ranInside) expect(r2.summary.foreign, 'the berthd run inside was seen').toBeGreaterThan(0);

    // and `ls -l /proc/*/exe` in there names nothing of the host's
    const ls = await berthOk(['exec', id, 'sh', '-c', 'ls -l /proc/*/exe 2>/dev/null; true']);
    expect(ls.stdout).not.toContain(testEnv().berthd);
    expect(sha256File(testEnv().berthd)).toBe(before);
  }, 300000);
});

// ---- 2. file descriptors and working directories -------------------------------------

function fdNumbers(out: string): number[] {
  return out
    .split('\n')
    .filter((l) => l.startsWith('fd '))
    .map((l) => Number(l.split(' ')[1]))
    .sort((a, b) => a - b);
}

describe('no host file descriptor reaches the container', () => {
  it('the container command, exec, exec -t and exec -i hold only 0, 1 and 2', async () => {
    const run = await berthOk(['run', '--rm', ...NONET, TOOLS, 'runtime-probe', 'fds']);
    expect(fdNumbers(run.stdout), run.stdout).toEqual([0, 1, 2]);
    const runT = await berthOk(['run', '--rm', '-t', ...NONET, TOOLS, 'runtime-probe', 'fds']);
    expect(fdNumbers(runT.stdout.replace(/\r/g, '')), runT.stdout).toEqual([0, 1, 2]);
    // busybox ls opens the directory it lists: that one fd (3) is its own
    const ls = await berthOk(['run', '--rm', ...NONET, TOOLS, 'ls', '/proc/self/fd']);
    expect(ls.stdout.trim().split(/\s+/)).toEqual(['0', '1', '2', '3']);

    const id = await runDetached([...NONET, TOOLS, 'sleep', '600']);
    for (const flags of [[], ['-t'], ['-i'], ['-u', 'nobody']]) {
      const r = await berthOk(['exec', ...flags, id, 'runtime-probe', 'fds'], { input: '' });
      expect(fdNumbers(r.stdout.replace(/\r/g, '')), `exec ${flags.join(' ')}: ${r.stdout}`).toEqual([0, 1, 2]);
    }
    // the init (sleep) as another process sees it
    const init = await berthOk(['exec', id, 'ls', '/proc/1/fd']);
    expect(init.stdout.trim().split(/\s+/)).toEqual(['0', '1', '2']);
  });

  it('a working directory through /proc magic links is refused, for run and exec', async () => {
    const id = await runDetached([...NONET, TOOLS, 'sleep', '600']);
    const magic = [...Array.from({ length: 12 }, (_, n) => `/proc/self/fd/${n}`), '/proc/self/cwd', '/proc/1/cwd', '/proc/1/root', '/proc/self/root/..'];
    for (const wd of magic) {
      const r = await berth(['exec', '-w', wd, id, 'sh', '-c', 'pwd; ls -a']);
      expect(r.status, describeResult(['exec', '-w', wd], r)).not.toBe(0);
      expect(r.stderr).toMatch(/working directory/);
      expect(r.stdout).toBe('');
    }
    const r = await berth(['run', '--rm', ...NONET, '-w', '/proc/self/fd/3', TOOLS, 'pwd']);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/working directory `\/proc\/self\/fd\/3` goes through a \/proc magic link/);
  });

  it('a working directory that is a symlink out of the rootfs stays inside it', async () => {
    const before = snapshot(outside);
    const id = await runDetached([...NONET, TOOLS, 'sleep', '600']);
    // the target does not exist inside: refused, not taken from the host
    for (const wd of ['/wd-abs', '/wd-up']) {
      const r = await berth(['exec', '-w', wd, id, 'sh', '-c', 'pwd; cat marker']);
      expect(r.status, describeResult(['exec', '-w', wd], r)).not.toBe(0);
      expect(r.stdout).not.toContain('host workdir');
    }
    // made inside, it is the container's own directory
    await berthOk(['exec', id, 'mkdir', '-p', path.join(outside, 'wd')]);
    for (const wd of ['/wd-abs', '/wd-up']) {
      const r = await berthOk(['exec', '-w', wd, id, 'sh', '-c', 'ls -A; touch made-inside']);
      expect(r.stdout).not.toContain('marker');
    }
    // a new container has no such directory: refused, not the host's
    const run = await berth(['run', '--rm', ...NONET, '-w', '/wd-up', TOOLS, 'sh', '-c', 'ls -A; touch made-by-run']);
    expect(run.status).not.toBe(0);
    expect(run.stderr).toMatch(/working directory.*\/wd-up.*No such file or directory/);
    expect(run.stdout).not.toContain('marker');
    expect(snapshot(outside)).toEqual(before);
  });
});

// ---- 3. mount targets that are symlinks ------------------------------------------------

describe('mount targets in the rootfs are never followed out of it', () => {
  it('an image whose /proc, /dev or /sys is a symlink to a host path is refused', async () => {
    const before = snapshot(outside);
    for (const dir of ['proc', 'dev', 'sys']) {
      const ref = `rt-attack/${dir}-link:1`;
      await importVariant(ref, (root) => replaceWithSymlink(root, dir, path.join(outside, `${dir}-target`)));
      const name = track(uniqueName(`rt-${dir}`));
      const r = await berth(['run', '--rm', ...NONET, '--name', name, ref, 'true']);
      expect(r.status, describeResult(['run', ref], r)).not.toBe(0);
      expect(r.stderr).toMatch(new RegExp(`\`/${dir}\` in the image is a symlink`));
      expect(hostMountsUnder(outside)).toEqual([]);
    }
    expect(snapshot(outside)).toEqual(before);
  });

  it('/etc/hosts, /etc/resolv.conf and /etc/hostname that are symlinks get the container\'s own files; the host files are untouched', async () => {
    const before = snapshot(outside);
    const ref = 'rt-attack/etc-files:1';
    await importVariant(ref, (root) => {
      for (const f of ['hosts', 'resolv.conf', 'hostname']) replaceWithSymlink(root, `etc/${f}`, path.join(outside, f));
    });
    const name = uniqueName('rt-etc');
    const r = await berthOk(['run', '--rm', '--name', name, '--hostname', 'inside', ref, 'sh', '-c', 'cat /etc/hostname /etc/hosts /etc/resolv.conf; echo pwned > /etc/hosts; echo pwned > /etc/hostname; echo pwned > /etc/resolv.conf']);
    expect(r.stdout).toMatch(/^inside\n/);
    expect(r.stdout).toContain('localhost');
    expect(r.stdout).not.toContain('canary');
    expect(hostMountsUnder(outside)).toEqual([]);
    expect(snapshot(outside)).toEqual(before);
    // the image's layer keeps its symlinks (the container's copy is its own)
    const again = await berthOk(['run', '--rm', '--network', 'none', ref, 'readlink', '/etc/hosts']);
    expect(again.stdout.trim()).toBe(path.join(outside, 'hosts'));
  });

  it('an image whose /etc is a symlink is refused on a bridge network, with the reason', async () => {
    const before = snapshot(outside);
    const ref = 'rt-attack/etc-link:1';
    await importVariant(ref, (root) => replaceWithSymlink(root, 'etc', path.join(outside, 'etc-target')));
    const r = await berth(['run', '--rm', ref, 'true']);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/the image's \/etc is a symlink/);
    expect(snapshot(outside)).toEqual(before);
  });

  it('volume, bind and tmpfs targets through symlinks land inside the rootfs', async () => {
    const before = snapshot(outside);
    const ref = 'rt-attack/data-link:1';
    await importVariant(ref, (root) => {
      fs.symlinkSync(path.join(outside, 'data-target'), path.join(root, 'data'));
      fs.symlinkSync(`../../../../../..${path.join(outside, 'data-target')}`, path.join(root, 'data-up'));
    });
    const vol = uniqueName('rt-vol');
    madeVolumes.add(vol);
    const src = path.join(work, 'bind-src');
    fs.mkdirSync(src, { recursive: true });
    fs.writeFileSync(path.join(src, 'from-bind'), 'bind\n');
    // an absolute symlink resolves as if the rootfs were `/`
    const r = await berthOk(['run', '--rm', ...NONET, '-v', `${vol}:/data/vol`, '-v', `${src}:/data/bind:ro`, '--tmpfs', '/data/tmp', ref, 'sh', '-c', 'echo in-vol > /data/vol/x; echo in-tmp > /data/tmp/y; cat /data/bind/from-bind; grep -c data-target /proc/self/mountinfo']);
    expect(r.stdout).toMatch(/^bind\n3\n$/);
    expect(hostMountsUnder(outside)).toEqual([]);
    expect(snapshot(outside)).toEqual(before);
    // a symlink whose `..` climbs above the top is refused for every kind of mount
    for (const m of [['-v', `${vol}:/data-up/vol`], ['-v', `${src}:/data-up/bind:ro`], ['--tmpfs', '/data-up/tmp'], ['--tmpfs', `/tmp/../../../..${outside}/x`]]) {
      const esc = await berth(['run', '--rm', ...NONET, ...m, ref, 'true']);
      expect(esc.status, describeResult(['run', ...m], esc)).not.toBe(0);
      // (a `..` in the target itself the CLI and berthd refuse before anything)
      expect(esc.stderr).toMatch(/leads out of the container's rootfs|must not contain `\.\.`/);
    }
    expect(hostMountsUnder(outside)).toEqual([]);
    expect(snapshot(outside)).toEqual(before);
  });

  it('a running container that swaps a mount target for a symlink gets it inside at the restart', async () => {
    const before = snapshot(outside);
    const ref = 'rt-attack/no-etc:1';
    await importVariant(ref, (root) => fs.rmSync(path.join(root, 'etc'), { recursive: true, force: true }));
    const vol = uniqueName('rt-vol2');
    madeVolumes.add(vol);
    const id = await runDetached(['-v', `${vol}:/data/x`, ref, 'sleep', '600']);
    // /data and /etc were made by the runtime in the upper dir: they can be renamed
    const plant = await sh(id, `mv /data /data.old && ln -s ${outside}/data-target /data && mv /etc /etc.old && ln -s ${outside}/etc-target /etc && echo planted`);
    expect(plant.out, plant.err).toContain('planted');
    const r = await berth(['restart', '-t', '1', id]);
    expect(r.status, describeResult(['restart', id], r)).not.toBe(0);
    expect(r.stderr).toMatch(/the image's \/etc is a symlink/);
    expect(hostMountsUnder(outside)).toEqual([]);
    expect(snapshot(outside)).toEqual(before);
  });
});

// ---- 4. masked paths -------------------------------------------------------------------

const MASKED_FILES = ['/proc/kcore', '/proc/keys', '/proc/timer_list', '/proc/latency_stats', '/proc/sched_debug', '/proc/timer_stats'];
const MASKED_DIRS = ['/proc/acpi', '/proc/scsi', '/proc/asound', '/sys/firmware', '/sys/devices/virtual/powercap'];

describe('masked paths', () => {
  it('read empty, are /dev/null (1:3) or an empty read-only tmpfs, and cannot be unmounted, replaced or written', async () => {
    const files = MASKED_FILES.filter((p) => fs.existsSync(p));
    const dirs = MASKED_DIRS.filter((p) => fs.existsSync(p));
    expect(files.length + dirs.length).toBeGreaterThan(0);
    const id = await runDetached([...NONET, TOOLS, 'sleep', '600']);
    const st = await berthOk(['exec', id, 'runtime-probe', 'stat', ...files, ...dirs]);
    for (const line of st.stdout.trim().split('\n')) {
      const [p, type, dev] = line.split(' ');
      if (files.includes(p)) expect(`${type} ${dev}`, line).toBe('chr 1:3');
      else expect(type, line).toBe('dir');
    }
    const mountinfo = (await berthOk(['exec', id, 'cat', '/proc/self/mountinfo'])).stdout.split('\n');
    const entry = (p: string): string | undefined => mountinfo.find((l) => l.split(' ')[4] === p);
    for (const d of dirs) {
      const e = entry(d) ?? '';
      expect(e, d).toMatch(/ - tmpfs /);
      expect(e.split(' ')[5], d).toMatch(/^ro(,|$)/);
    }
    for (const f of files) expect(entry(f), f).toMatch(/\/null .* - (devtmpfs|tmpfs) /);

    for (const p of [...files, ...dirs, '/proc/sys', '/proc/sysrq-trigger']) {
      if (!fs.existsSync(p)) continue;
      const r = await sh(id, `umount ${p}; echo "a=$?"; umount -l ${p}; echo "b=$?"; mount -t tmpfs tmpfs ${p}; echo "c=$?"; mount -o remount,rw ${p}; echo "d=$?"; unshare -Urm umount ${p}; echo "e=$?"`);
      for (const k of ['a', 'b', 'c', 'd', 'e']) expect(r.out, `${p}: ${r.out} ${r.err}`).not.toContain(`${k}=0`);
    }
    // still masked after all that
    const after = await sh(id, `for p in ${files.join(' ')}; do echo x > $p; head -c 100 $p | wc -c; done; for d in ${dirs.join(' ')}; do touch $d/berth-probe && echo wrote; ls -A $d | wc -l; done; echo ---; cat /proc/self/mountinfo`);
    const [counts, mi] = after.out.split('---\n');
    expect(counts.trim().split('\n').every((l) => l.trim() === '0'), after.out).toBe(true);
    for (const p of [...files, ...dirs]) expect(mi.split('\n').some((l) => l.split(' ')[4] === p), p).toBe(true);
    expect(after.err).toMatch(/Read-only file system/);
  });

  it('a file mask written to writes nothing anywhere', async () => {
    const files = MASKED_FILES.filter((p) => fs.existsSync(p));
    if (files.length === 0) return;
    const devNull = fs.statSync('/dev/null');
    const r = await berthOk(['run', '--rm', ...NONET, TOOLS, 'sh', '-c', `for p in ${files.join(' ')}; do head -c 4096 /dev/zero > $p; done; wc -c ${files.join(' ')}`]);
    for (const l of r.stdout.trim().split('\n').filter((x) => !/total/.test(x))) expect(l.trim()).toMatch(/^0 /);
    expect(fs.statSync('/dev/null').rdev).toBe(devNull.rdev);
    expect(fs.statSync('/dev/null').isCharacterDevice()).toBe(true);
  });
});

// ---- 5. cgroups ------------------------------------------------------------------------

function v1Hierarchies(procCgroup: string): string[] {
  return procCgroup
    .trim()
    .split('\n')
    .map((l) => l.split(':')[1])
    .filter((ctl) => ctl && ctl.length > 0);
}

describe('cgroup escapes', () => {
  it('/sys/fs/cgroup is read-only and empty inside; mounting cgroupfs is refused', async () => {
    const r = await berth(['run', '--rm', ...NONET, TOOLS, 'sh', '-c', 'ls -A /sys/fs/cgroup | wc -l; touch /sys/fs/cgroup/x; echo t=$?; mkdir /sys/fs/cgroup/x; echo m=$?; mkdir -p /tmp/cg; mount -t cgroup -o memory cgroup /tmp/cg; echo c=$?; mount -t cgroup2 none /tmp/cg; echo c2=$?; echo ---; cat /proc/self/mountinfo']);
    const [head, mountinfo] = r.stdout.split('---\n');
    expect(head.trim().split('\n')[0]).toBe('0');
    for (const k of ['t', 'm', 'c', 'c2']) expect(head).toMatch(new RegExp(`^${k}=[1-9]`, 'm'));
    const sys = mountinfo.split('\n').filter((l) => l.split(' ')[4] === '/sys' || l.split(' ')[4]?.startsWith('/sys/fs/cgroup'));
    expect(sys.length).toBeGreaterThan(0);
    // /sys is read-only, and nothing is mounted at or below /sys/fs/cgroup
    for (const l of sys) expect(l.split(' ')[5], l).toMatch(/^ro(,|$)/);
    expect(sys.filter((l) => l.split(' ')[4].startsWith('/sys/fs/cgroup'))).toEqual([]);
  });

  it('no user, mount and cgroup namespace of its own: release_agent, notify_on_release and limits stay out of reach', async () => {
    const id = await runDetached([...NONET, '--pids-limit', '64', '-m', '64m', TOOLS, 'sleep', '600']);
    const info = await inspect(id);
    const pidsDir = info.cgroup.paths.pids;
    const memDir = info.cgroup.paths.memory;
    const systemdRoot = fs.existsSync('/sys/fs/cgroup/systemd') ? '/sys/fs/cgroup/systemd' : null;
    const systemdBefore = systemdRoot ? { list: fs.readdirSync(systemdRoot).sort(), nor: fs.readFileSync(path.join(systemdRoot, 'notify_on_release'), 'utf8') } : null;

    // busybox's unshare has no -C: -Urm is the step it can try
    const bb = await sh(id, 'unshare -Urm sh -c "mkdir -p /tmp/cg && mount -t cgroup -o memory cgroup /tmp/cg && echo BB-MOUNTED"');
    expect(bb.out + bb.err).not.toContain('BB-MOUNTED');

    // every hierarchy the container is in, as linpeas' release_agent check does it
    const hier = v1Hierarchies((await berthOk(['exec', id, 'cat', '/proc/self/cgroup'])).stdout);
    expect(hier.length).toBeGreaterThan(0);
    const outputs: string[] = [];
    for (const h of hier) {
      const opts = h.startsWith('name=') ? `none,${h}` : h;
      const r = await berthOk(['exec', id, 'runtime-probe', 'cgroup', opts]);
      for (const stepName of ['release_agent', 'notify_on_release', 'pids.max', 'mkdir', 'mount', 'unshare-user']) {
        expect(r.stdout, `${h}: ${r.stdout}`).not.toMatch(new RegExp(`^${stepName.replace('.', '\\.')} ok$`, 'm'));
      }
      outputs.push(r.stdout);
    }
    for (const o of outputs) expect(o).toMatch(/^unshare-user Operation not permitted$/m);
    // the limits are what berth set
    if (pidsDir) expect(fs.readFileSync(path.join(pidsDir, 'pids.max'), 'utf8').trim()).toBe('64');
    if (memDir) expect(fs.readFileSync(path.join(memDir, 'memory.limit_in_bytes'), 'utf8').trim()).toBe(String(64 * 1024 * 1024));
    for (const dir of [pidsDir, memDir].filter((d): d is string => !!d)) {
      expect(fs.readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name)).toEqual([]);
    }
    if (systemdRoot && systemdBefore) {
      expect(fs.readdirSync(systemdRoot).sort()).toEqual(systemdBefore.list);
      expect(fs.readFileSync(path.join(systemdRoot, 'notify_on_release'), 'utf8')).toBe(systemdBefore.nor);
    }
    // the first step already fails: no user namespace
    expect(bb.err).toMatch(/unshare.*Operation not permitted/);
  });

  it('no other namespace tricks either: setns, clone3 and the kernel keyrings are refused', async () => {
    const r = await berth(['run', '--rm', ...NONET, TOOLS, 'sh', '-c', 'nsenter -t 1 -U true; echo n=$?; unshare -U true; echo u=$?']);
    expect(r.stdout).not.toContain('n=0');
    expect(r.stdout).not.toContain('u=0');
  });
});

// ---- 6. TIOCSTI ------------------------------------------------------------------------

/** Runs script under a pseudo-terminal of its own (util-linux `script`), waits for
 *  READY in the output, then types `echo OUTER-ALIVE; exit` into that terminal. */
function underPty(script: string): Promise<string> {
  const e = testEnv();
  const env = { ...process.env, BERTH_ROOT: e.root, BERTH_SOCKET: e.socket, BERTHD: e.berthd, NO_COLOR: '1', BERTH_NO_AUTOSTART: '1' };
  return new Promise((resolve, reject) => {
    const child = spawn('script', ['-qfec', `${script}; echo READY; exec sh`, '/dev/null'], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let typed = false;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the pty session did not finish:\n${out}`));
    }, 120000);
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (!typed && out.includes('READY')) {
        typed = true;
        // whatever was pushed into this terminal's input runs first
        setTimeout(() => child.stdin.write('echo OUTER-ALIVE; exit\n'), 300);
      }
    });
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('close', () => {
      clearTimeout(timer);
      resolve(out.replace(/\r/g, ''));
    });
  });
}

describe('TIOCSTI', () => {
  const cli = (): string => `${process.execPath} ${path.join(testEnv().repo, 'bin/berth.mjs')}`;

  it('the harness catches an injection that reaches the outer terminal (control, on the host)', async () => {
    const probe = path.join(work, 'runtime-probe');
    const flag = path.join(outside, 'control-injected');
    const out = await underPty(`${probe} tiocsti-only 'touch ${flag}\n' > /dev/null`);
    expect(out).toContain('OUTER-ALIVE');
    expect(fs.existsSync(flag), out).toBe(true);
    fs.rmSync(flag);
  });

  it('pushed from a container (run -t, run -it, exec -t, no tty), reaches only the container\'s own terminal', async () => {
    const flags = ['pwned-run-t', 'pwned-run-it', 'pwned-exec-t', 'pwned-run', 'pwned-exec'].map((f) => path.join(outside, f));
    const id = await runDetached([...NONET, TOOLS, 'sleep', '600']);
    const text = (f: string): string => `'touch ${f}\n'`;
    const out = await underPty(
      [
        `${cli()} run --rm -t --network none ${TOOLS} runtime-probe tiocsti ${text(flags[0])}`,
        `${cli()} run --rm -it --network none ${TOOLS} runtime-probe tiocsti ${text(flags[1])}`,
        `${cli()} exec -t ${id} runtime-probe tiocsti ${text(flags[2])}`,
        `${cli()} run --rm --network none ${TOOLS} runtime-probe tiocsti ${text(flags[3])}`,
        `${cli()} exec ${id} runtime-probe tiocsti ${text(flags[4])}`,
      ].join('; '),
    );
    expect(out).toContain('OUTER-ALIVE');
    for (const f of flags) expect(fs.existsSync(f), `${f}\n${out}`).toBe(false);
    // with a tty the bytes went into the container's own terminal and came back to it
    const got = out.split('\n').filter((l) => l.startsWith('got '));
    expect(got.length, out).toBe(5);
    for (let i = 0; i < 3; i++) expect(got[i], out).toContain(`touch ${flags[i]}\\n`);
    // without one there is nothing to push into
    for (let i = 3; i < 5; i++) expect(got[i], out).toBe('got ');
    expect(out).toMatch(/sti fd0 Inappropriate ioctl for device/);
    expect(out).toMatch(/sti \/dev\/tty No such device or address/);
  }, 180000);
});

// ---- 7. host-side operations on a container's files ------------------------------------

describe('host-side operations never follow a container\'s symlinks', () => {
  it('exec -u NAME reads the container\'s own /etc/passwd, through its symlinks inside, never the host\'s', async () => {
    const id = await runDetached([...NONET, TOOLS, 'sleep', '600']);
    await berthOk(['exec', id, 'sh', '-c', `ln -sf ${outside}/passwd /etc/passwd`]);
    const r = await berth(['exec', '-u', 'hostonly', id, 'id', '-u']);
    expect(r.status).not.toBe(0);
    expect(r.stdout).not.toContain('4242');
    expect(r.stderr).toMatch(/\/etc\/passwd/);
    // the same path made inside is what counts
    await berthOk(['exec', id, 'sh', '-c', `mkdir -p ${outside} && echo 'inside:x:4343:4343::/:/bin/sh' > ${outside}/passwd`]);
    const ok = await berthOk(['exec', '-u', 'inside', id, 'id', '-u']);
    expect(ok.stdout.trim()).toBe('4343');
    expect(fs.readFileSync(path.join(outside, 'passwd'), 'utf8')).toBe('hostonly:x:4242:4242::/:/bin/sh\n');
  });

  it('an /etc/passwd or /etc/group that is a FIFO or a device is refused at once, and the helper keeps serving', async () => {
    const id = await runDetached([...NONET, TOOLS, 'sleep', '600']);
    await berthOk(['exec', id, 'sh', '-c', 'rm /etc/group && mkfifo /etc/group && ln -sf /dev/zero /etc/passwd']);
    const a = await berth(['exec', '-u', 'someone', id, 'true'], { timeoutMs: 20000 });
    expect(a.status).not.toBe(0);
    expect(a.stderr).toMatch(/\/etc\/passwd` is not a regular file/);
    const b = await berth(['exec', '-u', '0:somegroup', id, 'true'], { timeoutMs: 20000 });
    expect(b.status).not.toBe(0);
    expect(b.stderr).toMatch(/\/etc\/group` is not a regular file/);
    expect((await berthOk(['exec', id, 'echo', 'still'])).stdout).toBe('still\n');
  });

  it('/etc/hosts rewrites for a user network go to the container\'s own file, whatever it plants', async () => {
    const before = snapshot(outside);
    const net = uniqueName('rtnet');
    await berthOk(['network', 'create', net]);
    madeNetworks.add(net);
    const a = await runDetached(['--network', net, '--name', uniqueName('rt-a'), TOOLS, 'sleep', '600']);
    const tries = await sh(a, `rm -f /etc/hosts; mv /etc/hosts /etc/hosts.x; ln -sf ${outside}/hosts /etc/hosts; chmod 4777 /etc/hosts; echo done`);
    expect(tries.out).toContain('done');
    const bName = uniqueName('rt-b');
    await runDetached(['--network', net, '--name', bName, TOOLS, 'sleep', '600']);
    const hosts = await berthOk(['exec', a, 'cat', '/etc/hosts']);
    expect(hosts.stdout).toContain(bName);
    expect(snapshot(outside)).toEqual(before);
  });

  it('commit, export and diff archive planted symlinks as symlinks and read no host file', async () => {
    const id = await runDetached([...NONET, TOOLS, 'sleep', '600']);
    await berthOk(['exec', id, 'sh', '-c', `ln -s ${outside}/secret /leak; ln -sf ${outside}/secret /etc/motd; mkdir -p /deep/a; ln -s ${outside} /deep/a/dir; ln -s ../../../../../../..${outside}/secret /deep/up`]);
    const diff = await berthOk(['diff', id]);
    expect(diff.stdout).toMatch(/\/leak/);
    expect(diff.stdout).not.toContain('host secret');

    const tarPath = path.join(work, 'export.tar');
    await berthOk(['export', '-o', tarPath, id]);
    const bytes = fs.readFileSync(tarPath);
    expect(bytes.includes('host secret 7f3a9c')).toBe(false);
    const listing = execFileSync('tar', ['-tvf', tarPath], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
    expect(listing).toMatch(/^l.* \.?\/?leak -> /m);

    const ref = 'rt-attack/committed:1';
    const blobsBefore = new Set(fs.readdirSync(path.join(testEnv().root, 'blobs/sha256')));
    await berthOk(['commit', '-q', id, ref]);
    madeImages.add(ref);
    for (const b of fs.readdirSync(path.join(testEnv().root, 'blobs/sha256')).filter((x) => !blobsBefore.has(x))) {
      const raw = fs.readFileSync(path.join(testEnv().root, 'blobs/sha256', b));
      const plain = raw[0] === 0x1f && raw[1] === 0x8b ? zlib.gunzipSync(raw) : raw;
      expect(plain.includes('host secret 7f3a9c'), `blob ${b}`).toBe(false);
    }
    const inNew = await berth(['run', '--rm', ...NONET, ref, 'sh', '-c', 'readlink /leak; cat /leak']);
    expect(inNew.stdout).toContain(`${outside}/secret`);
    expect(inNew.stdout).not.toContain('host secret');
    expect(fs.readFileSync(path.join(outside, 'secret'), 'utf8')).toBe('host secret 7f3a9c\n');
  });
});
