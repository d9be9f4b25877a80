// Training runs (docs/TRAINING.md): a project's runs with their hyper-parameters to sort
// and pick by, and their curves — hover, zoom that fetches the range again at full detail,
// smoothing computed by the server over every point (so it does not change with zoom or
// point count), log scale, the x axis by step, wall time or relative time — one run alone,
// several overlaid or side by side. The choices live in the address: Back undoes them and
// a link shares them.
import { useQuery } from '@tanstack/react-query';
import { useMemo, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, useNavigate, useParams, useSearchParams } from 'react-router-dom';
import { api, isNotFound, pagePath, seg, type Page, type Schemas } from '../api/client';
import { Chart, type ChartOption } from '../components/Chart';
import { ErrorView } from '../components/ErrorView';
import { ProjectTabs } from '../components/ProjectTabs';
import { formatNumber, formatTime } from '../i18n/format';
import { NotFound } from './NotFound';

type Run = Schemas['TrainingRun'];
type Series = Schemas['Series'];
type Axis = 'step' | 'wall' | 'relative' | `tag:${string}`;
type Layout = 'overlay' | 'side';

const POINTS = 1000;
const axes: Axis[] = ['step', 'wall', 'relative'];
const isTagAxis = (x: Axis) => x.startsWith('tag:');

// The curve settings, read from and written to the address.
function useCurveSettings() {
  const [params, setParams] = useSearchParams();
  const asked = params.get('x') ?? '';
  const x: Axis = (axes as string[]).includes(asked) || asked.startsWith('tag:') ? (asked as Axis) : 'step';
  const smoothing = Math.min(0.99, Math.max(0, Number(params.get('smooth') ?? '0.6') || 0));
  const log = params.get('log') === '1';
  const layout: Layout = params.get('layout') === 'side' ? 'side' : 'overlay';
  const set = (k: string, v: string | null) =>
    setParams(
      (p) => {
        const n = new URLSearchParams(p);
        if (v === null) n.delete(k);
        else n.set(k, v);
        return n;
      },
      { replace: false },
    );
  return { x, smoothing, log, layout, set, params };
}
type Settings = ReturnType<typeof useCurveSettings>;

function CurveControls({ settings, several, tags }: { settings: Settings; several: boolean; tags: string[] }) {
  const { t } = useTranslation();
  const { x, smoothing, log, layout, set } = settings;
  return (
    <div className="toolbar curve-controls">
      <label className="inline">
        {t('runs.xAxis')}{' '}
        <select value={x} onChange={(e) => set('x', e.target.value === 'step' ? null : e.target.value)}>
          {axes.map((a) => (
            <option key={a} value={a}>
              {t(`runs.axes.${a}`)}
            </option>
          ))}
          {tags.map((tag) => (
            <option key={tag} value={`tag:${tag}`}>
              {t('runs.axes.tag', { tag })}
            </option>
          ))}
        </select>
      </label>
      <label className="inline">
        {t('runs.smoothing')}{' '}
        <input
          type="range"
          min={0}
          max={0.99}
          step={0.01}
          value={smoothing}
          onChange={(e) => set('smooth', e.target.value)}
        />{' '}
        <output>{formatNumber(smoothing, { minimumFractionDigits: 2, maximumFractionDigits: 2 })}</output>
      </label>
      <label className="inline">
        <input type="checkbox" checked={log} onChange={(e) => set('log', e.target.checked ? '1' : null)} />{' '}
        {t('runs.logScale')}
      </label>
      {several && (
        <label className="inline">
          {t('runs.layout')}{' '}
          <select value={layout} onChange={(e) => set('layout', e.target.value === 'overlay' ? null : e.target.value)}>
            <option value="overlay">{t('runs.overlay')}</option>
            <option value="side">{t('runs.side')}</option>
          </select>
        </label>
      )}
    </div>
  );
}

// API units of an x value as the chart holds it (wall time: milliseconds on a time axis).
const toApi = (axis: Axis, v: number) => (axis === 'wall' ? v / 1000 : v);
const toChart = (axis: Axis, p: Series['points'][number]) => (axis === 'wall' ? p.x * 1000 : p.x);
const num = (v: unknown) => (typeof v === 'number' ? v : NaN);

