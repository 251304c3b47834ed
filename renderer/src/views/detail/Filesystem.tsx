// Filesystem: the container's writable layer on top of its image's layer stack.
import { useCallback, useEffect, useState } from 'react';

import type { ContainerDiff, ContainerInfo } from '../../../../electron/core/protocol';
import { api } from '../../berth';
import { errorText, Loading } from '../../components/common';
import { FileTree } from '../../components/FileTree';
import { LayerStack } from '../../components/LayerStack';
import { formatBytes } from '../../lib/fmt';
import { LayerFactsPanel, useImageLayers } from '../ImageDetail';

export function Filesystem({ c }: { c: ContainerInfo }) {
  const { stack, error } = useImageLayers(c.imageId);
  const [diff, setDiff] = useState<ContainerDiff | null>(null);
  const [diffError, setDiffError] = useState<string | null>(null);
  const [sel, setSel] = useState<number | 'writable'>('writable');
  const [tick, setTick] = useState(0);

  useEffect(() => {
    let live = true;
    api.containerDiff(c.id).then(
      (d) => live && (setDiff(d), setDiffError(null)),
      (e: unknown) => live && setDiffError(errorText(e)),
    );
    return () => {
      live = false;
    };
  }, [c.id, tick, c.status]);

  const load = useCallback((path: string, offset: number, limit: number) => api.containerTree(c.id, path, offset, limit), [c.id]);

  if (error) return <div className="inline-error">Could not read the image’s layers: {error}</div>;
  if (!stack) return <Loading what="the layer stack" />;
  return (
    <div className="stack-layout">
      <div>
        <div className="section-title">Layers as the container sees them</div>
        <LayerStack
          layers={stack.layers}
          selected={sel}
          onSelect={setSel}
          writable={{ size: diff?.unpackedSize ?? 0, deleted: diff?.files.deleted ?? 0, label: diff ? `writable · ${diff.totalChanges} ${diff.totalChanges === 1 ? 'change' : 'changes'}` : 'writable layer' }}
        />
        <p className="muted small">The dashed block on top is this container’s own overlay upper directory: every file it creates, changes or deletes lands there, and the image layers below stay untouched.</p>
      </div>
      <div>
        {sel === 'writable' ? (
          <section className="panel" data-testid="writable-layer">
            <div className="panel-head">
              <h2>Writable layer</h2>
              <span style={{ flex: 1 }} />
              <button type="button" className="btn small" onClick={() => setTick((t) => t + 1)}>
                Refresh
              </button>
            </div>
            <div className="panel-body" style={{ display: 'flex', flexDirection: 'column', gap: 'var(--s3)' }}>
              {diffError && <div className="inline-error">{diffError}</div>}
              {diff && (
                <div className="facts">
                  <div className="fact added">
                    <div className="label">Added</div>
                    <div className="v">{diff.files.added}</div>
                  </div>
                  <div className="fact modified">
                    <div className="label">Modified</div>
                    <div className="v">{diff.files.modified}</div>
                  </div>
                  <div className="fact deleted">
                    <div className="label">Deleted</div>
                    <div className="v">{diff.files.deleted}</div>
                  </div>
                  <div className="fact">
                    <div className="label">Size</div>
                    <div className="v">{formatBytes(diff.unpackedSize)}</div>
                  </div>
                  <div className="fact">
                    <div className="label">Hides in image</div>
                    <div className="v">{formatBytes(diff.shadowedBytes)}</div>
                  </div>
                  <div className="fact">
                    <div className="label">Changes</div>
                    <div className="v">{diff.totalChanges}</div>
                  </div>
                </div>
              )}
              <FileTree load={load} resetKey={`${c.id}#${tick}`} />
            </div>
          </section>
        ) : stack.layers[sel] ? (
          <LayerFactsPanel l={stack.layers[sel]} imageRef={c.imageId} />
        ) : null}
      </div>
    </div>
  );
}
