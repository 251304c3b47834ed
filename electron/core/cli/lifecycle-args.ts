// The container verbs beside run: `berth create`, `berth start [-a] [-i]`, `berth wait`,
// `berth container prune`, `berth events` and the `berth container SUB` group (docker's
// management commands: `container ls` is `ps`, and so on). Declarations only;
// args.ts parses them.
import type { ContainerSpec } from '../protocol';
import { FORCE_FLAG, JSON_FLAG as json, type VerbDef } from './flags';

export type LifecycleCommand =
  | { verb: 'create'; spec: ContainerSpec }
  | { verb: 'start'; refs: string[]; attach: boolean; interactive: boolean }
  | { verb: 'wait'; refs: string[] }
  | { verb: 'container prune'; force: boolean; json: boolean }
  | { verb: 'events'; json: boolean };

/** `berth container SUB`: the verb each subcommand runs. */
export const CONTAINER_SUBCOMMANDS: Record<string, string> = {
  ls: 'ps',
  list: 'ps',
  ps: 'ps',
  create: 'create',
  run: 'run',
  start: 'start',
  stop: 'stop',
  restart: 'restart',
  kill: 'kill',
  pause: 'pause',
  unpause: 'unpause',
  wait: 'wait',
  rm: 'rm',
  remove: 'rm',
  prune: 'container prune',
  inspect: 'inspect',
  logs: 'logs',
  exec: 'exec',
  top: 'top',
  stats: 'stats',
  port: 'port',
  commit: 'commit',
  export: 'export',
  cp: 'cp',
  diff: 'diff',
};

export const LIFECYCLE_VERBS: Record<string, VerbDef> = {
  start: {
    usage: 'berth start [-a] [-i] CONTAINER...',
    summary: 'Start created or stopped containers',
    stopAtPositional: false,
    flags: [
      { key: 'attach', short: 'a', long: 'attach', kind: 'bool', help: "print the container's output and exit with its status (one container)" },
      { key: 'interactive', short: 'i', long: 'interactive', kind: 'bool', help: "forward stdin too (a container created with -i); implies -a" },
    ],
  },
  wait: {
    usage: 'berth wait CONTAINER...',
    summary: 'Wait until containers stop, then print their exit codes',
    stopAtPositional: false,
    flags: [],
  },
  container: {
    usage: 'berth container ls|create|run|start|stop|restart|kill|pause|unpause|wait|rm|prune|inspect|logs|exec|top|stats|port|commit|export|cp|diff [ARGS...]',
    summary: 'Manage containers (berth container prune; the rest are aliases of the top-level verbs)',
    stopAtPositional: false,
    flags: [],
  },
  'container prune': {
    usage: 'berth container prune [-f] [--json]',
    summary: 'Remove all stopped containers',
    stopAtPositional: false,
    flags: [FORCE_FLAG, json],
  },
  events: {
    usage: 'berth events [--json]',
    summary: 'Print what berthd changes, as it happens, until Ctrl-C',
    stopAtPositional: false,
    flags: [{ key: 'json', long: 'json', kind: 'bool', help: 'one JSON object per line' }],
  },
};
