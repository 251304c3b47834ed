// The Run dialog: `berth run` as a form. The image, name and command are always in view;
// everything else sits in tabs (general, network, storage, resources, isolation) that
// say what they hold, so the common case stays one field.
import { useMemo, useRef, useState, type FormEvent, type KeyboardEvent } from 'react';

import type { ContainerSpec, NamespaceName, RestartPolicyName } from '../../../electron/core/protocol';
import { api, useBerth } from '../berth';
import { errorText } from '../components/common';
import { Dialog } from '../components/Dialog';
import { CloseIcon, PlusIcon } from '../components/Icons';
import { BUILTIN_NETWORKS, userNetworkMeans, type NetworkChoice } from '../lib/net';
import { DEFAULT_NAMESPACES, emptyMountRow, emptyPortRow, RESTART_TEXT, specFromForm, type MountRow, type PortRow, type RunForm } from '../lib/runspec';
import { NAMESPACE_TEXT } from '../lib/status';

type RunTab = 'general' | 'network' | 'storage' | 'resources' | 'isolation';
const RUN_TABS: readonly RunTab[] = ['general', 'network', 'storage', 'resources', 'isolation'];
const RUN_TAB_LABEL: Record<RunTab, string> = { general: 'General', network: 'Network', storage: 'Storage', resources: 'Resources', isolation: 'Isolation' };

const RESTART_LABEL: Record<RestartPolicyName, string> = { no: 'Never', 'on-failure': 'On failure', always: 'Always', 'unless-stopped': 'Unless stopped' };

/** What a tab holds, shown beside its label so settings in a closed tab are not forgotten. */
function tabNote(t: RunTab, f: RunForm): string {
  if (t === 'network') {
    const ports = f.ports.filter((p) => p.containerPort.trim()).length;
    return [f.network === 'bridge' ? '' : f.network, ports ? `${ports} ${ports === 1 ? 'port' : 'ports'}` : ''].filter(Boolean).join(' · ');
  }
  if (t === 'storage') {
    const n = f.mounts.filter((m) => m.target.trim()).length;
    return n ? String(n) : '';
  }
  if (t === 'resources') return [f.memory, f.cpus, f.pids].filter((x) => x.trim()).length ? 'limited' : '';
  if (t === 'isolation') {
    const off = NAMESPACE_TEXT.filter((n) => n.name !== 'net' && f.namespaces[n.name] !== DEFAULT_NAMESPACES[n.name]).length;
    return off ? 'changed' : '';
  }
  return f.restart.policy !== 'no' ? 'restart' : '';
}

