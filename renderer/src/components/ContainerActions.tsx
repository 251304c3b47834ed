// Start / stop / restart / pause / resume / kill / remove for one container, with a confirmation where data
// would be lost (removing deletes the writable layer; kill skips a clean shutdown).
import { useState } from 'react';

import type { ContainerInfo } from '../../../electron/core/protocol';
import { api, useBerth } from '../berth';
import { errorText } from './common';
import { Confirm } from './Dialog';
import { isActive } from '../lib/status';
import { BoltIcon, PauseIcon, PlayIcon, RestartIcon, StopIcon, TrashIcon } from './Icons';

type Pending = null | 'remove' | 'kill';

export function useContainerActions(c: ContainerInfo) {
  const notify = useBerth((s) => s.notify);
  const [busy, setBusy] = useState<string | null>(null);
  const [confirm, setConfirm] = useState<Pending>(null);
  const [error, setError] = useState<string | null>(null);
  const [withVolumes, setWithVolumes] = useState(false);
  const anonymous = (c.mounts ?? []).filter((m) => m.type === 'volume' && m.anonymous);

  const run = async (label: string, fn: () => Promise<unknown>, done?: string): Promise<boolean> => {
    setBusy(label);
    setError(null);
    try {
      await fn();
      if (done) notify('success', done);
      return true;
    } catch (e) {
      const msg = errorText(e);
      setError(msg);
      notify('error', `${label} ${c.name} failed: ${msg}`);
      return false;
    } finally {
      setBusy(null);
    }
  };

  const start = () => void run('Start', () => api.startContainer(c.id));
  const stop = () => void run('Stop', () => api.stop(c.id));
  const restart = () => void run('Restart', () => api.restartContainer(c.id), `Restarted ${c.name}`);
  const pause = () => void run('Pause', () => api.pause(c.id), `Paused ${c.name}`);
  const resume = () => void run('Resume', () => api.unpause(c.id), `Resumed ${c.name}`);
  const askKill = () => setConfirm('kill');
  const askRemove = () => {
    setWithVolumes(false);
    setConfirm('remove');
  };

  const dialog =
    confirm === 'remove' ? (
      <Confirm
        title={`Remove ${c.name}?`}
        confirmLabel={isActive(c) ? 'Kill and remove' : 'Remove'}
        danger
        busy={busy !== null}
        error={error}
        onCancel={() => setConfirm(null)}
        onConfirm={() => void run('Remove', () => api.remove(c.id, isActive(c), withVolumes), `Removed ${c.name}`).then((ok) => ok && setConfirm(null))}
      >
        <p style={{ margin: 0 }}>
          {c.status === 'running' ? 'The container is running: it will be killed first. ' : c.status === 'restarting' ? 'Its pending restart is cancelled. ' : ''}
          Its writable layer (every file it created or changed), its log and its cgroup are deleted. The image <code>{c.image}</code> stays.
        </p>
        {anonymous.length > 0 && (
          <label className="check">
            <input type="checkbox" data-testid="remove-volumes" checked={withVolumes} onChange={(e) => setWithVolumes(e.target.checked)} />
            <span>
              Also delete its {anonymous.length === 1 ? 'anonymous volume' : `${anonymous.length} anonymous volumes`} ({anonymous.map((m) => m.target).join(', ')}); named volumes always stay
            </span>
          </label>
        )}
      </Confirm>
    ) : confirm === 'kill' ? (
      <Confirm
        title={`Kill ${c.name}?`}
        confirmLabel="Kill"
        danger
        busy={busy !== null}
        error={error}
        onCancel={() => setConfirm(null)}
        onConfirm={() => void run('Kill', () => api.kill(c.id, 'SIGKILL')).then((ok) => ok && setConfirm(null))}
      >
        <p style={{ margin: 0 }}>SIGKILL ends every process at once, without a chance to save or clean up. Use Stop for a clean shutdown.</p>
      </Confirm>
    ) : null;

  return { busy, start, stop, restart, pause, resume, askKill, askRemove, dialog };
}

export type ContainerActionsApi = ReturnType<typeof useContainerActions>;

export function ContainerButtons({ c, compact }: { c: ContainerInfo; compact?: boolean }) {
  const a = useContainerActions(c);
  return <ActionButtons c={c} a={a} compact={compact} />;
}

export function ActionButtons({ c, a, compact }: { c: ContainerInfo; a: ContainerActionsApi; compact?: boolean }) {
  const size = compact ? 'btn small' : 'btn';
  const running = c.status === 'running';
  return (
    <>
      {isActive(c) ? (
        <>
          <button
            type="button"
            className={size}
            onClick={a.stop}
            disabled={a.busy !== null}
            title={running ? 'Stop (SIGTERM, then SIGKILL after 10 s)' : 'Stop: cancel the pending restart'}
            aria-label={`Stop ${c.name}`}
          >
            {a.busy === 'Stop' ? <span className="spinner" /> : <StopIcon />}
            {!compact && 'Stop'}
          </button>
          <button type="button" className={size} onClick={a.restart} disabled={a.busy !== null} title="Restart: stop, then start again" aria-label={`Restart ${c.name}`}>
            {a.busy === 'Restart' ? <span className="spinner" /> : <RestartIcon />}
            {!compact && 'Restart'}
          </button>
          {running && !c.paused && (
            <button type="button" className={size} onClick={a.pause} disabled={a.busy !== null} title="Pause: freeze every process (the cgroup freezer)" aria-label={`Pause ${c.name}`}>
              {a.busy === 'Pause' ? <span className="spinner" /> : <PauseIcon />}
              {!compact && 'Pause'}
            </button>
          )}
          {running && c.paused && (
            <button type="button" className={size} onClick={a.resume} disabled={a.busy !== null} title="Resume: let the frozen processes run again" aria-label={`Resume ${c.name}`}>
              {a.busy === 'Resume' ? <span className="spinner" /> : <PlayIcon />}
              {!compact && 'Resume'}
            </button>
          )}
          {running && (
            <button type="button" className={`${size} danger`} onClick={a.askKill} disabled={a.busy !== null} title="Kill (SIGKILL)" aria-label={`Kill ${c.name}`}>
              <BoltIcon />
              {!compact && 'Kill'}
            </button>
          )}
        </>
      ) : (
        <button type="button" className={size} onClick={a.start} disabled={a.busy !== null} title="Start" aria-label={`Start ${c.name}`}>
          {a.busy === 'Start' ? <span className="spinner" /> : <PlayIcon />}
          {!compact && 'Start'}
        </button>
      )}
      <button type="button" className={`${size} danger`} onClick={a.askRemove} disabled={a.busy !== null} title="Remove" aria-label={`Remove ${c.name}`}>
        <TrashIcon />
        {!compact && 'Remove'}
      </button>
      {a.dialog}
    </>
  );
}
