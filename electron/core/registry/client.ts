// A client of the OCI distribution API (the /v2/ endpoints every registry
// speaks): manifests (OCI and Docker schema 2, indexes resolved to a platform),
// blobs with Range resume, redirects (credentials never follow to another host)
// and the Bearer/Basic authentication dance. node:http(s) only: no dependency.
import { createHash } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';

import { basicAuthorization, parseWwwAuthenticate, tokenFromResponse, tokenUrl, type Challenge, type Credentials } from './auth';
import { isLoopbackRegistry, registryHost } from './reference';

export const MEDIA_OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const MEDIA_OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const MEDIA_DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
export const MEDIA_DOCKER_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';
const MEDIA_DOCKER_SCHEMA1 = ['application/vnd.docker.distribution.manifest.v1+json', 'application/vnd.docker.distribution.manifest.v1+prettyjws'];
const ACCEPT = [MEDIA_OCI_INDEX, MEDIA_OCI_MANIFEST, MEDIA_DOCKER_LIST, MEDIA_DOCKER_MANIFEST].join(', ');

/** Manifests and configs are small; anything larger is not one. */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;
export const MAX_CONFIG_BYTES = 8 * 1024 * 1024;
/** berthd records at most this many layers per image: refuse more before downloading any. */
export const MAX_LAYERS = 1000;
const MAX_REDIRECTS = 5;
const IDLE_TIMEOUT_MS = 60_000;

export type RegistryErrorCode = 'not_found' | 'auth' | 'unreachable' | 'digest' | 'protocol' | 'unsupported' | 'cancelled' | 'http';

export class RegistryError extends Error {
  constructor(
    readonly code: RegistryErrorCode,
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'RegistryError';
  }
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: Platform;
  annotations?: Record<string, string>;
}

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

export interface ImageManifest {
  schemaVersion: 2;
  mediaType?: string;
  config: Descriptor;
  layers: Descriptor[];
}

export interface ImageIndex {
  schemaVersion: 2;
  mediaType?: string;
  manifests: Descriptor[];
}

export interface FetchedManifest {
  mediaType: string;
  digest: string;
  /** the exact bytes the registry served */
  bytes: Buffer;
  parsed: { kind: 'image'; manifest: ImageManifest } | { kind: 'index'; index: ImageIndex };
}

/** What berthd needs to GET a blob itself (image.blob.fetch). */
export interface BlobRequest {
  url: string;
  /** the header's value, when the registry wanted one */
  authorization?: string;
  insecure: boolean;
}

export interface RegistryClientOptions {
  /** HTTPS without certificate checks, falling back to plain HTTP */
  insecure?: boolean;
  credentials?: Credentials | null;
  /** Parallel connections to keep (the pull's layer concurrency). */
  maxSockets?: number;
}

