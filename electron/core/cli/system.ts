// `berth system df` and `berth system prune`: what the store holds and what may go.
// An image's layers are shared: the disk holds each once, so sizes here count every
// layer (by diffID) once, and say which part of an image is its own. main.ts loads
// this module on demand.
import { formatDecimalBytes, table } from '../format';
import { HelperError, type HelperClient } from '../helper-client';
import { pruneContainers } from '../prune';
import type { ContainerInfo, ImageDetails, VolumeInfo } from '../protocol';
import type { Command } from './args';
import { confirm, helper, out, writeJson } from './context';

type SystemVerb = Extract<Command, { verb: 'system df' | 'system prune' }>;

export interface UsageRow {
  total: number;
  active: number;
  size: number;
  reclaimable: number;
}

export interface ImageUsage {
  id: string;
  refs: string[];
  /** bytes of all its layers */
  size: number;
  /** bytes of its layers that another image has too */
  shared: number;
  /** bytes of the layers only it has: what removing it frees */
  unique: number;
  containers: number;
}

export interface ContainerUsage {
  id: string;
  name: string;
  image: string;
  status: string;
  /** bytes of its writable layer */
  size: number;
}

export interface DiskUsage {
  images: UsageRow;
  containers: UsageRow;
  volumes: UsageRow;
  imageList: ImageUsage[];
  containerList: ContainerUsage[];
  volumeList: { name: string; anonymous: boolean; containers: number; size: number }[];
}

/** The numbers, from what berthd lists (pure: the unit tests feed it). */
export function diskUsage(images: ImageDetails[], containers: ContainerInfo[], containerSizes: Map<string, number>, volumes: VolumeInfo[]): DiskUsage {
  const users = new Map<string, number>();
  for (const c of containers) users.set(c.imageId, (users.get(c.imageId) ?? 0) + 1);
  // each layer once: its size, and how many images have it
  const layerSize = new Map<string, number>();
  const holders = new Map<string, number>();
  for (const i of images) {
    for (const l of new Map(i.layers.map((x) => [x.diffId, x])).values()) {
      layerSize.set(l.diffId, l.unpackedSize);
      holders.set(l.diffId, (holders.get(l.diffId) ?? 0) + 1);
    }
  }
  const inUse = new Set<string>();
  for (const i of images) if (users.has(i.id)) for (const l of i.layers) inUse.add(l.diffId);
  const sum = (ids: Iterable<string>): number => [...ids].reduce((n, d) => n + (layerSize.get(d) ?? 0), 0);
  const imageList = images.map((i): ImageUsage => {
    const own = new Set(i.layers.map((l) => l.diffId));
    const shared = [...own].filter((d) => (holders.get(d) ?? 0) > 1);
    return { id: i.id, refs: i.refs, size: sum(own), shared: sum(shared), unique: sum(own) - sum(shared), containers: users.get(i.id) ?? 0 };
  });
  const containerList = containers.map((c): ContainerUsage => ({ id: c.id, name: c.name, image: c.image, status: c.status, size: containerSizes.get(c.id) ?? 0 }));
  const volumeList = volumes.map((v) => ({ name: v.name, anonymous: v.anonymous, containers: v.usedBy.length, size: v.sizeBytes ?? 0 }));
  const allLayers = sum(layerSize.keys());
  return {
    images: { total: images.length, active: images.filter((i) => users.has(i.id)).length, size: allLayers, reclaimable: allLayers - sum(inUse) },
    containers: {
      total: containers.length,
      active: containers.filter((c) => c.status === 'running').length,
      size: containerList.reduce((n, c) => n + c.size, 0),
      reclaimable: containerList.filter((c) => c.status !== 'running').reduce((n, c) => n + c.size, 0),
    },
    volumes: {
      total: volumes.length,
      active: volumeList.filter((v) => v.containers > 0).length,
      size: volumeList.reduce((n, v) => n + v.size, 0),
      reclaimable: volumeList.filter((v) => v.containers === 0).reduce((n, v) => n + v.size, 0),
    },
    imageList,
    containerList,
    volumeList,
  };
}

const bytes = formatDecimalBytes;
const percent = (part: number, whole: number): string => `${bytes(part)} (${whole > 0 ? Math.round((100 * part) / whole) : 0}%)`;
const short = (id: string): string => id.replace(/^sha256:/, '').slice(0, 12);

