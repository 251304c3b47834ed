// The Run dialog: `berth run` as a form, with the namespace toggles explained.
import { useMemo, useState, type FormEvent } from 'react';

import type { ContainerSpec } from '../../../electron/core/protocol';
import { api, useBerth } from '../berth';
import { errorText } from '../components/common';
import { Dialog } from '../components/Dialog';
import { DEFAULT_NAMESPACES, specFromForm, type RunForm } from '../lib/runspec';
import { NAMESPACE_TEXT } from '../lib/status';

export function RunDialog({ initialImage, onClose }: { initialImage?: string; onClose(): void }) {
  const images = useBerth((s) => s.images);
  const navigate = useBerth((s) => s.navigate);
  const notify = useBerth((s) => s.notify);
  const refs = useMemo(() => (images ?? []).flatMap((i) => i.refs).sort(), [images]);
  const [f, setF] = useState<RunForm>({
    image: initialImage ?? (refs.includes('busybox:latest') ? 'busybox:latest' : (refs[0] ?? '')),
    command: '',
    name: '',
    env: '',
    memory: '',
    cpus: '',
    pids: '',
    hostname: '',
    namespaces: { ...DEFAULT_NAMESPACES },
    tty: true,
    interactive: true,
    autoRemove: false,
  });
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const up = <K extends keyof RunForm>(k: K, v: RunForm[K]): void => setF((o) => ({ ...o, [k]: v }));

  const submit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    let spec: ContainerSpec;
    try {
      spec = specFromForm(f);
    } catch (err) {
      setError(errorText(err));
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const c = await api.runContainer(spec);
      notify('success', `Started ${c.name}`);
      onClose();
      navigate({ view: 'container', id: c.id, tab: 'overview' });
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <Dialog
      title="Run a container"
      onClose={onClose}
      size="wide"
      testId="run-dialog"
      footer={
        <>
          <span className="left">
            <kbd>Esc</kbd> to cancel
          </span>
          <button type="button" className="btn" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" form="run-form" className="btn primary" disabled={busy}>
            {busy && <span className="spinner" />} Run
          </button>
        </>
      }
    >
      <form id="run-form" onSubmit={(e) => void submit(e)} style={{ display: 'flex', flexDirection: 'column', gap: 'var(--s4)' }}>
        <div className="grid-2">
          <label className="field">
            <span>Image</span>
            <input className="input mono" list="image-refs" value={f.image} onChange={(e) => up('image', e.target.value)} data-autofocus name="image" placeholder="busybox:latest" required />
            <datalist id="image-refs">
              {refs.map((r) => (
                <option key={r} value={r} />
              ))}
            </datalist>
          </label>
          <label className="field">
            <span>
              Name <span className="hint">optional</span>
            </span>
            <input className="input mono" value={f.name} onChange={(e) => up('name', e.target.value)} name="name" placeholder="picked for you" />
          </label>
        </div>
        <label className="field">
          <span>
            Command <span className="hint">empty: the image’s default command</span>
          </span>
          <input className="input mono" value={f.command} onChange={(e) => up('command', e.target.value)} name="command" placeholder="sh -c 'echo hello; sleep 600'" />
        </label>
        <label className="field">
          <span>
            Environment <span className="hint">one KEY=VALUE per line</span>
          </span>
          <textarea className="input" rows={2} value={f.env} onChange={(e) => up('env', e.target.value)} name="env" placeholder="GREETING=hello" />
        </label>
        <fieldset className="group">
          <legend>Limits (cgroup)</legend>
          <div className="grid-3">
            <label className="field">
              <span>Memory</span>
              <input className="input mono" value={f.memory} onChange={(e) => up('memory', e.target.value)} name="memory" placeholder="no limit, e.g. 64m" />
            </label>
            <label className="field">
              <span>CPUs</span>
              <input className="input mono" value={f.cpus} onChange={(e) => up('cpus', e.target.value)} name="cpus" placeholder="no limit, e.g. 0.5" inputMode="decimal" />
            </label>
            <label className="field">
              <span>PIDs</span>
              <input className="input mono" value={f.pids} onChange={(e) => up('pids', e.target.value)} name="pids" placeholder="no limit, e.g. 64" inputMode="numeric" />
            </label>
          </div>
        </fieldset>
        <fieldset className="group">
          <legend>Namespaces — what the container gets its own copy of</legend>
          <div className="ns-toggles">
            {NAMESPACE_TEXT.map((ns) => (
              <label key={ns.name} className="check ns-toggle">
                <input type="checkbox" name={`ns-${ns.name}`} checked={f.namespaces[ns.name]} onChange={(e) => up('namespaces', { ...f.namespaces, [ns.name]: e.target.checked })} />
                <span>
                  <strong>{ns.name}</strong> {ns.title === ns.name ? '' : <span className="muted">· {ns.title}</span>}
                  <span className="hint">{ns.isolates}</span>
                </span>
              </label>
            ))}
          </div>
        </fieldset>
        <div className="grid-2">
          <label className="field">
            <span>
              Hostname <span className="hint">optional</span>
            </span>
            <input className="input mono" value={f.hostname} onChange={(e) => up('hostname', e.target.value)} name="hostname" placeholder="the short id" />
          </label>
          <fieldset className="group" style={{ border: 0, padding: 0 }}>
            <legend className="sr-only">Options</legend>
            <label className="check">
              <input type="checkbox" name="tty" checked={f.tty} onChange={(e) => up('tty', e.target.checked)} />
              <span>
                Terminal (<code>-t</code>) <span className="hint">give it a PTY, as a shell expects</span>
              </span>
            </label>
            <label className="check">
              <input type="checkbox" name="interactive" checked={f.interactive} onChange={(e) => up('interactive', e.target.checked)} />
              <span>
                Keep stdin open (<code>-i</code>) <span className="hint">a shell then waits for input instead of exiting</span>
              </span>
            </label>
            <label className="check">
              <input type="checkbox" name="autoRemove" checked={f.autoRemove} onChange={(e) => up('autoRemove', e.target.checked)} />
              <span>
                Remove when it exits (<code>--rm</code>)
              </span>
            </label>
          </fieldset>
        </div>
        {error && (
          <div className="inline-error" role="alert">
            <strong>Could not run it:</strong> {error}
          </div>
        )}
      </form>
    </Dialog>
  );
}
