// Namespaces: for each type, the container's inode beside the host's.
import type { ContainerInfo } from '../../../../electron/core/protocol';
import { Empty, Loading } from '../../components/common';
import { NAMESPACE_TEXT } from '../../lib/status';

export function Namespaces({ c, loaded }: { c: ContainerInfo; loaded: boolean }) {
  const ns = c.namespaces;
  if (!ns) return loaded ? <Empty title="No namespace facts">The helper did not report namespaces for this container.</Empty> : <Loading what="namespaces" />;
  return (
    <div>
      <p className="muted" style={{ marginTop: 0 }}>
        A namespace is identified by an inode number (<code>readlink /proc/PID/ns/TYPE</code>). The same number as the host’s means the container shares the host’s view of that resource.
        {c.status !== 'running' && ' The numbers are from the container’s last run.'}
      </p>
      <div className="ns-grid">
        {NAMESPACE_TEXT.map((t) => {
          const s = ns[t.name];
          const isolated = s?.isolated ?? false;
          return (
            <section key={t.name} className="panel ns-card" data-testid={`ns-${t.name}`}>
              <header>
                <h3>{t.name}</h3>
                <span className="muted small">{t.title}</span>
                <span className={`badge ${isolated ? 'ok' : 'warn'}`}>{isolated ? 'Isolated' : 'Shared with host'}</span>
              </header>
              <div className="inodes">
                <div className={`inode ${isolated ? '' : 'same'}`}>
                  <div className="label">Container</div>
                  <div className="v">{s?.inode ? `${t.name}:[${s.inode}]` : '–'}</div>
                </div>
                <div className="inode">
                  <div className="label">Host</div>
                  <div className="v">{s?.hostInode ? `${t.name}:[${s.hostInode}]` : '–'}</div>
                </div>
              </div>
              <p>{isolated ? t.isolatedMeans : t.sharedMeans}</p>
            </section>
          );
        })}
      </div>
    </div>
  );
}
