// "What if": the scheduling simulator (POST /api/v1/scheduler/simulate) on the current
// cluster or a changed copy, with a workload, and its report as charts: allocation and use
// per pool over time (axes, legend, tooltips, zoom), waits per job class, and each
// project's share received against its entitlement. Platform admins only (the server
// refuses others).
import { useMutation, useQuery } from '@tanstack/react-query';
import { useEffect, useMemo, useState, type FormEvent } from 'react';
import { useTranslation } from 'react-i18next';
import { api, type Schemas } from '../api/client';
import { isPlatformAdmin, useSession } from '../api/session';
import { Chart, type ChartOption } from '../components/Chart';
import { ErrorView } from '../components/ErrorView';
import { Field } from '../components/Field';
import { formatDuration, formatNumber } from '../i18n/format';
import { NotFound } from './NotFound';
import { SchedulingTabs } from './Scheduling';

type Report = Schemas['SimulationReport'];
type Series = Record<string, { hour: number[]; allocated: number[]; used: number[] }>;
interface Summary {
  hours: number;
  jobs: number;
  preemptions: number;
  rejected: number;
  decisions_per_second: number;
  classes: Record<string, { started: number; wait_p50_s: number; wait_p90_s: number; wait_p99_s: number }>;
  projects: Record<string, { entitled: number; received: number }>;
}

const exampleWorkload = `# A day of jobs over the cluster's projects (docs/SCHEDULING.md).
seed: 1
hours: 24
jobs_per_hour: 20
users_per_project: 3
classes:
  - {name: small, weight: 6, gpus: 1, minutes: 30, distribution: exponential}
  - {name: large, weight: 1, gpus: 2, minutes: 120, distribution: exponential}
`;

const percent = (v: number) => formatNumber(v, { style: 'percent', maximumFractionDigits: 1 });

function PoolChart({ pool, series }: { pool: string; series: Series[string] }) {
  const { t } = useTranslation();
  const option = useMemo<ChartOption>(
    () => ({
      title: { text: t('whatIf.poolTitle', { pool }), left: 0, textStyle: { fontSize: 14 } },
      legend: { top: 0, right: 0 },
      grid: { left: 56, right: 24, top: 48, bottom: 72 },
      tooltip: { trigger: 'axis', valueFormatter: (v: unknown) => percent(Number(v)) },
      xAxis: {
        type: 'category',
        name: t('whatIf.hour'),
        nameLocation: 'middle',
        nameGap: 28,
        data: series.hour.map((h) => formatNumber(h)),
      },
      yAxis: {
        type: 'value',
        min: 0,
        max: 1,
        name: t('whatIf.share'),
        axisLabel: { formatter: (v: number) => percent(v) },
      },
      dataZoom: [{ type: 'inside' }, { type: 'slider', height: 18, bottom: 8 }],
      series: [
        { name: t('whatIf.allocated'), type: 'line', data: series.allocated, showSymbol: false, areaStyle: { opacity: 0.15 } },
        // Drawn last and dashed, so that it stays visible where the two lines meet.
        { name: t('whatIf.used'), type: 'line', data: series.used, showSymbol: false, lineStyle: { type: 'dashed', width: 2 }, z: 3 },
      ],
    }),
    [pool, series, t],
  );
  return <Chart option={option} label={t('whatIf.poolLabel', { pool })} />;
}

function WaitChart({ classes }: { classes: Summary['classes'] }) {
  const { t } = useTranslation();
  const names = Object.keys(classes);
  const option = useMemo<ChartOption>(() => {
    const minutes = (k: 'wait_p50_s' | 'wait_p90_s' | 'wait_p99_s') => names.map((c) => classes[c][k] / 60);
    return {
      title: { text: t('whatIf.waitsTitle'), left: 0, textStyle: { fontSize: 14 } },
      legend: { top: 0, right: 0 },
      grid: { left: 56, right: 24, top: 48, bottom: 40 },
      tooltip: { trigger: 'axis', valueFormatter: (v: unknown) => formatDuration(Number(v) * 60) },
      xAxis: { type: 'category', data: names, name: t('whatIf.class'), nameLocation: 'middle', nameGap: 26 },
      yAxis: { type: 'value', name: t('whatIf.minutes') },
      series: [
        { name: 'p50', type: 'bar', data: minutes('wait_p50_s') },
        { name: 'p90', type: 'bar', data: minutes('wait_p90_s') },
        { name: 'p99', type: 'bar', data: minutes('wait_p99_s') },
      ],
    };
  }, [classes, names, t]);
  return <Chart option={option} label={t('whatIf.waitsTitle')} />;
}

