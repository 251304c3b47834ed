// berth cp (container.copy.in / container.copy.out) through the real CLI and berthd:
// files and directories in and out of running and stopped containers, docker's
// naming rules (into a directory, or as a new name), owners (root unless -a),
// a tar on stdin or stdout, a volume seen through a running container's own
// mounts, and what a hostile container plants (symlinks to its /, a tar with
// `..`) staying inside it.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { berth, berthOk, mountsMentioning, removeTracked, runDetached, testEnv, track, uniqueName, waitExited } from './support/berth';

const NET = ['--network', 'none'];
let host = '';

beforeAll(() => {
  host = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-cp-'));
  fs.writeFileSync(path.join(host, 'note.txt'), 'from the host\n');
  fs.mkdirSync(path.join(host, 'tree/sub'), { recursive: true });
  fs.writeFileSync(path.join(host, 'tree/sub/deep.txt'), 'deep\n');
  fs.symlinkSync('sub/deep.txt', path.join(host, 'tree/link'));
  fs.writeFileSync(path.join(host, 'owned.txt'), 'owned\n');
  fs.chownSync(path.join(host, 'owned.txt'), 1234, 2345);
});

afterEach(removeTracked);
afterAll(() => fs.rmSync(host, { recursive: true, force: true }));

async function sh(id: string, script: string): Promise<string> {
  return (await berthOk(['exec', id, 'sh', '-c', script])).stdout;
}

function copyLeftovers(): string[] {
  const tmp = path.join(testEnv().root, 'tmp');
  return [...(fs.existsSync(tmp) ? fs.readdirSync(tmp).filter((f) => f.startsWith('copy')) : []), ...mountsMentioning(path.join(tmp, 'copy'))];
}

describe('berth cp into and out of a running container', () => {
  it('copies a file into a directory and a directory under a new name; owners are root unless -a', async () => {
    const id = await runDetached([...NET, 'busybox', 'sleep', '60']);
    await berthOk(['cp', path.join(host, 'note.txt'), `${id}:/tmp`]);
    expect(await sh(id, 'cat /tmp/note.txt; stat -c %u:%g /tmp/note.txt')).toBe('from the host\n0:0\n');
    await berthOk(['cp', path.join(host, 'tree'), `${id}:/tmp/copied`]);
    expect(await sh(id, 'cat /tmp/copied/sub/deep.txt; readlink /tmp/copied/link')).toBe('deep\nsub/deep.txt\n');
    // relative container paths start at its root, as docker's do
    await berthOk(['cp', path.join(host, 'owned.txt'), `${id}:tmp/kept.txt`]);
    expect(await sh(id, 'stat -c %u:%g /tmp/kept.txt')).toBe('0:0\n');
    await berthOk(['cp', '-a', path.join(host, 'owned.txt'), `${id}:/tmp/kept.txt`]);
    expect(await sh(id, 'cat /tmp/kept.txt; stat -c %u:%g /tmp/kept.txt')).toBe('owned\n1234:2345\n');
  });

  it('copies out into a directory, under a new name, and as a tar on stdout', async () => {
    const id = await runDetached([...NET, 'busybox', 'sh', '-c', 'mkdir -p /srv/site/img && echo hello > /srv/site/index.html && echo png > /srv/site/img/a.png && sleep 60']);
    await new Promise((r) => setTimeout(r, 300));
    const out = fs.mkdtempSync(path.join(host, 'out-'));
    await berthOk(['cp', `${id}:/srv/site/index.html`, out]);
    expect(fs.readFileSync(path.join(out, 'index.html'), 'utf8')).toBe('hello\n');
    await berthOk(['cp', `${id}:/srv/site`, path.join(out, 'mirror')]);
    expect(fs.readFileSync(path.join(out, 'mirror/img/a.png'), 'utf8')).toBe('png\n');
    expect(fs.statSync(path.join(out, 'mirror/img/a.png')).uid).toBe(process.getuid?.());
    const tar = await berth(['cp', `${id}:/srv/site/img`, '-']);
    expect(tar.status).toBe(0);
    fs.writeFileSync(path.join(out, 'img.tar'), tar.stdout, 'latin1');
    expect(execFileSync('tar', ['-tf', path.join(out, 'img.tar')]).toString().split('\n').filter(Boolean).sort()).toEqual(['img/', 'img/a.png']);
  });

  it("writes into a volume through the container's own mounts, and reads a tar from stdin", async () => {
    const vol = uniqueName('cpvol');
    const id = await runDetached([...NET, '-v', `${vol}:/data`, 'busybox', 'sleep', '60']);
    try {
      await berthOk(['cp', path.join(host, 'note.txt'), `${id}:/data/`]);
      expect(fs.readFileSync(path.join(testEnv().root, 'volumes', vol, '_data/note.txt'), 'utf8')).toBe('from the host\n');
      const tar = execFileSync('tar', ['-c', '-C', path.join(host, 'tree'), 'sub']);
      await berthOk(['cp', '-', `${id}:/data`], { input: tar });
      expect(await sh(id, 'cat /data/sub/deep.txt')).toBe('deep\n');
    } finally {
      await berth(['rm', '-f', id]);
      await berth(['volume', 'rm', '-f', vol]);
    }
  });
});

