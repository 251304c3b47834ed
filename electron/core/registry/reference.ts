// Docker-style image references: `busybox`, `alpine:3.20`, `ghcr.io/o/r@sha256:…`,
// `localhost:5000/x/y:tag`. The grammar of distribution/reference, with docker's
// defaults (docker.io, library/, latest).

export const DOCKER_HUB = 'docker.io';
/** Where docker.io's registry API really is. */
export const DOCKER_HUB_API = 'registry-1.docker.io';

export interface ImageReference {
  /** host[:port] as written (docker.io for Docker Hub) */
  registry: string;
  /** the repository path in that registry (library/busybox) */
  repository: string;
  /** set unless the reference names a digest only */
  tag?: string;
  /** sha256:<64 hex> when the reference pins one */
  digest?: string;
}

export class ReferenceError extends Error {
  constructor(
    readonly ref: string,
    readonly reason: string,
  ) {
    super(`invalid image reference \`${ref}\`: ${reason}`);
    this.name = 'ReferenceError';
  }
}

const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const DIGEST = /^sha256:[0-9a-f]{64}$/;
const HOST = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?$/;
/** Longest repository path distribution accepts. */
const MAX_NAME = 255;

/** True when the first path component of a name is a registry host, docker's rule. */
function looksLikeHost(first: string): boolean {
  return first.includes('.') || first.includes(':') || first === 'localhost' || first.startsWith('[') || first !== first.toLowerCase();
}

export function parseReference(input: string): ImageReference {
  const ref = input.trim();
  if (ref === '') throw new ReferenceError(input, 'it is empty');
  if (/\s/.test(ref)) throw new ReferenceError(input, 'it contains white space');
  if (ref.includes('://')) throw new ReferenceError(input, 'give NAME[:TAG] or NAME@DIGEST, not a URL');

  let rest = ref;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) {
      throw new ReferenceError(input, digest.startsWith('sha256:') ? 'a sha256 digest is 64 lower-case hex digits' : `unsupported digest \`${digest}\` (sha256 only)`);
    }
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw new ReferenceError(input, `bad tag \`${tag}\` (letters, digits, _ . -, at most 128, not starting with . or -)`);
  }

  const parts = rest.split('/');
  let registry = DOCKER_HUB;
  if (parts.length > 1 && looksLikeHost(parts[0])) {
    registry = parts.shift() as string;
    if (!HOST.test(registry)) throw new ReferenceError(input, `bad registry host \`${registry}\``);
  }
  if (registry === 'index.docker.io' || registry === DOCKER_HUB_API) registry = DOCKER_HUB;
  if (registry === DOCKER_HUB && parts.length === 1) parts.unshift('library');
  for (const p of parts) {
    if (p === '') throw new ReferenceError(input, 'empty path component');
    if (p !== p.toLowerCase()) throw new ReferenceError(input, 'repository names must be lower-case');
    if (!COMPONENT.test(p)) throw new ReferenceError(input, `bad name component \`${p}\` (lower-case letters and digits, separated by . _ __ or -)`);
  }
  const repository = parts.join('/');
  if (repository.length > MAX_NAME) throw new ReferenceError(input, `the name is longer than ${MAX_NAME} characters`);
  if (!digest && tag === undefined) tag = 'latest';
  return { registry, repository, ...(tag !== undefined ? { tag } : {}), ...(digest ? { digest } : {}) };
}

/** The name as people write it: docker.io/ and library/ dropped (`busybox`, `ghcr.io/o/r`). */
export function familiarName(r: ImageReference): string {
  if (r.registry !== DOCKER_HUB) return `${r.registry}/${r.repository}`;
  return r.repository.startsWith('library/') && r.repository.split('/').length === 2 ? r.repository.slice('library/'.length) : r.repository;
}

/** `busybox:latest`, `ghcr.io/o/r@sha256:…`, `x:1@sha256:…` when both are given. */
export function formatReference(r: ImageReference): string {
  return `${familiarName(r)}${r.tag !== undefined ? `:${r.tag}` : ''}${r.digest ? `@${r.digest}` : ''}`;
}

/** The host to talk to for a registry name (docker.io's API lives elsewhere). */
export function registryHost(registry: string): string {
  return registry === DOCKER_HUB ? DOCKER_HUB_API : registry;
}

/** The hostname without the port and brackets: `127.0.0.1`, `::1`, `localhost`. */
export function hostnameOf(registry: string): string {
  if (registry.startsWith('[')) return registry.slice(1, registry.indexOf(']'));
  const c = registry.lastIndexOf(':');
  return c >= 0 ? registry.slice(0, c) : registry;
}

/** Loopback registries speak plain HTTP by default. */
export function isLoopbackRegistry(registry: string): boolean {
  const h = hostnameOf(registry).toLowerCase();
  return h === 'localhost' || h === '::1' || /^127(?:\.\d{1,3}){3}$/.test(h);
}
