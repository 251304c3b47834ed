// What a verb and its flags are declared as (args.ts and the *-args.ts modules), and the
// flags several verbs share.

type FlagKind = 'bool' | 'value' | 'list';

export interface FlagDef {
  key: string;
  short?: string;
  long?: string;
  /** Extra long names (docker's spellings). */
  aliases?: string[];
  kind: FlagKind;
  arg?: string;
  help: string;
}

export interface VerbDef {
  usage: string;
  summary: string;
  flags: FlagDef[];
  /** Flags end at the first positional (run IMAGE CMD..., exec CONTAINER CMD...). */
  stopAtPositional: boolean;
}

/** --json of the listing and inspecting verbs. */
export const JSON_FLAG: FlagDef = { key: 'json', long: 'json', kind: 'bool', help: 'print the protocol objects as JSON' };

/** -f of the verbs that ask before they remove. */
export const FORCE_FLAG: FlagDef = { key: 'force', short: 'f', long: 'force', kind: 'bool', help: 'do not ask for confirmation' };
