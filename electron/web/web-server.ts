// Web mode: the renderer served on 127.0.0.1 with the same typed API as the Electron
// window. POST /api/call carries one BerthApi call; GET /api/events is a stream of
// Server-Sent Events whose first message names it, and POST /api/subscribe says which
// of BerthApi's events that stream carries. All need the random per-start token.
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';

import { dispatchCall, isBerthEvent, type BerthEventName, type BerthService, type Unsubscribe } from '../core/api';

const MAX_BODY_BYTES = 1024 * 1024;
const HEARTBEAT_MS = 15000;
/** A slow page: past this much unsent, `stats` events are coalesced (only the latest waits). */
const SSE_COALESCE_BYTES = 256 * 1024;
/** A page that stopped reading: past this much unsent, its event stream is closed (EventSource reconnects). */
const SSE_MAX_BYTES = 16 * 1024 * 1024;
const MAX_SSE_CLIENTS = 32;

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.woff2': 'font/woff2',
  '.map': 'application/json',
};

export interface WebServerOptions {
  service: BerthService;
  /** The built renderer (dist/renderer). */
  staticDir: string;
  /** 0 or absent: a random free port. */
  port?: number;
}

export interface WebServer {
  port: number;
  token: string;
  /** http://127.0.0.1:PORT/#token=… */
  url: string;
  close(): Promise<void>;
}

function tokenMatches(given: string | null | undefined, token: string): boolean {
  if (!given) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  return a.length === b.length && crypto.timingSafeEqual(a, b);
}

function send(res: http.ServerResponse, status: number, body: string, type = 'text/plain; charset=utf-8'): void {
  res.writeHead(status, { 'Content-Type': type, 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff' });
  res.end(body);
}

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let size = 0;
    req.on('data', (d: Buffer) => {
      size += d.length;
      if (size > MAX_BODY_BYTES) {
        reject(new Error('request body too large'));
        req.destroy();
        return;
      }
      parts.push(d);
    });
    req.on('end', () => resolve(Buffer.concat(parts).toString('utf8')));
    req.on('error', reject);
  });
}

