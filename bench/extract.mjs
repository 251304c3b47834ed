#!/usr/bin/env node
// Layer extraction throughput (npm run bench). Not a test: it measures and prints,
// and exits 0 whatever the numbers are.
//
// A synthetic ~200 MB layer (many files of mixed sizes, half random and half
// text-like content, a few symlinks and hard links; deterministic, built once into
// a cache dir) in two variants, plain tar and gzip. For each variant, alternating:
//   (A) berthd's own extraction: image.import (format rootfs) called directly on
//       the helper's socket, into a store where the layer is not yet present
//       (the image and its layer are removed and pruned after each run);
//   (B) `tar -xf` of the same file into a fresh directory.
// Both read the same file (warm page cache after an untimed first run each) and
// write to the same filesystem. Medians, MB/s of the uncompressed tar, and the
// ratio A/B of throughput. Target: A at least 0.8x of tar's throughput.
//
// Needs root. Uses the optimised helper (BENCH_BERTHD, else native-helper/build/berthd
// built with make) on a temp store, in a cgroup of its own beneath ours.
// Environment: BENCH_EXTRACT_RUNS (default 5), BENCH_EXTRACT_MB (default 200),
// BENCH_CACHE (default /tmp/berth-bench-cache).
import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import zlib from 'node:zlib';

import { alive, helperBinary, inBenchNetns, lines, median, ownV1Cgroups, repo, rmCgroupTree, waitUntil } from './lib/support.mjs';

const RUNS = Number(process.env.BENCH_EXTRACT_RUNS ?? 5);
const TARGET_MB = Number(process.env.BENCH_EXTRACT_MB ?? 200);
const CACHE = process.env.BENCH_CACHE ?? '/tmp/berth-bench-cache';
const TARGET_RATIO = 0.8;
/** Bump when the layer's recipe changes, so an old cache is not used. */
const RECIPE = 1;


// --- the synthetic layer ----------------------------------------------------------

/** xorshift128+: fast deterministic bytes. */
class Rng {
  constructor(seed) {
    this.a = BigInt(seed) | 1n;
    this.b = 0x9e3779b97f4a7c15n;
  }
  next() {
    let s1 = this.a;
    const s0 = this.b;
    this.a = s0;
    s1 ^= (s1 << 23n) & 0xffffffffffffffffn;
    this.b = s1 ^ s0 ^ (s1 >> 17n) ^ (s0 >> 26n);
    return Number((this.b + s0) & 0xffffffffn);
  }
  int(n) {
    return this.next() % n;
  }
}

const WORDS = 'the quick brown fox jumps over lazy dog layer image berth container overlay mount namespace cgroup config manifest digest'.split(' ');

/** Content of one file: random (incompressible) or text-like, from a seeded stream. */
function fileContent(seed, size, random) {
  if (size === 0) return Buffer.alloc(0);
  if (random) {
    // sha256 in counter mode: deterministic and fast enough, and does not compress.
    const out = Buffer.alloc(size);
    for (let off = 0, i = 0; off < size; off += 32, i++) crypto.createHash('sha256').update(`${seed}:${i}`).digest().copy(out, off);
    return out;
  }
  const rng = new Rng(seed);
  const parts = [];
  let n = 0;
  while (n < size) {
    const w = WORDS[rng.int(WORDS.length)] + (rng.int(12) === 0 ? '\n' : ' ');
    parts.push(w);
    n += w.length;
  }
  return Buffer.from(parts.join('').slice(0, size));
}

function octal(n, width) {
  return n.toString(8).padStart(width - 1, '0') + '\0';
}

/** A ustar header block. */
function tarHeader(name, { size = 0, mode = 0o644, type = '0', link = '' }) {
  const h = Buffer.alloc(512);
  h.write(name, 0, 100);
  h.write(octal(mode, 8), 100);
  h.write(octal(0, 8), 108);
  h.write(octal(0, 8), 116);
  h.write(octal(size, 12), 124);
  h.write(octal(1700000000, 12), 136);
  h.write('        ', 148);
  h.write(type, 156);
  h.write(link, 157, 100);
  h.write('ustar\0', 257);
  h.write('00', 263);
  h.write('root', 265);
  h.write('root', 297);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(octal(sum, 7) + ' ', 148);
  return h;
}

