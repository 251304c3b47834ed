// Registry credentials and the challenge/response of the distribution spec:
// the auth files podman, skopeo and docker write, WWW-Authenticate parsing, and
// the Bearer token exchange.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { DOCKER_HUB } from './reference';

export interface Credentials {
  username: string;
  password: string;
}

export interface AuthFileOptions {
  /** An explicit file (--authfile): the only one read. */
  authFile?: string;
  env?: NodeJS.ProcessEnv;
  home?: string;
}

/** The files searched, in podman's order (the first that names the registry wins). */
export function authFileCandidates(opts: AuthFileOptions = {}): string[] {
  if (opts.authFile) return [opts.authFile];
  const env = opts.env ?? process.env;
  const home = opts.home ?? os.homedir();
  const out: string[] = [];
  if (env.REGISTRY_AUTH_FILE) out.push(env.REGISTRY_AUTH_FILE);
  if (env.XDG_RUNTIME_DIR) out.push(path.join(env.XDG_RUNTIME_DIR, 'containers/auth.json'));
  out.push(path.join(home, '.config/containers/auth.json'));
  out.push(path.join(env.DOCKER_CONFIG ?? path.join(home, '.docker'), 'config.json'));
  return out;
}

/** The keys an auths entry may have for this registry and repository, most specific first. */
function authKeys(registry: string, repository: string): string[] {
  const keys: string[] = [];
  // containers-auth.json(5): "registry/namespace/repo" entries are more specific.
  const parts = repository.split('/');
  for (let i = parts.length; i > 0; i--) keys.push(`${registry}/${parts.slice(0, i).join('/')}`);
  keys.push(registry);
  if (registry === DOCKER_HUB) keys.push('https://index.docker.io/v1/', 'index.docker.io', 'registry-1.docker.io');
  return keys;
}

/** "https://r.example/v1/" -> "r.example"; docker writes URLs as keys. */
function normalizeKey(key: string): string {
  let k = key.replace(/^https?:\/\//, '');
  if (k.endsWith('/')) k = k.slice(0, -1);
  if (k.endsWith('/v1') || k.endsWith('/v2')) k = k.slice(0, -3);
  return k;
}

function decodeAuth(entry: unknown, file: string, key: string): Credentials | null {
  if (typeof entry !== 'object' || entry === null) return null;
  const e = entry as { auth?: unknown; username?: unknown; password?: unknown };
  if (typeof e.auth === 'string' && e.auth !== '') {
    const plain = Buffer.from(e.auth, 'base64').toString('utf8');
    const colon = plain.indexOf(':');
    if (colon < 0) throw new Error(`${file}: the "auth" entry for ${key} is not base64 of user:password`);
    return { username: plain.slice(0, colon), password: plain.slice(colon + 1) };
  }
  if (typeof e.username === 'string' && typeof e.password === 'string') return { username: e.username, password: e.password };
  return null;
}

/** Credentials for one entry of an auth file's "auths" map, if it has them. */
export function credentialsFromAuthJson(json: unknown, registry: string, repository: string, file = 'auth file'): Credentials | null {
  if (typeof json !== 'object' || json === null) return null;
  const auths = (json as { auths?: unknown }).auths;
  if (typeof auths !== 'object' || auths === null) return null;
  const byKey = new Map<string, [string, unknown]>();
  for (const [k, v] of Object.entries(auths as Record<string, unknown>)) {
    const n = normalizeKey(k);
    if (!byKey.has(n)) byKey.set(n, [k, v]);
  }
  for (const key of authKeys(registry, repository)) {
    const hit = byKey.get(normalizeKey(key));
    if (!hit) continue;
    const c = decodeAuth(hit[1], file, hit[0]);
    if (c) return c;
  }
  return null;
}

/** Looks the registry up in the auth files; null when none has it (anonymous). */
export function findCredentials(registry: string, repository: string, opts: AuthFileOptions = {}): Credentials | null {
  for (const file of authFileCandidates(opts)) {
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') {
        if (opts.authFile) throw new Error(`auth file ${file} does not exist`);
        continue;
      }
      throw new Error(`cannot read auth file ${file}: ${code ?? (e as Error).message}`);
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new Error(`auth file ${file} is not valid JSON`);
    }
    const c = credentialsFromAuthJson(json, registry, repository, file);
    if (c) return c;
  }
  return null;
}

