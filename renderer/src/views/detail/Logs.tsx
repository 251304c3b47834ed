// Logs: the container's output, followed live, with search and timestamps.
import { useEffect, useMemo, useRef, useState, type ReactNode } from 'react';

import type { LogLine } from '../../../../electron/core/api';
import type { ContainerInfo } from '../../../../electron/core/protocol';
import { api } from '../../berth';
import { errorText } from '../../components/common';
import { SearchIcon } from '../../components/Icons';
import { logTime } from '../../lib/fmt';
import { LineRing } from '../../lib/ring';

/** Lines kept in the view; older ones are dropped (the file on disk keeps more). */
export const LOG_LINES_KEPT = 5000;
/** Lines asked for when the tab opens. */
const TAIL = 1000;

function highlight(text: string, q: string) {
  if (!q) return text;
  const parts: ReactNode[] = [];
  const lower = text.toLowerCase();
  let i = 0;
  let k = 0;
  for (;;) {
    const j = lower.indexOf(q, i);
    if (j < 0) break;
    parts.push(text.slice(i, j), <mark key={k++}>{text.slice(j, j + q.length)}</mark>);
    i = j + q.length;
  }
  parts.push(text.slice(i));
  return parts;
}

export function Logs({ c }: { c: ContainerInfo }) {
  const ring = useRef(new LineRing<LogLine>(LOG_LINES_KEPT));
  const [version, setVersion] = useState(0);
  const [ended, setEnded] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [query, setQuery] = useState('');
  const [stamps, setStamps] = useState(true);
  const [follow, setFollow] = useState(true);
  const view = useRef<HTMLDivElement>(null);
  // A new follow when the container (re)starts.
  const runKey = `${c.id}|${c.startedAt}`;

  useEffect(() => {
    ring.current.clear();
    setVersion((v) => v + 1);
    setEnded(null);
    setError(null);
    let stream: string | null = null;
    let live = true;
    const early: { stream: string; lines: LogLine[] }[] = [];
    let raf = 0;
    const bump = (): void => {
      if (raf) return;
      raf = requestAnimationFrame(() => {
        raf = 0;
        setVersion((v) => v + 1);
      });
    };
    // Subscribe before asking, so no line falls between the reply and the first event.
    const offLines = api.on('logLines', (ev) => {
      if (stream === null) {
        if (early.length < 1000) early.push(ev);
        return;
      }
      if (ev.stream !== stream) return;
      ring.current.push(...ev.lines);
      bump();
    });
    const offEnd = api.on('logEnd', (ev) => {
      if (ev.stream !== stream) return;
      setEnded(ev.error ? `The log stream ended: ${ev.error.message}` : 'The container has exited; this is all of its output.');
    });
    api.followLogs(c.id, { tail: TAIL }).then(
      (r) => {
        if (!live) {
          void api.stopFollow(r.stream);
          return;
        }
        stream = r.stream;
        for (const ev of early.splice(0)) if (ev.stream === stream) ring.current.push(...ev.lines);
        bump();
      },
      (e: unknown) => live && setError(errorText(e)),
    );
    return () => {
      live = false;
      offLines();
      offEnd();
      if (raf) cancelAnimationFrame(raf);
      if (stream) void api.stopFollow(stream);
    };
  }, [runKey, c.id]);

  const q = query.trim().toLowerCase();
  const lines = useMemo(() => {
    const all = ring.current.toArray();
    return q ? all.filter((l) => l.text.toLowerCase().includes(q)) : all;
    // version tells when the ring changed
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [version, q]);

  useEffect(() => {
    const el = view.current;
    if (follow && el) el.scrollTop = el.scrollHeight;
  }, [lines, follow]);

  const onScroll = (): void => {
    const el = view.current;
    if (!el) return;
    const atBottom = el.scrollHeight - el.scrollTop - el.clientHeight < 24;
    if (atBottom !== follow) setFollow(atBottom);
  };

  return (
    <>
      <div className="log-bar">
        <div className="search">
          <SearchIcon />
          <input className="input" placeholder="Search the log" aria-label="Search the log" value={query} onChange={(e) => setQuery(e.target.value)} />
        </div>
        <label className="check small">
          <input type="checkbox" checked={stamps} onChange={(e) => setStamps(e.target.checked)} /> Timestamps
        </label>
        <label className="check small">
          <input type="checkbox" checked={follow} onChange={(e) => setFollow(e.target.checked)} /> Follow
        </label>
        <span style={{ flex: 1 }} />
        <span className="muted small num">{q ? `${lines.length} matching of ${ring.current.length}` : `${ring.current.length} lines`}</span>
      </div>
      <div className="log-view" ref={view} onScroll={onScroll} data-testid="log-view" tabIndex={0} aria-label="Log output">
        {error && <div className="inline-error" style={{ margin: 'var(--s3)' }}>Could not read the log: {error}</div>}
        {lines.length === 0 && !error && (
          <div className="muted" style={{ padding: 'var(--s4)' }}>
            {q ? `No line contains “${query}”.` : c.status === 'running' ? 'No output yet. What the container writes to stdout and stderr appears here as it happens.' : 'The container wrote nothing to stdout or stderr.'}
          </div>
        )}
        {lines.map((l, i) => (
          <div key={i} className={`log-line ${l.stream}`}>
            {stamps && <span className="ts">{logTime(l.time)}</span>}
            <span className="text">{highlight(l.text, q)}</span>
          </div>
        ))}
      </div>
      <div className="log-foot">
        <span>{ended ?? (c.status === 'running' ? 'Following the log live.' : '')}</span>
        {ring.current.dropped > 0 && <span>The view keeps the last {LOG_LINES_KEPT} lines; {ring.current.dropped} older ones were dropped.</span>}
      </div>
    </>
  );
}
