// The one API the UI uses, declared once. The Electron preload bridge and the web
// mode both carry exactly these calls (BERTH_API_CALLS) and events (BERTH_API_EVENTS)
// over a generic call/subscribe transport. No Node imports here: the renderer and the
// sandboxed preload import this file too. The implementation on top of berthd is
// electron/core/service/ (Node only).
import type {
  CgroupLayout,
  ContainerDiff,
  ContainerInfo,
  ContainerInterfaces,
  ContainerSpec,
  ExitInfo,
  ImageConfig,
  ImageDetails,
  ImageImportFormat,
  ImageLayers,
  ImageSummary,
  NetworkCreateParams,
  NetworkInfo,
  Stats,
  TopProcess,
  TreeListing,
  VolumeInfo,
} from './protocol';

export type {
  ContainerDiff,
  ContainerInfo,
  ContainerInterfaces,
  ContainerSpec,
  ExitInfo,
  ImageDetails,
  ImageLayers,
  ImageSummary,
  NetworkCreateParams,
  NetworkInfo,
  Stats,
  TopProcess,
  TreeListing,
  VolumeInfo,
} from './protocol';

// ---------------------------------------------------------------------------
// Data types of the API (beyond the protocol's own)

/** Whether berthd can be reached; pushed as `helperStatus` whenever it changes. */
export interface HelperStatus {
  state: 'connected' | 'connecting' | 'unavailable';
  /** Why it is not connected ("berthd is not running (/run/berth/berthd.sock: ENOENT)"). */
  reason?: string;
  /** What the user can do about it, one sentence (a command to run). */
  hint?: string;
  /** berthd's version, when connected. */
  version?: string;
  cgroupLayout?: CgroupLayout;
  socket?: string;
  /** berthd's store directory, when connected. */
  root?: string;
}

/** One line of a container's log (records joined across partial `P` records). */
export interface LogLine {
  /** RFC 3339 with nanoseconds, UTC: when the container wrote it */
  time: string;
  stream: 'stdout' | 'stderr';
  text: string;
}

/** A container's resource sample: the protocol's Stats plus CPU use since the previous sample. */
export interface StatsSample extends Stats {
  /** 100 = one full core, since the previous sample; null on the first sample. */
  cpuPercent: number | null;
}

export interface TerminalOptions {
  /** default: ["/bin/sh"] */
  cmd?: string[];
  rows: number;
  cols: number;
}

/** A terminal session (exec with a PTY) kept by the service, so it survives view switches and reloads. */
export interface TerminalInfo {
  session: string;
  containerId: string;
  cmd: string[];
  /** host PID of the exec'd process */
  pid: number;
  rows: number;
  cols: number;
  /** ISO time */
  started: string;
  /** set once the process has exited (the session stays listed until closeTerminal) */
  exit?: ExitInfo;
}

/** The output the service still holds for a terminal (the last 256 KiB). */
export interface TerminalBacklog {
  /** base64 of the PTY bytes */
  data: string;
  /** byte position of data's first byte in the session's whole output */
  offset: number;
  exit?: ExitInfo;
}

/** Where one layer of a pull is; the same shape as the registry client's LayerProgress. */
export interface PullLayerProgress {
  digest: string;
  /** compressed bytes */
  size: number;
  /** bytes the store has */
  done: number;
  status: 'waiting' | 'exists' | 'downloading' | 'extracting' | 'done';
  resumedFrom?: number;
}

/** One snapshot of a pull; the same shape as the registry client's PullProgress. */
export interface PullProgressInfo {
  ref: string;
  manifestDigest: string;
  indexDigest?: string;
  platform?: string;
  phase: 'layers' | 'committing' | 'done';
  layers: PullLayerProgress[];
}

export interface PullState {
  pull: string;
  /** the reference as the user typed it */
  ref: string;
  started: string;
  progress?: PullProgressInfo;
}

export interface ApiErrorInfo {
  code: string;
  message: string;
}

export interface ImportOptions {
  format?: ImageImportFormat;
  ref?: string;
  config?: ImageConfig;
}

// ---------------------------------------------------------------------------
// Calls

