// The BerthService on top of berthd: the calls of BerthCalls and the events of
// BerthEvents. Lists are refreshed when berthd reports a change (events.subscribe),
// with a slow safety resync; stats are sampled only while someone listens; terminals,
// log follows and pulls live here so they outlive the views that started them.
import crypto from 'node:crypto';

import {
  BerthApiError,
  errorInfo,
  type BerthEventName,
  type BerthEvents,
  type BerthService,
  type EventListener,
  type LogLine,
  type PullProgressInfo,
  type PullState,
  type StatsSample,
  type Unsubscribe,
} from '../api';
import { HelperClient, type HelperStream } from '../helper-client';
import { pruneContainers } from '../prune';
import type { BerthdEvent, ContainerInfo, ImageSummary, NetworkCreateParams, Stats } from '../protocol';
import { pullImage, type PullProgress } from '../registry/pull';
import { HelperLink, type LinkOptions } from './link';
import { LogParser } from './logs';
import { Terminals } from './terminals';

// The registry client's progress must be what the API declares (the API file cannot import it).
const pullProgressFits = (p: PullProgress): PullProgressInfo => p;
void pullProgressFits;

export interface ServiceOptions extends LinkOptions {
  /** Stats sample period (ms), 1000 by default. */
  statsIntervalMs?: number;
  /** Lists are re-read this often even without events (ms); 0 = never. 30000 by default. */
  resyncMs?: number;
}

/** Without berthd's events (an older berthd), lists are re-read this often while watched. */
const POLL_FALLBACK_MS = 1000;
/** Events arriving together cause one refresh. */
const REFRESH_DEBOUNCE_MS = 25;
const MAX_FOLLOWS = 32;
const FOLLOW_FLUSH_MS = 50;
const FOLLOW_BATCH_LINES = 1000;
/** A follow's lines waiting for the next flush; past this the helper stream is paused. */
const FOLLOW_PAUSE_LINES = 5000;
const MAX_LOG_LINES = 10000;
const MAX_PULLS = 8;
const PULL_PROGRESS_MS = 100;
const EVENTS_RESUBSCRIBE_MS = 200;

