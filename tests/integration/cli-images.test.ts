// The image verbs of the CLI against the real helper: save/load round trip, tag,
// history and layers (tables and --json), image prune, commit/diff/export of a
// busybox container, rmi of an image in use, and one-line errors for bad input.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { berth, berthJson, berthOk, describeResult, removeTracked, runDetached, testEnv, track, uniqueName, waitExited } from './support/berth';

interface ImageSummary {
  id: string;
  refs: string[];
  size: number;
  layers: number;
}

let tmp = '';
/** Every image ref a test made; removed (rmi -f) at the end. */
const madeRefs = new Set<string>();

/** A small root filesystem tarball: a few files, deterministic content. */
function rootfsTar(name: string, files: Record<string, string>): string {
  const dir = path.join(tmp, `${name}-rootfs`);
  for (const [rel, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    fs.writeFileSync(path.join(dir, rel), text);
  }
  const tar = path.join(tmp, `${name}.tar`);
  execFileSync('tar', ['-C', dir, '-cf', tar, '.']);
  return tar;
}

async function images(): Promise<ImageSummary[]> {
  return berthJson<ImageSummary[]>(['images', '--json']);
}

async function imageByRef(ref: string): Promise<ImageSummary | undefined> {
  return (await images()).find((i) => i.refs.includes(ref));
}

async function importImage(ref: string, files: Record<string, string>): Promise<string> {
  const r = await berthOk(['import', rootfsTar(ref.replace(/[^a-z0-9]/g, '_'), files), ref]);
  madeRefs.add(ref);
  const id = r.stdout.trim();
  expect(id).toMatch(/^sha256:[0-9a-f]{64}$/);
  return id;
}

/** `berth ARGS > file`: stdout straight into a file (binary safe). */
function berthToFile(args: string[], file: string): { status: number; stderr: string } {
  const e = testEnv();
  const fd = fs.openSync(file, 'w');
  try {
    const r = spawnSync(process.execPath, [path.join(e.repo, 'bin/berth.mjs'), ...args], {
      env: { ...process.env, BERTH_ROOT: e.root, BERTH_SOCKET: e.socket, BERTHD: e.berthd, NO_COLOR: '1', BERTH_NO_AUTOSTART: '1' },
      stdio: ['ignore', fd, 'pipe'],
      encoding: 'utf8',
      timeout: 60000,
    });
    return { status: r.status ?? 128, stderr: r.stderr ?? '' };
  } finally {
    fs.closeSync(fd);
  }
}

function tarList(file: string): string[] {
  return execFileSync('tar', ['-tf', file], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 })
    .split('\n')
    .filter(Boolean)
    .map((p) => p.replace(/^\.\//, '').replace(/\/$/, ''));
}

/** One line on stderr, `berth: ...`, status 125, nothing on stdout. */
function expectOneLineError(args: string[], r: { status: number; stdout: string; stderr: string }, pattern: RegExp): void {
  const ctx = describeResult(args, { ...r, signal: null, ms: 0 });
  expect(r.status, ctx).toBe(125);
  expect(r.stdout, ctx).toBe('');
  const lines = r.stderr.split('\n').filter(Boolean);
  expect(lines, ctx).toHaveLength(1);
  expect(lines[0], ctx).toMatch(/^berth: /);
  expect(lines[0], ctx).toMatch(pattern);
}

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-cli-images-'));
});

