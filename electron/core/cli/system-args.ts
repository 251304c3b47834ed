// `berth system df` and `berth system prune`: declarations only; args.ts parses them.
import { FORCE_FLAG, type VerbDef } from './flags';

export type SystemCommand =
  | { verb: 'system df'; verbose: boolean; json: boolean }
  | { verb: 'system prune'; all: boolean; volumes: boolean; force: boolean; json: boolean };

/** `berth system SUB`: the verb each subcommand runs. */
export const SYSTEM_SUBCOMMANDS: Record<string, string> = {
  df: 'system df',
  prune: 'system prune',
};

const json = { key: 'json', long: 'json', kind: 'bool', help: 'print the numbers as JSON' } as const;

export const SYSTEM_VERBS: Record<string, VerbDef> = {
  system: {
    usage: 'berth system df|prune [ARGS...]',
    summary: 'Show what the store holds, and remove what nothing uses',
    stopAtPositional: false,
    flags: [],
  },
  'system df': {
    usage: 'berth system df [-v] [--json]',
    summary: 'Show the disk space images, containers and volumes take (shared layers counted once)',
    stopAtPositional: false,
    flags: [{ key: 'verbose', short: 'v', long: 'verbose', kind: 'bool', help: 'list every image (its shared and unique bytes), container and volume' }, json],
  },
  'system prune': {
    usage: 'berth system prune [-a] [--volumes] [-f] [--json]',
    summary: 'Remove stopped containers, unused networks, dangling images (and more with -a, --volumes)',
    stopAtPositional: false,
    flags: [
      { key: 'all', short: 'a', long: 'all', kind: 'bool', help: 'remove every image no container uses, not only untagged ones' },
      { key: 'volumes', long: 'volumes', kind: 'bool', help: 'remove anonymous volumes no container uses too' },
      FORCE_FLAG,
      json,
    ],
  },
};
