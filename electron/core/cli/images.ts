// The image verbs of the CLI (pull, load, import, save, tag, rmi, history, layers,
// image inspect/prune) and the container verbs that make or read images and files
// (commit, export, diff). main.ts loads this module on demand.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';

import { diffLetter, formatDecimalBytes, historyTable, layersTable, shortId, type HistoryRow } from '../format';
import { HelperError } from '../helper-client';
import type { ImageDetails, ImageSummary, ParamsOf, ResultOf, WorkerMethod } from '../protocol';
import type { Command } from './args';
import { CliExit, confirm, each, err, EXIT_BERTH_ERROR, EXIT_INTERRUPTED, helper, hint, out, writeJson } from './context';
import { LayerBoard, StatusLine, type LayerView } from './progress';

type ImageCommand = Extract<
  Command,
  { verb: 'import' | 'load' | 'save' | 'pull' | 'tag' | 'history' | 'layers' | 'image inspect' | 'image prune' | 'commit' | 'export' | 'diff' | 'rmi' }
>;

export async function runImageVerb(cmd: ImageCommand): Promise<number> {
  switch (cmd.verb) {
    case 'pull':
      return cmdPull(cmd);
    case 'load':
      return cmdLoad(cmd);
    case 'import':
      return cmdImport(cmd);
    case 'save':
      return cmdSave(cmd);
    case 'tag': {
      const c = await helper();
      await c.call('image.tag', { ref: cmd.source, target: cmd.target });
      return 0;
    }
    case 'rmi': {
      const c = await helper();
      return each(cmd.refs, 'rmi', async (ref) => {
        const r = await c.call('image.remove', { ref, force: cmd.force });
        return [...(r.untagged ?? []).map((t) => `Untagged: ${t}`), ...r.removed.map((id) => `Deleted: ${id}`)].join('\n') || null;
      });
    }
    case 'history':
      return cmdHistory(cmd);
    case 'layers':
      return cmdLayers(cmd);
    case 'image inspect':
      return cmdImageInspect(cmd);
    case 'image prune':
      return cmdPrune(cmd);
    case 'commit':
      return cmdCommit(cmd);
    case 'export':
      return cmdExport(cmd);
    case 'diff':
      return cmdDiff(cmd);
  }
}

// --- worker streams ---------------------------------------------------------------------

/**
 * Runs a worker method to its result with a spinner line on stderr (when it is a
 * terminal). Ctrl-C closes the connection, which makes the helper drop what it had
 * half-written, and ends berth with status 130.
 */
async function work<M extends WorkerMethod>(method: M, params: ParamsOf<M>, label: string, quiet = false): Promise<ResultOf<M>> {
  const c = await helper();
  const status = quiet ? null : new StatusLine(label, process.stderr).start();
  const abort = new AbortController();
  const onInterrupt = (): void => abort.abort();
  process.once('SIGINT', onInterrupt);
  try {
    return await c.work(method, params, { ...(status ? { onProgress: status.progress } : {}), signal: abort.signal });
  } catch (e) {
    if (abort.signal.aborted) {
      status?.stop();
      err(`berth: ${label.toLowerCase()} cancelled; nothing was kept\n`);
      throw new CliExit(EXIT_INTERRUPTED);
    }
    throw e;
  } finally {
    status?.stop();
    process.off('SIGINT', onInterrupt);
  }
}

/** image.import's result: `{"images": [...]}` (an older helper answered with one ImageSummary). */
function importedImages(r: { images: ImageSummary[] } | ImageSummary): ImageSummary[] {
  return 'images' in r && Array.isArray(r.images) ? r.images : [r as ImageSummary];
}

/** A private temp dir (removed by the caller); the helper, root, can write into it. */
function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `berth-${prefix}-`));
}

/**
 * Where the helper should write a file the user asked for: beside it under a
 * temporary name (the helper refuses to replace a file; docker's -o does replace),
 * renamed over it afterwards.
 */