/** Writes the layer tar: ~TARGET_MB of small, medium and large files in 160 dirs. */
function writeLayer(file) {
  const fd = fs.openSync(file, 'w');
  const rng = new Rng(42);
  let total = 0;
  const put = (buf) => {
    fs.writeSync(fd, buf);
    total += buf.length;
  };
  const addFile = (name, content, mode = 0o644) => {
    put(tarHeader(name, { size: content.length, mode }));
    put(content);
    if (content.length % 512) put(Buffer.alloc(512 - (content.length % 512)));
  };
  const budget = TARGET_MB * 1e6;
  const dirs = [];
  for (let i = 0; i < 16; i++) for (let j = 0; j < 10; j++) dirs.push(`usr/lib/pkg${i}/sub${j}/`);
  for (const top of ['usr/', 'usr/lib/']) put(tarHeader(top, { type: '5', mode: 0o755 }));
  for (let i = 0; i < 16; i++) put(tarHeader(`usr/lib/pkg${i}/`, { type: '5', mode: 0o755 }));
  for (const d of dirs) put(tarHeader(d, { type: '5', mode: 0o755 }));
  let n = 0;
  // Shares of the budget: 35% small files (0-8 KiB), 40% medium (64-512 KiB), 25% large (4-12 MiB).
  const classes = [
    [0.35, () => rng.int(8192)],
    [0.4, () => 65536 + rng.int(458752)],
    [0.25, () => 4194304 + rng.int(8388608)],
  ];
  for (const [share, sizeOf] of classes) {
    let used = 0;
    while (used < budget * share) {
      const size = sizeOf();
      const base = `f${n}.${size % 3 === 0 ? 'bin' : 'txt'}`;
      const dir = dirs[n % dirs.length];
      addFile(dir + base, fileContent(n, size, n % 2 === 0), n % 7 === 0 ? 0o755 : 0o644);
      used += size;
      if (n % 50 === 49) {
        put(tarHeader(`${dir}link${n}`, { type: '2', link: base, mode: 0o777 }));
        put(tarHeader(`${dir}hard${n}`, { type: '1', link: dir + base }));
      }
      n++;
    }
  }
  put(Buffer.alloc(1024));
  fs.closeSync(fd);
  return { files: n, bytes: total };
}

