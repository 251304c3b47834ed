// The berthd wire contract (docs/protocol.md), declared once for every TypeScript caller.
// Keep in step with docs/protocol.md and native-helper/src/daemon.c.

export const PROTOCOL_VERSION = 1;
/** Longest request or reply line the helper accepts, newline included. */
export const MAX_LINE_BYTES = 1024 * 1024;
/** Longest frame payload in either direction. */
export const MAX_FRAME_PAYLOAD = 1024 * 1024;

export type ErrorCode =
  | 'bad_request'
  | 'too_large'
  | 'version'
  | 'unknown_method'
  | 'not_found'
  | 'conflict'
  | 'invalid'
  | 'limit'
  | 'denied'
  /** a server berthd fetched from for the client failed or refused (image.blob.fetch) */
  | 'remote'
  | 'internal';

export interface ProtocolError {
  code: ErrorCode;
  message: string;
}

export enum FrameType {
  Stdin = 0,
  Stdout = 1,
  Stderr = 2,
  Exit = 3,
  Resize = 4,
  StdinEof = 5,
  Log = 6,
  Error = 7,
  /** worker streams: a JSON progress event */
  Progress = 8,
  /** worker streams: the JSON result, the last frame */
  Result = 9,
  /** events.subscribe: one JSON BerthdEvent */
  Event = 10,
}

/** A change berthd reports to events.subscribe streams (docs/protocol.md, "Events"). */
export interface BerthdEvent {
  type: 'container' | 'image' | 'network' | 'volume';
  action: 'create' | 'start' | 'exit' | 'remove' | 'change' | 'pause' | 'unpause';
  /** the container id, or the image id ("" when a worker changed images it does not name) */
  id: string;
  /** RFC 3339 */
  time: string;
}

export type NamespaceName = 'pid' | 'mount' | 'uts' | 'ipc' | 'net' | 'cgroup' | 'user';
export const NAMESPACE_NAMES: readonly NamespaceName[] = ['pid', 'mount', 'uts', 'ipc', 'net', 'cgroup', 'user'];

export interface Limits {
  /** bytes */
  memory?: number | null;
  cpus?: number | null;
  cpuWeight?: number | null;
  pids?: number | null;
}

export interface ContainerSpec {
  image: string;
  name?: string;
  cmd?: string[];
  entrypoint?: string[];
  env?: string[];
  workdir?: string;
  /** "uid[:gid]", numeric */
  user?: string;
  hostname?: string;
  tty?: boolean;
  stdin?: boolean;
  autoRemove?: boolean;
  namespaces?: Partial<Record<NamespaceName, boolean>>;
  limits?: Limits;
  /** "bridge" (the default network, the default), "none" (only lo), "host" (the helper's
   *  network namespace), or the name or id of a user-defined network. */
  network?: string;
  /** Published ports (bridge and user networks only). */
  ports?: PortMapping[];
  mounts?: MountSpec[];
  restart?: RestartPolicy;
}

export interface PortMapping {
  /** "127.0.0.1" unless given; "0.0.0.0" for every address */
  hostIp?: string;
  /** 1..65535 */
  hostPort: number;
  containerPort: number;
  protocol?: 'tcp' | 'udp';
}

export type MountSpec =
  /** a host directory or file; it must exist */
  | { type: 'bind'; source: string; target: string; readOnly?: boolean }
  /** a named volume, created when it does not exist yet; without a source (docker's `-v /data`)
   *  an anonymous volume: berthd makes one with a generated 64-hex name at create, and the
   *  resolved spec names it with `anonymous: true` */
  | { type: 'volume'; source?: string; target: string; readOnly?: boolean; anonymous?: boolean }
  /** size in bytes (half of RAM, the kernel's default, when absent); mode 0o1777 by default */
  | { type: 'tmpfs'; target: string; size?: number; mode?: number; readOnly?: boolean };

export type RestartPolicyName = 'no' | 'on-failure' | 'always' | 'unless-stopped';
export interface RestartPolicy {
  policy: RestartPolicyName;
  /** on-failure only: give up after this many restarts (0 = no limit) */
  maxRetries?: number;
}

/** A container's place on a network, as ContainerInfo.network gives it. */
export interface ContainerNetwork {
  mode: 'bridge' | 'none' | 'host';
  /** the network's name for bridge mode ("bridge" or a user network), else null */
  name: string | null;
  /** while running on a bridge network: */
  ip: string | null;
  prefixLen: number | null;
  gateway: string | null;
  mac: string | null;
}

