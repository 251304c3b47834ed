// UI state (zustand): what the pushed events last said about the helper, containers,
// images and pulls, the live stats history, the current view, and notices. The store
// is built by a factory over a BerthApi so tests can drive it with a fake.
import { create, type StoreApi, type UseBoundStore } from 'zustand';

import type { BerthApi, ContainerInfo, HelperStatus, ImageSummary, NetworkInfo, PullProgressInfo, StatsSample, VolumeInfo } from '../../electron/core/api';
import { StatsBook } from './lib/stats';

export type DetailTab = 'overview' | 'processes' | 'namespaces' | 'network' | 'resources' | 'terminal' | 'logs' | 'timeline' | 'filesystem';
export const DETAIL_TABS: readonly DetailTab[] = ['overview', 'processes', 'namespaces', 'network', 'resources', 'terminal', 'logs', 'timeline', 'filesystem'];

export type Route =
  | { view: 'containers' }
  | { view: 'container'; id: string; tab: DetailTab }
  | { view: 'images' }
  | { view: 'image'; id: string }
  | { view: 'networks' }
  | { view: 'volumes' };

export interface Notice {
  id: number;
  kind: 'info' | 'error' | 'success';
  text: string;
}

export interface PullEntry {
  pull: string;
  ref: string;
  started: number;
  progress?: PullProgressInfo;
  image?: ImageSummary;
  error?: { code: string; message: string };
  finished: boolean;
}

/** Notices shown at once; older ones go. */
export const MAX_NOTICES = 4;
/** Finished pulls remembered for the pull dialog. */
export const MAX_FINISHED_PULLS = 10;

export interface BerthState {
  helper: HelperStatus | null;
  containers: ContainerInfo[] | null;
  images: ImageSummary[] | null;
  networks: NetworkInfo[] | null;
  volumes: VolumeInfo[] | null;
  /** Volume sizes from inspectVolume (the list leaves them out): name -> bytes, null while being measured. */
  volumeSizes: Record<string, number | null>;
  /** Why the first listing failed, when it did. */
  loadError: string | null;
  /** Bumped on every stats event; the history itself is in `stats` (mutable, bounded). */
  statsSeq: number;
  stats: StatsBook;
  /** Re-renders relative times without asking the helper. */
  now: number;
  route: Route;
  notices: Notice[];
  pulls: Record<string, PullEntry>;
  /** Which dialog is open (one at a time). */
  dialog: null | { kind: 'run'; image?: string } | { kind: 'pull' } | { kind: 'import' } | { kind: 'shortcuts' };

  connect(): () => void;
  navigate(route: Route): void;
  openDialog(d: BerthState['dialog']): void;
  notify(kind: Notice['kind'], text: string): void;
  dismiss(id: number): void;
  /** Applies one stats event (exposed for the benchmark and tests). */
  applyStats(samples: Record<string, StatsSample>, receivedMs?: number): void;
  /** Tracks a pull started through the API. */
  trackPull(pull: string, ref: string): void;
  /** Measures the volumes' sizes again (one inspect each, not more than one at a time per volume). */
  measureVolumes(names: readonly string[]): void;
}

export type BerthStore = UseBoundStore<StoreApi<BerthState>>;

/** Fills the issue-5 fields an older helper leaves out, so views can rely on them. */
export function normalizeContainer(c: ContainerInfo): ContainerInfo {
  const p = c as Partial<ContainerInfo> & ContainerInfo;
  if (p.network && p.ports && p.mounts && p.restart) return c;
  return {
    ...c,
    network: p.network ?? { mode: c.namespaces?.net?.isolated === false ? 'host' : 'none', name: null, ip: null, prefixLen: null, gateway: null, mac: null },
    ports: p.ports ?? [],
    mounts: p.mounts ?? [],
    restart: p.restart ?? { policy: 'no', count: 0, nextAttempt: null },
  };
}

/** Sorts newest first, as `berth ps` does. */
export function sortContainers(list: readonly ContainerInfo[]): ContainerInfo[] {
  return list.map(normalizeContainer).sort((a, b) => Date.parse(b.created) - Date.parse(a.created) || a.name.localeCompare(b.name));
}

