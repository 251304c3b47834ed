// The sandboxed preload: exposes one `berth` object to the page, a call/subscribe
// transport limited to BerthApi's names. Results and errors cross as data
// ({result} | {error}); the renderer's api module rebuilds errors (apiFromTransport).
import { contextBridge, ipcRenderer, type IpcRendererEvent } from 'electron';

import { BERTH_API_CALLS, BERTH_API_EVENTS, isBerthCall, isBerthEvent, type ApiTransport, type CallOutcome } from '../core/api';
import { CALL_CHANNEL_PREFIX, EVENT_CHANNEL_PREFIX, SUBSCRIBE_CHANNEL, UNSUBSCRIBE_CHANNEL } from './channels';

const bridge: ApiTransport & { calls: readonly string[]; events: readonly string[] } = {
  calls: BERTH_API_CALLS,
  events: BERTH_API_EVENTS,
  async call(method, args): Promise<CallOutcome> {
    if (!isBerthCall(method)) return { error: { code: 'unknown_method', message: `no such call: ${String(method)}` } };
    return (await ipcRenderer.invoke(`${CALL_CHANNEL_PREFIX}${method}`, Array.isArray(args) ? args : [])) as CallOutcome;
  },
  subscribe(event, listener) {
    if (!isBerthEvent(event)) throw new Error(`no such event: ${String(event)}`);
    const channel = `${EVENT_CHANNEL_PREFIX}${event}`;
    const handler = (_e: IpcRendererEvent, payload: unknown): void => listener(payload);
    ipcRenderer.on(channel, handler);
    ipcRenderer.send(SUBSCRIBE_CHANNEL, event);
    return () => {
      ipcRenderer.off(channel, handler);
      if (ipcRenderer.listenerCount(channel) === 0) ipcRenderer.send(UNSUBSCRIBE_CHANNEL, event);
    };
  },
};

contextBridge.exposeInMainWorld('berth', bridge);
