// Networks: each one a Linux bridge with a subnet; list, create, remove (refused while
// a container names it, and said so before asking).
import { useState, type FormEvent } from 'react';

import type { NetworkCreateParams, NetworkInfo } from '../../../electron/core/protocol';
import { api, useBerth } from '../berth';
import { Empty, errorText } from '../components/common';
import { Confirm, Dialog } from '../components/Dialog';
import { NetIcon, PlusIcon, TrashIcon } from '../components/Icons';
import { ContainerChips, ListBody } from '../components/lists';
import { ago, shortId } from '../lib/fmt';
import { networkParams } from '../lib/net';
import { useAction } from '../lib/useAction';
import { rowKeys } from './ContainersView';

/** The containers that name a network: berthd's list, or the container list for those not running. */
function usersOf(n: NetworkInfo, containers: readonly { id: string; name: string; network: { mode: string; name: string | null } }[]): { id: string; name: string }[] {
  const byId = new Map(n.containers.map((c) => [c.id, c]));
  for (const c of containers) if (c.network.mode === 'bridge' && c.network.name === n.name && !byId.has(c.id)) byId.set(c.id, { id: c.id, name: c.name, ip: null, mac: null });
  return [...byId.values()];
}

function NetworkRow({ n, now, users, onRemove }: { n: NetworkInfo; now: number; users: { id: string; name: string }[]; onRemove(n: NetworkInfo): void }) {
  const ips = new Map(n.containers.map((c) => [c.id, c.ip]));
  return (
    <tr tabIndex={0} onKeyDown={(e) => rowKeys(e, () => undefined, n.builtin ? undefined : () => onRemove(n))} data-testid="network-row" data-name={n.name}>
      <td>
        <div className="name-cell">
          <span className="name mono">
            {n.name} {n.builtin && <span className="tag">default</span>}
          </span>
          <span className="id">{shortId(n.id)}</span>
        </div>
      </td>
      <td className="mono">{n.subnet}</td>
      <td className="mono">{n.gateway}</td>
      <td>
        <div className="row" style={{ gap: 'var(--s2)' }} title="The bridge exists only while a container on the network runs">
          <span className="mono">{n.bridge}</span>
          <span className={`badge ${n.active ? 'ok' : ''}`}>{n.active ? 'up' : 'idle'}</span>
        </div>
      </td>
      <td>
        <ContainerChips users={users} none="none" tab="network" extra={(id) => ips.get(id) && <span className="mono muted"> {ips.get(id)}</span>} />
      </td>
      <td className="muted">{ago(n.created, now) || '–'}</td>
      <td className="actions">
        <button
          type="button"
          className="btn small danger"
          onClick={() => onRemove(n)}
          disabled={n.builtin}
          aria-label={`Remove network ${n.name}`}
          title={n.builtin ? 'The default network cannot be removed' : 'Remove'}
        >
          <TrashIcon />
        </button>
      </td>
    </tr>
  );
}

function RemoveNetwork({ n, users, onDone }: { n: NetworkInfo; users: { id: string; name: string }[]; onDone(): void }) {
  const notify = useBerth((s) => s.notify);
  const { busy, error, run } = useAction();
  const remove = (): Promise<void> =>
    run(async () => {
      await api.removeNetwork(n.id);
      notify('success', `Removed network ${n.name}`);
      onDone();
    });
  const inUse = users.length > 0;
  return (
    <Confirm title={`Remove network ${n.name}?`} confirmLabel="Remove" danger busy={busy} disabled={inUse} error={error} onCancel={onDone} onConfirm={() => void remove()}>
      {inUse ? (
        <div className="inline-error" data-testid="network-in-use">
          <strong>It is in use.</strong> {users.length === 1 ? 'The container' : `${users.length} containers`} {users.map((u) => u.name).join(', ')} {users.length === 1 ? 'names' : 'name'} this network, running or not. Remove {users.length === 1 ? 'it' : 'them'} first, then the network.
        </div>
      ) : (
        <p style={{ margin: 0 }}>
          The network’s record goes, and with it the subnet <code>{n.subnet}</code>. No container uses it.
        </p>
      )}
    </Confirm>
  );
}

