// Usage and cost (GET /api/v1/usage): what the projects the user sees held over a period,
// from the job history — totals, a chart by day, a table grouped as the user picks, and
// the same as a CSV file.
import { useQuery } from '@tanstack/react-query';
import { useMemo, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { api } from '../api/client';
import { Chart, type ChartOption } from '../components/Chart';
import { ErrorView } from '../components/ErrorView';
import { formatNumber } from '../i18n/format';

interface Totals {
  gpu_hours: number;
  gpu_memory_gib_hours: number;
  cpu_core_hours: number;
  memory_gib_hours: number;
  cost: number;
}
type Row = Totals & Record<string, string | number>;
interface Report {
  from: string;
  to: string;
  by: string[];
  currency?: string;
  rows: Row[];
  total: Totals;
}

const day = (d: Date) => d.toISOString().slice(0, 10);
const groupings = ['project', 'user', 'workspace', 'job', 'pool'] as const;
// Two decimals, or two significant digits for what is under one (a few minutes' use).
const hours = (v: number) =>
  v > 0 && v < 1 ? formatNumber(v, { maximumSignificantDigits: 2 }) : formatNumber(v, { maximumFractionDigits: 2 });

function query(from: string, to: string, by: string): string {
  return `/api/v1/usage?from=${from}&to=${to}&by=${by}`;
}

function ByDayChart({ rows, title }: { rows: Row[]; title: string }) {
  const { t } = useTranslation();
  const option = useMemo<ChartOption>(() => {
    const days = [...new Set(rows.map((r) => String(r.day)))].sort();
    const projects = [...new Set(rows.map((r) => String(r.project)))].sort();
    return {
      title: { text: title, left: 0, textStyle: { fontSize: 14 } },
      legend: { top: 0, right: 0, type: 'scroll' },
      grid: { left: 56, right: 24, top: 48, bottom: 40 },
      tooltip: { trigger: 'axis', valueFormatter: (v: unknown) => hours(Number(v)) },
      xAxis: { type: 'category', data: days },
      yAxis: { type: 'value', name: t('usage.gpuHours') },
      series: projects.map((p) => ({
        name: p,
        type: 'bar',
        stack: 'gpu',
        data: days.map((d) => rows.find((r) => r.day === d && r.project === p)?.gpu_hours ?? 0),
      })),
    };
  }, [rows, title, t]);
  return <Chart option={option} label={title} />;
}

export function Usage() {
  const { t } = useTranslation();
  const today = new Date();
  const [from, setFrom] = useState(day(new Date(today.getTime() - 29 * 86400000)));
  const [to, setTo] = useState(day(today));
  const [by, setBy] = useState<(typeof groupings)[number]>('project');
  // "to" is the last day shown; the API's is exclusive.
  const end = day(new Date(Date.parse(`${to}T00:00:00Z`) + 86400000));
  const valid = from !== '' && to !== '' && from <= to;
  const table = useQuery({
    queryKey: ['usage', from, end, by],
    queryFn: () => api<Report>(query(from, end, by)),
    enabled: valid,
  });
  const daily = useQuery({
    queryKey: ['usage', from, end, 'project,day'],
    queryFn: () => api<Report>(query(from, end, 'project,day')),
    enabled: valid,
  });
  const currency = table.data?.currency ?? '';
  const cost = (v: number) => `${formatNumber(v, { maximumFractionDigits: 2 })} ${currency}`;
  const total = table.data?.total;
  return (
    <section>
      <h1>{t('usage.title')}</h1>
      <p className="lead">{t('usage.lead')}</p>
      <div className="filters">
        <label className="inline">
          {t('usage.from')} <input type="date" value={from} onChange={(e) => setFrom(e.target.value)} />
        </label>
        <label className="inline">
          {t('usage.to')} <input type="date" value={to} onChange={(e) => setTo(e.target.value)} />
        </label>
        <label className="inline">
          {t('usage.by')}{' '}
          <select value={by} onChange={(e) => setBy(e.target.value as (typeof groupings)[number])}>
            {groupings.map((g) => (
              <option key={g} value={g}>
                {t(`usage.groupings.${g}`)}
              </option>
            ))}
          </select>
        </label>
        {valid && (
          <a className="button" href={`${query(from, end, by)}&format=csv`} download={`usage-${from}-${to}.csv`}>
            {t('usage.csv')}
          </a>
        )}
      </div>
      {!valid && <p className="error-text">{t('usage.badRange')}</p>}
      {table.isError && <ErrorView error={table.error} onRetry={() => table.refetch()} />}
      {total && (
        <dl className="totals">
          <div>
            <dt>{t('usage.gpuHours')}</dt>
            <dd>{hours(total.gpu_hours)}</dd>
          </div>
          <div>
            <dt>{t('usage.gpuMemoryHours')}</dt>
            <dd>{hours(total.gpu_memory_gib_hours)}</dd>
          </div>
          <div>
            <dt>{t('usage.cpuHours')}</dt>
            <dd>{hours(total.cpu_core_hours)}</dd>
          </div>
          <div>
            <dt>{t('usage.memoryHours')}</dt>
            <dd>{hours(total.memory_gib_hours)}</dd>
          </div>
          <div>
            <dt>{t('usage.cost')}</dt>
            <dd>{cost(total.cost)}</dd>
          </div>
        </dl>
      )}
      {daily.data && daily.data.rows.length > 0 && <ByDayChart rows={daily.data.rows} title={t('usage.byDay')} />}
      {table.data && table.data.rows.length === 0 && <p className="muted">{t('usage.none')}</p>}
      {table.data && table.data.rows.length > 0 && (
        <table>
          <thead>
            <tr>
              <th scope="col">{t(`usage.groupings.${by}`)}</th>
              <th scope="col">{t('usage.gpuHours')}</th>
              <th scope="col">{t('usage.gpuMemoryHours')}</th>
              <th scope="col">{t('usage.cpuHours')}</th>
              <th scope="col">{t('usage.memoryHours')}</th>
              <th scope="col">{t('usage.cost')}</th>
            </tr>
          </thead>
          <tbody>
            {table.data.rows.map((r) => (
              <tr key={String(r[by])}>
                <td>{String(r[by])}</td>
                <td>{hours(r.gpu_hours)}</td>
                <td>{hours(r.gpu_memory_gib_hours)}</td>
                <td>{hours(r.cpu_core_hours)}</td>
                <td>{hours(r.memory_gib_hours)}</td>
                <td>{cost(r.cost)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
