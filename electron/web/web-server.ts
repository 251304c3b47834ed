// Web mode: the renderer served on 127.0.0.1 with the same typed API as the Electron
// window. POST /api/call carries one BerthApi call; GET /api/events is Server-Sent
// Events for BerthApi's events. Both need the random per-start token.
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';

import { BERTH_API_EVENTS, dispatchCall, type BerthApi, type BerthEventName, type Unsubscribe } from '../core/api';

const MAX_BODY_BYTES = 1024 * 1024;
const HEARTBEAT_MS = 15000;

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
  service: BerthApi;
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

  const handleEvents = (res: http.ServerResponse): void => {
    res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-store', Connection: 'keep-alive', 'X-Accel-Buffering': 'no' });
    res.write(': berth events\n\n');
    sseClients.add(res);
    const subs: Unsubscribe[] = [];
    const push = (event: BerthEventName) => (payload: unknown) => res.write(`event: ${event}\ndata: ${JSON.stringify(payload)}\n\n`);
    for (const ev of BERTH_API_EVENTS) {
      if (ev === 'containersChanged') subs.push(o.service.onContainersChanged(push(ev)));
      else subs.push(o.service.onImagesChanged(push(ev)));
    }
    const beat = setInterval(() => res.write(': keep-alive\n\n'), HEARTBEAT_MS);
    res.on('close', () => {
      clearInterval(beat);
      for (const u of subs) u();
      sseClients.delete(res);
    });
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
