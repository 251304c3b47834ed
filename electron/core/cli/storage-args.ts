// The storage and restart flags of `berth run` (docker's spellings) to ContainerSpec's
// `mounts` and `restart`: -v SRC:DST[:ro] (or -v DST, an anonymous volume), --mount k=v,...,
// --tmpfs DST[:opts], --restart.
// Errors are plain Errors with a one-line message; args.ts turns them into usage errors.
import path from 'node:path';

import { parseSize } from '../format';
import type { MountSpec, RestartPolicy } from '../protocol';

const VOLUME_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

function containerPath(flag: string, text: string): string {
  if (!text.startsWith('/')) throw new Error(`${flag}: the container path '${text}' must be absolute`);
  return text;
}

/** A host path (absolute, or ./ ../ ~/ relative) or a volume name. */
function bindOrVolume(flag: string, source: string, cwd: string): { type: 'bind' | 'volume'; source: string } {
  if (source.startsWith('/')) return { type: 'bind', source };
  if (source === '.' || source === '..' || source.startsWith('./') || source.startsWith('../')) return { type: 'bind', source: path.resolve(cwd, source) };
  if (source === '~' || source.startsWith('~/')) return { type: 'bind', source: path.join(process.env.HOME ?? '/', source.slice(1)) };
  if (!VOLUME_NAME.test(source)) {
    throw new Error(`${flag}: '${source}' is neither an absolute host path nor a volume name ([A-Za-z0-9][A-Za-z0-9_.-]*)`);
  }
  return { type: 'volume', source };
}

/** `-v SRC:DST[:ro|rw]`, or `-v DST`: an anonymous volume (a new one, named by berthd, for this container) */
export function parseVolumeFlag(text: string, cwd: string): MountSpec {
  const parts = text.split(':');
  if (parts.length === 1 && text.startsWith('/')) return { type: 'volume', target: text };
  if (parts.length < 2 || parts.length > 3 || parts[0] === '' || parts[1] === '') {
    throw new Error(`-v '${text}': expected HOST-PATH:CONTAINER-PATH[:ro], VOLUME:CONTAINER-PATH[:ro] or CONTAINER-PATH (an anonymous volume)`);
  }
  let readOnly = false;
  for (const opt of (parts[2] ?? '').split(',').filter(Boolean)) {
    if (opt === 'ro') readOnly = true;
    else if (opt === 'rw') readOnly = false;
    else throw new Error(`-v '${text}': unknown option '${opt}' (ro or rw)`);
  }
  const src = bindOrVolume('-v', parts[0], cwd);
  return { ...src, target: containerPath('-v', parts[1]), ...(readOnly ? { readOnly } : {}) };
}

function truthy(flag: string, key: string, value: string | undefined): boolean {
  if (value === undefined || value === 'true' || value === '1') return true;
  if (value === 'false' || value === '0') return false;
  throw new Error(`${flag}: ${key}=${value} must be true or false`);
}

function octalMode(flag: string, text: string): number {
  if (!/^[0-7]{1,4}$/.test(text)) throw new Error(`${flag}: mode '${text}' must be octal, e.g. 1777`);
  return parseInt(text, 8);
}

function size(flag: string, text: string): number {
  try {
    return parseSize(text);
  } catch (e) {
    throw new Error(`${flag}: ${(e as Error).message}`);
  }
}

/** `--mount type=bind|volume|tmpfs,source=..,target=..[,readonly][,tmpfs-size=..][,tmpfs-mode=..]`;
 *  a volume without source= is an anonymous one */
