// Overview: configuration, state, exit code and reason, OOM.
import type { ContainerInfo } from '../../../../electron/core/protocol';
import { useBerth } from '../../berth';
import { formatBytes, formatCpu, quoteCommand, shortId, uptime } from '../../lib/fmt';
import { portText } from '../../lib/net';
import { containerState, exitExplanation, restartingText, restartPolicyText } from '../../lib/status';
import { RESTART_TEXT } from '../../lib/runspec';

function fmtTime(iso: string | null): string {
  if (!iso) return '–';
  const t = Date.parse(iso);
  return Number.isNaN(t) ? iso : new Date(t).toLocaleString();
}

interface SpecView {
  env?: string[];
  hostname?: string;
  workdir?: string;
  user?: string;
  tty?: boolean;
  stdin?: boolean;
  autoRemove?: boolean;
  limits?: { memory?: number | null; cpus?: number | null; cpuWeight?: number | null; pids?: number | null };
}

export function Overview({ c }: { c: ContainerInfo }) {
  const now = useBerth((s) => s.now);
  const spec = (c.spec ?? {}) as SpecView;
  const limits = spec.limits ?? {};
  const st = containerState(c);
  const exited = c.status === 'exited' || c.status === 'restarting';
  return (
    <div className="cards">
      <section className="panel">
        <div className="panel-head">
          <h2>State</h2>
          <span className={`badge ${st.tone}`}>{st.label}</span>
        </div>
        <div className="panel-body" style={{ display: 'flex', flexDirection: 'column', gap: 'var(--s3)' }}>
          {exited && (
            <div className={`exit-box ${c.exitCode !== 0 || c.oomKilled ? 'bad' : ''}`} data-testid="exit-box">
              <div>
                <strong>Exit code {c.exitCode ?? '?'}</strong>
                {c.exitSignal && <span className="muted"> · {c.exitSignal}</span>}
                {c.exitReason && <span className="muted"> · {c.exitReason}</span>}
                {c.oomKilled && <span className="badge bad" style={{ marginLeft: 8 }}>OOM killed</span>}
              </div>
              <div className="small" style={{ marginTop: 4 }}>
                {exitExplanation(c)}
              </div>
            </div>
          )}
          <dl className="kv">
            <dt>Status</dt>
            <dd>{c.status === 'running' ? `Running for ${uptime(c.startedAt, now)}` : c.status === 'created' ? 'Created, not started' : c.status === 'restarting' ? `Exited; ${restartingText(c, now).toLowerCase()}` : 'Exited'}</dd>
            <dt>Restart policy</dt>
            <dd data-testid="restart-policy" title={RESTART_TEXT[c.restart?.policy ?? 'no']}>
              {restartPolicyText(c.restart)}
            </dd>
            <dt>Created</dt>
            <dd className="num">{fmtTime(c.created)}</dd>
            <dt>Started</dt>
            <dd className="num">{fmtTime(c.startedAt)}</dd>
            <dt>Finished</dt>
            <dd className="num">{fmtTime(c.finishedAt)}</dd>
            <dt>Host PID</dt>
            <dd className="num mono">{c.pid > 0 ? c.pid : '–'}</dd>
            <dt>Monitor PID</dt>
            <dd className="num mono">{c.monitorPid > 0 ? c.monitorPid : '–'}</dd>
            <dt>OOM killed</dt>
            <dd>{c.oomKilled ? <span className="badge bad">yes</span> : 'no'}</dd>
          </dl>
        </div>
      </section>
      <section className="panel">
        <div className="panel-head">
          <h2>Configuration</h2>
        </div>
        <div className="panel-body">
          <dl className="kv">
            <dt>ID</dt>
            <dd className="mono small">{c.id}</dd>
            <dt>Image</dt>
            <dd className="mono">
              {c.image} <span className="muted small">{c.imageId.replace(/^sha256:/, '').slice(0, 12)}</span>
            </dd>
            <dt>Command</dt>
            <dd className="mono">{quoteCommand(c.command)}</dd>
            <dt>Hostname</dt>
            <dd className="mono">{spec.hostname ?? '–'}</dd>
            <dt>Network</dt>
            <dd>
              {c.network.mode === 'bridge' ? <span className="mono">{c.network.name ?? 'bridge'}</span> : c.network.mode === 'host' ? 'host (shares the helper’s)' : 'none (loopback only)'}
              {c.network.ip && <span className="mono muted"> · {c.network.ip}/{c.network.prefixLen}</span>}
            </dd>
            <dt>Ports</dt>
            <dd className="mono small">{c.ports.length > 0 ? c.ports.map((p) => <div key={portText(p)}>{portText(p)}</div>) : <span className="muted">none published</span>}</dd>
            <dt>Working dir</dt>
            <dd className="mono">{spec.workdir ?? '/'}</dd>
            <dt>User</dt>
            <dd className="mono">{spec.user ?? '0:0'}</dd>
            <dt>Terminal</dt>
            <dd>
              {spec.tty ? 'PTY' : 'no PTY'} · {spec.stdin ? 'stdin open' : 'stdin closed'}
              {spec.autoRemove ? ' · removed on exit' : ''}
            </dd>
            <dt>Environment</dt>
            <dd className="mono small">{spec.env && spec.env.length > 0 ? spec.env.map((e) => <div key={e}>{e}</div>) : '–'}</dd>
          </dl>
        </div>
      </section>
      <section className="panel">
        <div className="panel-head">
          <h2>Limits</h2>
          <span className="muted small">cgroup {c.cgroup?.layout === 'unified' ? 'v2' : c.cgroup ? 'v1' : ''}</span>
        </div>
        <div className="panel-body">
          <dl className="kv">
            <dt>Memory</dt>
            <dd className="num">{limits.memory ? formatBytes(limits.memory) : 'no limit'}</dd>
            <dt>CPU</dt>
            <dd className="num">{limits.cpus ? `${limits.cpus} CPU (${formatCpu(limits.cpus * 100)} of one core)` : 'no quota'}</dd>
            <dt>CPU weight</dt>
            <dd className="num">{limits.cpuWeight ?? 'default'}</dd>
            <dt>PIDs</dt>
            <dd className="num">{limits.pids ?? 'no limit'}</dd>
          </dl>
        </div>
      </section>
      <section className="panel" style={{ gridColumn: '1 / -1' }} data-testid="storage-panel">
        <div className="panel-head">
          <h2>Storage</h2>
          <span className="muted small">what is mounted over the image’s files</span>
        </div>
        {c.mounts.length === 0 ? (
          <div className="panel-body muted">No mounts: everything it writes goes to its own writable layer and is deleted with it.</div>
        ) : (
          <table className="table" aria-label="Mounts">
            <thead>
              <tr>
                <th>Path in the container</th>
                <th>Type</th>
                <th>Source on the host</th>
                <th>Access</th>
              </tr>
            </thead>
            <tbody>
              {c.mounts.map((m) => (
                <tr key={m.target} data-testid="mount" data-target={m.target}>
                  <td className="mono">{m.target}</td>
                  <td>
                    <span className={`badge plain ${m.type === 'volume' ? 'info' : ''}`} title={m.anonymous ? `anonymous volume ${m.name ?? ''}` : undefined}>
                      {m.type !== 'volume' ? m.type : m.anonymous ? `anonymous volume ${shortId(m.name ?? '')}` : `volume ${m.name ?? ''}`}
                    </span>
                  </td>
                  <td className="mono small">{m.type === 'tmpfs' ? <span className="muted">memory</span> : m.source}</td>
                  <td>{m.readOnly ? 'read-only' : 'read-write'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
      {(c.rootfs || c.cgroup) && (
        <section className="panel" style={{ gridColumn: '1 / -1' }}>
          <div className="panel-head">
            <h2>On the host</h2>
            <span className="muted small">where the container’s filesystem and cgroup live</span>
          </div>
          <div className="panel-body">
            <dl className="kv small host-paths">
              {c.rootfs && (
                <>
                  <dt>overlay merged</dt>
                  <dd className="mono">{c.rootfs.merged}</dd>
                  <dt>upper (writable)</dt>
                  <dd className="mono">{c.rootfs.upper}</dd>
                  <dt>work</dt>
                  <dd className="mono">{c.rootfs.work}</dd>
                  <dt>lower (image layers)</dt>
                  <dd className="mono">
                    {c.rootfs.lower.map((l) => (
                      <div key={l}>{l}</div>
                    ))}
                  </dd>
                </>
              )}
              {c.cgroup &&
                Object.entries(c.cgroup.paths).map(([k, v]) => (
                  <div key={k} style={{ display: 'contents' }}>
                    <dt>cgroup {k}</dt>
                    <dd className="mono">{v}</dd>
                  </div>
                ))}
            </dl>
          </div>
        </section>
      )}
    </div>
  );
}
