// Terminal sessions: `container.exec` with a PTY, held by the service so a session
// outlives the view that opened it. Output is pushed as base64 with its byte offset
// and the last BACKLOG_BYTES are kept for a redraw; everything is bounded.
import crypto from 'node:crypto';

import { BerthApiError, type BerthEvents, type TerminalBacklog, type TerminalInfo, type TerminalOptions } from '../api';
import type { HelperClient, HelperStream } from '../helper-client';
import type { ExitInfo } from '../protocol';

export const BACKLOG_BYTES = 256 * 1024;
/** Open (not exited) sessions at once. */
const MAX_OPEN = 32;
/** Exited sessions kept (for their last output) until closed; the oldest go first. */
const MAX_EXITED = 16;
/** Output is pushed at most this often per session, in one event. */
const FLUSH_MS = 8;
const MAX_EVENT_BYTES = 64 * 1024;
/** Keystrokes waiting for a congested connection. */
const MAX_PENDING_INPUT = 1024 * 1024;

/** Keeps the last `cap` bytes written and where they start in the whole output. */
export class ByteRing {
  private chunks: Buffer[] = [];
  private size = 0;
  /** bytes ever written */
  total = 0;

  constructor(private readonly cap: number) {}

  push(b: Buffer): void {
    this.chunks.push(b);
    this.size += b.length;
    this.total += b.length;
    while (this.size - this.chunks[0].length >= this.cap) this.size -= this.chunks.shift()!.length;
    if (this.size > this.cap) {
      const over = this.size - this.cap;
      this.chunks[0] = this.chunks[0].subarray(over);
      this.size -= over;
    }
  }

  snapshot(): { data: Buffer; offset: number } {
    return { data: Buffer.concat(this.chunks), offset: this.total - this.size };
  }
}

interface Session {
  info: TerminalInfo;
  stream: HelperStream<'container.exec'>;
  ring: ByteRing;
  pending: Buffer[];
  pendingOffset: number;
  flushTimer: ReturnType<typeof setTimeout> | null;
  congested: boolean;
  waitingInput: number;
}

type Emit = <E extends 'terminalOutput' | 'terminalExit'>(event: E, payload: BerthEvents[E]) => void;

function size(n: unknown, what: string): number {
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > 65535) throw new BerthApiError('invalid', `${what} must be an integer 1..65535`);
  return n;
}

export class Terminals {
  private readonly sessions = new Map<string, Session>();

  constructor(private readonly emit: Emit) {}

  async open(client: HelperClient, ref: string, opts: TerminalOptions): Promise<TerminalInfo> {
    const rows = size(opts?.rows, 'rows');
    const cols = size(opts?.cols, 'cols');
    const cmd = opts.cmd ?? ['/bin/sh'];
    if (!Array.isArray(cmd) || cmd.length === 0 || !cmd.every((a) => typeof a === 'string')) throw new BerthApiError('invalid', 'cmd must be a non-empty list of strings');
    if ([...this.sessions.values()].filter((s) => !s.info.exit).length >= MAX_OPEN) {
      throw new BerthApiError('limit', `at most ${MAX_OPEN} terminals can be open at once; close one first`);
    }
    const ctr = await client.call('container.inspect', { ref });
    const stream = await client.stream('container.exec', { ref: ctr.id, cmd, tty: true, stdin: true, rows, cols, env: ['TERM=xterm-256color'] });
    const id = crypto.randomUUID();
    const s: Session = {
      info: { session: id, containerId: ctr.id, cmd, pid: stream.result.pid, rows, cols, started: new Date().toISOString() },
      stream,
      ring: new ByteRing(BACKLOG_BYTES),
      pending: [],
      pendingOffset: 0,
      flushTimer: null,
      congested: false,
      waitingInput: 0,
    };
    this.sessions.set(id, s);
    stream.on('stdout', (d) => this.output(s, d));
    stream.on('stderr', (d) => this.output(s, d));
    stream.on('drain', () => {
      s.congested = false;
      s.waitingInput = 0;
    });
    stream.on('exit', (e) => this.exited(s, e));
    stream.on('error', (e) => this.exited(s, { exitCode: null, signal: null, reason: `lost: ${e.message}`, oomKilled: false }));
    stream.on('close', () => this.exited(s, { exitCode: null, signal: null, reason: 'lost', oomKilled: false }));
    return { ...s.info };
  }

  input(session: string, data: string): void {
    const s = this.get(session);
    if (s.info.exit) return;
    if (typeof data !== 'string') throw new BerthApiError('invalid', 'data must be a string');
    const bytes = Buffer.from(data, 'utf8');
    if (s.congested) {
      if (s.waitingInput + bytes.length > MAX_PENDING_INPUT) throw new BerthApiError('limit', 'the terminal is not reading its input; try again in a moment');
      s.waitingInput += bytes.length;
    }
    if (!s.stream.writeStdin(bytes)) s.congested = true;
  }

  resize(session: string, rows: number, cols: number): void {
    const s = this.get(session);
    s.info.rows = size(rows, 'rows');
    s.info.cols = size(cols, 'cols');
    if (!s.info.exit) s.stream.resize(s.info.rows, s.info.cols);
  }

  close(session: string): void {
    const s = this.sessions.get(session);
    if (!s) return;
    this.sessions.delete(session);
    if (s.flushTimer) clearTimeout(s.flushTimer);
    s.stream.removeAllListeners();
    s.stream.close();
  }

  list(): TerminalInfo[] {
    return [...this.sessions.values()].map((s) => ({ ...s.info }));
  }

  backlog(session: string): TerminalBacklog {
    const s = this.get(session);
    this.flush(s);
    const snap = s.ring.snapshot();
    return { data: snap.data.toString('base64'), offset: snap.offset, ...(s.info.exit ? { exit: s.info.exit } : {}) };
  }

  /** The container exited or was removed: its shells are gone too. */
  containerGone(containerId: string): void {
    for (const s of this.sessions.values()) {
      if (s.info.containerId === containerId && !s.info.exit) {
        s.stream.close();
        this.exited(s, { exitCode: null, signal: null, reason: 'container exited', oomKilled: false });
      }
    }
  }

  closeAll(): void {
    for (const id of [...this.sessions.keys()]) this.close(id);
  }

  private get(session: string): Session {
    const s = typeof session === 'string' ? this.sessions.get(session) : undefined;
    if (!s) throw new BerthApiError('not_found', `no terminal session ${String(session)}`);
    return s;
  }

  private output(s: Session, d: Buffer): void {
    if (s.pending.length === 0) s.pendingOffset = s.ring.total;
    s.ring.push(d);
    s.pending.push(d);
    if (s.ring.total - s.pendingOffset >= MAX_EVENT_BYTES) this.flush(s);
    else if (!s.flushTimer) s.flushTimer = setTimeout(() => this.flush(s), FLUSH_MS);
  }

  private flush(s: Session): void {
    if (s.flushTimer) clearTimeout(s.flushTimer);
    s.flushTimer = null;
    if (s.pending.length === 0) return;
    const data = Buffer.concat(s.pending);
    s.pending = [];
    this.emit('terminalOutput', { session: s.info.session, data: data.toString('base64'), offset: s.pendingOffset });
  }

  private exited(s: Session, exit: ExitInfo): void {
    if (s.info.exit || !this.sessions.has(s.info.session)) return;
    this.flush(s);
    s.info.exit = exit;
    this.emit('terminalExit', { session: s.info.session, exit });
    const exited = [...this.sessions.values()].filter((x) => x.info.exit);
    for (const old of exited.slice(0, Math.max(0, exited.length - MAX_EXITED))) this.close(old.info.session);
  }
}
