// What the list views (images, networks, volumes) share: the list's body while it
// loads, is empty or the helper is away, and the containers a row names as chips.
import type { ReactNode } from 'react';

import type { DetailTab } from '../store';
import { useBerth } from '../berth';
import { HelperWait, Loading } from './common';

/** Loading, the helper's absence, the empty state, or the list itself. */
export function ListBody<T>({ items, what, helperDown, empty, children }: { items: readonly T[] | null; what: string; helperDown: boolean; empty: ReactNode; children: ReactNode }) {
  if (!items) return helperDown ? <HelperWait what={what} /> : <Loading what={what} />;
  if (items.length === 0) return <div className="panel">{empty}</div>;
  return <>{children}</>;
}

/** The containers that use something, each a chip that opens the container (on `tab`). */
export function ContainerChips({ users, none, tab, extra }: { users: readonly { id: string; name: string }[]; none: string; tab: DetailTab; extra?(id: string): ReactNode }) {
  const navigate = useBerth((s) => s.navigate);
  if (users.length === 0) return <span className="muted small">{none}</span>;
  return (
    <div className="chips">
      {users.map((u) => (
        <button key={u.id} type="button" className="chip" onClick={() => navigate({ view: 'container', id: u.id, tab })} title={`Open ${u.name}`}>
          {u.name}
          {extra?.(u.id)}
        </button>
      ))}
    </div>
  );
}
