// The Run dialog's form and how it becomes a ContainerSpec (pure, tested without a DOM).
import type { ContainerSpec, NamespaceName } from '../../../electron/core/protocol';
import { parseEnvLines, parseSize, splitCommand } from './fmt';

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
  spec.namespaces = { ...f.namespaces };
  if (f.tty) spec.tty = true;
  if (f.interactive) spec.stdin = true;
  if (f.autoRemove) spec.autoRemove = true;
  return spec;
}

