// Network: the container's network namespace beside the host's — its eth0 and the veth
// end on the bridge it is paired with, lo, addresses and routes on each side — and the
// published ports as links.
import { useEffect, useState, type JSX } from 'react';

import type { ContainerInfo, ContainerInterfaces, InterfaceInfo, RouteInfo } from '../../../../electron/core/protocol';
import { api } from '../../berth';
import { Empty, errorText, Loading } from '../../components/common';
import { NetIcon } from '../../components/Icons';
import { formatBytes } from '../../lib/fmt';
import { formatAddress, hostInterfacesShown, namespaceSentence, portText, portUrl, vethPairs, type VethPair } from '../../lib/net';

/** container.interfaces, read again when the container starts or stops and on demand. */
function useInterfaces(c: ContainerInfo): { ifs: ContainerInterfaces | null; error: string | null; reload(): void } {
  const [ifs, setIfs] = useState<ContainerInterfaces | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [seq, setSeq] = useState(0);
  const key = `${c.id}|${c.status}|${c.startedAt}`;
  useEffect(() => {
    let live = true;
    api.containerInterfaces(c.id).then(
      (r) => live && (setIfs(r), setError(null)),
      (e: unknown) => live && setError(errorText(e)),
    );
    return () => {
      live = false;
    };
  }, [key, seq, c.id]);
  return { ifs, error, reload: () => setSeq((n) => n + 1) };
}

/** Text that may break only after the given characters (IPv6 colons, a peer's "@"). */
function breakAfter(text: string, chars: string) {
  const parts: (string | JSX.Element)[] = [];
  let cur = '';
  for (const ch of text) {
    cur += ch;
    if (chars.includes(ch)) {
      parts.push(cur, <wbr key={parts.length} />);
      cur = '';
    }
  }
  parts.push(cur);
  return parts;
}

function addrList(i: InterfaceInfo) {
  const v4 = i.addresses.filter((a) => a.family === 'inet');
  const v6 = i.addresses.filter((a) => a.family === 'inet6');
  if (v4.length + v6.length === 0) return <span className="muted">no address</span>;
  return (
    <>
      {v4.map((a) => (
        <div key={a.address}>{formatAddress(a)}</div>
      ))}
      {v6.map((a) => (
        <div key={a.address} className="muted v6">
          {breakAfter(formatAddress(a), ':')}
        </div>
      ))}
    </>
  );
}

