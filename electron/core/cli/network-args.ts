// The network flags and verbs of the CLI: `run --network NAME -p [IP:]HOST:CTR[/udp]`,
// `berth network create|ls|rm|inspect`, `berth port`. Pure parsing: errors are plain
// Errors with a one-line message; args.ts turns them into usage errors.
import type { PortMapping } from '../protocol';
import { JSON_FLAG as json, type VerbDef } from './flags';

export type NetworkCommand =
  | { verb: 'network create'; name: string; subnet?: string; gateway?: string }
  | { verb: 'network ls'; quiet: boolean; json: boolean }
  | { verb: 'network rm'; refs: string[] }
  | { verb: 'network inspect'; refs: string[] }
  | { verb: 'port'; ref: string; json: boolean };

/** `berth network SUB`: the verb each subcommand runs. */
export const NETWORK_SUBCOMMANDS: Record<string, NetworkCommand['verb']> = {
  create: 'network create',
  ls: 'network ls',
  list: 'network ls',
  rm: 'network rm',
  remove: 'network rm',
  inspect: 'network inspect',
};

export const NETWORK_VERBS: Record<string, VerbDef> = {
  network: {
    usage: 'berth network create|ls|rm|inspect [ARGS...]',
    summary: 'Manage networks (bridges with a subnet; "bridge" is the default one)',
    stopAtPositional: false,
    flags: [],
  },
  'network create': {
    usage: 'berth network create [--subnet CIDR] [--gateway IP] NAME',
    summary: 'Create a network (its bridge comes up with its first running container)',
    stopAtPositional: false,
    flags: [
      { key: 'subnet', long: 'subnet', kind: 'value', arg: 'CIDR', help: 'e.g. 10.90.7.0/24 (default: the next free /24 of 10.90.0.0/16)' },
      { key: 'gateway', long: 'gateway', kind: 'value', arg: 'IP', help: "the bridge's address (default: the subnet's first)" },
    ],
  },
  'network ls': {
    usage: 'berth network ls [-q] [--json]',
    summary: 'List networks',
    stopAtPositional: false,
    flags: [{ key: 'quiet', short: 'q', long: 'quiet', kind: 'bool', help: 'print names only' }, json],
  },
  'network rm': {
    usage: 'berth network rm NETWORK...',
    summary: 'Remove networks no container uses',
    stopAtPositional: false,
    flags: [],
  },
  'network inspect': {
    usage: 'berth network inspect NETWORK...',
    summary: 'Show networks as a JSON array',
    stopAtPositional: false,
    flags: [],
  },
  port: {
    usage: 'berth port [--json] CONTAINER',
    summary: "List a container's published ports",
    stopAtPositional: false,
    flags: [json],
  },
};

function port(text: string, what: string, flag: string): number {
  if (!/^\d{1,5}$/.test(text) || Number(text) < 1 || Number(text) > 65535) throw new Error(`${flag}: ${what} '${text}' must be a port number 1..65535`);
  return Number(text);
}

/** `-p [HOSTIP:]HOSTPORT:CONTAINERPORT[/tcp|/udp]` (docker's form; the host side binds 127.0.0.1 unless given). */
export function parsePortFlag(text: string): PortMapping {
  const flag = '-p';
  let rest = text;
  let protocol: 'tcp' | 'udp' = 'tcp';
  const slash = rest.lastIndexOf('/');
  if (slash >= 0) {
    const p = rest.slice(slash + 1).toLowerCase();
    if (p !== 'tcp' && p !== 'udp') throw new Error(`${flag} '${text}': the protocol must be tcp or udp`);
    protocol = p;
    rest = rest.slice(0, slash);
  }
  const parts = rest.split(':');
  if (parts.length < 2 || parts.length > 3) throw new Error(`${flag} '${text}': expected [HOST-IP:]HOST-PORT:CONTAINER-PORT[/udp]`);
  const hostIp = parts.length === 3 ? parts[0] : undefined;
  const [hostPort, containerPort] = parts.slice(-2);
  if (hostIp !== undefined && !/^(\d{1,3})(\.\d{1,3}){3}$/.test(hostIp)) throw new Error(`${flag} '${text}': '${hostIp}' is not an IPv4 address`);
  const m: PortMapping = { hostPort: port(hostPort, 'the host port', flag), containerPort: port(containerPort, 'the container port', flag), protocol };
  if (hostIp !== undefined) m.hostIp = hostIp;
  return m;
}

/** "127.0.0.1:8080->80/tcp, ..." as `docker ps` shows ports. */
export function formatPorts(ports: readonly PortMapping[] | undefined): string {
  return (ports ?? []).map((p) => `${p.hostIp ?? '127.0.0.1'}:${p.hostPort}->${p.containerPort}/${p.protocol ?? 'tcp'}`).join(', ');
}
