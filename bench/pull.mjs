#!/usr/bin/env node
// Registry pull throughput (npm run bench). Not a test: it measures and prints,
// and exits 0 whatever the numbers are.
//
// A local docker-registry holds one image of 4 gzip'd layers (~50 MB of blobs,
// mostly incompressible). Timed, in the same run, alternating:
//  (1) berth: pullImage() into a fresh store of a berthd started for it (the
//      client resolves manifest and config; berthd downloads the 4 layers itself,
//      3 at a time, and verifies, stores and extracts each as it comes);
//  (2) skopeo copy --src-tls-verify=false docker://… oci:DIR (download and verify
//      only; skopeo extracts nothing), a process per run;
//  (3) (2) followed by umoci raw unpack of that layout: download and extraction,
//      the work berth does.
// Target: (1) no slower than (2).
//
// Needs root. Uses the optimised helper build (native-helper/build/berthd, or
// $BENCH_BERTHD) in a cgroup of its own beneath ours; removes everything at the end.
// Environment: BENCH_PULL_RUNS (default 5), BENCH_PULL_MB (default 50),
// BENCH_PULL_CONCURRENCY (berth's parallel layers, default 3), BENCH_PULL_TRACE=1
// (per-layer state changes and CPU time per process of each run).
import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import zlib from 'node:zlib';

import { alive, helperBinary, inBenchNetns, lines, median, ownV1Cgroups, repo, rmCgroupTree, sleep, waitUntil } from './lib/support.mjs';

const RUNS = Number(process.env.BENCH_PULL_RUNS ?? 5);
const TOTAL_MB = Number(process.env.BENCH_PULL_MB ?? 50);
const LAYERS = 4;

const sha256 = (b) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** CPU time of a process in ms (with children: those it has waited for). */
function procCpuMs(pid, children = false) {
  try {
    const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    const ticks = Number(f[11]) + Number(f[12]) + (children ? Number(f[13]) + Number(f[14]) : 0);
    return ticks * 10;
  } catch {
    return NaN;
  }
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

function httpStatus(url) {
  return new Promise((resolve) => {
    http
      .get(url, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      })
      .on('error', () => resolve(0));
  });
}

/** An OCI layout with one image of LAYERS layers, each part random, part text. */
function buildLayout(dir, tmp) {
  fs.mkdirSync(path.join(dir, 'blobs/sha256'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  const put = (buf, mediaType) => {
    const digest = sha256(buf);
    fs.writeFileSync(path.join(dir, 'blobs/sha256', digest.slice(7)), buf);
    return { mediaType, digest, size: buf.length };
  };
  const perLayer = Math.floor((TOTAL_MB * 1024 * 1024) / LAYERS);
  const layers = [];
  const diffIds = [];
  for (let i = 0; i < LAYERS; i++) {
    const src = fs.mkdtempSync(path.join(tmp, 'layer-'));
    fs.mkdirSync(path.join(src, `data${i}`));
    // ~90% incompressible (like binaries and compressed assets), ~10% text
    fs.writeFileSync(path.join(src, `data${i}/blob.bin`), randomBytes(Math.floor(perLayer * 0.9)));
    const text = Array.from({ length: Math.floor((perLayer * 0.1) / 40) }, (_, n) => `line ${n} of layer ${i}: some text\n`).join('');
    fs.writeFileSync(path.join(src, `data${i}/notes.txt`), text);
    const tar = spawnSync('tar', ['--sort=name', '--owner=0', '--group=0', '--numeric-owner', '-C', src, '-cf', '-', '.'], { maxBuffer: 1 << 30 }).stdout;
    fs.rmSync(src, { recursive: true, force: true });
    diffIds.push(sha256(tar));
    layers.push(put(zlib.gzipSync(tar, { level: 6 }), 'application/vnd.oci.image.layer.v1.tar+gzip'));
  }
  const arch = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386' }[process.arch] ?? process.arch;
  const config = put(Buffer.from(JSON.stringify({ architecture: arch, os: 'linux', config: { Cmd: ['/bin/sh'] }, rootfs: { type: 'layers', diff_ids: diffIds } })), 'application/vnd.oci.image.config.v1+json');
  const manifest = put(Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config, layers })), 'application/vnd.oci.image.manifest.v1+json');
  fs.writeFileSync(path.join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{ ...manifest, annotations: { 'org.opencontainers.image.ref.name': 'bench' } }] }));
  return layers.reduce((n, l) => n + l.size, 0);
}

