// Images: the list, the pull dialog (a bar per layer), import from a file, remove.
import { memo, useMemo, useState, type FormEvent } from 'react';

import type { ImageImportFormat, ImageSummary } from '../../../electron/core/protocol';
import type { PullLayerProgress } from '../../../electron/core/api';
import { api, useBerth } from '../berth';
import { Empty } from '../components/common';
import { Confirm, Dialog } from '../components/Dialog';
import { DownloadIcon, LayersIcon, PlayIcon, SearchIcon, TrashIcon, UploadIcon } from '../components/Icons';
import { ListBody } from '../components/lists';
import { ago, formatBytes, shortId, splitCommand } from '../lib/fmt';
import { useAction } from '../lib/useAction';
import type { PullEntry } from '../store';
import { rowKeys } from './ContainersView';
import { PruneImages, unusedImages } from './PruneDialogs';

const ImageRow = memo(function ImageRow({ i, now, users, onRemove }: { i: ImageSummary; now: number; users: number; onRemove(i: ImageSummary): void }) {
  const navigate = useBerth((s) => s.navigate);
  const openDialog = useBerth((s) => s.openDialog);
  const open = (): void => navigate({ view: 'image', id: i.id });
  return (
    <tr className="clickable" tabIndex={0} onClick={open} onKeyDown={(e) => rowKeys(e, open, () => onRemove(i))} data-testid="image-row" data-ref={i.refs[0] ?? ''}>
      <td>
        <div className="name-cell">
          <span className="name mono">{i.refs.length > 0 ? i.refs.join(', ') : '<none>'}</span>
          <span className="id">{shortId(i.id)}</span>
        </div>
      </td>
      <td className="num">{i.layers}</td>
      <td className="num right">{formatBytes(i.size)}</td>
      <td className="muted">{ago(i.created, now) || 'unknown'}</td>
      <td>{users > 0 ? <span className="badge info">{users} {users === 1 ? 'container' : 'containers'}</span> : <span className="muted small">unused</span>}</td>
      <td className="actions" onClick={(e) => e.stopPropagation()} onKeyDown={(e) => e.stopPropagation()}>
        <button type="button" className="btn small" onClick={() => openDialog({ kind: 'run', image: i.refs[0] ?? i.id })} aria-label={`Run ${i.refs[0] ?? shortId(i.id)}`} title="Run a container from it">
          <PlayIcon />
        </button>
        <button type="button" className="btn small danger" onClick={() => onRemove(i)} aria-label={`Remove ${i.refs[0] ?? shortId(i.id)}`} title="Remove">
          <TrashIcon />
        </button>
      </td>
    </tr>
  );
});

function RemoveImage({ image, onDone }: { image: ImageSummary; onDone(): void }) {
  const containers = useBerth((s) => s.containers);
  const notify = useBerth((s) => s.notify);
  const users = (containers ?? []).filter((c) => c.imageId === image.id);
  const { busy, error, run } = useAction();
  const name = image.refs[0] ?? shortId(image.id);
  const remove = (): Promise<void> =>
    run(async () => {
      await api.removeImage(image.refs[0] ?? image.id, users.length > 0);
      notify('success', `Removed ${name}`);
      onDone();
    });
  return (
    <Confirm title={`Remove ${name}?`} confirmLabel={users.length > 0 ? 'Remove anyway' : 'Remove'} danger busy={busy} error={error} onCancel={onDone} onConfirm={() => void remove()}>
      {users.length > 0 ? (
        <div className="inline-error" style={{ marginBottom: 'var(--s3)' }} data-testid="image-in-use">
          <strong>{users.length === 1 ? 'A container uses' : `${users.length} containers use`} this image:</strong> {users.map((c) => c.name).join(', ')}. Their layers stay on disk while they exist, but the name goes and you cannot run new containers from it.
        </div>
      ) : null}
      <p style={{ margin: 0 }}>
        The tag {image.refs.length > 0 ? <code>{image.refs.join(', ')}</code> : 'less image'} is removed, and its layers too unless another image shares them.
      </p>
    </Confirm>
  );
}

