// The berth command line: verbs, flags (docker's names and habits) and their help,
// declared once; parseArgs turns argv into one typed Command.
import path from 'node:path';

import { parseSize } from '../format';
import { NAMESPACE_NAMES, type ContainerSpec, type ExecParams, type ImageConfig, type NamespaceName } from '../protocol';
import { FORCE_FLAG, JSON_FLAG as json, type FlagDef, type VerbDef } from './flags';
import { CONTAINER_SUBCOMMANDS, LIFECYCLE_VERBS, type LifecycleCommand } from './lifecycle-args';
import { SYSTEM_SUBCOMMANDS, SYSTEM_VERBS, type SystemCommand } from './system-args';
import { NETWORK_SUBCOMMANDS, NETWORK_VERBS, parsePortFlag, type NetworkCommand } from './network-args';
import { storageSpec } from './storage-args';

export class UsageError extends Error {
  constructor(
    message: string,
    readonly verb?: string,
  ) {
    super(message);
    this.name = 'UsageError';
  }
}

const change = (verb: string): FlagDef => ({
  key: 'change',
  short: 'c',
  long: 'change',
  kind: 'list',
  arg: 'INSTRUCTION',
  help: `CMD, ENTRYPOINT, ENV, WORKDIR, USER, EXPOSE, VOLUME, LABEL or STOPSIGNAL, as in a Dockerfile (repeatable; ${verb})`,
});

const RUN_FLAGS: FlagDef[] = [
  { key: 'detach', short: 'd', long: 'detach', kind: 'bool', help: 'run in the background and print the container id' },
  { key: 'interactive', short: 'i', long: 'interactive', kind: 'bool', help: 'keep stdin open and forward it' },
  { key: 'tty', short: 't', long: 'tty', kind: 'bool', help: 'allocate a pseudo-terminal' },
  { key: 'rm', long: 'rm', kind: 'bool', help: 'remove the container when it exits' },
  { key: 'name', long: 'name', kind: 'value', arg: 'NAME', help: 'name the container' },
  { key: 'env', short: 'e', long: 'env', kind: 'list', arg: 'K=V', help: 'set an environment variable (repeatable)' },
  { key: 'memory', short: 'm', long: 'memory', kind: 'value', arg: 'SIZE', help: 'memory limit, e.g. 64m (b, k, m, g)' },
  { key: 'cpus', long: 'cpus', kind: 'value', arg: 'N', help: 'CPU quota in CPUs, e.g. 0.5' },
  { key: 'cpuWeight', long: 'cpu-weight', kind: 'value', arg: 'N', help: 'relative CPU weight, 1..10000 (default 100)' },
  { key: 'pids', long: 'pids-limit', kind: 'value', arg: 'N', help: 'maximum number of processes' },
  { key: 'hostname', long: 'hostname', kind: 'value', arg: 'NAME', help: 'hostname inside the container (default: the short id)' },
  { key: 'user', short: 'u', long: 'user', kind: 'value', arg: 'USER[:GROUP]', help: "user (and group) to run as: numbers, or names from the image's /etc/passwd and /etc/group" },
  { key: 'workdir', short: 'w', long: 'workdir', kind: 'value', arg: 'DIR', help: 'working directory inside the container' },
  { key: 'entrypoint', long: 'entrypoint', kind: 'value', arg: 'CMD', help: "override the image's entrypoint" },
  { key: 'ns', long: 'ns', kind: 'value', arg: 'LIST', help: 'exactly the namespaces to isolate, e.g. pid,mount (the rest are shared with the host)' },
  { key: 'userns', long: 'userns', kind: 'bool', help: 'add a user namespace' },
  { key: 'pidMode', long: 'pid', kind: 'value', arg: 'host', help: "share the host's PID namespace" },
  { key: 'network', long: 'network', aliases: ['net'], kind: 'value', arg: 'NAME', help: "bridge (default): own address behind NAT; a network's name; host: share the host's network; none: only loopback" },
  { key: 'publish', short: 'p', long: 'publish', kind: 'list', arg: '[IP:]HOST:CTR[/udp]', help: 'publish a container port on the host (127.0.0.1 unless IP is given; repeatable)' },
  { key: 'utsMode', long: 'uts', kind: 'value', arg: 'host', help: "share the host's UTS namespace (hostname)" },
  { key: 'ipcMode', long: 'ipc', kind: 'value', arg: 'host', help: "share the host's IPC namespace" },
  { key: 'cgroupnsMode', long: 'cgroupns', kind: 'value', arg: 'host', help: "share the host's cgroup namespace" },
  { key: 'volume', short: 'v', long: 'volume', kind: 'list', arg: 'SRC:DST[:ro]', help: 'bind a host path (SRC absolute or ./relative) or mount a named volume (SRC a name, made when missing) (repeatable)' },
  { key: 'mount', long: 'mount', kind: 'list', arg: 'type=..,source=..,target=..', help: 'a bind, volume or tmpfs mount: type=bind|volume|tmpfs,source=,target=[,readonly][,tmpfs-size=][,tmpfs-mode=] (repeatable)' },
  { key: 'tmpfs', long: 'tmpfs', kind: 'list', arg: 'DST[:size=64m,mode=1777]', help: 'mount a tmpfs (repeatable)' },
  { key: 'restart', long: 'restart', kind: 'value', arg: 'POLICY', help: 'no (default), on-failure[:N], always or unless-stopped' },
];

