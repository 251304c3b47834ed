#!/usr/bin/env node
// Container start latency (npm run bench). Not a test: it measures and prints,
// and exits 0 whatever the numbers are.
//
//  (1) berthd's own start-to-exit time for /bin/true in a fresh container with
//      every default namespace, a cgroup and an overlay rootfs (inspect's
//      startToExitUs), median over RUNS containers, plus the per-step timeline;
//      with `--network none` (a new net namespace with only lo, as the floor's
//      --net), and again on the default bridge network (veth, address, routes,
//      resolv.conf/hosts) to show what networking adds;
//  (2) end to end through the CLI: `berth run --rm busybox true` (hyperfine);
//  (3) the floor: `unshare --fork --pid --mount --uts --ipc --net true` (hyperfine).
// Target: (1) within 1.5x of (3).
//
// Needs root. Uses the optimised helper build (native-helper/build/berthd) with a
// temp store, in a cgroup of its own beneath ours; removes everything at the end.
// Environment: BENCH_RUNS (default 30), BENCH_HYPERFINE_RUNS (default 20).
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';

import { alive, helperBinary, inBenchNetns, lines, median, ownV1Cgroups, repo, rmCgroupTree, waitUntil } from './lib/support.mjs';

const RUNS = Number(process.env.BENCH_RUNS ?? 30);
const HF_RUNS = Number(process.env.BENCH_HYPERFINE_RUNS ?? 20);
const TARGET_RATIO = 1.5;
const STEPS = ['cgroup', 'clone', 'mounts', 'pivot_root', 'mask', 'exec'];


/** A JSON-lines connection to berthd (docs/protocol.md). */
class Conn {
  constructor(sock) {
    this.sock = sock;
    this.buf = '';
    this.pending = new Map();
    this.next = 1;
    sock.on('data', (d) => {
      this.buf += d.toString('utf8');
      let nl;
      while ((nl = this.buf.indexOf('\n')) >= 0) {
        const msg = JSON.parse(this.buf.slice(0, nl));
        this.buf = this.buf.slice(nl + 1);
        const p = this.pending.get(msg.id);
        if (p) {
          this.pending.delete(msg.id);
          if (msg.ok) p.resolve(msg.result);
          else p.reject(new Error(`${msg.error?.code}: ${msg.error?.message}`));
        }
      }
    });
    sock.on('close', () => {
      for (const p of this.pending.values()) p.reject(new Error('berthd closed the connection'));
      this.pending.clear();
    });
  }
  static open(socket) {
    return new Promise((resolve, reject) => {
      const s = net.createConnection(socket);
      s.once('connect', () => resolve(new Conn(s)));
      s.once('error', reject);
    });
  }
  call(method, params = {}) {
    const id = this.next++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.sock.write(JSON.stringify({ v: 1, id, method, params }) + '\n');
    });
  }
  close() {
    this.sock.destroy();
  }
}

function cli(env, args) {
  return spawnSync(process.execPath, [path.join(repo, 'bin/berth.mjs'), ...args], { env, encoding: 'utf8', timeout: 300000 });
}