export async function startWebServer(o: WebServerOptions): Promise<WebServer> {
  const token = crypto.randomBytes(32).toString('base64url');
  const staticRoot = path.resolve(o.staticDir);
  const sseClients = new Set<http.ServerResponse>();
  let port = 0;

  // Requests must name our own address: a page from elsewhere resolving to 127.0.0.1 (DNS rebinding) is refused.
  const hostOk = (host: string | undefined): boolean => host === `127.0.0.1:${port}` || host === `localhost:${port}`;

  const serveStatic = (pathname: string, res: http.ServerResponse): void => {
    const rel = pathname === '/' ? 'index.html' : decodeURIComponent(pathname).replace(/^\/+/, '');
    const file = path.resolve(staticRoot, rel);
    if (file !== staticRoot && !file.startsWith(staticRoot + path.sep)) return send(res, 404, 'not found\n');
    fs.readFile(file, (e, data) => {
      if (e) {
        if (!fs.existsSync(path.join(staticRoot, 'index.html'))) return send(res, 503, `the renderer is not built (${staticRoot}); run npm run build\n`);
        return send(res, 404, 'not found\n');
      }
      res.writeHead(200, {
        'Content-Type': CONTENT_TYPES[path.extname(file)] ?? 'application/octet-stream',
        'Cache-Control': rel === 'index.html' ? 'no-store' : 'max-age=3600',
        'X-Content-Type-Options': 'nosniff',
        'Referrer-Policy': 'no-referrer',
        'Content-Security-Policy': "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'",
      });
      res.end(data);
    });
  };

  // One event stream per page. Its first message names the connection; the page then
  // says which events it wants (POST /api/subscribe), so the service samples stats
  // only while a page shows them.
  const sse = new Map<string, { res: http.ServerResponse; subs: Map<BerthEventName, Unsubscribe>; heldStats: string | null }>();

  const handleEvents = (res: http.ServerResponse): void => {
    if (sse.size >= MAX_SSE_CLIENTS) return send(res, 429, 'too many event streams\n');
    const id = crypto.randomUUID();
    res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-store', Connection: 'keep-alive', 'X-Accel-Buffering': 'no' });
    const client = { res, subs: new Map<BerthEventName, Unsubscribe>(), heldStats: null as string | null };
    sse.set(id, client);
    sseClients.add(res);
    res.write(`event: connected\ndata: ${JSON.stringify({ conn: id })}\n\n`);
    res.on('drain', () => {
      if (client.heldStats !== null && res.writableLength < SSE_COALESCE_BYTES) {
        res.write(client.heldStats);
        client.heldStats = null;
      }
    });
    const beat = setInterval(() => res.write(': keep-alive\n\n'), HEARTBEAT_MS);
    res.on('close', () => {
      clearInterval(beat);
      for (const u of client.subs.values()) u();
      sse.delete(id);
      sseClients.delete(res);
    });
  };

  const pushTo = (client: { res: http.ServerResponse; heldStats: string | null }, event: BerthEventName) => (payload: unknown) => {
    const { res } = client;
    if (res.writableEnded) return;
    const msg = `event: ${event}\ndata: ${JSON.stringify(payload)}\n\n`;
    if (res.writableLength > SSE_MAX_BYTES) {
      res.end();
      return;
    }
    if (event === 'stats' && res.writableLength > SSE_COALESCE_BYTES) {
      client.heldStats = msg;
      return;
    }
    res.write(msg);
  };

  const handleSubscribe = (body: string): { status: number; body: string } => {
    let parsed: { conn?: unknown; event?: unknown; on?: unknown };
    try {
      parsed = JSON.parse(body) as typeof parsed;
    } catch {
      return { status: 400, body: JSON.stringify({ error: { code: 'bad_request', message: 'the body is not JSON' } }) };
    }
    const client = typeof parsed.conn === 'string' ? sse.get(parsed.conn) : undefined;
    if (!client) return { status: 404, body: JSON.stringify({ error: { code: 'not_found', message: 'no such event stream' } }) };
    if (!isBerthEvent(parsed.event)) return { status: 400, body: JSON.stringify({ error: { code: 'bad_request', message: `no such event: ${String(parsed.event)}` } }) };
    const ev = parsed.event;
    if (parsed.on === false) {
      client.subs.get(ev)?.();
      client.subs.delete(ev);
    } else if (!client.subs.has(ev)) {
      client.subs.set(ev, o.service.on(ev, pushTo(client, ev)));
    }
    return { status: 200, body: JSON.stringify({ result: null }) };
  };

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (!hostOk(req.headers.host)) return send(res, 421, 'wrong host\n');
    if (url.pathname === '/api/call') {
      const auth = req.headers.authorization ?? '';
      if (!tokenMatches(auth.startsWith('Bearer ') ? auth.slice(7) : null, token)) return send(res, 401, 'missing or wrong token\n');
      if (req.method !== 'POST') return send(res, 405, 'POST only\n');
      readBody(req)
        .then(async (body) => {
          let parsed: { method?: unknown; args?: unknown };
          try {
            parsed = JSON.parse(body) as { method?: unknown; args?: unknown };
          } catch {
            return send(res, 400, JSON.stringify({ error: { code: 'bad_request', message: 'the body is not JSON' } }), 'application/json');
          }
          const outcome = await dispatchCall(o.service, parsed.method, parsed.args ?? []);
          send(res, 200, JSON.stringify(outcome), 'application/json');
        })
        .catch((e: Error) => send(res, 413, JSON.stringify({ error: { code: 'too_large', message: e.message } }), 'application/json'));
      return;
    }
    if (url.pathname === '/api/subscribe') {
      const auth = req.headers.authorization ?? '';
      if (!tokenMatches(auth.startsWith('Bearer ') ? auth.slice(7) : null, token)) return send(res, 401, 'missing or wrong token\n');
      if (req.method !== 'POST') return send(res, 405, 'POST only\n');
      readBody(req)
        .then((body) => {
          const r = handleSubscribe(body);
          send(res, r.status, r.body, 'application/json');
        })
        .catch((e: Error) => send(res, 413, JSON.stringify({ error: { code: 'too_large', message: e.message } }), 'application/json'));
      return;
    }
    if (url.pathname === '/api/events') {
      const auth = req.headers.authorization ?? '';
      const given = url.searchParams.get('token') ?? (auth.startsWith('Bearer ') ? auth.slice(7) : null);
      if (!tokenMatches(given, token)) return send(res, 401, 'missing or wrong token\n');
      return handleEvents(res);
    }
    if (url.pathname.startsWith('/api/')) return send(res, 404, 'no such endpoint\n');
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'GET only\n');
    serveStatic(url.pathname, res);
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port ?? 0, '127.0.0.1', () => resolve());
  });
  const addr = server.address();
  port = typeof addr === 'object' && addr ? addr.port : 0;
  return {
    port,
    token,
    url: `http://127.0.0.1:${port}/#token=${token}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const c of sseClients) c.end();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