export const VERBS: Record<string, VerbDef> = {
  run: {
    usage: 'berth run [OPTIONS] IMAGE [CMD...]',
    summary: 'Create and start a container',
    stopAtPositional: true,
    flags: RUN_FLAGS,
  },
  create: {
    usage: 'berth create [OPTIONS] IMAGE [CMD...]',
    summary: "Create a container without starting it (run's options; berth start starts it)",
    stopAtPositional: true,
    flags: RUN_FLAGS.filter((f) => f.key !== 'detach'),
  },
  start: LIFECYCLE_VERBS.start,
  wait: LIFECYCLE_VERBS.wait,
  ps: {
    usage: 'berth ps [-a] [-q] [--json]',
    summary: 'List containers',
    stopAtPositional: false,
    flags: [
      { key: 'all', short: 'a', long: 'all', kind: 'bool', help: 'show all containers (default: running only)' },
      { key: 'quiet', short: 'q', long: 'quiet', kind: 'bool', help: 'print short ids only' },
      json,
    ],
  },
  exec: {
    usage: 'berth exec [OPTIONS] CONTAINER CMD...',
    summary: 'Run a command in a running container',
    stopAtPositional: true,
    flags: [
      { key: 'interactive', short: 'i', long: 'interactive', kind: 'bool', help: 'keep stdin open and forward it' },
      { key: 'tty', short: 't', long: 'tty', kind: 'bool', help: 'allocate a pseudo-terminal' },
      { key: 'env', short: 'e', long: 'env', kind: 'list', arg: 'K=V', help: 'set an environment variable (repeatable)' },
      { key: 'user', short: 'u', long: 'user', kind: 'value', arg: 'USER[:GROUP]', help: "user (and group) to run as: numbers, or names from the image's /etc/passwd and /etc/group" },
      { key: 'workdir', short: 'w', long: 'workdir', kind: 'value', arg: 'DIR', help: 'working directory' },
    ],
  },
  logs: {
    usage: 'berth logs [-f] [-t] [--tail N] CONTAINER',
    summary: "Print a container's output",
    stopAtPositional: false,
    flags: [
      { key: 'follow', short: 'f', long: 'follow', kind: 'bool', help: 'keep printing until the container exits' },
      { key: 'timestamps', short: 't', long: 'timestamps', kind: 'bool', help: 'prefix every line with its time' },
      { key: 'tail', long: 'tail', kind: 'value', arg: 'N', help: 'only the last N lines ("all" for every line)' },
    ],
  },
  stop: {
    usage: 'berth stop [-t SECONDS] CONTAINER...',
    summary: 'Stop containers (SIGTERM, then SIGKILL after the timeout)',
    stopAtPositional: false,
    flags: [{ key: 'time', short: 't', long: 'time', aliases: ['timeout'], kind: 'value', arg: 'SECONDS', help: 'seconds to wait before SIGKILL (default 10)' }],
  },
  kill: {
    usage: 'berth kill [-s SIGNAL] CONTAINER...',
    summary: 'Send a signal to containers',
    stopAtPositional: false,
    flags: [{ key: 'signal', short: 's', long: 'signal', kind: 'value', arg: 'SIGNAL', help: 'signal name or number (default SIGKILL)' }],
  },
  pause: {
    usage: 'berth pause CONTAINER...',
    summary: "Freeze every process of containers (their cgroup's freezer)",
    stopAtPositional: false,
    flags: [],
  },
  unpause: {
    usage: 'berth unpause CONTAINER...',
    summary: 'Let the processes of paused containers run again',
    stopAtPositional: false,
    flags: [],
  },
  rm: {
    usage: 'berth rm [-f] [-v] CONTAINER...',
    summary: 'Remove containers',
    stopAtPositional: false,
    flags: [
      { key: 'force', short: 'f', long: 'force', kind: 'bool', help: 'kill and remove running containers' },
      { key: 'volumes', short: 'v', long: 'volumes', kind: 'bool', help: 'also remove their anonymous volumes (never named ones)' },
    ],
  },
  inspect: {
    usage: 'berth inspect CONTAINER|IMAGE...',
    summary: 'Show containers and images as a JSON array (containers first)',
    stopAtPositional: false,
    flags: [],
  },
  top: {
    usage: 'berth top CONTAINER [--json]',
    summary: "Show a container's processes as a tree",
    stopAtPositional: false,
    flags: [json],
  },
  stats: {
    usage: 'berth stats [--no-stream] [--json] [CONTAINER...]',
    summary: 'Show CPU, memory and process counts (running containers by default)',
    stopAtPositional: false,
    flags: [{ key: 'noStream', long: 'no-stream', kind: 'bool', help: 'print once and exit' }, json],
  },
  images: {
    usage: 'berth images [-q] [--json]',
    summary: 'List images',
    stopAtPositional: false,
    flags: [{ key: 'quiet', short: 'q', long: 'quiet', kind: 'bool', help: 'print short image ids only' }, json],
  },
  rmi: {
    usage: 'berth rmi [-f] IMAGE...',
    summary: 'Remove images',
    stopAtPositional: false,
    flags: [{ key: 'force', short: 'f', long: 'force', kind: 'bool', help: 'remove even when containers use it' }],
  },
  import: {
    usage: "berth import [--change 'CMD [\"sh\"]']... FILE [NAME[:TAG]]",
    summary: 'Import a root filesystem tarball (plain, gzip, zstd, bzip2, xz) as a one-layer image',
    stopAtPositional: false,
    flags: [change('import')],
  },
  load: {
    usage: 'berth load [-q] [-i FILE]',
    summary: 'Load images from an OCI archive, an OCI layout directory or a docker-save tar (stdin without -i)',
    stopAtPositional: false,
    flags: [
      { key: 'input', short: 'i', long: 'input', kind: 'value', arg: 'FILE', help: 'read this archive or OCI layout directory (default: stdin)' },
      { key: 'quiet', short: 'q', long: 'quiet', kind: 'bool', help: 'no progress' },
    ],
  },
  save: {
    usage: 'berth save [-o FILE] IMAGE...',
    summary: 'Save images to an OCI archive (docker load takes it too); stdout without -o',
    stopAtPositional: false,
    flags: [{ key: 'output', short: 'o', long: 'output', kind: 'value', arg: 'FILE', help: 'write to this file (replaced when it exists)' }],
  },
  pull: {
    usage: 'berth pull [--insecure] [-q] IMAGE',
    summary: 'Download an image from a registry',
    stopAtPositional: false,
    flags: [
      { key: 'insecure', long: 'insecure', kind: 'bool', help: 'allow plain HTTP and unverified TLS for this registry' },
      { key: 'quiet', short: 'q', long: 'quiet', kind: 'bool', help: 'print only the image id' },
      { key: 'authFile', long: 'authfile', kind: 'value', arg: 'FILE', help: 'registry credentials (default: ~/.docker/config.json)' },
    ],
  },
  tag: {
    usage: 'berth tag SOURCE TARGET',
    summary: 'Give an image another name (NAME[:TAG]); a tag that named another image moves',
    stopAtPositional: false,
    flags: [],
  },
  history: {
    usage: 'berth history [--no-trunc] [-q] [--json] IMAGE',
    summary: "Show an image's history (newest first)",
    stopAtPositional: false,
    flags: [
      { key: 'noTrunc', long: 'no-trunc', kind: 'bool', help: 'do not cut long commands and ids' },
      { key: 'quiet', short: 'q', long: 'quiet', kind: 'bool', help: 'print only the image id' },
      json,
    ],
  },
  layers: {
    usage: 'berth layers [--no-trunc] [--json] IMAGE',
    summary: "Show an image's layer stack (base at the bottom): sizes, file changes, wasted space",
    stopAtPositional: false,
    flags: [{ key: 'noTrunc', long: 'no-trunc', kind: 'bool', help: 'full digests and commands' }, json],
  },
  commit: {
    usage: 'berth commit [-m MESSAGE] [-a AUTHOR] [-c CHANGE]... [--pause=false] CONTAINER [NAME[:TAG]]',
    summary: "Make a new image from a container's changes",
    stopAtPositional: false,
    flags: [
      { key: 'message', short: 'm', long: 'message', kind: 'value', arg: 'MESSAGE', help: 'commit message (the history comment)' },
      { key: 'author', short: 'a', long: 'author', kind: 'value', arg: 'AUTHOR', help: 'author, e.g. "Jane <jane@example.com>"' },
      change('commit'),
      { key: 'pause', short: 'p', long: 'pause', kind: 'value', arg: 'true|false', help: 'pause a running container while its changes are read (default true)' },
      { key: 'quiet', short: 'q', long: 'quiet', kind: 'bool', help: 'no progress' },
    ],
  },
  export: {
    usage: 'berth export [-o FILE] CONTAINER',
    summary: "Write a container's root filesystem as a tar archive (stdout without -o, unless it is a terminal)",
    stopAtPositional: false,
    flags: [{ key: 'output', short: 'o', long: 'output', kind: 'value', arg: 'FILE', help: 'write to this file (replaced when it exists)' }],
  },
  cp: {
    usage: 'berth cp [-a] CONTAINER:SRC DEST|-  or  berth cp [-a] SRC|- CONTAINER:DEST',
    summary: 'Copy files or directories between this machine and a container',
    stopAtPositional: false,
    flags: [{ key: 'archive', short: 'a', long: 'archive', kind: 'bool', help: 'keep the numeric owners of what is copied in (default: root)' }],
  },
  diff: {
    usage: 'berth diff [--json] CONTAINER',
    summary: "List the files a container added (A), changed (C) and deleted (D)",
    stopAtPositional: false,
    flags: [json],
  },
  container: LIFECYCLE_VERBS.container,
  'container prune': LIFECYCLE_VERBS['container prune'],
  events: LIFECYCLE_VERBS.events,
  ...SYSTEM_VERBS,
  image: {
    usage: 'berth image ls|rm|inspect|prune|history|layers|tag|pull|load|save|import [ARGS...]',
    summary: 'Manage images (berth image prune, berth image inspect; the rest are aliases of the top-level verbs)',
    stopAtPositional: false,
    flags: [],
  },
  'image inspect': {
    usage: 'berth image inspect IMAGE...',
    summary: 'Show images as a JSON array',
    stopAtPositional: false,
    flags: [],
  },
  'image prune': {
    usage: 'berth image prune [-a] [-f]',
    summary: 'Remove unused images, layers and leftovers of interrupted imports and pulls',
    stopAtPositional: false,
    flags: [
      { key: 'all', short: 'a', long: 'all', kind: 'bool', help: 'remove every image no container uses, not only untagged ones' },
      FORCE_FLAG,
      json,
    ],
  },
  restart: {
    usage: 'berth restart [-t SECONDS] CONTAINER...',
    summary: 'Stop (when running) and start containers again',
    stopAtPositional: false,
    flags: [{ key: 'time', short: 't', long: 'time', aliases: ['timeout'], kind: 'value', arg: 'SECONDS', help: 'seconds to wait before SIGKILL (default 10)' }],
  },
  volume: {
    usage: 'berth volume create|ls|rm|inspect|prune [ARGS...]',
    summary: 'Manage named volumes',
    stopAtPositional: false,
    flags: [],
  },
  'volume create': { usage: 'berth volume create [NAME]', summary: 'Create a volume (a random name when none is given)', stopAtPositional: false, flags: [json] },
  'volume ls': { usage: 'berth volume ls [-q] [--json]', summary: 'List volumes', stopAtPositional: false, flags: [{ key: 'quiet', short: 'q', long: 'quiet', kind: 'bool', help: 'print names only' }, json] },
  'volume rm': { usage: 'berth volume rm [-f] VOLUME...', summary: 'Remove volumes (refused while a container uses them)', stopAtPositional: false, flags: [{ key: 'force', short: 'f', long: 'force', kind: 'bool', help: 'no error for a volume that is not there' }] },
  'volume inspect': { usage: 'berth volume inspect VOLUME...', summary: 'Show volumes as a JSON array', stopAtPositional: false, flags: [] },
  'volume prune': {
    usage: 'berth volume prune [-a] [-f] [--json]',
    summary: 'Remove the anonymous volumes no container uses (-a: named ones too)',
    stopAtPositional: false,
    flags: [
      { key: 'all', short: 'a', long: 'all', kind: 'bool', help: 'remove every volume no container uses, named ones too' },
      FORCE_FLAG,
      json,
    ],
  },
  version: { usage: 'berth version', summary: 'Show the berth and berthd versions', stopAtPositional: false, flags: [] },
  help: { usage: 'berth help [VERB]', summary: 'Show help', stopAtPositional: false, flags: [] },
  ...NETWORK_VERBS,
};

