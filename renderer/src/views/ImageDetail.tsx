// Image detail: the layer stack, each layer's facts, and its file tree.
import { useCallback, useEffect, useState } from 'react';

import type { ImageLayers, LayerFacts } from '../../../electron/core/protocol';
import { api, useBerth } from '../berth';
import { Empty, errorText, Loading } from '../components/common';
import { FileTree } from '../components/FileTree';
import { BackIcon, LayersIcon, PlusIcon } from '../components/Icons';
import { LayerStack } from '../components/LayerStack';
import { ago, formatBytes, formatPercent, shortId } from '../lib/fmt';

export function useImageLayers(ref: string | null): { stack: ImageLayers | null; error: string | null } {
  const [stack, setStack] = useState<ImageLayers | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    if (!ref) return;
    let live = true;
    setStack(null);
    api.imageLayers(ref).then(
      (s) => live && setStack(s),
      (e: unknown) => live && setError(errorText(e)),
    );
    return () => {
      live = false;
    };
  }, [ref]);
  return { stack, error };
}

export function LayerFactsPanel({ l, imageRef }: { l: LayerFacts; imageRef: string }) {
  const load = useCallback((path: string, offset: number, limit: number) => api.imageTree(imageRef, l.index, path, offset, limit), [imageRef, l.index]);
  return (
    <section className="panel" data-testid="layer-facts">
      <div className="panel-head">
        <h2>Layer {l.index}</h2>
        <span className="mono muted small">{shortId(l.digest)}</span>
        <span style={{ flex: 1 }} />
        <span className="muted small">{l.created ? ago(l.created) : ''}</span>
      </div>
      <div className="panel-body" style={{ display: 'flex', flexDirection: 'column', gap: 'var(--s3)' }}>
        <div>
          <div className="section-title">Created by</div>
          <code style={{ display: 'block', padding: 'var(--s2)', whiteSpace: 'pre-wrap', overflowWrap: 'anywhere' }}>{l.createdBy || '(no history entry)'}</code>
          {l.comment && <p className="muted small">{l.comment}</p>}
        </div>
        <div className="facts">
          <div className="fact added">
            <div className="label">Added</div>
            <div className="v">{l.files.added}</div>
          </div>
          <div className="fact modified">
            <div className="label">Modified</div>
            <div className="v">{l.files.modified}</div>
          </div>
          <div className="fact deleted">
            <div className="label">Deleted</div>
            <div className="v" data-testid="facts-deleted">
              {l.files.deleted}
            </div>
          </div>
          <div className="fact">
            <div className="label">Size (unpacked)</div>
            <div className="v">{formatBytes(l.unpackedSize)}</div>
          </div>
          <div className="fact">
            <div className="label">Compressed</div>
            <div className="v">{formatBytes(l.size)}</div>
          </div>
          <div className="fact">
            <div className="label" title="bytes of this layer's files that later layers replace or delete">
              Wasted
            </div>
            <div className="v" style={{ color: l.wastedBytes > 0 ? 'var(--warn)' : undefined }}>
              {formatBytes(l.wastedBytes)}
            </div>
          </div>
        </div>
        <div>
          <div className="section-title">Files in this layer</div>
          <FileTree load={load} resetKey={`${imageRef}#${l.index}`} />
        </div>
      </div>
    </section>
  );
}

export function ImageDetail({ id }: { id: string }) {
  const image = useBerth((s) => s.images?.find((i) => i.id === id));
  const containers = useBerth((s) => s.containers);
  const navigate = useBerth((s) => s.navigate);
  const openDialog = useBerth((s) => s.openDialog);
  const { stack, error } = useImageLayers(id);
  const [sel, setSel] = useState<number | null>(null);
  useEffect(() => {
    if (stack && sel === null && stack.layers.length > 0) setSel(stack.layers.length - 1);
  }, [stack, sel]);

  const name = image?.refs[0] ?? shortId(id);
  const users = (containers ?? []).filter((c) => c.imageId === id);
  return (
    <>
      <div className="page-head">
        <div>
          <div className="crumbs">
            <button type="button" onClick={() => navigate({ view: 'images' })}>
              <BackIcon size={11} /> Images
            </button>
          </div>
          <h1 className="mono" data-testid="image-title">{name}</h1>
          <div className="sub num">
            {shortId(id)}
            {image && ` · ${image.layers} ${image.layers === 1 ? 'layer' : 'layers'} · ${formatBytes(image.size)} · created ${ago(image.created)}`}
            {users.length > 0 && ` · used by ${users.length} ${users.length === 1 ? 'container' : 'containers'}`}
          </div>
        </div>
        <div className="spacer" />
        <button type="button" className="btn primary" onClick={() => openDialog({ kind: 'run', image: image?.refs[0] ?? id })}>
          <PlusIcon /> Run
        </button>
      </div>
      <div className="content">
        {error ? (
          <Empty icon={<LayersIcon size={40} />} title="The layers could not be read">
            {error}
          </Empty>
        ) : !stack ? (
          <Loading what="the layer stack" />
        ) : (
          <>
            <div className="stat-tiles">
              <div className="tile">
                <div className="label">Layers</div>
                <div className="value" data-testid="layer-count">
                  {stack.layers.length}
                </div>
              </div>
              <div className="tile">
                <div className="label">Total size</div>
                <div className="value">{formatBytes(stack.size)}</div>
              </div>
              <div className="tile">
                <div className="label">Wasted (deleted or replaced later)</div>
                <div className="value">{formatBytes(stack.wastedBytes)}</div>
              </div>
              <div className="tile">
                <div className="label">Efficiency</div>
                <div className="value">{formatPercent(stack.efficiency)}</div>
              </div>
            </div>
            <div className="stack-layout">
              <div>
                <div className="section-title">Layer stack</div>
                <LayerStack layers={stack.layers} selected={sel} onSelect={(w) => typeof w === 'number' && setSel(w)} />
                <p className="muted small">
                  Each block is a read-only directory of changes. The container sees them merged by overlayfs, the upper ones hiding what they replace or delete. Height grows with size (log scale).
                </p>
              </div>
              <div>{sel !== null && stack.layers[sel] ? <LayerFactsPanel l={stack.layers[sel]} imageRef={id} /> : null}</div>
            </div>
          </>
        )}
      </div>
    </>
  );
}
