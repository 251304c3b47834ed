// The service's connection to berthd: connects (or reconnects after berthd went
// away), says how it stands as a HelperStatus, and gives calls a client or a clear
// error that says what to do.
import { BerthApiError, type HelperStatus } from '../api';
import { HelperClient, HelperError } from '../helper-client';

export interface LinkOptions {
  /** Opens a connection to berthd; throws with a message that says why not. */
  connect(): Promise<HelperClient>;
  /** Turns a failed connect into what the user reads; the default uses the error's message. */
  explain?(e: unknown): { reason: string; hint?: string };
  /** Wait between attempts while berthd cannot be reached (ms). */
  retryMs?: number;
}

const FIRST_RETRY_MS = 300;

function defaultExplain(e: unknown): { reason: string; hint?: string } {
  const msg = e instanceof Error ? e.message : String(e);
  // The launcher's messages read "<why>: <what to do>" or "<why>; <what to do>".
  const m = /^(.*?)(?:: |; )((?:sudo|start|run|build|pkexec|install)\b.*)$/s.exec(msg);
  return m ? { reason: m[1], hint: m[2] } : { reason: msg, hint: 'start berthd (sudo systemctl start berthd) and Berth connects by itself' };
}

export class HelperLink {
  private client: HelperClient | null = null;
  private attempt: Promise<HelperClient | null> | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private failures = 0;
  private closed = false;
  status: HelperStatus = { state: 'connecting' };

  constructor(
    private readonly opts: LinkOptions,
    private readonly onStatus: (s: HelperStatus) => void,
    /** Called with every new connection (subscribe to berthd's events, resync). */
    private readonly onConnected: (c: HelperClient) => void,
  ) {}

  /** Starts connecting (at once). */
  start(): void {
    void this.connectOnce();
  }

  /** The connected client, or a BerthApiError('unavailable') saying why and what to do. */
  async get(): Promise<HelperClient> {
    if (this.client?.open) return this.client;
    if (this.client) this.lost();
    const c = await this.connectOnce();
    if (c) return c;
    const s = this.status;
    throw new BerthApiError('unavailable', `berthd is not available: ${s.reason ?? 'not connected'}${s.hint ? ` (${s.hint})` : ''}`);
  }

  /** The current client if connected, without waiting. */
  current(): HelperClient | null {
    return this.client?.open ? this.client : null;
  }

  /** A call or stream found the connection gone: reconnect. */
  lost(): void {
    if (!this.client || this.closed) return;
    this.client.close();
    this.client = null;
    this.failures = 0;
    this.setStatus({ state: 'connecting', reason: 'the connection to berthd was lost; reconnecting' });
    this.schedule(FIRST_RETRY_MS);
  }

  /** Errors of calls pass through here: a lost connection starts a reconnect. */
  check(e: unknown): void {
    if (e instanceof HelperError && e.code === 'connection' && !(this.client?.open ?? false)) this.lost();
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.client?.close();
    this.client = null;
  }

  private connectOnce(): Promise<HelperClient | null> {
    if (this.attempt) return this.attempt;
    if (this.closed) return Promise.resolve(null);
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    this.attempt = (async () => {
      try {
        const c = await this.opts.connect();
        if (this.closed) {
          c.close();
          return null;
        }
        const hello = await c.call('hello', {});
        c.unref();
        this.client = c;
        this.failures = 0;
        this.setStatus({ state: 'connected', version: hello.version, cgroupLayout: hello.cgroup.layout, socket: c.socketPath, root: hello.root });
        this.onConnected(c);
        return c;
      } catch (e) {
        this.failures++;
        const { reason, hint } = (this.opts.explain ?? defaultExplain)(e);
        this.setStatus({ state: 'unavailable', reason, ...(hint ? { hint } : {}) });
        this.schedule(Math.min(this.opts.retryMs ?? 5000, FIRST_RETRY_MS * 2 ** this.failures));
        return null;
      } finally {
        this.attempt = null;
      }
    })();
    return this.attempt;
  }

  private schedule(ms: number): void {
    if (this.closed || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.connectOnce();
    }, ms);
    this.timer.unref?.();
  }

  private setStatus(s: HelperStatus): void {
    if (JSON.stringify(s) === JSON.stringify(this.status)) return;
    this.status = s;
    this.onStatus(s);
  }
}