export type Command =
  | { verb: 'run'; detach: boolean; interactive: boolean; tty: boolean; spec: ContainerSpec }
  | { verb: 'ps'; all: boolean; quiet: boolean; json: boolean }
  | { verb: 'exec'; interactive: boolean; tty: boolean; params: ExecParams }
  | { verb: 'logs'; ref: string; follow: boolean; timestamps: boolean; tail?: number }
  | { verb: 'stop'; refs: string[]; timeout?: number }
  | { verb: 'kill'; refs: string[]; signal?: string | number }
  | { verb: 'pause' | 'unpause'; refs: string[] }
  | { verb: 'rm'; refs: string[]; force: boolean; volumes: boolean }
  | { verb: 'inspect'; refs: string[] }
  | { verb: 'top'; ref: string; json: boolean }
  | { verb: 'stats'; refs: string[]; noStream: boolean; json: boolean }
  | { verb: 'images'; quiet: boolean; json: boolean }
  | { verb: 'import'; file: string; ref?: string; config: ImageConfig }
  | { verb: 'rmi'; refs: string[]; force: boolean }
  /** file undefined: read the archive from stdin */
  | { verb: 'load'; file?: string; quiet: boolean }
  /** output undefined: write to stdout */
  | { verb: 'save'; refs: string[]; output?: string }
  | { verb: 'pull'; ref: string; insecure: boolean; quiet: boolean; authFile?: string }
  | { verb: 'tag'; source: string; target: string }
  | { verb: 'history'; ref: string; noTrunc: boolean; quiet: boolean; json: boolean }
  | { verb: 'layers'; ref: string; noTrunc: boolean; json: boolean }
  | { verb: 'image inspect'; refs: string[] }
  | { verb: 'image prune'; all: boolean; force: boolean; json: boolean }
  | { verb: 'commit'; ref: string; image?: string; message?: string; author?: string; config: ImageConfig; pause: boolean; quiet: boolean }
  | { verb: 'export'; ref: string; output?: string }
  | { verb: 'cp'; source: string; destination: string; archive: boolean }
  | { verb: 'diff'; ref: string; json: boolean }
  | { verb: 'restart'; refs: string[]; timeout?: number }
  | { verb: 'volume create'; name?: string; json: boolean }
  | { verb: 'volume ls'; quiet: boolean; json: boolean }
  | { verb: 'volume rm'; names: string[]; force: boolean }
  | { verb: 'volume inspect'; names: string[] }
  | { verb: 'volume prune'; all: boolean; force: boolean; json: boolean }
  | { verb: 'version' }
  | NetworkCommand
  | LifecycleCommand
  | SystemCommand
  | { verb: 'help'; topic?: string };

