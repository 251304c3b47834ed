// Volumes: named directories the helper keeps that outlive containers (anonymous ones,
// made for one container, are marked); list with sizes and users, create, remove (refused
// while used, and said so before asking), prune (every unused one, named ones too).
import { useEffect, useMemo, useState, type FormEvent } from 'react';

import type { VolumeInfo } from '../../../electron/core/protocol';
import { api, useBerth } from '../berth';
import { Empty } from '../components/common';
import { Confirm, Dialog } from '../components/Dialog';
import { DiskIcon, PlusIcon, TrashIcon } from '../components/Icons';
import { ContainerChips, ListBody } from '../components/lists';
import { ago, formatBytes, shortId } from '../lib/fmt';
import { useAction } from '../lib/useAction';
import { rowKeys } from './ContainersView';

type User = { id: string; name: string };

function SizeCell({ v }: { v: VolumeInfo }) {
  const size = useBerth((s) => s.volumeSizes[v.name]);
  if (size === undefined || size === null) return <span className="muted small">{size === null ? 'measuring…' : '–'}</span>;
  return <span className="num">{formatBytes(size)}</span>;
}

function VolumeRow({ v, now, users, onRemove }: { v: VolumeInfo; now: number; users: User[]; onRemove(v: VolumeInfo): void }) {
  return (
    <tr tabIndex={0} onKeyDown={(e) => rowKeys(e, () => undefined, () => onRemove(v))} data-testid="volume-row" data-name={v.name}>
      <td>
        <div className="name-cell">
          <span className="name mono" title={v.name}>
            {/^[0-9a-f]{64}$/.test(v.name) ? shortId(v.name) : v.name}
            {v.anonymous && (
              <span className="tag" data-testid="volume-anonymous" title="Made for one container (-v /data, or a volume its image declares); removed with it by berth rm -v or --rm">
                anonymous
              </span>
            )}
          </span>
          <span className="id" title={v.mountpoint}>
            {v.mountpoint}
          </span>
        </div>
      </td>
      <td className="right">
        <SizeCell v={v} />
      </td>
      <td>
        <ContainerChips users={users} none="unused" tab="overview" />
      </td>
      <td className="muted">{ago(v.created, now) || '–'}</td>
      <td className="actions">
        <button type="button" className="btn small danger" onClick={() => onRemove(v)} aria-label={`Remove volume ${v.name}`} title="Remove">
          <TrashIcon />
        </button>
      </td>
    </tr>
  );
}

function RemoveVolume({ v, users, onDone }: { v: VolumeInfo; users: User[]; onDone(): void }) {
  const notify = useBerth((s) => s.notify);
  const size = useBerth((s) => s.volumeSizes[v.name]);
  const { busy, error, run } = useAction();
  const inUse = users.length > 0;
  const remove = (): Promise<void> =>
    run(async () => {
      await api.removeVolume(v.name);
      notify('success', `Removed volume ${v.name}`);
      onDone();
    });
  return (
    <Confirm title={`Remove volume ${v.name}?`} confirmLabel="Remove" danger busy={busy} disabled={inUse} error={error} onCancel={onDone} onConfirm={() => void remove()}>
      {inUse ? (
        <div className="inline-error" data-testid="volume-in-use">
          <strong>It is in use.</strong> {users.length === 1 ? 'The container' : `${users.length} containers`} {users.map((u) => u.name).join(', ')} {users.length === 1 ? 'mounts' : 'mount'} it, running or not. Remove {users.length === 1 ? 'that container' : 'those containers'} first; the volume keeps its files until then.
        </div>
      ) : (
        <p style={{ margin: 0 }}>
          Every file in it{typeof size === 'number' ? ` (${formatBytes(size)})` : ''} is deleted: <code>{v.mountpoint}</code>. This cannot be undone.
        </p>
      )}
    </Confirm>
  );
}

function CreateVolumeDialog({ onClose }: { onClose(): void }) {
  const notify = useBerth((s) => s.notify);
  const [name, setName] = useState('');
  const { busy, error, setError, run } = useAction();
  const submit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    const n = name.trim();
    if (n && !/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(n)) {
      setError('The name may hold letters, digits, “_”, “.” and “-” (up to 64, starting with a letter or digit).');
      return;
    }
    await run(async () => {
      const v = await api.createVolume(n || undefined);
      notify('success', `Created volume ${v.name}`);
      onClose();
    });
  };
  return (
    <Dialog
      title="Create a volume"
      onClose={onClose}
      size="narrow"
      testId="volume-dialog"
      footer={
        <>
          <button type="button" className="btn" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" form="volume-form" className="btn primary" disabled={busy}>
            {busy && <span className="spinner" />} Create
          </button>
        </>
      }
    >
      <form id="volume-form" onSubmit={(e) => void submit(e)} className="run-form">
        <p className="hint-text" style={{ margin: 0 }}>
          A volume is a directory in the helper’s store that containers mount and that outlives them. A new volume mounted over a directory of the image starts as a copy of it.
        </p>
        <label className="field">
          <span>
            Name <span className="hint">optional: a random one otherwise</span>
          </span>
          <input className="input mono" name="name" data-autofocus value={name} onChange={(e) => setName(e.target.value)} placeholder="site-data" />
        </label>
        {error && (
          <div className="inline-error" role="alert">
            <strong>Could not create it:</strong> {error}
          </div>
        )}
      </form>
    </Dialog>
  );
}

