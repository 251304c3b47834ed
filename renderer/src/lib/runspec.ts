// The Run dialog's form and how it becomes a ContainerSpec (pure, tested without a DOM).
import type { ContainerSpec, MountSpec, NamespaceName, PortMapping, RestartPolicy, RestartPolicyName } from '../../../electron/core/protocol';
import { parseEnvLines, parseSize, splitCommand } from './fmt';

/** One published port as the form holds it (text, as typed). */
export interface PortRow {
  hostIp: string;
  hostPort: string;
  containerPort: string;
  protocol: 'tcp' | 'udp';
}

/** One mount as the form holds it; `source` is a host path (bind) or a volume name (volume;
 *  empty: an anonymous volume). */
export interface MountRow {
  type: 'bind' | 'volume' | 'tmpfs';
  source: string;
  target: string;
  readOnly: boolean;
  /** tmpfs only: "64m"; empty = the kernel's default (half of RAM) */
  size: string;
}

export interface RestartForm {
  policy: RestartPolicyName;
  /** on-failure only; empty or 0 = no limit */
  maxRetries: string;
}

export interface RunForm {
  image: string;
  command: string;
  name: string;
  env: string;
  memory: string;
  cpus: string;
  pids: string;
  hostname: string;
  namespaces: Record<NamespaceName, boolean>;
  tty: boolean;
  interactive: boolean;
  autoRemove: boolean;
  /** "bridge", "none", "host" or a user network's name */
  network: string;
  ports: PortRow[];
  mounts: MountRow[];
  restart: RestartForm;
}

export const DEFAULT_NAMESPACES: Record<NamespaceName, boolean> = { pid: true, mount: true, uts: true, ipc: true, net: true, cgroup: true, user: false };

/** Turns the form into a ContainerSpec, or throws a RangeError naming the bad field. */
export function specFromForm(f: RunForm): ContainerSpec {
  const image = f.image.trim();
  if (!image) throw new RangeError('Choose an image.');
  const spec: ContainerSpec = { image };
  const cmd = splitCommand(f.command.trim());
  if (cmd.length > 0) spec.cmd = cmd;
  const name = f.name.trim();
  if (name) {
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(name)) throw new RangeError('The name may hold letters, digits, “_”, “.” and “-” (up to 64, starting with a letter or digit).');
    spec.name = name;
  }
  const env = parseEnvLines(f.env);
  if (env.length > 0) spec.env = env;
  if (f.hostname.trim()) spec.hostname = f.hostname.trim();
  const limits: NonNullable<ContainerSpec['limits']> = {};
  if (f.memory.trim()) limits.memory = parseSize(f.memory);
  if (f.cpus.trim()) {
    const cpus = Number(f.cpus);
    if (!(cpus > 0)) throw new RangeError('CPUs must be a number above 0, e.g. 0.5 for half a core.');
    limits.cpus = cpus;
  }
  if (f.pids.trim()) {
    const pids = Number(f.pids);
    if (!Number.isInteger(pids) || pids < 1) throw new RangeError('The PIDs limit must be a whole number of at least 1.');
    limits.pids = pids;
  }
  if (Object.keys(limits).length > 0) spec.limits = limits;
  const network = f.network.trim() || 'bridge';
  // The network decides the net namespace: only `host` shares the helper's.
  spec.namespaces = { ...f.namespaces, net: network !== 'host' };
  if (network !== 'bridge') spec.network = network;
  const ports = portsFromRows(f.ports);
  if (ports.length > 0) {
    if (network === 'host' || network === 'none')
      throw new RangeError(`Published ports need the bridge or a user network: ${network === 'host' ? 'on the host network the container’s ports already are the host’s' : 'the “none” network has no interface to forward to'}.`);
    spec.ports = ports;
  }
  const mounts = mountsFromRows(f.mounts);
  if (mounts.length > 0) spec.mounts = mounts;
  const restart = restartFromForm(f.restart);
  if (restart) {
    if (f.autoRemove) throw new RangeError('A container removed when it exits cannot also be restarted: turn off one of them.');
    spec.restart = restart;
  }
  if (f.tty) spec.tty = true;
  if (f.interactive) spec.stdin = true;
  if (f.autoRemove) spec.autoRemove = true;
  return spec;
}

export const emptyPortRow = (): PortRow => ({ hostIp: '127.0.0.1', hostPort: '', containerPort: '', protocol: 'tcp' });
export const emptyMountRow = (type: MountRow['type'] = 'bind'): MountRow => ({ type, source: '', target: '', readOnly: false, size: '' });

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

