// A container's detail page: header with actions and the tabs.
import { useEffect, useRef, useState, type KeyboardEvent } from 'react';

import type { ContainerInfo } from '../../../electron/core/protocol';
import { api, useBerth } from '../berth';
import { Empty, errorText, StateBadge } from '../components/common';
import { ContainerButtons } from '../components/ContainerActions';
import { BackIcon, BoxIcon } from '../components/Icons';
import { ago, quoteCommand, uptime } from '../lib/fmt';
import { restartingText } from '../lib/status';
import { DETAIL_TABS, type DetailTab } from '../store';
import { Filesystem } from './detail/Filesystem';
import { Logs } from './detail/Logs';
import { Namespaces } from './detail/Namespaces';
import { Network } from './detail/Network';
import { Overview } from './detail/Overview';
import { Processes } from './detail/Processes';
import { Resources } from './detail/Resources';
import { Terminals } from './detail/Terminal';
import { Timeline } from './detail/Timeline';

const TAB_LABEL: Record<DetailTab, string> = {
  overview: 'Overview',
  processes: 'Processes',
  namespaces: 'Namespaces',
  network: 'Network',
  resources: 'Resources',
  terminal: 'Terminal',
  logs: 'Logs',
  timeline: 'Start timeline',
  filesystem: 'Filesystem',
};

/** The inspect result, fetched again when the container starts or stops. */
function useInspect(id: string, c: ContainerInfo | undefined): { info: ContainerInfo | null; error: string | null } {
  const [info, setInfo] = useState<ContainerInfo | null>(null);
  const [error, setError] = useState<string | null>(null);
  const key = c ? `${c.status}|${c.startedAt}|${c.finishedAt}` : '';
  useEffect(() => {
    let live = true;
    api.inspectContainer(id).then(
      (i) => live && (setInfo(i), setError(null)),
      (e: unknown) => live && setError(errorText(e)),
    );
    return () => {
      live = false;
    };
  }, [id, key]);
  return { info, error };
}

export function ContainerDetail({ id, tab }: { id: string; tab: DetailTab }) {
  const c = useBerth((s) => s.containers?.find((x) => x.id === id));
  const now = useBerth((s) => s.now);
  const navigate = useBerth((s) => s.navigate);
  const { info, error } = useInspect(id, c);
  const tabRefs = useRef<Record<string, HTMLButtonElement | null>>({});

  if (!c) {
    return (
      <div className="content">
        <Empty icon={<BoxIcon size={40} />} title="This container is gone" action={<button type="button" className="btn" onClick={() => navigate({ view: 'containers' })}>Back to containers</button>}>
          It was removed, or the list has not loaded yet.
        </Empty>
      </div>
    );
  }
  const merged: ContainerInfo = info ? { ...info, ...c, spec: info.spec, namespaces: info.namespaces ?? c.namespaces, timeline: info.timeline ?? c.timeline, rootfs: info.rootfs ?? c.rootfs, cgroup: info.cgroup ?? c.cgroup } : c;
  const setTab = (t: DetailTab): void => navigate({ view: 'container', id, tab: t });

  const onTabKey = (e: KeyboardEvent<HTMLDivElement>): void => {
    const i = DETAIL_TABS.indexOf(tab);
    let next = -1;
    if (e.key === 'ArrowRight') next = (i + 1) % DETAIL_TABS.length;
    else if (e.key === 'ArrowLeft') next = (i - 1 + DETAIL_TABS.length) % DETAIL_TABS.length;
    else if (e.key === 'Home') next = 0;
    else if (e.key === 'End') next = DETAIL_TABS.length - 1;
    if (next < 0) return;
    e.preventDefault();
    setTab(DETAIL_TABS[next]);
    tabRefs.current[DETAIL_TABS[next]]?.focus();
  };

  const flush = tab === 'terminal' || tab === 'logs';
  return (
    <>
      <div className="detail-head">
        <div className="crumbs">
          <button type="button" onClick={() => navigate({ view: 'containers' })}>
            <BackIcon size={11} /> Containers
          </button>
          <span>/</span>
          <span className="mono">{c.shortId}</span>
        </div>
        <div className="detail-title">
          <h1 data-testid="detail-name">{c.name}</h1>
          <StateBadge c={c} />
          <div className="spacer" />
          <ContainerButtons c={c} />
        </div>
        <div className="detail-meta">
          <span>
            Image <span className="mono">{c.image}</span>
          </span>
          <span className="mono" title={quoteCommand(c.command)}>
            {quoteCommand(c.command).slice(0, 80)}
          </span>
          {c.status === 'running' ? <span>Up {uptime(c.startedAt, now)}</span> : c.status === 'restarting' ? <span data-testid="restarting-text">{restartingText(c, now)}</span> : <span>Created {ago(c.created, now)}</span>}
          {c.status === 'running' && <span className="num">Host PID {c.pid}</span>}
          {c.status === 'running' && c.network.ip && <span className="mono">{c.network.ip}</span>}
        </div>
        <div className="tabs" role="tablist" aria-label="Container details" onKeyDown={onTabKey}>
          {DETAIL_TABS.map((t) => (
            <button
              key={t}
              ref={(el) => {
                tabRefs.current[t] = el;
              }}
              type="button"
              role="tab"
              className="tab"
              id={`tab-${t}`}
              aria-selected={tab === t}
              aria-controls="tab-panel"
              tabIndex={tab === t ? 0 : -1}
              onClick={() => setTab(t)}
            >
              {TAB_LABEL[t]}
            </button>
          ))}
        </div>
      </div>
      <div className={`tab-panel ${flush ? 'flush' : ''}`} id="tab-panel" role="tabpanel" aria-labelledby={`tab-${tab}`}>
        {error && !info && <div className="inline-error">Could not inspect the container: {error}</div>}
        {tab === 'overview' && <Overview c={merged} />}
        {tab === 'processes' && <Processes c={merged} />}
        {tab === 'namespaces' && <Namespaces c={merged} loaded={info !== null} />}
        {tab === 'network' && <Network c={merged} />}
        {tab === 'resources' && <Resources c={merged} />}
        {tab === 'terminal' && <Terminals c={merged} />}
        {tab === 'logs' && <Logs c={merged} />}
        {tab === 'timeline' && <Timeline c={merged} loaded={info !== null} />}
        {tab === 'filesystem' && <Filesystem c={merged} />}
      </div>
    </>
  );
}