/** RFC 3339 with up to nanoseconds -> milliseconds since the epoch, keeping the fraction. */
export function timeMs(t: string): number {
  const m = /^(.*T\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$/.exec(t);
  if (!m) return Date.parse(t);
  return Date.parse(m[1] + m[3]) + (m[2] ? Number(`0.${m[2]}`) * 1000 : 0);
}

/** CPU use between two samples of one container, 100 = one core. */
export function cpuPercentBetween(prev: Stats | undefined, cur: Stats): number | null {
  if (!prev) return null;
  const dt = timeMs(cur.time) - timeMs(prev.time);
  const du = cur.cpu.usageNs - prev.cpu.usageNs;
  if (!(dt > 0) || du < 0) return null;
  return Math.round((du / 1e6 / dt) * 1000) / 10;
}

/** The lists the service keeps and pushes, each with its event and how it is read. */
type ListKind = 'containers' | 'images' | 'networks' | 'volumes';
const LIST_KINDS: readonly ListKind[] = ['containers', 'images', 'networks', 'volumes'];
const LIST_EVENT = { containers: 'containersChanged', images: 'imagesChanged', networks: 'networksChanged', volumes: 'volumesChanged' } as const satisfies Record<ListKind, BerthEventName>;
const CONTAINER_LISTS: ListKind[] = ['containers', 'networks', 'volumes'];
type ListItem<K extends ListKind> = BerthEvents[(typeof LIST_EVENT)[K]][number];
const LIST_READ: { [K in ListKind]: (c: HelperClient) => Promise<ListItem<K>[]> } = {
  containers: async (c) => (await c.call('container.list', { all: true })).containers,
  images: async (c) => (await c.call('image.list', {})).images,
  networks: async (c) => (await c.call('network.list', {})).networks,
  volumes: async (c) => (await c.call('volume.list', {})).volumes,
};

interface Follow {
  stream: HelperStream<'container.logs'>;
  parser: LogParser;
  pending: LogLine[];
  timer: ReturnType<typeof setTimeout> | null;
}

interface Pull {
  state: PullState;
  abort: AbortController;
  timer: ReturnType<typeof setTimeout> | null;
  lastSent: number;
}

export function createBerthService(source: HelperClient | ServiceOptions): BerthService {
  const opts: ServiceOptions =
    source instanceof HelperClient
      ? (() => {
          let first: HelperClient | null = source;
          return {
            connect: async () => {
              const c = first?.open ? first : await HelperClient.connect(source.socketPath);
              first = null;
              return c;
            },
          };
        })()
      : source;
  const statsMs = opts.statsIntervalMs ?? 1000;
  const resyncMs = opts.resyncMs ?? 30000;

  const listeners = new Map<BerthEventName, Set<(p: never) => void>>();
  const count = (e: BerthEventName): number => listeners.get(e)?.size ?? 0;
  function emit<E extends BerthEventName>(event: E, payload: BerthEvents[E]): void {
    for (const l of listeners.get(event) ?? []) {
      try {
        (l as EventListener<E>)(payload);
      } catch {
        // One listener's failure must not stop the others.
      }
    }
  }

  // ---- the connection and berthd's events -------------------------------------
  let events: HelperStream<'events.subscribe'> | null = null;
  let eventsSupported = true;
  let closed = false;

  const link = new HelperLink(
    opts,
    (s) => emit('helperStatus', s),
    (c) => {
      void subscribeEvents(c);
      lists.resync();
    },
  );

  async function subscribeEvents(c: HelperClient): Promise<void> {
    if (closed || !eventsSupported) return;
    try {
      const s = await c.stream('events.subscribe', {});
      if (closed) return s.close();
      events = s;
      s.on('event', (ev) => onBerthdEvent(ev));
      s.on('close', () => {
        if (events === s) events = null;
        if (closed) return;
        // Dropped (we read too slowly) or berthd went away: resync either way.
        setTimeout(() => {
          const cur = link.current();
          if (cur) {
            void subscribeEvents(cur);
            lists.resync();
          } else link.lost();
        }, EVENTS_RESUBSCRIBE_MS).unref?.();
      });
    } catch (e) {
      if ((e as { code?: string }).code === 'unknown_method') {
        eventsSupported = false;
        lists.updateTimer();
      } else link.check(e);
    }
  }

  function onBerthdEvent(ev: BerthdEvent): void {
    if (ev.type === 'container') {
      lists.dirty('containers');
      // A network lists its containers and their addresses, a volume who uses it.
      lists.dirty('networks');
      lists.dirty('volumes');
      if (ev.action === 'exit' || ev.action === 'remove') terminals.containerGone(ev.id);
    } else if (ev.type === 'image') lists.dirty('images');
    else if (ev.type === 'network') lists.dirty('networks');
    else if (ev.type === 'volume') lists.dirty('volumes');
  }

  /** Runs fn with the helper's client; a lost connection starts a reconnect. */
  async function withHelper<T>(fn: (c: HelperClient) => Promise<T>): Promise<T> {
    const c = await link.get();
    try {
      return await fn(c);
    } catch (e) {
      link.check(e);
      throw e;
    }
  }

  // ---- the lists (containers, images, networks, volumes) ------------------------
  const lists = (() => {
    type Snap = { [K in ListKind]: ListItem<K>[] | null };
    const last: Record<ListKind, string | null> = { containers: null, images: null, networks: null, volumes: null };
    const snap: Snap = { containers: null, images: null, networks: null, volumes: null };
    const want: Record<ListKind, boolean> = { containers: false, images: false, networks: false, volumes: false };
    let debounce: ReturnType<typeof setTimeout> | null = null;
    let timer: ReturnType<typeof setInterval> | null = null;
    let timerMs = 0;
    let running: Promise<void> | null = null;

    const watched = (k: ListKind): boolean => count(LIST_EVENT[k]) > 0 || (k === 'containers' && count('stats') > 0);
    const anyWanted = (): boolean => LIST_KINDS.some((k) => want[k]);

    async function read<K extends ListKind>(c: HelperClient, k: K): Promise<void> {
      const list = await LIST_READ[k](c);
      snap[k] = list as Snap[K];
      const key = JSON.stringify(list);
      if (key !== last[k]) {
        last[k] = key;
        emit(LIST_EVENT[k], list as BerthEvents[(typeof LIST_EVENT)[K]]);
      }
    }

    async function refresh(): Promise<void> {
      if (running) {
        await running;
        if (!anyWanted()) return;
      }
      // Without a connection, what is wanted stays wanted: the reconnect resyncs it.
      const c = link.current();
      if (!c) return;
      running = (async () => {
        const todo = LIST_KINDS.filter((k) => want[k]);
        for (const k of todo) want[k] = false;
        for (const k of todo) {
          try {
            await read(c, k);
          } catch (e) {
            // An older berthd without networks or volumes: those lists stay empty.
            if ((e as { code?: string }).code === 'unknown_method') {
              snap[k] = [];
              if (last[k] !== '[]') {
                last[k] = '[]';
                emit(LIST_EVENT[k], []);
              }
            } else link.check(e);
          }
        }
      })();
      try {
        await running;
      } finally {
        running = null;
      }
      if (anyWanted()) void refresh();
    }

    return {
      get containers(): ContainerInfo[] | null {
        return snap.containers;
      },
      /** Something changed: re-read the list (soon, once for a burst of events). */
      dirty(k: ListKind): void {
        if (!watched(k)) {
          // Nobody shows it: the next subscriber (or the stats sampler) reads it fresh.
          last[k] = snap[k] = null;
          return;
        }
        want[k] = true;
        if (!debounce)
          debounce = setTimeout(() => {
            debounce = null;
            void refresh();
          }, REFRESH_DEBOUNCE_MS);
      },
      /** Re-read what is watched now and push it even if it did not change. */
      async resync(force = false): Promise<void> {
        for (const k of LIST_KINDS) {
          if (force) last[k] = null;
          want[k] ||= watched(k);
        }
        await refresh();
      },
      /** A new subscriber of a list gets it at once. */
      subscribed(k: ListKind, l: (p: never) => void): void {
        const s = snap[k];
        if (s && last[k] !== null) queueMicrotask(() => (l as (p: unknown) => void)(s));
        else {
          want[k] = true;
          void refresh();
        }
        this.updateTimer();
      },
      updateTimer(): void {
        const any = LIST_KINDS.some(watched);
        const ms = !any ? 0 : eventsSupported ? resyncMs : POLL_FALLBACK_MS;
        if (ms === timerMs) return;
        if (timer) clearInterval(timer);
        timer = null;
        timerMs = ms;
        if (ms > 0) {
          timer = setInterval(() => {
            for (const k of LIST_KINDS) want[k] ||= watched(k);
            void refresh();
          }, ms);
          timer.unref?.();
        }
      },
      close(): void {
        if (timer) clearInterval(timer);
        if (debounce) clearTimeout(debounce);
        timer = debounce = null;
      },
    };
  })();

  /** After a change made through this service, refresh at once (events may lag or be off). */
  const changed = <T>(p: Promise<T>, ...what: ListKind[]): Promise<T> =>
    p.finally(() => {
      // A container change can also change a network's members or a volume's users (a run creates a missing volume).
      for (const k of what.length > 0 ? what : CONTAINER_LISTS) lists.dirty(k);
    });

  // ---- stats --------------------------------------------------------------------
  const stats = (() => {
    let timer: ReturnType<typeof setInterval> | null = null;
    let busy = false;
    const prev = new Map<string, Stats>();

    async function sample(): Promise<void> {
      if (busy) return;
      const c = link.current();
      if (!c) return;
      busy = true;
      try {
        if (!lists.containers) await lists.resync();
        const running = (lists.containers ?? []).filter((x) => x.status === 'running');
        const got = await Promise.all(running.map((x) => c.call('container.stats', { ref: x.id }).catch(() => null)));
        const samples: Record<string, StatsSample> = {};
        for (const s of got) {
          if (!s) continue;
          samples[s.id] = { ...s, cpuPercent: cpuPercentBetween(prev.get(s.id), s) };
          prev.set(s.id, s);
        }
        for (const id of prev.keys()) if (!samples[id]) prev.delete(id);
        if (count('stats') > 0) emit('stats', { time: new Date().toISOString(), samples });
      } finally {
        busy = false;
      }
    }

    return {
      update(): void {
        if (count('stats') > 0 && !timer) {
          timer = setInterval(() => void sample(), statsMs);
          timer.unref?.();
          void sample();
        } else if (count('stats') === 0 && timer) {
          clearInterval(timer);
          timer = null;
          prev.clear();
        }
      },
      close(): void {
        if (timer) clearInterval(timer);
        timer = null;
      },
    };
  })();

  // ---- terminals, log follows, pulls ------------------------------------------
  const terminals = new Terminals((event, payload) => emit(event, payload));
  const follows = new Map<string, Follow>();
  const pulls = new Map<string, Pull>();

  function flushFollow(id: string, f: Follow): void {
    if (f.timer) clearTimeout(f.timer);
    f.timer = null;
    while (f.pending.length > 0) emit('logLines', { stream: id, lines: f.pending.splice(0, FOLLOW_BATCH_LINES) });
    f.stream.resume();
  }

  function endFollow(id: string, error?: { code: string; message: string }): void {
    const f = follows.get(id);
    if (!f) return;
    f.pending.push(...f.parser.flush());
    flushFollow(id, f);
    follows.delete(id);
    f.stream.removeAllListeners();
    f.stream.close();
    emit('logEnd', error ? { stream: id, error } : { stream: id });
  }

  function tailArg(o: { tail?: number } | undefined): { tail?: number } {
    const t = o?.tail;
    if (t === undefined || t === null) return {};
    if (typeof t !== 'number' || !Number.isInteger(t) || t < 0) throw new BerthApiError('invalid', 'tail must be a whole number ≥ 0');
    return { tail: t };
  }

  function pullProgress(id: string, p: Pull, progress: PullProgressInfo): void {
    p.state.progress = progress;
    const now = Date.now();
    const send = (): void => {
      p.timer = null;
      p.lastSent = Date.now();
      if (p.state.progress) emit('pullProgress', { pull: id, progress: p.state.progress });
    };
    if (now - p.lastSent >= PULL_PROGRESS_MS) send();
    else if (!p.timer) p.timer = setTimeout(send, PULL_PROGRESS_MS - (now - p.lastSent));
  }

  // ---- the API --------------------------------------------------------------------
  const service: BerthService = {
    helperStatus: async () => link.status,

    listContainers: (all = true) => withHelper(async (c) => (await c.call('container.list', { all })).containers),
    inspectContainer: (ref) => withHelper((c) => c.call('container.inspect', { ref })),
    runContainer: (spec) => changed(withHelper((c) => c.call('container.run', spec))),
    startContainer: (ref) => changed(withHelper((c) => c.call('container.start', { ref }))),
    stop: (ref, timeoutSeconds) => changed(withHelper((c) => c.call('container.stop', timeoutSeconds === undefined || timeoutSeconds === null ? { ref } : { ref, timeout: timeoutSeconds }))),
    kill: (ref, signal) => changed(withHelper((c) => c.call('container.kill', signal === undefined || signal === null ? { ref } : { ref, signal }))),
    pause: (ref) => changed(withHelper((c) => c.call('container.pause', { ref }))),
    unpause: (ref) => changed(withHelper((c) => c.call('container.unpause', { ref }))),
    remove: (ref, force, volumes) => changed(withHelper((c) => c.call('container.remove', { ref, force: force === true, ...(volumes ? { volumes: true } : {}) }))),
    pruneContainers: () => changed(withHelper((c) => pruneContainers(c))),
    restartContainer: (ref, timeoutSeconds) =>
      changed(withHelper((c) => c.call('container.restart', timeoutSeconds === undefined || timeoutSeconds === null ? { ref } : { ref, timeout: timeoutSeconds }))),
    containerInterfaces: (ref) => withHelper((c) => c.call('container.interfaces', { ref })),
    topContainer: (ref) => withHelper(async (c) => (await c.call('container.top', { ref })).processes),
    containerStats: (ref) => withHelper((c) => c.call('container.stats', { ref })),

    containerLogs: (ref, o) =>
      withHelper(async (c) => {
        const s = await c.stream('container.logs', { ref, ...tailArg(o) });
        const parser = new LogParser();
        const lines: LogLine[] = [];
        const keep = (ls: LogLine[]): void => {
          lines.push(...ls);
          if (lines.length > MAX_LOG_LINES * 2) lines.splice(0, lines.length - MAX_LOG_LINES);
        };
        await new Promise<void>((resolve, reject) => {
          s.on('log', (d) => keep(parser.push(d.toString('utf8'))));
          s.once('end', () => resolve());
          s.once('error', reject);
          s.once('close', () => resolve());
        });
        keep(parser.flush());
        return lines.slice(-MAX_LOG_LINES);
      }),

    followLogs: (ref, o) =>
      withHelper(async (c) => {
        if (follows.size >= MAX_FOLLOWS) throw new BerthApiError('limit', `at most ${MAX_FOLLOWS} logs can be followed at once; stop one first`);
        const s = await c.stream('container.logs', { ref, follow: true, ...tailArg(o) });
        const id = crypto.randomUUID();
        const f: Follow = { stream: s, parser: new LogParser(), pending: [], timer: null };
        follows.set(id, f);
        s.on('log', (d) => {
          f.pending.push(...f.parser.push(d.toString('utf8')));
          if (f.pending.length >= FOLLOW_PAUSE_LINES) s.pause();
          if (!f.timer) f.timer = setTimeout(() => flushFollow(id, f), FOLLOW_FLUSH_MS);
        });
        s.on('end', () => endFollow(id));
        s.on('error', (e) => endFollow(id, errorInfo(e)));
        s.on('close', () => endFollow(id));
        return { stream: id };
      }),

    stopFollow: async (id) => {
      const f = follows.get(id);
      if (!f) return;
      if (f.timer) clearTimeout(f.timer);
      follows.delete(id);
      f.stream.removeAllListeners();
      f.stream.close();
    },

    openTerminal: (ref, o) => withHelper((c) => terminals.open(c, ref, o)),
    terminalInput: async (session, data) => terminals.input(session, data),
    terminalResize: async (session, rows, cols) => terminals.resize(session, rows, cols),
    closeTerminal: async (session) => terminals.close(session),
    listTerminals: async () => terminals.list(),
    terminalBacklog: async (session) => terminals.backlog(session),

    listImages: () => withHelper(async (c) => (await c.call('image.list', {})).images),
    inspectImage: (ref) => withHelper((c) => c.call('image.inspect', { ref })),
    imageLayers: (ref) => withHelper((c) => c.call('image.layers', { ref })),
    imageTree: (ref, layer, path, offset, limit) =>
      withHelper((c) =>
        c.call('image.tree', {
          ref,
          layer,
          ...(path !== undefined && path !== null ? { path } : {}),
          ...(offset !== undefined && offset !== null ? { offset } : {}),
          ...(limit !== undefined && limit !== null ? { limit } : {}),
        }),
      ),
    containerDiff: (ref) => withHelper((c) => c.call('container.diff', { ref })),
    containerTree: (ref, path, offset, limit) =>
      withHelper((c) =>
        c.call('container.tree', {
          ref,
          ...(path !== undefined && path !== null ? { path } : {}),
          ...(offset !== undefined && offset !== null ? { offset } : {}),
          ...(limit !== undefined && limit !== null ? { limit } : {}),
        }),
      ),

    pullImage: (ref, o) =>
      withHelper(async (c) => {
        if (typeof ref !== 'string' || ref.trim() === '') throw new BerthApiError('invalid', 'name the image to pull (e.g. busybox:latest)');
        if (pulls.size >= MAX_PULLS) throw new BerthApiError('limit', `at most ${MAX_PULLS} pulls at once; wait for one to finish`);
        const id = crypto.randomUUID();
        const p: Pull = { state: { pull: id, ref, started: new Date().toISOString() }, abort: new AbortController(), timer: null, lastSent: 0 };
        pulls.set(id, p);
        const done = (r: { image?: ImageSummary; error?: { code: string; message: string } }): void => {
          if (p.timer) clearTimeout(p.timer);
          p.timer = null;
          if (p.state.progress && !r.error) emit('pullProgress', { pull: id, progress: p.state.progress });
          pulls.delete(id);
          emit('pullDone', { pull: id, ...r });
          lists.dirty('images');
        };
        // Started after the reply, so the caller knows the id before the first event.
        setImmediate(() => {
          pullImage(c, ref.trim(), { insecure: o?.insecure === true, signal: p.abort.signal, onProgress: (ev) => pullProgress(id, p, ev) }).then(
            (image) => done({ image }),
            (e: unknown) => done({ error: p.abort.signal.aborted ? { code: 'cancelled', message: `the pull of ${ref} was cancelled` } : errorInfo(e) }),
          );
        });
        return { pull: id };
      }),
    cancelPull: async (id) => {
      pulls.get(id)?.abort.abort();
    },
    listPulls: async () => [...pulls.values()].map((p) => ({ ...p.state })),

    importImage: (path, o) =>
      changed(
        withHelper(async (c) => {
          if (typeof path !== 'string' || !path.startsWith('/')) throw new BerthApiError('invalid', 'give the absolute path of an image archive or OCI layout on this machine');
          const params = { path, ...(o?.format ? { format: o.format } : {}), ...(o?.ref ? { ref: o.ref } : {}), ...(o?.config ? { config: o.config } : {}) };
          return (await c.work('image.import', params)).images;
        }),
        'images',
      ),
    removeImage: (ref, force) => changed(withHelper((c) => c.call('image.remove', { ref, force: force === true })), 'images'),
    pruneImages: (all) => changed(withHelper((c) => c.call('image.prune', { all: all === true })), 'images'),

    listNetworks: () => withHelper(LIST_READ.networks),
    createNetwork: (params) =>
      changed(
        withHelper((c) => {
          const name = typeof params?.name === 'string' ? params.name.trim() : '';
          if (!name) throw new BerthApiError('invalid', 'name the network (letters, digits, “_”, “.” and “-”)');
          const p: NetworkCreateParams = { name };
          if (typeof params.subnet === 'string' && params.subnet.trim()) p.subnet = params.subnet.trim();
          if (typeof params.gateway === 'string' && params.gateway.trim()) p.gateway = params.gateway.trim();
          return c.call('network.create', p);
        }),
        'networks',
      ),
    removeNetwork: (ref) => changed(withHelper((c) => c.call('network.remove', { ref })), 'networks'),

    listVolumes: () => withHelper(LIST_READ.volumes),
    inspectVolume: (name) => withHelper((c) => c.call('volume.inspect', { name })),
    createVolume: (name) =>
      changed(
        withHelper((c) => c.call('volume.create', typeof name === 'string' && name.trim() ? { name: name.trim() } : {})),
        'volumes',
      ),
    removeVolume: (name, force) => changed(withHelper((c) => c.call('volume.remove', { name, force: force === true })), 'volumes'),
    pruneVolumes: (all) => changed(withHelper((c) => c.call('volume.prune', all === true ? { all } : {})), 'volumes'),

    on<E extends BerthEventName>(event: E, l: EventListener<E>): Unsubscribe {
      let set = listeners.get(event);
      if (!set) listeners.set(event, (set = new Set()));
      const fn = l as (p: never) => void;
      set.add(fn);
      const kind = LIST_KINDS.find((k) => LIST_EVENT[k] === event);
      if (kind) lists.subscribed(kind, fn);
      else if (event === 'stats') {
        lists.updateTimer();
        stats.update();
      } else if (event === 'helperStatus') {
        const s = link.status;
        queueMicrotask(() => (l as EventListener<'helperStatus'>)(s));
      }
      return () => {
        set.delete(fn);
        lists.updateTimer();
        stats.update();
      };
    },

    close(): void {
      closed = true;
      lists.close();
      stats.close();
      terminals.closeAll();
      for (const id of [...follows.keys()]) void service.stopFollow(id);
      for (const p of pulls.values()) p.abort.abort();
      events?.close();
      link.close();
      listeners.clear();
    },
  };

  link.start();
  return service;
}
