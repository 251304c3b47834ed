// Human formatting shared by the CLI and the UI (no Node imports).
import type { ContainerInfo, ImageLayers, TopProcess } from './protocol';

const SIZE_UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

/** "64m", "64MiB", "1.5g", "512k", "100" -> bytes (binary units, docker's habit). Throws on anything else. */
export function parseSize(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([bkmgt]?)(i?b)?\s*$/i.exec(text);
  if (!m || (m[2] === '' && m[3] !== undefined && m[3].toLowerCase() !== 'b') || (m[2].toLowerCase() === 'b' && m[3] !== undefined)) {
    throw new RangeError(`invalid size '${text}': use a number with an optional unit b, k, m or g (e.g. 64m)`);
  }
  const bytes = Math.floor(Number(m[1]) * SIZE_UNITS[m[2].toLowerCase()]);
  if (!Number.isSafeInteger(bytes)) throw new RangeError(`invalid size '${text}': too large`);
  return bytes;
}

/** 67108864 -> "64MiB", 1536 -> "1.5KiB", 12 -> "12B". */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (Math.abs(v) >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  const s = i === 0 ? String(Math.round(v)) : v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2);
  return `${s.replace(/\.0+$|(\.\d*?)0+$/, '$1')}${units[i]}`;
}

/** docker's HumanDuration: "Less than a second", "5 seconds", "About a minute", "3 hours", "2 weeks". */
export function humanDuration(ms: number): string {
  const seconds = Math.round(ms / 1000);
  const minutes = Math.round(ms / 60000);
  const hours = Math.round(ms / 3600000);
  if (seconds < 1) return 'Less than a second';
  if (seconds === 1) return '1 second';
  if (seconds < 60) return `${seconds} seconds`;
  if (minutes === 1) return 'About a minute';
  if (minutes < 60) return `${minutes} minutes`;
  if (hours === 1) return 'About an hour';
  if (hours < 48) return `${hours} hours`;
  if (hours < 24 * 7 * 2) return `${Math.floor(hours / 24)} days`;
  if (hours < 24 * 30 * 2) return `${Math.floor(hours / 24 / 7)} weeks`;
  if (hours < 24 * 365 * 2) return `${Math.floor(hours / 24 / 30)} months`;
  return `${Math.floor(hours / 24 / 365)} years`;
}

/** "5 seconds ago"; "" for a missing or unreadable time. */
export function ago(iso: string | null | undefined, now = Date.now()): string {
  const t = iso ? Date.parse(iso) : NaN;
  if (Number.isNaN(t)) return '';
  return `${humanDuration(Math.max(0, now - t))} ago`;
}

/** Stopped: never started, or ended and not to be started again by its restart policy (what container prune removes). */
export function isStopped(c: Pick<ContainerInfo, 'status'>): boolean {
  return c.status === 'created' || c.status === 'exited';
}

/** The STATUS column: "Up 3 minutes", "Up 3 minutes (Paused)", "Exited (0) 2 minutes ago", "Exited (137, OOM killed) 1 second ago", "Created". */
export function statusText(c: Pick<ContainerInfo, 'status' | 'startedAt' | 'finishedAt' | 'exitCode' | 'oomKilled' | 'exitReason'> & { paused?: boolean }, now = Date.now()): string {
  if (c.status === 'running') {
    const t = c.startedAt ? Date.parse(c.startedAt) : NaN;
    const up = Number.isNaN(t) ? 'Up' : `Up ${humanDuration(Math.max(0, now - t))}`;
    return c.paused ? `${up} (Paused)` : up;
  }
  if (c.status === 'created') return 'Created';
  const code = c.exitCode === null ? '?' : String(c.exitCode);
  const detail = c.oomKilled || c.exitReason === 'oom-killed' ? `${code}, OOM killed` : c.exitReason === 'lost' ? `${code}, lost` : code;
  const when = ago(c.finishedAt, now);
  if (c.status === 'restarting') return when ? `Restarting (${detail}) ${when}` : `Restarting (${detail})`;
  return when ? `Exited (${detail}) ${when}` : `Exited (${detail})`;
}

