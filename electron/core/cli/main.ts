// `berth`: the command line. One file bundled to dist/berth.mjs; bin/berth.mjs runs it.
import os from 'node:os';

import { DEFAULT_IMAGE, withDefaultImage } from '../default-image';
import { ago, buildTopTree, formatBytes, formatDecimalBytes, quoteCommand, statusText, table, truncate } from '../format';
import { HelperClient, HelperError } from '../helper-client';
import { helperPaths } from '../helper-launcher';
import { PROTOCOL_VERSION, type ContainerInfo, type ImageDetails, type Stats } from '../protocol';
import { helpText, parseArgs, type Command } from './args';
import { formatPorts } from './network-args';
import { attach, brokenByLateWrite, exitStatus, followContainer, terminalSize } from './attach';
import { CliExit, currentClient, each, err, EXIT_BERTH_ERROR, fail, helper, out, setClient, writeJson } from './context';

declare const BERTH_VERSION: string | undefined;
const VERSION = typeof BERTH_VERSION === 'string' ? BERTH_VERSION : '0.1.0';

/** Waits (bounded) until the helper has removed an --rm container, so a following ps never sees it. */
async function waitRemoved(ref: string): Promise<void> {
  const c = await helper();
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    try {
      await c.call('container.inspect', { ref });
    } catch (e) {
      if (e instanceof HelperError && e.code === 'not_found') return;
      throw e;
    }
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function cmdRun(cmd: Extract<Command, { verb: 'run' }>): Promise<number> {
  const c = await helper();
  return withDefaultImage(c, cmd.spec.image, async () => {
    if (cmd.detach) {
      const info = await c.call('container.run', cmd.spec);
      out(`${info.id}\n`);
      return 0;
    }
    const stream = await c.stream('container.run', { ...cmd.spec, attach: true, ...terminalSize(cmd.tty) });
    const status = await followContainer(c, stream, stream.result, { interactive: cmd.interactive, tty: cmd.tty, memoryLimit: cmd.spec.limits?.memory });
    if (cmd.spec.autoRemove) await waitRemoved(stream.result.id);
    return status;
  });
}

async function cmdExec(cmd: Extract<Command, { verb: 'exec' }>): Promise<number> {
  const c = await helper();
  const stream = await c.stream('container.exec', { ...cmd.params, ...terminalSize(cmd.tty) });
  try {
    return exitStatus(await attach(stream, { interactive: cmd.interactive, tty: cmd.tty }));
  } catch (e) {
    if (!brokenByLateWrite(e)) throw e;
    throw new HelperError('connection', `the process ended while berth was still sending it input or a terminal size (${(e as HelperError).errno}); its exit status was lost`);
  }
}

// --- logs ---------------------------------------------------------------------------

/** Turns LOG frames back into the container's output (docs/protocol.md, "The container log"). */
export class LogPrinter {
  private atLineStart = { stdout: true, stderr: true };
  private carry = '';

  constructor(
    private readonly timestamps: boolean,
    private readonly write: (stream: 'stdout' | 'stderr', text: string) => void,
  ) {}

  push(chunk: Buffer | string): void {
    const text = this.carry + chunk.toString();
    const lines = text.split('\n');
    this.carry = lines.pop() ?? '';
    for (const l of lines) this.line(l);
  }

  flush(): void {
    if (this.carry) this.line(this.carry);
    this.carry = '';
  }

  private line(record: string): void {
    if (record === '') return;
    // TIMESTAMP STREAM F|P TEXT
    const a = record.indexOf(' ');
    const b = record.indexOf(' ', a + 1);
    const c = record.indexOf(' ', b + 1);
    if (a < 0 || b < 0) return;
    const ts = record.slice(0, a);
    const stream = record.slice(a + 1, b) === 'stderr' ? 'stderr' : 'stdout';
    const tag = c < 0 ? record.slice(b + 1) : record.slice(b + 1, c);
    const text = c < 0 ? '' : record.slice(c + 1);
    const prefix = this.timestamps && this.atLineStart[stream] ? `${ts} ` : '';
    const full = tag !== 'P';
    this.write(stream, prefix + text + (full ? '\n' : ''));
    this.atLineStart[stream] = full;
  }
}

async function cmdLogs(cmd: Extract<Command, { verb: 'logs' }>): Promise<number> {
  const c = await helper();
  const stream = await c.stream('container.logs', { ref: cmd.ref, follow: cmd.follow, ...(cmd.tail === undefined ? {} : { tail: cmd.tail }) });
  const printer = new LogPrinter(cmd.timestamps, (s, text) => {
    const target = s === 'stderr' ? process.stderr : process.stdout;
    if (!target.write(text)) {
      stream.pause();
      target.once('drain', () => stream.resume());
    }
  });
  stream.on('log', (d) => printer.push(d));
  await new Promise<void>((resolve, reject) => {
    stream.once('end', resolve);
    stream.once('error', reject);
    if (cmd.follow) {
      // Ctrl-C ends following; the container goes on.
      process.once('SIGINT', () => {
        stream.close();
        resolve();
      });
    }
  });
  printer.flush();
  return 0;
}

// --- listings -----------------------------------------------------------------------

async function cmdPs(cmd: Extract<Command, { verb: 'ps' }>): Promise<number> {
  const c = await helper();
  const { containers } = await c.call('container.list', { all: cmd.all });
  containers.sort((a, b) => Date.parse(b.created) - Date.parse(a.created));
  if (cmd.json) writeJson(containers);
  else if (cmd.quiet) out(containers.map((x) => `${x.shortId}\n`).join(''));
  else out(psTable(containers));
  return 0;
}

export function psTable(containers: ContainerInfo[], now = Date.now()): string {
  return table(
    ['CONTAINER ID', 'IMAGE', 'COMMAND', 'CREATED', 'STATUS', 'PORTS', 'NAMES'],
    containers.map((x) => [x.shortId, x.image, `"${truncate(quoteCommand(x.command), 20)}"`, ago(x.created, now), statusText(x, now), formatPorts(x.ports), x.name]),
  );
}

async function cmdImages(cmd: Extract<Command, { verb: 'images' }>): Promise<number> {
  const c = await helper();
  const { images } = await c.call('image.list');
  images.sort((a, b) => Date.parse(b.created) - Date.parse(a.created));
  const short = (id: string): string => id.replace(/^sha256:/, '').slice(0, 12);
  if (cmd.json) writeJson(images);
  else if (cmd.quiet) out([...new Set(images.map((i) => short(i.id)))].map((s) => `${s}\n`).join(''));
  else {
    const rows: string[][] = [];
    for (const i of images) {
      const refs = i.refs.length > 0 ? i.refs : ['<none>:<none>'];
      for (const r of refs) {
        const colon = r.lastIndexOf(':');
        const [repo, tag] = colon > r.lastIndexOf('/') ? [r.slice(0, colon), r.slice(colon + 1)] : [r, 'latest'];
        rows.push([repo, tag, short(i.id), ago(i.created), formatDecimalBytes(i.size)]); // docker's units, as history and pull
      }
    }
    out(table(['REPOSITORY', 'TAG', 'IMAGE ID', 'CREATED', 'SIZE'], rows));
  }
  return 0;
}

async function cmdTop(cmd: Extract<Command, { verb: 'top' }>): Promise<number> {
  const c = await helper();
  const r = await c.call('container.top', { ref: cmd.ref });
  if (cmd.json) {
    writeJson(r);
    return 0;
  }
  const rows = buildTopTree(r.processes).map(({ process: p, depth }) => {
    const command = p.cmdline.length > 0 ? quoteCommand(p.cmdline) : `[${p.name}]`;
    return [String(p.pid), String(p.nspid[p.nspid.length - 1] ?? p.pid), p.state, formatBytes(p.rssBytes), `${'  '.repeat(depth)}${depth > 0 ? '\\_ ' : ''}${command}`];
  });
  out(table(['PID', 'CPID', 'STATE', 'RSS', 'COMMAND'], rows));
  return 0;
}

// --- stats --------------------------------------------------------------------------

interface Sample {
  stats: Stats;
  at: number;
}

export function cpuPercent(prev: Sample | undefined, cur: Sample): number | null {
  if (!prev) return null;
  const wallNs = (cur.at - prev.at) * 1e6;
  if (wallNs <= 0) return null;
  return (Math.max(0, cur.stats.cpu.usageNs - prev.stats.cpu.usageNs) / wallNs) * 100;
}

async function cmdStats(cmd: Extract<Command, { verb: 'stats' }>): Promise<number> {
  const c = await helper();
  const names = new Map<string, string>();
  const targets = async (): Promise<string[]> => {
    if (cmd.refs.length > 0) return cmd.refs;
    const { containers } = await c.call('container.list', { all: false });
    for (const x of containers) names.set(x.id, x.name);
    return containers.map((x) => x.id);
  };
  const sampleAll = async (refs: string[], tolerateGone: boolean): Promise<Map<string, Sample>> => {
    const res = new Map<string, Sample>();
    await Promise.all(
      refs.map(async (ref) => {
        try {
          res.set(ref, { stats: await c.call('container.stats', { ref }), at: Date.now() });
        } catch (e) {
          if (!(tolerateGone && e instanceof HelperError && (e.code === 'not_found' || e.code === 'conflict'))) throw e;
        }
      }),
    );
    return res;
  };
  if (cmd.refs.length > 0) {
    // Names for the table: one inspect each, once.
    for (const ref of cmd.refs) {
      const info = await c.call('container.inspect', { ref });
      names.set(ref, info.name);
    }
  }
  const render = (refs: string[], prev: Map<string, Sample>, cur: Map<string, Sample>): string => {
    const total = os.totalmem();
    const rows = refs
      .filter((r) => cur.has(r))
      .map((r) => {
        const s = cur.get(r) as Sample;
        const cpu = cpuPercent(prev.get(r), s);
        const limit = s.stats.memory.limit ?? total;
        const pidsLimit = s.stats.pids.limit;
        return [
          names.get(r) ?? r.slice(0, 12),
          cpu === null ? '--' : `${cpu.toFixed(2)}%`,
          `${formatBytes(s.stats.memory.usage)} / ${formatBytes(limit)}`,
          `${((s.stats.memory.usage / limit) * 100).toFixed(2)}%`,
          pidsLimit === null ? String(s.stats.pids.current) : `${s.stats.pids.current} / ${pidsLimit}`,
        ];
      });
    return table(['NAME', 'CPU %', 'MEM USAGE / LIMIT', 'MEM %', 'PIDS'], rows);
  };

  if (cmd.noStream) {
    const refs = await targets();
    if (cmd.json) {
      const s = await sampleAll(refs, cmd.refs.length === 0);
      writeJson(refs.filter((r) => s.has(r)).map((r) => (s.get(r) as Sample).stats));
      return 0;
    }
    // CPU % needs two samples: the usage delta over the wall time between them.
    const first = await sampleAll(refs, cmd.refs.length === 0);
    await new Promise((r) => setTimeout(r, 500));
    const second = await sampleAll(refs, true);
    out(render(refs, first, second));
    return 0;
  }

  let prev = new Map<string, Sample>();
  let stop = false;
  process.once('SIGINT', () => {
    stop = true;
  });
  const clear = process.stdout.isTTY ? '\x1b[2J\x1b[H' : '';
  while (!stop) {
    const refs = await targets();
    const cur = await sampleAll(refs, true);
    if (cmd.json) out(JSON.stringify(refs.filter((r) => cur.has(r)).map((r) => (cur.get(r) as Sample).stats)) + '\n');
    else out(clear + render(refs, prev, cur) + (clear ? '' : '\n'));
    prev = cur;
    if (cmd.refs.length > 0 && cur.size === 0) break;
    await new Promise((r) => setTimeout(r, 1000));
  }
  return 0;
}

// --- lifecycle verbs ------------------------------------------------------------------

async function cmdInspect(cmd: Extract<Command, { verb: 'inspect' }>): Promise<number> {
  const c = await helper();
  const containers: ContainerInfo[] = [];
  const images: ImageDetails[] = [];
  let status = 0;
  for (const ref of cmd.refs) {
    try {
      containers.push(await c.call('container.inspect', { ref }));
      continue;
    } catch (e) {
      if (!(e instanceof HelperError && e.code === 'not_found')) throw e;
    }
    try {
      images.push(await c.call('image.inspect', { ref }));
    } catch (e) {
      if (!(e instanceof HelperError && (e.code === 'not_found' || e.code === 'invalid'))) throw e;
      err(`berth: no container or image named '${ref}' (see berth ps -a and berth images)\n`);
      status = EXIT_BERTH_ERROR;
    }
  }
  writeJson([...containers, ...images]);
  return status;
}

async function cmdVersion(): Promise<number> {
  out(`berth ${VERSION} (protocol ${PROTOCOL_VERSION}, node ${process.versions.node})\n`);
  const paths = helperPaths();
  try {
    const c = await HelperClient.connect(paths.socket);
    setClient(c);
    const h = await c.call('hello');
    out(`berthd ${h.version} (protocol ${h.protocol}, pid ${h.pid}, root ${h.root}, cgroups ${h.cgroup.layout}, socket ${paths.socket})\n`);
  } catch (e) {
    out(`berthd: not reachable at ${paths.socket} (${e instanceof Error ? e.message : String(e)})\n`);
  }
  return 0;
}

async function dispatch(cmd: Command): Promise<number> {
  switch (cmd.verb) {
    case 'help':
      out(helpText(cmd.topic));
      return 0;
    case 'version':
      return cmdVersion();
    case 'run':
      return cmdRun(cmd);
    case 'exec':
      return cmdExec(cmd);
    case 'logs':
      return cmdLogs(cmd);
    case 'ps':
      return cmdPs(cmd);
    case 'images':
      return cmdImages(cmd);
    case 'top':
      return cmdTop(cmd);
    case 'stats':
      return cmdStats(cmd);
    case 'inspect':
      return cmdInspect(cmd);
    case 'import':
    case 'load':
    case 'save':
    case 'pull':
    case 'tag':
    case 'history':
    case 'layers':
    case 'image inspect':
    case 'image prune':
    case 'commit':
    case 'export':
    case 'diff':
    case 'rmi':
      // Loaded on demand: keeps the image code (and the registry client) off run's start-up path.
      return (await import('./images')).runImageVerb(cmd);
    case 'restart':
    case 'volume create':
    case 'volume ls':
    case 'volume rm':
    case 'volume inspect':
    case 'volume prune':
      // Loaded on demand, as the image verbs.
      return (await import('./volumes')).runStorageVerb(cmd);
    case 'network create':
    case 'network ls':
    case 'network rm':
    case 'network inspect':
    case 'port':
      // Loaded on demand, as the image verbs.
      return (await import('./network')).runNetworkVerb(cmd);
    case 'system df':
    case 'system prune':
      // Loaded on demand, as the image verbs.
      return (await import('./system')).runSystemVerb(cmd);
    case 'cp':
      // Loaded on demand, as the image verbs.
      return (await import('./cp')).runCp(cmd);
    case 'create':
    case 'start':
    case 'wait':
    case 'container prune':
    case 'events':
      // Loaded on demand, as the image verbs.
      return (await import('./lifecycle')).runLifecycleVerb(cmd);
    case 'stop': {
      const c = await helper();
      return each(cmd.refs, 'stop', async (ref) => {
        await c.call('container.stop', cmd.timeout === undefined ? { ref } : { ref, timeout: cmd.timeout });
        return ref;
      });
    }
    case 'kill': {
      const c = await helper();
      return each(cmd.refs, 'kill', async (ref) => {
        await c.call('container.kill', cmd.signal === undefined ? { ref } : { ref, signal: cmd.signal });
        return ref;
      });
    }
    case 'pause':
    case 'unpause': {
      const c = await helper();
      const verb = cmd.verb;
      return each(cmd.refs, verb, async (ref) => {
        await c.call(`container.${verb}`, { ref });
        return ref;
      });
    }
    case 'rm': {
      const c = await helper();
      return each(cmd.refs, 'rm', async (ref) => {
        await c.call('container.remove', cmd.volumes ? { ref, force: cmd.force, volumes: true } : { ref, force: cmd.force });
        return ref;
      });
    }
  }
}

/** Runs the CLI; resolves with the exit status. */
export async function main(argv: string[]): Promise<number> {
  let verb = argv[0] ?? 'help';
  try {
    const cmd = parseArgs(argv);
    verb = cmd.verb;
    return await dispatch(cmd);
  } catch (e) {
    if (e instanceof CliExit) return e.status;
    try {
      fail(e, verb);
    } catch (x) {
      if (x instanceof CliExit) return x.status;
    }
    return EXIT_BERTH_ERROR;
  } finally {
    currentClient()?.close();
  }
}

export { DEFAULT_IMAGE };