/** A mount as ContainerInfo.mounts gives it: a volume's source is its directory on the host. */
export interface MountInfo {
  type: 'bind' | 'volume' | 'tmpfs';
  /** host path (bind, volume), "tmpfs" for tmpfs */
  source: string;
  target: string;
  readOnly: boolean;
  /** the volume's name (volume mounts) */
  name?: string;
  /** volume mounts: an anonymous volume (-v /data, the image's Volumes), removed with the
   *  container by `rm -v` and `--rm` */
  anonymous?: boolean;
}

export interface NetworkInfo {
  id: string;
  name: string;
  driver: 'bridge';
  /** the Linux bridge's name, "berth0" for the default network */
  bridge: string;
  /** CIDR, "10.89.0.0/16" */
  subnet: string;
  gateway: string;
  /** the default network: cannot be removed */
  builtin: boolean;
  created: string;
  /** whether the bridge exists now (it is made on the first start of a container on it and removed after the last one stops) */
  active: boolean;
  containers: { id: string; name: string; ip: string | null; mac: string | null }[];
}

export interface NetworkCreateParams {
  name: string;
  /** CIDR; the next free /24 of 10.90.0.0/16 when absent */
  subnet?: string;
  /** the first address of the subnet when absent */
  gateway?: string;
}

/** One network interface, inside a container's network namespace or the host's. */
export interface InterfaceInfo {
  name: string;
  index: number;
  /** "loopback", "veth", "bridge", "device", … */
  kind: string;
  mac: string | null;
  mtu: number;
  up: boolean;
  addresses: { family: 'inet' | 'inet6'; address: string; prefixLen: number }[];
  /** a veth's other end, as its own namespace names it: "veth…@host", "eth0@container" */
  peer?: string | null;
  /** the bridge this interface is a port of */
  master?: string | null;
  rxBytes: number;
  txBytes: number;
}

export interface RouteInfo {
  /** CIDR, or "default" */
  destination: string;
  gateway: string | null;
  device: string;
}

/** container.interfaces: the container's view beside the helper's (the host's). */
export interface ContainerInterfaces {
  /** whether the container has a network namespace of its own */
  isolated: boolean;
  container: { interfaces: InterfaceInfo[]; routes: RouteInfo[] };
  host: { interfaces: InterfaceInfo[]; routes: RouteInfo[] };
}

export interface VolumeInfo {
  name: string;
  /** the directory on the host that containers see */
  mountpoint: string;
  created: string;
  /** made for one container (-v /data, an image's Volumes) with a generated name; `volume.prune`
   *  removes unused anonymous volumes, named ones only with `all` */
  anonymous: boolean;
  /** ids of the containers (running or not) whose spec names it */
  usedBy: string[];
  /** bytes used, or null when not computed (volume.list leaves it out for speed) */
  sizeBytes: number | null;
}

/** `restarting`: exited, and its restart policy will start it again (ContainerInfo.restart.nextAttempt). */
export type ContainerStatus = 'created' | 'running' | 'restarting' | 'exited';
export type ExitReason = 'exited' | 'signaled' | 'oom-killed' | 'stopped' | 'killed' | 'lost';

export interface NamespaceState {
  isolated: boolean;
  inode: number;
  hostInode: number;
}

export interface TimelineStep {
  step: string;
  us: number;
  /** when the step began, in µs from the start's beginning (steps may overlap: the cgroup is made beside the clone and mounts) */
  atUs?: number;
}

export interface ContainerInfo {
  id: string;
  shortId: string;
  name: string;
  image: string;
  imageId: string;
  command: string[];
  status: ContainerStatus;
  /** running with its processes frozen (container.pause); false otherwise */
  paused: boolean;
  created: string;
  startedAt: string | null;
  finishedAt: string | null;
  pid: number;
  monitorPid: number;
  exitCode: number | null;
  exitSignal: string | null;
  exitReason: ExitReason | null;
  oomKilled: boolean;
  /** Only in inspect results: the spec as the helper resolved it. */
  spec?: Record<string, unknown>;
  rootfs?: { lower: string[]; upper: string; work: string; merged: string };
  cgroup?: { layout: CgroupLayout; paths: Record<string, string> };
  namespaces?: Partial<Record<NamespaceName, NamespaceState>>;
  timeline?: TimelineStep[];
  startToExitUs?: number | null;
  network: ContainerNetwork;
  ports: Required<PortMapping>[];
  mounts: MountInfo[];
  restart: RestartPolicy & {
    /** restarts the helper made so far (reset by a start or restart the user asks for) */
    count: number;
    /** RFC 3339, while status is `restarting` */
    nextAttempt: string | null;
  };
}

export type CgroupLayout = 'unified' | 'hybrid' | 'legacy';

