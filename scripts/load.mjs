#!/usr/bin/env node
// npm run load: the load test (tests/integration/load.test.ts) against the non-sanitized
// helper, whose memory can be measured: 20 containers at once, then run --rm cycles
// (1,000 by default) after which berthd's fds, threads, mounts, cgroups and RSS must be
// back where they were. Prints the figures. Needs root, like the integration suite.
//
//   npm run load
//   npm run load -- --cycles 5000
//   BERTH_LOAD_CYCLES=5000 BERTH_LOAD_PARALLEL=4 npm run load
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const argv = process.argv.slice(2);
let cycles = process.env.BERTH_LOAD_CYCLES ?? '1000';
for (let i = 0; i < argv.length; i++) {
  if (argv[i] === '--cycles') cycles = argv[++i];
  else {
    console.error(`load: unknown argument ${argv[i]}\nusage: npm run load -- [--cycles N]`);
    process.exit(2);
  }
}
if (!/^[1-9]\d*$/.test(cycles ?? '')) {
  console.error('load: --cycles (BERTH_LOAD_CYCLES) must be a positive integer');
  process.exit(2);
}

const make = spawnSync('make', ['-s', '-C', path.join(repo, 'native-helper')], { stdio: 'inherit' });
if (make.status !== 0) process.exit(1);
const r = spawnSync(
  path.join(repo, 'node_modules/.bin/vitest'),
  ['run', '--config', 'tests/integration/vitest.config.ts', 'tests/integration/load.test.ts'],
  {
    cwd: repo,
    stdio: 'inherit',
    env: { ...process.env, BERTH_LOAD_CYCLES: cycles, BERTH_TEST_NO_BUILD: '1', BERTH_TEST_HELPER: path.join(repo, 'native-helper/build/berthd') },
  },
);
process.exit(r.status ?? 1);
