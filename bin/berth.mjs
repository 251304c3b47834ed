#!/usr/bin/env node
// The berth CLI: the bundled build in dist/berth.mjs (npm start / npm test / npm run build make it).
import fs from 'node:fs';

const bundle = new URL('../dist/berth.mjs', import.meta.url);
if (!fs.existsSync(bundle)) {
  process.stderr.write('berth: dist/berth.mjs is missing; build it with npm run build (or npm start)\n');
  process.exit(125);
}
const { main } = await import(bundle.href);
const status = await main(process.argv.slice(2));
// Exit only once everything written has reached stdout and stderr: a pipe that
// is slow to read must still get the whole output.
const flushed = (stream) => new Promise((resolve) => (stream.writableLength === 0 ? resolve() : stream.write('', resolve)));
await Promise.all([flushed(process.stdout), flushed(process.stderr)]);
process.exit(status);