type FlagValues = Map<string, string | boolean | string[]>;

interface Parsed {
  flags: FlagValues;
  positionals: string[];
  help: boolean;
}

function unknownFlag(flag: string, verb: string): UsageError {
  return new UsageError(`unknown flag ${flag} for ${verb}; see berth help ${verb}`, verb);
}

function parseFlags(verb: string, def: VerbDef, argv: string[]): Parsed {
  const flags: FlagValues = new Map();
  const positionals: string[] = [];
  let help = false;
  const byLong = new Map<string, FlagDef>();
  const byShort = new Map<string, FlagDef>();
  for (const f of def.flags) {
    if (f.long) byLong.set(f.long, f);
    for (const a of f.aliases ?? []) byLong.set(a, f);
    if (f.short) byShort.set(f.short, f);
  }
  const set = (f: FlagDef, value: string | true, shown: string): void => {
    if (f.kind === 'bool') {
      flags.set(f.key, true);
    } else if (value === true) {
      throw new UsageError(`flag ${shown} of ${verb} needs a value (${f.arg ?? 'VALUE'}); see berth help ${verb}`, verb);
    } else if (f.kind === 'list') {
      const list = (flags.get(f.key) as string[] | undefined) ?? [];
      list.push(value);
      flags.set(f.key, list);
    } else {
      flags.set(f.key, value);
    }
  };
  let i = 0;
  const next = (shown: string, f: FlagDef): string => {
    if (i + 1 >= argv.length) throw new UsageError(`flag ${shown} of ${verb} needs a value (${f.arg ?? 'VALUE'}); see berth help ${verb}`, verb);
    return argv[++i];
  };
  for (; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (a === '--help' || a === '-h') {
      help = true;
      continue;
    }
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      const name = a.slice(2, eq < 0 ? undefined : eq);
      const f = byLong.get(name);
      if (!f) throw unknownFlag(`--${name}`, verb);
      if (f.kind === 'bool') {
        if (eq >= 0) throw new UsageError(`flag --${name} of ${verb} takes no value; see berth help ${verb}`, verb);
        set(f, true, `--${name}`);
      } else {
        set(f, eq >= 0 ? a.slice(eq + 1) : next(`--${name}`, f), `--${name}`);
      }
      continue;
    }
    if (a.startsWith('-') && a.length > 1) {
      // A group of short flags (-it, -dit); a value flag takes the rest of the group or the next word.
      for (let j = 1; j < a.length; j++) {
        const ch = a[j];
        const f = byShort.get(ch);
        if (!f) throw unknownFlag(`-${ch}`, verb);
        if (f.kind === 'bool') {
          set(f, true, `-${ch}`);
        } else {
          set(f, j + 1 < a.length ? a.slice(j + 1) : next(`-${ch}`, f), `-${ch}`);
          break;
        }
      }
      continue;
    }
    positionals.push(a);
    if (def.stopAtPositional && (verb === 'run' || verb === 'create')) {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (def.stopAtPositional && verb === 'exec' && positionals.length === 1) {
      positionals.push(...argv.slice(i + 1));
      break;
    }
  }
  return { flags, positionals, help };
}

const bool = (p: Parsed, key: string): boolean => p.flags.get(key) === true;
const str = (p: Parsed, key: string): string | undefined => p.flags.get(key) as string | undefined;
const list = (p: Parsed, key: string): string[] => (p.flags.get(key) as string[] | undefined) ?? [];

function integer(verb: string, flag: string, text: string | undefined, min: number): number | undefined {
  if (text === undefined) return undefined;
  if (!/^-?\d+$/.test(text.trim()) || Number(text) < min || !Number.isSafeInteger(Number(text))) {
    throw new UsageError(`${flag} takes a whole number${min > 0 ? ` of at least ${min}` : ''} (got '${text}'); see berth help ${verb}`, verb);
  }
  return Number(text);
}

