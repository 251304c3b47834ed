// `berth pull`: resolve a reference on its registry, stream every missing layer
// into berthd (image.blob.put: the helper verifies and extracts), then record
// the image from the registry's exact manifest and config (image.create).
// Layers already in the store are skipped; an interrupted download resumes with
// a Range request from what the helper kept.
import type { HelperClient, HelperStream } from '../helper-client';
import { MAX_LINE_BYTES, type ImageSummary, type WorkerProgress } from '../protocol';
import { findCredentials } from './auth';
import {
  hostPlatform,
  MAX_CONFIG_BYTES,
  platformString,
  RegistryClient,
  RegistryError,
  selectPlatform,
  type Descriptor,
  type FetchedManifest,
  type ImageManifest,
  type Platform,
  type RegistryErrorCode,
} from './client';
import { familiarName, parseReference, ReferenceError, type ImageReference } from './reference';

export type { Platform } from './client';

/** Where one layer is: the CLI draws a bar per layer from these. */
export type LayerStatus = 'waiting' | 'exists' | 'downloading' | 'extracting' | 'done';

export interface LayerProgress {
  digest: string;
  /** compressed bytes (the blob) */
  size: number;
  /** bytes of the blob the store has (download progress; = size once exists/done) */
  done: number;
  status: LayerStatus;
  /** set when the download resumed an interrupted one: the bytes kept from before */
  resumedFrom?: number;
}

export type PullPhase = 'layers' | 'committing' | 'done';

/** One progress snapshot: every layer's state (base first) and what is being pulled. */
export interface PullProgress {
  /** the reference as given, normalized (`busybox:latest`, `127.0.0.1:5000/x@sha256:…`) */
  ref: string;
  /** the image manifest being pulled (for a multi-arch image, the host platform's) */
  manifestDigest: string;
  /** the index the manifest was picked from, for a multi-arch image */
  indexDigest?: string;
  /** `linux/amd64`, when picked from an index */
  platform?: string;
  phase: PullPhase;
  layers: LayerProgress[];
}

export interface PullOptions {
  onProgress?(ev: PullProgress): void;
  signal?: AbortSignal;
  /** plain HTTP, or HTTPS without certificate checks, for a registry that is not on loopback */
  insecure?: boolean;
  /** an auth file to use instead of the usual ones */
  authFile?: string;
  /** layers downloaded at once (default 3) */
  concurrency?: number;
  /** another platform than the host's (from an image index) */
  platform?: Platform;
}

export type PullErrorCode = RegistryErrorCode | 'bad_reference' | 'store';

/** Every failure of a pull: a one-line message and what kind of failure it is. */
export class PullError extends Error {
  constructor(
    readonly code: PullErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'PullError';
  }
}

const PROGRESS_INTERVAL_MS = 100;
/** Small HTTP chunks are gathered into frames of at least this (a copy: not more). */
const BATCH_BYTES = 60 * 1024;
const QUEUE_BYTES = 2 * 1024 * 1024;
/** Docker's and skopeo's default. */
export const DEFAULT_PULL_CONCURRENCY = 3;

interface HelperLikeError {
  code: string;
  message: string;
}

function isHelperError(e: unknown): e is HelperLikeError {
  return e instanceof Error && e.name === 'HelperError' && typeof (e as { code?: unknown }).code === 'string';
}

function toPullError(e: unknown, userSignal: AbortSignal | undefined): PullError {
  if (e instanceof PullError) return e;
  if (userSignal?.aborted) return new PullError('cancelled', 'pull cancelled');
  if (e instanceof RegistryError) return new PullError(e.code, e.message);
  if (e instanceof ReferenceError) return new PullError('bad_reference', e.message);
  if (isHelperError(e)) {
    if (e.message === 'cancelled') return new PullError('cancelled', 'pull cancelled');
    return new PullError(e.code === 'invalid' && /digest mismatch/.test(e.message) ? 'digest' : 'store', `berthd: ${e.message}`);
  }
  return new PullError('store', e instanceof Error ? e.message : String(e));
}

