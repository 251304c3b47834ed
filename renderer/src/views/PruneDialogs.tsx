// "Remove stopped" (Containers view) and "Remove unused" (Images view): what will go is
// listed before anything is removed, as the volumes view does.
import { useState } from 'react';

import type { ContainerInfo, ImageSummary } from '../../../electron/core/protocol';
import { api, useBerth } from '../berth';
import { Confirm } from '../components/Dialog';
import { formatBytes, isStopped, shortId } from '../lib/fmt';
import { useAction } from '../lib/useAction';

/** What container prune removes. */
export function stoppedContainers(containers: readonly ContainerInfo[] | null): ContainerInfo[] {
  return (containers ?? []).filter(isStopped);
}

export function PruneContainers({ stopped, onDone }: { stopped: ContainerInfo[]; onDone(): void }) {
  const notify = useBerth((s) => s.notify);
  const { busy, error, run } = useAction();
  const prune = (): Promise<void> =>
    run(async () => {
      const r = await api.pruneContainers();
      notify('success', r.removed.length === 0 ? 'No container was stopped' : `Removed ${r.removed.length} stopped ${r.removed.length === 1 ? 'container' : 'containers'}, ${formatBytes(r.reclaimedBytes)} freed`);
      onDone();
    });
  const n = stopped.length;
  return (
    <Confirm title="Remove stopped containers?" confirmLabel={`Remove ${n}`} danger busy={busy} disabled={n === 0} error={error} onCancel={onDone} onConfirm={() => void prune()}>
      <p style={{ margin: 0 }}>
        {n === 0 ? (
          'No container is stopped.'
        ) : (
          <>
            {n === 1 ? 'This container is' : 'These containers are'} not running: <code>{stopped.map((c) => c.name).join(', ')}</code>. {n === 1 ? 'It goes' : 'They go'} with {n === 1 ? 'its' : 'their'} writable {n === 1 ? 'layer' : 'layers'} and logs; {n === 1 ? 'its image stays' : 'their images stay'}.
          </>
        )}
      </p>
    </Confirm>
  );
}

/** Images no container uses; untagged ones only unless all. */
export function unusedImages(images: readonly ImageSummary[] | null, containers: readonly ContainerInfo[] | null, all: boolean): ImageSummary[] {
  const used = new Set((containers ?? []).map((c) => c.imageId));
  return (images ?? []).filter((i) => !used.has(i.id) && (all || i.refs.length === 0));
}

export function PruneImages({ onDone }: { onDone(): void }) {
  const images = useBerth((s) => s.images);
  const containers = useBerth((s) => s.containers);
  const notify = useBerth((s) => s.notify);
  const [all, setAll] = useState(false);
  const { busy, error, run } = useAction();
  const going = unusedImages(images, containers, all);
  const prune = (): Promise<void> =>
    run(async () => {
      const r = await api.pruneImages(all);
      notify('success', r.removed.length === 0 ? 'No image was unused' : `Removed ${r.removed.length} ${r.removed.length === 1 ? 'image' : 'images'}, ${formatBytes(r.reclaimedBytes)} freed`);
      onDone();
    });
  const n = going.length;
  return (
    <Confirm title="Remove unused images?" confirmLabel={`Remove ${n}`} danger busy={busy} disabled={n === 0} error={error} onCancel={onDone} onConfirm={() => void prune()}>
      <label className="check small" style={{ marginBottom: 'var(--s3)' }}>
        <input type="checkbox" checked={all} onChange={(e) => setAll(e.target.checked)} /> Tagged images too (every image no container uses)
      </label>
      <p style={{ margin: 0 }}>
        {n === 0 ? (
          all ? 'Every image is used by a container.' : 'No image is untagged and unused.'
        ) : (
          <>
            No container uses {n === 1 ? 'this image' : 'these images'}: <code>{going.map((i) => i.refs[0] ?? `<none> ${shortId(i.id)}`).join(', ')}</code>. A layer goes only when no image that stays has it too.
          </>
        )}
      </p>
    </Confirm>
  );
}
