// The Electron main process: one window on the shared renderer, a tray icon that
// keeps Berth at hand while the window is closed, and the BerthApi on ipcMain,
// channel per call name. Everything else lives in electron/core.
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { app, BrowserWindow, ipcMain, Menu, nativeImage, Tray, type IpcMainEvent, type MenuItemConstructorOptions, type WebContents } from 'electron';

import { BERTH_API_CALLS, dispatchCall, isBerthEvent, type BerthEventName, type BerthService, type ContainerInfo, type Unsubscribe } from '../core/api';
import { ensureDefaultImage } from '../core/default-image';
import { ensureHelper, explainHelperFailure } from '../core/helper-launcher';
import { createBerthService } from '../core/service';
import { CALL_CHANNEL_PREFIX, EVENT_CHANNEL_PREFIX, SUBSCRIBE_CHANNEL, UNSUBSCRIBE_CHANNEL } from './channels';

const here = path.dirname(fileURLToPath(import.meta.url));

/** The service never fails to start: without berthd the window opens and says why (helperStatus). */
function createService(): BerthService {
  return createBerthService({
    connect: async () => {
      const { client } = await ensureHelper({ viaPkexec: true });
      await ensureDefaultImage(client);
      return client;
    },
    explain: explainHelperFailure,
  });
}

function wireIpc(service: BerthService): void {
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
    mine.set(event, service.on(event, send));
  });
  ipcMain.on(UNSUBSCRIBE_CHANNEL, (e: IpcMainEvent, event: unknown) => {
    if (!isBerthEvent(event)) return;
    const mine = subs.get(e.sender);
    mine?.get(event)?.();
    mine?.delete(event);
  });
}

function buildMenu(): void {
  const template: MenuItemConstructorOptions[] = [
    { label: 'Berth', submenu: [{ role: 'about' }, { type: 'separator' }, { role: 'quit' }] },
    { role: 'editMenu' },
    {
      label: 'View',
      submenu: [{ role: 'reload' }, { role: 'toggleDevTools' }, { type: 'separator' }, { role: 'resetZoom' }, { role: 'zoomIn' }, { role: 'zoomOut' }, { type: 'separator' }, { role: 'togglefullscreen' }],
    },
    { role: 'windowMenu' },
  ];
  Menu.setApplicationMenu(Menu.buildFromTemplate(template));
}

/** The icon next to the dev tree (dist/electron/../../assets) or in a package's resources. */
function iconPath(name: string): string {
  return app.isPackaged ? path.join(process.resourcesPath, name) : path.join(here, '../../assets', name);
}

/**
 * The tray: shows how many containers run, opens the window, quits. Closing the window
 * leaves Berth here (containers never depend on the GUI anyway).
 */
function buildTray(service: BerthService, show: () => void, quit: () => void): Tray {
  const tray = new Tray(nativeImage.createFromPath(iconPath('icon-22.png')));
  const render = (list: ContainerInfo[] | null): void => {
    const running = list?.filter((c) => c.status === 'running').length ?? 0;
    const label = list === null ? 'Containers: unknown' : `${running} container${running === 1 ? '' : 's'} running`;
    tray.setToolTip(`Berth: ${label.toLowerCase()}`);
    tray.setContextMenu(
      Menu.buildFromTemplate([
        { label, enabled: false },
        { type: 'separator' },
        { label: 'Open Berth', click: show },
        { label: 'Quit Berth', click: quit },
      ]),
    );
  };
  render(null);
  service.on('containersChanged', render);
  tray.on('click', show);
  return tray;
}

async function main(): Promise<void> {
  await app.whenReady();
  buildMenu();
  const service = createService();
  wireIpc(service);
  let quitting = false;
  const win = new BrowserWindow({
    width: 1100,
    height: 720,
    title: 'Berth',
    icon: iconPath('icon-256.png'),
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
  const show = (): void => {
    win.show();
    win.focus();
  };
  const quit = (): void => {
    quitting = true;
    service.close();
    app.quit();
  };
  const tray = buildTray(service, show, quit);
  // Closing the window hides it while the tray is there; Quit (menu, tray) ends the app.
  win.on('close', (e) => {
    if (!quitting && !tray.isDestroyed()) {
      e.preventDefault();
      win.hide();
    }
  });
  app.on('before-quit', () => {
    quitting = true;
  });
  await win.loadFile(path.join(here, '../renderer/index.html'));
  app.on('window-all-closed', quit);
}

main().catch((e: unknown) => {
  console.error(`berth: ${e instanceof Error ? e.message : String(e)}`);
  app.exit(1);
});