export function sha256Digest(data: Buffer | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

const DIGEST = /^sha256:[0-9a-f]{64}$/;

/** Node's process.arch in GOARCH terms, as OCI platforms name architectures. */
export function goArch(nodeArch: string = process.arch): string {
  const map: Record<string, string> = { x64: 'amd64', ia32: '386', arm: 'arm', arm64: 'arm64', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64', loong64: 'loong64', mips: 'mips', mipsel: 'mipsle' };
  return map[nodeArch] ?? nodeArch;
}

export function hostPlatform(): Platform {
  const arch = goArch();
  if (arch === 'arm') {
    const v = (process.config.variables as { arm_version?: string | number }).arm_version;
    return { os: 'linux', architecture: arch, variant: `v${v ?? 7}` };
  }
  return { os: 'linux', architecture: arch };
}

/** Variants a host of `want` can run, best first (an armv7 runs v6 and v5 code). */
function compatibleVariants(p: Platform): (string | undefined)[] {
  if (p.architecture === 'arm64') return [p.variant, 'v8', undefined];
  if (p.architecture === 'arm') {
    const n = Number((p.variant ?? 'v7').slice(1));
    const out: (string | undefined)[] = [];
    for (let v = n; v >= 5; v--) out.push(`v${v}`);
    return [...out, undefined];
  }
  return [p.variant, undefined];
}

/** The index entry for a platform: os and architecture must match, then the best variant. */
export function selectPlatform(index: ImageIndex, want: Platform): Descriptor | null {
  const candidates = index.manifests.filter(
    (m) => m.platform && m.platform.os === want.os && m.platform.architecture === want.architecture && (m.mediaType === undefined || !m.mediaType.includes('index')),
  );
  for (const v of compatibleVariants(want)) {
    const hit = candidates.find((m) => (m.platform?.variant || undefined) === v);
    if (hit) return hit;
  }
  return null;
}

export function platformString(p: Platform): string {
  return `${p.os}/${p.architecture}${p.variant ? `/${p.variant}` : ''}`;
}

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function checkDescriptor(d: unknown, what: string): Descriptor {
  if (!isObj(d) || typeof d.digest !== 'string' || typeof d.size !== 'number' || !Number.isSafeInteger(d.size) || d.size < 0) {
    throw new RegistryError('protocol', `${what}: a descriptor without a digest and a size`);
  }
  if (!DIGEST.test(d.digest)) throw new RegistryError('unsupported', `${what}: digest \`${String(d.digest).slice(0, 80)}\` is not sha256`);
  return d as unknown as Descriptor;
}

/** Parses manifest bytes by their media type (the header's, else the document's). */
export function parseManifest(bytes: Buffer, contentType: string | undefined, what: string): FetchedManifest['parsed'] & { mediaType: string } {
  let doc: unknown;
  try {
    doc = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new RegistryError('protocol', `${what}: the manifest is not JSON`);
  }
  if (!isObj(doc)) throw new RegistryError('protocol', `${what}: the manifest is not a JSON object`);
  const header = contentType?.split(';')[0].trim();
  const mediaType = typeof doc.mediaType === 'string' ? doc.mediaType : header && header !== 'application/json' ? header : '';
  if (MEDIA_DOCKER_SCHEMA1.includes(mediaType) || doc.schemaVersion === 1) {
    throw new RegistryError('unsupported', `${what}: Docker schema 1 manifests are not supported (re-push the image with a current client)`);
  }
  if (doc.schemaVersion !== 2) throw new RegistryError('protocol', `${what}: schemaVersion ${String(doc.schemaVersion)} is not 2`);
  const isIndex = mediaType === MEDIA_OCI_INDEX || mediaType === MEDIA_DOCKER_LIST || (!mediaType && Array.isArray(doc.manifests));
  if (isIndex) {
    if (!Array.isArray(doc.manifests)) throw new RegistryError('protocol', `${what}: an index without manifests`);
    const manifests = doc.manifests.map((m, i) => checkDescriptor(m, `${what}: manifests[${i}]`));
    return { kind: 'index', index: { schemaVersion: 2, mediaType, manifests }, mediaType: mediaType || MEDIA_OCI_INDEX };
  }
  if (mediaType && mediaType !== MEDIA_OCI_MANIFEST && mediaType !== MEDIA_DOCKER_MANIFEST) {
    throw new RegistryError('unsupported', `${what}: unsupported manifest type \`${mediaType}\``);
  }
  if (!Array.isArray(doc.layers)) throw new RegistryError('protocol', `${what}: an image manifest without layers`);
  if (doc.layers.length > MAX_LAYERS) throw new RegistryError('unsupported', `${what}: ${doc.layers.length} layers; at most ${MAX_LAYERS} are supported`);
  const config = checkDescriptor(doc.config, `${what}: config`);
  const layers = doc.layers.map((l, i) => checkDescriptor(l, `${what}: layers[${i}]`));
  return { kind: 'image', manifest: { schemaVersion: 2, mediaType, config, layers }, mediaType: mediaType || MEDIA_OCI_MANIFEST };
}

const IP_HOST = /^(?:\d{1,3}(?:\.\d{1,3}){3}|\[[0-9a-f:.]+\])$/i;

/**
 * Whether a Bearer challenge's token realm may receive the registry's own
 * credentials: the registry's very host and port, or an HTTPS sibling under
 * the registry's parent domain on the default port (registry-1.docker.io ->
 * auth.docker.io). Any other realm gets an anonymous token request: a
 * registry must not be able to point our credentials at a host of its choice.
 */
export function realmMayGetCredentials(registryBase: URL, realm: URL): boolean {
  if (realm.host === registryBase.host && realm.protocol === registryBase.protocol) return true;
  const reg = registryBase.hostname.toLowerCase();
  const host = realm.hostname.toLowerCase();
  if (realm.protocol !== 'https:' || realm.port !== '' || IP_HOST.test(reg) || IP_HOST.test(host)) return false;
  const labels = reg.split('.');
  if (labels.length < 3) return host === reg; // no parent domain below the public suffix to share
  const parent = labels.slice(1).join('.');
  return host === parent || host.endsWith(`.${parent}`);
}

function cancelled(): RegistryError {
  return new RegistryError('cancelled', 'pull cancelled');
}

/** The registry's own words from an error body ({"errors": [{"code", "message"}]}). */
function registryMessage(body: Buffer): string {
  try {
    const j = JSON.parse(body.toString('utf8')) as { errors?: { code?: string; message?: string }[] };
    const e = j.errors?.[0];
    if (e) return [e.code, e.message].filter(Boolean).join(': ');
  } catch {
    /* not JSON */
  }
  return body.toString('utf8').trim().slice(0, 200);
}

function readBody(res: http.IncomingMessage, max: number, what: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let size = 0;
    res.on('data', (c: Buffer) => {
      size += c.length;
      if (size > max) {
        // before destroy(): it emits 'aborted' at once, whose reason would win
        reject(new RegistryError('protocol', `${what} is over ${max} bytes`));
        res.destroy();
        return;
      }
      parts.push(c);
    });
    res.on('end', () => resolve(Buffer.concat(parts)));
    res.on('error', (e) => reject(e));
    res.on('aborted', () => reject(new RegistryError('unreachable', `${what}: the connection closed early`)));
  });
}