describe('berth cp with a container that is not running', () => {
  it('copies into a created container before its start and out of an exited one; leaves no mount behind', async () => {
    const name = track(uniqueName('cpstopped'));
    await berthOk(['create', ...NET, '--name', name, 'busybox', 'sh', '-c', 'cat /etc/app.conf; echo made > /result']);
    await berthOk(['cp', path.join(host, 'note.txt'), `${name}:/etc/app.conf`]);
    expect(copyLeftovers()).toEqual([]);
    const r = await berthOk(['start', '-a', name]);
    expect(r.stdout).toBe('from the host\n');
    await waitExited(name);
    const out = fs.mkdtempSync(path.join(host, 'stopped-'));
    await berthOk(['cp', `${name}:/result`, path.join(out, 'result.txt')]);
    expect(fs.readFileSync(path.join(out, 'result.txt'), 'utf8')).toBe('made\n');
    expect(copyLeftovers()).toEqual([]);
  });
});

describe('berth cp keeps a hostile container to itself', () => {
  for (const running of [true, false]) {
    it(`symlinks to / and .. in a tar lead nowhere outside (${running ? 'running' : 'stopped'})`, async () => {
      const mark = `berth-cp-escape-${process.pid}-${running ? 'r' : 's'}`;
      const plant = `ln -s / /tmp/evil && ln -s ../../../../../.. /tmp/up && echo inside > /etc/marker`;
      const id = running
        ? await runDetached([...NET, 'busybox', 'sh', '-c', `${plant} && sleep 60`])
        : await runDetached([...NET, 'busybox', 'sh', '-c', plant]);
      if (running) await new Promise((r) => setTimeout(r, 300));
      else await waitExited(id);

      // in through symlinks the container made: lands in its own /
      await berthOk(['cp', path.join(host, 'note.txt'), `${id}:/tmp/evil/${mark}`]);
      await berthOk(['cp', path.join(host, 'note.txt'), `${id}:/tmp/up/${mark}-up`]);
      expect(fs.existsSync(`/${mark}`)).toBe(false);
      expect(fs.existsSync(`/${mark}-up`)).toBe(false);
      // out through them: the container's files, not the host's
      const out = fs.mkdtempSync(path.join(host, 'hostile-'));
      await berthOk(['cp', `${id}:/tmp/evil/etc/marker`, path.join(out, 'h')]);
      expect(fs.readFileSync(path.join(out, 'h'), 'utf8')).toBe('inside\n');
      await berthOk(['cp', `${id}:/${mark}`, path.join(out, 'm')]);
      expect(fs.readFileSync(path.join(out, 'm'), 'utf8')).toBe('from the host\n');

      // a tar whose entry climbs out is refused, and writes nothing
      const evilTar = path.join(out, 'evil.tar');
      execFileSync('tar', ['-c', '-f', evilTar, '-C', host, '--transform', `s,^note.txt,../../../../${mark}-tar,`, 'note.txt']);
      const refused = await berth(['cp', '-', `${id}:/tmp`], { input: fs.readFileSync(evilTar) });
      expect(refused.status).toBe(125);
      expect(refused.stderr).toMatch(/\.\./);
      expect(fs.existsSync(`/${mark}-tar`)).toBe(false);
      expect(copyLeftovers()).toEqual([]);
    });
  }
});

describe('berth cp says what was wrong', () => {
  it('a missing path in the container or here, two local paths, an unknown container', async () => {
    const id = await runDetached([...NET, 'busybox', 'sleep', '60']);
    const missing = await berth(['cp', `${id}:/no/such/file`, host]);
    expect(missing.status).toBe(125);
    expect(missing.stderr).toMatch(/^berth: no `\/no\/such\/file` in the container\n$/);
    const dots = await berth(['cp', `${id}:/tmp/..`, host]);
    expect(dots.status).toBe(125);
    expect(dots.stderr).toMatch(/ends in `\.` or `\.\.`: name the directory itself/);
    const local = await berth(['cp', path.join(host, 'nope.txt'), `${id}:/tmp`]);
    expect(local.status).toBe(125);
    expect(local.stderr).toMatch(/nope\.txt/);
    const intoMissing = await berth(['cp', path.join(host, 'note.txt'), `${id}:/no/dir/x`]);
    expect(intoMissing.status).toBe(125);
    expect(intoMissing.stderr).toMatch(/no directory `\/no\/dir` in the container/);
    const both = await berth(['cp', path.join(host, 'note.txt'), path.join(host, 'again.txt')]);
    expect(both.status).toBe(125);
    expect(both.stderr).toMatch(/one of SRC and DEST is CONTAINER:PATH/);
    const unknown = await berth(['cp', path.join(host, 'note.txt'), 'no-such-container:/tmp']);
    expect(unknown.status).toBe(125);
    expect(unknown.stderr).toMatch(/no-such-container/);
  });
});
