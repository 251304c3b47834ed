#!/usr/bin/env node
// Renderer benchmark (not a test; prints figures). Drives the real renderer, built from
// renderer/, in Debian's Chromium. The data is SYNTHETIC: no helper is involved. A fake
// event source is injected as the preload bridge (window.berth, the same ApiTransport the
// Electron window uses), answering calls with made-up containers and pushing made-up
// `stats` events, so the figures are the renderer's own cost.
//
//  1. Containers view with 200 containers: time to the first render of all 200 rows, and
//     the time to apply one stats event (a sparkline update for all 200 rows) to the DOM.
//  2. JS heap after BENCH_RENDERER_MINUTES (default 10) of live charts for 20 containers,
//     one stats event a second: one page on the containers list (20 sparklines), one on a
//     container's Resources tab (recharts, 5 minutes kept). Start and end heap after a
//     forced GC, and the slope.
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { chromium } from 'playwright-core';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const MINUTES = Number(process.env.BENCH_RENDERER_MINUTES ?? 10);
const CHROMIUM = process.env.BENCH_CHROMIUM ?? '/usr/bin/chromium';
const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-background-timer-throttling', '--disable-renderer-backgrounding', '--enable-precise-memory-info'];

if (!fs.existsSync(CHROMIUM)) {
  console.log(`renderer bench skipped: ${CHROMIUM} is missing`);
  process.exit(0);
}

// --- build the renderer into a temp dir and serve it --------------------------------
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-bench-renderer-'));
const vite = await import('vite');
await vite.build({ configFile: path.join(repo, 'renderer/vite.config.ts'), logLevel: 'warn', build: { outDir: tmp, emptyOutDir: true } });

const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.svg': 'image/svg+xml' };
const server = http.createServer((req, res) => {
  const rel = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname).replace(/^\/+/, '') || 'index.html';
  const file = path.resolve(tmp, rel);
  if (!file.startsWith(tmp)) return void res.writeHead(404).end();
  fs.readFile(file, (e, data) => {
    if (e) return void res.writeHead(404).end();
    res.writeHead(200, { 'Content-Type': TYPES[path.extname(file)] ?? 'application/octet-stream' });
    res.end(data);
  });
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const url = `http://127.0.0.1:${server.address().port}/`;

// --- the fake event source, run in the page before the app ---------------------------
function fakeBridge(n) {
  const t0 = Date.now() - 3600_000;
  const containers = Array.from({ length: n }, (_, i) => {
    const id = (i.toString(16).padStart(4, '0') + 'c0ffee'.repeat(10)).slice(0, 64);
    return {
      id,
      shortId: id.slice(0, 12),
      name: `synthetic-${String(i).padStart(3, '0')}`,
      image: 'busybox:latest',
      imageId: 'sha256:' + 'ab'.repeat(32),
      command: ['sh', '-c', `while :; do work ${i}; done`],
      status: 'running',
      created: new Date(t0 + i * 1000).toISOString(),
      startedAt: new Date(t0 + i * 1000).toISOString(),
      finishedAt: null,
      pid: 10000 + i,
      monitorPid: 9000 + i,
      exitCode: null,
      exitSignal: null,
      exitReason: null,
      oomKilled: false,
      network: { mode: 'bridge', name: 'bridge', ip: `10.89.0.${i % 250}`, prefixLen: 16, gateway: '10.89.0.1', mac: null },
      ports: [],
      mounts: [],
      restart: { policy: 'no', count: 0, nextAttempt: null },
    };
  });
  const listeners = new Map();
  let tick = 0;
  const usage = new Array(n).fill(0);
  const statsEvent = () => {
    tick++;
    const time = new Date().toISOString();
    const samples = {};
    containers.forEach((c, i) => {
      const cpu = 20 + 15 * Math.sin((tick + i) / 5) + Math.random() * 5;
      usage[i] += cpu * 1e7;
      samples[c.id] = {
        id: c.id,
        time,
        memory: { usage: (20 + 10 * Math.sin((tick + i * 3) / 9)) * 1048576, limit: i % 2 ? 64 * 1048576 : null },
        cpu: { usageNs: usage[i], quotaCpus: i % 3 ? null : 0.5 },
        pids: { current: 3 + ((tick + i) % 5), limit: i % 2 ? 64 : null },
        oomKills: 0,
        cpuPercent: cpu,
      };
    });
    return { time, samples };
  };
  const emit = (event, payload) => {
    for (const l of listeners.get(event) ?? []) l(payload);
  };
  const results = {
    helperStatus: { state: 'connected', version: 'synthetic', cgroupLayout: 'unified' },
    listContainers: containers,
    listImages: [],
    listPulls: [],
    listTerminals: [],
  };
  window.berth = {
    call: async (method, args) => {
      if (method === 'inspectContainer') return { result: { ...containers.find((c) => c.id === args[0]), spec: {}, namespaces: {}, timeline: [] } };
      return { result: method in results ? results[method] : null };
    },
    subscribe: (event, l) => {
      const s = listeners.get(event) ?? new Set();
      s.add(l);
      listeners.set(event, s);
      if (event === 'containersChanged') queueMicrotask(() => l(containers));
      if (event === 'helperStatus') queueMicrotask(() => l(results.helperStatus));
      return () => s.delete(l);
    },
  };
  window.__bench = {
    statsEvent,
    emit,
    emitStats: () => emit('stats', statsEvent()),
    start: (ms) => setInterval(() => emit('stats', statsEvent()), ms),
    rowsAt: null,
  };
  // When the last row appears: the first render, measured from navigation start.
  new MutationObserver((_, obs) => {
    if (document.querySelectorAll('[data-testid=container-row]').length >= n) {
      window.__bench.rowsAt = performance.now();
      obs.disconnect();
    }
  }).observe(document, { subtree: true, childList: true });
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const pct = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))];
const fmtMs = (x) => `${x.toFixed(1)} ms`;
const fmtMB = (b) => `${(b / 1048576).toFixed(2)} MB`;

const browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS, headless: true });
try {
  console.log('renderer bench: SYNTHETIC data (a fake event source injected as the preload bridge; no helper, no containers)');

  // --- 1. 200 containers ---------------------------------------------------------------
  {
    const ctx = await browser.newContext({ viewport: { width: 1440, height: 900 } });
    const page = await ctx.newPage();
    await page.addInitScript(fakeBridge, 200);
    const firstRenders = [];
    for (let run = 0; run < 3; run++) {
      await page.goto(url);
      await page.waitForFunction(() => window.__bench.rowsAt !== null, null, { timeout: 30000 });
      firstRenders.push(await page.evaluate(() => window.__bench.rowsAt));
    }
    // Fill the sparklines' window first (60 samples), then time single updates.
    await page.evaluate(() => {
      for (let i = 0; i < 60; i++) window.__bench.emitStats();
    });
    const updates = await page.evaluate(async () => {
      const out = [];
      for (let i = 0; i < 40; i++) {
        await new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0)));
        const ev = window.__bench.statsEvent();
        const before = document.querySelector('[data-testid=container-row] .spark.cpu path.spark-line')?.getAttribute('d');
        const t0 = performance.now();
        window.__bench.emit('stats', ev);
        const tSync = performance.now();
        // React flushes an external-store update in a microtask; a macrotask runs after it.
        await new Promise((r) => setTimeout(r, 0));
        const t1 = performance.now();
        const after = document.querySelector('[data-testid=container-row] .spark.cpu path.spark-line')?.getAttribute('d');
        out.push({ ms: t1 - t0, syncMs: tSync - t0, changed: before !== after });
      }
      return out;
    });
    const ms = updates.map((u) => u.ms);
    const syncMs = updates.map((u) => u.syncMs);
    console.log(`containers view, 200 containers: first render ${fmtMs(median(firstRenders))} from navigation start (median of 3: ${firstRenders.map((x) => x.toFixed(0)).join(', ')} ms)`);
    console.log(
      `containers view, 200 containers: one stats event applied to all 200 rows (400 sparklines) in ${fmtMs(median(ms))} median, ${fmtMs(pct(ms, 0.95))} p95 over ${ms.length} events (of which the store and the sparkline redraws, synchronous: ${fmtMs(median(syncMs))} median); DOM changed in ${updates.filter((u) => u.changed).length}/${ms.length}`,
    );
    await ctx.close();
  }

  // --- 2. heap over time, 20 containers ------------------------------------------------
  {
    const minutes = MINUTES;
    const pages = [];
    for (const view of ['list', 'resources']) {
      const ctx = await browser.newContext({ viewport: { width: 1440, height: 900 } });
      const page = await ctx.newPage();
      await page.addInitScript(fakeBridge, 20);
      await page.goto(url);
      await page.waitForFunction(() => window.__bench.rowsAt !== null, null, { timeout: 30000 });
      if (view === 'resources') {
        await page.locator('[data-testid=container-row]').first().click();
        await page.getByRole('tab', { name: 'Resources' }).click();
      }
      await page.evaluate(() => window.__bench.start(1000));
      const cdp = await ctx.newCDPSession(page);
      await cdp.send('HeapProfiler.enable');
      pages.push({ view, page, cdp, samples: [] });
    }
    const heap = async (p) => {
      await p.cdp.send('HeapProfiler.collectGarbage');
      const { usedSize } = await p.cdp.send('Runtime.getHeapUsage');
      return usedSize;
    };
    const t0 = Date.now();
    const end = t0 + minutes * 60_000;
    const every = Math.max(5_000, Math.min(30_000, (minutes * 60_000) / 20));
    console.log(`heap: ${minutes} minute(s) of live stats (1 event/s) for 20 containers, sampled every ${(every / 1000).toFixed(0)} s after a forced GC…`);
    for (;;) {
      const now = Date.now();
      for (const p of pages) p.samples.push({ min: (now - t0) / 60_000, bytes: await heap(p) });
      if (now >= end) break;
      await new Promise((r) => setTimeout(r, Math.min(every, Math.max(0, end - now))));
    }
    for (const p of pages) {
      const s = p.samples;
      // Least-squares slope over the second half (the 5-minute rings are full by then when minutes >= 10).
      const half = s.filter((x) => x.min >= s[s.length - 1].min / 2);
      const slope = (pts) => {
        const n = pts.length;
        if (n < 2) return 0;
        const mx = pts.reduce((a, x) => a + x.min, 0) / n;
        const my = pts.reduce((a, x) => a + x.bytes, 0) / n;
        const num = pts.reduce((a, x) => a + (x.min - mx) * (x.bytes - my), 0);
        const den = pts.reduce((a, x) => a + (x.min - mx) ** 2, 0);
        return den > 0 ? num / den : 0;
      };
      const rows = await p.page.locator('[data-testid=container-row]').count();
      const charts = await p.page.locator('.recharts-surface').count();
      console.log(
        `heap, ${p.view === 'list' ? `containers list (${rows} rows, ${rows * 2} sparklines)` : `Resources tab (${charts} recharts charts, 300 points each)`}: ` +
          `start ${fmtMB(s[0].bytes)}, end ${fmtMB(s[s.length - 1].bytes)}, max ${fmtMB(Math.max(...s.map((x) => x.bytes)))}; ` +
          `slope ${(slope(s) / 1024).toFixed(1)} KB/min over the run, ${(slope(half) / 1024).toFixed(1)} KB/min over the second half`,
      );
    }
  }
} finally {
  await browser.close();
  server.close();
  fs.rmSync(tmp, { recursive: true, force: true });
}