export function RunDialog({ initialImage, onClose }: { initialImage?: string; onClose(): void }) {
  const images = useBerth((s) => s.images);
  const networks = useBerth((s) => s.networks);
  const volumes = useBerth((s) => s.volumes);
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
    network: 'bridge',
    ports: [],
    mounts: [],
    restart: { policy: 'no', maxRetries: '' },
  });
  const [tab, setTab] = useState<RunTab>('general');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const tabRefs = useRef<Partial<Record<RunTab, HTMLButtonElement | null>>>({});
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

  const onTabKey = (e: KeyboardEvent<HTMLDivElement>): void => {
    const i = RUN_TABS.indexOf(tab);
    let next = -1;
    if (e.key === 'ArrowRight') next = (i + 1) % RUN_TABS.length;
    else if (e.key === 'ArrowLeft') next = (i - 1 + RUN_TABS.length) % RUN_TABS.length;
    else if (e.key === 'Home') next = 0;
    else if (e.key === 'End') next = RUN_TABS.length - 1;
    if (next < 0) return;
    e.preventDefault();
    setTab(RUN_TABS[next]);
    tabRefs.current[RUN_TABS[next]]?.focus();
  };

  // The net namespace toggle and the network choice are one decision: host is "no net namespace".
  const setNetwork = (network: string): void => setF((o) => ({ ...o, network, namespaces: { ...o.namespaces, net: network !== 'host' } }));
  const setNamespace = (name: NamespaceName, on: boolean): void => {
    if (name === 'net') setF((o) => ({ ...o, network: on ? (o.network === 'host' ? 'bridge' : o.network) : 'host', namespaces: { ...o.namespaces, net: on } }));
    else setF((o) => ({ ...o, namespaces: { ...o.namespaces, [name]: on } }));
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
      <form id="run-form" onSubmit={(e) => void submit(e)} className="run-form">
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

        <div className="tabs run-tabs" role="tablist" aria-label="More settings" onKeyDown={onTabKey}>
          {RUN_TABS.map((t) => {
            const note = tabNote(t, f);
            return (
              <button
                key={t}
                ref={(el) => {
                  tabRefs.current[t] = el;
                }}
                type="button"
                role="tab"
                className="tab"
                id={`run-tab-${t}`}
                aria-selected={tab === t}
                aria-controls="run-tab-panel"
                tabIndex={tab === t ? 0 : -1}
                onClick={() => setTab(t)}
              >
                {RUN_TAB_LABEL[t]}
                {note && <span className="tab-note">{note}</span>}
              </button>
            );
          })}
        </div>
        <div className="run-tab-panel" id="run-tab-panel" role="tabpanel" aria-labelledby={`run-tab-${tab}`}>
          {tab === 'general' && <GeneralTab f={f} up={up} />}
          {tab === 'network' && (
            <NetworkTab
              f={f}
              choices={[
                ...BUILTIN_NETWORKS,
                ...(networks ?? []).filter((n) => !n.builtin).map((n): NetworkChoice => ({ value: n.name, label: n.name, means: userNetworkMeans(n.name, n.subnet) })),
              ]}
              setNetwork={setNetwork}
              setPorts={(ports) => up('ports', ports)}
            />
          )}
          {tab === 'storage' && <StorageTab mounts={f.mounts} volumes={(volumes ?? []).map((v) => v.name)} setMounts={(m) => up('mounts', m)} />}
          {tab === 'resources' && (
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
              <p className="hint-text" style={{ gridColumn: '1 / -1' }}>
                Limits are written to the container’s own cgroup: memory in bytes (<code>64m</code>, <code>1g</code>), CPU as a share of one core per second, PIDs as the most processes it may have at once.
              </p>
            </div>
          )}
          {tab === 'isolation' && (
            <fieldset className="group bare">
              <legend>Namespaces — what the container gets its own copy of</legend>
              <div className="ns-toggles">
                {NAMESPACE_TEXT.map((ns) => (
                  <label key={ns.name} className="check ns-toggle">
                    <input type="checkbox" name={`ns-${ns.name}`} checked={f.namespaces[ns.name]} onChange={(e) => setNamespace(ns.name, e.target.checked)} />
                    <span>
                      <strong>{ns.name}</strong> {ns.title === ns.name ? '' : <span className="muted">· {ns.title}</span>}
                      <span className="hint">{ns.name === 'net' ? `${ns.isolates} Off is the host network (see Network).` : ns.isolates}</span>
                    </span>
                  </label>
                ))}
              </div>
            </fieldset>
          )}
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

function GeneralTab({ f, up }: { f: RunForm; up<K extends keyof RunForm>(k: K, v: RunForm[K]): void }) {
  return (
    <>
      <label className="field">
        <span>
          Environment <span className="hint">one KEY=VALUE per line</span>
        </span>
        <textarea className="input" rows={2} value={f.env} onChange={(e) => up('env', e.target.value)} name="env" placeholder="GREETING=hello" />
      </label>
      <div className="grid-2">
        <div className="field">
          <label htmlFor="run-restart">Restart policy</label>
          <div className="row" style={{ gap: 'var(--s2)' }}>
            <select id="run-restart" className="input" name="restart" value={f.restart.policy} onChange={(e) => up('restart', { ...f.restart, policy: e.target.value as RestartPolicyName })}>
              {(Object.keys(RESTART_LABEL) as RestartPolicyName[]).map((p) => (
                <option key={p} value={p}>
                  {RESTART_LABEL[p]}
                </option>
              ))}
            </select>
            {f.restart.policy === 'on-failure' && (
              <input
                className="input mono"
                style={{ width: 150 }}
                name="maxRetries"
                aria-label="Max retries"
                placeholder="max retries: ∞"
                inputMode="numeric"
                value={f.restart.maxRetries}
                onChange={(e) => up('restart', { ...f.restart, maxRetries: e.target.value })}
              />
            )}
          </div>
          <span className="hint">{RESTART_TEXT[f.restart.policy]}</span>
        </div>
        <label className="field">
          <span>
            Hostname <span className="hint">optional</span>
          </span>
          <input className="input mono" value={f.hostname} onChange={(e) => up('hostname', e.target.value)} name="hostname" placeholder="the short id" />
        </label>
      </div>
      <fieldset className="group bare">
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
    </>
  );
}

function NetworkTab({ f, choices, setNetwork, setPorts }: { f: RunForm; choices: NetworkChoice[]; setNetwork(n: string): void; setPorts(p: PortRow[]): void }) {
  const portsOk = f.network !== 'host' && f.network !== 'none';
  const setRow = (i: number, r: Partial<PortRow>): void => setPorts(f.ports.map((p, j) => (j === i ? { ...p, ...r } : p)));
  return (
    <>
      <fieldset className="group bare">
        <legend>Network — where its network namespace is plugged in</legend>
        <div className="choice-list" role="radiogroup" aria-label="Network">
          {choices.map((c) => (
            <label key={c.value} className={`choice ${f.network === c.value ? 'on' : ''}`}>
              <input type="radio" name="network" value={c.value} checked={f.network === c.value} onChange={() => setNetwork(c.value)} />
              <span>
                <strong className={c.value === 'bridge' || c.value === 'none' || c.value === 'host' ? '' : 'mono'}>{c.label}</strong>
                <span className="hint">{c.means}</span>
              </span>
            </label>
          ))}
        </div>
      </fieldset>
      <fieldset className="group bare" disabled={!portsOk}>
        <legend>Published ports</legend>
        {!portsOk ? (
          <p className="hint-text">
            {f.network === 'host' ? 'On the host network its servers already listen on the host’s ports: nothing to publish.' : 'The “none” network has no interface a port could be forwarded to.'}
          </p>
        ) : (
          <>
            <p className="hint-text">
              The helper listens on a host address and port and forwards each connection to the container. <code>127.0.0.1</code> keeps it to this machine; <code>0.0.0.0</code> opens it to the network.
            </p>
            {f.ports.length > 0 && (
              <div className="rows-table ports" role="group" aria-label="Published ports">
                <span className="rows-head">Host address</span>
                <span className="rows-head">Host port</span>
                <span className="rows-head" />
                <span className="rows-head">Container port</span>
                <span className="rows-head">Protocol</span>
                <span className="rows-head" />
                {f.ports.map((p, i) => (
                  <PortRowFields key={i} i={i} p={p} setRow={setRow} remove={() => setPorts(f.ports.filter((_, j) => j !== i))} />
                ))}
              </div>
            )}
            <div>
              <button type="button" className="btn small" onClick={() => setPorts([...f.ports, emptyPortRow()])} data-testid="add-port">
                <PlusIcon /> Publish a port
              </button>
            </div>
          </>
        )}
      </fieldset>
    </>
  );
}

function PortRowFields({ i, p, setRow, remove }: { i: number; p: PortRow; setRow(i: number, r: Partial<PortRow>): void; remove(): void }) {
  return (
    <>
      <input className="input mono" name={`port-${i}-hostIp`} aria-label={`Port ${i + 1}: host address`} value={p.hostIp} onChange={(e) => setRow(i, { hostIp: e.target.value })} placeholder="127.0.0.1" />
      <input className="input mono" name={`port-${i}-hostPort`} aria-label={`Port ${i + 1}: host port`} value={p.hostPort} onChange={(e) => setRow(i, { hostPort: e.target.value })} placeholder="same" inputMode="numeric" />
      <span className="muted arrow" aria-hidden="true">
        →
      </span>
      <input className="input mono" name={`port-${i}-containerPort`} aria-label={`Port ${i + 1}: container port`} value={p.containerPort} onChange={(e) => setRow(i, { containerPort: e.target.value })} placeholder="80" inputMode="numeric" />
      <select className="input" name={`port-${i}-protocol`} aria-label={`Port ${i + 1}: protocol`} value={p.protocol} onChange={(e) => setRow(i, { protocol: e.target.value as PortRow['protocol'] })}>
        <option value="tcp">tcp</option>
        <option value="udp">udp</option>
      </select>
      <button type="button" className="btn ghost icon small" aria-label={`Remove port ${i + 1}`} onClick={remove}>
        <CloseIcon />
      </button>
    </>
  );
}

const MOUNT_HELP: Record<MountRow['type'], string> = {
  bind: 'a directory or file of the host, seen at a path inside',
  volume: 'a named directory the helper keeps; it outlives the container (no name: an anonymous volume, a new one made for this container)',
  tmpfs: 'memory-backed scratch space, gone when the container stops',
};

function StorageTab({ mounts, volumes, setMounts }: { mounts: MountRow[]; volumes: string[]; setMounts(m: MountRow[]): void }) {
  const setRow = (i: number, r: Partial<MountRow>): void => setMounts(mounts.map((m, j) => (j === i ? { ...m, ...r } : m)));
  return (
    <fieldset className="group bare">
      <legend>Mounts — what is mounted over the image’s files</legend>
      <ul className="plain-list hint-text">
        {(Object.keys(MOUNT_HELP) as MountRow['type'][]).map((t) => (
          <li key={t}>
            <strong>{t === 'bind' ? 'Bind' : t === 'volume' ? 'Volume' : 'tmpfs'}</strong>: {MOUNT_HELP[t]}.
          </li>
        ))}
      </ul>
      {mounts.length > 0 && (
        <div className="rows-table mounts" role="group" aria-label="Mounts">
          <span className="rows-head">Type</span>
          <span className="rows-head">Source</span>
          <span className="rows-head" />
          <span className="rows-head">Path in the container</span>
          <span className="rows-head">Read-only</span>
          <span className="rows-head" />
          {mounts.map((m, i) => {
            const isNew = m.type === 'volume' && m.source.trim() !== '' && !volumes.includes(m.source.trim());
            return (
              <div key={i} style={{ display: 'contents' }} data-testid="mount-row">
                <select className="input" name={`mount-${i}-type`} aria-label={`Mount ${i + 1}: type`} value={m.type} onChange={(e) => setRow(i, { type: e.target.value as MountRow['type'], source: '' })}>
                  <option value="bind">Bind</option>
                  <option value="volume">Volume</option>
                  <option value="tmpfs">tmpfs</option>
                </select>
                <div className="source-cell">
                  {m.type === 'bind' && (
                    <input className="input mono" name={`mount-${i}-source`} aria-label={`Mount ${i + 1}: host path`} value={m.source} onChange={(e) => setRow(i, { source: e.target.value })} placeholder="/home/me/site" />
                  )}
                  {m.type === 'volume' && (
                    <>
                      <input className="input mono" list="volume-names" name={`mount-${i}-source`} aria-label={`Mount ${i + 1}: volume`} value={m.source} onChange={(e) => setRow(i, { source: e.target.value })} placeholder="empty: anonymous" />
                      {isNew && (
                        <span className="tag" title="A volume of this name is created when the container starts">
                          new
                        </span>
                      )}
                      {m.source.trim() === '' && m.target.trim() !== '' && (
                        <span className="tag" title="A new volume with a generated name, made for this container; berth rm -v or Remove unused in Volumes deletes it">
                          anonymous
                        </span>
                      )}
                    </>
                  )}
                  {m.type === 'tmpfs' && (
                    <input className="input mono" name={`mount-${i}-size`} aria-label={`Mount ${i + 1}: size`} value={m.size} onChange={(e) => setRow(i, { size: e.target.value })} placeholder="size: half of RAM, e.g. 64m" />
                  )}
                </div>
                <span className="muted arrow" aria-hidden="true">
                  →
                </span>
                <input className="input mono" name={`mount-${i}-target`} aria-label={`Mount ${i + 1}: path in the container`} value={m.target} onChange={(e) => setRow(i, { target: e.target.value })} placeholder={m.type === 'tmpfs' ? '/tmp' : '/data'} />
                <label className="check center">
                  <input type="checkbox" name={`mount-${i}-readOnly`} aria-label={`Mount ${i + 1}: read-only`} checked={m.readOnly} onChange={(e) => setRow(i, { readOnly: e.target.checked })} />
                </label>
                <button type="button" className="btn ghost icon small" aria-label={`Remove mount ${i + 1}`} onClick={() => setMounts(mounts.filter((_, j) => j !== i))}>
                  <CloseIcon />
                </button>
              </div>
            );
          })}
        </div>
      )}
      <datalist id="volume-names">
        {volumes.map((v) => (
          <option key={v} value={v} />
        ))}
      </datalist>
      <div className="row" style={{ gap: 'var(--s2)' }}>
        <button type="button" className="btn small" onClick={() => setMounts([...mounts, emptyMountRow('bind')])} data-testid="add-bind">
          <PlusIcon /> Bind mount
        </button>
        <button type="button" className="btn small" onClick={() => setMounts([...mounts, emptyMountRow('volume')])} data-testid="add-volume">
          <PlusIcon /> Volume
        </button>
        <button type="button" className="btn small" onClick={() => setMounts([...mounts, emptyMountRow('tmpfs')])} data-testid="add-tmpfs">
          <PlusIcon /> tmpfs
        </button>
      </div>
    </fieldset>
  );
}