function hyperfine(env, tmp, commands) {
  const out = path.join(tmp, 'hyperfine.json');
  const r = spawnSync('hyperfine', ['-N', '--style', 'basic', '--warmup', '3', '--runs', String(HF_RUNS), '--export-json', out, ...commands], {
    env,
    encoding: 'utf8',
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  if (r.status !== 0) throw new Error(`hyperfine failed (status ${r.status})`);
  return JSON.parse(fs.readFileSync(out, 'utf8')).results;
}

function fmtUs(us) {
  if (!Number.isFinite(us)) return 'n/a';
  return us >= 10000 ? `${(us / 1000).toFixed(1)} ms` : `${Math.round(us)} µs`;
}

async function main() {
  if (process.getuid() !== 0) throw new Error('the benchmark starts real containers and needs root');
  const berthd = helperBinary();

  const tmp = fs.mkdtempSync('/tmp/bb-');
  const root = path.join(tmp, 'root');
  const socket = path.join(tmp, 'b.sock');
  const logPath = path.join(tmp, 'berthd.log');
  const cgDirs = ownV1Cgroups().map((d) => path.join(d, `berth-bench-${path.basename(tmp)}`));
  const env = { ...process.env, BERTH_ROOT: root, BERTH_SOCKET: socket, BERTHD: berthd, NO_COLOR: '1', BERTH_NO_AUTOSTART: '1' };
  let helper = null;
  const created = [];
  try {
    for (const d of cgDirs) fs.mkdirSync(d);
    // The helper moves into its cgroup before it execs, so that cgroup is its own.
    const moves = cgDirs.map((d) => `echo $$ > '${d}/cgroup.procs' || exit 97; `).join('');
    const logFd = fs.openSync(logPath, 'a');
    helper = spawn(inBenchNetns()[0], [...inBenchNetns().slice(1), '/bin/sh', '-c', `${moves}exec "$0" "$@"`, berthd, '--foreground', '--root', root, '--socket', socket], { stdio: ['ignore', logFd, logFd] });
    fs.closeSync(logFd);
    let conn = null;
    await waitUntil(async () => {
      if (!alive(helper.pid)) return true;
      try {
        conn = await Conn.open(socket);
        await conn.call('hello');
        return true;
      } catch {
        conn?.close();
        conn = null;
        return false;
      }
    }, 20000);
    if (!conn) throw new Error(`berthd did not come up; log:\n${fs.readFileSync(logPath, 'utf8')}`);

    const images = await conn.call('image.list');
    if (!images.images.some((i) => (i.refs ?? []).includes('busybox:latest'))) {
      const r = cli(env, ['run', '--rm', 'busybox:latest', 'true']);
      if (r.status !== 0) throw new Error(`could not make the default image: ${r.stderr}`);
    }

    // (1) the helper's own figure: like for like with the floor (network none), then on
    // the default bridge network.
    const measure = async (network) => {
      const startToExit = [];
      const perStep = Object.fromEntries(STEPS.map((s) => [s, []]));
      for (let i = 0; i < RUNS + 2; i++) {
        const info = await conn.call('container.run', { image: 'busybox', cmd: ['/bin/true'], network });
        created.push(info.id);
        await conn.call('container.wait', { ref: info.id });
        const done = await conn.call('container.inspect', { ref: info.id });
        await conn.call('container.remove', { ref: info.id });
        created.pop();
        if (done.exitCode !== 0) throw new Error(`/bin/true exited ${done.exitCode} (${done.exitReason})`);
        if (i < 2) continue; // warm-up
        if (typeof done.startToExitUs === 'number') startToExit.push(done.startToExitUs);
        for (const s of done.timeline ?? []) perStep[s.step]?.push(s.us);
      }
      return { startToExit, perStep };
    };
    const { startToExit, perStep } = await measure('none');
    const bridged = await measure('bridge');
    conn.close();

    // (2) and (3) in one hyperfine run.
    const e2eCmd = `${process.execPath} ${path.join(repo, 'bin/berth.mjs')} run --rm busybox true`;
    const floorCmd = 'unshare --fork --pid --mount --uts --ipc --net true';
    const [e2e, floor] = hyperfine(env, tmp, [e2eCmd, floorCmd]);

    const helperMedian = median(startToExit);
    const floorMedian = floor.median * 1e6;
    const e2eMedian = e2e.median * 1e6;
    const ratio = helperMedian / floorMedian;
    console.log('\nContainer start latency');
    console.log(`  ${'measure'.padEnd(58)} ${'median'.padStart(10)} ${'min'.padStart(10)} ${'max'.padStart(10)}   n`);
    const row = (name, med, min, max, n) =>
      console.log(`  ${name.padEnd(58)} ${fmtUs(med).padStart(10)} ${fmtUs(min).padStart(10)} ${fmtUs(max).padStart(10)}   ${n}`);
    row('(1) berthd start-to-exit, /bin/true, --network none', helperMedian, Math.min(...startToExit), Math.max(...startToExit), startToExit.length);
    const b = bridged.startToExit;
    row('(1b) the same on the default bridge network', median(b), Math.min(...b), Math.max(...b), b.length);
    row('(2) berth run --rm busybox true (CLI, end to end)', e2eMedian, e2e.min * 1e6, e2e.max * 1e6, e2e.times?.length ?? HF_RUNS);
    row('(3) unshare --fork --pid --mount --uts --ipc --net true', floorMedian, floor.min * 1e6, floor.max * 1e6, floor.times?.length ?? HF_RUNS);
    console.log('\n  berthd timeline (median per step)');
    console.log(`    ${'step'.padEnd(12)} ${'none'.padStart(10)} ${'bridge'.padStart(10)}`);
    for (const s of STEPS) console.log(`    ${s.padEnd(12)} ${fmtUs(median(perStep[s])).padStart(10)} ${fmtUs(median(bridged.perStep[s])).padStart(10)}`);
    console.log(
      `\n  ratio (1)/(3) = ${Number.isFinite(ratio) ? ratio.toFixed(2) : 'n/a'}x; target <= ${TARGET_RATIO}x: ${
        Number.isFinite(ratio) ? (ratio <= TARGET_RATIO ? 'met' : 'NOT met') : 'no data (startToExitUs missing)'
      }`,
    );
  } finally {
    // Containers the loop left (an error midway), then the helper, then the store.
    for (const id of created) cli(env, ['rm', '-f', id]);
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