export interface ImageSummary {
  id: string;
  refs: string[];
  created: string;
  size: number;
  layers: number;
}

export interface ImageLayer {
  digest: string;
  diffId: string;
  size: number;
  unpackedSize: number;
}

/** The parts of the OCI image config berth reads and writes. */
export interface ImageConfig {
  Cmd?: string[];
  Entrypoint?: string[];
  Env?: string[];
  WorkingDir?: string;
  User?: string;
  /** "80/tcp" -> {} */
  ExposedPorts?: Record<string, Record<string, never>>;
  /** "/data" -> {}: each gets an anonymous volume unless the container mounts something there */
  Volumes?: Record<string, Record<string, never>>;
  Labels?: Record<string, string>;
  StopSignal?: string;
}

export interface ImageDetails {
  id: string;
  refs: string[];
  manifestDigest: string;
  created: string;
  size: number;
  config: Record<string, unknown>;
  layers: ImageLayer[];
}

export interface Stats {
  id: string;
  time: string;
  memory: { usage: number; limit: number | null };
  cpu: { usageNs: number; quotaCpus: number | null };
  pids: { current: number; limit: number | null };
  oomKills: number;
}

export interface TopProcess {
  pid: number;
  ppid: number;
  /** [host, …, innermost] */
  nspid: number[];
  state: string;
  name: string;
  cmdline: string[];
  rssBytes: number;
  uid: number;
}

/** Payload of an EXIT frame. */
export interface ExitInfo {
  exitCode: number | null;
  signal: string | null;
  reason: ExitReason | string;
  oomKilled: boolean;
}

export interface HelloResult {
  protocol: number;
  version: string;
  pid: number;
  root: string;
  cgroup: { layout: CgroupLayout; parent: string };
}

export interface StreamMarker {
  stream: true;
}

export interface ExecParams {
  ref: string;
  cmd: string[];
  env?: string[];
  workdir?: string;
  user?: string;
  tty?: boolean;
  stdin?: boolean;
  /** the PTY's first size (with tty); RESIZE frames change it later */
  rows?: number;
  cols?: number;
}

/** The first size of a container's PTY, given when starting it attached. */
export interface TerminalSize {
  rows?: number;
  cols?: number;
}

/** image.blob.stat: is a blob (and, for a layer, its extracted tree) in the store? */
export interface BlobStatParams {
  digest: string;
  /** When given and a layer type, `present` also needs the extracted tree. */
  mediaType?: string;
  /** image.lease's id: a present blob is kept for this pull from now on */
  lease?: string;
}
export interface BlobStat {
  present: boolean;
  size?: number;
  /** bytes kept of an interrupted upload (resume image.blob.put from here) */
  partial: number;
}

/** image.blob.put (worker stream): the blob's bytes from `offset` come as STDIN frames. */
export interface BlobPutParams {
  digest: string;
  size: number;
  mediaType: string;
  /** at most the `partial` of image.blob.stat */
  offset?: number;
  /** image.lease's id: what this upload adds is kept until the lease ends */
  lease?: string;
}
export interface BlobPutResult {
  digest: string;
  size: number;
  /** layers only */
  diffId?: string;
}

/**
 * image.blob.fetch (worker stream): berthd GETs the blob from `url` itself, from the
 * client's network namespace, resuming with a Range from what an interrupted upload
 * kept; then verifies, stores and extracts it as image.blob.put does.
 */
export interface BlobFetchParams {
  digest: string;
  size: number;
  mediaType: string;
  /** http:// or https://, e.g. `https://registry-1.docker.io/v2/library/busybox/blobs/sha256:…` */
  url: string;
  /** the Authorization header's value; never sent on after a redirect to another host */
  authorization?: string;
  /** HTTPS without certificate checks (and redirects to plain HTTP allowed) */
  insecure?: boolean;
  lease?: string;
}

/** image.create: the last step of a pull; the exact manifest and config texts. */
export interface ImageCreateParams {
  manifest: string;
  config: string;
  ref?: string;
  extraRefs?: string[];
}

/** image.layers / container.diff: what a layer adds, replaces and deletes. */
export interface LayerFileCounts {
  added: number;
  /** entries that replace one of a lower layer (a directory over a directory is not counted) */
  modified: number;
  /** whiteouts; an opaque directory counts one per lower name it hides */
  deleted: number;
}
export interface LayerFacts {
  index: number;
  digest: string;
  diffId: string;
  /** compressed */
  size: number;
  unpackedSize: number;
  createdBy: string;
  created: string;
  comment: string;
  files: LayerFileCounts;
  /** bytes of lower-layer files this layer replaces or deletes */
  shadowedBytes: number;
  /** bytes of this layer's files that later layers replace or delete */
  wastedBytes: number;
}
export interface HistoryEntry {
  created: string;
  createdBy: string;
  comment: string;
  emptyLayer: boolean;
  layer: number | null;
}
export interface ImageLayers {
  id: string;
  size: number;
  wastedBytes: number;
  /** 1 - wastedBytes / size (1 when size is 0) */
  efficiency: number;
  layers: LayerFacts[];
  history: HistoryEntry[];
}