/** docker's `system df` table, and with verbose its three lists. */
export function diskUsageText(u: DiskUsage, verbose: boolean): string {
  const row = (type: string, r: UsageRow): string[] => [type, String(r.total), String(r.active), bytes(r.size), percent(r.reclaimable, r.size)];
  let text = table(['TYPE', 'TOTAL', 'ACTIVE', 'SIZE', 'RECLAIMABLE'], [row('Images', u.images), row('Containers', u.containers), row('Local Volumes', u.volumes)]);
  if (!verbose) return text;
  text += '\nImages space usage (a layer that several images share is counted once above):\n\n';
  text += table(
    ['REPOSITORY:TAG', 'IMAGE ID', 'SIZE', 'SHARED SIZE', 'UNIQUE SIZE', 'CONTAINERS'],
    u.imageList.map((i) => [i.refs[0] ?? '<none>', short(i.id), bytes(i.size), bytes(i.shared), bytes(i.unique), String(i.containers)]),
  );
  text += '\nContainers space usage:\n\n';
  text += table(['CONTAINER ID', 'IMAGE', 'STATUS', 'SIZE', 'NAMES'], u.containerList.map((c) => [c.id.slice(0, 12), c.image, c.status, bytes(c.size), c.name]));
  text += '\nLocal Volumes space usage:\n\n';
  text += table(['VOLUME NAME', 'KIND', 'CONTAINERS', 'SIZE'], u.volumeList.map((v) => [v.name, v.anonymous ? 'anonymous' : 'named', String(v.containers), bytes(v.size)]));
  return text;
}

async function gather(c: HelperClient): Promise<DiskUsage> {
  const [{ images }, { containers }, { volumes }] = await Promise.all([c.call('image.list'), c.call('container.list', { all: true }), c.call('volume.list', {})]);
  // gone meanwhile (removed by someone else): left out
  const details = (await Promise.all(images.map((i) => c.call('image.inspect', { ref: i.id }).catch(() => null)))).filter((d): d is ImageDetails => d !== null);
  const sizes = new Map<string, number>();
  for (const ctr of containers) sizes.set(ctr.id, await c.call('container.diff', { ref: ctr.id }).then((d) => d.unpackedSize, () => 0));
  const vols = (await Promise.all(volumes.map((v) => c.call('volume.inspect', { name: v.name }).catch(() => null)))).filter((v): v is VolumeInfo => v !== null);
  return diskUsage(details, containers, sizes, vols);
}

async function systemPrune(c: HelperClient, cmd: Extract<Command, { verb: 'system prune' }>): Promise<number> {
  if (!cmd.force) {
    const what = [
      '  - all stopped containers',
      '  - all networks not used by at least one container',
      cmd.volumes ? '  - all anonymous volumes not used by at least one container' : null,
      cmd.all ? '  - all images without at least one container associated to them' : '  - all dangling images',
    ].filter((l): l is string => l !== null);
    if (!(await confirm(`WARNING! This will remove:\n${what.join('\n')}\n\nAre you sure you want to continue?`))) return 0;
  }
  const ctrs = await pruneContainers(c);
  const networks: string[] = [];
  for (const n of (await c.call('network.list')).networks) {
    if (n.builtin || n.containers.length > 0) continue;
    try {
      await c.call('network.remove', { ref: n.id });
      networks.push(n.name);
    } catch (e) {
      // a container named it meanwhile
      if (!(e instanceof HelperError && (e.code === 'conflict' || e.code === 'not_found'))) throw e;
    }
  }
  const vols = cmd.volumes ? await c.call('volume.prune', {}) : { removed: [], reclaimedBytes: 0 };
  const imgs = await c.call('image.prune', { all: cmd.all });
  const total = ctrs.reclaimedBytes + vols.reclaimedBytes + imgs.reclaimedBytes;
  if (cmd.json) {
    writeJson({ containers: ctrs.removed, networks, volumes: vols.removed, images: imgs.removed, reclaimedBytes: total });
    return 0;
  }
  const section = (title: string, items: string[]): string => (items.length > 0 ? `${title}:\n${items.map((x) => `${x}\n`).join('')}\n` : '');
  out(section('Deleted Containers', ctrs.removed) + section('Deleted Networks', networks) + section('Deleted Volumes', vols.removed) + section('Deleted Images', imgs.removed.map((id) => `deleted: ${id}`)));
  out(`Total reclaimed space: ${bytes(total)}\n`);
  return 0;
}

export async function runSystemVerb(cmd: SystemVerb): Promise<number> {
  const c = await helper();
  if (cmd.verb === 'system prune') return systemPrune(c, cmd);
  const u = await gather(c);
  if (cmd.json) writeJson(u);
  else out(diskUsageText(u, cmd.verbose));
  return 0;
}