afterAll(async () => {
  await removeTracked();
  for (const ref of madeRefs) await berth(['rmi', '-f', ref]).catch(() => undefined);
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('berth save / load / tag', () => {
  it('save -o then load gives back the same image under its name', async () => {
    const ref = `cli-rt-${process.pid}:1`;
    const id = await importImage(ref, { 'etc/hello': 'hello\n', 'usr/share/data.txt': 'x'.repeat(10000) });
    const archive = path.join(tmp, 'rt.tar');
    await berthOk(['save', '-o', archive, ref]);
    const members = tarList(archive);
    expect(members).toContain('oci-layout');
    expect(members).toContain('index.json');
    expect(members).toContain('manifest.json');

    // -o replaces an existing file (docker's habit).
    await berthOk(['save', '-o', archive, ref]);

    const rmi = await berthOk(['rmi', ref]);
    expect(rmi.stdout).toContain(`Deleted: ${id}`);
    expect(await imageByRef(ref)).toBeUndefined();

    const loaded = await berthOk(['load', '-i', archive]);
    expect(loaded.stdout).toBe(`Loaded image: ${ref}\n`);
    expect((await imageByRef(ref))?.id).toBe(id);
  });

  it('save to stdout writes the archive; load reads one from stdin', async () => {
    const ref = `cli-stdout-${process.pid}:1`;
    const id = await importImage(ref, { 'a.txt': 'a\n' });
    const archive = path.join(tmp, 'stdout.tar');
    const r = berthToFile(['save', ref], archive);
    expect(r.status, r.stderr).toBe(0);
    expect(tarList(archive)).toContain('index.json');
    await berthOk(['rmi', ref]);
    const loaded = await berthOk(['load'], { input: fs.readFileSync(archive) });
    expect(loaded.stdout).toBe(`Loaded image: ${ref}\n`);
    expect((await imageByRef(ref))?.id).toBe(id);
  });

  it('tag gives an image a second name; rmi of one name only untags', async () => {
    const ref = `cli-tag-${process.pid}:1`;
    const id = await importImage(ref, { 'tagged.txt': 'tag\n' });
    const target = `cli-tag-${process.pid}:two`;
    madeRefs.add(target);
    const t = await berthOk(['tag', ref, target]);
    expect(t.stdout).toBe('');
    const img = await imageByRef(target);
    expect(img?.id).toBe(id);
    expect(img?.refs).toEqual(expect.arrayContaining([ref, target]));

    const rmi = await berthOk(['image', 'rm', target]);
    expect(rmi.stdout).toContain(`Untagged: ${target}`);
    expect(rmi.stdout).not.toContain('Deleted:');
    expect((await imageByRef(ref))?.id).toBe(id);
  });

  it('image ls and image inspect are the top-level verbs', async () => {
    const ls = await berthOk(['image', 'ls']);
    expect(ls.stdout.split('\n')[0]).toMatch(/^REPOSITORY\s+TAG\s+IMAGE ID\s+CREATED\s+SIZE$/);
    const [img] = await berthJson<{ id: string; refs: string[]; config: unknown; layers: unknown[] }[]>(['image', 'inspect', 'busybox']);
    expect(img.refs).toContain('busybox:latest');
    expect(img.layers.length).toBeGreaterThan(0);
  });
});

describe('berth history and layers', () => {
  it('history shows docker columns, newest first; --json the rows', async () => {
    const r = await berthOk(['history', 'busybox']);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^IMAGE\s+CREATED\s+CREATED BY\s+SIZE\s+COMMENT$/);
    expect(lines.length).toBeGreaterThan(1);
    const rows = await berthJson<{ id: string; created: string; createdBy: string; size: number; comment: string; emptyLayer: boolean }[]>(['history', '--json', 'busybox']);
    const [img] = await berthJson<{ id: string }[]>(['image', 'inspect', 'busybox']);
    expect(rows[0].id).toBe(img.id);
    expect(rows.slice(1).every((x) => x.id === '<missing>')).toBe(true);
    expect(rows.some((x) => x.size > 0)).toBe(true);
    expect(lines[1].startsWith(img.id.slice(7, 19))).toBe(true);
    const q = await berthOk(['history', '-q', 'busybox']);
    expect(q.stdout.split('\n')[0]).toBe(img.id.slice(7, 19));
  });

  it('layers shows the stack base at the bottom and the totals; --json the image.layers object', async () => {
    const stack = await berthJson<{ id: string; size: number; wastedBytes: number; efficiency: number; layers: { index: number; digest: string; unpackedSize: number }[] }>([
      'layers',
      '--json',
      'busybox',
    ]);
    expect(stack.layers.length).toBeGreaterThan(0);
    expect(stack.efficiency).toBeGreaterThan(0);
    expect(stack.efficiency).toBeLessThanOrEqual(1);
    const r = await berthOk(['image', 'layers', 'busybox']);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^#\s+LAYER\s+SIZE\s+ADDED\s+MODIFIED\s+DELETED\s+WASTED\s+CREATED BY$/);
    // The base layer (index 0) is the last row of the table.
    const rows = lines.slice(1, 1 + stack.layers.length);
    expect(rows[rows.length - 1]).toMatch(/^0\s+[0-9a-f]{12}\s/);
    expect(r.stdout).toMatch(/total size \S+, wasted \S+, efficiency \d+(\.\d)?%/);
  });
});

describe('berth commit, diff, export', () => {
  afterEach(removeTracked);

  it('diff lists A/C/D like docker; commit makes an image with the changes; export writes the filesystem', async () => {
    const name = track(uniqueName('ci'));
    await berthOk(['run', '--name', name, 'busybox', 'sh', '-c', 'echo hi > /new.txt && echo extra >> /etc/passwd && rm /bin/ls']);
    expect((await waitExited(name)).exitCode).toBe(0);

    const d = await berthOk(['diff', name]);
    const lines = d.stdout.trim().split('\n');
    expect(lines).toContain('A /new.txt');
    expect(lines).toContain('C /etc/passwd');
    expect(lines).toContain('D /bin/ls');
    for (const l of lines) expect(l).toMatch(/^[ACD] \//);
    const dj = await berthJson<{ changes: { path: string; change: string }[]; files: { added: number; modified: number; deleted: number } }>(['diff', '--json', name]);
    expect(dj.changes).toEqual(expect.arrayContaining([expect.objectContaining({ path: '/new.txt', change: 'added' })]));
    expect(dj.files.deleted).toBeGreaterThanOrEqual(1);

    const ref = `cli-commit-${process.pid}:1`;
    madeRefs.add(ref);
    const c = await berthOk(['commit', '-m', 'added new.txt', '-a', 'Berth Test', '-c', 'CMD ["cat", "/new.txt"]', name, ref]);
    const id = c.stdout.trim();
    expect(id).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect((await imageByRef(ref))?.id).toBe(id);
    const run = await berthOk(['run', '--rm', ref]);
    expect(run.stdout).toBe('hi\n');
    const gone = await berth(['run', '--rm', ref, 'ls', '/']);
    expect(gone.status).not.toBe(0); // /bin/ls was deleted in the committed layer
    const hist = await berthJson<{ id: string; comment: string; createdBy: string }[]>(['history', '--json', ref]);
    expect(hist[0].id).toBe(id);
    expect(hist[0].comment).toBe('added new.txt');

    const out = path.join(tmp, 'export.tar');
    await berthOk(['export', '-o', out, name]);
    const members = tarList(out);
    expect(members).toContain('new.txt');
    expect(members).toContain('etc/passwd');
    expect(members).not.toContain('bin/ls');
    expect(members).toContain('bin/sh');

    const piped = path.join(tmp, 'export-stdout.tar');
    const r = berthToFile(['export', name], piped);
    expect(r.status, r.stderr).toBe(0);
    expect(tarList(piped)).toContain('new.txt');
  });

  it('rmi refuses an image a container uses, with one clear line', async () => {
    const ref = `cli-inuse-${process.pid}:1`;
    madeRefs.add(ref);
    await berthOk(['tag', 'busybox', ref]);
    // Tagging shares busybox's id; a committed image has an id of its own.
    const name = track(uniqueName('inuse-src'));
    await berthOk(['run', '--name', name, 'busybox', 'true']);
    await waitExited(name);
    await berthOk(['commit', name, ref]);
    await runDetached([ref, 'sleep', '60']);
    const args = ['rmi', ref];
    const r = await berth(args);
    expectOneLineError(args, r, /container|in use|used/i);
    expect(r.stderr).toMatch(/rmi -f|force|remove/);
    expect(await imageByRef(ref)).toBeDefined();
  });
});

describe('berth image prune', () => {
  it('removes an untagged image and says how much space it freed', async () => {
    const ref = `cli-prune-${process.pid}:1`;
    const id = await importImage(ref, { 'prune-me.bin': 'p'.repeat(50000) });
    // Moving the tag to another image leaves this one untagged.
    await berthOk(['tag', 'busybox', ref]);
    expect((await images()).find((i) => i.id === id)?.refs).toEqual([]);
    const r = await berthOk(['image', 'prune', '-f']);
    expect(r.stdout).toContain('Deleted Images:');
    expect(r.stdout).toContain(`deleted: ${id}`);
    expect(r.stdout).toMatch(/Total reclaimed space: \d+(\.\d+)?[kMG]?B\n$/);
    expect((await images()).some((i) => i.id === id)).toBe(false);
    // Nothing left to prune: still the summary line; --json the protocol object.
    const again = await berthJson<{ removed: string[]; reclaimedBytes: number }>(['image', 'prune', '-f', '--json']);
    expect(again.removed).not.toContain(id);
    // busybox is in use by nothing here but tagged: plain prune keeps it.
    expect(await imageByRef('busybox:latest')).toBeDefined();
  });

  it('without -f asks, and a "no" (or end of input) removes nothing', async () => {
    const r = await berthOk(['image', 'prune'], { input: 'n\n' });
    expect(r.stderr).toContain('Are you sure you want to continue? [y/N]');
    expect(r.stdout).toBe('');
  });
});

describe('bad input', () => {
  const cases: [string[], RegExp][] = [
    [['load', '-i', '/nonexistent/image.tar'], /no such file/],
    [['import', '/nonexistent/rootfs.tar', 'x:1'], /no such file/],
    [['pull', 'Not A Ref!'], /invalid image reference/],
    [['history', 'no-such-image-xyz:1'], /no-such-image-xyz|not found|no image/i],
    [['layers', 'no-such-image-xyz:1'], /no-such-image-xyz|not found|no image/i],
    [['save', '-o', '/tmp/berth-never-written.tar', 'no-such-image-xyz:1'], /no-such-image-xyz|not found|no image/i],
    [['tag', 'no-such-image-xyz:1', 'whatever:1'], /no-such-image-xyz|not found|no image/i],
    [['diff', 'no-such-container-xyz'], /no-such-container-xyz|not found|no container/i],
    [['commit', 'no-such-container-xyz'], /no-such-container-xyz|not found|no container/i],
    [['export', '-o', '/tmp/berth-never-written.tar', 'no-such-container-xyz'], /no-such-container-xyz|not found|no container/i],
    [['save', '-o', '/nonexistent-dir/x.tar', 'busybox'], /does not exist/],
    [['image', 'frobnicate'], /unknown command 'image frobnicate'/],
    [['load', 'extra-arg'], /takes no argument/],
  ];
  it.each(cases)('berth %j', async (args, pattern) => {
    expectOneLineError(args, await berth(args), pattern);
    expect(fs.existsSync('/tmp/berth-never-written.tar')).toBe(false);
  });
});