function portNumber(text: string, what: string): number {
  const t = text.trim();
  const n = Number(t);
  if (!/^\d+$/.test(t) || n < 1 || n > 65535) throw new RangeError(`${what} must be a port number from 1 to 65535${t ? ` (not “${t}”)` : ''}.`);
  return n;
}

/** The port rows as PortMappings; rows left empty are skipped, the host port defaults to the container's. */
export function portsFromRows(rows: readonly PortRow[]): PortMapping[] {
  const out: Required<PortMapping>[] = [];
  for (const r of rows) {
    if (!r.hostPort.trim() && !r.containerPort.trim()) continue;
    const containerPort = portNumber(r.containerPort, 'The container port');
    const hostPort = r.hostPort.trim() ? portNumber(r.hostPort, 'The host port') : containerPort;
    const hostIp = r.hostIp.trim() || '127.0.0.1';
    if (!IPV4.test(hostIp)) throw new RangeError(`The host address “${hostIp}” is not an IPv4 address (127.0.0.1 for this machine only, 0.0.0.0 for every address).`);
    const clash = out.find((p) => p.hostPort === hostPort && p.protocol === r.protocol && (p.hostIp === hostIp || p.hostIp === '0.0.0.0' || hostIp === '0.0.0.0'));
    if (clash) throw new RangeError(`Host port ${hostPort}/${r.protocol} is published twice.`);
    out.push({ hostIp, hostPort, containerPort, protocol: r.protocol });
  }
  return out;
}

const VOLUME_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

function absolute(path: string, what: string): string {
  const p = path.trim();
  if (!p.startsWith('/')) throw new RangeError(`${what} must be an absolute path (starting with /)${p ? `, not “${p}”` : ''}.`);
  if (p.split('/').includes('..')) throw new RangeError(`${what} may not contain “..”: “${p}”.`);
  return p.length > 1 ? p.replace(/\/+$/, '') : p;
}

/** The mount rows as MountSpecs; rows left empty are skipped. */
export function mountsFromRows(rows: readonly MountRow[]): MountSpec[] {
  const out: MountSpec[] = [];
  for (const r of rows) {
    if (!r.source.trim() && !r.target.trim() && !r.size.trim()) continue;
    const target = absolute(r.target, 'The path in the container');
    if (target === '/') throw new RangeError('A mount cannot replace the container’s root (/).');
    if (out.some((m) => m.target === target)) throw new RangeError(`Two mounts on ${target}.`);
    const ro = r.readOnly ? { readOnly: true } : {};
    if (r.type === 'bind') {
      const source = absolute(r.source, 'The host path');
      out.push({ type: 'bind', source, target, ...ro });
    } else if (r.type === 'volume') {
      const source = r.source.trim();
      // no name: an anonymous volume, made for this container with a generated name (docker's -v /data)
      if (source && !VOLUME_NAME.test(source)) throw new RangeError(`“${source}” is not a volume name (letters, digits, “_”, “.” and “-”).`);
      out.push(source ? { type: 'volume', source, target, ...ro } : { type: 'volume', target, ...ro });
    } else {
      const size = r.size.trim() ? parseSize(r.size) : null;
      out.push({ type: 'tmpfs', target, ...(size ? { size } : {}), ...ro });
    }
  }
  return out;
}

/** The restart policy, or null for the default ("no"). */
export function restartFromForm(r: RestartForm): RestartPolicy | null {
  if (r.policy === 'no') return null;
  if (r.policy !== 'on-failure') return { policy: r.policy };
  const t = r.maxRetries.trim();
  if (!t) return { policy: 'on-failure' };
  const n = Number(t);
  if (!/^\d+$/.test(t) || n > 1_000_000) throw new RangeError('Max retries must be a whole number (0 for no limit).');
  return n > 0 ? { policy: 'on-failure', maxRetries: n } : { policy: 'on-failure' };
}

/** What each restart policy does, one sentence each (the Run dialog, the Overview). */
export const RESTART_TEXT: Record<RestartPolicyName, string> = {
  no: 'Never restarted: when the command ends, the container stays exited.',
  'on-failure': 'Started again when it exits with a non-zero status (not after Stop or Kill).',
  always: 'Started again whenever it exits, and when the helper starts, until you stop it.',
  'unless-stopped': 'Like always, but a container you stopped stays stopped, also across helper restarts.',
};

