// The start timeline: when each step of the start began and how long it took, in microseconds.
import type { ContainerInfo } from '../../../../electron/core/protocol';
import { Empty, Loading } from '../../components/common';
import { formatMicros } from '../../lib/fmt';

const STEP_TEXT: Record<string, string> = {
  cgroup: 'make the cgroup and write its limits (a second thread, while clone and mounts run)',
  clone: 'clone() the init process into its namespaces (net, ipc and uts were made ahead, while idle)',
  mounts: 'mount the overlay root, /proc, /dev, /sys',
  pivot_root: 'switch the root to the overlay',
  mask: 'mask /proc and /sys paths, make /proc/sys and others read-only',
  exec: 'exec the command',
};

export interface TimelineBar {
  step: string;
  us: number;
  startUs: number;
}

/**
 * Each step where it began (atUs), so that steps run side by side show so; without
 * atUs on every step (a start recorded by an older helper), laid end to end.
 */
export function timelineBars(steps: readonly { step: string; us: number; atUs?: number }[]): { bars: TimelineBar[]; totalUs: number } {
  const placed = steps.length > 0 && steps.every((s) => typeof s.atUs === 'number' && s.atUs >= 0);
  let t = 0;
  let end = 0;
  const bars = steps.map((s) => {
    const us = Math.max(0, s.us);
    const startUs = placed ? (s.atUs as number) : t;
    t += us;
    end = Math.max(end, startUs + us);
    return { step: s.step, us, startUs };
  });
  return { bars, totalUs: end };
}

export function Timeline({ c, loaded }: { c: ContainerInfo; loaded: boolean }) {
  if (!c.timeline) return loaded ? <Empty title="No start timeline">The container has not been started yet.</Empty> : <Loading what="the start timeline" />;
  if (c.timeline.length === 0) return <Empty title="No start timeline">The container has not been started yet.</Empty>;
  const { bars, totalUs } = timelineBars(c.timeline);
  const scale = totalUs > 0 ? totalUs : 1;
  const ticks = [0, 0.25, 0.5, 0.75, 1];
  return (
    <div className="panel" style={{ padding: 'var(--s5)' }}>
      <div className="tl-total" style={{ marginBottom: 'var(--s4)' }}>
        <span className="big" data-testid="timeline-total">{formatMicros(totalUs)}</span>
        <span className="muted">from the start's beginning to the command running — started, not booted. No kernel boots and no init system runs: it is one process placed in namespaces. The cgroup is made by a second thread while the process is cloned and mounts its root; the network, IPC and UTS namespaces were made ahead, while the helper was idle.</span>
      </div>
      <div className="timeline" data-testid="timeline">
        <div className="tl-axis" aria-hidden="true">
          {ticks.map((f) => (
            <span key={f} style={{ left: `${f * 100}%` }}>
              {formatMicros(f * totalUs)}
            </span>
          ))}
        </div>
        {bars.map((b, i) => (
          <div className="tl-row" key={`${b.step}-${i}`} title={STEP_TEXT[b.step] ?? b.step}>
            <span className="step">{b.step}</span>
            <div className="tl-track">
              <div
                className="tl-bar"
                style={{ left: `${(b.startUs / scale) * 100}%`, width: `${(b.us / scale) * 100}%`, background: `var(--chart-${(i % 3) + 1})` }}
                role="img"
                aria-label={`${b.step}: ${formatMicros(b.us)}`}
              >
                <span className="lbl" style={(b.startUs + b.us) / scale > 0.5 ? { left: 'auto', right: 'calc(100% + 6px)' } : undefined}>
                  {formatMicros(b.us)} <span className="muted">· {STEP_TEXT[b.step] ?? ''}</span>
                </span>
              </div>
            </div>
          </div>
        ))}
      </div>
      {c.startToExitUs != null && <p className="muted small" style={{ marginBottom: 0 }}>Start to exit: {formatMicros(c.startToExitUs)}.</p>}
    </div>
  );
}
