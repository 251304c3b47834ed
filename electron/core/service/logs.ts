// The container log format (docs/protocol.md, "The container log") parsed into
// LogLines: `TIME STREAM F|P text` records, `P` records joined with the next record
// of the same stream.
import type { LogLine } from '../api';

/** A line longer than this is cut (a container writing without newlines must not grow memory). */
const MAX_LINE_CHARS = 64 * 1024;

export class LogParser {
  private rest = '';
  private readonly partial: Record<LogLine['stream'], { time: string; text: string } | null> = { stdout: null, stderr: null };

  /** Feeds bytes of the log (any split); returns the lines completed. */
  push(chunk: string): LogLine[] {
    const data = this.rest + chunk;
    const out: LogLine[] = [];
    let start = 0;
    for (;;) {
      const nl = data.indexOf('\n', start);
      if (nl < 0) break;
      this.record(data.slice(start, nl), out);
      start = nl + 1;
    }
    this.rest = data.slice(start);
    if (this.rest.length > MAX_LINE_CHARS * 2) {
      this.record(this.rest, out);
      this.rest = '';
    }
    return out;
  }

  /** Ends the log: partial lines still open come out as lines. */
  flush(): LogLine[] {
    const out: LogLine[] = [];
    if (this.rest) this.record(this.rest, out);
    this.rest = '';
    for (const s of ['stdout', 'stderr'] as const) {
      const p = this.partial[s];
      if (p) out.push({ time: p.time, stream: s, text: p.text });
      this.partial[s] = null;
    }
    return out;
  }

  private record(rec: string, out: LogLine[]): void {
    const a = rec.indexOf(' ');
    const b = a < 0 ? -1 : rec.indexOf(' ', a + 1);
    if (a < 0 || b < 0) return;
    const time = rec.slice(0, a);
    const stream = rec.slice(a + 1, b);
    if (stream !== 'stdout' && stream !== 'stderr') return;
    // "F text" or "P text"; an empty full line is "F " (or just "F").
    const flag = rec.charAt(b + 1);
    const text = rec.slice(b + 3);
    const open = this.partial[stream];
    if (flag === 'P') {
      const joined = (open ? open.text : '') + text;
      this.partial[stream] = { time: open ? open.time : time, text: joined.slice(0, MAX_LINE_CHARS) };
      if (joined.length >= MAX_LINE_CHARS) {
        out.push({ time: this.partial[stream].time, stream, text: this.partial[stream].text });
        this.partial[stream] = null;
      }
      return;
    }
    this.partial[stream] = null;
    out.push({ time: open ? open.time : time, stream, text: ((open ? open.text : '') + text).slice(0, MAX_LINE_CHARS) });
  }
}
