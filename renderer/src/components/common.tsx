// Small shared pieces: status badge, empty state, loading, error box.
import type { ReactNode } from 'react';

import type { ContainerInfo } from '../../../electron/core/protocol';
import { containerState } from '../lib/status';

export function StateBadge({ c }: { c: ContainerInfo }) {
  const s = containerState(c);
  return (
    <span className={`badge ${s.tone}`} data-testid="state">
      {s.label}
    </span>
  );
}

export function Empty({ icon, title, children, action }: { icon?: ReactNode; title: string; children?: ReactNode; action?: ReactNode }) {
  return (
    <div className="empty">
      {icon}
      <h2>{title}</h2>
      {children && <p>{children}</p>}
      {action}
    </div>
  );
}

/** What a list shows while berthd cannot be reached (the banner above says why). */
export function HelperWait({ what }: { what: string }) {
  return (
    <div className="panel">
      <Empty title={`No ${what} to show yet`}>Berth lists {what} as soon as the helper is reachable; the banner above says why it is not and what to do. It reconnects by itself.</Empty>
    </div>
  );
}

export function Loading({ what }: { what: string }) {
  return (
    <div className="loading" role="status">
      <span className="spinner" /> Loading {what}…
    </div>
  );
}

export function ErrorBox({ title, message, action }: { title: string; message: string; action?: ReactNode }) {
  return (
    <div className="inline-error" role="alert">
      <strong>{title}</strong> {message} {action}
    </div>
  );
}

/** An error thrown by the API as one readable line. */
export function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
