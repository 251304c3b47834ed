// The Electron main process: one window on the shared renderer, and the BerthApi
// on ipcMain, channel per call name. Everything else lives in electron/core.
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { app, BrowserWindow, ipcMain, type IpcMainEvent, type WebContents } from 'electron';

import { BERTH_API_CALLS, createBerthService, dispatchCall, isBerthEvent, type BerthApi, type BerthEventName, type Unsubscribe } from '../core/api';
import { ensureDefaultImage } from '../core/default-image';
import { ensureHelper } from '../core/helper-launcher';
import { CALL_CHANNEL_PREFIX, EVENT_CHANNEL_PREFIX, SUBSCRIBE_CHANNEL, UNSUBSCRIBE_CHANNEL } from './channels';

const here = path.dirname(fileURLToPath(import.meta.url));

async function createService(): Promise<BerthApi & { close(): void }> {
  const { client } = await ensureHelper();
  await ensureDefaultImage(client);
  return createBerthService(client);
}

function wireIpc(service: BerthApi): void {
  for (const name of BERTH_API_CALLS) {
    ipcMain.handle(`${CALL_CHANNEL_PREFIX}${name}`, (_e, args: unknown) => dispatchCall(service, name, args));
  }
  const subs = new Map<WebContents, Map<BerthEventName, Unsubscribe>>();
  ipcMain.on(SUBSCRIBE_CHANNEL, (e: IpcMainEvent, event: unknown) => {
    if (!isBerthEvent(event)) return;
    const wc = e.sender;
    let mine = subs.get(wc);
    if (!mine) {
      mine = new Map();
      subs.set(wc, mine);
      wc.once('destroyed', () => {
        for (const u of subs.get(wc)?.values() ?? []) u();
        subs.delete(wc);
      });
    }
    if (mine.has(event)) return;
    const send = (payload: unknown): void => {
      if (!wc.isDestroyed()) wc.send(`${EVENT_CHANNEL_PREFIX}${event}`, payload);
    };
    mine.set(event, event === 'containersChanged' ? service.onContainersChanged(send) : service.onImagesChanged(send));
  });
  ipcMain.on(UNSUBSCRIBE_CHANNEL, (e: IpcMainEvent, event: unknown) => {
    if (!isBerthEvent(event)) return;
    const mine = subs.get(e.sender);
    mine?.get(event)?.();
    mine?.delete(event);
  });
}

async function main(): Promise<void> {
  await app.whenReady();
  const service = await createService();
  wireIpc(service);
  const win = new BrowserWindow({
    width: 1100,
    height: 720,
    title: 'Berth',
    webPreferences: {
      preload: path.join(here, 'preload.cjs'),
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
    },
  });
  // No navigation away from the app and no new windows.
  win.webContents.on('will-navigate', (e) => e.preventDefault());
  win.webContents.setWindowOpenHandler(() => ({ action: 'deny' }));
  await win.loadFile(path.join(here, '../renderer/index.html'));
  app.on('window-all-closed', () => {
    service.close();
    app.quit();
  });
}

main().catch((e: unknown) => {
  console.error(`berth: ${e instanceof Error ? e.message : String(e)}`);
  app.exit(1);
});