// One tag's curves for some runs of a project, fetched together (the same range and point
// count for each).
function TagChart({
  project,
  runs,
  tag,
  settings,
  byRun,
}: {
  project: string;
  runs: string[];
  tag: string;
  settings: Settings;
  byRun?: boolean; // one run of several side by side: the run's name on its chart
}) {
  const { t } = useTranslation();
  const { x, smoothing, log } = settings;
  const [range, setRange] = useState<{ from: number; to: number } | null>(null);
  const query = new URLSearchParams({
    runs: runs.join(','),
    tag,
    points: String(POINTS),
    x,
  });
  if (smoothing > 0) query.set('smoothing', String(smoothing));
  if (range) {
    query.set('from', String(range.from));
    query.set('to', String(range.to));
  }
  const series = useQuery({
    queryKey: ['series', project, query.toString()],
    queryFn: () => api<{ series: Series[] }>(`/api/v1/projects/${seg(project)}/series?${query}`),
    refetchInterval: 5000,
    placeholderData: (prev) => prev,
  });
  const title = byRun ? `${tag} · ${runs[0]}` : tag;
  // A log scale has no place for zero or below: those points are gaps.
  const y = (v: unknown) => (log && num(v) <= 0 ? null : num(v));
  const option = useMemo<ChartOption>(() => {
    const lines: object[] = [];
    for (const s of series.data?.series ?? []) {
      const raw = s.points.map((p) => [toChart(x, p), y(p.value)]);
      const name = runs.length > 1 || byRun ? s.run : tag;
      if (smoothing > 0) {
        lines.push({
          name,
          type: 'line',
          showSymbol: raw.length < 3,
          data: s.points.map((p) => [toChart(x, p), y(p.smoothed)]),
        });
        lines.push({
          name,
          type: 'line',
          showSymbol: false,
          silent: true,
          lineStyle: { opacity: 0.25 },
          tooltip: { show: false },
          data: raw,
        });
      } else {
        lines.push({ name, type: 'line', showSymbol: raw.length < 3, data: raw });
      }
    }
    return {
      animation: false,
      title: { text: title, left: 0, textStyle: { fontSize: 14 } },
      legend: { top: 0, right: 0, type: 'scroll' },
      grid: { left: 64, right: 24, top: 48, bottom: 72 },
      tooltip: {
        trigger: 'axis',
        valueFormatter: (v: unknown) => formatNumber(Number(v), { maximumSignificantDigits: 6 }),
      },
      xAxis:
        x === 'wall'
          ? { type: 'time', ...(range ? { min: range.from * 1000, max: range.to * 1000 } : {}) }
          : {
              type: 'value',
              name: isTagAxis(x) ? x.slice(4) : t(`runs.axisUnits.${x}`),
              nameLocation: 'middle',
              nameGap: 24,
              scale: true,
              ...(range ? { min: range.from, max: range.to } : {}),
            },
      yAxis: log ? { type: 'log', scale: true } : { type: 'value', scale: true },
      dataZoom: [{ type: 'inside' }, { type: 'slider', height: 18, bottom: 8 }],
      series: lines,
    };
  }, [series.data, x, smoothing, log, range, runs.length, tag, title, byRun, t]);
  const total = (series.data?.series ?? []).reduce((n, s) => n + s.in_range, 0);
  return (
    <figure className="curve">
      {series.isError && <ErrorView error={series.error} />}
      <Chart option={option} label={t('runs.chartLabel', { tag })} onZoom={(a, b) => setRange({ from: toApi(x, a), to: toApi(x, b) })} />
      <figcaption className="muted">
        {t('runs.pointsShown', { count: total })}
        {range && (
          <>
            {' '}
            <button type="button" className="link" onClick={() => setRange(null)}>
              {t('runs.resetZoom')}
            </button>
          </>
        )}
      </figcaption>
    </figure>
  );
}