export function parseMountFlag(text: string, cwd: string): MountSpec {
  const kv = new Map<string, string | undefined>();
  for (const field of text.split(',').filter(Boolean)) {
    const eq = field.indexOf('=');
    kv.set(eq < 0 ? field : field.slice(0, eq), eq < 0 ? undefined : field.slice(eq + 1));
  }
  const flag = `--mount '${text}'`;
  const known = ['type', 'source', 'src', 'target', 'destination', 'dst', 'readonly', 'ro', 'tmpfs-size', 'tmpfs-mode'];
  for (const k of kv.keys()) if (!known.includes(k)) throw new Error(`${flag}: unknown key '${k}' (${known.join(', ')})`);
  const type = kv.get('type') ?? 'volume';
  const target = kv.get('target') ?? kv.get('destination') ?? kv.get('dst');
  if (!target) throw new Error(`${flag}: target= is missing`);
  const source = kv.get('source') ?? kv.get('src');
  const readOnly = kv.has('readonly') ? truthy(flag, 'readonly', kv.get('readonly')) : kv.has('ro') ? truthy(flag, 'ro', kv.get('ro')) : false;
  const ro = readOnly ? { readOnly } : {};
  if (type === 'tmpfs') {
    if (source) throw new Error(`${flag}: a tmpfs mount takes no source`);
    const sz = kv.get('tmpfs-size');
    const mode = kv.get('tmpfs-mode');
    return {
      type: 'tmpfs',
      target: containerPath(flag, target),
      ...(sz === undefined ? {} : { size: size(flag, sz) }),
      ...(mode === undefined ? {} : { mode: octalMode(flag, mode) }),
      ...ro,
    };
  }
  if (kv.has('tmpfs-size') || kv.has('tmpfs-mode')) throw new Error(`${flag}: tmpfs-size and tmpfs-mode go with type=tmpfs`);
  if (type === 'volume' && !source) return { type: 'volume', target: containerPath(flag, target), ...ro };
  if (!source) throw new Error(`${flag}: source= is missing`);
  if (type === 'bind') {
    if (!source.startsWith('/')) throw new Error(`${flag}: a bind source must be an absolute host path`);
    return { type: 'bind', source, target: containerPath(flag, target), ...ro };
  }
  if (type === 'volume') {
    if (!VOLUME_NAME.test(source)) throw new Error(`${flag}: '${source}' is not a volume name ([A-Za-z0-9][A-Za-z0-9_.-]*)`);
    return { type: 'volume', source, target: containerPath(flag, target), ...ro };
  }
  throw new Error(`${flag}: type must be bind, volume or tmpfs (got '${type}')`);
}

/** `--tmpfs DST[:size=64m,mode=1777,ro]` */
export function parseTmpfsFlag(text: string): MountSpec {
  const colon = text.indexOf(':');
  const target = containerPath('--tmpfs', colon < 0 ? text : text.slice(0, colon));
  const m: Extract<MountSpec, { type: 'tmpfs' }> = { type: 'tmpfs', target };
  for (const opt of (colon < 0 ? '' : text.slice(colon + 1)).split(',').filter(Boolean)) {
    const eq = opt.indexOf('=');
    const [k, v] = eq < 0 ? [opt, undefined] : [opt.slice(0, eq), opt.slice(eq + 1)];
    if (k === 'size' && v !== undefined) m.size = size('--tmpfs', v);
    else if (k === 'mode' && v !== undefined) m.mode = octalMode('--tmpfs', v);
    else if (k === 'ro' && v === undefined) m.readOnly = true;
    else if (k === 'rw' && v === undefined) m.readOnly = false;
    else throw new Error(`--tmpfs '${text}': unknown option '${opt}' (size=, mode=, ro, rw)`);
  }
  return m;
}

/** `--restart no|on-failure[:N]|always|unless-stopped` */
export function parseRestartFlag(text: string): RestartPolicy {
  const m = /^(no|on-failure|always|unless-stopped)(?::(\d+))?$/.exec(text.trim());
  if (!m) throw new Error(`--restart '${text}': use no, on-failure[:N], always or unless-stopped`);
  const policy = m[1] as RestartPolicy['policy'];
  if (m[2] !== undefined) {
    if (policy !== 'on-failure') throw new Error(`--restart '${text}': only on-failure takes a retry count`);
    const n = Number(m[2]);
    if (!Number.isSafeInteger(n) || n > 2147483647) throw new Error(`--restart '${text}': the retry count is too large`);
    return { policy, maxRetries: n };
  }
  return { policy };
}

/** Every storage flag of one `berth run`, in the order docker applies them. */
export function storageSpec(
  o: { volumes: string[]; mounts: string[]; tmpfs: string[]; restart?: string; autoRemove: boolean },
  cwd: string,
): { mounts?: MountSpec[]; restart?: RestartPolicy } {
  const mounts = [...o.volumes.map((v) => parseVolumeFlag(v, cwd)), ...o.mounts.map((v) => parseMountFlag(v, cwd)), ...o.tmpfs.map(parseTmpfsFlag)];
  const seen = new Set<string>();
  for (const m of mounts) {
    if (seen.has(m.target)) throw new Error(`two mounts on ${m.target}`);
    seen.add(m.target);
  }
  const restart = o.restart === undefined ? undefined : parseRestartFlag(o.restart);
  if (restart && restart.policy !== 'no' && o.autoRemove) throw new Error('--rm and --restart cannot be used together');
  return { ...(mounts.length > 0 ? { mounts } : {}), ...(restart ? { restart } : {}) };
}
