#!/usr/bin/env node
// Builds the TypeScript side: esbuild bundles (CLI, app start, Electron main and
// preload) and the renderer (Vite). `npm run build` does both; scripts/setup.mjs
// calls the parts whose sources changed.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const pkg = JSON.parse(fs.readFileSync(path.join(repo, 'package.json'), 'utf8'));

/** Outputs of bundleNode(); setup compares their mtimes with electron/**. */
export const NODE_OUTPUTS = ['dist/berth.mjs', 'dist/start.mjs', 'dist/electron/main.mjs', 'dist/electron/preload.cjs'];
export const RENDERER_OUTPUT = 'dist/renderer/index.html';

export async function bundleNode() {
  const esbuild = await import('esbuild');
  const common = {
    absWorkingDir: repo,
    bundle: true,
    platform: 'node',
    target: 'node20',
    legalComments: 'none',
    logLevel: 'warning',
    define: { BERTH_VERSION: JSON.stringify(pkg.version) },
  };
  await Promise.all([
    // The CLI is on every script's hot path: minified, and split so that what only some
    // verbs need (the image verbs, the registry client) is read only when they run.
    buildCli(esbuild, common),
    esbuild.build({ ...common, entryPoints: ['electron/start.ts'], outfile: 'dist/start.mjs', format: 'esm' }),
    esbuild.build({ ...common, entryPoints: ['electron/shell/main.ts'], outfile: 'dist/electron/main.mjs', format: 'esm', external: ['electron'] }),
    // Sandboxed preloads must be CommonJS and may only require('electron').
    esbuild.build({ ...common, entryPoints: ['electron/shell/preload.ts'], outfile: 'dist/electron/preload.cjs', format: 'cjs', external: ['electron'] }),
  ]);
}

/** dist/berth.mjs plus its lazily imported chunks in dist/berth-chunks/ (replaced on each build). */
async function buildCli(esbuild, common) {
  fs.rmSync(path.join(repo, 'dist/berth-chunks'), { recursive: true, force: true });
  await esbuild.build({
    ...common,
    entryPoints: { berth: 'electron/core/cli/main.ts' },
    outdir: 'dist',
    splitting: true,
    chunkNames: 'berth-chunks/[name]-[hash]',
    outExtension: { '.js': '.mjs' },
    format: 'esm',
    minify: true,
  });
}

export async function buildRenderer() {
  const vite = await import('vite');
  await vite.build({ configFile: path.join(repo, 'renderer/vite.config.ts'), logLevel: 'warn' });
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const t0 = Date.now();
  await bundleNode();
  await buildRenderer();
  console.log(`built dist/ (${NODE_OUTPUTS.length} bundles and the renderer) in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}
