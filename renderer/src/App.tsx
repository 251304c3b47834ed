// The app shell: sidebar, helper banner, the current view, dialogs, notices and the
// keyboard shortcuts.
import { useEffect } from 'react';

import { hasToken } from './api';
import { useBerth } from './berth';
import { Dialog } from './components/Dialog';
import { BerthMark, BoxIcon, CloseIcon, DiskIcon, KeyboardIcon, LayersIcon, NetIcon, WarnIcon } from './components/Icons';
import { ContainerDetail } from './views/ContainerDetail';
import { ContainersView } from './views/ContainersView';
import { ImageDetail } from './views/ImageDetail';
import { ImagesView, ImportDialog, PullDialog } from './views/ImagesView';
import { NetworksView } from './views/NetworksView';
import { RunDialog } from './views/RunDialog';
import { VolumesView } from './views/VolumesView';

export const SHORTCUTS: readonly [string, string][] = [
  ['N', 'Run a new container'],
  ['P', 'Pull an image'],
  ['I', 'Import an image from a file'],
  ['1', 'Containers'],
  ['2', 'Images'],
  ['3', 'Networks'],
  ['4', 'Volumes'],
  ['/', 'Filter the list'],
  ['↑ ↓', 'Move between rows; Enter opens, Delete removes'],
  ['Esc', 'Close a dialog; from a detail page, back to the list'],
  ['?', 'This list'],
];

function isTyping(t: EventTarget | null): boolean {
  const el = t as HTMLElement | null;
  if (!el) return false;
  return el.isContentEditable || el.tagName === 'INPUT' || el.tagName === 'TEXTAREA' || el.tagName === 'SELECT' || Boolean(el.closest('.xterm'));
}

