// A project's jobs: filters (state, kind, user) and paging in the URL, states kept live.
import { useQuery } from '@tanstack/react-query';
import { useTranslation } from 'react-i18next';
import { Link, useParams, useSearchParams } from 'react-router-dom';
import { api, pagePath, seg, type Page, type Schemas, isNotFound } from '../api/client';
import { ErrorView } from '../components/ErrorView';
import { Pager, usePageToken } from '../components/Pager';
import { ProjectTabs } from '../components/ProjectTabs';
import { Reason } from '../components/Reason';
import { formatTime } from '../i18n/format';
import { NotFound } from './NotFound';
import { isActive, jobKinds, jobStates, jobsPath } from './jobs';

export function StateBadge({ state }: { state: string }) {
  const { t } = useTranslation();
  return <span className={`badge state-${state}`}>{t(`jobs.states.${state}`, { defaultValue: state })}</span>;
}

export function ProjectJobs() {
  const { t } = useTranslation();
  const { project = '' } = useParams();
  const [params, setParams] = useSearchParams();
  const [token, go, back, hasPrevious] = usePageToken();
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
  const jobs = useQuery({
    queryKey: ['jobs', project, path, token],
    queryFn: () => api<Page<Schemas['Job']>>(pagePath(path, 50, token)),
    // Live: while a listed job may still change, look again every two seconds.
    refetchInterval: (q) => (q.state.data?.items.some((j) => isActive(j.state)) ? 2000 : false),
  });
  if (isNotFound(jobs.error)) return <NotFound resource />;
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
      {jobs.isPending && <p aria-busy="true">{t('common.loading')}</p>}
      {jobs.isError && <ErrorView error={jobs.error} onRetry={() => jobs.refetch()} />}
      {jobs.data && jobs.data.items.length === 0 && <p className="empty">{t('jobs.empty')}</p>}
      {jobs.data && jobs.data.items.length > 0 && (
        <table>
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
            {jobs.data.items.map((j) => (
              <tr key={j.id}>
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
            ))}
          </tbody>
        </table>
      )}
      <Pager next={jobs.data?.next_page_token} onNext={go} onPrevious={back} hasPrevious={hasPrevious} />
    </section>
  );
}
