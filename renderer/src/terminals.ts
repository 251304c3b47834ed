// Terminal sessions in the renderer. The shells live in the service (exec with a PTY);
// here each session keeps one xterm instance and its DOM element, which the Terminal
// tab attaches and detaches, so switching views loses nothing. After a reload the
// sessions are found again (listTerminals) and redrawn from the service's backlog.
import { FitAddon } from '@xterm/addon-fit';
import { Terminal } from '@xterm/xterm';
import '@xterm/xterm/css/xterm.css';
import { create } from 'zustand';

import type { ExitInfo, TerminalInfo } from '../../electron/core/api';
import { api } from './berth';

/** Lines each terminal keeps above the screen. */
export const SCROLLBACK_LINES = 5000;
/** Output chunks held for a session whose open call has not answered yet. */
const MAX_PENDING_CHUNKS = 256;
/** Output of sessions this page never learns of (another window's) is dropped after this. */
const PENDING_TTL_MS = 10_000;

export function base64ToBytes(b64: string): Uint8Array {
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/**
 * The part of a chunk at `offset` not yet written when `seen` bytes were; null when
 * nothing of it is new.
 */
export function unseenPart(bytes: Uint8Array, offset: number, seen: number): Uint8Array | null {
  const end = offset + bytes.length;
  if (end <= seen) return null;
  return offset >= seen ? bytes : bytes.subarray(seen - offset);
}

interface Session {
  info: TerminalInfo;
  term: Terminal;
  fit: FitAddon;
  el: HTMLDivElement;
  opened: boolean;
  /** bytes of output written to the xterm */
  seen: number;
  /** true once the backlog was written: before that, events are held */
  ready: boolean;
  held: { data: Uint8Array; offset: number }[];
  inputQueue: string;
  sending: boolean;
  resizeTimer: ReturnType<typeof setTimeout> | null;
}

export interface TabInfo {
  session: string;
  containerId: string;
  title: string;
  exit?: ExitInfo;
}

/** What the tabs render: sessions by container, in opening order. */
export const useTerminals = create<{ tabs: TabInfo[]; error: string | null }>(() => ({ tabs: [], error: null }));

const sessions = new Map<string, Session>();
const pending = new Map<string, { data: Uint8Array; offset: number }[]>();
const pendingSince = new Map<string, number>();

function prunePending(now: number): void {
  for (const [id, at] of pendingSince) {
    if (now - at > PENDING_TTL_MS) {
      pending.delete(id);
      pendingSince.delete(id);
    }
  }
}
let listening = false;
let counter = 0;

const THEME = {
  background: '#0f1115',
  foreground: '#e6e8eb',
  cursor: '#e6e8eb',
  selectionBackground: '#3a4a66',
  black: '#1c1f24',
  brightBlack: '#5c6370',
};

function listen(): void {
  if (listening) return;
  listening = true;
  api.on('terminalOutput', ({ session, data, offset }) => {
    const bytes = base64ToBytes(data);
    const s = sessions.get(session);
    if (!s) {
      const now = Date.now();
      prunePending(now);
      if (!pendingSince.has(session)) pendingSince.set(session, now);
      const list = pending.get(session) ?? [];
      if (list.length < MAX_PENDING_CHUNKS) list.push({ data: bytes, offset });
      pending.set(session, list);
      return;
    }
    if (!s.ready) {
      s.held.push({ data: bytes, offset });
      return;
    }
    write(s, bytes, offset);
  });
  api.on('terminalExit', ({ session, exit }) => {
    const s = sessions.get(session);
    if (s) {
      s.info = { ...s.info, exit };
      s.term.write(`\r\n\x1b[2m[process exited${exit.exitCode !== null ? ` with status ${exit.exitCode}` : exit.signal ? ` by ${exit.signal}` : ''}]\x1b[0m\r\n`);
    }
    useTerminals.setState((st) => ({ tabs: st.tabs.map((t) => (t.session === session ? { ...t, exit } : t)) }));
  });
}

function write(s: Session, bytes: Uint8Array, offset: number): void {
  const part = unseenPart(bytes, offset, s.seen);
  if (!part) return;
  s.term.write(part);
  s.seen = Math.max(s.seen, offset + bytes.length);
}

function sendInput(s: Session): void {
  if (s.sending || s.inputQueue === '' || s.info.exit) return;
  const data = s.inputQueue;
  s.inputQueue = '';
  s.sending = true;
  // One call at a time, so keystrokes arrive in order.
  api
    .terminalInput(s.info.session, data)
    .catch(() => undefined)
    .finally(() => {
      s.sending = false;
      sendInput(s);
    });
}

function register(info: TerminalInfo, title: string): Session {
  const term = new Terminal({
    scrollback: SCROLLBACK_LINES,
    fontFamily: "ui-monospace, 'DejaVu Sans Mono', 'Liberation Mono', monospace",
    fontSize: 13,
    cursorBlink: true,
    theme: THEME,
    rows: info.rows,
    cols: info.cols,
  });
  const fit = new FitAddon();
  term.loadAddon(fit);
  const el = document.createElement('div');
  el.className = 'term-el';
  el.dataset.session = info.session;
  const s: Session = { info, term, fit, el, opened: false, seen: 0, ready: false, held: pending.get(info.session) ?? [], inputQueue: '', sending: false, resizeTimer: null };
  pending.delete(info.session);
  pendingSince.delete(info.session);
  sessions.set(info.session, s);
  term.onData((d) => {
    s.inputQueue += d;
    sendInput(s);
  });
  term.onResize(({ rows, cols }) => {
    if (s.resizeTimer) clearTimeout(s.resizeTimer);
    s.resizeTimer = setTimeout(() => void api.terminalResize(info.session, rows, cols).catch(() => undefined), 80);
  });
  useTerminals.setState((st) => ({ tabs: [...st.tabs, { session: info.session, containerId: info.containerId, title, exit: info.exit }] }));
  // The backlog first, then whatever came meanwhile, each byte once.
  api.terminalBacklog(info.session).then(
    (b) => {
      s.seen = b.offset;
      write(s, base64ToBytes(b.data), b.offset);
      s.ready = true;
      for (const h of s.held.splice(0)) write(s, h.data, h.offset);
    },
    () => {
      s.ready = true;
      for (const h of s.held.splice(0)) write(s, h.data, h.offset);
    },
  );
  return s;
}

/** Opens a new shell in a running container. */
export async function openSession(containerId: string, rows = 24, cols = 80): Promise<string> {
  listen();
  const info = await api.openTerminal(containerId, { rows, cols });
  const n = ++counter;
  register(info, `${(info.cmd[0] ?? 'sh').split('/').pop()} ${n}`);
  return info.session;
}

/** Finds the sessions the service holds that this page does not know (after a reload). */
export async function syncSessions(): Promise<void> {
  listen();
  try {
    const list = await api.listTerminals();
    for (const info of list) if (!sessions.has(info.session)) register(info, `${(info.cmd[0] ?? 'sh').split('/').pop()} ${++counter}`);
    useTerminals.setState({ error: null });
  } catch (e) {
    useTerminals.setState({ error: e instanceof Error ? e.message : String(e) });
  }
}

/** Shows a session's terminal in `host` (moving it there from wherever it was). */
export function attach(session: string, host: HTMLElement): (() => void) | null {
  const s = sessions.get(session);
  if (!s) return null;
  host.appendChild(s.el);
  if (!s.opened) {
    s.term.open(s.el);
    s.opened = true;
  }
  const refit = (): void => {
    if (s.el.clientWidth > 0 && s.el.clientHeight > 0) {
      try {
        s.fit.fit();
      } catch {
        /* not measurable yet */
      }
    }
  };
  refit();
  const ro = new ResizeObserver(refit);
  ro.observe(host);
  s.term.focus();
  return () => {
    ro.disconnect();
    if (s.el.parentElement === host) host.removeChild(s.el);
  };
}

export function focusSession(session: string): void {
  sessions.get(session)?.term.focus();
}

/** Hangs up and forgets a session. */
export async function closeSession(session: string): Promise<void> {
  const s = sessions.get(session);
  sessions.delete(session);
  useTerminals.setState((st) => ({ tabs: st.tabs.filter((t) => t.session !== session) }));
  if (s) {
    if (s.resizeTimer) clearTimeout(s.resizeTimer);
    s.term.dispose();
    s.el.remove();
  }
  await api.closeTerminal(session).catch(() => undefined);
}

/** Test and benchmark hook: how many xterm instances are alive. */
export function liveSessionCount(): number {
  return sessions.size;
}