/** Resolves a tag or digest to one image manifest (an index: the platform's entry). */
async function resolveManifest(
  reg: RegistryClient,
  ref: ImageReference,
  display: string,
  platform: Platform,
  signal: AbortSignal,
): Promise<{ manifest: FetchedManifest & { parsed: { kind: 'image'; manifest: ImageManifest } }; index?: FetchedManifest }> {
  const top = await reg.getManifest(ref.digest ?? (ref.tag as string), display, signal);
  if (top.parsed.kind === 'image') return { manifest: top as FetchedManifest & { parsed: { kind: 'image'; manifest: ImageManifest } } };
  const entry = selectPlatform(top.parsed.index, platform);
  if (!entry) {
    const have = top.parsed.index.manifests
      .map((m) => (m.platform ? platformString(m.platform) : null))
      .filter((p): p is string => p !== null && !p.startsWith('unknown'));
    throw new PullError('not_found', `no ${platformString(platform)} image in \`${display}\` (it has ${have.join(', ') || 'no platforms'})`);
  }
  const child = await reg.getManifest(entry.digest, `${display} (${platformString(platform)})`, signal);
  if (child.parsed.kind !== 'image') throw new PullError('unsupported', `\`${display}\`: the ${platformString(platform)} entry is another index`);
  return { manifest: child as FetchedManifest & { parsed: { kind: 'image'; manifest: ImageManifest } }, index: top };
}

/** Streams the registry's response into the helper's upload, with backpressure both ways. */
function pump(
  res: import('node:http').IncomingMessage,
  s: HelperStream<'image.blob.put'>,
  expected: number,
  helperEnded: Promise<unknown>,
  onBytes: (n: number) => void,
  what: string,
): Promise<void> {
  return new Promise((resolve, reject) => {
    let got = 0;
    let settled = false;
    const finish = (e?: Error): void => {
      if (settled) return;
      settled = true;
      s.off('drain', onDrain);
      if (e) {
        res.destroy();
        reject(e);
      } else resolve();
    };
    // the helper may end the upload early (a conflict, a limit): stop reading then
    helperEnded.then(
      () => finish(new PullError('store', `berthd ended the upload of ${what} before its end`)),
      (e: unknown) => finish(e instanceof Error ? e : new Error(String(e))),
    );
    // HTTP chunks can be small; frames of at least BATCH_BYTES cost both sides
    // fewer system calls (the usual 64 KiB chunks go as they are: no copy)
    let batch: Buffer[] = [];
    let batched = 0;
    // The socket says "wait" past 16 KiB queued; pausing the download that often
    // costs more than it saves: queue up to QUEUE_BYTES, then wait for the drain.
    let queued = 0;
    let paused = false;
    const onDrain = (): void => {
      queued = 0;
      if (paused) {
        paused = false;
        res.resume();
      }
    };
    s.on('drain', onDrain);
    const flush = (): void => {
      if (batched === 0) return;
      const data = batch.length === 1 ? batch[0] : Buffer.concat(batch, batched);
      batch = [];
      batched = 0;
      onBytes(data.length);
      queued += data.length;
      if (!s.writeStdin(data) && queued >= QUEUE_BYTES && !paused) {
        paused = true;
        res.pause();
      }
    };
    res.on('data', (chunk: Buffer) => {
      if (settled) return;
      got += chunk.length;
      if (got > expected) return finish(new PullError('digest', `${what}: the registry sent more bytes than the ${expected} expected`));
      batch.push(chunk);
      batched += chunk.length;
      if (batched >= BATCH_BYTES) flush();
    });
    res.on('end', () => {
      flush();
      if (got === expected) finish();
      else finish(new PullError('unreachable', `${what}: the registry closed the download after ${got} of ${expected} bytes (pull again to resume)`));
    });
    res.on('error', (e) => finish(e));
    res.on('aborted', () => finish(new PullError('unreachable', `${what}: the download was cut off after ${got} of ${expected} bytes (pull again to resume)`)));
  });
}

/**
 * Downloads one layer into the helper. Resolves once every byte is sent; `stored`
 * settles when the helper has verified and extracted it (so the next download
 * can start while this one is extracted).
 */
