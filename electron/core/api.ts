// The one API the UI uses, declared once. The Electron preload bridge and the web
// mode both carry exactly these calls (BERTH_API_CALLS) and events (BERTH_API_EVENTS)
// over a generic call/subscribe transport. No Node imports here: the renderer and the
// sandboxed preload import this file too.
import type { ContainerInfo, ContainerSpec, ImageSummary, MethodName, ParamsArg, ResultOf } from './protocol';

/** Request/response calls: name -> (args) => result. */
export interface BerthCalls {
  listContainers(all?: boolean): Promise<ContainerInfo[]>;
  inspectContainer(ref: string): Promise<ContainerInfo>;
  listImages(): Promise<ImageSummary[]>;
  runContainer(spec: ContainerSpec): Promise<ContainerInfo>;
  stop(ref: string, timeoutSeconds?: number): Promise<ContainerInfo>;
  kill(ref: string, signal?: string): Promise<ContainerInfo>;
  remove(ref: string, force?: boolean): Promise<{ id: string }>;
}

/** Pushed events: name -> payload. */
export interface BerthEvents {
  /** Every container (running or not), sent on subscription and whenever one changes. */
  containersChanged: ContainerInfo[];
  /** Every image, sent on subscription and whenever the list changes. */
  imagesChanged: ImageSummary[];
}

export type Unsubscribe = () => void;

export interface BerthApi extends BerthCalls {
  onContainersChanged(listener: (containers: ContainerInfo[]) => void): Unsubscribe;
  onImagesChanged(listener: (images: ImageSummary[]) => void): Unsubscribe;
}

export type BerthCallName = keyof BerthCalls;
export type BerthEventName = keyof BerthEvents;

export const BERTH_API_CALLS = ['listContainers', 'inspectContainer', 'listImages', 'runContainer', 'stop', 'kill', 'remove'] as const satisfies readonly BerthCallName[];
export const BERTH_API_EVENTS = ['containersChanged', 'imagesChanged'] as const satisfies readonly BerthEventName[];

// Compile-time check that the lists are complete.
type Missing<T, L extends readonly unknown[]> = Exclude<T, L[number]>;
const callsComplete: Missing<BerthCallName, typeof BERTH_API_CALLS> extends never ? true : never = true;
const eventsComplete: Missing<BerthEventName, typeof BERTH_API_EVENTS> extends never ? true : never = true;
void callsComplete;
void eventsComplete;

export function isBerthCall(name: unknown): name is BerthCallName {
  return typeof name === 'string' && (BERTH_API_CALLS as readonly string[]).includes(name);
}

export function isBerthEvent(name: unknown): name is BerthEventName {
  return typeof name === 'string' && (BERTH_API_EVENTS as readonly string[]).includes(name);
}

export type CallArgs<N extends BerthCallName> = Parameters<BerthCalls[N]>;
export type CallResult<N extends BerthCallName> = Awaited<ReturnType<BerthCalls[N]>>;

/** What crosses a transport for one call: data only, errors included. */
export type CallOutcome<T = unknown> = { result: T; error?: undefined } | { error: { code: string; message: string }; result?: undefined };

export class BerthApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'BerthApiError';
  }
}

export interface ApiTransport {
  call(method: BerthCallName, args: unknown[]): Promise<CallOutcome>;
  subscribe(event: BerthEventName, listener: (payload: unknown) => void): Unsubscribe;
}

/** Builds the typed API on top of a transport (preload bridge, web client). */
export function apiFromTransport(t: ApiTransport): BerthApi {
  const api: Record<string, unknown> = {};
  for (const name of BERTH_API_CALLS) {
    api[name] = async (...args: unknown[]) => {
      const out = await t.call(name, args);
      if (out.error) throw new BerthApiError(out.error.code, out.error.message);
      return out.result;
    };
  }
  api.onContainersChanged = (l: (c: ContainerInfo[]) => void) => t.subscribe('containersChanged', (p) => l(p as ContainerInfo[]));
  api.onImagesChanged = (l: (i: ImageSummary[]) => void) => t.subscribe('imagesChanged', (p) => l(p as ImageSummary[]));
  return api as unknown as BerthApi;
}