async function writeOutput(output: string, write: (tmpPath: string) => Promise<unknown>): Promise<void> {
  const dir = path.dirname(output);
  if (!fs.existsSync(dir)) throw new Error(`cannot write ${output}: the directory ${dir} does not exist`);
  if (fs.existsSync(output) && fs.statSync(output).isDirectory()) throw new Error(`cannot write ${output}: it is a directory`);
  const tmp = path.join(dir, `.${path.basename(output)}.berth-${process.pid}.tmp`);
  fs.rmSync(tmp, { force: true });
  try {
    await write(tmp);
    fs.renameSync(tmp, output);
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}

/**
 * Archives to stdout: the helper writes a file in a temp dir, which is then copied to
 * stdout and removed (the helper works on files; stdout is this process's). A terminal
 * is refused: an archive there is only noise.
 */
async function writeToStdout(verb: string, write: (tmpPath: string) => Promise<unknown>): Promise<void> {
  if (process.stdout.isTTY) {
    throw new Error(`refusing to write a tar archive to a terminal; use berth ${verb} -o FILE or redirect stdout (berth ${verb} ... > FILE)`);
  }
  const dir = tempDir(verb);
  try {
    const file = path.join(dir, 'out.tar');
    await write(file);
    await pipeline(fs.createReadStream(file), process.stdout, { end: false });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

// --- pull ---------------------------------------------------------------------------------

async function cmdPull(cmd: Extract<Command, { verb: 'pull' }>): Promise<number> {
  // The registry client is its own chunk: only pull loads it.
  const [{ pullImage, PullError }, { parseReference, familiarName }] = await Promise.all([import('../registry/pull'), import('../registry/reference')]);
  let parsed;
  try {
    parsed = parseReference(cmd.ref);
  } catch (e) {
    throw new Error((e as Error).message);
  }
  const c = await helper();
  const name = familiarName(parsed);
  const display = parsed.digest ? `${name}@${parsed.digest}` : `${name}:${parsed.tag ?? 'latest'}`;
  const before = await c.call('image.inspect', { ref: display }).catch(() => null);

  const tty = process.stdout.isTTY === true;
  if (!cmd.quiet) {
    if (!parsed.digest && !/:[^/]+$/.test(cmd.ref)) out('Using default tag: latest\n');
    out(`${parsed.digest ?? parsed.tag ?? 'latest'}: Pulling from ${parsed.repository}\n`);
  }
  const board = cmd.quiet
    ? null
    : new LayerBoard(out, { tty, columns: () => process.stdout.columns ?? 0, now: () => Date.now() });
  let digest = '';
  let allExisted = true;
  const abort = new AbortController();
  const onInterrupt = (): void => abort.abort();
  process.once('SIGINT', onInterrupt);
  let image: ImageSummary;
  try {
    image = await pullImage(c, cmd.ref, {
      signal: abort.signal,
      insecure: cmd.insecure,
      ...(cmd.authFile === undefined ? {} : { authFile: cmd.authFile }),
      onProgress: (ev) => {
        digest = ev.indexDigest ?? ev.manifestDigest;
        if (ev.layers.some((l) => l.status !== 'exists')) allExisted = false;
        board?.update(ev.layers.map((l): LayerView => ({ digest: l.digest, state: l.status, done: l.done, total: l.size })));
      },
    });
  } catch (e) {
    board?.flush();
    if (abort.signal.aborted || (e instanceof PullError && e.code === 'cancelled')) {
      err('berth: pull cancelled; the data downloaded so far is kept, and the next pull of this image resumes from it\n');
      throw new CliExit(EXIT_INTERRUPTED);
    }
    if (e instanceof PullError) throw new Error(e.message);
    throw e;
  } finally {
    process.off('SIGINT', onInterrupt);
  }
  board?.flush();
  if (cmd.quiet) {
    out(`${image.id}\n`);
    return 0;
  }
  const upToDate = before !== null && before.id === image.id && allExisted;
  if (digest) out(`Digest: ${digest}\n`);
  out(`Status: ${upToDate ? 'Image is up to date' : 'Downloaded newer image'} for ${display}\n`);
  return 0;
}

// --- load / import / save --------------------------------------------------------------

function printLoaded(images: ImageSummary[]): void {
  for (const i of images) {
    if (i.refs.length === 0) out(`Loaded image ID: ${i.id}\n`);
    for (const r of i.refs) out(`Loaded image: ${r}\n`);
  }
}

async function cmdLoad(cmd: Extract<Command, { verb: 'load' }>): Promise<number> {
  if (cmd.file !== undefined) {
    if (!fs.existsSync(cmd.file)) throw new Error(`cannot load ${cmd.file}: no such file or directory`);
    printLoaded(importedImages(await work('image.import', { path: cmd.file, format: 'auto' }, 'Loading', cmd.quiet)));
    return 0;
  }
  if (process.stdin.isTTY) throw new Error('load needs an archive: berth load -i FILE, or berth load < FILE');
  // The helper reads files: stdin goes to a temp file first.
  const dir = tempDir('load');
  try {
    const file = path.join(dir, 'in.tar');
    await pipeline(process.stdin, fs.createWriteStream(file));
    if (fs.statSync(file).size === 0) throw new Error('load read nothing from stdin; give an archive with -i FILE or on stdin');
    printLoaded(importedImages(await work('image.import', { path: file, format: 'auto' }, 'Loading', cmd.quiet)));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return 0;
}

async function cmdImport(cmd: Extract<Command, { verb: 'import' }>): Promise<number> {
  if (!fs.existsSync(cmd.file)) throw new Error(`cannot import ${cmd.file}: no such file`);
  const hasConfig = Object.keys(cmd.config).length > 0;
  // With a NAME the file is a root filesystem (docker import); without one an archive
  // that names its images is taken too.
  const params =
    cmd.ref !== undefined
      ? { path: cmd.file, format: 'rootfs' as const, ref: cmd.ref, ...(hasConfig ? { config: cmd.config } : {}) }
      : { path: cmd.file, format: 'auto' as const, ...(hasConfig ? { config: cmd.config } : {}) };
  const images = importedImages(await work('image.import', params, 'Importing'));
  for (const i of images) out(`${i.id}\n`);
  return 0;
}

async function cmdSave(cmd: Extract<Command, { verb: 'save' }>): Promise<number> {
  const save = (file: string): Promise<unknown> => work('image.save', { refs: cmd.refs, path: file }, 'Saving');
  if (cmd.output !== undefined) await writeOutput(cmd.output, save);
  else await writeToStdout('save', save);
  return 0;
}

// --- history / layers / inspect / prune ----------------------------------------------

/** docker history's rows, newest first, from the image config's history and its layers. */
export function historyRows(img: Pick<ImageDetails, 'id' | 'config' | 'layers' | 'created'>): HistoryRow[] {
  const raw = Array.isArray(img.config.history) ? (img.config.history as Record<string, unknown>[]) : [];
  const text = (v: unknown): string => (typeof v === 'string' ? v : '');
  const rows: HistoryRow[] = [];
  let layer = 0;
  for (const h of raw) {
    const empty = h.empty_layer === true;
    const l = empty ? undefined : img.layers[layer++];
    rows.push({ id: '<missing>', created: text(h.created), createdBy: text(h.created_by), comment: text(h.comment), emptyLayer: empty, size: l?.unpackedSize ?? 0 });
  }
  // Layers the history does not describe (an image made without history entries).
  for (; layer < img.layers.length; layer++) {
    rows.push({ id: '<missing>', created: img.created, createdBy: '', comment: '', emptyLayer: false, size: img.layers[layer].unpackedSize });
  }
  rows.reverse();
  if (rows.length > 0) rows[0].id = img.id;
  return rows;
}

async function cmdHistory(cmd: Extract<Command, { verb: 'history' }>): Promise<number> {
  const c = await helper();
  const img = await c.call('image.inspect', { ref: cmd.ref });
  const rows = historyRows(img);
  if (cmd.json) writeJson(rows);
  else if (cmd.quiet) out(rows.map((r) => `${r.id === '<missing>' || cmd.noTrunc ? r.id : shortId(r.id)}\n`).join(''));
  else out(historyTable(rows, { noTrunc: cmd.noTrunc }));
  return 0;
}

async function cmdLayers(cmd: Extract<Command, { verb: 'layers' }>): Promise<number> {
  const c = await helper();
  const stack = await c.call('image.layers', { ref: cmd.ref });
  if (cmd.json) writeJson(stack);
  else out(layersTable(stack, { noTrunc: cmd.noTrunc }));
  return 0;
}

async function cmdImageInspect(cmd: Extract<Command, { verb: 'image inspect' }>): Promise<number> {
  const c = await helper();
  const found: ImageDetails[] = [];
  let status = 0;
  for (const ref of cmd.refs) {
    try {
      found.push(await c.call('image.inspect', { ref }));
    } catch (e) {
      if (!(e instanceof HelperError && (e.code === 'not_found' || e.code === 'invalid'))) throw e;
      err(`berth: ${e.message}${hint(e, 'image inspect')}\n`);
      status = EXIT_BERTH_ERROR;
    }
  }
  writeJson(found);
  return status;
}

async function cmdPrune(cmd: Extract<Command, { verb: 'image prune' }>): Promise<number> {
  if (!cmd.force) {
    const what = cmd.all ? 'all images without at least one container associated to them' : 'all dangling images';
    if (!(await confirm(`WARNING! This will remove ${what}.\nAre you sure you want to continue?`))) return 0;
  }
  const c = await helper();
  const r = await c.call('image.prune', { all: cmd.all });
  if (cmd.json) {
    writeJson(r);
    return 0;
  }
  if (r.removed.length > 0) out(`Deleted Images:\n${r.removed.map((id) => `deleted: ${id}\n`).join('')}\n`);
  out(`Total reclaimed space: ${formatDecimalBytes(r.reclaimedBytes)}\n`);
  return 0;
}

// --- commit / export / diff -------------------------------------------------------------

async function cmdCommit(cmd: Extract<Command, { verb: 'commit' }>): Promise<number> {
  const img = await work(
    'container.commit',
    {
      ref: cmd.ref,
      ...(cmd.image === undefined ? {} : { image: cmd.image }),
      ...(cmd.message === undefined ? {} : { message: cmd.message }),
      ...(cmd.author === undefined ? {} : { author: cmd.author }),
      ...(Object.keys(cmd.config).length > 0 ? { config: cmd.config } : {}),
      ...(cmd.pause ? {} : { pause: false }),
    },
    'Committing',
    cmd.quiet,
  );
  out(`${img.id}\n`);
  return 0;
}

async function cmdExport(cmd: Extract<Command, { verb: 'export' }>): Promise<number> {
  const exportTo = (file: string): Promise<unknown> => work('container.export', { ref: cmd.ref, path: file }, 'Exporting');
  if (cmd.output !== undefined) await writeOutput(cmd.output, exportTo);
  else await writeToStdout('export', exportTo);
  return 0;
}

async function cmdDiff(cmd: Extract<Command, { verb: 'diff' }>): Promise<number> {
  const c = await helper();
  const d = await c.call('container.diff', { ref: cmd.ref });
  if (cmd.json) {
    writeJson(d);
    return 0;
  }
  out(d.changes.map((x) => `${diffLetter(x.change)} ${x.path}\n`).join(''));
  const total = d.totalChanges ?? d.changes.length;
  if (total > d.changes.length) err(`berth: ${total - d.changes.length} more changes not listed (berth diff shows the first ${d.changes.length})\n`);
  return 0;
}
