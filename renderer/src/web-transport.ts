// Web mode's transport: POST /api/call and Server-Sent Events from /api/events, both
// with the token the page was opened with (http://127.0.0.1:PORT/#token=…).
import type { ApiTransport, BerthEventName, CallOutcome } from '../../electron/core/api';

export function tokenFromLocation(hash: string = window.location.hash): string | null {
  const m = /(?:^#|&)token=([^&]+)/.exec(hash);
  return m ? decodeURIComponent(m[1]) : null;
}

export function webTransport(token: string): ApiTransport {
  let source: EventSource | null = null;
  const listeners = new Map<BerthEventName, Set<(payload: unknown) => void>>();

  const ensureSource = (): EventSource => {
    if (source) return source;
    source = new EventSource(`/api/events?token=${encodeURIComponent(token)}`);
    return source;
  };

  return {
    async call(method, args): Promise<CallOutcome> {
      const res = await fetch('/api/call', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` },
        body: JSON.stringify({ method, args }),
      });
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
      set.add(listener);
      return () => {
        set.delete(listener);
      };
    },
  };
}
