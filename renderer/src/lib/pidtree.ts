// The Processes tab's tree: processes ordered parent before children, with the
// guides a tree view draws (├─ └─ │) and both PIDs: the host's and the container's.
import type { TopProcess } from '../../../electron/core/protocol';

export interface PidRow {
  process: TopProcess;
  /** The PID as the container sees it: the innermost of NSpid. */
  containerPid: number;
  depth: number;
  /** For each ancestor level, whether a vertical guide continues there; then the row's own connector. */
  guides: boolean[];
  last: boolean;
}

export function containerPidOf(p: TopProcess): number {
  return p.nspid.length > 0 ? p.nspid[p.nspid.length - 1] : p.pid;
}

/** "│  ├─ " style prefix for a row (empty for roots). */
export function treePrefix(row: Pick<PidRow, 'depth' | 'guides' | 'last'>): string {
  if (row.depth === 0) return '';
  let s = '';
  for (let i = 1; i < row.depth; i++) s += row.guides[i] ? '│  ' : '   ';
  return s + (row.last ? '└─ ' : '├─ ');
}

/**
 * Orders processes as a forest by ppid: roots (whose parent is not in the list, e.g.
 * the container's PID 1 whose parent is the monitor) first, children by PID. Cycles
 * and duplicates, which /proc cannot produce but untrusted data could, end up flat.
 */
export function buildPidTree(processes: readonly TopProcess[]): PidRow[] {
  const byPid = new Map<number, TopProcess>();
  for (const p of processes) if (!byPid.has(p.pid)) byPid.set(p.pid, p);
  const children = new Map<number, TopProcess[]>();
  const roots: TopProcess[] = [];
  for (const p of byPid.values()) {
    if (p.ppid !== p.pid && byPid.has(p.ppid)) {
      const list = children.get(p.ppid);
      if (list) list.push(p);
      else children.set(p.ppid, [p]);
    } else roots.push(p);
  }
  const byPidAsc = (a: TopProcess, b: TopProcess): number => a.pid - b.pid;
  const rows: PidRow[] = [];
  const seen = new Set<number>();
  const walk = (p: TopProcess, depth: number, guides: boolean[], last: boolean): void => {
    if (seen.has(p.pid)) return;
    seen.add(p.pid);
    rows.push({ process: p, containerPid: containerPidOf(p), depth, guides, last });
    const kids = (children.get(p.pid) ?? []).filter((k) => !seen.has(k.pid)).sort(byPidAsc);
    kids.forEach((k, i) => walk(k, depth + 1, [...guides, !last], i === kids.length - 1));
  };
  const sortedRoots = roots.sort(byPidAsc);
  sortedRoots.forEach((r, i) => walk(r, 0, [], i === sortedRoots.length - 1));
  for (const p of byPid.values()) if (!seen.has(p.pid)) walk(p, 0, [], true);
  return rows;
}