async function pullLayer(
  client: HelperClient,
  reg: RegistryClient,
  desc: Descriptor,
  state: LayerProgress,
  changed: (force: boolean) => void,
  signal: AbortSignal,
  lease: string,
): Promise<{ stored: Promise<void> }> {
  const stat = await client.call('image.blob.stat', { digest: desc.digest, mediaType: desc.mediaType, lease });
  if (stat.present) {
    state.status = 'exists';
    state.done = desc.size;
    changed(true);
    return { stored: Promise.resolve() };
  }
  let offset = stat.partial > 0 && stat.partial <= desc.size ? stat.partial : 0;
  let body: import('node:http').IncomingMessage | null = null;
  if (offset < desc.size) {
    const b = await reg.openBlob(desc.digest, offset, signal);
    body = b.response;
    offset = b.start;
  }
  if (offset > 0) state.resumedFrom = offset;
  state.status = 'downloading';
  state.done = offset;
  changed(true);

  let s: HelperStream<'image.blob.put'>;
  try {
    s = await client.stream('image.blob.put', { digest: desc.digest, size: desc.size, mediaType: desc.mediaType, offset, lease });
  } catch (e) {
    body?.destroy();
    throw e;
  }
  const ended = s.finish({
    signal,
    onProgress: (ev: WorkerProgress) => {
      if (ev.phase === 'extract' && state.status !== 'extracting') {
        state.status = 'extracting';
        changed(true);
      }
    },
  });
  ended.catch(() => undefined); // observed below; a rejection before then is not unhandled
  if (body) {
    try {
      await pump(body, s, desc.size - offset, ended, (n) => {
        state.done += n;
        changed(false);
      }, `layer ${desc.digest}`);
    } catch (e) {
      s.close(); // the helper keeps what came as the partial upload
      throw e;
    }
  }
  s.closeStdin();
  const stored = ended.then(() => {
    state.status = 'done';
    state.done = desc.size;
    changed(true);
  });
  stored.catch(() => undefined); // awaited by the caller
  return { stored };
}