export type TreeEntryType = 'file' | 'dir' | 'symlink' | 'char' | 'block' | 'fifo' | 'socket';
export type TreeChange = 'added' | 'modified' | 'deleted' | 'opaque' | 'unchanged';
export interface TreeEntry {
  name: string;
  type: TreeEntryType;
  size: number;
  mode: number;
  uid: number;
  gid: number;
  linkTarget?: string;
  change: TreeChange;
}
export interface TreeParams {
  path?: string;
  offset?: number;
  /** default 500, at most 5000 */
  limit?: number;
}
export interface TreeListing {
  path: string;
  total: number;
  offset: number;
  entries: TreeEntry[];
}

/** container.diff: the container's writable layer, docker diff style. */
export interface ContainerDiff {
  unpackedSize: number;
  files: LayerFileCounts;
  shadowedBytes: number;
  /** sorted by path, at most 10,000 */
  changes: { path: string; change: 'added' | 'modified' | 'deleted'; size: number }[];
  /** every change, also those past the 10,000 listed */
  totalChanges: number;
}

/** container.commit (worker stream) */
export interface CommitParams {
  ref: string;
  /** NAME[:TAG] for the new image; untagged when absent */
  image?: string;
  message?: string;
  author?: string;
  /** changes to the image config, as for image.import */
  config?: ImageConfig;
  /** pause a running container while its upper dir is read (default true, as docker commit) */
  pause?: boolean;
}

export type ImageImportFormat = 'auto' | 'oci' | 'oci-archive' | 'docker-archive' | 'rootfs';
/** image.import: `ref` is required for `rootfs` and names the one image of an archive otherwise. */
export interface ImageImportParams {
  path: string;
  format?: ImageImportFormat;
  ref?: string;
  config?: ImageConfig;
}

/** container.copy.out / container.copy.in: what went through. */
export interface CopyResult {
  entries: number;
  /** bytes of file data */
  bytes: number;
}

