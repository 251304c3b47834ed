// The renderer's one entry to Berth: the Electron preload bridge (window.berth) when
// present, the web-mode transport otherwise; both typed by BerthApi.
import { apiFromTransport, type ApiTransport, type BerthApi } from '../../electron/core/api';
import { tokenFromLocation, webTransport } from './web-transport';

declare global {
  interface Window {
    /** Set by the Electron preload (electron/shell/preload.ts). */
    berth?: ApiTransport;
  }
}

function pickTransport(): ApiTransport {
  if (window.berth) return window.berth;
  const token = tokenFromLocation();
  if (!token) {
    const fail = { error: { code: 'denied', message: 'no token in the address: open the http://127.0.0.1:PORT/#token=… address that npm start printed' } };
    return { call: () => Promise.resolve(fail), subscribe: () => () => undefined };
  }
  return webTransport(token);
}

export const api: BerthApi = apiFromTransport(pickTransport());
export const hasToken = (): boolean => Boolean(window.berth) || tokenFromLocation() !== null;
