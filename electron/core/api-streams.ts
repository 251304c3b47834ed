// Gapless readers for the API's per-id event streams (terminals, log follows, pulls).
// The id of a stream is the reply of the call that starts it, but in web mode events
// travel on another connection than replies, so the first events can arrive before
// the id is known; these helpers subscribe first and hold events back until then.
// Node-free: the renderer uses them.
import type { ApiErrorInfo, BerthApi, BerthCalls, ExitInfo, ImageSummary, LogLine, PullProgressInfo, TerminalInfo, Unsubscribe } from './api';

/** What these helpers use of the API (the renderer's BerthApi, or a BerthService in tests). */
export type StreamApi = Pick<BerthCalls, 'openTerminal' | 'terminalBacklog' | 'followLogs' | 'stopFollow' | 'pullImage'> & Pick<BerthApi, 'on'>;

/** Events for ids not known yet are held at most this long/many before being dropped. */
const HOLD_MAX_EVENTS = 2000;

function b64decode(data: string): Uint8Array {
  const bin = atob(data);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

export interface TerminalHandlers {
  /** PTY bytes, in order and without repeats (write them to xterm as Uint8Array). */
  onData(data: Uint8Array): void;
  onExit?(exit: ExitInfo): void;
}

/**
 * Reads a terminal session's output from its backlog on: first what the service still
 * holds (a redraw after a view switch), then the live output, with no byte twice.
 */
export function attachTerminal(api: StreamApi, session: string, h: TerminalHandlers): Unsubscribe {
  let pos = -1; // next byte position expected; -1 while (re)reading the backlog
  let exited = false;
  let closed = false;
  let pendingExit: ExitInfo | null = null;
  const held: { data: string; offset: number }[] = [];
  const deliver = (data: string, offset: number): void => {
    const bytes = b64decode(data);
    const end = offset + bytes.length;
    if (end <= pos) return;
    h.onData(offset >= pos ? bytes : bytes.subarray(pos - offset));
    pos = end;
  };
  const exit = (e: ExitInfo): void => {
    if (exited) return;
    exited = true;
    h.onExit?.(e);
  };
  // The backlog first, then what was held meanwhile; again after a gap (events were
  // dropped for a slow page), since the backlog still holds the missing bytes.
  const sync = (): void => {
    pos = -1;
    api.terminalBacklog(session).then(
      (b) => {
        if (closed) return;
        pos = Math.max(0, b.offset);
        deliver(b.data, b.offset);
        for (const ev of held.splice(0)) deliver(ev.data, ev.offset);
        const e = b.exit ?? pendingExit;
        if (e) exit(e);
      },
      () => {
        // The session is gone (closed elsewhere): nothing more will come.
        if (!closed) exit({ exitCode: null, signal: null, reason: 'closed', oomKilled: false });
      },
    );
  };
  const offOut = api.on('terminalOutput', (ev) => {
    if (closed || ev.session !== session) return;
    if (pos < 0) {
      if (held.length < HOLD_MAX_EVENTS) held.push(ev);
      return;
    }
    if (ev.offset > pos) {
      held.push(ev);
      sync();
      return;
    }
    deliver(ev.data, ev.offset);
  });
  const offExit = api.on('terminalExit', (ev) => {
    if (closed || ev.session !== session) return;
    if (pos < 0) pendingExit = ev.exit;
    else exit(ev.exit);
  });
  sync();
  return () => {
    closed = true;
    offOut();
    offExit();
  };
}

/** Opens a terminal and attaches to it in one step. */
export async function openAndAttachTerminal(
  api: StreamApi,
  ref: string,
  opts: { cmd?: string[]; rows: number; cols: number },
  h: TerminalHandlers,
): Promise<{ info: TerminalInfo; detach: Unsubscribe }> {
  const info = await api.openTerminal(ref, opts);
  return { info, detach: attachTerminal(api, info.session, h) };
}

/**
 * Subscribes to events keyed by an id that a call will return, holding events for
 * unknown ids until the id is known.
 */
function keyedStream<Ev extends { [k in K]: string }, K extends string>(key: K) {
  let id: string | null = null;
  let held: Ev[] = [];
  let handler: ((ev: Ev) => void) | null = null;
  return {
    accept(ev: Ev): void {
      if (id === null) {
        if (held.length < HOLD_MAX_EVENTS) held.push(ev);
        return;
      }
      if (ev[key] === id) handler?.(ev);
    },
    start(known: string, h: (ev: Ev) => void): void {
      id = known;
      handler = h;
      const mine = held.filter((ev) => ev[key] === known);
      held = [];
      for (const ev of mine) h(ev);
    },
  };
}

export interface LogHandlers {
  onLines(lines: LogLine[]): void;
  /** The container exited and everything was sent, or the follow failed. */
  onEnd?(error?: ApiErrorInfo): void;
}

/** Follows a container's log (the last `tail` lines first); returns a stop function. */
export async function followLogStream(api: StreamApi, ref: string, opts: { tail?: number }, h: LogHandlers): Promise<Unsubscribe> {
  type Ev = { stream: string; lines?: LogLine[]; error?: ApiErrorInfo; end?: true };
  const ks = keyedStream<Ev, 'stream'>('stream');
  const offLines = api.on('logLines', (ev) => ks.accept(ev));
  const offEnd = api.on('logEnd', (ev) => ks.accept({ ...ev, end: true }));
  const unsubscribe = (): void => {
    offLines();
    offEnd();
  };
  let stream: string;
  try {
    stream = (await api.followLogs(ref, opts)).stream;
  } catch (e) {
    unsubscribe();
    throw e;
  }
  ks.start(stream, (ev) => {
    if (ev.lines) h.onLines(ev.lines);
    if (ev.end) {
      unsubscribe();
      h.onEnd?.(ev.error);
    }
  });
  return () => {
    unsubscribe();
    void api.stopFollow(stream).catch(() => undefined);
  };
}

export interface PullHandlers {
  onProgress?(progress: PullProgressInfo): void;
  onDone?(result: { image?: ImageSummary; error?: ApiErrorInfo }): void;
}

/** Starts a pull and reports its progress; resolves with the pull id (for cancelPull). */
export async function watchPull(api: StreamApi, ref: string, opts: { insecure?: boolean }, h: PullHandlers): Promise<string> {
  type Ev = { pull: string; progress?: PullProgressInfo; image?: ImageSummary; error?: ApiErrorInfo; done?: true };
  const ks = keyedStream<Ev, 'pull'>('pull');
  const offP = api.on('pullProgress', (ev) => ks.accept(ev));
  const offD = api.on('pullDone', (ev) => ks.accept({ ...ev, done: true }));
  const unsubscribe = (): void => {
    offP();
    offD();
  };
  let pull: string;
  try {
    pull = (await api.pullImage(ref, opts)).pull;
  } catch (e) {
    unsubscribe();
    throw e;
  }
  ks.start(pull, (ev) => {
    if (ev.progress) h.onProgress?.(ev.progress);
    if (ev.done) {
      unsubscribe();
      h.onDone?.({ image: ev.image, error: ev.error });
    }
  });
  return pull;
}
