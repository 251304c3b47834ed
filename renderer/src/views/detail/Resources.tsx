// Resources: memory against its limit, CPU % against its quota, PIDs against the
// limit; one sample a second from the `stats` event, the last five minutes kept.
import { CartesianGrid, Line, LineChart, ReferenceLine, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';

import type { ContainerInfo } from '../../../../electron/core/protocol';
import { useBerth } from '../../berth';
import { Empty } from '../../components/common';
import { formatBytes, formatCpu } from '../../lib/fmt';
import { byteUnit, niceTicks } from '../../lib/scale';
import { HISTORY_POINTS, type StatsChannel, type StatsHistory } from '../../lib/stats';

interface Point {
  t: number;
  v: number | null;
}

export function chartPoints(h: StatsHistory | undefined, channel: StatsChannel): Point[] {
  if (!h) return [];
  const r = h.ring;
  const out: Point[] = new Array(r.length);
  for (let k = 0; k < r.length; k++) {
    const v = r.value(channel, k);
    out[k] = { t: r.time(k), v: Number.isFinite(v) ? v : null };
  }
  return out;
}

function secondsAgo(t: number, now: number): string {
  const s = Math.round((now - t) / 1000);
  return s <= 0 ? 'now' : s < 60 ? `-${s}s` : `-${Math.floor(s / 60)}m${s % 60 ? `${s % 60}s` : ''}`;
}

interface ChartProps {
  title: string;
  testId: string;
  data: Point[];
  limit: number | null;
  limitLabel: string;
  format(v: number): string;
  color: string;
  now: number;
  /** at least this top (e.g. 100 for CPU) */
  minTop?: number;
  /** values are bytes: ticks round in KiB / MiB / GiB */
  bytes?: boolean;
  current: string;
}

function LimitChart({ title, testId, data, limit, limitLabel, format, color, now, minTop = 0, current, bytes }: ChartProps) {
  let max = minTop;
  for (const p of data) if (p.v !== null && p.v > max) max = p.v;
  // Room above the limit line so it and its label stay inside the plot.
  if (limit !== null) max = Math.max(max, limit * 1.12);
  const { top, ticks } = niceTicks(max * 1.02, 4, bytes ? byteUnit(max) : 1);
  const from = now - HISTORY_POINTS * 1000;
  return (
    <section className="panel chart-card" data-testid={testId}>
      <header>
        <h3>{title}</h3>
        <span className="muted small">{limit !== null ? `${limitLabel} ${format(limit)}` : `${limitLabel.replace(/ .*/, '')}: none`}</span>
        <span className="now">{current}</span>
      </header>
      <div className="chart-box">
        <ResponsiveContainer width="100%" height="100%">
          <LineChart data={data} margin={{ top: 14, right: 16, bottom: 0, left: 0 }}>
            <CartesianGrid vertical={false} />
            <XAxis dataKey="t" type="number" domain={[from, now]} tickFormatter={(t: number) => secondsAgo(t, now)} tickCount={6} allowDataOverflow />
            <YAxis domain={[0, top]} ticks={ticks} tickFormatter={(v: number) => format(v)} width={64} allowDataOverflow />
            <Tooltip
              isAnimationActive={false}
              content={({ active, payload }) => {
                const p = payload?.[0]?.payload as Point | undefined;
                if (!active || !p || p.v === null) return null;
                return (
                  <div className="chart-tip">
                    <strong>{format(p.v)}</strong> <span className="muted">{secondsAgo(p.t, now)}</span>
                  </div>
                );
              }}
            />
            {limit !== null && (
              <ReferenceLine y={limit} className="limit-line" strokeDasharray="5 4" ifOverflow="extendDomain" label={{ value: `${limitLabel} ${format(limit)}`, position: 'insideTopRight' }} />
            )}
            <Line type="monotone" dataKey="v" stroke={color} strokeWidth={1.75} dot={false} isAnimationActive={false} connectNulls={false} />
          </LineChart>
        </ResponsiveContainer>
      </div>
    </section>
  );
}

export function Resources({ c }: { c: ContainerInfo }) {
  useBerth((s) => s.statsSeq);
  const h = useBerth.getState().stats.get(c.id);
  const now = h && h.ring.length > 0 ? h.ring.lastTime() : Date.now();
  if (c.status !== 'running' && (!h || h.ring.length === 0)) {
    return <Empty title="Not running">Live charts appear while the container runs: memory against its limit, CPU against its quota, PIDs against their limit.</Empty>;
  }
  const last = (ch: StatsChannel): number => h?.ring.last(ch) ?? NaN;
  const orNull = (v: number): number | null => (Number.isFinite(v) ? v : null);
  const memLimit = orNull(last('memLimit'));
  const cpuQuota = orNull(last('cpuQuota'));
  const pidsLimit = orNull(last('pidsLimit'));
  const mem = last('mem');
  const cpu = last('cpu');
  const pids = last('pids');
  return (
    <div>
      <div className="stat-tiles">
        <div className="tile">
          <div className="label">Memory</div>
          <div className="value" data-testid="mem-now">
            {Number.isFinite(mem) ? formatBytes(mem) : '–'} {memLimit !== null && <small>of {formatBytes(memLimit)}</small>}
          </div>
          {memLimit !== null && Number.isFinite(mem) && (
            <div className="meter">
              <div style={{ width: `${Math.min(100, (mem / memLimit) * 100)}%`, background: mem / memLimit > 0.9 ? 'var(--bad)' : undefined }} />
            </div>
          )}
        </div>
        <div className="tile">
          <div className="label">CPU (100% = one core)</div>
          <div className="value">
            {formatCpu(cpu)} {cpuQuota !== null && <small>quota {formatCpu(cpuQuota)}</small>}
          </div>
        </div>
        <div className="tile">
          <div className="label">PIDs</div>
          <div className="value">
            {Number.isFinite(pids) ? pids : '–'} {pidsLimit !== null && <small>of {pidsLimit}</small>}
          </div>
        </div>
        <div className="tile">
          <div className="label">OOM kills</div>
          <div className="value" style={{ color: (h?.oomKills ?? 0) > 0 ? 'var(--bad)' : undefined }}>
            {h?.oomKills ?? 0}
          </div>
        </div>
      </div>
      <div className="charts">
        <LimitChart title="Memory" testId="chart-memory" data={chartPoints(h, 'mem')} limit={memLimit} limitLabel="limit" format={formatBytes} bytes color="var(--chart-2)" now={now} current={Number.isFinite(mem) ? formatBytes(mem) : '–'} />
        <LimitChart title="CPU" testId="chart-cpu" data={chartPoints(h, 'cpu')} limit={cpuQuota} limitLabel="quota" format={formatCpu} color="var(--chart-1)" now={now} minTop={10} current={formatCpu(cpu)} />
        <LimitChart title="PIDs" testId="chart-pids" data={chartPoints(h, 'pids')} limit={pidsLimit} limitLabel="limit" format={(v) => String(Math.round(v))} color="var(--chart-3)" now={now} minTop={4} current={Number.isFinite(pids) ? String(pids) : '–'} />
      </div>
      <p className="muted small">Sampled every second from the container’s cgroup; the last {HISTORY_POINTS / 60} minutes are kept.</p>
    </div>
  );
}
