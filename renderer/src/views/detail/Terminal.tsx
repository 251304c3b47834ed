// Terminal: xterm shells through exec with a PTY, several tabs per container.
import { useEffect, useRef, useState } from 'react';

import type { ContainerInfo } from '../../../../electron/core/protocol';
import { Empty, errorText } from '../../components/common';
import { PlusIcon, TerminalIcon } from '../../components/Icons';
import { attach, closeSession, openSession, syncSessions, useTerminals } from '../../terminals';

/** The selected tab per container, kept while switching views. */
const selected = new Map<string, string>();

export function Terminals({ c }: { c: ContainerInfo }) {
  const tabs = useTerminals((s) => s.tabs).filter((t) => t.containerId === c.id);
  const syncError = useTerminals((s) => s.error);
  const [current, setCurrent] = useState<string | null>(selected.get(c.id) ?? null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const host = useRef<HTMLDivElement>(null);
  const running = c.status === 'running';
  // a process exec'd into a frozen cgroup would freeze too
  const canExec = running && !c.paused;
  const active = tabs.find((t) => t.session === current) ?? tabs[tabs.length - 1] ?? null;

  useEffect(() => {
    void syncSessions();
  }, []);

  useEffect(() => {
    if (!active || !host.current) return;
    selected.set(c.id, active.session);
    return attach(active.session, host.current) ?? undefined;
  }, [active?.session, c.id]);

  const add = async (): Promise<void> => {
    setBusy(true);
    setError(null);
    try {
      const el = host.current;
      // A first size near the real one, so the prompt draws right before the fit.
      const cols = el ? Math.max(20, Math.floor((el.clientWidth - 24) / 7.8)) : 80;
      const rows = el ? Math.max(5, Math.floor((el.clientHeight - 8) / 17)) : 24;
      const session = await openSession(c.id, rows, cols);
      setCurrent(session);
    } catch (e) {
      setError(errorText(e));
    } finally {
      setBusy(false);
    }
  };

  const close = (session: string): void => {
    void closeSession(session);
    if (current === session) setCurrent(null);
  };

  return (
    <>
      <div className="term-bar" role="tablist" aria-label="Terminals">
        {tabs.map((t) => (
          <div key={t.session} className="term-tab" role="tab" aria-selected={active?.session === t.session} tabIndex={0} onClick={() => setCurrent(t.session)} onKeyDown={(e) => e.key === 'Enter' && setCurrent(t.session)}>
            <TerminalIcon size={12} />
            {t.title}
            {t.exit && <span className="exited">exited</span>}
            <button type="button" className="x" aria-label={`Close ${t.title}`} onClick={(e) => (e.stopPropagation(), close(t.session))}>
              ×
            </button>
          </div>
        ))}
        <button type="button" className="btn ghost small" onClick={() => void add()} disabled={!canExec || busy} data-testid="new-terminal" title={canExec ? 'Open a shell (exec /bin/sh with a PTY)' : running ? 'Resume the container to open a shell' : 'Start the container to open a shell'}>
          {busy ? <span className="spinner" /> : <PlusIcon size={12} />} New shell
        </button>
        <span style={{ flex: 1 }} />
        {(error || syncError) && <span className="small" style={{ color: 'var(--bad)', paddingRight: 'var(--s3)' }}>{error ?? syncError}</span>}
      </div>
      <div className="term-host" ref={host} data-testid="terminal" style={{ display: active ? undefined : 'none' }} />
      {!active && (
        <div className="term-empty">
          <Empty
            icon={<TerminalIcon size={40} />}
            title={canExec ? 'No shell open' : running ? 'The container is paused' : 'The container is not running'}
            action={
              canExec ? (
                <button type="button" className="btn primary" onClick={() => void add()} disabled={busy} data-testid="open-shell">
                  <PlusIcon /> Open a shell
                </button>
              ) : undefined
            }
          >
            {canExec
              ? 'A shell here is a new process exec’d into the container: it joins every namespace and the cgroup of the container’s init. Sessions stay open when you switch views.'
              : running
                ? 'Its cgroup is frozen: every process stands still where it was, and a new one would freeze too. Resume it to open a shell inside.'
                : 'Start it to open a shell inside.'}
          </Empty>
        </div>
      )}
    </>
  );
}