export function CreateNetworkDialog({ onClose }: { onClose(): void }) {
  const notify = useBerth((s) => s.notify);
  const [f, setF] = useState({ name: '', subnet: '', gateway: '' });
  const { busy, error, setError, run } = useAction();
  const submit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    let params: NetworkCreateParams;
    try {
      params = networkParams(f);
    } catch (err) {
      setError(errorText(err));
      return;
    }
    await run(async () => {
      const n = await api.createNetwork(params);
      notify('success', `Created network ${n.name} (${n.subnet})`);
      onClose();
    });
  };
  return (
    <Dialog
      title="Create a network"
      onClose={onClose}
      testId="network-dialog"
      footer={
        <>
          <button type="button" className="btn" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" form="network-form" className="btn primary" disabled={busy}>
            {busy && <span className="spinner" />} Create
          </button>
        </>
      }
    >
      <form id="network-form" onSubmit={(e) => void submit(e)} className="run-form">
        <p className="hint-text" style={{ margin: 0 }}>
          A network is a Linux bridge with a subnet of its own. Containers on it get an address from the subnet, reach each other by name, and reach the world through NAT. The bridge is made when its first container starts.
        </p>
        <label className="field">
          <span>Name</span>
          <input className="input mono" name="name" data-autofocus value={f.name} onChange={(e) => setF({ ...f, name: e.target.value })} placeholder="lab" required />
        </label>
        <div className="grid-2">
          <label className="field">
            <span>
              Subnet <span className="hint">optional</span>
            </span>
            <input className="input mono" name="subnet" value={f.subnet} onChange={(e) => setF({ ...f, subnet: e.target.value })} placeholder="next free /24 of 10.90.0.0/16" />
          </label>
          <label className="field">
            <span>
              Gateway <span className="hint">optional</span>
            </span>
            <input className="input mono" name="gateway" value={f.gateway} onChange={(e) => setF({ ...f, gateway: e.target.value })} placeholder="the subnet’s first address" />
          </label>
        </div>
        {error && (
          <div className="inline-error" role="alert">
            <strong>Could not create it:</strong> {error}
          </div>
        )}
      </form>
    </Dialog>
  );
}

export function NetworksView() {
  const networks = useBerth((s) => s.networks);
  const containers = useBerth((s) => s.containers);
  const now = useBerth((s) => s.now);
  const helperOk = useBerth((s) => s.helper?.state === 'connected');
  const helperDown = useBerth((s) => s.helper?.state === 'unavailable');
  const [creating, setCreating] = useState(false);
  const [removing, setRemoving] = useState<NetworkInfo | null>(null);
  const users = (n: NetworkInfo) => usersOf(n, containers ?? []);
  const active = (networks ?? []).filter((n) => n.active).length;
  const onlyBuiltin = networks !== null && networks.every((n) => n.builtin);

  return (
    <>
      <div className="page-head">
        <div>
          <h1>Networks</h1>
          <div className="sub num">{networks ? `${networks.length} ${networks.length === 1 ? 'network' : 'networks'} · ${active} with a bridge up` : helperDown ? 'Waiting for the helper' : 'Connecting…'}</div>
        </div>
        <div className="spacer" />
        <button type="button" className="btn primary" onClick={() => setCreating(true)} disabled={!helperOk} data-testid="create-network">
          <PlusIcon /> Create network
        </button>
      </div>
      <div className="content">
        <ListBody
          items={networks}
          what="networks"
          helperDown={helperDown}
          empty={
            <Empty icon={<NetIcon size={40} />} title="No networks reported">
              This helper reports no networks; it may be older than bridge networking. Containers still run with their own network namespace holding only loopback.
            </Empty>
          }
        >
            <div className="panel list-panel">
              <table className="table" aria-label="Networks">
                <thead>
                  <tr>
                    <th>Name</th>
                    <th>Subnet</th>
                    <th>Gateway</th>
                    <th>Bridge</th>
                    <th>Containers</th>
                    <th>Created</th>
                    <th className="actions">
                      <span className="sr-only">Actions</span>
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {(networks ?? []).map((n) => (
                    <NetworkRow key={n.id} n={n} now={now} users={users(n)} onRemove={setRemoving} />
                  ))}
                </tbody>
              </table>
            </div>
            {onlyBuiltin && (
              <div className="panel" style={{ marginTop: 'var(--s4)' }}>
                <Empty
                  icon={<NetIcon size={32} />}
                  title="Only the default network so far"
                  action={
                    <button type="button" className="btn" onClick={() => setCreating(true)} disabled={!helperOk}>
                      <PlusIcon /> Create a network
                    </button>
                  }
                >
                  Every container on <code>bridge</code> shares the <code>berth0</code> bridge. Create a network to give a group of containers a bridge and subnet of their own, where they reach each other by name; then pick it in the Run dialog’s Network tab.
                </Empty>
              </div>
            )}
        </ListBody>
      </div>
      {creating && <CreateNetworkDialog onClose={() => setCreating(false)} />}
      {removing && <RemoveNetwork n={removing} users={users(removing)} onDone={() => setRemoving(null)} />}
    </>
  );
}