async function startRegistry(dir) {
  const port = await freePort();
  const addr = `127.0.0.1:${port}`;
  fs.mkdirSync(dir, { recursive: true });
  const cfg = path.join(dir, 'config.yml');
  // no access logging: it would cost the registry time in both measurements alike
  fs.writeFileSync(cfg, `version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: ${path.join(dir, 'data')}\nhttp:\n  addr: ${addr}\n`);
  const log = fs.openSync(path.join(dir, 'registry.log'), 'a');
  const proc = spawn('/usr/bin/docker-registry', ['serve', cfg], { stdio: ['ignore', log, log] });
  fs.closeSync(log);
  if (!(await waitUntil(async () => (await httpStatus(`http://${addr}/v2/`)) > 0, 15000))) throw new Error(`docker-registry did not come up on ${addr}`);
  return { proc, addr };
}

async function startHelper(berthd, root, socket, cgDirs, logPath, HelperClient) {
  const moves = cgDirs.map((d) => `echo $$ > '${d}/cgroup.procs' || exit 97; `).join('');
  const logFd = fs.openSync(logPath, 'a');
  const proc = spawn(inBenchNetns()[0], [...inBenchNetns().slice(1), '/bin/sh', '-c', `${moves}exec "$0" "$@"`, berthd, '--foreground', '--root', root, '--socket', socket], { stdio: ['ignore', logFd, logFd] });
  fs.closeSync(logFd);
  let client = null;
  await waitUntil(async () => {
    if (!alive(proc.pid)) return true;
    try {
      client = await HelperClient.connect(socket);
      await client.call('hello');
      return true;
    } catch {
      client?.close();
      client = null;
      return false;
    }
  }, 20000);
  if (!client) throw new Error(`berthd did not come up; log:\n${fs.readFileSync(logPath, 'utf8')}`);
  return { proc, client };
}

async function stopProc(proc) {
  if (!proc || !alive(proc.pid)) return;
  proc.kill('SIGTERM');
  if (!(await waitUntil(() => !alive(proc.pid), 10000))) proc.kill('SIGKILL');
  await waitUntil(() => !alive(proc.pid), 5000);
}

const fmt = (ms) => `${(ms / 1000).toFixed(2)} s`;