function envList(values: string[]): string[] {
  const out: string[] = [];
  for (const v of values) {
    if (v.includes('=')) out.push(v);
    else if (process.env[v] !== undefined) out.push(`${v}=${process.env[v]}`); // docker: -e NAME copies the host's value
  }
  return out;
}

function needPositionals(verb: string, p: Parsed, min: number, what: string): void {
  if (p.positionals.length < min) throw new UsageError(`${verb} needs ${what}; usage: ${VERBS[verb].usage}`, verb);
}

function noMorePositionals(verb: string, p: Parsed, max: number): void {
  if (p.positionals.length > max) throw new UsageError(`${verb} takes no argument '${p.positionals[max]}'; usage: ${VERBS[verb].usage}`, verb);
}

const NS_ALIASES: Record<string, NamespaceName> = { mnt: 'mount', network: 'net' };

function hostOnly(verb: string, flag: string, value: string | undefined): boolean {
  if (value === undefined) return false;
  if (value !== 'host') throw new UsageError(`${flag} takes only 'host' (got '${value}'); see berth help ${verb}`, verb);
  return true;
}

function buildRun(p: Parsed, verb: 'run' | 'create'): Command {
  needPositionals(verb, p, 1, 'an IMAGE');
  const [image, ...cmd] = p.positionals;
  const spec: ContainerSpec = { image };
  const name = str(p, 'name');
  if (name !== undefined) spec.name = name;
  if (cmd.length > 0) spec.cmd = cmd;
  const entrypoint = str(p, 'entrypoint');
  if (entrypoint !== undefined) spec.entrypoint = entrypoint === '' ? [] : [entrypoint];
  const env = envList(list(p, 'env'));
  if (env.length > 0) spec.env = env;
  const workdir = str(p, 'workdir');
  if (workdir !== undefined) spec.workdir = workdir;
  const user = str(p, 'user');
  if (user !== undefined) spec.user = user;
  const hostname = str(p, 'hostname');
  if (hostname !== undefined) spec.hostname = hostname;
  const tty = bool(p, 'tty');
  const interactive = bool(p, 'interactive');
  const detach = bool(p, 'detach');
  if (tty) spec.tty = true;
  if (interactive) spec.stdin = true;
  if (bool(p, 'rm')) spec.autoRemove = true;

  const limits: NonNullable<ContainerSpec['limits']> = {};
  const memory = str(p, 'memory');
  if (memory !== undefined) {
    try {
      limits.memory = parseSize(memory);
    } catch (e) {
      throw new UsageError(`--memory: ${(e as Error).message}`, verb);
    }
  }
  const cpus = str(p, 'cpus');
  if (cpus !== undefined) {
    if (!/^\s*(\d+(\.\d*)?|\.\d+)\s*$/.test(cpus)) throw new UsageError(`--cpus takes a number of CPUs such as 0.5 (got '${cpus}')`, verb);
    limits.cpus = Number(cpus);
  }
  const weight = integer(verb, '--cpu-weight', str(p, 'cpuWeight'), 0);
  if (weight !== undefined) limits.cpuWeight = weight;
  const pids = integer(verb, '--pids-limit', str(p, 'pids'), 0);
  if (pids !== undefined) limits.pids = pids;
  if (Object.keys(limits).length > 0) spec.limits = limits;
  try {
    Object.assign(spec, storageSpec({ volumes: list(p, 'volume'), mounts: list(p, 'mount'), tmpfs: list(p, 'tmpfs'), restart: str(p, 'restart'), autoRemove: spec.autoRemove === true }, process.cwd()));
  } catch (e) {
    throw new UsageError((e as Error).message, verb);
  }

  const nsFlags = ['ns', 'userns', 'pidMode', 'network', 'utsMode', 'ipcMode', 'cgroupnsMode'];
  if (nsFlags.some((k) => p.flags.has(k))) {
    const ns: Record<NamespaceName, boolean> = { pid: true, mount: true, uts: true, ipc: true, net: true, cgroup: true, user: false };
    const only = str(p, 'ns');
    if (only !== undefined) {
      for (const k of NAMESPACE_NAMES) ns[k] = false;
      for (const raw of only.split(',').map((s) => s.trim()).filter(Boolean)) {
        const k = NS_ALIASES[raw] ?? raw;
        if (!(NAMESPACE_NAMES as readonly string[]).includes(k)) {
          throw new UsageError(`--ns: unknown namespace '${raw}'; choose from ${NAMESPACE_NAMES.join(',')}`, verb);
        }
        ns[k as NamespaceName] = true;
      }
    }
    if (bool(p, 'userns')) ns.user = true;
    if (hostOnly(verb, '--pid', str(p, 'pidMode'))) ns.pid = false;
    if (hostOnly(verb, '--uts', str(p, 'utsMode'))) ns.uts = false;
    if (hostOnly(verb, '--ipc', str(p, 'ipcMode'))) ns.ipc = false;
    if (hostOnly(verb, '--cgroupns', str(p, 'cgroupnsMode'))) ns.cgroup = false;
    const network = str(p, 'network');
    if (network === 'host') ns.net = false;
    if (network !== undefined) spec.network = network;
    spec.namespaces = ns;
  }
  try {
    const ports = list(p, 'publish').map(parsePortFlag);
    if (ports.length > 0) spec.ports = ports;
  } catch (e) {
    throw new UsageError((e as Error).message, verb);
  }
  return verb === 'create' ? { verb, spec } : { verb, detach, interactive, tty, spec };
}

function buildExec(p: Parsed): Command {
  needPositionals('exec', p, 2, 'a CONTAINER and a CMD');
  const [ref, ...cmd] = p.positionals;
  const params: ExecParams = { ref, cmd };
  const env = envList(list(p, 'env'));
  if (env.length > 0) params.env = env;
  const user = str(p, 'user');
  if (user !== undefined) params.user = user;
  const workdir = str(p, 'workdir');
  if (workdir !== undefined) params.workdir = workdir;
  const tty = bool(p, 'tty');
  const interactive = bool(p, 'interactive');
  if (tty) params.tty = true;
  if (interactive) params.stdin = true;
  return { verb: 'exec', interactive, tty, params };
}

function normalizeSignal(s: string): string | number {
  const t = s.trim();
  if (/^\d+$/.test(t)) return Number(t);
  const up = t.toUpperCase();
  return up.startsWith('SIG') ? up : `SIG${up}`;
}

