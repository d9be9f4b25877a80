import { useQuery } from '@tanstack/react-query';
import { useTranslation } from 'react-i18next';
import { Link } from 'react-router-dom';
import { api, pagePath, seg, type Page, type Schemas } from '../api/client';
import { isPlatformAdmin, useSession } from '../api/session';
import { ErrorView } from '../components/ErrorView';
import { Pager, usePageToken } from '../components/Pager';
import { Reason } from '../components/Reason';
import { formatNumber, formatTime } from '../i18n/format';
import { useNodes } from './Monitoring';
import { StateBadge } from './ProjectJobs';
import { UsageBar } from './ProjectPages';

// Each pool's GPUs and their mean utilisation now, from the node agents' readings.
function PoolUse() {
  const { t } = useTranslation();
  const nodes = useNodes();
  const pools = new Map<string, { gpus: number; util: number; measured: number }>();
  for (const n of nodes.data?.items ?? []) {
    const p = pools.get(n.pool ?? 'default') ?? { gpus: 0, util: 0, measured: 0 };
    for (const g of n.gpus) {
      p.gpus += 1;
      if (g.live?.gpu_util !== undefined) {
        p.util += g.live.gpu_util;
        p.measured += 1;
      }
    }
    pools.set(n.pool ?? 'default', p);
  }
  const measured = [...pools].filter(([, p]) => p.measured > 0);
  if (measured.length === 0) return null;
  return (
    <ul className="pool-use">
      {measured.map(([pool, p]) => (
        <li key={pool}>
          <Link to="/monitoring">
            {t('monitoring.poolUse', {
              pool,
              gpus: formatNumber(p.gpus),
              util: formatNumber(p.util / p.measured, { maximumFractionDigits: 0 }),
            })}
          </Link>
        </li>
      ))}
    </ul>
  );
}

export function Overview() {
  const { t } = useTranslation();
  const { user } = useSession();
  const [token, go, back, hasPrevious] = usePageToken();
  const projects = useQuery({
    queryKey: ['projects', token],
    queryFn: () => api<Page<Schemas['Project']>>(pagePath('/api/v1/projects', 50, token)),
  });
  const jobs = useQuery({
    queryKey: ['my-jobs'],
    queryFn: () => api<Page<Schemas['Job']>>('/api/v1/jobs?active=true&page_size=50'),
    refetchInterval: 5000,
  });
  // GPU use per project, from the scheduler's view (the server cuts it to the caller's).
  const gpus = useQuery({
    queryKey: ['scheduler'],
    queryFn: () => api<Schemas['SchedulerView']>('/api/v1/scheduler'),
    refetchInterval: 5000,
  });
  return (
    <section>
      <h1>{t('overview.title')}</h1>
      <p className="lead">{t('overview.welcome', { name: user?.username ?? '' })}</p>
      <h2>{t('overview.projects')}</h2>
      {projects.isPending && <p aria-busy="true">{t('common.loading')}</p>}
      {projects.isError && <ErrorView error={projects.error} onRetry={() => projects.refetch()} />}
      {projects.data && projects.data.items.length === 0 && !hasPrevious && (
        <div className="empty">
          <p>{t('overview.noProjects')}</p>
          {isPlatformAdmin(user) && (
            <Link className="button primary" to="/workspaces">
              {t('overview.createWorkspace')}
            </Link>
          )}
        </div>
      )}
      {projects.data && projects.data.items.length > 0 && (
        <table>
          <thead>
            <tr>
              <th scope="col">{t('common.name')}</th>
              <th scope="col">{t('overview.workspace')}</th>
              <th scope="col">{t('common.created')}</th>
            </tr>
          </thead>
          <tbody>
            {projects.data.items.map((p) => (
              <tr key={p.name}>
                <td>
                  <Link to={`/projects/${seg(p.name)}`}>{p.name}</Link>
                </td>
                <td>{p.workspace}</td>
                <td>{formatTime(p.created_at)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <Pager next={projects.data?.next_page_token} onNext={go} onPrevious={back} hasPrevious={hasPrevious} />
      <h2>{t('overview.myJobs')}</h2>
      {jobs.isError && <ErrorView error={jobs.error} onRetry={() => jobs.refetch()} />}
      {jobs.data && jobs.data.items.length === 0 && <p className="empty">{t('overview.noJobs')}</p>}
      {jobs.data && jobs.data.items.length > 0 && (
        <table>
          <thead>
            <tr>
              <th scope="col">{t('common.name')}</th>
              <th scope="col">{t('overview.project')}</th>
              <th scope="col">{t('jobs.state')}</th>
              <th scope="col">{t('jobs.reason')}</th>
              <th scope="col">{t('jobs.since')}</th>
            </tr>
          </thead>
          <tbody>
            {jobs.data.items.map((j) => (
              <tr key={j.id}>
                <td>
                  <Link to={`/projects/${seg(j.project)}/jobs/${seg(j.id)}`}>{j.name}</Link>
                </td>
                <td>{j.project}</td>
                <td>
                  <StateBadge state={j.state} />
                </td>
                <td>
                  <Reason reason={j.reason} message={j.message} />
                </td>
                <td>{formatTime(j.created_at)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <PoolUse />
      {gpus.data && gpus.data.projects.length > 0 && (
        <>
          <h2>{t('overview.gpus')}</h2>
          <table>
            <thead>
              <tr>
                <th scope="col">{t('overview.project')}</th>
                <th scope="col">{t('overview.gpuUse')}</th>
              </tr>
            </thead>
            <tbody>
              {gpus.data.projects.map((p) => (
                <tr key={p.project}>
                  <td>{p.project}</td>
                  <td>
                    <UsageBar used={p.gpus_used ?? 0} limit={p.gpus_quota} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </section>
  );
}