/** Request/response calls: name -> (args) => result. All arguments and results are plain data. */
export interface BerthCalls {
  /** Is berthd reachable? Never fails; see also the `helperStatus` event. */
  helperStatus(): Promise<HelperStatus>;

  // Containers
  /** Every container (`all`, the default) or the running ones. */
  listContainers(all?: boolean): Promise<ContainerInfo[]>;
  /** One container with its spec, rootfs, cgroup paths, namespaces (inode vs host's) and start timeline. */
  inspectContainer(ref: string): Promise<ContainerInfo>;
  /** Creates and starts a container (detached); resolves once its command runs. */
  runContainer(spec: ContainerSpec): Promise<ContainerInfo>;
  /** Starts a created or exited container again. */
  startContainer(ref: string): Promise<ContainerInfo>;
  /** SIGTERM, then SIGKILL after timeoutSeconds (10); resolves when it has exited. */
  stop(ref: string, timeoutSeconds?: number): Promise<ContainerInfo>;
  /** Sends a signal (name or number as text; SIGKILL by default). */
  kill(ref: string, signal?: string): Promise<ContainerInfo>;
  /** Freezes every process of a running container (its cgroup's freezer); it stays running, `paused`. */
  pause(ref: string): Promise<ContainerInfo>;
  /** Lets a paused container's processes run again. */
  unpause(ref: string): Promise<ContainerInfo>;
  /** Removes a container; a running one only with force (kills it first). */
  /** volumes: also remove the container's anonymous volumes that no other container uses */
  remove(ref: string, force?: boolean, volumes?: boolean): Promise<{ id: string }>;
  /** Removes every stopped container (created or exited); reclaimedBytes: their writable layers. */
  pruneContainers(): Promise<{ removed: string[]; reclaimedBytes: number }>;
  /** Stops it (as stop) if it runs, then starts it again; resets its restart count. */
  restartContainer(ref: string, timeoutSeconds?: number): Promise<ContainerInfo>;
  /** The container's interfaces and routes beside the helper's (the host's): `ip addr` and `ip route` on each side. */
  containerInterfaces(ref: string): Promise<ContainerInterfaces>;
  /** Every process in the container's cgroup; `nspid` is [host PID, …, container PID]. */
  topContainer(ref: string): Promise<TopProcess[]>;
  /** One resource sample now (the `stats` event gives them every second). */
  containerStats(ref: string): Promise<Stats>;
  /** The log so far (the last `tail` lines), parsed. */
  containerLogs(ref: string, opts?: { tail?: number }): Promise<LogLine[]>;
  /** Follows the log: `logLines` events with this stream id (the tail first), `logEnd` when the container has exited. Prefer followLogStream() in api-streams.ts, which closes the race between this reply and the first events. */
  followLogs(ref: string, opts?: { tail?: number }): Promise<{ stream: string }>;
  /** Stops a log follow. Unknown ids are ignored. */
  stopFollow(stream: string): Promise<void>;

  // Terminals (exec with a PTY; output as `terminalOutput` events)
  /** Opens a shell in a running container. Prefer attachTerminal() in api-streams.ts to read its output without gaps. */
  openTerminal(ref: string, opts: TerminalOptions): Promise<TerminalInfo>;
  /** Keystrokes (xterm's onData string, sent as UTF-8). */
  terminalInput(session: string, data: string): Promise<void>;
  terminalResize(session: string, rows: number, cols: number): Promise<void>;
  /** Ends the session (hangs up the shell) and forgets it. Unknown ids are ignored. */
  closeTerminal(session: string): Promise<void>;
  /** Every session the service holds (also exited ones not yet closed). */
  listTerminals(): Promise<TerminalInfo[]>;
  /** The output still held for a session (bounded), to redraw a terminal after a view switch. */
  terminalBacklog(session: string): Promise<TerminalBacklog>;

