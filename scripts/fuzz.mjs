#!/usr/bin/env node
// npm run fuzz: builds the libFuzzer targets of native-helper/fuzz/ and runs each one for a
// while (10 minutes by default) on a copy of its seed corpus. New corpus entries stay in a
// temp dir (printed at the end; copy the interesting ones into native-helper/fuzz/corpus/),
// never in the repo. A target that crashes is restarted until its time is up, so a long run
// can find several bugs; every crash, leak or timeout is reported with its reproducer.
//
//   npm run fuzz                      every target, 600 s each, one after the other
//   npm run fuzz -- layer protocol    only these targets
//   npm run fuzz -- --seconds 3600 --jobs 2
//   BERTH_FUZZ_SECONDS=60 npm run fuzz
//
// Exit status: 0 when no target crashed, 1 otherwise (2 for a usage or build error).
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const helper = path.join(repo, 'native-helper');
const build = process.env.BERTH_FUZZ_BUILD ?? path.join(helper, 'build');
const MAX_CRASHES = 5; // per target: past this the target is stopped, its crashes are enough to go on

function usage(msg) {
  if (msg) console.error(`fuzz: ${msg}`);
  console.error('usage: npm run fuzz -- [--seconds N] [--jobs N] [target ...]');
  process.exit(2);
}

let seconds = Number(process.env.BERTH_FUZZ_SECONDS ?? 600);
let jobs = 1;
const wanted = [];
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  if (a === '--seconds' || a === '--jobs') {
    const v = Number(argv[++i]);
    if (!Number.isInteger(v) || v < 1) usage(`${a} needs a positive integer`);
    if (a === '--seconds') seconds = v;
    else jobs = v;
  } else if (a === '-h' || a === '--help') {
    usage();
  } else if (a.startsWith('-')) {
    usage(`unknown option ${a}`);
  } else {
    wanted.push(a);
  }
}
if (!Number.isInteger(seconds) || seconds < 1) usage('BERTH_FUZZ_SECONDS must be a positive integer');

const all = fs
  .readdirSync(path.join(helper, 'fuzz'))
  .filter((f) => /^fuzz_\w+\.c$/.test(f))
  .map((f) => f.slice(5, -2))
  .sort();
for (const t of wanted) if (!all.includes(t)) usage(`no target '${t}' (targets: ${all.join(', ')})`);
const targets = wanted.length ? wanted : all;

console.log(`fuzz: building the targets (make -C native-helper B=${build} fuzz-build)`);
const mk = spawnSync('make', ['-s', '-C', helper, `B=${build}`, '-j', String(Math.max(1, os.cpus().length)), 'fuzz-build'], {
  stdio: 'inherit',
});
if (mk.status !== 0) {
  console.error('fuzz: the build failed (clang and libclang-rt-14-dev come from `npm test`\'s set-up)');
  process.exit(2);
}

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-fuzz-'));

/** One libFuzzer process; resolves with its exit status and final stats. */
function runOnce(target, work, budget) {
  return new Promise((resolve) => {
    const seeds = path.join(helper, 'fuzz/corpus', target);
    const dict = path.join(helper, 'fuzz', `${target}.dict`);
    const args = [
      path.join(work, 'corpus'), // first dir: new entries are written here
      ...(fs.existsSync(seeds) ? [seeds] : []),
      `-max_total_time=${budget}`,
      '-timeout=25',
      '-rss_limit_mb=2048',
      '-print_final_stats=1',
      `-artifact_prefix=${path.join(work, 'artifacts')}/`,
      ...(fs.existsSync(dict) ? [`-dict=${dict}`] : []),
    ];
    const log = fs.openSync(path.join(work, 'log'), 'a');
    const child = spawn(path.join(build, 'fuzz', `fuzz_${target}`), args, {
      cwd: work,
      stdio: ['ignore', log, log],
      env: { ...process.env, BERTH_FUZZ_DIR: work },
    });
    child.on('error', (e) => {
      fs.closeSync(log);
      resolve({ status: 127, error: e.message });
    });
    child.on('close', (code, signal) => {
      fs.closeSync(log);
      resolve({ status: code ?? (signal ? 128 : 1) });
    });
  });
}

/** The numbers of the last "stat::" block of a log. */
function stats(logText) {
  const sum = { runs: 0, newUnits: 0 };
  for (const m of logText.matchAll(/stat::number_of_executed_units:\s*(\d+)/g)) sum.runs += Number(m[1]);
  for (const m of logText.matchAll(/stat::new_units_added:\s*(\d+)/g)) sum.newUnits += Number(m[1]);
  return sum;
}

async function fuzzTarget(target) {
  const work = path.join(root, target);
  fs.mkdirSync(path.join(work, 'corpus'), { recursive: true });
  fs.mkdirSync(path.join(work, 'artifacts'), { recursive: true });
  const start = Date.now();
  let restarts = 0;
  let known = 0;
  let lastError = null;
  console.log(`fuzz: ${target}: running for ${seconds} s (log: ${path.join(work, 'log')})`);
  for (;;) {
    const left = seconds - Math.floor((Date.now() - start) / 1000);
    if (left < 1) break;
    const r = await runOnce(target, work, left);
    if (r.error) {
      lastError = r.error;
      break;
    }
    if (r.status === 0) break;
    const found = fs.readdirSync(path.join(work, 'artifacts')).length;
    if (found === 0) {
      lastError = `libFuzzer exited with status ${r.status} and wrote no reproducer (see the log)`;
      break;
    }
    // the same reproducer again (reproducers are named by their hash): a seed crashes at once
    if (found >= MAX_CRASHES || found === known) break;
    known = found;
    restarts++;
  }
  const elapsed = (Date.now() - start) / 1000;
  const logText = fs.existsSync(path.join(work, 'log')) ? fs.readFileSync(path.join(work, 'log'), 'utf8') : '';
  const { runs, newUnits } = stats(logText);
  const artifacts = fs
    .readdirSync(path.join(work, 'artifacts'))
    .sort()
    .map((f) => path.join(work, 'artifacts', f));
  return { target, work, elapsed, runs, newUnits, restarts, artifacts, lastError };
}

const results = [];
const queue = [...targets];
await Promise.all(
  Array.from({ length: Math.min(jobs, queue.length) }, async () => {
    while (queue.length) results.push(await fuzzTarget(queue.shift()));
  }),
);

console.log('\nfuzz: results');
let bad = false;
for (const r of results.sort((a, b) => a.target.localeCompare(b.target))) {
  const rate = r.elapsed > 0 ? Math.round(r.runs / r.elapsed) : 0;
  console.log(
    `  ${r.target}: ${r.runs} runs in ${Math.round(r.elapsed)} s (${rate}/s), ` +
      `${r.newUnits} new corpus entries in ${path.join(r.work, 'corpus')}`,
  );
  if (r.lastError) {
    bad = true;
    console.log(`    ERROR: ${r.lastError}`);
  }
  for (const a of r.artifacts) {
    bad = true;
    console.log(`    CRASH ${path.basename(a).split('-')[0]}: ${a}`);
    console.log(`      reproduce: ${path.join(build, 'fuzz', `fuzz_${r.target}`)} ${a}`);
  }
}
console.log(
  bad
    ? `fuzz: crashes found; logs and reproducers are in ${root}. Add each fixed reproducer to native-helper/fuzz/corpus/<target>/ as crash-<what>.`
    : `fuzz: no crash. New corpus entries are in ${root}/<target>/corpus.`,
);
process.exit(bad ? 1 : 0);
