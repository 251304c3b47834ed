#!/usr/bin/env node
// npm run bench: set-up, then every bench/*.mjs in name order.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

import { repo, setup } from './setup.mjs';

await setup();
const dir = path.join(repo, 'bench');
const files = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.mjs')).sort() : [];
if (files.length === 0) console.log('bench: no benchmarks (bench/*.mjs)');
let failed = 0;
for (const f of files) {
  console.log(`\n# bench/${f}`);
  const r = spawnSync(process.execPath, [path.join(dir, f)], { cwd: repo, stdio: 'inherit' });
  if (r.status !== 0) failed++;
}
process.exit(failed > 0 ? 1 : 0);
