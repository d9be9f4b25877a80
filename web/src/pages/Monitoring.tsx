// GPU monitoring: every node's GPUs now (utilisation, memory, temperature, power, health,
// from the node agent through GET /api/v1/nodes) and over a range the user picks
// (GET /api/v1/monitoring/gpus, one chart per metric, a line per GPU, hover and zoom).
// Also the pieces other pages show: live readings by GPU UUID, and a job's resources.
import { useQuery } from '@tanstack/react-query';
import { useMemo, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { api } from '../api/client';
import { Chart, type ChartOption } from '../components/Chart';
import { ErrorView } from '../components/ErrorView';
import { formatNumber, formatTime } from '../i18n/format';

interface Live {
  gpu_util?: number;
  mem_copy_util?: number;
  fb_used_mib?: number;
  fb_total_mib?: number;
  gpu_temp_c?: number;
  power_w?: number;
  last_xid?: number;
}
interface NodeGpu {
  uuid: string;
  name?: string;
  memory_mib?: number;
  healthy?: boolean;
  unhealthy_reason?: string;
  live?: Live;
}
interface NodeItem {
  name: string;
  pool?: string;
  gpus: NodeGpu[];
  monitoring?: { agent?: string; sampled_at?: string };
}
export interface Series {
  metric?: string;
  labels: Record<string, string>;
  points: [number, number][];
}
export interface SeriesAnswer {
  start: string;
  end: string;
  step_s: number;
  coarse?: string;
  series: Series[];
  // A job's: what it may use of each GPU it holds.
  gpu_limits?: { share: boolean; gpus?: number; memory_mib?: number; cores_percent: number };
}

// The nodes with the agent's latest readings, every 5 s.
export function useNodes() {
  return useQuery({
    queryKey: ['nodes'],
    queryFn: () => api<{ items: NodeItem[] }>('/api/v1/nodes'),
    refetchInterval: 5000,
  });
}

// Live readings and health by GPU UUID.
export function useLiveGpus(): Map<string, NodeGpu> {
  const nodes = useNodes();
  return useMemo(() => {
    const m = new Map<string, NodeGpu>();
    for (const n of nodes.data?.items ?? []) for (const g of n.gpus) m.set(g.uuid, g);
    return m;
  }, [nodes.data]);
}

export const ranges = ['15m', '1h', '6h', '24h', '7d'] as const;
export type Range = (typeof ranges)[number];

export function RangePicker({ value, onChange }: { value: Range; onChange: (r: Range) => void }) {
  const { t } = useTranslation();
  return (
    <label className="inline">
      {t('monitoring.range')}{' '}
      <select value={value} onChange={(e) => onChange(e.target.value as Range)}>
        {ranges.map((r) => (
          <option key={r} value={r}>
            {t(`monitoring.ranges.${r}`)}
          </option>
        ))}
      </select>
    </label>
  );
}

// One line per series over time; hover shows every line's value at that time, the slider
// and the wheel zoom.
export function SeriesChart({
  title,
  unit,
  series,
  name,
  max,
  span,
  limit,
}: {
  title: string;
  unit: string;
  series: Series[];
  name: (s: Series) => string;
  max?: number;
  span: { start: string; end: string };
  // A dashed line at what the job may use (a GPU share's limit), with its label.
  limit?: { value: number; label: string };
}) {
  const option = useMemo<ChartOption>(
    () => ({
      title: { text: title, left: 0, textStyle: { fontSize: 14 } },
      legend: { top: 0, right: 0, type: 'scroll' },
      grid: { left: 64, right: 24, top: 48, bottom: 64 },
      tooltip: {
        trigger: 'axis',
        valueFormatter: (v: unknown) => `${formatNumber(Number(v), { maximumFractionDigits: 1 })} ${unit}`,
      },
      xAxis: { type: 'time', min: Date.parse(span.start), max: Date.parse(span.end) },
      yAxis: { type: 'value', min: 0, max, name: unit },
      dataZoom: [{ type: 'inside' }, { type: 'slider', height: 18, bottom: 8 }],
      series: series.map((s, i) => ({
        name: name(s),
        type: 'line',
        // A line of one or two points would not show without its symbols.
        showSymbol: s.points.length < 3,
        data: s.points,
        ...(limit && i === 0
          ? {
              markLine: {
                silent: true,
                symbol: 'none',
                lineStyle: { type: 'dashed' },
                label: { formatter: limit.label },
                data: [{ yAxis: limit.value }],
              },
            }
          : {}),
      })),
    }),
    [title, unit, series, name, max, span, limit],
  );
  return <Chart option={option} label={title} />;
}

const metrics = [
  { key: 'utilization', unit: '%', max: 100 },
  { key: 'memory', unit: 'MiB' },
  { key: 'temperature', unit: '°C' },
  { key: 'power', unit: 'W' },
] as const;

function GpuChart({ metric, range }: { metric: (typeof metrics)[number]; range: Range }) {
  const { t } = useTranslation();
  const q = useQuery({
    queryKey: ['monitoring-gpus', metric.key, range],
    queryFn: () => api<SeriesAnswer>(`/api/v1/monitoring/gpus?metric=${metric.key}&range=${range}`),
    refetchInterval: 10000,
  });
  const name = (s: Series) => t('monitoring.gpuName', { node: s.labels.Hostname ?? '', gpu: s.labels.gpu ?? '' });
  if (q.isError) return <ErrorView error={q.error} onRetry={() => q.refetch()} />;
  if (!q.data) return <p aria-busy="true">{t('common.loading')}</p>;
  return (
    <SeriesChart
      title={t(`monitoring.metrics.${metric.key}`)}
      unit={metric.unit}
      series={q.data.series}
      name={name}
      max={'max' in metric ? metric.max : undefined}
      span={q.data}
    />
  );
}

const one = (v: number | undefined, digits = 0) =>
  v === undefined ? '–' : formatNumber(v, { maximumFractionDigits: digits });

export function Monitoring() {
  const { t } = useTranslation();
  const [range, setRange] = useState<Range>('1h');
  const nodes = useNodes();
  return (
    <section>
      <h1>{t('monitoring.title')}</h1>
      <p className="lead">{t('monitoring.lead')}</p>
      {nodes.isError && <ErrorView error={nodes.error} onRetry={() => nodes.refetch()} />}
      {nodes.data && (
        <table>
          <caption>{t('monitoring.now')}</caption>
          <thead>
            <tr>
              <th scope="col">{t('monitoring.node')}</th>
              <th scope="col">{t('monitoring.gpu')}</th>
              <th scope="col">{t('monitoring.model')}</th>
              <th scope="col">{t('monitoring.metrics.utilization')}</th>
              <th scope="col">{t('monitoring.metrics.memory')}</th>
              <th scope="col">{t('monitoring.metrics.temperature')}</th>
              <th scope="col">{t('monitoring.metrics.power')}</th>
              <th scope="col">{t('monitoring.health')}</th>
            </tr>
          </thead>
          <tbody>
            {nodes.data.items.flatMap((n) =>
              n.gpus.map((g, i) => (
                <tr key={g.uuid}>
                  <td>
                    {n.name}
                    {i === 0 && n.monitoring?.agent && n.monitoring.agent !== 'ok' && (
                      <span className="muted"> · {n.monitoring.agent}</span>
                    )}
                  </td>
                  <td title={g.uuid}>{i}</td>
                  <td>{g.name}</td>
                  <td>
                    {g.live?.gpu_util === undefined ? (
                      '–'
                    ) : (
                      <>
                        {one(g.live.gpu_util)}%{' '}
                        <meter min={0} max={100} value={g.live.gpu_util} aria-label={t('monitoring.metrics.utilization')} />
                      </>
                    )}
                  </td>
                  <td>
                    {t('monitoring.memoryOf', {
                      used: one(g.live?.fb_used_mib === undefined ? undefined : g.live.fb_used_mib / 1024, 1),
                      total: one((g.live?.fb_total_mib ?? g.memory_mib ?? 0) / 1024, 1),
                    })}
                  </td>
                  <td>{g.live?.gpu_temp_c === undefined ? '–' : `${one(g.live.gpu_temp_c)} °C`}</td>
                  <td>{g.live?.power_w === undefined ? '–' : `${one(g.live.power_w)} W`}</td>
                  <td>
                    {g.healthy === false ? (
                      <span className="badge state-failed">{t('monitoring.unhealthy', { reason: g.unhealthy_reason ?? '' })}</span>
                    ) : (
                      <span className="badge state-succeeded">{t('monitoring.healthy')}</span>
                    )}
                  </td>
                </tr>
              )),
            )}
          </tbody>
        </table>
      )}
      {nodes.data?.items[0]?.monitoring?.sampled_at && (
        <p className="muted">{t('monitoring.sampledAt', { time: formatTime(nodes.data.items[0].monitoring.sampled_at, true) })}</p>
      )}
      <h2>{t('monitoring.overTime')}</h2>
      <RangePicker value={range} onChange={setRange} />
      <div className="charts">
        {metrics.map((m) => (
          <GpuChart key={m.key} metric={m} range={range} />
        ))}
      </div>
    </section>
  );
}

// A job's resources over a range: its GPUs' use and memory, CPU cores and memory.
export function JobResources({ path }: { path: string }) {
  const { t } = useTranslation();
  const [range, setRange] = useState<Range>('1h');
  const q = useQuery({
    queryKey: ['job-resources', path, range],
    queryFn: () => api<SeriesAnswer>(`${path}/resources?range=${range}`),
    refetchInterval: 10000,
  });
  const pick = (metric: string) => q.data?.series.filter((s) => s.metric === metric) ?? [];
  const gpuName = (s: Series) => t('monitoring.gpuName', { node: s.labels.Hostname ?? '', gpu: s.labels.gpu ?? '' });
  const runName = (s: Series) => s.labels.run ?? '';
  const gib = (s: Series[]) => s.map((x) => ({ ...x, points: x.points.map(([ts, v]) => [ts, v / 2 ** 30] as [number, number]) }));
  const share = q.data?.gpu_limits?.share ? q.data.gpu_limits : undefined;
  const memoryLimit = useMemo(
    () => (share?.memory_mib ? { value: share.memory_mib, label: t('monitoring.limitLine') } : undefined),
    [share?.memory_mib, t],
  );
  const coresLimit = useMemo(
    () => (share && share.cores_percent < 100 ? { value: share.cores_percent, label: t('monitoring.limitLine') } : undefined),
    [share, t],
  );
  return (
    <div>
      <RangePicker value={range} onChange={setRange} />
      {q.isError && <ErrorView error={q.error} onRetry={() => q.refetch()} />}
      {q.data?.coarse && <p className="muted">{t('monitoring.coarse')}</p>}
      {q.data?.gpu_limits && (
        <p className="muted" data-testid="gpu-limits">
          {q.data.gpu_limits.share
            ? t('monitoring.shareLimit', { memory: q.data.gpu_limits.memory_mib ?? '?', cores: q.data.gpu_limits.cores_percent })
            : t('monitoring.wholeLimit', { gpus: q.data.gpu_limits.gpus ?? 1, memory: q.data.gpu_limits.memory_mib ?? '?' })}
        </p>
      )}
      {q.data && q.data.series.length === 0 && <p className="muted">{t('monitoring.noResources')}</p>}
      {q.data && q.data.series.length > 0 && (
        <div className="charts">
          {pick('jizhan_job_gpu_util').length > 0 && (
            <SeriesChart
              title={t('monitoring.jobGpuUtil')}
              unit="%"
              series={pick('jizhan_job_gpu_util')}
              name={gpuName}
              span={q.data}
              limit={coresLimit}
            />
          )}
          {pick('jizhan_job_gpu_memory_used_mib').length > 0 && (
            <SeriesChart
              title={t('monitoring.jobGpuMemory')}
              unit="MiB"
              series={pick('jizhan_job_gpu_memory_used_mib')}
              name={gpuName}
              span={q.data}
              limit={memoryLimit}
            />
          )}
          <SeriesChart
            title={t('monitoring.jobCpu')}
            unit={t('monitoring.cores')}
            series={pick('jizhan_job_cpu_cores')}
            name={runName}
            span={q.data}
          />
          <SeriesChart
            title={t('monitoring.jobMemory')}
            unit="GiB"
            series={gib(pick('jizhan_job_memory_bytes'))}
            name={runName}
            span={q.data}
          />
        </div>
      )}
    </div>
  );
}

// A project's measured GPU use, its jobs' series summed by user.
export function ProjectGpuUse({ project }: { project: string }) {
  const { t } = useTranslation();
  const [range, setRange] = useState<Range>('1h');
  const q = useQuery({
    queryKey: ['project-resources', project, range],
    queryFn: () => api<SeriesAnswer>(`/api/v1/projects/${encodeURIComponent(project)}/resources?range=${range}`),
    refetchInterval: 10000,
  });
  const pick = (metric: string) => q.data?.series.filter((s) => s.metric === metric) ?? [];
  const userName = (s: Series) => s.labels.user ?? '';
  return (
    <div>
      <h2>{t('monitoring.projectUse')}</h2>
      <RangePicker value={range} onChange={setRange} />
      {q.isError && <ErrorView error={q.error} onRetry={() => q.refetch()} />}
      {q.data?.coarse && <p className="muted">{t('monitoring.projectCoarse')}</p>}
      {q.data && q.data.series.length === 0 && <p className="muted">{t('monitoring.noProjectUse')}</p>}
      {q.data && q.data.series.length > 0 && (
        <div className="charts">
          <SeriesChart
            title={t('monitoring.projectGpuUtil')}
            unit="%"
            series={pick('jizhan_job_gpu_util')}
            name={userName}
            span={q.data}
          />
          <SeriesChart
            title={t('monitoring.projectGpuMemory')}
            unit="MiB"
            series={pick('jizhan_job_gpu_memory_used_mib')}
            name={userName}
            span={q.data}
          />
        </div>
      )}
    </div>
  );
}