/** Every method: its params and its result. */
export interface HelperMethods {
  hello: { params: Record<string, never>; result: HelloResult };
  'image.list': { params: Record<string, never>; result: { images: ImageSummary[] } };
  'image.inspect': { params: { ref: string }; result: ImageDetails };
  'image.import': { params: ImageImportParams; result: { images: ImageSummary[] } };
  'image.remove': { params: { ref: string; force?: boolean }; result: { removed: string[]; untagged?: string[] } };
  'image.save': { params: { refs: string[]; path: string; format?: 'oci-archive' }; result: { path: string; size: number } };
  'image.tag': { params: { ref: string; target: string }; result: ImageSummary };
  'image.prune': { params: { all?: boolean }; result: { removed: string[]; reclaimedBytes: number } };
  'image.blob.stat': { params: BlobStatParams; result: BlobStat };
  'image.blob.put': { params: BlobPutParams; result: BlobPutResult };
  'image.blob.fetch': { params: BlobFetchParams; result: BlobPutResult };
  'image.create': { params: ImageCreateParams; result: ImageSummary };
  'image.lease': { params: Record<string, never>; result: Record<string, never> };
  'container.create': { params: ContainerSpec; result: ContainerInfo };
  'container.start': { params: { ref: string; attach?: boolean } & TerminalSize; result: ContainerInfo & Partial<StreamMarker> };
  'container.run': { params: ContainerSpec & { attach?: boolean } & TerminalSize; result: ContainerInfo & Partial<StreamMarker> };
  'container.stop': { params: { ref: string; timeout?: number }; result: ContainerInfo };
  'container.kill': { params: { ref: string; signal?: string | number }; result: ContainerInfo };
  'container.pause': { params: { ref: string }; result: ContainerInfo };
  'container.unpause': { params: { ref: string }; result: ContainerInfo };
  /** volumes: also remove its anonymous volumes that no other container uses (rm -v) */
  'container.remove': { params: { ref: string; force?: boolean; volumes?: boolean }; result: { id: string } };
  'container.list': { params: { all?: boolean }; result: { containers: ContainerInfo[] } };
  'container.inspect': { params: { ref: string }; result: ContainerInfo };
  'container.wait': { params: { ref: string }; result: ContainerInfo };
  'container.exec': { params: ExecParams; result: StreamMarker & { pid: number } };
  'container.logs': { params: { ref: string; follow?: boolean; tail?: number }; result: StreamMarker };
  'container.stats': { params: { ref: string }; result: Stats };
  'container.top': { params: { ref: string }; result: { processes: TopProcess[] } };
  'image.layers': { params: { ref: string }; result: ImageLayers };
  'image.tree': { params: { ref: string; layer: number } & TreeParams; result: TreeListing };
  'container.diff': { params: { ref: string }; result: ContainerDiff };
  'container.tree': { params: { ref: string } & TreeParams; result: TreeListing };
  'container.commit': { params: CommitParams; result: ImageSummary };
  'container.export': { params: { ref: string; path: string }; result: { path: string; size: number } };
  /** berth cp out: a tar of path as STDOUT frames, its top entry named name */
  'container.copy.out': { params: { ref: string; path: string; name?: string }; result: CopyResult };
  /** berth cp in: a tar as STDIN frames, extracted into path (a directory) or as path */
  'container.copy.in': { params: { ref: string; path: string }; result: CopyResult };
  'events.subscribe': { params: Record<string, never>; result: StreamMarker };
  'container.restart': { params: { ref: string; timeout?: number }; result: ContainerInfo };
  'container.interfaces': { params: { ref: string }; result: ContainerInterfaces };
  'network.create': { params: NetworkCreateParams; result: NetworkInfo };
  'network.list': { params: Record<string, never>; result: { networks: NetworkInfo[] } };
  'network.inspect': { params: { ref: string }; result: NetworkInfo };
  'network.remove': { params: { ref: string }; result: { id: string } };
  'volume.create': { params: { name?: string }; result: VolumeInfo };
  'volume.list': { params: Record<string, never>; result: { volumes: VolumeInfo[] } };
  'volume.inspect': { params: { name: string }; result: VolumeInfo };
  'volume.remove': { params: { name: string; force?: boolean }; result: { name: string } };
  /** unused anonymous volumes; with all, every unused volume (named ones too) */
  'volume.prune': { params: { all?: boolean }; result: { removed: string[]; reclaimedBytes: number } };
}

export type MethodName = keyof HelperMethods;
export type ParamsOf<M extends MethodName> = HelperMethods[M]['params'];
export type ResultOf<M extends MethodName> = HelperMethods[M]['result'];

/**
 * Long operations run in a worker of berthd's that owns the connection (docs/protocol.md,
 * "Worker streams"): PROGRESS frames while it works, then one RESULT (the method's result)
 * or one ERROR. Each entry names its progress event type.
 */
export interface WorkerMethods {
  'image.import': WorkerProgress;
  'image.save': WorkerProgress;
  'image.blob.put': WorkerProgress;
  /** `response` {status?, offset} once, then `write` {done, total}, then `extract` */
  'image.blob.fetch': WorkerProgress;
  /** one `{"phase": "lease", "item": id}`, then held until the connection closes */
  'image.lease': WorkerProgress;
  'container.commit': WorkerProgress;
  'container.export': WorkerProgress;
  'container.copy.out': WorkerProgress;
  'container.copy.in': WorkerProgress;
}
export type WorkerMethod = keyof WorkerMethods & MethodName;

/** A progress event of a worker stream; `phase` says what is happening. */
export interface WorkerProgress {
  phase: string;
  /** what the event is about: a layer digest, a path */
  item?: string;
  done?: number;
  total?: number;
  /** entries written so far (container.commit, container.export) */
  entries?: number;
  message?: string;
  /** image.blob.fetch's `response`: the registry's HTTP status (absent when every byte was kept) */
  status?: number;
  /** image.blob.fetch's `response`: the byte the download continues from (> 0: resumed) */
  offset?: number;
}

/** Methods whose reply may upgrade the connection to frames. */
export type StreamMethod = 'container.start' | 'container.run' | 'container.exec' | 'container.logs' | 'events.subscribe' | WorkerMethod;

export interface Request<M extends MethodName = MethodName> {
  v: number;
  id: number | string;
  method: M;
  params?: ParamsOf<M>;
}

export type Reply =
  | { v: number; id: number | string | null; ok: true; result: unknown }
  | { v: number; id: number | string | null; ok: false; error: ProtocolError };

/** The params argument of a call: optional when the method needs none. */
export type ParamsArg<M extends MethodName> = {} extends ParamsOf<M> ? [params?: ParamsOf<M>] : [params: ParamsOf<M>];
