#!/usr/bin/env node
// npm test: set-up (with the sanitized helper), then the typecheck, the C unit tests
// (TAP), the unit tests (vitest) and, when present, the integration suite; ends with
// one line "N passed, N failed" and a non-zero exit status if anything failed.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { repo, setup, SetupError } from './setup.mjs';

let passed = 0;
let failed = 0;

try {
  await setup({ sanitize: true });
} catch (e) {
  if (!(e instanceof SetupError)) throw e;
  console.error(`setup: ${e.message}`);
  console.log('0 passed, 1 failed');
  process.exit(1);
}

/** Runs a command with its output shown; also returns stdout when capture is set. */
function exec(cmd, args, { capture = false, env } = {}) {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: repo, stdio: ['ignore', capture ? 'pipe' : 'inherit', 'inherit'], env: { ...process.env, ...env } });
    let out = '';
    if (capture) {
      child.stdout.on('data', (d) => {
        out += d.toString();
        process.stdout.write(d);
      });
    }
    child.on('error', (e) => resolve({ status: 127, out: `${out}\n${e.message}` }));
    child.on('close', (code, signal) => resolve({ status: code ?? (signal ? 128 : 1), out }));
  });
}

const bin = (name) => path.join(repo, 'node_modules/.bin', name);
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-test-'));

try {
  // 1. Typecheck (Node side, Electron shell included, the renderer, the e2e suite): one test each.
  for (const project of ['tsconfig.json', 'tsconfig.renderer.json', 'e2e/tsconfig.json']) {
    console.log(`\n# typecheck ${project}`);
    const r = await exec(bin('tsc'), ['--noEmit', '-p', project]);
    if (r.status === 0) passed++;
    else failed++;
  }

  // 2. C unit tests: TAP.
  console.log('\n# make -C native-helper test');
  const tap = await exec('make', ['-s', '-C', path.join(repo, 'native-helper'), 'test'], { capture: true });
  const lines = tap.out.split('\n');
  const ok = lines.filter((l) => /^ok\b/.test(l)).length;
  const notOk = lines.filter((l) => /^not ok\b/.test(l)).length;
  passed += ok;
  failed += notOk;
  if (tap.status !== 0 && notOk === 0) failed++; // a build error or a crash between tests

  // 2b. Fuzz smoke: each libFuzzer target briefly on its seed corpus, one test per target.
  console.log('\n# make -C native-helper fuzz-smoke');
  const fz = await exec('make', ['-s', '-C', path.join(repo, 'native-helper'), 'fuzz-smoke'], { capture: true });
  const fzOk = fz.out.split('\n').filter((l) => /^fuzz-smoke: ok\b/.test(l)).length;
  const fzFail = fz.out.split('\n').filter((l) => /^fuzz-smoke: FAIL\b/.test(l)).length;
  passed += fzOk;
  failed += fzFail;
  if (fz.status !== 0 && fzFail === 0) failed++; // the fuzz build failed

  // 3. vitest suites: counts from the JSON reporter.
  const vitest = async (label, extra) => {
    console.log(`\n# ${label}`);
    const report = path.join(tmp, `${label.replace(/\W+/g, '-')}.json`);
    const r = await exec(bin('vitest'), ['run', ...extra, '--reporter=default', '--reporter=json', `--outputFile=${report}`]);
    let j = null;
    try {
      j = JSON.parse(fs.readFileSync(report, 'utf8'));
    } catch {
      /* no report: counted below */
    }
    if (!j) {
      failed++;
      return;
    }
    passed += j.numPassedTests ?? 0;
    failed += j.numFailedTests ?? 0;
    // Files that failed to load or whose hooks failed have no failed test of their own.
    if (r.status !== 0 && (j.numFailedTests ?? 0) === 0) failed += Math.max(1, j.numFailedTestSuites ?? 0);
  };
  await vitest('unit tests', []);
  if (fs.existsSync(path.join(repo, 'tests/integration/vitest.config.ts'))) {
    // The sanitized helper was just built by the set-up.
    await vitest('integration tests', ['--config', 'tests/integration/vitest.config.ts']);
  }
  // 4. e2e: the UI in Chromium against web mode and the sanitized helper (e2e/global-setup.ts).
  if (fs.existsSync(path.join(repo, 'e2e/vitest.config.ts'))) {
    await vitest('e2e tests', ['--config', 'e2e/vitest.config.ts']);
  }
} finally {
  fs.rmSync(tmp, { recursive: true, force: true });
}

console.log(`\n${passed} passed, ${failed} failed`);
process.exit(failed > 0 ? 1 : 0);
