// Removing what nothing uses, shared by the CLI (container prune, system prune) and the
// window (the Containers view's "Remove stopped").
import { isStopped } from './format';
import { HelperError, type HelperClient } from './helper-client';

/** Removes every stopped container; one started or removed meanwhile is left alone. reclaimedBytes: their writable layers. */
export async function pruneContainers(c: HelperClient): Promise<{ removed: string[]; reclaimedBytes: number }> {
  const { containers } = await c.call('container.list', { all: true });
  const removed: string[] = [];
  let reclaimed = 0;
  for (const ctr of containers.filter(isStopped)) {
    try {
      const size = await c.call('container.diff', { ref: ctr.id }).then((d) => d.unpackedSize, () => 0);
      await c.call('container.remove', { ref: ctr.id });
      removed.push(ctr.id);
      reclaimed += size;
    } catch (e) {
      if (!(e instanceof HelperError && (e.code === 'conflict' || e.code === 'not_found'))) throw e;
    }
  }
  return { removed, reclaimedBytes: reclaimed };
}