/** Runs one call against a service and turns any error into data. */
export async function dispatchCall(service: BerthApi, method: unknown, args: unknown): Promise<CallOutcome> {
  if (!isBerthCall(method)) return { error: { code: 'unknown_method', message: `no such call: ${String(method)}` } };
  if (!Array.isArray(args)) return { error: { code: 'bad_request', message: 'args must be an array' } };
  try {
    const fn = service[method] as (...a: unknown[]) => Promise<unknown>;
    return { result: await fn.apply(service, args) };
  } catch (e) {
    const code = typeof (e as { code?: unknown }).code === 'string' ? (e as { code: string }).code : 'internal';
    return { error: { code, message: e instanceof Error ? e.message : String(e) } };
  }
}

/** The part of HelperClient the service needs (structural, so this file stays Node-free). */
export interface HelperCaller {
  call<M extends MethodName>(method: M, ...args: ParamsArg<M>): Promise<ResultOf<M>>;
}

const WATCH_INTERVAL_MS = 1000;

/**
 * The BerthApi on top of berthd. berthd has no event method (yet), so while anyone
 * is subscribed the service lists containers and images once a second and pushes
 * only when something changed; the UI itself never polls.
 */
export function createBerthService(client: HelperCaller): BerthApi & { close(): void } {
  const listeners: { [E in BerthEventName]: Set<(p: BerthEvents[E]) => void> } = {
    containersChanged: new Set(),
    imagesChanged: new Set(),
  };
  const last: { containersChanged: string | null; imagesChanged: string | null } = { containersChanged: null, imagesChanged: null };
  const snapshot: Partial<BerthEvents> = {};
  let timer: ReturnType<typeof setInterval> | null = null;
  let busy = false;

  const refresh = async (): Promise<void> => {
    if (busy) return;
    busy = true;
    try {
      if (listeners.containersChanged.size > 0) {
        const { containers } = await client.call('container.list', { all: true });
        publish('containersChanged', containers);
      }
      if (listeners.imagesChanged.size > 0) {
        const { images } = await client.call('image.list', {});
        publish('imagesChanged', images);
      }
    } catch {
      // The helper went away or refused: try again on the next tick.
    } finally {
      busy = false;
    }
  };

  function publish<E extends BerthEventName>(event: E, payload: BerthEvents[E]): void {
    const key = JSON.stringify(payload);
    if (key === last[event]) return;
    last[event] = key;
    snapshot[event] = payload;
    for (const l of listeners[event]) l(payload);
  }

  function subscribe<E extends BerthEventName>(event: E, l: (p: BerthEvents[E]) => void): Unsubscribe {
    listeners[event].add(l);
    const current = snapshot[event];
    if (current !== undefined && last[event] !== null) queueMicrotask(() => l(current as BerthEvents[E]));
    else last[event] = null;
    if (!timer) timer = setInterval(() => void refresh(), WATCH_INTERVAL_MS);
    void refresh();
    return () => {
      listeners[event].delete(l);
      if (listeners.containersChanged.size === 0 && listeners.imagesChanged.size === 0 && timer) {
        clearInterval(timer);
        timer = null;
      }
    };
  }

  /** After a change made through this service, push at once instead of on the next tick. */
  const changed = <T>(p: Promise<T>): Promise<T> => p.finally(() => void refresh());

  return {
    listContainers: async (all = true) => (await client.call('container.list', { all })).containers,
    inspectContainer: (ref) => client.call('container.inspect', { ref }),
    listImages: async () => (await client.call('image.list', {})).images,
    runContainer: (spec) => changed(client.call('container.run', spec)),
    stop: (ref, timeoutSeconds) => changed(client.call('container.stop', timeoutSeconds === undefined ? { ref } : { ref, timeout: timeoutSeconds })),
    kill: (ref, signal) => changed(client.call('container.kill', signal === undefined ? { ref } : { ref, signal })),
    remove: (ref, force) => changed(client.call('container.remove', { ref, force: force === true })),
    onContainersChanged: (l) => subscribe('containersChanged', l),
    onImagesChanged: (l) => subscribe('imagesChanged', l),
    close: () => {
      if (timer) clearInterval(timer);
      timer = null;
      listeners.containersChanged.clear();
      listeners.imagesChanged.clear();
    },
  };
}