export function createBerthStore(api: BerthApi, opts: { clockMs?: number } = {}): BerthStore {
  let noticeSeq = 0;
  const measuring = new Set<string>();
  return create<BerthState>((set, get) => ({
    helper: null,
    containers: null,
    images: null,
    networks: null,
    volumes: null,
    volumeSizes: {},
    loadError: null,
    statsSeq: 0,
    stats: new StatsBook(),
    now: Date.now(),
    route: { view: 'containers' },
    notices: [],
    pulls: {},
    dialog: null,

    connect() {
      const offs = [
        api.on('helperStatus', (helper) => set({ helper })),
        api.on('containersChanged', (list) => {
          get().stats.retain(new Set(list.map((c) => c.id)));
          const route = get().route;
          // The container on screen was removed: back to the list.
          const gone = route.view === 'container' && !list.some((c) => c.id === route.id);
          set({ containers: sortContainers(list), loadError: null, now: Date.now(), ...(gone ? { route: { view: 'containers' } as Route } : {}) });
        }),
        api.on('imagesChanged', (images) => {
          const route = get().route;
          const gone = route.view === 'image' && !images.some((i) => i.id === route.id);
          set({ images, now: Date.now(), ...(gone ? { route: { view: 'images' } as Route } : {}) });
        }),
        api.on('networksChanged', (networks) => set({ networks })),
        api.on('volumesChanged', (volumes) =>
          set((s) => {
            // Forget the sizes of volumes that are gone, so the map stays as long as the list.
            const names = new Set(volumes.map((v) => v.name));
            const volumeSizes = Object.fromEntries(Object.entries(s.volumeSizes).filter(([k]) => names.has(k)));
            return { volumes, volumeSizes };
          }),
        ),
        api.on('stats', (ev) => get().applyStats(ev.samples)),
        api.on('pullProgress', ({ pull, progress }) =>
          set((s) => {
            const prev = s.pulls[pull];
            if (!prev) return { pulls: { ...s.pulls, [pull]: { pull, ref: progress.ref, started: Date.now(), progress, finished: false } } };
            return { pulls: { ...s.pulls, [pull]: { ...prev, progress } } };
          }),
        ),
        api.on('pullDone', ({ pull, image, error }) => {
          const prev = get().pulls[pull];
          const ref = prev?.ref ?? image?.refs[0] ?? 'image';
          set((s) => ({ pulls: trimPulls({ ...s.pulls, [pull]: { pull, ref, started: prev?.started ?? Date.now(), progress: prev?.progress, image, error, finished: true } }) }));
          if (error && error.code !== 'cancelled') get().notify('error', `Pull of ${ref} failed: ${error.message}`);
          else if (!error) get().notify('success', `Pulled ${ref}`);
        }),
      ];
      // First data at once (the events also bring it; whichever comes first wins).
      api.helperStatus().then(
        (helper) => set((s) => (s.helper ? {} : { helper })),
        () => undefined,
      );
      api.listContainers(true).then(
        (list) => set((s) => (s.containers ? {} : { containers: sortContainers(list) })),
        (e: Error) => set((s) => (s.containers ? {} : { loadError: e.message })),
      );
      api.listImages().then(
        (images) => set((s) => (s.images ? {} : { images })),
        () => undefined,
      );
      api.listPulls().then(
        (list) =>
          set((s) => {
            const pulls = { ...s.pulls };
            for (const p of list) if (!pulls[p.pull]) pulls[p.pull] = { pull: p.pull, ref: p.ref, started: Date.parse(p.started) || Date.now(), progress: p.progress, finished: false };
            return { pulls };
          }),
        () => undefined,
      );
      const clock = setInterval(() => set({ now: Date.now() }), opts.clockMs ?? 5000);
      return () => {
        for (const off of offs) off();
        clearInterval(clock);
      };
    },

    navigate(route) {
      set({ route });
    },

    openDialog(dialog) {
      set({ dialog });
    },

    notify(kind, text) {
      const id = ++noticeSeq;
      set((s) => ({ notices: [...s.notices, { id, kind, text }].slice(-MAX_NOTICES) }));
      if (kind !== 'error') setTimeout(() => get().dismiss(id), 5000);
    },

    dismiss(id) {
      set((s) => ({ notices: s.notices.filter((n) => n.id !== id) }));
    },

    applyStats(samples, receivedMs) {
      get().stats.add(Object.values(samples), receivedMs);
      set((s) => ({ statsSeq: s.statsSeq + 1 }));
    },

    measureVolumes(names) {
      for (const name of names) {
        if (measuring.has(name)) continue;
        measuring.add(name);
        set((s) => ({ volumeSizes: { ...s.volumeSizes, [name]: s.volumeSizes[name] ?? null } }));
        api.inspectVolume(name).then(
          (v) => set((s) => (s.volumes?.some((x) => x.name === name) ? { volumeSizes: { ...s.volumeSizes, [name]: v.sizeBytes } } : {})),
          () => undefined,
        ).finally(() => measuring.delete(name));
      }
    },

    trackPull(pull, ref) {
      set((s) => (s.pulls[pull] ? {} : { pulls: { ...s.pulls, [pull]: { pull, ref, started: Date.now(), finished: false } } }));
    },
  }));
}

/** Keeps every running pull and the newest finished ones. */
export function trimPulls(pulls: Record<string, PullEntry>): Record<string, PullEntry> {
  const finished = Object.values(pulls)
    .filter((p) => p.finished)
    .sort((a, b) => b.started - a.started);
  if (finished.length <= MAX_FINISHED_PULLS) return pulls;
  const drop = new Set(finished.slice(MAX_FINISHED_PULLS).map((p) => p.pull));
  return Object.fromEntries(Object.entries(pulls).filter(([k]) => !drop.has(k)));
}