function ShareChart({ projects }: { projects: Summary['projects'] }) {
  const { t } = useTranslation();
  const names = Object.keys(projects);
  const option = useMemo<ChartOption>(
    () => ({
      title: { text: t('whatIf.sharesTitle'), left: 0, textStyle: { fontSize: 14 } },
      legend: { top: 0, right: 0 },
      grid: { left: 56, right: 24, top: 48, bottom: 40 },
      tooltip: { trigger: 'axis', valueFormatter: (v: unknown) => percent(Number(v)) },
      xAxis: { type: 'category', data: names, name: t('scheduling.project'), nameLocation: 'middle', nameGap: 26 },
      yAxis: { type: 'value', min: 0, axisLabel: { formatter: (v: number) => percent(v) } },
      series: [
        { name: t('whatIf.entitled'), type: 'bar', data: names.map((p) => projects[p].entitled) },
        { name: t('whatIf.received'), type: 'bar', data: names.map((p) => projects[p].received) },
      ],
    }),
    [projects, names, t],
  );
  return <Chart option={option} label={t('whatIf.sharesTitle')} />;
}

export function WhatIf() {
  const { t } = useTranslation();
  const { user } = useSession();
  const admin = isPlatformAdmin(user);
  const current = useQuery({
    queryKey: ['scheduler-cluster'],
    queryFn: () => api<{ yaml: string }>('/api/v1/scheduler/cluster'),
    enabled: admin,
  });
  const [cluster, setCluster] = useState('');
  const [format, setFormat] = useState<'yaml' | 'csv'>('yaml');
  const [workload, setWorkload] = useState(exampleWorkload);
  useEffect(() => {
    if (current.data && cluster === '') setCluster(current.data.yaml);
    // Only the first answer fills the form; later edits are the user's.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [current.data]);
  const run = useMutation({
    mutationFn: () =>
      api<Report>('/api/v1/scheduler/simulate', {
        method: 'POST',
        body: { cluster, workload, workload_format: format },
      }),
  });
  if (!admin) return <NotFound resource />;
  const workloadError = workload.trim() === '' ? t('whatIf.workloadMissing') : undefined;
  const onSubmit = (e: FormEvent) => {
    e.preventDefault();
    if (!workloadError) run.mutate();
  };
  const report = run.data;
  const summary = report?.summary as Summary | undefined;
  const series = report?.series as Series | undefined;
  return (
    <section>
      <h1>{t('scheduling.title')}</h1>
      <SchedulingTabs />
      <p className="lead">{t('whatIf.intro')}</p>
      <form className="card wide" onSubmit={onSubmit} aria-label={t('whatIf.form')}>
        <div className="row">
          <Field id="whatif-cluster" label={t('whatIf.cluster')} help={t('whatIf.clusterHelp')}>
            <textarea
              id="whatif-cluster"
              rows={10}
              spellCheck={false}
              value={cluster}
              onChange={(e) => setCluster(e.target.value)}
              aria-describedby="whatif-cluster-help"
            />
          </Field>
          <Field id="whatif-workload" label={t('whatIf.workload')} error={workloadError} help={t('whatIf.workloadHelp')}>
            <textarea
              id="whatif-workload"
              rows={10}
              spellCheck={false}
              value={workload}
              onChange={(e) => setWorkload(e.target.value)}
              aria-invalid={workloadError ? true : undefined}
              aria-describedby="whatif-workload-help"
            />
          </Field>
        </div>
        <div className="buttons">
          <label className="inline">
            <span>{t('whatIf.format')}</span>
            <select value={format} onChange={(e) => setFormat(e.target.value as 'yaml' | 'csv')}>
              <option value="yaml">{t('whatIf.generator')}</option>
              <option value="csv">{t('whatIf.trace')}</option>
            </select>
          </label>
          <button type="button" onClick={() => current.data && setCluster(current.data.yaml)} disabled={!current.data}>
            {t('whatIf.reset')}
          </button>
          <button type="submit" className="primary" disabled={run.isPending || !!workloadError}>
            {run.isPending ? t('whatIf.running') : t('whatIf.run')}
          </button>
        </div>
      </form>
      {current.isError && <ErrorView error={current.error} onRetry={() => current.refetch()} />}
      {run.isError && <ErrorView error={run.error} />}
      {summary && series && (
        <section aria-label={t('whatIf.report')} className="report">
          <h2>{t('whatIf.report')}</h2>
          <p>
            {t('whatIf.facts', {
              jobs: formatNumber(summary.jobs),
              hours: formatNumber(summary.hours, { maximumFractionDigits: 1 }),
              preemptions: formatNumber(summary.preemptions),
              rejected: formatNumber(summary.rejected),
              rate: formatNumber(summary.decisions_per_second, { maximumFractionDigits: 0 }),
              wall: formatNumber(report?.wall_ms ?? 0),
            })}
          </p>
          {Object.entries(series).map(([pool, s]) => (
            <PoolChart key={pool} pool={pool} series={s} />
          ))}
          <div className="chart-row">
            <WaitChart classes={summary.classes} />
            <ShareChart projects={summary.projects} />
          </div>
        </section>
      )}
    </section>
  );
}