/** argv as a shell would show it, each word quoted only when needed. */
export function quoteCommand(argv: readonly string[]): string {
  return argv.map((a) => (a !== '' && /^[A-Za-z0-9_@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
}

/** Cuts a cell to width characters with an ellipsis. */
export function truncate(text: string, width: number): string {
  return text.length <= width ? text : `${text.slice(0, Math.max(0, width - 1)).trimEnd()}…`;
}

export interface TopRow {
  process: TopProcess;
  depth: number;
}

/** Orders processes as a tree (parents before children, siblings by PID); depth is the nesting level. */
export function buildTopTree(processes: readonly TopProcess[]): TopRow[] {
  const byPid = new Map(processes.map((p) => [p.pid, p]));
  const children = new Map<number, TopProcess[]>();
  const roots: TopProcess[] = [];
  for (const p of processes) {
    if (p.ppid !== p.pid && byPid.has(p.ppid)) {
      const list = children.get(p.ppid) ?? [];
      list.push(p);
      children.set(p.ppid, list);
    } else {
      roots.push(p);
    }
  }
  const rows: TopRow[] = [];
  const seen = new Set<number>();
  const walk = (p: TopProcess, depth: number): void => {
    if (seen.has(p.pid)) return;
    seen.add(p.pid);
    rows.push({ process: p, depth });
    for (const c of (children.get(p.pid) ?? []).sort((a, b) => a.pid - b.pid)) walk(c, depth + 1);
  };
  for (const r of roots.sort((a, b) => a.pid - b.pid)) walk(r, 0);
  // A parent cycle (cannot happen in /proc, but the data is untrusted): show what is left flat.
  for (const p of processes) if (!seen.has(p.pid)) walk(p, 0);
  return rows;
}

/** Renders rows as aligned columns separated by three spaces (docker's table look). */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i])))
      .join('   ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n') + '\n';
}

/** docker's units.HumanSize: decimal units, 3 significant digits: "12.3MB", "1.05kB", "0B". */
export function formatDecimalBytes(n: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB', 'PB'];
  let v = Math.max(0, n);
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  // 999.95kB rounds to 1000kB at 3 digits: that is 1MB.
  let r = Number(v.toPrecision(3));
  if (r >= 1000 && i < units.length - 1) {
    r = Number((r / 1000).toPrecision(3));
    i++;
  }
  return `${r}${units[i]}`;
}

/** 0.9734 -> "97.3%" */
export function formatPercent(fraction: number): string {
  if (!Number.isFinite(fraction)) return '--';
  return `${(Math.round(fraction * 1000) / 10).toFixed(1)}%`;
}

/** The 12 hex characters of an id or digest ("sha256:abc…" -> "abc…"). */
export function shortId(id: string): string {
  return id.replace(/^[a-z0-9]+:/, '').slice(0, 12);
}

/** A Dockerfile-ish line from a history `created_by` ("/bin/sh -c #(nop)  CMD [\"sh\"]" -> "CMD [\"sh\"]"). */
export function cleanCreatedBy(createdBy: string): string {
  return createdBy
    .replace(/^\/bin\/sh -c #\(nop\)\s+/, '')
    .replace(/^\|\d+ [^ ]+=\S+ (?:[^ ]+=\S+ )*/, '')
    .replace(/\s+/g, ' ')
    .trim();
}

export interface HistoryRow {
  created: string;
  createdBy: string;
  comment: string;
  emptyLayer: boolean;
  /** unpacked bytes of this entry's layer; 0 for an empty layer */
  size: number;
  /** the image id on the newest entry, "<missing>" on the others (docker's habit) */
  id: string;
}

/** `berth history`: IMAGE CREATED CREATED BY SIZE COMMENT, newest first. */
export function historyTable(entries: readonly HistoryRow[], opts: { noTrunc: boolean; now?: number }): string {
  return table(
    ['IMAGE', 'CREATED', 'CREATED BY', 'SIZE', 'COMMENT'],
    entries.map((e) => [
      e.id === '<missing>' || opts.noTrunc ? e.id : shortId(e.id),
      ago(e.created, opts.now) || 'N/A',
      opts.noTrunc ? e.createdBy : truncate(cleanCreatedBy(e.createdBy), 45),
      formatDecimalBytes(e.size),
      opts.noTrunc ? e.comment : truncate(e.comment, 40),
    ]),
  );
}

/** `berth layers`: the stack as the UI draws it, base at the bottom, then the totals. */
export function layersTable(stack: Omit<ImageLayers, 'history'>, opts: { noTrunc: boolean }): string {
  const rows = [...stack.layers]
    .sort((a, b) => b.index - a.index)
    .map((l) => [
      String(l.index),
      opts.noTrunc ? l.digest : shortId(l.digest),
      formatDecimalBytes(l.unpackedSize),
      String(l.files.added),
      String(l.files.modified),
      String(l.files.deleted),
      l.wastedBytes > 0 ? formatDecimalBytes(l.wastedBytes) : '-',
      opts.noTrunc ? l.createdBy : truncate(cleanCreatedBy(l.createdBy), 50),
    ]);
  const head = table(['#', 'LAYER', 'SIZE', 'ADDED', 'MODIFIED', 'DELETED', 'WASTED', 'CREATED BY'], rows);
  return (
    head +
    `\nImage ${opts.noTrunc ? stack.id : shortId(stack.id)}: ${stack.layers.length} layer${stack.layers.length === 1 ? '' : 's'}, ` +
    `total size ${formatDecimalBytes(stack.size)}, wasted ${formatDecimalBytes(stack.wastedBytes)}, efficiency ${formatPercent(stack.efficiency)}\n`
  );
}

/** docker diff's letters: A added, C changed, D deleted. */
export function diffLetter(change: string): string {
  switch (change) {
    case 'added':
      return 'A';
    case 'deleted':
      return 'D';
    default:
      return 'C';
  }
}