// Every tag of the runs: one chart a tag (overlaid), or a chart a run and tag (side by side).
function Curves({ project, runs, tags, settings }: { project: string; runs: string[]; tags: string[]; settings: Settings }) {
  const { t } = useTranslation();
  if (tags.length === 0) return <p className="muted">{t('runs.noPoints')}</p>;
  if (settings.layout === 'side' && runs.length > 1) {
    return (
      <>
        {tags.map((tag) => (
          <div key={tag} className="curve-row">
            {runs.map((r) => (
              <TagChart key={r} project={project} runs={[r]} tag={tag} settings={settings} byRun />
            ))}
          </div>
        ))}
      </>
    );
  }
  return (
    <div className="curve-grid">
      {tags.map((tag) => (
        <TagChart key={tag} project={project} runs={runs} tag={tag} settings={settings} />
      ))}
    </div>
  );
}

function useRuns(project: string) {
  return useQuery({
    queryKey: ['runs', project],
    queryFn: () => api<Page<Run>>(pagePath(`/api/v1/projects/${seg(project)}/runs`, 200)),
    refetchInterval: 5000,
  });
}

const cellText = (v: unknown): string =>
  v === null || v === undefined
    ? '—'
    : typeof v === 'number'
      ? formatNumber(v, { maximumSignificantDigits: 6 })
      : String(v);
const lastValue = (r: Run, tag: string): unknown => (r.last as Record<string, { value?: unknown }>)[tag]?.value;

export function Progress({ run }: { run: Run }) {
  const { t } = useTranslation();
  if (!run.progress) return <>—</>;
  const pct = run.progress.total > 0 ? (100 * run.progress.done) / run.progress.total : 0;
  return (
    <span className="progress-cell">
      <progress max={run.progress.total} value={run.progress.done} aria-label={t('runs.progress')} />{' '}
      {formatNumber(pct, { maximumFractionDigits: 0 })}%
    </span>
  );
}