/** Runs fn over items with at most `limit` at once; the first failure aborts the rest. */
async function eachLimited<T>(items: T[], limit: number, fn: (item: T) => Promise<void>, abort: AbortController): Promise<void> {
  let next = 0;
  let firstError: unknown = null;
  const worker = async (): Promise<void> => {
    while (next < items.length && firstError === null) {
      const item = items[next++];
      try {
        await fn(item);
      } catch (e) {
        if (firstError === null) {
          firstError = e;
          abort.abort();
        }
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  if (firstError !== null) throw firstError;
}

/**
 * Pulls `ref` from its registry into berthd's store and returns the new image.
 * Rejects with a PullError whose message is one line fit for a terminal.
 */
export async function pullImage(client: HelperClient, ref: string, opts: PullOptions = {}): Promise<ImageSummary> {
  const abort = new AbortController();
  const onUserAbort = (): void => abort.abort();
  if (opts.signal?.aborted) throw new PullError('cancelled', 'pull cancelled');
  opts.signal?.addEventListener('abort', onUserAbort, { once: true });
  const signal = abort.signal;
  let reg: RegistryClient | null = null;
  let lease: { id: string; release: () => void } | null = null;
  try {
    const parsed = parseReference(ref);
    const name = familiarName(parsed);
    const display = `${name}${parsed.digest ? `@${parsed.digest}` : `:${parsed.tag}`}`;
    let credentials;
    try {
      credentials = findCredentials(parsed.registry, parsed.repository, { authFile: opts.authFile });
    } catch (e) {
      throw new PullError('auth', (e as Error).message);
    }
    const concurrency = Math.max(1, Math.floor(opts.concurrency ?? DEFAULT_PULL_CONCURRENCY));
    reg = new RegistryClient(parsed.registry, parsed.repository, { insecure: opts.insecure, credentials, maxSockets: concurrency });
    const platform = opts.platform ?? hostPlatform();

    const { manifest, index } = await resolveManifest(reg, parsed, display, platform, signal);
    const image = manifest.parsed.manifest;
    const layers: LayerProgress[] = image.layers.map((l) => ({ digest: l.digest, size: l.size, done: 0, status: 'waiting' as LayerStatus }));
    const progress: PullProgress = {
      ref: display,
      manifestDigest: manifest.digest,
      ...(index ? { indexDigest: index.digest, platform: platformString(platform) } : {}),
      phase: 'layers',
      layers,
    };
    let lastEmit = 0;
    const emit = (force: boolean): void => {
      if (!opts.onProgress) return;
      const now = Date.now();
      if (!force && now - lastEmit < PROGRESS_INTERVAL_MS) return;
      lastEmit = now;
      opts.onProgress({ ...progress, layers: layers.map((l) => ({ ...l })) });
    };
    emit(true);

    // The config first (small): a registry that lacks it fails the pull before any download.
    const configBytes = await reg.getBlobBytes(image.config, MAX_CONFIG_BYTES, signal);
    // What this pull adds is ours until image.create names it: a prune meanwhile keeps it,
    // a prune after an interrupted pull removes it.
    lease = await holdLease(client);
    const leaseId = lease.id;

    // One upload per distinct blob; a manifest may list a layer twice.
    const unique = new Map<string, { desc: Descriptor; states: LayerProgress[] }>();
    image.layers.forEach((d, i) => {
      const u = unique.get(d.digest);
      if (u) u.states.push(layers[i]);
      else unique.set(d.digest, { desc: d, states: [layers[i]] });
    });
    const r = reg;
    // `concurrency` downloads at once; extractions go on beside the next downloads
    const stored: Promise<void>[] = [];
    let storeError: unknown = null;
    await eachLimited(
      [...unique.values()],
      concurrency,
      async ({ desc, states }) => {
        if (storeError !== null) throw storeError;
        const [first, ...dups] = states;
        const sync = (force: boolean): void => {
          for (const d of dups) Object.assign(d, first);
          emit(force);
        };
        let layer: { stored: Promise<void> } | null = null;
        // another pull storing the same layer holds its upload: wait for it, then
        // the layer is present (or its partial is ours to resume)
        for (let attempt = 1; !layer; attempt++) {
          try {
            layer = await pullLayer(client, r, desc, first, sync, signal, leaseId);
          } catch (e) {
            // (or it finished between our stat and our upload, which then starts past what is kept)
            const raced = isHelperError(e) && (e.code === 'conflict' || (e.code === 'invalid' && /past the \d+ bytes kept/.test(e.message)));
            if (!raced || attempt >= 4 || signal.aborted) throw e;
            first.status = 'waiting';
            sync(true);
          }
        }
        const kept = layer.stored.catch((e: unknown) => {
          if (storeError === null) {
            storeError = e;
            abort.abort();
          }
          throw e;
        });
        // awaited below, unless another layer's failure ends the pull first: then its
        // rejection (the abort's "cancelled") must not surface as an unhandled one
        kept.catch(() => undefined);
        stored.push(kept);
      },
      abort,
    ).catch((e: unknown) => {
      throw storeError ?? e;
    });
    const results = await Promise.allSettled(stored);
    if (storeError !== null) throw storeError;
    const failed = results.find((x): x is PromiseRejectedResult => x.status === 'rejected');
    if (failed) throw failed.reason;
    if (signal.aborted) throw new PullError('cancelled', 'pull cancelled');

    progress.phase = 'committing';
    emit(true);
    const refs = parsed.digest ? [`${name}@${parsed.digest}`] : [];
    if (parsed.tag !== undefined) refs.unshift(`${name}:${parsed.tag}`);
    const create = {
      manifest: manifest.bytes.toString('utf8'),
      config: configBytes.toString('utf8'),
      ref: refs[0],
      ...(refs.length > 1 ? { extraRefs: refs.slice(1) } : {}),
    };
    // both texts travel in one request line
    if (Buffer.byteLength(JSON.stringify(create)) > MAX_LINE_BYTES - 256) {
      throw new PullError('unsupported', `\`${display}\`: its manifest and config (${manifest.bytes.length + configBytes.length} bytes) are too large for berthd's 1 MiB request`);
    }
    const summary = await client.call('image.create', create);
    progress.phase = 'done';
    emit(true);
    return summary;
  } catch (e) {
    throw toPullError(e, opts.signal);
  } finally {
    opts.signal?.removeEventListener('abort', onUserAbort);
    reg?.close();
    lease?.release();
  }
}

/** An image.lease held on a connection of its own until release(). */
async function holdLease(client: HelperClient): Promise<{ id: string; release: () => void }> {
  const ac = new AbortController();
  let resolveId: (id: string) => void = () => undefined;
  const got = new Promise<string>((resolve) => (resolveId = resolve));
  const held = client.work('image.lease', {}, { signal: ac.signal, onProgress: (ev) => ev.phase === 'lease' && ev.item && resolveId(ev.item) });
  held.catch(() => undefined); // ends with the abort below, or with berthd
  const id = await Promise.race([got, held.then(() => Promise.reject(new Error('berthd ended the image lease at once')))]);
  return { id, release: () => ac.abort() };
}
