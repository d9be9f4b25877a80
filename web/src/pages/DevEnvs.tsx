// A project's dev environments: open one through the platform's proxy, stop, resume.
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useTranslation } from 'react-i18next';
import { Link, useParams } from 'react-router-dom';
import { api, pagePath, seg, type Page, type Schemas, isNotFound } from '../api/client';
import { ErrorView } from '../components/ErrorView';
import { ProjectTabs } from '../components/ProjectTabs';
import { Reason } from '../components/Reason';
import { formatDuration, formatRelative, formatTime } from '../i18n/format';
import { NotFound } from './NotFound';
import { StateBadge } from './ProjectJobs';
import { isActive, jobPath, jobsPath } from './jobs';

export function DevEnvs() {
  const { t } = useTranslation();
  const { project = '' } = useParams();
  const client = useQueryClient();
  const list = useQuery({
    queryKey: ['devenvs', project],
    queryFn: () => api<Page<Schemas['Job']>>(pagePath(`${jobsPath(project)}?kind=devenv`, 200)),
    refetchInterval: (q) => (q.state.data?.items.some((j) => isActive(j.state)) ? 3000 : false),
  });
  const settings = useQuery({
    queryKey: ['job-settings', project],
    queryFn: () => api<Schemas['JobSettings']>(`/api/v1/projects/${seg(project)}/job-settings`),
  });
  const act = useMutation({
    mutationFn: ({ id, verb }: { id: string; verb: 'cancel' | 'retry' }) =>
      api(`${jobPath(project, id)}/${verb}`, { method: 'POST' }),
    onSuccess: () => client.invalidateQueries({ queryKey: ['devenvs', project] }),
  });
  if (isNotFound(list.error)) return <NotFound resource />;
  const idle = (settings.data as { devenv_idle_s?: number } | undefined)?.devenv_idle_s;
  return (
    <section>
      <ProjectTabs project={project} />
      {idle !== undefined && <p className="lead">{t('devenvs.intro', { idle: formatDuration(idle) })}</p>}
      {list.isError && <ErrorView error={list.error} onRetry={() => list.refetch()} />}
      {act.isError && <ErrorView error={act.error} />}
      {list.data && list.data.items.length === 0 && <p className="empty">{t('devenvs.empty')}</p>}
      {list.data && list.data.items.length > 0 && (
        <table>
          <thead>
            <tr>
              <th scope="col">{t('common.name')}</th>
              <th scope="col">{t('jobs.state')}</th>
              <th scope="col">{t('jobs.reason')}</th>
              <th scope="col">{t('jobs.user')}</th>
              <th scope="col">{t('job.started')}</th>
              <th scope="col">{t('devenvs.idleStop')}</th>
              <th scope="col">{t('common.actions')}</th>
            </tr>
          </thead>
          <tbody>
            {list.data.items.map((j) => (
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
                <td>{j.user}</td>
                <td>{formatTime(j.started_at)}</td>
                <td>
                  {j.state === 'running' && j.idle_stop_at && (
                    <time dateTime={j.idle_stop_at} title={formatTime(j.idle_stop_at)}>
                      {t('devenvs.idleStopAt', { when: formatRelative(j.idle_stop_at) })}
                    </time>
                  )}
                </td>
                <td className="buttons">
                  {j.state === 'running' && j.url && (
                    <a className="button primary" href={j.url} target="_blank" rel="noopener">
                      {t('devenvs.open')}
                    </a>
                  )}
                  {isActive(j.state) && (
                    <button
                      type="button"
                      className="danger"
                      onClick={() =>
                        window.confirm(t('devenvs.stopConfirm', { name: j.name })) && act.mutate({ id: j.id, verb: 'cancel' })
                      }
                    >
                      {t('devenvs.stop')}
                    </button>
                  )}
                  {!isActive(j.state) && (
                    <button type="button" onClick={() => act.mutate({ id: j.id, verb: 'retry' })}>
                      {t('devenvs.resume')}
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
