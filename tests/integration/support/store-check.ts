// The image store as its files show it: every image images.json records whole (its
// blobs present and matching their digests, its layers extracted), every image the
// helper lists recorded, and after a prune nothing else left (no orphan blob, layer,
// partial upload, temp file, work dir or lease).
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

import type { HelperClient } from '../../../electron/core/helper-client';
import { testEnv } from './berth';

function fileDigest(file: string): string {
  const h = createHash('sha256');
  const fd = fs.openSync(file, 'r');
  try {
    const buf = Buffer.alloc(1 << 20);
    for (;;) {
      const n = fs.readSync(fd, buf, 0, buf.length, null);
      if (n <= 0) break;
      h.update(buf.subarray(0, n));
    }
  } finally {
    fs.closeSync(fd);
  }
  return `sha256:${h.digest('hex')}`;
}

function ls(dir: string): string[] {
  try {
    return fs.readdirSync(dir).sort();
  } catch {
    return [];
  }
}

const storePath = (...p: string[]): string => path.join(testEnv().root, ...p);

export interface StoreView {
  /** image ids (config digests) recorded */
  images: string[];
  /** every blob digest (manifest, config, layers) of the recorded images */
  blobs: Set<string>;
  /** every layer diffID of the recorded images */
  layers: Set<string>;
}

/**
 * Problems with the images the store records (images.json, what the helper lists):
 * a blob missing or not matching its digest, a layer tree or its meta missing, a ref
 * to no image, a listed image that cannot be inspected. Verified blobs are remembered
 * across calls (a digest names one content).
 */
const verified = new Set<string>();
export async function checkImages(client: HelperClient): Promise<{ problems: string[]; view: StoreView }> {
  const problems: string[] = [];
  const view: StoreView = { images: [], blobs: new Set(), layers: new Set() };
  const blob = (dg: string, what: string): Buffer | null => {
    view.blobs.add(dg);
    const f = storePath('blobs/sha256', dg.slice(7));
    if (!fs.existsSync(f)) {
      problems.push(`${what}: blob ${dg} missing`);
      return null;
    }
    if (!verified.has(dg)) {
      const got = fileDigest(f);
      if (got !== dg) {
        problems.push(`${what}: blob ${dg} holds ${got}`);
        return null;
      }
      verified.add(dg);
    }
    return fs.readFileSync(f);
  };
  const index = JSON.parse(fs.readFileSync(storePath('images.json'), 'utf8')) as { refs: Record<string, string>; images: Record<string, { id: string }> };
  for (const [manifest, rec] of Object.entries(index.images)) {
    const what = `image ${rec.id.slice(7, 19)} (manifest ${manifest.slice(7, 19)})`;
    view.images.push(rec.id);
    const mb = blob(manifest, what);
    if (!mb) continue;
    const m = JSON.parse(mb.toString('utf8')) as { config: { digest: string }; layers: { digest: string }[] };
    if (m.config.digest !== rec.id) problems.push(`${what}: the manifest names config ${m.config.digest}`);
    const cb = blob(m.config.digest, what);
    for (const l of m.layers) blob(l.digest, what);
    if (!cb) continue;
    const diffIds = (JSON.parse(cb.toString('utf8')) as { rootfs: { diff_ids: string[] } }).rootfs.diff_ids;
    for (const d of diffIds) {
      view.layers.add(d);
      const tree = storePath('layers/sha256', d.slice(7));
      if (!fs.existsSync(tree) || !fs.statSync(tree).isDirectory()) problems.push(`${what}: layer tree ${d} missing`);
      if (!fs.existsSync(`${tree}.json`)) problems.push(`${what}: layer meta ${d}.json missing`);
    }
  }
  for (const [ref, manifest] of Object.entries(index.refs)) if (!index.images[manifest]) problems.push(`ref ${ref} names no image (${manifest})`);
  const { images } = await client.call('image.list');
  for (const img of images) {
    if (!view.images.includes(img.id)) problems.push(`listed image ${img.id} is not in images.json`);
    try {
      await client.call('image.inspect', { ref: img.id });
    } catch (e) {
      problems.push(`listed image ${img.id} (${img.refs.join(', ')}) cannot be inspected: ${(e as Error).message}`);
    }
  }
  return { problems, view };
}

/** What the store holds that no recorded image names (call right after image.prune, with no operation at work). */
export function orphans(view: StoreView): string[] {
  const out: string[] = [];
  for (const f of ls(storePath('blobs/sha256'))) if (!view.blobs.has(`sha256:${f}`)) out.push(`blobs/sha256/${f}`);
  for (const f of ls(storePath('layers/sha256'))) {
    const hex = f.endsWith('.json') ? f.slice(0, -5) : f;
    if (!view.layers.has(`sha256:${hex}`)) out.push(`layers/sha256/${f}`);
  }
  for (const f of ls(storePath('tmp'))) if (f !== 'partial') out.push(`tmp/${f}`);
  for (const f of ls(storePath('tmp/partial'))) out.push(`tmp/partial/${f}`);
  for (const f of ls(storePath('leases'))) out.push(`leases/${f}`);
  return out;
}

/** Container directories on disk that the helper does not list (a half-made container). */
export async function strayContainerDirs(client: HelperClient): Promise<string[]> {
  const { containers } = await client.call('container.list', { all: true });
  const ids = new Set(containers.map((c) => c.id));
  return ls(storePath('containers')).filter((d) => !ids.has(d));
}
