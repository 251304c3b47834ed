// Processes: the live PID tree, asked for once a second while this tab is visible
// (the one poll the renderer does: berthd has no process events).
import { useEffect, useState } from 'react';

import type { ContainerInfo, TopProcess } from '../../../../electron/core/protocol';
import { api } from '../../berth';
import { Empty, errorText, Loading } from '../../components/common';
import { formatBytes, quoteCommand } from '../../lib/fmt';
import { buildPidTree, treePrefix } from '../../lib/pidtree';

const STATE_TEXT: Record<string, string> = { R: 'running', S: 'sleeping', D: 'disk wait', Z: 'zombie', T: 'stopped', t: 'traced', I: 'idle', X: 'dead' };
export const TOP_INTERVAL_MS = 1000;

export function Processes({ c }: { c: ContainerInfo }) {
  const [procs, setProcs] = useState<TopProcess[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const running = c.status === 'running';

  useEffect(() => {
    if (!running) return;
    let live = true;
    let timer: ReturnType<typeof setTimeout> | null = null;
    const tick = async (): Promise<void> => {
      if (document.visibilityState === 'visible') {
        try {
          const p = await api.topContainer(c.id);
          if (!live) return;
          setProcs(p);
          setError(null);
        } catch (e) {
          if (live) setError(errorText(e));
        }
      }
      if (live) timer = setTimeout(() => void tick(), TOP_INTERVAL_MS);
    };
    void tick();
    return () => {
      live = false;
      if (timer) clearTimeout(timer);
    };
  }, [c.id, running]);

  if (!running) return <Empty title="Not running">Processes appear here while the container runs. Start it to see its PID tree.</Empty>;
  if (error && !procs) return <div className="inline-error">Could not list the processes: {error}</div>;
  if (!procs) return <Loading what="processes" />;
  const rows = buildPidTree(procs);
  return (
    <div>
      <p className="muted" style={{ marginTop: 0 }}>
        The same process has two numbers: the host’s PID, and the PID inside the container’s PID namespace (from <code>NSpid</code> in <code>/proc/PID/status</code>). Refreshed every second.
      </p>
      <div className="panel">
        <table className="table proc-table" aria-label="Processes">
          <thead>
            <tr>
              <th>Container PID</th>
              <th>Host PID</th>
              <th>Process tree</th>
              <th>State</th>
              <th className="right">Memory (RSS)</th>
              <th>UID</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((r) => (
              <tr key={r.process.pid} data-testid="proc-row" data-host-pid={r.process.pid} data-ctr-pid={r.containerPid}>
                <td className={`pid ${r.containerPid === 1 ? 'pid-one' : ''}`}>{r.containerPid}</td>
                <td className="pid">{r.process.pid}</td>
                <td className="cmd" title={quoteCommand(r.process.cmdline)}>
                  <span className="guide">{treePrefix(r)}</span>
                  {r.process.cmdline.length > 0 ? quoteCommand(r.process.cmdline) : `[${r.process.name}]`}
                </td>
                <td>
                  <span className={`badge plain ${r.process.state.startsWith('R') ? 'ok' : /^[ZD]/.test(r.process.state) ? 'warn' : ''}`}>{STATE_TEXT[r.process.state.charAt(0)] ?? r.process.state}</span>
                </td>
                <td className="right num">{formatBytes(r.process.rssBytes)}</td>
                <td className="num mono">{r.process.uid}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {error && <p className="muted small">Last refresh failed: {error}</p>}
    </div>
  );
}