// A project's runs: the hyper-parameter table (sort by any column, pick runs) and the
// picked runs' curves.
export function ProjectRuns() {
  const { t } = useTranslation();
  const { project = '' } = useParams();
  const runs = useRuns(project);
  const settings = useCurveSettings();
  const picked = (settings.params.get('compare') ?? '').split(',').filter(Boolean);
  const [sort, setSort] = useState<{ key: string; up: boolean }>({ key: 'updated', up: false });
  const items = useMemo(() => runs.data?.items ?? [], [runs.data]);
  const configKeys = useMemo(
    () => [...new Set(items.flatMap((r) => Object.keys(r.config as object)))].sort().slice(0, 12),
    [items],
  );
  const tagKeys = useMemo(
    () => [...new Set(items.flatMap((r) => Object.keys(r.last as object)))].sort().slice(0, 6),
    [items],
  );
  const sorted = useMemo(() => {
    const value = (r: Run): unknown => {
      if (sort.key === 'updated') return r.updated_at;
      if (sort.key === 'name') return r.name;
      if (sort.key === 'points') return r.points;
      if (sort.key.startsWith('config:')) return (r.config as Record<string, unknown>)[sort.key.slice(7)];
      if (sort.key.startsWith('last:')) return lastValue(r, sort.key.slice(5));
      return '';
    };
    return [...items].sort((a, b) => {
      const va = value(a);
      const vb = value(b);
      const missing = (v: unknown) => v === undefined || v === null;
      if (missing(va) || missing(vb)) return missing(va) ? (missing(vb) ? 0 : 1) : -1;
      const c = typeof va === 'number' && typeof vb === 'number' ? va - vb : String(va).localeCompare(String(vb));
      return sort.up ? c : -c;
    });
  }, [items, sort]);
  const toggle = (name: string) => {
    const next = picked.includes(name) ? picked.filter((n) => n !== name) : [...picked, name];
    settings.set('compare', next.length ? next.join(',') : null);
  };
  const header = (key: string, label: string) => (
    <th scope="col" aria-sort={sort.key === key ? (sort.up ? 'ascending' : 'descending') : 'none'}>
      <button type="button" className="link" onClick={() => setSort({ key, up: sort.key === key ? !sort.up : true })}>
        {label}
      </button>
    </th>
  );
  const pickedRuns = items.filter((r) => picked.includes(r.name));
  const tags = [...new Set(pickedRuns.flatMap((r) => Object.keys(r.last as object)))].sort();
  if (isNotFound(runs.error)) return <NotFound resource />;
  return (
    <section>
      <ProjectTabs project={project} />
      <h2>{t('runs.title')}</h2>
      <p className="muted">{t('runs.intro')}</p>
      {runs.isError && <ErrorView error={runs.error} onRetry={() => runs.refetch()} />}
      {runs.data && items.length === 0 && <p className="muted">{t('runs.none')}</p>}
      {items.length > 0 && (
        <div className="table-scroll">
          <table>
            <caption className="visually-hidden">{t('runs.tableCaption')}</caption>
            <thead>
              <tr>
                <th scope="col">{t('runs.pick')}</th>
                {header('name', t('runs.name'))}
                <th scope="col">{t('runs.owner')}</th>
                <th scope="col">{t('runs.state')}</th>
                <th scope="col">{t('runs.progress')}</th>
                {header('points', t('runs.points'))}
                {configKeys.map((k) => header(`config:${k}`, k))}
                {tagKeys.map((k) => header(`last:${k}`, k))}
                {header('updated', t('runs.updated'))}
              </tr>
            </thead>
            <tbody>
              {sorted.map((r) => (
                <tr key={r.id}>
                  <td>
                    <input
                      type="checkbox"
                      checked={picked.includes(r.name)}
                      onChange={() => toggle(r.name)}
                      aria-label={t('runs.pickRun', { name: r.name })}
                    />
                  </td>
                  <td>
                    <Link to={`/projects/${seg(project)}/runs/${seg(r.name)}`}>{r.name}</Link>
                  </td>
                  <td>{r.owner}</td>
                  <td>{t(`runs.states.${r.state}`)}</td>
                  <td>
                    <Progress run={r} />
                  </td>
                  <td>{formatNumber(r.points)}</td>
                  {configKeys.map((k) => (
                    <td key={k}>{cellText((r.config as Record<string, unknown>)[k])}</td>
                  ))}
                  {tagKeys.map((k) => (
                    <td key={k}>{cellText(lastValue(r, k))}</td>
                  ))}
                  <td>{formatTime(r.updated_at)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {pickedRuns.length > 0 && (
        <>
          <h2>{t('runs.compareTitle', { count: pickedRuns.length })}</h2>
          <CurveControls settings={settings} several={pickedRuns.length > 1} tags={tags} />
          <Curves project={project} runs={pickedRuns.map((r) => r.name)} tags={tags} settings={settings} />
        </>
      )}
      {items.length > 0 && pickedRuns.length === 0 && <p className="muted">{t('runs.pickHint')}</p>}
    </section>
  );
}

// What a run's metrics channel dropped (a job's run): counts by reason.
function Dropped({ run }: { run: Run }) {
  const { t } = useTranslation();
  const dropped = (run.channel?.dropped ?? {}) as Record<string, number>;
  const entries = Object.entries(dropped);
  if (entries.length === 0) return null;
  return (
    <p className="reason-box">
      {t('runs.dropped')}{' '}
      {entries.map(([why, n]) => t('runs.droppedItem', { why, count: n })).join(', ')}
    </p>
  );
}

// One run's curves, configuration and notes (also a job's Metrics section).
// A job's Metrics section: its run, once the job has reported (`live`: it still runs, so
// the run may appear).
export function JobMetrics({ project, job, live }: { project: string; job: string; live: boolean }) {
  const { t } = useTranslation();
  const runs = useQuery({
    queryKey: ['job-run', project, job],
    queryFn: () => api<Page<Run>>(pagePath(`/api/v1/projects/${seg(project)}/runs?job=${seg(job)}`, 1)),
    refetchInterval: (q) => (live && !q.state.data?.items.length ? 3000 : false),
  });
  if (runs.isError) return <ErrorView error={runs.error} onRetry={() => runs.refetch()} />;
  if (!runs.data) return <p aria-busy="true">{t('common.loading')}</p>;
  const run = runs.data.items[0];
  if (!run) return <p className="muted">{t('runs.noneForJob')}</p>;
  return <RunView project={project} name={run.name} compact />;
}

export function RunView({ project, name, compact }: { project: string; name: string; compact?: boolean }) {
  const { t } = useTranslation();
  const settings = useCurveSettings();
  const run = useQuery({
    queryKey: ['run', project, name],
    queryFn: () => api<Run>(`/api/v1/projects/${seg(project)}/runs/${seg(name)}`),
    refetchInterval: (q) => (q.state.data?.state === 'running' ? 3000 : false),
    retry: (n, e) => !isNotFound(e) && n < 2,
  });
  if (isNotFound(run.error)) return <NotFound resource />;
  if (run.isError) return <ErrorView error={run.error} onRetry={() => run.refetch()} />;
  if (!run.data) return <p aria-busy="true">{t('common.loading')}</p>;
  const r = run.data;
  const config = Object.entries(r.config as Record<string, unknown>);
  return (
    <>
      <dl className="facts">
        <dt>{t('runs.state')}</dt>
        <dd>{t(`runs.states.${r.state}`)}</dd>
        <dt>{t('runs.progress')}</dt>
        <dd>
          <Progress run={r} />
        </dd>
        <dt>{t('runs.points')}</dt>
        <dd>{formatNumber(r.points)}</dd>
        {!compact && (
          <>
            <dt>{t('runs.owner')}</dt>
            <dd>{r.owner}</dd>
            {r.job_id && (
              <>
                <dt>{t('runs.job')}</dt>
                <dd>
                  <Link to={`/projects/${seg(project)}/jobs/${seg(r.job_id)}`}>{r.job_id}</Link>
                </dd>
              </>
            )}
          </>
        )}
      </dl>
      <Dropped run={r} />
      <CurveControls settings={settings} several={false} tags={r.tags ?? []} />
      <Curves project={project} runs={[r.name]} tags={r.tags ?? []} settings={settings} />
      {config.length > 0 && (
        <>
          <h3>{t('runs.config')}</h3>
          <table className="compact">
            <caption className="visually-hidden">{t('runs.config')}</caption>
            <tbody>
              {config.map(([k, v]) => (
                <tr key={k}>
                  <th scope="row">{k}</th>
                  <td>{cellText(v)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
      {(r.notes ?? []).length > 0 && (
        <>
          <h3>{t('runs.notes')}</h3>
          <ol className="timeline">
            {(r.notes ?? []).map((n, i) => (
              <li key={i}>
                <time dateTime={n.time}>{formatTime(n.time)}</time> {n.text}
              </li>
            ))}
          </ol>
        </>
      )}
    </>
  );
}

export function RunDetail() {
  const { t } = useTranslation();
  const { project = '', run = '' } = useParams();
  return (
    <section>
      <p className="crumbs">
        <Link to={`/projects/${seg(project)}/runs`}>{t('runs.title')}</Link>
      </p>
      <h1>{t('runs.runTitle', { name: run })}</h1>
      <RunView project={project} name={run} />
    </section>
  );
}

// The sidebar's "Training metrics": the projects the user sees, each to its runs.
export function RunsHome() {
  const { t } = useTranslation();
  const navigate = useNavigate();
  const projects = useQuery({
    queryKey: ['projects-for-runs'],
    queryFn: () => api<Page<Schemas['Project']>>(pagePath('/api/v1/projects', 200)),
  });
  return (
    <section>
      <h1>{t('runs.homeTitle')}</h1>
      <p className="muted">{t('runs.homeIntro')}</p>
      {projects.isError && <ErrorView error={projects.error} />}
      {projects.data && projects.data.items.length === 0 && <p className="muted">{t('runs.noProjects')}</p>}
      <ul className="plain">
        {(projects.data?.items ?? []).map((p) => (
          <li key={p.name}>
            <button type="button" className="link" onClick={() => navigate(`/projects/${seg(p.name)}/runs`)}>
              {p.name}
            </button>
          </li>
        ))}
      </ul>
    </section>
  );
}