export function ImagesView() {
  const images = useBerth((s) => s.images);
  const containers = useBerth((s) => s.containers);
  const now = useBerth((s) => s.now);
  const openDialog = useBerth((s) => s.openDialog);
  const pulls = useBerth((s) => s.pulls);
  const helperOk = useBerth((s) => s.helper?.state === 'connected');
  const helperDown = useBerth((s) => s.helper?.state === 'unavailable');
  const [removing, setRemoving] = useState<ImageSummary | null>(null);
  const [pruning, setPruning] = useState(false);
  const [filter, setFilter] = useState('');
  const usage = useMemo(() => {
    const m = new Map<string, number>();
    for (const c of containers ?? []) m.set(c.imageId, (m.get(c.imageId) ?? 0) + 1);
    return m;
  }, [containers]);
  const active = Object.values(pulls).filter((p) => !p.finished);
  const f = filter.trim().toLowerCase();
  const shown = (images ?? []).filter((i) => !f || i.refs.some((r) => r.toLowerCase().includes(f)) || i.id.includes(f));
  const totalSize = (images ?? []).reduce((a, i) => a + i.size, 0);

  return (
    <>
      <div className="page-head">
        <div>
          <h1>Images</h1>
          <div className="sub num">{images ? `${images.length} ${images.length === 1 ? 'image' : 'images'} · ${formatBytes(totalSize)}` : helperDown ? 'Waiting for the helper' : 'Connecting…'}</div>
        </div>
        <div className="spacer" />
        <div className="search">
          <SearchIcon />
          <input id="global-search" className="input" placeholder="Filter images" aria-label="Filter images" value={filter} onChange={(e) => setFilter(e.target.value)} />
        </div>
        <button type="button" className="btn" onClick={() => setPruning(true)} disabled={!helperOk || unusedImages(images, containers, true).length === 0} title="Remove images no container uses">
          <TrashIcon /> Remove unused
        </button>
        <button type="button" className="btn" onClick={() => openDialog({ kind: 'import' })} disabled={!helperOk}>
          <UploadIcon /> Import <kbd>I</kbd>
        </button>
        <button type="button" className="btn primary" onClick={() => openDialog({ kind: 'pull' })} disabled={!helperOk}>
          <DownloadIcon /> Pull <kbd>P</kbd>
        </button>
      </div>
      <div className="content">
        {active.length > 0 && (
          <div className="panel" style={{ marginBottom: 'var(--s4)' }}>
            <div className="panel-head">
              <h2>Pulling</h2>
            </div>
            <div className="panel-body" style={{ display: 'flex', flexDirection: 'column', gap: 'var(--s4)' }}>
              {active.map((p) => (
                <PullProgressView key={p.pull} p={p} />
              ))}
            </div>
          </div>
        )}
        <ListBody
          items={images}
          what="images"
          helperDown={helperDown}
          empty={
            <Empty
              icon={<LayersIcon size={40} />}
              title="No images yet"
              action={
                <div className="row">
                  <button type="button" className="btn primary" onClick={() => openDialog({ kind: 'pull' })} disabled={!helperOk}>
                    <DownloadIcon /> Pull an image
                  </button>
                  <button type="button" className="btn" onClick={() => openDialog({ kind: 'import' })} disabled={!helperOk}>
                    <UploadIcon /> Import a file
                  </button>
                </div>
              }
            >
              An image is a stack of read-only layers. Pull one from a registry, or import an OCI layout, a docker save archive or a rootfs tarball.
            </Empty>
          }
        >
          <div className="panel list-panel">
            <table className="table" aria-label="Images">
              <thead>
                <tr>
                  <th>Reference</th>
                  <th>Layers</th>
                  <th className="right">Size</th>
                  <th>Created</th>
                  <th>In use</th>
                  <th className="actions">
                    <span className="sr-only">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {shown.map((i) => (
                  <ImageRow key={i.id} i={i} now={now} users={usage.get(i.id) ?? 0} onRemove={setRemoving} />
                ))}
              </tbody>
            </table>
            {shown.length === 0 && <Empty title="Nothing matches">No image matches “{filter}”.</Empty>}
          </div>
        </ListBody>
      </div>
      {removing && <RemoveImage image={removing} onDone={() => setRemoving(null)} />}
      {pruning && <PruneImages onDone={() => setPruning(false)} />}
    </>
  );
}

const LAYER_STATUS: Record<PullLayerProgress['status'], string> = {
  waiting: 'Waiting',
  exists: 'Already here',
  downloading: 'Downloading',
  extracting: 'Extracting',
  done: 'Done',
};

