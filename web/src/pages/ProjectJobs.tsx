// A project's jobs: filters (state, kind, user) in the URL; one long list, read in pages as
// it scrolls and kept live by the project's event stream (useJobList), of which only the
// rows in view are in the page (a fixed row height), so ten thousand jobs scroll as
// smoothly as ten (bench/web measures it).
import { memo, useEffect, useRef, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, useParams, useSearchParams } from 'react-router-dom';
import { seg, isNotFound, type Schemas } from '../api/client';
import { ErrorView } from '../components/ErrorView';
import { ProjectTabs } from '../components/ProjectTabs';
import { Reason } from '../components/Reason';
import { formatNumber, formatTime } from '../i18n/format';
import { NotFound } from './NotFound';
import { jobKinds, jobStates, jobsPath } from './jobs';
import { useJobList } from './useJobList';

export const rowHeight = 41; // px: .virtual-list rows (styles.css) are this tall
const overscan = 20;
const step = 10; // the window moves in steps of this many rows: fewer renders while scrolling

export function StateBadge({ state }: { state: string }) {
  const { t } = useTranslation();
  return <span className={`badge state-${state}`}>{t(`jobs.states.${state}`, { defaultValue: state })}</span>;
}

// The rows of `count` that a scroll box shows, with `overscan` more on each side.
export function visibleRange(scrollTop: number, viewport: number, count: number): [number, number] {
  const top = Math.floor(scrollTop / rowHeight);
  const first = Math.max(0, Math.floor((top - overscan) / step) * step);
  const last = Math.min(count, Math.ceil((top + Math.ceil(viewport / rowHeight) + overscan) / step) * step);
  return [Math.min(first, count), Math.max(Math.min(first, count), last)];
}

// One row; a job object that did not change is not rendered again (scrolling moves the
// window over the same objects; a live update replaces only the job that changed).
const JobRow = memo(function JobRow({ job: j, project, index }: { job: Schemas['Job']; project: string; index: number }) {
  const { t } = useTranslation();
  return (
    <tr aria-rowindex={index + 2}>
      <td>
        <Link to={`/projects/${seg(project)}/jobs/${seg(j.id)}`}>{j.name}</Link>
      </td>
      <td>
        <StateBadge state={j.state} />
      </td>
      <td>
        <Reason reason={j.reason} message={j.message} />
      </td>
      <td>{t(`jobs.kinds.${j.kind}`, { defaultValue: j.kind })}</td>
      <td>{j.user}</td>
      <td>{formatTime(j.created_at)}</td>
    </tr>
  );
});

export function ProjectJobs() {
  const { t } = useTranslation();
  const { project = '' } = useParams();
  const [params, setParams] = useSearchParams();
  const filter = (name: string) => params.get(name) ?? '';
  const setFilter = (name: string, value: string) => {
    const p = new URLSearchParams(params);
    if (value) p.set(name, value);
    else p.delete(name);
    p.delete('page');
    p.delete('trail');
    setParams(p);
  };
  const query = new URLSearchParams();
  for (const k of ['state', 'kind', 'user']) if (filter(k)) query.set(k, filter(k));
  const path = `${jobsPath(project)}${query.size ? `?${query}` : ''}`;
  const jobs = useJobList(project, path);
  const box = useRef<HTMLDivElement>(null);
  const [range, setRange] = useState<[number, number]>([0, 40]);
  const count = jobs.items.length;
  const onScroll = () => {
    const el = box.current;
    if (!el) return;
    const r = visibleRange(el.scrollTop, el.clientHeight, count);
    setRange((old) => (old[0] === r[0] && old[1] === r[1] ? old : r));
    // Near the end of what is loaded: read the next page.
    if (jobs.more && r[1] + 100 > count) jobs.loadMore();
  };
  useEffect(onScroll, [count]); // eslint-disable-line react-hooks/exhaustive-deps
  if (isNotFound(jobs.error)) return <NotFound resource />;
  const [first, last] = [Math.min(range[0], count), Math.min(range[1], count)];
  return (
    <section>
      <ProjectTabs project={project} />
      <form className="filters" aria-label={t('jobs.filters')} onSubmit={(e) => e.preventDefault()}>
        <label>
          {t('jobs.state')}
          <select value={filter('state')} onChange={(e) => setFilter('state', e.target.value)}>
            <option value="">{t('jobs.any')}</option>
            {jobStates.map((s) => (
              <option key={s} value={s}>
                {t(`jobs.states.${s}`)}
              </option>
            ))}
          </select>
        </label>
        <label>
          {t('jobs.kind')}
          <select value={filter('kind')} onChange={(e) => setFilter('kind', e.target.value)}>
            <option value="">{t('jobs.any')}</option>
            {jobKinds.map((k) => (
              <option key={k} value={k}>
                {t(`jobs.kinds.${k}`)}
              </option>
            ))}
          </select>
        </label>
        <label>
          {t('jobs.user')}
          <input value={filter('user')} onChange={(e) => setFilter('user', e.target.value.trim())} />
        </label>
      </form>
      {jobs.loading && count === 0 && <p aria-busy="true">{t('common.loading')}</p>}
      {jobs.error !== null && !isNotFound(jobs.error) && <ErrorView error={jobs.error} onRetry={jobs.retry} />}
      {!jobs.loading && !jobs.error && count === 0 && <p className="empty">{t('jobs.empty')}</p>}
      {count > 0 && (
        <p className="muted list-status" role="status">
          {t(jobs.more ? 'jobs.countMore' : 'jobs.count', { count, formatted: formatNumber(count) })}
          {jobs.live && <span className="live">{t('jobs.live')}</span>}
        </p>
      )}
      {count > 0 && (
        <div className="virtual-list" ref={box} onScroll={onScroll} tabIndex={0} aria-label={t('jobs.listLabel')}>
        <table aria-rowcount={count + 1}>
          <thead>
            <tr>
              <th scope="col">{t('common.name')}</th>
              <th scope="col">{t('jobs.state')}</th>
              <th scope="col">{t('jobs.reason')}</th>
              <th scope="col">{t('jobs.kind')}</th>
              <th scope="col">{t('jobs.user')}</th>
              <th scope="col">{t('jobs.since')}</th>
            </tr>
          </thead>
          <tbody>
            {first > 0 && (
              <tr className="spacer" aria-hidden="true" style={{ height: first * rowHeight }}>
                <td colSpan={6} />
              </tr>
            )}
            {jobs.items.slice(first, last).map((j, i) => (
              <JobRow key={j.id} job={j} project={project} index={first + i} />
            ))}
            {last < count && (
              <tr className="spacer" aria-hidden="true" style={{ height: (count - last) * rowHeight }}>
                <td colSpan={6} />
              </tr>
            )}
          </tbody>
        </table>
        </div>
      )}
    </section>
  );
}