/** The cached layer: {plain, gzip, bytes}; built on first use. */
function layer() {
  const dir = path.join(CACHE, `extract-r${RECIPE}-${TARGET_MB}mb`);
  const plain = path.join(dir, 'layer.tar');
  const gzip = path.join(dir, 'layer.tar.gz');
  const stamp = path.join(dir, 'done.json');
  if (!fs.existsSync(stamp)) {
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(dir, { recursive: true });
    const t0 = Date.now();
    console.log(`  building the ${TARGET_MB} MB layer in ${dir} (once) ...`);
    const info = writeLayer(plain);
    // Hard links whose target name is wrong would fail every extraction: check with tar first.
    const check = spawnSync('tar', ['-tf', plain], { encoding: 'utf8', maxBuffer: 1 << 28 });
    if (check.status !== 0) throw new Error(`the synthetic layer does not list: ${check.stderr}`);
    fs.writeFileSync(gzip, zlib.gzipSync(fs.readFileSync(plain), { level: 6 }));
    fs.writeFileSync(stamp, JSON.stringify(info));
    console.log(`  built in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  }
  const info = JSON.parse(fs.readFileSync(stamp, 'utf8'));
  return { plain, gzip, tarBytes: fs.statSync(plain).size, gzBytes: fs.statSync(gzip).size, files: info.files };
}

// --- berthd -------------------------------------------------------------------------

/** One request on its own connection; a worker stream is read to its RESULT frame. */
function request(socket, method, params) {
  return new Promise((resolve, reject) => {
    const sock = net.createConnection(socket);
    let buf = Buffer.alloc(0);
    let upgraded = false;
    const done = (fn, v) => {
      sock.destroy();
      fn(v);
    };
    sock.on('error', (e) => done(reject, e));
    sock.on('close', () => reject(new Error(`berthd closed the connection during ${method}`)));
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      if (!upgraded) {
        const nl = buf.indexOf(10);
        if (nl < 0) return;
        const reply = JSON.parse(buf.subarray(0, nl).toString('utf8'));
        buf = buf.subarray(nl + 1);
        if (!reply.ok) return done(reject, new Error(`${method}: ${reply.error.code}: ${reply.error.message}`));
        if (reply.result?.stream !== true) return done(resolve, reply.result);
        upgraded = true;
      }
      while (buf.length >= 5) {
        const len = buf.readUInt32BE(1);
        if (buf.length < 5 + len) return;
        const type = buf[0];
        const payload = buf.subarray(5, 5 + len);
        buf = buf.subarray(5 + len);
        if (type === 9) return done(resolve, JSON.parse(payload.toString('utf8')));
        if (type === 7) {
          const e = JSON.parse(payload.toString('utf8'));
          return done(reject, new Error(`${method}: ${e.code}: ${e.message}`));
        }
      }
    });
    sock.write(JSON.stringify({ v: 1, id: 1, method, params }) + '\n');
  });
}

// --- measuring ------------------------------------------------------------------------

async function timeHelper(socket, file, ref) {
  const t0 = process.hrtime.bigint();
  const r = await request(socket, 'image.import', { path: file, format: 'rootfs', ref });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  const images = Array.isArray(r.images) ? r.images : [r];
  // Untimed: remove the image and prune its layer, so that the next run extracts again.
  await request(socket, 'image.remove', { ref, force: true });
  await request(socket, 'image.prune', { all: false });
  return { ms, id: images[0]?.id };
}

function timeTar(file, dest, gz) {
  fs.mkdirSync(dest);
  const t0 = process.hrtime.bigint();
  const r = spawnSync('tar', [gz ? '-xzf' : '-xf', file, '-C', dest], { encoding: 'utf8' });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`tar -xf ${file} failed: ${r.stderr}`);
  fs.rmSync(dest, { recursive: true, force: true });
  return ms;
}

async function main() {
  if (process.getuid() !== 0) throw new Error('the benchmark runs berthd and needs root');
  const berthd = helperBinary();
  const lay = layer();
  console.log(
    `\nLayer extraction: ${lay.files} files, tar ${(lay.tarBytes / 1e6).toFixed(1)} MB, gzip ${(lay.gzBytes / 1e6).toFixed(1)} MB; ${RUNS} runs each, alternating`,
  );

  const tmp = fs.mkdtempSync('/tmp/bx-');
  const root = path.join(tmp, 'root');
  const socket = path.join(tmp, 'b.sock');
  const logPath = path.join(tmp, 'berthd.log');
  const cgDirs = ownV1Cgroups().map((d) => path.join(d, `berth-bench-${path.basename(tmp)}`));
  let helper = null;
  try {
    for (const d of cgDirs) fs.mkdirSync(d);
    const moves = cgDirs.map((d) => `echo $$ > '${d}/cgroup.procs' || exit 97; `).join('');
    const logFd = fs.openSync(logPath, 'a');
    helper = spawn(inBenchNetns()[0], [...inBenchNetns().slice(1), '/bin/sh', '-c', `${moves}exec "$0" "$@"`, berthd, '--foreground', '--root', root, '--socket', socket], { stdio: ['ignore', logFd, logFd] });
    fs.closeSync(logFd);
    const up = await waitUntil(async () => {
      if (!alive(helper.pid)) return true;
      return request(socket, 'hello', {}).then(
        () => true,
        () => false,
      );
    }, 20000);
    if (!up || !alive(helper.pid)) throw new Error(`berthd did not come up; log:\n${fs.readFileSync(logPath, 'utf8')}`);

    const results = [];
    for (const [variant, file, gz] of [
      ['plain tar', lay.plain, false],
      ['gzip', lay.gzip, true],
    ]) {
      const helperMs = [];
      const tarMs = [];
      // Untimed first run of each: page cache and first-touch costs.
      await timeHelper(socket, file, 'bench-extract:warm');
      timeTar(file, path.join(tmp, 'tar-warm'), gz);
      for (let i = 0; i < RUNS; i++) {
        // A/B order alternates so that neither always runs second.
        if (i % 2 === 0) {
          helperMs.push((await timeHelper(socket, file, `bench-extract:${i}`)).ms);
          tarMs.push(timeTar(file, path.join(tmp, `tar-${i}`), gz));
        } else {
          tarMs.push(timeTar(file, path.join(tmp, `tar-${i}`), gz));
          helperMs.push((await timeHelper(socket, file, `bench-extract:${i}`)).ms);
        }
      }
      results.push({ variant, helperMs, tarMs });
    }

    const mbps = (ms) => lay.tarBytes / 1e6 / (ms / 1000);
    console.log(`\n  ${'variant'.padEnd(10)} ${'measure'.padEnd(30)} ${'median'.padStart(10)} ${'min'.padStart(10)} ${'max'.padStart(10)} ${'MB/s'.padStart(8)}`);
    for (const r of results) {
      for (const [name, xs] of [
        ['(A) berthd image.import', r.helperMs],
        [`(B) tar ${r.variant === 'gzip' ? '-xzf' : '-xf'}`, r.tarMs],
      ]) {
        console.log(
          `  ${r.variant.padEnd(10)} ${name.padEnd(30)} ${`${median(xs).toFixed(0)} ms`.padStart(10)} ${`${Math.min(...xs).toFixed(0)} ms`.padStart(10)} ${`${Math.max(...xs).toFixed(0)} ms`.padStart(10)} ${mbps(median(xs)).toFixed(0).padStart(8)}`,
        );
      }
    }
    console.log('');
    for (const r of results) {
      const ratio = median(r.tarMs) / median(r.helperMs);
      console.log(`  ${r.variant}: berthd throughput = ${ratio.toFixed(2)}x tar's; target >= ${TARGET_RATIO}x: ${ratio >= TARGET_RATIO ? 'met' : 'NOT met'}`);
    }
    console.log('  (MB/s of the uncompressed tar; berthd also stores the blob, hashes it and the diffID, and records the image)');
  } finally {
    if (helper && alive(helper.pid)) {
      helper.kill('SIGTERM');
      if (!(await waitUntil(() => !alive(helper.pid), 10000))) helper.kill('SIGKILL');
      await waitUntil(() => !alive(helper.pid), 5000);
    }
    for (const d of cgDirs) rmCgroupTree(d);
    const mounted = lines('/proc/self/mountinfo').some((l) => l.split(' ')[4].startsWith(tmp));
    if (mounted) console.error(`bench: mounts remain under ${tmp}; left in place`);
    else fs.rmSync(tmp, { recursive: true, force: true });
  }
}

main()
  .catch((e) => console.error(`bench: ${e.message}`))
  .finally(() => process.exit(0));