  // Images
  listImages(): Promise<ImageSummary[]>;
  inspectImage(ref: string): Promise<ImageDetails>;
  /** Per-layer facts (created-by, files added/modified/deleted, shadowed and wasted bytes) and efficiency. */
  imageLayers(ref: string): Promise<ImageLayers>;
  /** One directory of one layer (0 = base); whiteouts come as change 'deleted' / 'opaque'. Paged. */
  imageTree(ref: string, layer: number, path?: string, offset?: number, limit?: number): Promise<TreeListing>;
  /** The container's own writable layer (docker diff). */
  containerDiff(ref: string): Promise<ContainerDiff>;
  /** One directory of the container's writable layer. Paged. */
  containerTree(ref: string, path?: string, offset?: number, limit?: number): Promise<TreeListing>;
  /** Starts a registry pull: `pullProgress` events, then one `pullDone`. Prefer watchPull() in api-streams.ts. */
  pullImage(ref: string, opts?: { insecure?: boolean }): Promise<{ pull: string }>;
  /** Cancels a pull (it ends with pullDone carrying error code 'cancelled'). */
  cancelPull(pull: string): Promise<void>;
  /** Pulls in flight, with their last progress. */
  listPulls(): Promise<PullState[]>;
  /** Imports an image file or OCI layout directory that is on the machine berthd runs on. */
  importImage(path: string, opts?: ImportOptions): Promise<ImageSummary[]>;
  /** Removes an image (its layers stay while other images or containers use them). */
  removeImage(ref: string, force?: boolean): Promise<{ removed: string[]; untagged?: string[] }>;
  /** Removes the untagged images no container uses; with all, every image no container uses. */
  pruneImages(all?: boolean): Promise<{ removed: string[]; reclaimedBytes: number }>;

  // Networks
  /** Every network, the default `bridge` first as berthd lists it. */
  listNetworks(): Promise<NetworkInfo[]>;
  /** A user network (a Linux bridge with its own subnet; the next free /24 of 10.90.0.0/16 unless given). */
  createNetwork(params: NetworkCreateParams): Promise<NetworkInfo>;
  /** Refused (conflict) while a container, running or not, names it. */
  removeNetwork(ref: string): Promise<{ id: string }>;

  // Volumes
  /** Every named volume (sizeBytes null: inspectVolume computes it). */
  listVolumes(): Promise<VolumeInfo[]>;
  /** One volume with its size in bytes. */
  inspectVolume(name: string): Promise<VolumeInfo>;
  /** A new named volume (a generated name when none is given). */
  createVolume(name?: string): Promise<VolumeInfo>;
  /** Refused (conflict) while any container, running or not, uses it. */
  removeVolume(name: string, force?: boolean): Promise<{ name: string }>;
  /** Removes the anonymous volumes no container uses; with all, every volume no container uses. */
  pruneVolumes(all?: boolean): Promise<{ removed: string[]; reclaimedBytes: number }>;
}

// ---------------------------------------------------------------------------
// Events

/** Pushed events: name -> payload. */
export interface BerthEvents {
  /** Every container (running or not), sent on subscription and whenever one changes. */
  containersChanged: ContainerInfo[];
  /** Every image, sent on subscription and whenever the list changes. */
  imagesChanged: ImageSummary[];
  /** Every network, sent on subscription and whenever one changes (also its containers). */
  networksChanged: NetworkInfo[];
  /** Every volume (sizeBytes null), sent on subscription and whenever one changes (also who uses it). */
  volumesChanged: VolumeInfo[];
  /** Every second while subscribed: one sample per running container, keyed by container id. */
  stats: { time: string; samples: Record<string, StatsSample> };
  /** PTY bytes of a terminal session; `offset` is the position of data's first byte in the session's output. */
  terminalOutput: { session: string; data: string; offset: number };
  /** A terminal's process exited (the session stays in listTerminals until closeTerminal). */
  terminalExit: { session: string; exit: ExitInfo };
  /** Log lines of a followLogs stream, in order. */
  logLines: { stream: string; lines: LogLine[] };
  /** A followLogs stream ended: the container exited and everything was sent, or an error. */
  logEnd: { stream: string; error?: ApiErrorInfo };
  /** At most ~10 per second per pull. */
  pullProgress: { pull: string; progress: PullProgressInfo };
  /** A pull ended: the image, or the error (code 'cancelled' after cancelPull). */
  pullDone: { pull: string; image?: ImageSummary; error?: ApiErrorInfo };
  /** Sent on subscription and whenever the helper's reachability changes. */
  helperStatus: HelperStatus;
}

