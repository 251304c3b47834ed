// The containers list: state, uptime, live CPU and memory sparklines, actions.
import { memo, useEffect, useMemo, useRef, useState, type KeyboardEvent } from 'react';

import type { ContainerInfo } from '../../../electron/core/protocol';
import { useBerth } from '../berth';
import { Empty, HelperWait, Loading, StateBadge } from '../components/common';
import { ActionButtons, useContainerActions } from '../components/ContainerActions';
import { BoxIcon, PlusIcon, SearchIcon, TrashIcon } from '../components/Icons';
import { sparkPath } from '../lib/spark';
import { formatBytes, formatCpu, quoteCommand, shortUptime, ago } from '../lib/fmt';
import { SPARK_POINTS } from '../lib/stats';
import { restartingText } from '../lib/status';
import { PruneContainers, stoppedContainers } from './PruneDialogs';

/** Moves focus between table rows with the arrow keys. */
export function rowKeys(e: KeyboardEvent<HTMLTableRowElement>, open: () => void, remove?: () => void): void {
  if (e.target !== e.currentTarget) return;
  const row = e.currentTarget;
  if (e.key === 'Enter') {
    e.preventDefault();
    open();
  } else if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
    e.preventDefault();
    const next = (e.key === 'ArrowDown' ? row.nextElementSibling : row.previousElementSibling) as HTMLElement | null;
    next?.focus();
  } else if ((e.key === 'Delete' || e.key === 'Backspace') && remove) {
    e.preventDefault();
    remove();
  }
}

/** A sparkline's top for CPU %: the window's peak, at least 10% so idle noise stays flat. */
export function cpuScale(values: readonly number[]): number {
  let m = 10;
  for (const v of values) if (Number.isFinite(v) && v > m) m = v;
  return m * 1.1;
}

/** Without a limit, memory is drawn against its window's peak plus some headroom. */
export function memScale(values: readonly number[]): number {
  let m = 0;
  for (const v of values) if (Number.isFinite(v) && v > m) m = v;
  return m > 0 ? m * 1.25 : 1;
}

interface CellText {
  value: string;
  sub?: string;
  title: string;
}

/**
 * A live sparkline cell. Stats events redraw it without React: the cell subscribes to the
 * store and sets its path data and text directly, so one event for hundreds of rows costs
 * a few attribute writes per row instead of a reconciliation.
 */
function LiveSpark({ id, running, kind, read }: { id: string; running: boolean; kind: 'cpu' | 'mem'; read(values: number[], id: string): { max: number; text: CellText } }) {
  const area = useRef<SVGPathElement>(null);
  const line = useRef<SVGPathElement>(null);
  const val = useRef<HTMLSpanElement>(null);
  const sub = useRef<HTMLSpanElement>(null);
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const draw = (): void => {
      const h = useBerth.getState().stats.get(id);
      const values = running && h ? h.ring.tail(kind, SPARK_POINTS) : [];
      const { max, text } = read(values, id);
      const p = sparkPath(values, SPARK_POINTS, max, SPARK_W, SPARK_H);
      area.current?.setAttribute('d', p.area);
      line.current?.setAttribute('d', p.line);
      if (val.current) val.current.textContent = running ? text.value : '–';
      if (sub.current) sub.current.textContent = running && text.sub ? ` / ${text.sub}` : '';
      if (box.current) box.current.title = text.title;
    };
    draw();
    if (!running) return;
    return useBerth.subscribe((s, prev) => {
      if (s.statsSeq !== prev.statsSeq) draw();
    });
  }, [id, running, kind, read]);
  return (
    <div className={`spark ${kind}`} ref={box}>
      <svg width={SPARK_W} height={SPARK_H} viewBox={`0 0 ${SPARK_W} ${SPARK_H}`} aria-hidden="true">
        <line className="spark-base" x1={0} x2={SPARK_W} y1={SPARK_H - 0.5} y2={SPARK_H - 0.5} />
        <path className="spark-area" ref={area} />
        <path className="spark-line" ref={line} />
      </svg>
      <span className={`val ${running ? '' : 'dim'}`}>
        <span ref={val}>–</span>
        <span className="muted" ref={sub} />
      </span>
    </div>
  );
}

const SPARK_W = 72;
const SPARK_H = 22;

function readCpu(values: number[], id: string): { max: number; text: CellText } {
  const h = useBerth.getState().stats.get(id);
  const quota = h?.ring.last('cpuQuota') ?? NaN;
  return {
    max: cpuScale(values),
    text: { value: formatCpu(values.length > 0 ? values[values.length - 1] : NaN), title: Number.isFinite(quota) ? `CPU, 100% = one core; quota ${formatCpu(quota)}` : 'CPU, 100% = one core' },
  };
}

function readMem(values: number[], id: string): { max: number; text: CellText } {
  const h = useBerth.getState().stats.get(id);
  const limit = h?.ring.last('memLimit') ?? NaN;
  const now = values.length > 0 ? values[values.length - 1] : NaN;
  return {
    max: Number.isFinite(limit) ? limit : memScale(values),
    text: { value: Number.isFinite(now) ? formatBytes(now) : '–', sub: Number.isFinite(limit) ? formatBytes(limit) : undefined, title: Number.isFinite(limit) ? `memory, limit ${formatBytes(limit)}` : 'memory, no limit' },
  };
}