export interface Challenge {
  /** lower-case: "bearer", "basic" */
  scheme: string;
  /** parameter names lower-case */
  params: Record<string, string>;
}

/**
 * Parses a WWW-Authenticate header (RFC 7235): one or more challenges, each a
 * scheme and auth-params (token or quoted-string values, with \-escapes).
 */
export function parseWwwAuthenticate(header: string): Challenge[] {
  const out: Challenge[] = [];
  let i = 0;
  const n = header.length;
  const skipWs = (): void => {
    while (i < n && (header[i] === ' ' || header[i] === '\t')) i++;
  };
  const token = (): string => {
    const start = i;
    while (i < n && /[!#$%&'*+\-.^_`|~0-9A-Za-z/]/.test(header[i])) i++;
    return header.slice(start, i);
  };
  let cur: Challenge | null = null;
  while (i < n) {
    skipWs();
    if (header[i] === ',') {
      i++;
      continue;
    }
    const start = i;
    const word = token();
    if (word === '') {
      i++; // not a token character: skip it
      continue;
    }
    skipWs();
    if (header[i] === '=' && cur) {
      // name=value of the current challenge (a token68 has '=' only at its end: handled below)
      i++;
      skipWs();
      let value = '';
      if (header[i] === '"') {
        i++;
        while (i < n && header[i] !== '"') {
          if (header[i] === '\\' && i + 1 < n) i++;
          value += header[i++];
        }
        i++; // closing quote
      } else {
        // a token by the RFC; some servers put URLs here unquoted: up to , or space
        const start2 = i;
        while (i < n && header[i] !== ',' && header[i] !== ' ' && header[i] !== '\t') i++;
        value = header.slice(start2, i);
      }
      cur.params[word.toLowerCase()] = value;
      continue;
    }
    // A new challenge: `scheme` followed by params (or a token68 we keep as `token68`).
    i = start + word.length;
    cur = { scheme: word.toLowerCase(), params: {} };
    out.push(cur);
    skipWs();
    const t68 = /^[A-Za-z0-9\-._~+/]+=*(?=\s*(,|$))/.exec(header.slice(i));
    if (t68 && !/^[A-Za-z0-9\-._~+/]+\s*=\s*[^=]/.test(header.slice(i))) {
      cur.params.token68 = t68[0];
      i += t68[0].length;
    }
  }
  return out;
}

export function basicAuthorization(c: Credentials): string {
  return `Basic ${Buffer.from(`${c.username}:${c.password}`, 'utf8').toString('base64')}`;
}

/** The token endpoint URL for a Bearer challenge and the scopes asked for. */
export function tokenUrl(challenge: Challenge, scopes: string[]): URL {
  const realm = challenge.params.realm;
  if (!realm) throw new Error('the registry sent a Bearer challenge without a realm');
  const u = new URL(realm);
  if (challenge.params.service) u.searchParams.set('service', challenge.params.service);
  for (const s of scopes) u.searchParams.append('scope', s);
  return u;
}

/** The token out of a token server's JSON answer (`token`, or OAuth2's `access_token`). */
export function tokenFromResponse(body: unknown): string {
  if (typeof body === 'object' && body !== null) {
    const b = body as { token?: unknown; access_token?: unknown };
    if (typeof b.token === 'string' && b.token !== '') return b.token;
    if (typeof b.access_token === 'string' && b.access_token !== '') return b.access_token;
  }
  throw new Error('the token server answered without a token');
}
