// Formatting the renderer needs beyond electron/core/format.ts (shared with the CLI).
import { formatBytes, humanDuration } from '../../../electron/core/format';

export { ago, formatBytes, isStopped, quoteCommand, shortId, statusText, truncate, cleanCreatedBy, humanDuration, formatPercent } from '../../../electron/core/format';

/** "12.5%" for a CPU percentage (100 = one core); "–" when unknown. */
export function formatCpu(percent: number): string {
  if (!Number.isFinite(percent)) return '–';
  if (percent < 10) return `${percent.toFixed(1)}%`;
  return `${Math.round(percent)}%`;
}

/** Bytes or "–" when unknown. */
export function formatMaybeBytes(n: number | null | undefined): string {
  return n === null || n === undefined || !Number.isFinite(n) ? '–' : formatBytes(n);
}

/** Microseconds for the start timeline: "850 µs", "1.24 ms", "2.5 s". */
export function formatMicros(us: number): string {
  if (!Number.isFinite(us)) return '–';
  if (us < 1000) return `${Math.round(us)} µs`;
  if (us < 1_000_000) return `${(us / 1000).toFixed(us < 10_000 ? 2 : 1)} ms`;
  return `${(us / 1_000_000).toFixed(2)} s`;
}

/** Uptime from startedAt: "3 minutes", "less than a second" (it follows "Up" or "Running for"); "" when not running. */
export function uptime(startedAt: string | null, now: number): string {
  const t = startedAt ? Date.parse(startedAt) : NaN;
  if (Number.isNaN(t)) return '';
  const d = humanDuration(Math.max(0, now - t));
  return d.charAt(0).toLowerCase() + d.slice(1);
}

/** Compact uptime for a table cell: "42s", "5m", "3h 12m", "2d 4h". */
export function shortUptime(startedAt: string | null, now: number): string {
  const t = startedAt ? Date.parse(startedAt) : NaN;
  if (Number.isNaN(t)) return '';
  const s = Math.max(0, Math.floor((now - t) / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h ${m % 60}m`;
  return `${Math.floor(h / 24)}d ${h % 24}h`;
}

/** ls -l style permissions from a numeric mode and an entry type. */
export function modeString(mode: number, type: string): string {
  const t = type === 'dir' ? 'd' : type === 'symlink' ? 'l' : type === 'char' ? 'c' : type === 'block' ? 'b' : type === 'fifo' ? 'p' : type === 'socket' ? 's' : '-';
  const bits = ['r', 'w', 'x'];
  let s = t;
  for (let i = 8; i >= 0; i--) s += mode & (1 << i) ? bits[(8 - i) % 3] : '-';
  if (mode & 0o4000) s = s.slice(0, 3) + (s[3] === 'x' ? 's' : 'S') + s.slice(4);
  if (mode & 0o2000) s = s.slice(0, 6) + (s[6] === 'x' ? 's' : 'S') + s.slice(7);
  if (mode & 0o1000) s = s.slice(0, 9) + (s[9] === 'x' ? 't' : 'T');
  return s;
}

/** Parses "64m", "1g", "" -> bytes or null; throws RangeError with a user-facing message. */
export { parseSize } from '../../../electron/core/format';

/** "KEY=VALUE" lines -> env list, refusing lines without a key. */
export function parseEnvLines(text: string): string[] {
  const out: string[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    if (!/^[A-Za-z_][A-Za-z0-9_]*=/.test(line)) throw new RangeError(`"${line}" is not KEY=VALUE`);
    out.push(line);
  }
  return out;
}

/**
 * Splits a command line the way a shell would for simple cases: whitespace separates
 * words, single and double quotes group, backslash escapes outside single quotes.
 */
export function splitCommand(text: string): string[] {
  const words: string[] = [];
  let cur = '';
  let inWord = false;
  let quote: '"' | "'" | null = null;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (quote) {
      if (ch === quote) quote = null;
      else if (ch === '\\' && quote === '"' && i + 1 < text.length && '"\\$`'.includes(text[i + 1])) cur += text[++i];
      else cur += ch;
    } else if (ch === "'" || ch === '"') {
      quote = ch;
      inWord = true;
    } else if (ch === '\\' && i + 1 < text.length) {
      cur += text[++i];
      inWord = true;
    } else if (/\s/.test(ch)) {
      if (inWord) words.push(cur);
      cur = '';
      inWord = false;
    } else {
      cur += ch;
      inWord = true;
    }
  }
  if (quote) throw new RangeError(`unclosed ${quote} quote in the command`);
  if (inWord) words.push(cur);
  return words;
}

/** Parses one container log line ("TIME STREAM F|P TEXT"). */
export interface LogLine {
  time: string;
  stream: 'stdout' | 'stderr';
  partial: boolean;
  text: string;
}
export function parseLogLine(line: string): LogLine {
  const m = /^(\S+) (stdout|stderr) ([FP]) ?(.*)$/s.exec(line);
  if (!m) return { time: '', stream: 'stdout', partial: false, text: line };
  return { time: m[1], stream: m[2] as 'stdout' | 'stderr', partial: m[3] === 'P', text: m[4] };
}

/** "2026-11-25T05:40:00.123456789Z" -> "05:40:00.123" (local time). */
export function logTime(iso: string): string {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return iso;
  const d = new Date(t);
  const p = (n: number, w = 2): string => String(n).padStart(w, '0');
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}