function PruneVolumes({ unused, onDone }: { unused: VolumeInfo[]; onDone(): void }) {
  const notify = useBerth((s) => s.notify);
  const { busy, error, run } = useAction();
  const prune = (): Promise<void> =>
    run(async () => {
      const r = await api.pruneVolumes(true); // every unused one, as the list above says
      notify('success', r.removed.length === 0 ? 'No volume was unused' : `Removed ${r.removed.length} ${r.removed.length === 1 ? 'volume' : 'volumes'}, ${formatBytes(r.reclaimedBytes)} freed`);
      onDone();
    });
  return (
    <Confirm title="Remove unused volumes?" confirmLabel={`Remove ${unused.length}`} danger busy={busy} disabled={unused.length === 0} error={error} onCancel={onDone} onConfirm={() => void prune()}>
      <p style={{ margin: 0 }}>
        {unused.length === 0 ? (
          'Every volume is used by a container.'
        ) : (
          <>
            No container uses {unused.length === 1 ? 'this volume' : 'these volumes'}: <code>{unused.map((v) => v.name).join(', ')}</code>. {unused.length === 1 ? 'It' : 'They'} and every file in {unused.length === 1 ? 'it' : 'them'} will be deleted.
          </>
        )}
      </p>
    </Confirm>
  );
}

export function VolumesView() {
  const volumes = useBerth((s) => s.volumes);
  const containers = useBerth((s) => s.containers);
  const sizes = useBerth((s) => s.volumeSizes);
  const measure = useBerth((s) => s.measureVolumes);
  const now = useBerth((s) => s.now);
  const helperOk = useBerth((s) => s.helper?.state === 'connected');
  const helperDown = useBerth((s) => s.helper?.state === 'unavailable');
  const [creating, setCreating] = useState(false);
  const [pruning, setPruning] = useState(false);
  const [removing, setRemoving] = useState<VolumeInfo | null>(null);
  const names = useMemo(() => new Map((containers ?? []).map((c) => [c.id, c.name])), [containers]);
  const usersOf = (v: VolumeInfo): User[] => v.usedBy.map((id) => ({ id, name: names.get(id) ?? id.slice(0, 12) }));

  // Sizes are measured (a walk of each volume) when the view opens and when the list changes.
  const key = (volumes ?? []).map((v) => `${v.name}:${v.usedBy.join(',')}`).join('|');
  useEffect(() => {
    const names = key ? key.split('|').map((k) => k.slice(0, k.indexOf(':'))) : [];
    if (names.length > 0) measure(names);
  }, [key, measure]);

  const total = (volumes ?? []).reduce((a, v) => a + (sizes[v.name] ?? 0), 0);
  const unused = (volumes ?? []).filter((v) => v.usedBy.length === 0);

  return (
    <>
      <div className="page-head">
        <div>
          <h1>Volumes</h1>
          <div className="sub num">
            {volumes ? `${volumes.length} ${volumes.length === 1 ? 'volume' : 'volumes'}${volumes.length > 0 ? ` · ${formatBytes(total)} · ${unused.length} unused` : ''}` : helperDown ? 'Waiting for the helper' : 'Connecting…'}
          </div>
        </div>
        <div className="spacer" />
        <button type="button" className="btn" onClick={() => setPruning(true)} disabled={!helperOk || unused.length === 0} title={unused.length === 0 ? 'Every volume is in use' : 'Remove every volume no container uses'}>
          <TrashIcon /> Remove unused
        </button>
        <button type="button" className="btn primary" onClick={() => setCreating(true)} disabled={!helperOk} data-testid="create-volume">
          <PlusIcon /> Create volume
        </button>
      </div>
      <div className="content">
        <ListBody
          items={volumes}
          what="volumes"
          helperDown={helperDown}
          empty={
            <Empty
              icon={<DiskIcon size={40} />}
              title="No volumes yet"
              action={
                <button type="button" className="btn primary" onClick={() => setCreating(true)} disabled={!helperOk}>
                  <PlusIcon /> Create a volume
                </button>
              }
            >
              A volume keeps files after its container is gone: databases, uploads, a site’s content. Create one here, or name one in the Run dialog’s Storage tab and it is created when the container starts.
            </Empty>
          }
        >
          <div className="panel list-panel">
            <table className="table" aria-label="Volumes">
              <thead>
                <tr>
                  <th>Name and directory</th>
                  <th className="right">Size</th>
                  <th>Used by</th>
                  <th>Created</th>
                  <th className="actions">
                    <span className="sr-only">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {(volumes ?? []).map((v) => (
                  <VolumeRow key={v.name} v={v} now={now} users={usersOf(v)} onRemove={setRemoving} />
                ))}
              </tbody>
            </table>
          </div>
        </ListBody>
      </div>
      {creating && <CreateVolumeDialog onClose={() => setCreating(false)} />}
      {pruning && <PruneVolumes unused={unused} onDone={() => setPruning(false)} />}
      {removing && <RemoveVolume v={removing} users={usersOf(removing)} onDone={() => setRemoving(null)} />}
    </>
  );
}