function IfaceTable({ list, paired, testId }: { list: InterfaceInfo[]; paired: Set<string>; testId: string }) {
  return (
    <table className="table iface-table" data-testid={testId}>
      <thead>
        <tr>
          <th>Interface</th>
          <th>Addresses</th>
          <th>Link</th>
          <th className="right">Traffic</th>
        </tr>
      </thead>
      <tbody>
        {list.map((i) => (
          <tr key={i.name} className={paired.has(i.name) ? 'paired' : ''} data-testid="iface" data-name={i.name}>
            <td>
              <div className="name-cell">
                <span className="name mono">{i.name}</span>
                <span className="id nowrap">
                  {i.kind} · {i.up ? 'up' : 'down'} · mtu {i.mtu}
                </span>
                {i.mac && <span className="id nowrap">{i.mac}</span>}
              </div>
            </td>
            <td className="mono small">{addrList(i)}</td>
            <td className="small">
              {i.peer && (
                <div>
                  peer <span className="mono">{breakAfter(i.peer, '@')}</span>
                </div>
              )}
              {i.master && (
                <div>
                  port of <span className="mono">{i.master}</span>
                </div>
              )}
              {!i.peer && !i.master && <span className="muted">–</span>}
            </td>
            <td className="num right small nowrap">
              <div title="received">↓ {formatBytes(i.rxBytes)}</div>
              <div title="sent" className="muted">
                ↑ {formatBytes(i.txBytes)}
              </div>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function Routes({ routes }: { routes: RouteInfo[] }) {
  if (routes.length === 0) return <p className="muted small pad">No routes: nothing outside this namespace is reachable.</p>;
  return (
    <table className="table route-table">
      <thead>
        <tr>
          <th>Destination</th>
          <th>Via</th>
          <th>Device</th>
        </tr>
      </thead>
      <tbody>
        {routes.map((r) => (
          <tr key={`${r.destination}|${r.device}|${r.gateway ?? ''}`}>
            <td className="mono">{r.destination}</td>
            <td className="mono">{r.gateway ?? <span className="muted">direct</span>}</td>
            <td className="mono">{r.device}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** eth0 ⇄ vethXXXX → berth0, drawn as three boxes. */
function PairDiagram({ p }: { p: VethPair }) {
  const v4 = (i: InterfaceInfo | null): string => {
    const a = i?.addresses.find((x) => x.family === 'inet');
    return a ? formatAddress(a) : '';
  };
  return (
    <div className="veth-diagram" data-testid="veth-pair">
      <div className="ns-box inside">
        <div className="ns-label">container namespace</div>
        <div className="ifbox">
          <strong className="mono">{p.inside.name}</strong>
          <span className="mono small">{v4(p.inside) || 'no address'}</span>
        </div>
      </div>
      <div className="wire" aria-label="veth pair">
        <span>veth pair</span>
      </div>
      <div className="ns-box outside">
        <div className="ns-label">host namespace</div>
        <div className="row" style={{ gap: 'var(--s2)' }}>
          <div className="ifbox">
            <strong className="mono">{p.outside?.name ?? p.inside.peer ?? '?'}</strong>
            <span className="small muted">{!p.outside ? 'not seen' : p.bridge ? 'bridge port, no IPv4' : 'host end'}</span>
          </div>
          {p.bridge && (
            <>
              <span className="muted small">port of</span>
              <div className="ifbox bridge">
                <strong className="mono">{p.bridge.name}</strong>
                <span className="mono small">{v4(p.bridge) || 'bridge'}</span>
              </div>
            </>
          )}
        </div>
      </div>
    </div>
  );
}

export function Network({ c }: { c: ContainerInfo }) {
  const { ifs, error, reload } = useInterfaces(c);
  const running = c.status === 'running';
  const isolated = ifs?.isolated ?? c.network.mode !== 'host';
  const pairs = ifs ? vethPairs(ifs) : [];
  const paired = new Set(pairs.flatMap((p) => [p.inside.name, ...(p.outside ? [p.outside.name] : []), ...(p.bridge ? [p.bridge.name] : [])]));
  const host = ifs ? hostInterfacesShown(ifs) : null;
  const netName = c.network.mode === 'bridge' ? (c.network.name ?? 'bridge') : c.network.mode;

  return (
    <div className="net-tab">
      <div className="net-intro">
        <span className="badge info plain">
          <NetIcon size={12} /> {netName}
        </span>
        {c.network.ip && (
          <span className="mono small">
            {c.network.ip}/{c.network.prefixLen} via {c.network.gateway}
          </span>
        )}
        <span className="spacer" />
        <button type="button" className="btn small" onClick={reload} title="Read the interfaces and counters again">
          Refresh
        </button>
      </div>
      <p className="muted lead" data-testid="netns-sentence">
        {namespaceSentence(c, isolated)}
      </p>

      {c.ports.length > 0 && (
        <section className="panel" style={{ marginBottom: 'var(--s4)' }}>
          <div className="panel-head">
            <h2>Published ports</h2>
            <span className="muted small">the helper listens on the host side and forwards to {c.network.ip ?? 'the container'}</span>
          </div>
          <div className="panel-body port-links" data-testid="published-ports">
            {c.ports.map((p) => {
              const url = portUrl(p);
              return (
                <div key={`${p.hostIp}:${p.hostPort}/${p.protocol}`} className="port-link">
                  {url && running ? (
                    <a href={url} target="_blank" rel="noreferrer noopener" className="mono">
                      {url}
                    </a>
                  ) : (
                    <span className="mono">{url ?? `${p.hostIp}:${p.hostPort}`}</span>
                  )}
                  <span className="muted small">{portText(p)}</span>
                </div>
              );
            })}
          </div>
        </section>
      )}

      {error && !ifs && <div className="inline-error">Could not read the interfaces: {error}</div>}
      {!ifs && !error && <Loading what="interfaces" />}
      {ifs && (
        <>
          {pairs.map((p) => (
            <PairDiagram key={p.inside.name} p={p} />
          ))}
          <div className="net-sides">
            <section className="panel">
              <div className="panel-head">
                <h2>Inside the container</h2>
                <span className="muted small">{isolated ? 'its own network namespace' : 'the host’s namespace'}</span>
              </div>
              {!running || ifs.container.interfaces.length === 0 ? (
                <Empty title={running ? 'No interfaces reported' : 'Not running'}>
                  {running ? 'The helper reported no interfaces for this container.' : 'A network namespace exists only while the container runs; start it to see its interfaces.'}
                </Empty>
              ) : (
                <>
                  <IfaceTable list={ifs.container.interfaces} paired={paired} testId="container-ifaces" />
                  <h3 className="section-title pad">Routes</h3>
                  <Routes routes={ifs.container.routes} />
                </>
              )}
            </section>
            <section className="panel">
              <div className="panel-head">
                <h2>On the host</h2>
                <span className="muted small">the helper’s network namespace</span>
              </div>
              {host && <IfaceTable list={host.shown} paired={paired} testId="host-ifaces" />}
              {host && host.otherVeths > 0 && (
                <p className="muted small pad">
                  {host.otherVeths === 1 ? 'One more veth end, another container’s, is not listed.' : `${host.otherVeths} more veth ends, other containers’, are not listed.`}
                </p>
              )}
              <h3 className="section-title pad">Routes</h3>
              <Routes routes={ifs.host.routes} />
            </section>
          </div>
        </>
      )}
    </div>
  );
}
