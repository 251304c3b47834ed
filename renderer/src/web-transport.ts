// Web mode's transport: POST /api/call, and Server-Sent Events from /api/events with
// the events this page listens to chosen by POST /api/subscribe; all with the token
// the page was opened with (http://127.0.0.1:PORT/#token=…).
import type { ApiTransport, BerthEventName, CallOutcome } from '../../electron/core/api';

export function tokenFromLocation(hash: string = window.location.hash): string | null {
  const m = /(?:^#|&)token=([^&]+)/.exec(hash);
  return m ? decodeURIComponent(m[1]) : null;
}

export function webTransport(token: string): ApiTransport {
  let source: EventSource | null = null;
  /** The server's name for the current event stream; a new one after each reconnect. */
  let conn: string | null = null;
  const listeners = new Map<BerthEventName, Set<(payload: unknown) => void>>();
  const headers = { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` };

  // One at a time, in order: an off overtaking the on that follows it would leave the page deaf.
  let chain: Promise<unknown> = Promise.resolve();
  const setSubscription = (event: BerthEventName, on: boolean): void => {
    if (!conn) return; // sent for every listened event once the stream is connected
    const body = JSON.stringify({ conn, event, on });
    chain = chain.then(() => fetch('/api/subscribe', { method: 'POST', headers, body }).catch(() => undefined));
  };

  const ensureSource = (): EventSource => {
    if (source) return source;
    const es = new EventSource(`/api/events?token=${encodeURIComponent(token)}`);
    source = es;
    es.addEventListener('connected', (m: MessageEvent<string>) => {
      conn = (JSON.parse(m.data) as { conn: string }).conn;
      for (const [event, set] of listeners) if (set.size > 0) setSubscription(event, true);
    });
    es.addEventListener('error', () => {
      conn = null; // EventSource reconnects by itself; 'connected' comes again
    });
    return es;
  };

  return {
    async call(method, args): Promise<CallOutcome> {
      let res: Response;
      try {
        res = await fetch('/api/call', { method: 'POST', headers, body: JSON.stringify({ method, args }) });
      } catch (e) {
        return { error: { code: 'connection', message: `Berth's web server is not reachable (${e instanceof Error ? e.message : String(e)}); is npm start still running?` } };
      }
      if (res.status === 401) return { error: { code: 'denied', message: 'the web-mode token is missing or wrong: open the address npm start printed' } };
      return (await res.json()) as CallOutcome;
    },
    subscribe(event, listener) {
      const es = ensureSource();
      let set = listeners.get(event);
      if (!set) {
        const s = new Set<(payload: unknown) => void>();
        listeners.set(event, s);
        set = s;
        es.addEventListener(event, (m: MessageEvent<string>) => {
          const payload: unknown = JSON.parse(m.data);
          for (const l of s) l(payload);
        });
      }
      if (set.size === 0) setSubscription(event, true);
      set.add(listener);
      return () => {
        if (set.delete(listener) && set.size === 0) setSubscription(event, false);
      };
    },
  };
}
