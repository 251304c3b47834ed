#!/usr/bin/env node
// npm start: set-up, then berthd + the default image + the Electron window, or web mode.
import path from 'node:path';
import { pathToFileURL } from 'node:url';

import { repo, setup, SetupError } from './setup.mjs';

try {
  await setup();
} catch (e) {
  if (!(e instanceof SetupError)) throw e;
  console.error(`setup: ${e.message}`);
  process.exit(1);
}
const { startApp } = await import(pathToFileURL(path.join(repo, 'dist/start.mjs')).href);
try {
  process.exit(await startApp());
} catch (e) {
  console.error(`berth: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
}