async function main() {
  if (process.getuid() !== 0) throw new Error('the benchmark runs berthd and needs root');
  const berthd = helperBinary();

  const tmp = fs.mkdtempSync('/tmp/bp-');
  const cgDirs = ownV1Cgroups().map((d) => path.join(d, `berth-bench-${path.basename(tmp)}`));
  let registry = null;
  let helper = null;
  try {
    // pullImage and the helper client, bundled from the TypeScript sources
    const esbuild = await import('esbuild');
    const bundle = path.join(tmp, 'pull-bundle.mjs');
    await esbuild.build({
      stdin: {
        contents: "export { pullImage } from './electron/core/registry/pull';\nexport { HelperClient } from './electron/core/helper-client';\n",
        resolveDir: repo,
        loader: 'ts',
      },
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      outfile: bundle,
      logLevel: 'warning',
    });
    const { pullImage, HelperClient } = await import(pathToFileURL(bundle).href);

    for (const d of cgDirs) fs.mkdirSync(d);
    const layout = path.join(tmp, 'oci');
    const bytes = buildLayout(layout, tmp);
    registry = await startRegistry(path.join(tmp, 'reg'));
    const push = spawnSync('skopeo', ['copy', '-q', '--dest-tls-verify=false', `oci:${layout}:bench`, `docker://${registry.addr}/bench/image:1`], { encoding: 'utf8' });
    if (push.status !== 0) throw new Error(`skopeo copy into the registry failed: ${push.stderr}`);
    fs.rmSync(layout, { recursive: true, force: true });
    const ref = `${registry.addr}/bench/image:1`;

    const berthMs = [];
    const skopeoMs = [];
    const unpackMs = [];
    for (let i = 0; i < RUNS + 1; i++) {
      // (1) berth, into a fresh store
      const root = path.join(tmp, `root-${i}`);
      helper = await startHelper(berthd, root, path.join(tmp, `b${i}.sock`), cgDirs, path.join(tmp, 'berthd.log'), HelperClient);
      const cpu0 = { node: process.cpuUsage(), reg: procCpuMs(registry.proc.pid), helper: procCpuMs(helper.proc.pid, true) };
      const t0 = process.hrtime.bigint();
      const marks = new Map();
      await pullImage(helper.client, ref, {
        concurrency: Number(process.env.BENCH_PULL_CONCURRENCY ?? 3),
        onProgress: (ev) => {
          for (const l of ev.layers) if (!marks.has(`${l.digest}:${l.status}`)) marks.set(`${l.digest}:${l.status}`, Number(process.hrtime.bigint() - t0) / 1e6);
        },
      });
      const t1 = process.hrtime.bigint();
      const pullCpu = { node: process.cpuUsage(cpu0.node), reg: procCpuMs(registry.proc.pid) - cpu0.reg };
      await sleep(100); // the last worker reaped: its CPU time lands in the helper's children time
      pullCpu.helper = procCpuMs(helper.proc.pid, true) - cpu0.helper;
      if (process.env.BENCH_PULL_TRACE)
        console.log(`berth cpu ms: node ${((pullCpu.node.user + pullCpu.node.system) / 1000).toFixed(0)}, berthd+workers ${pullCpu.helper}, registry ${pullCpu.reg}`);
      if (process.env.BENCH_PULL_TRACE) console.log([...marks].map(([k, v]) => `${k.slice(7, 15)}${k.slice(k.lastIndexOf(':'))}@${v.toFixed(0)}`).join(' '));
      helper.client.close();
      await stopProc(helper.proc);
      helper = null;
      fs.rmSync(root, { recursive: true, force: true });

      // (2) skopeo, into a fresh OCI layout
      const dest = path.join(tmp, `skopeo-${i}`);
      const reg0 = procCpuMs(registry.proc.pid);
      const self0 = procCpuMs(process.pid, true);
      const t2 = process.hrtime.bigint();
      const r = spawnSync('skopeo', ['copy', '-q', '--src-tls-verify=false', `docker://${ref}`, `oci:${dest}:bench`], { encoding: 'utf8' });
      const t3 = process.hrtime.bigint();
      if (process.env.BENCH_PULL_TRACE) console.log(`skopeo cpu ms: skopeo ${procCpuMs(process.pid, true) - self0 - 0}, registry ${procCpuMs(registry.proc.pid) - reg0}`);
      if (r.status !== 0) throw new Error(`skopeo copy failed: ${r.stderr}`);
      // (3) = (2) then umoci unpacking the layers: the same work as berth's
      const rootfs = path.join(tmp, `rootfs-${i}`);
      const u = spawnSync('umoci', ['raw', 'unpack', '--image', `${dest}:bench`, rootfs], { encoding: 'utf8' });
      const t4 = process.hrtime.bigint();
      if (u.status !== 0) throw new Error(`umoci raw unpack failed: ${u.stderr}`);
      fs.rmSync(dest, { recursive: true, force: true });
      fs.rmSync(rootfs, { recursive: true, force: true });
      if (i === 0) continue; // warm-up: page cache, registry start
      berthMs.push(Number(t1 - t0) / 1e6);
      skopeoMs.push(Number(t3 - t2) / 1e6);
      unpackMs.push(Number(t4 - t2) / 1e6);
    }

    const b = median(berthMs);
    const s = median(skopeoMs);
    const mb = bytes / (1024 * 1024);
    console.log(`\nRegistry pull: ${LAYERS} layers, ${mb.toFixed(1)} MB of blobs, from docker-registry on loopback (${RUNS} runs each after a warm-up)`);
    console.log(`  ${'measure'.padEnd(62)} ${'median'.padStart(9)} ${'min'.padStart(9)} ${'max'.padStart(9)}  ${'MB/s'.padStart(6)}`);
    const row = (name, xs) =>
      console.log(`  ${name.padEnd(62)} ${fmt(median(xs)).padStart(9)} ${fmt(Math.min(...xs)).padStart(9)} ${fmt(Math.max(...xs)).padStart(9)}  ${(mb / (median(xs) / 1000)).toFixed(0).padStart(6)}`);
    row('(1) berth pullImage (download, verify, store, extract)', berthMs);
    row('(2) skopeo copy docker:// -> oci: (download, verify, store)', skopeoMs);
    row('(3) (2) + umoci raw unpack (download, verify, store, extract)', unpackMs);
    const ratio = b / s;
    console.log(`\n  ratio (1)/(2) = ${ratio.toFixed(2)}x; target <= 1.00x: ${ratio <= 1 ? 'met' : 'NOT met'}`);
    console.log(`  ratio (1)/(3) = ${(b / median(unpackMs)).toFixed(2)}x (like for like: both end with an extracted rootfs)`);
  } finally {
    if (helper) {
      helper.client.close();
      await stopProc(helper.proc);
    }
    if (registry) await stopProc(registry.proc);
    for (const d of cgDirs) rmCgroupTree(d);
    const mounted = lines('/proc/self/mountinfo').some((l) => l.split(' ')[4].startsWith(tmp));
    if (mounted) console.error(`bench: mounts remain under ${tmp}; left in place`);
    else fs.rmSync(tmp, { recursive: true, force: true });
  }
}

main()
  .catch((e) => console.error(`bench: ${e.stack ?? e.message}`))
  .finally(() => process.exit(0));