export function PullProgressView({ p }: { p: PullEntry }) {
  const layers = p.progress?.layers ?? [];
  const total = layers.reduce((a, l) => a + l.size, 0);
  const done = layers.reduce((a, l) => a + Math.min(l.done, l.size), 0);
  return (
    <div data-testid="pull-progress">
      <div className="row" style={{ marginBottom: 'var(--s2)' }}>
        <strong className="mono">{p.ref}</strong>
        <span className="muted small">
          {p.error
            ? p.error.code === 'cancelled'
              ? 'cancelled'
              : 'failed'
            : p.finished
              ? 'done'
              : p.progress?.phase === 'committing'
                ? 'writing the image…'
                : p.progress
                  ? `${formatBytes(done)} of ${formatBytes(total)}`
                  : 'resolving the manifest…'}
        </span>
        {p.progress?.platform && <span className="muted small">· {p.progress.platform}</span>}
        <span style={{ flex: 1 }} />
        {!p.finished && (
          <button type="button" className="btn small" onClick={() => void api.cancelPull(p.pull).catch(() => undefined)}>
            Cancel
          </button>
        )}
      </div>
      {p.error && p.error.code !== 'cancelled' && <div className="inline-error">{p.error.message}</div>}
      <div className="pull-layers">
        {layers.map((l) => {
          const frac = l.status === 'done' || l.status === 'exists' ? 1 : l.size > 0 ? Math.min(1, l.done / l.size) : 0;
          return (
            <div key={l.digest} className="pull-layer" data-testid="pull-layer" data-status={l.status}>
              <span className="dg">{shortId(l.digest)}</span>
              <div className={`bar ${l.status === 'done' ? 'done' : l.status === 'exists' ? 'exists' : ''}`} role="progressbar" aria-valuemin={0} aria-valuemax={l.size} aria-valuenow={Math.min(l.done, l.size)} aria-label={`layer ${shortId(l.digest)}`}>
                <div style={{ width: `${frac * 100}%` }} />
              </div>
              <span className="st">
                {LAYER_STATUS[l.status]} · {l.status === 'downloading' ? `${formatBytes(l.done)} / ` : ''}
                {formatBytes(l.size)}
              </span>
            </div>
          );
        })}
      </div>
    </div>
  );
}

export function PullDialog({ onClose }: { onClose(): void }) {
  const pulls = useBerth((s) => s.pulls);
  const trackPull = useBerth((s) => s.trackPull);
  const [ref, setRef] = useState('');
  const [insecure, setInsecure] = useState(false);
  const [mine, setMine] = useState<string | null>(null);
  const { busy, error, setError, run } = useAction();
  const entry = mine ? pulls[mine] : undefined;

  const submit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    const r = ref.trim();
    if (!r) {
      setError('Type an image reference, e.g. 127.0.0.1:5000/alpine:3.20 or docker.io/library/alpine.');
      return;
    }
    await run(async () => {
      const { pull } = await api.pullImage(r, insecure ? { insecure: true } : undefined);
      trackPull(pull, r);
      setMine(pull);
    });
  };

  return (
    <Dialog
      title="Pull an image"
      onClose={onClose}
      testId="pull-dialog"
      footer={
        <>
          <span className="left">{entry && !entry.finished ? 'Closing keeps the pull going in the background.' : ''}</span>
          <button type="button" className="btn" onClick={onClose}>
            {entry?.finished ? 'Close' : entry ? 'Hide' : 'Cancel'}
          </button>
          {!entry && (
            <button type="submit" form="pull-form" className="btn primary" disabled={busy}>
              {busy && <span className="spinner" />} Pull
            </button>
          )}
        </>
      }
    >
      <form id="pull-form" onSubmit={(e) => void submit(e)} style={{ display: 'flex', flexDirection: 'column', gap: 'var(--s3)' }}>
        <label className="field">
          <span>Image reference</span>
          <input className="input mono" value={ref} onChange={(e) => setRef(e.target.value)} placeholder="registry.example.com/team/app:1.2 or name@sha256:…" data-autofocus name="ref" disabled={entry !== undefined} />
          <span className="hint">A registry on localhost or 127.0.0.1 may speak plain HTTP; others must use HTTPS unless marked insecure.</span>
        </label>
        <label className="check">
          <input type="checkbox" checked={insecure} onChange={(e) => setInsecure(e.target.checked)} disabled={entry !== undefined} />
          <span>Allow plain HTTP for this registry (insecure)</span>
        </label>
      </form>
      {error && (
        <div className="inline-error" role="alert">
          <strong>Could not pull:</strong> {error}
        </div>
      )}
      {entry && <PullProgressView p={entry} />}
      {entry?.image && (
        <div className="badge ok" data-testid="pull-done">
          Pulled {entry.image.refs[0] ?? shortId(entry.image.id)} · {formatBytes(entry.image.size)}
        </div>
      )}
    </Dialog>
  );
}

