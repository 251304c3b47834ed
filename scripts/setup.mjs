// First-run set-up shared by `npm start` and `npm test`, with Node built-ins only
// (dependencies may not be installed yet). Each step checks first and is a quick
// no-op when already done; each step that does something prints one line.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const STAMP = path.join(repo, '.berth-setup-done');

export const APT_PACKAGES = [
  'build-essential',
  'pkg-config',
  'libarchive-dev',
  'libjson-c-dev',
  'libssl-dev',
  // the helper downloads pulled layers itself (libcurl, the system's CA store) and
  // decompresses them as they come; openssl makes the tests' TLS certificates
  'libcurl4-openssl-dev',
  'ca-certificates',
  'openssl',
  'zlib1g-dev',
  'libzstd-dev',
  'libnftables-dev',
  'nftables',
  'busybox-static',
  'iproute2',
  'chromium',
  'skopeo',
  'umoci',
  'docker-registry',
  // only for the test that `podman load` takes what `berth save` writes
  'podman',
  'hyperfine',
  // the fuzz targets (make fuzz-build): clang and its libFuzzer + sanitizer runtimes
  'clang',
  'libclang-rt-14-dev',
];

const step = (msg) => console.log(`setup: ${msg}`);

export class SetupError extends Error {}

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { cwd: repo, stdio: 'inherit', ...opts });
  if (r.error) throw new SetupError(`${cmd} ${args.join(' ')}: ${r.error.message}`);
  if (r.status !== 0) throw new SetupError(`${cmd} ${args.join(' ')} failed (exit ${r.status ?? r.signal})`);
  return r;
}

function mtime(file) {
  try {
    return fs.statSync(file).mtimeMs;
  } catch {
    return 0;
  }
}

/** Newest mtime of the files below dir (skipping node_modules and dist). */
function newestIn(dir) {
  let newest = 0;
  let entries;
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const e of entries) {
    if (e.name === 'node_modules' || e.name === 'dist' || e.name.startsWith('.')) continue;
    const p = path.join(dir, e.name);
    newest = Math.max(newest, e.isDirectory() ? newestIn(p) : mtime(p));
  }
  return newest;
}

function readStamp() {
  try {
    return JSON.parse(fs.readFileSync(STAMP, 'utf8'));
  } catch {
    return {};
  }
}

function writeStamp(s) {
  fs.writeFileSync(STAMP, JSON.stringify(s, null, 2) + '\n');
}

function ensureAptPackages(stamp) {
  const wanted = APT_PACKAGES.join(' ');
  if (stamp.apt === wanted) return;
  const q = spawnSync('dpkg-query', ['-W', '-f=${Package} ${db:Status-Abbrev}\n', ...APT_PACKAGES], { encoding: 'utf8' });
  const installed = new Set(
    (q.stdout ?? '')
      .split('\n')
      .filter((l) => /^\S+ ii/.test(l))
      .map((l) => l.split(' ')[0].replace(/:.*$/, '')),
  );
  const missing = APT_PACKAGES.filter((p) => !installed.has(p));
  if (missing.length > 0) {
    const cmd = `apt-get update && apt-get install -y ${missing.join(' ')}`;
    if (process.getuid?.() !== 0) {
      console.error(`setup: missing Debian packages: ${missing.join(' ')}\nRun as root:\n  sudo sh -c '${cmd}'`);
      process.exit(1);
    }
    step(`installing ${missing.join(' ')} (apt-get)`);
    run('apt-get', ['update']);
    run('apt-get', ['install', '-y', ...missing], { env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  }
  stamp.apt = wanted;
  writeStamp(stamp);
}

function ensureNodeModules() {
  const lock = path.join(repo, 'package-lock.json');
  // npm ci writes node_modules/.package-lock.json last: it is the installed tree's stamp.
  const installed = mtime(path.join(repo, 'node_modules/.package-lock.json'));
  if (installed > 0 && installed >= mtime(lock)) return;
  step('installing npm dependencies (npm ci)');
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  run(npm, ['ci', '--no-audit', '--no-fund'], { env: { ...process.env, ELECTRON_SKIP_BINARY_DOWNLOAD: '1' } });
  // npm ci may leave the file older than the lock when nothing changed in it.
  const now = new Date();
  fs.utimesSync(path.join(repo, 'node_modules/.package-lock.json'), now, now);
}

/** make -q says whether a target is up to date without building it. */
function ensureMake(target, what) {
  const args = ['-C', path.join(repo, 'native-helper'), ...(target ? [target] : [])];
  const q = spawnSync('make', ['-q', ...args], { stdio: 'ignore' });
  if (q.status === 0) return;
  step(`building ${what} (make -C native-helper${target ? ` ${target}` : ''})`);
  run('make', ['-s', ...args]);
}

async function ensureBundles() {
  const build = await import('./build.mjs');
  const srcNewest = Math.max(newestIn(path.join(repo, 'electron')), mtime(path.join(repo, 'package.json')));
  const outOldest = Math.min(...build.NODE_OUTPUTS.map((f) => mtime(path.join(repo, f))));
  if (outOldest === 0 || srcNewest > outOldest) {
    step('bundling the CLI and the app (esbuild)');
    await build.bundleNode();
  }
  const rendererSrc = Math.max(
    newestIn(path.join(repo, 'renderer')),
    mtime(path.join(repo, 'electron/core/api.ts')),
    mtime(path.join(repo, 'electron/core/protocol.ts')),
    mtime(path.join(repo, 'electron/core/format.ts')),
    mtime(path.join(repo, 'assets/icon.svg')),
  );
  const rendererOut = mtime(path.join(repo, build.RENDERER_OUTPUT));
  if (rendererOut === 0 || rendererSrc > rendererOut) {
    step('building the renderer (vite)');
    await build.buildRenderer();
  }
}

/** Everything `npm start` / `npm test` need; `sanitize` also builds the ASan helper. */
export async function setup({ sanitize = false } = {}) {
  const stamp = readStamp();
  ensureAptPackages(stamp);
  ensureNodeModules();
  ensureMake('', 'berthd');
  if (sanitize) ensureMake('sanitize', 'berthd-asan');
  await ensureBundles();
}