/** Parses one Dockerfile-like instruction of `import --change` / `commit --change` into the config. */
export function applyChange(config: ImageConfig, change: string, verb = 'import'): void {
  const m = /^\s*([A-Za-z]+)\s+([\s\S]*?)\s*$/.exec(change);
  if (!m || m[2] === '') throw new UsageError(`--change '${change}': expected INSTRUCTION VALUE, e.g. CMD ["sh"]`, verb);
  const instr = m[1].toUpperCase();
  const value = m[2];
  const argv = (): string[] => {
    if (value.startsWith('[')) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(value);
      } catch {
        throw new UsageError(`--change '${change}': the JSON array does not parse`, verb);
      }
      if (!Array.isArray(parsed) || !parsed.every((x) => typeof x === 'string')) {
        throw new UsageError(`--change '${change}': expected a JSON array of strings`, verb);
      }
      return parsed as string[];
    }
    return ['/bin/sh', '-c', value];
  };
  /** `K=V K2="v 2"` or the old `K V...` form. */
  const pairs = (): [string, string][] => {
    const words = value.match(/(?:[^\s"]+|"(?:[^"\\]|\\.)*")+/g) ?? [value];
    if (!words.every((w) => w.includes('='))) {
      const key = words[0] ?? value;
      return [[key, value.slice(key.length).trim()]];
    }
    const unquote = (t: string): string => (/^".*"$/.test(t) ? (JSON.parse(t) as string) : t);
    return words.map((w) => {
      const eq = w.indexOf('=');
      return [unquote(w.slice(0, eq)), unquote(w.slice(eq + 1))];
    });
  };
  switch (instr) {
    case 'CMD':
      config.Cmd = argv();
      break;
    case 'ENTRYPOINT':
      config.Entrypoint = argv();
      break;
    case 'ENV':
      config.Env = [...(config.Env ?? []), ...pairs().map(([k, v]) => `${k}=${v}`)];
      break;
    case 'WORKDIR':
      config.WorkingDir = value;
      break;
    case 'USER':
      config.User = value;
      break;
    case 'EXPOSE':
      for (const port of value.split(/\s+/)) {
        if (!/^\d{1,5}(\/(tcp|udp|sctp))?$/i.test(port)) throw new UsageError(`--change '${change}': EXPOSE takes PORT[/tcp|udp|sctp]`, verb);
        config.ExposedPorts = { ...(config.ExposedPorts ?? {}), [port.includes('/') ? port.toLowerCase() : `${port}/tcp`]: {} };
      }
      break;
    case 'LABEL':
      config.Labels = { ...(config.Labels ?? {}), ...Object.fromEntries(pairs()) };
      break;
    case 'STOPSIGNAL':
      config.StopSignal = value;
      break;
    case 'VOLUME': {
      // VOLUME /data /logs, or the JSON form VOLUME ["/data", "/logs"]
      const paths = value.startsWith('[') ? argv() : value.split(/\s+/);
      for (const p of paths) {
        if (!p.startsWith('/')) throw new UsageError(`--change '${change}': VOLUME takes absolute container paths`, verb);
        config.Volumes = { ...(config.Volumes ?? {}), [p]: {} };
      }
      break;
    }
    default:
      throw new UsageError(`--change '${change}': ${instr} is not supported (CMD, ENTRYPOINT, ENV, WORKDIR, USER, EXPOSE, VOLUME, LABEL, STOPSIGNAL)`, verb);
  }
}

export interface ParseOptions {
  cwd?: string;
}

/** `berth image SUB`: the verb each subcommand runs. */
export const IMAGE_SUBCOMMANDS: Record<string, string> = {
  ls: 'images',
  list: 'images',
  rm: 'rmi',
  remove: 'rmi',
  inspect: 'image inspect',
  prune: 'image prune',
  history: 'history',
  layers: 'layers',
  tag: 'tag',
  pull: 'pull',
  load: 'load',
  save: 'save',
  import: 'import',
};

/** `berth volume SUB`: the verb each subcommand runs. */
export const VOLUME_SUBCOMMANDS: Record<string, string> = {
  create: 'volume create',
  ls: 'volume ls',
  list: 'volume ls',
  rm: 'volume rm',
  remove: 'volume rm',
  inspect: 'volume inspect',
  prune: 'volume prune',
};

/** The management groups (`berth image ls`, `berth container prune`, ...): each subcommand's verb. */
const GROUPS: Record<string, Record<string, string>> = {
  image: IMAGE_SUBCOMMANDS,
  container: CONTAINER_SUBCOMMANDS,
  system: SYSTEM_SUBCOMMANDS,
  network: NETWORK_SUBCOMMANDS,
  volume: VOLUME_SUBCOMMANDS,
};

function groupVerb(group: string, sub: string): string {
  const verb = GROUPS[group][sub];
  if (!verb) throw new UsageError(`unknown command '${group} ${sub}'; choose from ${Object.keys(GROUPS[group]).join(', ')}; see berth help ${group}`, group);
  return verb;
}

export function parseArgs(argv: readonly string[], opts: ParseOptions = {}): Command {
  let [first, ...rest] = argv;
  if (first === undefined || first === '--help' || first === '-h') return { verb: 'help' };
  if (first === '--version' || first === '-v') return { verb: 'version' };
  if (first.startsWith('-')) throw new UsageError(`unknown flag ${first}; usage: berth VERB [OPTIONS]; see berth help`);
  if (Object.hasOwn(GROUPS, first)) {
    const sub = rest[0];
    if (sub === undefined || sub === '--help' || sub === '-h') return { verb: 'help', topic: first };
    first = groupVerb(first, sub);
    rest = rest.slice(1);
  }
  const def = VERBS[first];
  if (!def || (first.includes(' ') && !Object.hasOwn(GROUPS, argv[0]))) throw new UsageError(`unknown command '${first}'; see berth help`);
  const verb = first;
  const abs = (file: string): string => path.resolve(opts.cwd ?? process.cwd(), file);
  if (verb === 'help') {
    const words = rest.filter((a) => !a.startsWith('-'));
    let topic = words[0];
    if (topic !== undefined && Object.hasOwn(GROUPS, topic) && words[1] !== undefined) topic = groupVerb(topic, words[1]);
    if (topic !== undefined && !VERBS[topic]) throw new UsageError(`no help for unknown command '${topic}'; see berth help`);
    return topic === undefined ? { verb: 'help' } : { verb: 'help', topic };
  }
  const p = parseFlags(verb, def, [...rest]);
  if (p.help) return { verb: 'help', topic: verb };
  switch (verb) {
    case 'run':
    case 'create':
      return buildRun(p, verb);
    case 'start': {
      needPositionals(verb, p, 1, 'at least one CONTAINER');
      const interactive = bool(p, 'interactive');
      const attach = bool(p, 'attach') || interactive;
      if (attach && p.positionals.length > 1) throw new UsageError('start -a attaches to one container; start the others without -a', verb);
      return { verb, refs: p.positionals, attach, interactive };
    }
    case 'wait':
      needPositionals(verb, p, 1, 'at least one CONTAINER');
      return { verb, refs: p.positionals };
    case 'container prune':
      noMorePositionals(verb, p, 0);
      return { verb, force: bool(p, 'force'), json: bool(p, 'json') };
    case 'events':
      noMorePositionals(verb, p, 0);
      return { verb, json: bool(p, 'json') };
    case 'system df':
      noMorePositionals(verb, p, 0);
      return { verb, verbose: bool(p, 'verbose'), json: bool(p, 'json') };
    case 'system prune':
      noMorePositionals(verb, p, 0);
      return { verb, all: bool(p, 'all'), volumes: bool(p, 'volumes'), force: bool(p, 'force'), json: bool(p, 'json') };
    case 'exec':
      return buildExec(p);
    case 'ps':
      noMorePositionals(verb, p, 0);
      return { verb, all: bool(p, 'all'), quiet: bool(p, 'quiet'), json: bool(p, 'json') };
    case 'logs': {
      needPositionals(verb, p, 1, 'a CONTAINER');
      noMorePositionals(verb, p, 1);
      const tailText = str(p, 'tail');
      const tail = tailText === undefined || tailText === 'all' ? undefined : integer(verb, '--tail', tailText, 0);
      return { verb, ref: p.positionals[0], follow: bool(p, 'follow'), timestamps: bool(p, 'timestamps'), ...(tail === undefined ? {} : { tail }) };
    }
    case 'stop': {
      needPositionals(verb, p, 1, 'at least one CONTAINER');
      const timeout = integer(verb, '--time', str(p, 'time'), 0);
      return { verb, refs: p.positionals, ...(timeout === undefined ? {} : { timeout }) };
    }
    case 'kill': {
      needPositionals(verb, p, 1, 'at least one CONTAINER');
      const signal = str(p, 'signal');
      return { verb, refs: p.positionals, ...(signal === undefined ? {} : { signal: normalizeSignal(signal) }) };
    }
    case 'pause':
    case 'unpause':
      needPositionals(verb, p, 1, 'at least one CONTAINER');
      return { verb, refs: p.positionals };
    case 'rm':
      needPositionals(verb, p, 1, 'at least one CONTAINER');
      return { verb, refs: p.positionals, force: bool(p, 'force'), volumes: bool(p, 'volumes') };
    case 'inspect':
      needPositionals(verb, p, 1, 'at least one CONTAINER or IMAGE');
      return { verb, refs: p.positionals };
    case 'top':
      needPositionals(verb, p, 1, 'a CONTAINER');
      noMorePositionals(verb, p, 1);
      return { verb, ref: p.positionals[0], json: bool(p, 'json') };
    case 'stats':
      return { verb, refs: p.positionals, noStream: bool(p, 'noStream'), json: bool(p, 'json') };
    case 'images':
      noMorePositionals(verb, p, 0);
      return { verb, quiet: bool(p, 'quiet'), json: bool(p, 'json') };
    case 'import': {
      needPositionals(verb, p, 1, 'a FILE');
      noMorePositionals(verb, p, 2);
      const config: ImageConfig = {};
      for (const c of list(p, 'change')) applyChange(config, c, verb);
      const ref = p.positionals[1];
      return { verb, file: abs(p.positionals[0]), ...(ref === undefined ? {} : { ref }), config };
    }
    case 'load': {
      noMorePositionals(verb, p, 0);
      const input = str(p, 'input');
      return { verb, ...(input === undefined ? {} : { file: abs(input) }), quiet: bool(p, 'quiet') };
    }
    case 'save': {
      needPositionals(verb, p, 1, 'at least one IMAGE');
      const output = str(p, 'output');
      return { verb, refs: p.positionals, ...(output === undefined ? {} : { output: abs(output) }) };
    }
    case 'pull': {
      needPositionals(verb, p, 1, 'an IMAGE');
      noMorePositionals(verb, p, 1);
      const authFile = str(p, 'authFile');
      return { verb, ref: p.positionals[0], insecure: bool(p, 'insecure'), quiet: bool(p, 'quiet'), ...(authFile === undefined ? {} : { authFile: abs(authFile) }) };
    }
    case 'tag':
      needPositionals(verb, p, 2, 'a SOURCE and a TARGET');
      noMorePositionals(verb, p, 2);
      return { verb, source: p.positionals[0], target: p.positionals[1] };
    case 'history':
      needPositionals(verb, p, 1, 'an IMAGE');
      noMorePositionals(verb, p, 1);
      return { verb, ref: p.positionals[0], noTrunc: bool(p, 'noTrunc'), quiet: bool(p, 'quiet'), json: bool(p, 'json') };
    case 'layers':
      needPositionals(verb, p, 1, 'an IMAGE');
      noMorePositionals(verb, p, 1);
      return { verb, ref: p.positionals[0], noTrunc: bool(p, 'noTrunc'), json: bool(p, 'json') };
    case 'image inspect':
      needPositionals(verb, p, 1, 'at least one IMAGE');
      return { verb, refs: p.positionals };
    case 'image prune':
      noMorePositionals(verb, p, 0);
      return { verb, all: bool(p, 'all'), force: bool(p, 'force'), json: bool(p, 'json') };
    case 'commit': {
      needPositionals(verb, p, 1, 'a CONTAINER');
      noMorePositionals(verb, p, 2);
      const config: ImageConfig = {};
      for (const c of list(p, 'change')) applyChange(config, c, verb);
      const [ref, image] = p.positionals;
      const message = str(p, 'message');
      const author = str(p, 'author');
      const pauseText = str(p, 'pause') ?? 'true';
      if (pauseText !== 'true' && pauseText !== 'false') throw new UsageError(`--pause of commit takes true or false, not "${pauseText}"`, verb);
      return {
        verb,
        ref,
        pause: pauseText === 'true',
        ...(image === undefined ? {} : { image }),
        ...(message === undefined ? {} : { message }),
        ...(author === undefined ? {} : { author }),
        config,
        quiet: bool(p, 'quiet'),
      };
    }
    case 'export': {
      needPositionals(verb, p, 1, 'a CONTAINER');
      noMorePositionals(verb, p, 1);
      const output = str(p, 'output');
      return { verb, ref: p.positionals[0], ...(output === undefined ? {} : { output: abs(output) }) };
    }
    case 'cp':
      needPositionals(verb, p, 2, 'a SRC and a DEST');
      noMorePositionals(verb, p, 2);
      return { verb, source: p.positionals[0], destination: p.positionals[1], archive: bool(p, 'archive') };
    case 'diff':
      needPositionals(verb, p, 1, 'a CONTAINER');
      noMorePositionals(verb, p, 1);
      return { verb, ref: p.positionals[0], json: bool(p, 'json') };
    case 'rmi':
      needPositionals(verb, p, 1, 'at least one IMAGE');
      return { verb, refs: p.positionals, force: bool(p, 'force') };
    case 'restart': {
      needPositionals(verb, p, 1, 'at least one CONTAINER');
      const timeout = integer(verb, '--time', str(p, 'time'), 0);
      return { verb, refs: p.positionals, ...(timeout === undefined ? {} : { timeout }) };
    }
    case 'volume create':
      noMorePositionals(verb, p, 1);
      return { verb, ...(p.positionals[0] === undefined ? {} : { name: p.positionals[0] }), json: bool(p, 'json') };
    case 'volume ls':
      noMorePositionals(verb, p, 0);
      return { verb, quiet: bool(p, 'quiet'), json: bool(p, 'json') };
    case 'volume rm':
      needPositionals(verb, p, 1, 'at least one VOLUME');
      return { verb, names: p.positionals, force: bool(p, 'force') };
    case 'volume inspect':
      needPositionals(verb, p, 1, 'at least one VOLUME');
      return { verb, names: p.positionals };
    case 'volume prune':
      noMorePositionals(verb, p, 0);
      return { verb, all: bool(p, 'all'), force: bool(p, 'force'), json: bool(p, 'json') };
    case 'network create':
      needPositionals(verb, p, 1, 'a NAME');
      noMorePositionals(verb, p, 1);
      return { verb, name: p.positionals[0], ...(str(p, 'subnet') ? { subnet: str(p, 'subnet') } : {}), ...(str(p, 'gateway') ? { gateway: str(p, 'gateway') } : {}) };
    case 'network ls':
      noMorePositionals(verb, p, 0);
      return { verb, quiet: bool(p, 'quiet'), json: bool(p, 'json') };
    case 'network rm':
    case 'network inspect':
      needPositionals(verb, p, 1, 'at least one NETWORK');
      return { verb, refs: p.positionals };
    case 'port':
      needPositionals(verb, p, 1, 'a CONTAINER');
      noMorePositionals(verb, p, 1);
      return { verb, ref: p.positionals[0], json: bool(p, 'json') };
    case 'version':
      noMorePositionals(verb, p, 0);
      return { verb };
    default:
      throw new UsageError(`unknown command '${verb}'; see berth help`);
  }
}

/** `berth help [VERB]` text. */
export function helpText(topic?: string): string {
  if (topic && VERBS[topic]) {
    const d = VERBS[topic];
    const lines = [`Usage: ${d.usage}`, '', d.summary];
    if (d.flags.length > 0) {
      lines.push('', 'Options:');
      const left = d.flags.map((f) => {
        const names = [f.short ? `-${f.short}` : '', f.long ? `--${f.long}` : '', ...(f.aliases ?? []).map((a) => `--${a}`)].filter(Boolean).join(', ');
        return `  ${names}${f.kind === 'bool' ? '' : ` ${f.arg ?? 'VALUE'}`}`;
      });
      const w = Math.max(...left.map((l) => l.length));
      d.flags.forEach((f, i) => lines.push(`${left[i].padEnd(w)}   ${f.help}${f.kind === 'list' ? '' : ''}`));
    }
    if (topic === 'run') lines.push('', 'With -it the short form works too (-it, -ti, -dit). Sizes take b, k, m, g.');
    if (topic === 'network') {
      lines.push('', 'Commands:', '  create    Create a network', '  ls        List networks', '  rm        Remove networks', '  inspect   Show networks as JSON');
    }
    if (topic !== 'network' && Object.hasOwn(GROUPS, topic)) {
      // (network lists its four verbs above, without the aliases) a group's own verbs by
      // their summary; an alias of a top-level verb says which
      lines.push('', 'Commands:');
      const subs = Object.entries(GROUPS[topic]);
      const w = Math.max(...subs.map(([sub]) => sub.length));
      for (const [sub, verb] of subs) lines.push(`  ${sub.padEnd(w)}   ${verb.startsWith(`${topic} `) ? VERBS[verb].summary : `${VERBS[verb].summary} (berth ${verb})`}`);
    }
    return lines.join('\n') + '\n';
  }
  const w = Math.max(...Object.keys(VERBS).map((v) => v.length));
  return [
    'Usage: berth VERB [OPTIONS] [ARGS...]',
    '',
    'Berth runs Linux containers through its own helper, berthd.',
    '',
    'Verbs:',
    ...Object.entries(VERBS).map(([v, d]) => `  ${v.padEnd(w)}   ${d.summary}`),
    '',
    'berth help VERB (or berth VERB --help) shows a verb\'s options.',
    'Environment: BERTH_SOCKET (default /run/berth/berthd.sock), BERTH_ROOT (default /var/lib/berth), BERTHD (helper binary).',
  ].join('\n') + '\n';
}
