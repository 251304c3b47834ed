// What every CLI verb shares: output, the error line and exit status, the helper connection.
import { ensureDefaultImage } from '../default-image';
import { HelperClient, HelperError } from '../helper-client';
import { ensureHelper } from '../helper-launcher';
import { UsageError } from './args';

/** docker's status for errors of the client itself (not the container's). */
export const EXIT_BERTH_ERROR = 125;
/** The shell's status after Ctrl-C. */
export const EXIT_INTERRUPTED = 130;

export class CliExit extends Error {
  constructor(readonly status: number) {
    super(`exit ${status}`);
  }
}

export const out = (s: string): void => void process.stdout.write(s);
export const err = (s: string): void => void process.stderr.write(s);

export function writeJson(value: unknown): void {
  out(JSON.stringify(value, null, 2) + '\n');
}

const IMAGE_VERBS = new Set(['run', 'create', 'rmi', 'tag', 'save', 'history', 'layers', 'image inspect', 'commit']);
const CONTAINER_VERBS = new Set(['start', 'wait', 'commit', 'export', 'diff', 'stop', 'kill', 'pause', 'unpause', 'rm', 'logs', 'exec', 'top', 'stats']);

/** What to do next, by error code; appended to the helper's own message. */
export function hint(e: HelperError, verb: string): string {
  const m = e.message;
  if (e.code === 'unknown_method') return ' (this berthd is older than this berth: update and restart berthd)';
  // The helper's own message often says what to do already.
  if (/\bberth\b|force|first/.test(m)) return '';
  switch (e.code) {
    case 'not_found':
      if (IMAGE_VERBS.has(verb) && /image/i.test(m)) return ' (see berth images; berth pull, berth load or berth import make one)';
      if (CONTAINER_VERBS.has(verb) && /container/i.test(m)) return ' (see berth ps -a)';
      return '';
    case 'invalid':
      if (verb === 'import' && /\bref\b|name/i.test(m)) return ' (berth import FILE NAME[:TAG])';
      return '';
    case 'conflict':
      if (verb === 'rm' && /running/i.test(m) && !/-f|force/.test(m)) return ' (stop it first, or use berth rm -f)';
      if (verb === 'rmi' && !/-f|force/.test(m)) return ' (remove its containers first, or use berth rmi -f)';
      return '';
    default:
      return '';
  }
}

/** Prints the one error line and ends with status 125. */
export function fail(e: unknown, verb: string): never {
  if (e instanceof CliExit) throw e;
  if (e instanceof UsageError) err(`berth: ${e.message}\n`);
  else if (e instanceof HelperError) err(`berth: ${e.message}${hint(e, verb)}\n`);
  else err(`berth: ${e instanceof Error ? e.message : String(e)}\n`);
  throw new CliExit(EXIT_BERTH_ERROR);
}

let client: HelperClient | null = null;

/** The helper connection; starts berthd (and makes the default image) when none runs and we are root. */
export async function helper(): Promise<HelperClient> {
  if (client) return client;
  const r = await ensureHelper();
  client = r.client;
  if (r.started) await ensureDefaultImage(client);
  return client;
}

/** The connection if one is open (signal proxies use it; main closes it). */
export function currentClient(): HelperClient | null {
  return client;
}

export function setClient(c: HelperClient): void {
  client = c;
}

/** Runs an action for each ref; prints errors as it goes; 125 if any failed (docker's way). */
export async function each(refs: string[], verb: string, action: (ref: string) => Promise<string | null>): Promise<number> {
  let status = 0;
  for (const ref of refs) {
    try {
      const line = await action(ref);
      if (line !== null) out(`${line}\n`);
    } catch (e) {
      if (!(e instanceof HelperError)) throw e;
      err(`berth: ${e.message}${hint(e, verb)}\n`);
      status = EXIT_BERTH_ERROR;
    }
  }
  return status;
}

/** Asks on the terminal (or reads a line from stdin, docker's way); EOF is no. */
export async function confirm(question: string): Promise<boolean> {
  process.stderr.write(`${question} [y/N] `);
  const stdin = process.stdin;
  const answer = await new Promise<string>((resolve) => {
    let text = '';
    const onData = (d: Buffer): void => {
      text += d.toString('utf8');
      if (text.includes('\n')) done();
    };
    const done = (): void => {
      stdin.off('data', onData);
      stdin.off('end', done);
      stdin.pause();
      resolve(text.split('\n')[0].trim());
    };
    stdin.on('data', onData);
    stdin.once('end', done);
  });
  if (!stdin.isTTY) process.stderr.write('\n');
  return /^y(es)?$/i.test(answer);
}
