// The container verbs beside run (lifecycle-args.ts): create, start, wait, container
// prune and events. main.ts loads this module on demand.
import { withDefaultImage } from '../default-image';
import { pruneContainers } from '../prune';
import { formatDecimalBytes } from '../format';
import { HelperError, type HelperClient } from '../helper-client';
import type { BerthdEvent, ContainerInfo } from '../protocol';
import type { Command } from './args';
import { exitOfContainer, exitStatus, followContainer, terminalSize } from './attach';
import { confirm, each, err, EXIT_INTERRUPTED, helper, out, writeJson } from './context';

type LifecycleVerb = Extract<Command, { verb: 'create' | 'start' | 'wait' | 'container prune' | 'events' }>;

export async function runLifecycleVerb(cmd: LifecycleVerb): Promise<number> {
  const c = await helper();
  switch (cmd.verb) {
    case 'create': {
      const info = await withDefaultImage(c, cmd.spec.image, () => c.call('container.create', cmd.spec));
      out(`${info.id}\n`);
      return 0;
    }
    case 'start':
      return cmd.attach ? startAttached(c, cmd.refs[0], cmd.interactive) : startEach(c, cmd.refs);
    case 'wait':
      // docker prints each exit code; its own status is 0 unless a container is unknown
      return each(cmd.refs, 'wait', async (ref) => String(exitStatus(exitOfContainer(await c.call('container.wait', { ref })))));
    case 'container prune':
      return prune(c, cmd.force, cmd.json);
    case 'events':
      return events(c, cmd.json);
  }
}

/** docker's way: a container that runs already counts as started. */
function startEach(c: HelperClient, refs: string[]): Promise<number> {
  return each(refs, 'start', async (ref) => {
    try {
      await c.call('container.start', { ref });
    } catch (e) {
      if (!(e instanceof HelperError && e.code === 'conflict' && /already running/.test(e.message))) throw e;
    }
    return ref;
  });
}

/** start -a: the container's output here, its exit status ours (stdin too with -i, when it was created with -i). */
async function startAttached(c: HelperClient, ref: string, interactive: boolean): Promise<number> {
  const before = await c.call('container.inspect', { ref });
  if (before.status === 'running') {
    throw new HelperError('conflict', `container ${before.name} is already running; berth logs -f ${before.name} follows its output, berth exec -it ${before.name} sh opens a shell in it`);
  }
  const spec = before.spec ?? {};
  const tty = spec.tty === true;
  const stdin = interactive && spec.stdin === true;
  if (interactive && !stdin) err(`berth: container ${before.name} was created without -i: its stdin is not forwarded\n`);
  const stream = await c.stream('container.start', { ref, attach: true, ...terminalSize(tty) });
  const limits = spec.limits as { memory?: number | null } | undefined;
  return followContainer(c, stream, stream.result, { interactive: stdin, tty, memoryLimit: limits?.memory });
}

async function prune(c: HelperClient, force: boolean, json: boolean): Promise<number> {
  if (!force && !(await confirm('WARNING! This will remove all stopped containers.\nAre you sure you want to continue?'))) return 0;
  const r = await pruneContainers(c);
  if (json) {
    writeJson(r);
    return 0;
  }
  if (r.removed.length > 0) out(`Deleted Containers:\n${r.removed.map((id) => `${id}\n`).join('')}\n`);
  out(`Total reclaimed space: ${formatDecimalBytes(r.reclaimedBytes)}\n`);
  return 0;
}

/** One line per event, docker's shape: TIME TYPE ACTION ID (name=…, image=…). */
export function eventLine(ev: BerthdEvent, names: ReadonlyMap<string, { name: string; image: string }>): string {
  const who = names.get(ev.id);
  const attrs = who ? ` (image=${who.image}, name=${who.name})` : '';
  return `${ev.time} ${ev.type} ${ev.action} ${ev.id || '-'}${attrs}\n`;
}

async function events(c: HelperClient, json: boolean): Promise<number> {
  const stream = await c.stream('events.subscribe', {});
  // names of containers, remembered so that a removed one is still named
  const names = new Map<string, { name: string; image: string }>();
  const remember = (x: ContainerInfo): void => void names.set(x.id, { name: x.name, image: x.image });
  if (!json) for (const x of (await c.call('container.list', { all: true })).containers) remember(x);
  // events are printed in order: a lookup for a new container holds the ones after it
  let queue: Promise<void> = Promise.resolve();
  stream.on('event', (ev) => {
    queue = queue.then(async () => {
      if (json) {
        out(`${JSON.stringify(ev)}\n`);
        return;
      }
      if (ev.type === 'container' && !names.has(ev.id)) {
        await c.call('container.inspect', { ref: ev.id }).then(remember, () => undefined);
      }
      out(eventLine(ev, names));
    });
  });
  return new Promise<number>((resolve, reject) => {
    stream.once('error', reject);
    stream.once('end', () => resolve(0));
    // Ctrl-C ends it (the shell's status for an interrupted command)
    process.once('SIGINT', () => {
      stream.close();
      void queue.then(() => resolve(EXIT_INTERRUPTED));
    });
  });
}
