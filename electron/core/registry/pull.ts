// `berth pull`: resolve a reference on its registry (tokens, manifests, the
// platform's entry of an index, the config), have berthd download every missing
// layer itself (image.blob.fetch: it verifies, keeps and extracts the bytes as
// they come, so they cross no other process), then record the image from the
// registry's exact manifest and config (image.create). Layers already in the
// store are skipped; an interrupted download resumes with a Range request from
// what the helper kept.
import type { HelperClient } from '../helper-client';
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
/** Docker's default (skopeo's and podman's is 6). */
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

/** A failed image.blob.fetch as the pull tells it, by the registry's status when it answered. */
function fetchFailure(e: HelperLikeError, status: number | undefined, reg: RegistryClient, desc: Descriptor): PullError {
  const what = `layer ${desc.digest}`;
  if (status === 404) return new PullError('not_found', `blob unknown: registry \`${reg.registry}\` has no blob ${desc.digest} in \`${reg.repository}\``);
  if (status === 401 || status === 403) return new PullError('auth', `registry \`${reg.registry}\` denied access to \`${reg.repository}\` (${status}) fetching ${what}`);
  if (status === 429) return new PullError('http', `registry \`${reg.registry}\` rate-limits us (429) fetching ${what}`);
  if (status !== undefined && (status < 200 || status >= 300)) return new PullError('http', e.message.replace(/^the registry/, `registry \`${reg.registry}\``));
  // no answer, or cut off: what came is kept for the next pull
  return new PullError('unreachable', `${what} from registry \`${reg.registry}\`: ${e.message} (pull again to resume)`);
}

/**
 * Has berthd download one layer (image.blob.fetch). Resolves once the download is over;
 * `stored` settles when the helper has verified and extracted it (so the next download
 * can start while this one's extraction ends).
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
  for (let attempt = 0; ; attempt++) {
    let status: number | undefined;
    let downloaded: () => void = () => undefined;
    const download = new Promise<void>((resolve) => (downloaded = resolve));
    const fetched = client.work(
      'image.blob.fetch',
      { digest: desc.digest, size: desc.size, mediaType: desc.mediaType, lease, ...reg.blobRequest(desc.digest) },
      {
        signal,
        onProgress: (ev: WorkerProgress) => {
          if (ev.phase === 'response') {
            status = ev.status;
            if (ev.status !== undefined && (ev.status < 200 || ev.status >= 300)) return;
            if ((ev.offset ?? 0) > 0) state.resumedFrom = ev.offset;
            state.status = 'downloading';
            state.done = ev.offset ?? 0;
            changed(true);
          } else if (ev.phase === 'write' && typeof ev.done === 'number') {
            state.done = ev.done;
            changed(false);
          } else if (ev.phase === 'extract' && state.status !== 'extracting') {
            state.status = 'extracting';
            state.done = desc.size;
            changed(true);
            downloaded();
          }
        },
      },
    );
    const stored = fetched.then(
      () => {
        state.status = 'done';
        state.done = desc.size;
        changed(true);
      },
      (e: unknown) => {
        if (isHelperError(e) && e.code === 'remote') throw fetchFailure(e, status, reg, desc);
        throw e;
      },
    );
    // the download is over when the extraction's tail begins, or when it all ends
    const settled = await Promise.race([download.then(() => 'downloaded' as const), stored.then(() => 'stored' as const, (e: unknown) => e)]);
    if (settled === 'downloaded' || settled === 'stored') {
      stored.catch(() => undefined); // awaited by the caller
      return { stored };
    }
    // a token that expired during a long pull: once more with a fresh one
    if (attempt === 0 && (status === 401 || status === 403) && !signal.aborted) {
      await reg.refreshBlobAuthorization(desc.digest, signal);
      state.status = 'waiting';
      changed(true);
      continue;
    }
    throw settled;
  }
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
