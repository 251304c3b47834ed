// Networking as the UI explains it: what each network choice means for the net
// namespace, which host interface is the other end of a container's eth0, links for
// published ports, and checks for the network form (pure, tested without a DOM).
import type { ContainerInfo, ContainerInterfaces, InterfaceInfo, NetworkCreateParams, PortMapping } from '../../../electron/core/protocol';

export interface NetworkChoice {
  /** the spec's `network` value */
  value: string;
  label: string;
  /** one sentence: what the container's net namespace holds */
  means: string;
}

/** The three built-in choices of the Run dialog; user networks come after them. */
export const BUILTIN_NETWORKS: readonly NetworkChoice[] = [
  {
    value: 'bridge',
    label: 'Bridge (default)',
    means: 'Its own net namespace; eth0 is a veth into the berth0 bridge: own address, NAT out, published ports.',
  },
  {
    value: 'none',
    label: 'None',
    means: 'Its own net namespace with only lo: nothing gets in or out.',
  },
  {
    value: 'host',
    label: 'Host',
    means: 'No net namespace of its own: it uses the host’s interfaces and ports directly.',
  },
];

export function userNetworkMeans(name: string, subnet: string): string {
  return `Its own net namespace; eth0 on this network’s bridge (${subnet}), where containers find each other by name.`;
}

/** A sentence for the Network tab on what the container's network namespace is. */
export function namespaceSentence(c: Pick<ContainerInfo, 'network' | 'status'>, isolated: boolean): string {
  if (!isolated || c.network.mode === 'host')
    return 'This container shares the helper’s network namespace: it sees the host’s interfaces below and its servers listen on the host’s addresses.';
  if (c.network.mode === 'none') return 'This container has a network namespace of its own holding only lo: no interface connects it to anything.';
  const net = c.network.name && c.network.name !== 'bridge' ? `the “${c.network.name}” network’s bridge` : 'the berth0 bridge';
  return `This container has a network namespace of its own: its eth0 is one end of a veth pair, and the other end lives in the host’s namespace, plugged into ${net}. The host routes and NATs between that bridge and the world; published ports are forwarded to the container’s address.`;
}

/** "10.89.0.5/16" */
export function formatAddress(a: { address: string; prefixLen: number }): string {
  return `${a.address}/${a.prefixLen}`;
}

/** The name an interface has in its own namespace from a `peer` field ("veth1a2b3c4d@host" -> "veth1a2b3c4d"). */
export function peerName(peer: string | null | undefined): string | null {
  if (!peer) return null;
  const at = peer.lastIndexOf('@');
  return at > 0 ? peer.slice(0, at) : peer;
}

export interface VethPair {
  /** inside the container (eth0) */
  inside: InterfaceInfo;
  /** its other end in the host's namespace, when the helper reported it */
  outside: InterfaceInfo | null;
  /** the bridge the outside end is a port of */
  bridge: InterfaceInfo | null;
}

/** Pairs each container veth with its host end and that end's bridge. */
export function vethPairs(ifs: ContainerInterfaces): VethPair[] {
  const hostByName = new Map(ifs.host.interfaces.map((i) => [i.name, i]));
  const out: VethPair[] = [];
  for (const inside of ifs.container.interfaces) {
    if (inside.kind !== 'veth' && !inside.peer) continue;
    const name = peerName(inside.peer);
    const outside =
      (name ? hostByName.get(name) : undefined) ?? ifs.host.interfaces.find((h) => peerName(h.peer) === inside.name && h.kind === 'veth' && (h.peer ?? '').endsWith('@container')) ?? null;
    const bridge = outside?.master ? (hostByName.get(outside.master) ?? null) : null;
    out.push({ inside, outside, bridge });
  }
  return out;
}

/**
 * The host interfaces worth showing beside a container: loopback, bridges, the
 * container's own veth ends and the host's real devices; other containers' veths are
 * summed up instead of listed.
 */
export function hostInterfacesShown(ifs: ContainerInterfaces): { shown: InterfaceInfo[]; otherVeths: number } {
  const mine = new Set(vethPairs(ifs).flatMap((p) => (p.outside ? [p.outside.name] : [])));
  const shown: InterfaceInfo[] = [];
  let otherVeths = 0;
  for (const i of ifs.host.interfaces) {
    if (i.kind === 'veth' && !mine.has(i.name)) otherVeths++;
    else shown.push(i);
  }
  return { shown, otherVeths };
}

/** http://HOST:PORT for a published TCP port (0.0.0.0 is reachable as 127.0.0.1); null for UDP. */
export function portUrl(p: Required<PortMapping>): string | null {
  if (p.protocol !== 'tcp') return null;
  const host = p.hostIp === '0.0.0.0' || p.hostIp === '' ? '127.0.0.1' : p.hostIp === '::' ? '[::1]' : p.hostIp.includes(':') ? `[${p.hostIp}]` : p.hostIp;
  return `http://${host}:${p.hostPort}`;
}

/** "127.0.0.1:8080 → 80/tcp" */
export function portText(p: Required<PortMapping>): string {
  return `${p.hostIp}:${p.hostPort} → ${p.containerPort}/${p.protocol}`;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

function ipv4Number(ip: string): number {
  return ip.split('.').reduce((a, o) => a * 256 + Number(o), 0);
}

/** The network form as NetworkCreateParams, or a RangeError naming the bad field. */
export function networkParams(f: { name: string; subnet: string; gateway: string }): NetworkCreateParams {
  const name = f.name.trim();
  if (!NAME.test(name)) throw new RangeError('The name may hold letters, digits, “_”, “.” and “-” (up to 64, starting with a letter or digit).');
  if (['bridge', 'none', 'host'].includes(name)) throw new RangeError(`“${name}” is one of the built-in choices; pick another name.`);
  const p: NetworkCreateParams = { name };
  const subnet = f.subnet.trim();
  if (subnet) {
    const m = /^([\d.]+)\/(\d{1,2})$/.exec(subnet);
    const bits = m ? Number(m[2]) : NaN;
    if (!m || !IPV4.test(m[1]) || bits < 8 || bits > 30) throw new RangeError(`The subnet must be an IPv4 CIDR from /8 to /30, e.g. 10.90.5.0/24 (not “${subnet}”).`);
    const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
    if ((ipv4Number(m[1]) & ~mask) >>> 0 !== 0) throw new RangeError(`${subnet} has host bits set: the network address of that /${bits} is ${numberIpv4((ipv4Number(m[1]) & mask) >>> 0)}.`);
    p.subnet = subnet;
  }
  const gateway = f.gateway.trim();
  if (gateway) {
    if (!IPV4.test(gateway)) throw new RangeError(`The gateway must be an IPv4 address (not “${gateway}”).`);
    if (!subnet) throw new RangeError('Give the subnet too when you choose the gateway.');
    const [net, bitsText] = subnet.split('/');
    const mask = (0xffffffff << (32 - Number(bitsText))) >>> 0;
    if (((ipv4Number(gateway) & mask) >>> 0) !== ipv4Number(net)) throw new RangeError(`The gateway ${gateway} is not inside ${subnet}.`);
    p.gateway = gateway;
  }
  return p;
}

function numberIpv4(n: number): string {
  return [24, 16, 8, 0].map((s) => (n >>> s) & 255).join('.');
}
