import { useQuery } from '@tanstack/react-query';
import { useTranslation } from 'react-i18next';
import { Link } from 'react-router-dom';
import { api, pagePath, seg, type Page, type Schemas } from '../api/client';
import { isPlatformAdmin, useSession } from '../api/session';
import { ErrorView } from '../components/ErrorView';
import { Pager, usePageToken } from '../components/Pager';
import { formatTime } from '../i18n/format';

export function Overview() {
  const { t } = useTranslation();
  const { user } = useSession();
  const [token, go, back, hasPrevious] = usePageToken();
  const projects = useQuery({
    queryKey: ['projects', token],
    queryFn: () => api<Page<Schemas['Project']>>(pagePath('/api/v1/projects', 50, token)),
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
    </section>
  );
}