export class RegistryClient {
  readonly host: string;
  private scheme: 'http' | 'https';
  private readonly insecure: boolean;
  private authorization: string | null = null;
  private readonly httpAgent: http.Agent;
  private readonly httpsAgent: https.Agent;
  private readonly credentials: Credentials | null;

  constructor(
    /** the registry as named in the reference (docker.io, 127.0.0.1:5000) */
    readonly registry: string,
    readonly repository: string,
    opts: RegistryClientOptions = {},
  ) {
    this.host = registryHost(registry);
    this.insecure = opts.insecure ?? false;
    this.scheme = isLoopbackRegistry(registry) ? 'http' : 'https';
    this.credentials = opts.credentials ?? null;
    const maxSockets = Math.max(2, (opts.maxSockets ?? 3) + 1);
    this.httpAgent = new http.Agent({ keepAlive: true, maxSockets });
    this.httpsAgent = new https.Agent({ keepAlive: true, maxSockets, rejectUnauthorized: !this.insecure });
  }

  /** Ends the kept-alive connections. */
  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }

  get baseUrl(): string {
    return `${this.scheme}://${this.host}`;
  }

  /** One HTTP exchange, the body not read. Network errors become RegistryError('unreachable'). */
  private send(url: URL, method: string, headers: Record<string, string>, signal?: AbortSignal): Promise<http.IncomingMessage> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(cancelled());
      const mod = url.protocol === 'https:' ? https : http;
      const agent = url.protocol === 'https:' ? this.httpsAgent : this.httpAgent;
      const req = mod.request(url, { method, headers: { 'User-Agent': 'berth', ...headers }, agent });
      const onAbort = (): void => {
        req.destroy(cancelled());
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      req.setTimeout(IDLE_TIMEOUT_MS, () => req.destroy(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' })));
      req.on('response', (res) => {
        // the body may be read long after: cancel it too, and stop listening once it is done
        res.on('close', () => signal?.removeEventListener('abort', onAbort));
        resolve(res);
      });
      req.on('error', (e: NodeJS.ErrnoException) => {
        signal?.removeEventListener('abort', onAbort);
        if (e instanceof RegistryError) return reject(e);
        const code = e.code ?? '';
        const msg = `cannot reach registry \`${this.registry}\` at ${url.protocol}//${url.host}: ${code || e.message}`;
        reject(Object.assign(new RegistryError('unreachable', msg), { cause: e, errno: code }));
      });
      req.end();
    });
  }

  /** Follows redirects; the Authorization header goes to the registry's own host only. */
  private async sendFollowing(url: URL, headers: Record<string, string>, signal?: AbortSignal): Promise<http.IncomingMessage> {
    let cur = url;
    for (let hop = 0; ; hop++) {
      const sameHost = cur.host === url.host && cur.protocol === url.protocol;
      const h = { ...headers };
      if (!sameHost) delete h.Authorization;
      const res = await this.send(cur, 'GET', h, signal);
      const status = res.statusCode ?? 0;
      if (![301, 302, 303, 307, 308].includes(status) || !res.headers.location) return res;
      res.resume();
      if (hop >= MAX_REDIRECTS) throw new RegistryError('protocol', `registry \`${this.registry}\`: more than ${MAX_REDIRECTS} redirects`);
      cur = new URL(res.headers.location, cur);
      if (cur.protocol !== 'http:' && cur.protocol !== 'https:') throw new RegistryError('protocol', `registry \`${this.registry}\` redirected to ${cur.protocol} URL`);
      // an HTTPS registry must not hand us to plain HTTP elsewhere
      if (url.protocol === 'https:' && cur.protocol === 'http:' && !this.insecure) {
        throw new RegistryError('protocol', `registry \`${this.registry}\` redirected to plain HTTP (${cur.host})`);
      }
    }
  }

  /** The answer to a 401: a Bearer token or Basic credentials. */
  private async authenticate(res: http.IncomingMessage, signal?: AbortSignal): Promise<void> {
    const header = res.headers['www-authenticate'];
    const challenges = parseWwwAuthenticate(Array.isArray(header) ? header.join(', ') : (header ?? ''));
    const bearer = challenges.find((c) => c.scheme === 'bearer');
    const basic = challenges.find((c) => c.scheme === 'basic');
    if (bearer) {
      this.authorization = `Bearer ${await this.fetchToken(bearer, signal)}`;
      return;
    }
    if (basic) {
      if (!this.credentials) throw new RegistryError('auth', `registry \`${this.registry}\` needs a login (no credentials for it in the auth files)`, 401);
      this.authorization = basicAuthorization(this.credentials);
      return;
    }
    throw new RegistryError('auth', `registry \`${this.registry}\` answered 401 without a usable WWW-Authenticate challenge`, 401);
  }

  private async fetchToken(ch: Challenge, signal?: AbortSignal): Promise<string> {
    const scopes = [`repository:${this.repository}:pull`];
    if (ch.params.scope && !scopes.includes(ch.params.scope)) scopes.push(ch.params.scope);
    let url: URL;
    try {
      url = tokenUrl(ch, scopes);
    } catch (e) {
      throw new RegistryError('auth', `registry \`${this.registry}\`: ${(e as Error).message}`);
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new RegistryError('auth', `registry \`${this.registry}\`: token realm ${url.href} is not HTTP(S)`);
    const headers: Record<string, string> = { Accept: 'application/json' };
    // credentials go to the registry's own token server only (docker.io's is auth.docker.io)
    const trusted = realmMayGetCredentials(new URL(this.baseUrl), url);
    if (this.credentials && trusted) headers.Authorization = basicAuthorization(this.credentials);
    const res = await this.send(url, 'GET', headers, signal);
    const body = await readBody(res, 1024 * 1024, `the token from ${url.host}`);
    const status = res.statusCode ?? 0;
    if ((status === 401 || status === 403) && this.credentials && !trusted) {
      throw new RegistryError('auth', `registry \`${this.registry}\`: its token server ${url.host} is not the registry's host; the credentials of \`${this.credentials.username}\` were not sent there, and anonymous access was refused (${status})`, status);
    }
    if (status === 401 || status === 403) {
      throw new RegistryError(
        'auth',
        this.credentials
          ? `registry \`${this.registry}\`: the token server ${url.host} refused the credentials of \`${this.credentials.username}\` (${status})`
          : `registry \`${this.registry}\`: the token server ${url.host} refused anonymous access (${status}); log in first`,
        status,
      );
    }
    if (status !== 200) throw new RegistryError('auth', `registry \`${this.registry}\`: the token server ${url.host} answered ${status}: ${registryMessage(body)}`, status);
    try {
      return tokenFromResponse(JSON.parse(body.toString('utf8')));
    } catch (e) {
      throw new RegistryError('auth', `registry \`${this.registry}\`: ${(e as Error).message}`);
    }
  }

  /** GET with authentication (once on a 401) and the insecure https -> http fallback. */
  private async get(path: string, headers: Record<string, string>, signal?: AbortSignal, fresh = false): Promise<http.IncomingMessage> {
    if (fresh) this.authorization = null;
    for (let attempt = 0; ; attempt++) {
      const h = { ...headers };
      if (this.authorization) h.Authorization = this.authorization;
      let res: http.IncomingMessage;
      try {
        res = await this.sendFollowing(new URL(path, this.baseUrl), h, signal);
      } catch (e) {
        const errno = (e as { errno?: string }).errno ?? '';
        if (this.insecure && this.scheme === 'https' && e instanceof RegistryError && e.code === 'unreachable' && (errno.startsWith('ERR_SSL') || errno === 'EPROTO' || errno === 'ECONNRESET')) {
          this.scheme = 'http'; // an insecure registry speaking plain HTTP
          continue;
        }
        throw e;
      }
      if (res.statusCode === 401 && attempt === 0) {
        res.resume();
        await this.authenticate(res, signal);
        continue;
      }
      if (res.statusCode === 401 || res.statusCode === 403) {
        const body = await readBody(res, 64 * 1024, 'the error').catch(() => Buffer.alloc(0));
        const who = this.credentials ? `as \`${this.credentials.username}\`` : 'anonymously';
        throw new RegistryError('auth', `registry \`${this.registry}\` denied access to \`${this.repository}\` ${who} (${res.statusCode}${body.length ? `: ${registryMessage(body)}` : ''})`, res.statusCode);
      }
      return res;
    }
  }

  private async failure(res: http.IncomingMessage, what: string): Promise<RegistryError> {
    const body = await readBody(res, 64 * 1024, 'the error').catch(() => Buffer.alloc(0));
    const status = res.statusCode ?? 0;
    const detail = body.length ? `: ${registryMessage(body)}` : '';
    if (status === 429) return new RegistryError('http', `registry \`${this.registry}\` rate-limits us (429) fetching ${what}${detail}`, status);
    return new RegistryError('http', `registry \`${this.registry}\` answered ${status} ${res.statusMessage ?? ''} for ${what}${detail}`.replace(/ +/g, ' '), status);
  }

  /**
   * A manifest or index by tag or digest. `display` names it in errors (`busybox:latest`).
   * By digest the bytes must hash to it; by tag a Docker-Content-Digest header must match.
   */
  async getManifest(reference: string, display: string, signal?: AbortSignal): Promise<FetchedManifest> {
    const res = await this.get(`/v2/${this.repository}/manifests/${reference}`, { Accept: ACCEPT }, signal);
    if (res.statusCode === 404) {
      res.resume();
      throw new RegistryError('not_found', `manifest unknown: no image \`${display}\` on registry \`${this.registry}\``, 404);
    }
    if (res.statusCode !== 200) throw await this.failure(res, `manifest \`${display}\``);
    const bytes = await readBody(res, MAX_MANIFEST_BYTES, `manifest \`${display}\``);
    const digest = sha256Digest(bytes);
    if (DIGEST.test(reference) && digest !== reference) {
      throw new RegistryError('digest', `digest mismatch: registry \`${this.registry}\` served bytes hashing to ${digest} for manifest ${reference}`);
    }
    const headerDigest = res.headers['docker-content-digest'];
    if (typeof headerDigest === 'string' && headerDigest.startsWith('sha256:') && headerDigest !== digest) {
      throw new RegistryError('digest', `digest mismatch: manifest \`${display}\` hashes to ${digest}, the registry says ${headerDigest}`);
    }
    const parsed = parseManifest(bytes, res.headers['content-type'], `manifest \`${display}\``);
    const { mediaType, ...rest } = parsed;
    return { mediaType, digest, bytes, parsed: rest as FetchedManifest['parsed'] };
  }

  /** A small blob (the config) in memory, verified against its descriptor. */
  async getBlobBytes(desc: Descriptor, max: number, signal?: AbortSignal): Promise<Buffer> {
    if (desc.size > max) throw new RegistryError('protocol', `blob ${desc.digest} is ${desc.size} bytes, over ${max}`);
    const res = await this.get(`/v2/${this.repository}/blobs/${desc.digest}`, {}, signal);
    if (res.statusCode === 404) {
      res.resume();
      throw new RegistryError('not_found', `blob unknown: registry \`${this.registry}\` has no blob ${desc.digest} in \`${this.repository}\``, 404);
    }
    if (res.statusCode !== 200) throw await this.failure(res, `blob ${desc.digest}`);
    const bytes = await readBody(res, max, `blob ${desc.digest}`);
    const got = sha256Digest(bytes);
    if (got !== desc.digest || bytes.length !== desc.size) {
      throw new RegistryError('digest', `digest mismatch: blob ${desc.digest} from registry \`${this.registry}\` hashes to ${got} (${bytes.length} bytes, ${desc.size} expected)`);
    }
    return bytes;
  }

  /**
   * Where and how to GET a blob, for berthd to download it itself: the URL on the
   * registry and the Authorization this client holds (from the manifest's request).
   */
  blobRequest(digest: string): BlobRequest {
    return {
      url: new URL(`/v2/${this.repository}/blobs/${digest}`, this.baseUrl).href,
      ...(this.authorization ? { authorization: this.authorization } : {}),
      insecure: this.insecure,
    };
  }

  /**
   * After a 401 on a blob (a token that expired during a long pull): asks for the
   * blob once more through the authentication dance, so that blobRequest carries
   * fresh credentials. The body is not read.
   */
  async refreshBlobAuthorization(digest: string, signal?: AbortSignal): Promise<void> {
    const res = await this.get(`/v2/${this.repository}/blobs/${digest}`, { Range: 'bytes=0-0' }, signal, true);
    res.destroy();
  }
}