const FORMATS: { value: ImageImportFormat; label: string }[] = [
  { value: 'auto', label: 'Detect from the file' },
  { value: 'oci', label: 'OCI image layout (directory)' },
  { value: 'oci-archive', label: 'OCI archive (tar)' },
  { value: 'docker-archive', label: 'docker save archive' },
  { value: 'rootfs', label: 'Root filesystem tarball' },
];

export function ImportDialog({ onClose }: { onClose(): void }) {
  const notify = useBerth((s) => s.notify);
  const navigate = useBerth((s) => s.navigate);
  const [path, setPath] = useState('');
  const [format, setFormat] = useState<ImageImportFormat>('auto');
  const [ref, setRef] = useState('');
  const [cmd, setCmd] = useState('');
  const { busy, error, setError, run } = useAction();

  const submit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    if (!path.trim().startsWith('/')) {
      setError('Give the absolute path of the file or directory on the machine the helper runs on, e.g. /home/me/alpine.tar.');
      return;
    }
    if (format === 'rootfs' && !ref.trim()) {
      setError('A root filesystem tarball needs a name for the new image, e.g. myapp:latest.');
      return;
    }
    await run(async () => {
      const c = cmd.trim() ? splitCommand(cmd.trim()) : [];
      const imported = await api.importImage(path.trim(), {
        format,
        ...(ref.trim() ? { ref: ref.trim() } : {}),
        ...(c.length > 0 ? { config: { Cmd: c } } : {}),
      });
      notify('success', `Imported ${imported.map((i) => i.refs[0] ?? shortId(i.id)).join(', ')}`);
      onClose();
      if (imported.length === 1) navigate({ view: 'image', id: imported[0].id });
    });
  };

  return (
    <Dialog
      title="Import an image"
      onClose={onClose}
      testId="import-dialog"
      footer={
        <>
          <button type="button" className="btn" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" form="import-form" className="btn primary" disabled={busy}>
            {busy && <span className="spinner" />} Import
          </button>
        </>
      }
    >
      <form id="import-form" onSubmit={(e) => void submit(e)} style={{ display: 'flex', flexDirection: 'column', gap: 'var(--s3)' }}>
        <label className="field">
          <span>File or directory</span>
          <input className="input mono" value={path} onChange={(e) => setPath(e.target.value)} placeholder="/home/me/images/alpine.tar" data-autofocus name="path" />
          <span className="hint">A path on the machine the helper runs on: OCI layout (directory or tar), docker save archive, or a rootfs tarball (plain, gzip, zstd, bzip2, xz).</span>
        </label>
        <div className="grid-2">
          <label className="field">
            <span>Format</span>
            <select className="input" value={format} onChange={(e) => setFormat(e.target.value as ImageImportFormat)} name="format">
              {FORMATS.map((f) => (
                <option key={f.value} value={f.value}>
                  {f.label}
                </option>
              ))}
            </select>
          </label>
          <label className="field">
            <span>
              Name <span className="hint">{format === 'rootfs' ? 'required' : 'optional'}</span>
            </span>
            <input className="input mono" value={ref} onChange={(e) => setRef(e.target.value)} placeholder="myimage:latest" name="ref" />
          </label>
        </div>
        {format === 'rootfs' && (
          <label className="field">
            <span>
              Default command <span className="hint">optional, like CMD in a Dockerfile</span>
            </span>
            <input className="input mono" value={cmd} onChange={(e) => setCmd(e.target.value)} placeholder="sh" name="cmd" />
          </label>
        )}
      </form>
      {error && (
        <div className="inline-error" role="alert">
          <strong>Could not import:</strong> {error}
        </div>
      )}
    </Dialog>
  );
}