function HelperBanner() {
  const helper = useBerth((s) => s.helper);
  if (!hasToken()) {
    return (
      <div className="banner bad" role="alert">
        <span className="icon">
          <WarnIcon />
        </span>
        <div>
          <strong>This page was opened without its access token.</strong>
          Open the address that <code>npm start</code> printed (it ends in <code>#token=…</code>); the token keeps other pages and users out.
        </div>
      </div>
    );
  }
  if (!helper || helper.state === 'connected') return null;
  const connecting = helper.state === 'connecting';
  return (
    <div className={`banner ${connecting ? '' : 'bad'}`} role="alert" data-testid="helper-banner">
      <span className="icon">{connecting ? <span className="spinner" /> : <WarnIcon />}</span>
      <div>
        <strong>{connecting ? 'Connecting to the Berth helper…' : 'The Berth helper (berthd) is not available.'}</strong>
        {helper.reason && <span>{helper.reason}. </span>}
        {helper.hint ? <span>{helper.hint}</span> : !connecting && <span>Containers cannot be listed or run until it is; everything else here keeps working.</span>}
      </div>
    </div>
  );
}

function Notices() {
  const notices = useBerth((s) => s.notices);
  const dismiss = useBerth((s) => s.dismiss);
  return (
    <div className="notices" aria-live="polite">
      {notices.map((n) => (
        <div key={n.id} className={`notice ${n.kind}`} role={n.kind === 'error' ? 'alert' : 'status'}>
          <p>{n.text}</p>
          <button type="button" className="btn ghost icon small" aria-label="Dismiss" onClick={() => dismiss(n.id)}>
            <CloseIcon />
          </button>
        </div>
      ))}
    </div>
  );
}

function Sidebar() {
  const route = useBerth((s) => s.route);
  const navigate = useBerth((s) => s.navigate);
  const containers = useBerth((s) => s.containers);
  const images = useBerth((s) => s.images);
  const networks = useBerth((s) => s.networks);
  const volumes = useBerth((s) => s.volumes);
  const helper = useBerth((s) => s.helper);
  const openDialog = useBerth((s) => s.openDialog);
  const onContainers = route.view === 'containers' || route.view === 'container';
  const onImages = route.view === 'images' || route.view === 'image';
  const running = containers?.filter((c) => c.status === 'running').length;
  const tone = helper?.state === 'connected' ? 'ok' : helper?.state === 'connecting' ? 'warn' : 'bad';
  return (
    <nav className="sidebar" aria-label="Main">
      <div className="brand">
        <BerthMark /> Berth
      </div>
      <button type="button" className="nav-item" aria-current={onContainers ? 'page' : undefined} onClick={() => navigate({ view: 'containers' })} data-testid="nav-containers">
        <BoxIcon /> Containers
        <span className="count">{running !== undefined && running > 0 ? `${running} running` : (containers?.length ?? '')}</span>
      </button>
      <button type="button" className="nav-item" aria-current={onImages ? 'page' : undefined} onClick={() => navigate({ view: 'images' })} data-testid="nav-images">
        <LayersIcon /> Images
        <span className="count">{images?.length ?? ''}</span>
      </button>
      <button type="button" className="nav-item" aria-current={route.view === 'networks' ? 'page' : undefined} onClick={() => navigate({ view: 'networks' })} data-testid="nav-networks">
        <NetIcon /> Networks
        <span className="count">{networks?.length ?? ''}</span>
      </button>
      <button type="button" className="nav-item" aria-current={route.view === 'volumes' ? 'page' : undefined} onClick={() => navigate({ view: 'volumes' })} data-testid="nav-volumes">
        <DiskIcon /> Volumes
        <span className="count">{volumes?.length ?? ''}</span>
      </button>
      <div className="sidebar-foot">
        <button type="button" className="nav-item" onClick={() => openDialog({ kind: 'shortcuts' })}>
          <KeyboardIcon /> Shortcuts <kbd style={{ marginLeft: 'auto' }}>?</kbd>
        </button>
        <div className="helper-pill" title={helper?.root ? `store ${helper.root}` : undefined}>
          <span className={`badge ${tone}`}>{helper?.state === 'connected' ? 'Helper connected' : helper?.state === 'connecting' ? 'Connecting' : helper ? 'Helper unavailable' : 'Checking helper'}</span>
        </div>
        {helper?.version && (
          <span className="small">
            berthd {helper.version}
            {helper.cgroupLayout ? ` · cgroup ${helper.cgroupLayout === 'legacy' || helper.cgroupLayout === 'hybrid' ? 'v1' : 'v2'}` : ''}
          </span>
        )}
      </div>
    </nav>
  );
}

function Dialogs() {
  const dialog = useBerth((s) => s.dialog);
  const openDialog = useBerth((s) => s.openDialog);
  const close = (): void => openDialog(null);
  if (!dialog) return null;
  if (dialog.kind === 'run') return <RunDialog initialImage={dialog.image} onClose={close} />;
  if (dialog.kind === 'pull') return <PullDialog onClose={close} />;
  if (dialog.kind === 'import') return <ImportDialog onClose={close} />;
  return (
    <Dialog title="Keyboard shortcuts" onClose={close} size="narrow">
      <dl className="shortcut-list">
        {SHORTCUTS.map(([k, what]) => (
          <div key={k} style={{ display: 'contents' }}>
            <dt>
              <kbd>{k}</kbd>
            </dt>
            <dd>{what}</dd>
          </div>
        ))}
      </dl>
    </Dialog>
  );
}

export function App() {
  const connect = useBerth((s) => s.connect);
  const route = useBerth((s) => s.route);
  useEffect(() => connect(), [connect]);

  useEffect(() => {
    const onKey = (e: KeyboardEvent): void => {
      if (e.defaultPrevented || e.ctrlKey || e.metaKey || e.altKey) return;
      const s = useBerth.getState();
      // Esc inside a terminal belongs to the shell (vi, less, readline), not to navigation.
      if (e.key === 'Escape' && !s.dialog && !(e.target as HTMLElement | null)?.closest?.('.xterm')) {
        if (s.route.view === 'container') s.navigate({ view: 'containers' });
        else if (s.route.view === 'image') s.navigate({ view: 'images' });
        return;
      }
      if (s.dialog || isTyping(e.target)) return;
      const helperOk = s.helper?.state === 'connected';
      const k = e.key.toLowerCase();
      if (k === 'n' && helperOk) s.openDialog({ kind: 'run' });
      else if (k === 'p' && helperOk) {
        s.navigate({ view: 'images' });
        s.openDialog({ kind: 'pull' });
      } else if (k === 'i' && helperOk) {
        s.navigate({ view: 'images' });
        s.openDialog({ kind: 'import' });
      } else if (k === '1') s.navigate({ view: 'containers' });
      else if (k === '2') s.navigate({ view: 'images' });
      else if (k === '3') s.navigate({ view: 'networks' });
      else if (k === '4') s.navigate({ view: 'volumes' });
      else if (k === '?') s.openDialog({ kind: 'shortcuts' });
      else if (k === '/') {
        const el = document.getElementById('global-search');
        if (el) el.focus();
        else return;
      } else return;
      e.preventDefault();
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, []);

  return (
    <div className="app">
      <Sidebar />
      <main className="main">
        <HelperBanner />
        {route.view === 'containers' && <ContainersView />}
        {route.view === 'container' && <ContainerDetail key={route.id} id={route.id} tab={route.tab} />}
        {route.view === 'images' && <ImagesView />}
        {route.view === 'image' && <ImageDetail key={route.id} id={route.id} />}
        {route.view === 'networks' && <NetworksView />}
        {route.view === 'volumes' && <VolumesView />}
      </main>
      <Dialogs />
      <Notices />
    </div>
  );
}