const ContainerRow = memo(function ContainerRow({ c, now, open }: { c: ContainerInfo; now: number; open(id: string): void }) {
  const a = useContainerActions(c);
  const running = c.status === 'running';
  return (
    <tr className="clickable" tabIndex={0} data-testid="container-row" data-name={c.name} onClick={() => open(c.id)} onKeyDown={(e) => rowKeys(e, () => open(c.id), a.askRemove)}>
      <td>
        <div className="name-cell">
          <span className="name">{c.name}</span>
          <span className="id">{c.shortId}</span>
        </div>
      </td>
      <td>
        <StateBadge c={c} />
      </td>
      <td className="num small">
        {running ? shortUptime(c.startedAt, now) : c.status === 'restarting' ? <span className="muted">{restartingText(c, now)}</span> : <span className="muted">{ago(c.finishedAt ?? c.created, now)}</span>}
      </td>
      <td>
        <LiveSpark id={c.id} running={running} kind="cpu" read={readCpu} />
      </td>
      <td>
        <LiveSpark id={c.id} running={running} kind="mem" read={readMem} />
      </td>
      <td>
        <div className="cell-mono" title={c.image}>
          {c.image}
        </div>
      </td>
      <td className="col-cmd">
        <div className="cell-mono muted cmd-cell" title={quoteCommand(c.command)}>
          {quoteCommand(c.command)}
        </div>
      </td>
      <td className="actions" onClick={(e) => e.stopPropagation()} onKeyDown={(e) => e.stopPropagation()}>
        <ActionButtons c={c} a={a} compact />
      </td>
    </tr>
  );
});

export function ContainersView() {
  const containers = useBerth((s) => s.containers);
  const loadError = useBerth((s) => s.loadError);
  const now = useBerth((s) => s.now);
  const navigate = useBerth((s) => s.navigate);
  const openDialog = useBerth((s) => s.openDialog);
  const helperOk = useBerth((s) => s.helper?.state === 'connected');
  const helperDown = useBerth((s) => s.helper?.state === 'unavailable');
  const [filter, setFilter] = useState('');
  const [showAll, setShowAll] = useState(true);
  const [pruning, setPruning] = useState(false);
  const stopped = stoppedContainers(containers);
  const searchRef = useRef<HTMLInputElement>(null);

  const open = useMemo(() => (id: string) => navigate({ view: 'container', id, tab: 'overview' }), [navigate]);
  const shown = useMemo(() => {
    const f = filter.trim().toLowerCase();
    return (containers ?? []).filter(
      (c) => (showAll || c.status === 'running') && (!f || c.name.toLowerCase().includes(f) || c.image.toLowerCase().includes(f) || c.id.startsWith(f)),
    );
  }, [containers, filter, showAll]);
  const running = containers?.filter((c) => c.status === 'running').length ?? 0;
  const paused = containers?.filter((c) => c.status === 'running' && c.paused).length ?? 0;

  return (
    <>
      <div className="page-head">
        <div>
          <h1>Containers</h1>
          <div className="sub num">{containers ? `${running} running${paused ? ` (${paused} paused)` : ''} · ${containers.length} in total` : helperDown ? 'Waiting for the helper' : 'Connecting…'}</div>
        </div>
        <div className="spacer" />
        <label className="check small">
          <input type="checkbox" checked={!showAll} onChange={(e) => setShowAll(!e.target.checked)} /> Running only
        </label>
        <div className="search">
          <SearchIcon />
          <input ref={searchRef} id="global-search" className="input" placeholder="Filter by name, image or id" aria-label="Filter containers" value={filter} onChange={(e) => setFilter(e.target.value)} />
        </div>
        <button type="button" className="btn" onClick={() => setPruning(true)} disabled={!helperOk || stopped.length === 0} title={stopped.length === 0 ? 'No container is stopped' : 'Remove every created or exited container'}>
          <TrashIcon /> Remove stopped
        </button>
        <button type="button" className="btn primary" onClick={() => openDialog({ kind: 'run' })} disabled={!helperOk}>
          <PlusIcon /> Run container <kbd>N</kbd>
        </button>
      </div>
      <div className="content">
        {!containers ? (
          helperDown ? (
            <HelperWait what="containers" />
          ) : loadError ? (
            <Empty icon={<BoxIcon size={40} />} title="Containers could not be listed">
              {loadError}
            </Empty>
          ) : (
            <Loading what="containers" />
          )
        ) : containers.length === 0 ? (
          <div className="panel">
            <Empty
              icon={<BoxIcon size={40} />}
              title="No containers yet"
              action={
                <button type="button" className="btn primary" onClick={() => openDialog({ kind: 'run' })} disabled={!helperOk}>
                  <PlusIcon /> Run a container
                </button>
              }
            >
              A container is a process with its own namespaces, cgroup and filesystem. Run one from the busybox image to start: it takes milliseconds, not a boot.
            </Empty>
          </div>
        ) : (
          <div className="panel list-panel">
            <table className="table" aria-label="Containers">
              <thead>
                <tr>
                  <th>Name</th>
                  <th>State</th>
                  <th>Uptime</th>
                  <th>CPU</th>
                  <th>Memory</th>
                  <th>Image</th>
                  <th className="col-cmd">Command</th>
                  <th className="actions">
                    <span className="sr-only">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {shown.map((c) => (
                  <ContainerRow key={c.id} c={c} now={now} open={open} />
                ))}
              </tbody>
            </table>
            {shown.length === 0 && (
              <Empty title="Nothing matches">
                No container matches “{filter}”{showAll ? '' : ' among the running ones'}. Clear the filter to see all {containers.length}.
              </Empty>
            )}
          </div>
        )}
      </div>
      {pruning && <PruneContainers stopped={stopped} onDone={() => setPruning(false)} />}
    </>
  );
}
