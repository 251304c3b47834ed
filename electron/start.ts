// What `npm start` runs after set-up: connect to (or start) berthd, make sure the
// default image exists, then the Electron window when an Electron binary is
// installed, or web mode on 127.0.0.1 otherwise. Stopping this never stops the
// helper or the containers.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

import { ensureDefaultImage } from './core/default-image';
import { ensureHelper, explainHelperFailure, repoRoot } from './core/helper-launcher';
import { createBerthService } from './core/service';
import { startWebServer } from './web/web-server';

/** The Electron binary's path when one is installed (the npm package without its binary throws). */
export function electronBinary(): string | null {
  try {
    const p: unknown = createRequire(path.join(repoRoot(), 'package.json'))('electron');
    return typeof p === 'string' && fs.existsSync(p) ? p : null;
  } catch {
    return null;
  }
}

export async function startApp(): Promise<number> {
  const repo = repoRoot();
  const electron = electronBinary();
  if (electron) {
    // The window's main process connects (or starts the helper through pkexec) itself.
    const child = spawn(electron, [repo], { stdio: 'inherit', env: process.env });
    return new Promise((resolve) => child.on('exit', (code) => resolve(code ?? 0)));
  }

  let said = false;
  const service = createBerthService({
    connect: async () => {
      const { client, started, paths } = await ensureHelper({ viaPkexec: true });
      if (started) console.log(`started berthd (store ${paths.root}, socket ${paths.socket}, log ${paths.log})`);
      const made = await ensureDefaultImage(client);
      if (made) console.log(`made the default image busybox:latest (${made.id.slice(7, 19)})`);
      return client;
    },
    explain: explainHelperFailure,
  });
  // Say once on the console what the UI shows when the helper cannot be had.
  const offStatus = service.on('helperStatus', (s) => {
    if (s.state === 'unavailable' && !said) {
      said = true;
      console.log(`berthd is not available: ${s.reason ?? ''}${s.hint ? `\n  ${s.hint}` : ''}\n  (Berth keeps trying; the UI shows this too)`);
    } else if (s.state === 'connected') said = false;
  });
  const port = process.env.BERTH_WEB_PORT ? Number(process.env.BERTH_WEB_PORT) : 0;
  const web = await startWebServer({ service, staticDir: path.join(repo, 'dist/renderer'), port });
  console.log(`No Electron binary on this machine: Berth runs in web mode at ${web.url} (open it in a browser)`);
  return new Promise((resolve) => {
    const stop = (): void => {
      offStatus();
      service.close();
      void web.close().then(() => resolve(0));
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}
