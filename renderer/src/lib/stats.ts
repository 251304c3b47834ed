// Live resource history per container, fed by the `stats` event (one sample per
// container per second). Each container keeps a bounded ring: the last five minutes.
import type { Stats } from '../../../electron/core/protocol';
import { SeriesRing } from './ring';

/** Samples kept per container: five minutes at one a second. */
export const HISTORY_POINTS = 300;
/** Samples a sparkline in the containers list shows. */
export const SPARK_POINTS = 60;

export const STATS_CHANNELS = ['cpu', 'cpuQuota', 'mem', 'memLimit', 'pids', 'pidsLimit'] as const;
export type StatsChannel = (typeof STATS_CHANNELS)[number];

/**
 * CPU use between two samples as a percentage of one CPU (docker's habit: 200% is two
 * busy cores). NaN when the interval is unusable (first sample, clock or counter reset).
 */
export function cpuPercent(prevNs: number, prevMs: number, ns: number, ms: number): number {
  const dt = ms - prevMs;
  const dns = ns - prevNs;
  if (!(dt > 0) || dns < 0) return NaN;
  return (dns / (dt * 1e6)) * 100;
}

export class StatsHistory {
  readonly ring = new SeriesRing<StatsChannel>(HISTORY_POINTS, STATS_CHANNELS);
  private prevNs = NaN;
  private prevMs = NaN;
  oomKills = 0;
  latest: Stats | null = null;

  /** `cpuPercent`, when the sample carries it (the service computes it), is used as is. */
  add(s: Stats & { cpuPercent?: number | null }, receivedMs?: number): void {
    const parsed = Date.parse(s.time);
    const ms = Number.isNaN(parsed) ? (receivedMs ?? Date.now()) : parsed;
    // A repeated sample (same time) adds nothing.
    if (ms === this.prevMs) return;
    const cpu = typeof s.cpuPercent === 'number' ? s.cpuPercent : cpuPercent(this.prevNs, this.prevMs, s.cpu.usageNs, ms);
    this.prevNs = s.cpu.usageNs;
    this.prevMs = ms;
    this.latest = s;
    this.oomKills = s.oomKills;
    this.ring.push(ms, {
      cpu: Number.isNaN(cpu) ? null : cpu,
      cpuQuota: s.cpu.quotaCpus === null ? null : s.cpu.quotaCpus * 100,
      mem: s.memory.usage,
      memLimit: s.memory.limit,
      pids: s.pids.current,
      pidsLimit: s.pids.limit,
    });
  }
}

/** Every container's history; containers that are gone are dropped. */
export class StatsBook {
  private readonly byId = new Map<string, StatsHistory>();

  get size(): number {
    return this.byId.size;
  }

  get(id: string): StatsHistory | undefined {
    return this.byId.get(id);
  }

  add(samples: readonly (Stats & { cpuPercent?: number | null })[], receivedMs = Date.now()): void {
    for (const s of samples) {
      let h = this.byId.get(s.id);
      if (!h) {
        h = new StatsHistory();
        this.byId.set(s.id, h);
      }
      h.add(s, receivedMs);
    }
  }

  /** Keeps only the given ids (called when the container list changes). */
  retain(ids: ReadonlySet<string>): void {
    for (const id of this.byId.keys()) if (!ids.has(id)) this.byId.delete(id);
  }

  clear(): void {
    this.byId.clear();
  }
}