export type Unsubscribe = () => void;
export type BerthCallName = keyof BerthCalls;
export type BerthEventName = keyof BerthEvents;
export type EventListener<E extends BerthEventName> = (payload: BerthEvents[E]) => void;

/** What the renderer holds: every call, plus subscriptions to events. */
export interface BerthApi extends BerthCalls {
  on<E extends BerthEventName>(event: E, listener: EventListener<E>): Unsubscribe;
  /** Shorthand for on('containersChanged', …). */
  onContainersChanged(listener: EventListener<'containersChanged'>): Unsubscribe;
  /** Shorthand for on('imagesChanged', …). */
  onImagesChanged(listener: EventListener<'imagesChanged'>): Unsubscribe;
}

/** What a shell serves: the calls, subscriptions, and a close. Implemented by createBerthService. */
export interface BerthService extends BerthCalls {
  on<E extends BerthEventName>(event: E, listener: EventListener<E>): Unsubscribe;
  close(): void;
}

export const BERTH_API_CALLS = [
  'helperStatus',
  'listContainers',
  'inspectContainer',
  'runContainer',
  'startContainer',
  'stop',
  'kill',
  'pause',
  'unpause',
  'remove',
  'pruneContainers',
  'restartContainer',
  'containerInterfaces',
  'topContainer',
  'containerStats',
  'containerLogs',
  'followLogs',
  'stopFollow',
  'openTerminal',
  'terminalInput',
  'terminalResize',
  'closeTerminal',
  'listTerminals',
  'terminalBacklog',
  'listImages',
  'inspectImage',
  'imageLayers',
  'imageTree',
  'containerDiff',
  'containerTree',
  'pullImage',
  'cancelPull',
  'listPulls',
  'importImage',
  'removeImage',
  'pruneImages',
  'listNetworks',
  'createNetwork',
  'removeNetwork',
  'listVolumes',
  'inspectVolume',
  'createVolume',
  'removeVolume',
  'pruneVolumes',
] as const satisfies readonly BerthCallName[];

export const BERTH_API_EVENTS = [
  'containersChanged',
  'imagesChanged',
  'networksChanged',
  'volumesChanged',
  'stats',
  'terminalOutput',
  'terminalExit',
  'logLines',
  'logEnd',
  'pullProgress',
  'pullDone',
  'helperStatus',
] as const satisfies readonly BerthEventName[];

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
export type CallOutcome<T = unknown> = { result: T; error?: undefined } | { error: ApiErrorInfo; result?: undefined };

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
  const on = <E extends BerthEventName>(event: E, l: EventListener<E>): Unsubscribe => t.subscribe(event, (p) => l(p as BerthEvents[E]));
  api.on = on;
  api.onContainersChanged = (l: EventListener<'containersChanged'>) => on('containersChanged', l);
  api.onImagesChanged = (l: EventListener<'imagesChanged'>) => on('imagesChanged', l);
  return api as unknown as BerthApi;
}

/** Runs one call against a service and turns any error into data. */
export async function dispatchCall(service: BerthCalls, method: unknown, args: unknown): Promise<CallOutcome> {
  if (!isBerthCall(method)) return { error: { code: 'unknown_method', message: `no such call: ${String(method)}` } };
  if (!Array.isArray(args)) return { error: { code: 'bad_request', message: 'args must be an array' } };
  try {
    const fn = service[method] as (...a: unknown[]) => Promise<unknown>;
    const result = await fn.apply(service, args);
    // undefined does not survive JSON; void calls answer null.
    return { result: result === undefined ? null : result };
  } catch (e) {
    return { error: errorInfo(e) };
  }
}

/** Any thrown value as {code, message}. */
export function errorInfo(e: unknown): ApiErrorInfo {
  const code = typeof (e as { code?: unknown } | null)?.code === 'string' ? (e as { code: string }).code : 'internal';
  return { code, message: e instanceof Error ? e.message : String(e) };
}
