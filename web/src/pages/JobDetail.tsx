// One job: its state with the reason in words, the timeline of its events, its log
// (live while it runs), and cancel / run again.
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useTranslation } from 'react-i18next';
import { Link, useNavigate, useParams } from 'react-router-dom';
import { api, pagePath, seg, type Page, type Schemas, isNotFound } from '../api/client';
import { ErrorView } from '../components/ErrorView';
import { Reason } from '../components/Reason';
import { formatDuration, formatNumber, formatTime } from '../i18n/format';
import { LogViewer } from './LogViewer';
import { JobResources } from './Monitoring';
import { NotFound } from './NotFound';
import { Outputs } from './Outputs';
import { JobMetrics } from './Runs';
import { StateBadge } from './ProjectJobs';
import { isActive, jobPath } from './jobs';

function resources(spec: Schemas['JobRequest'] | undefined): string {
  const r = spec?.resources;
  if (!r) return '';
  const parts: string[] = [];
  if (r.gpu_share) parts.push(`GPU ${r.gpu_share.memory_mib} MiB / ${r.gpu_share.cores_percent}%`);
  else if (r.gpus) parts.push(`GPU × ${r.gpus}`);
  if (r.cpu) parts.push(`CPU × ${r.cpu}`);
  if (r.memory_mib) parts.push(`${r.memory_mib} MiB`);
  return parts.join(', ');
}

export function JobDetail() {
  const { t } = useTranslation();
  const { project = '', id = '' } = useParams();
  const client = useQueryClient();
  const navigate = useNavigate();
  const path = jobPath(project, id);
  const job = useQuery({
    queryKey: ['job', project, id],
    queryFn: () => api<Schemas['Job']>(path),
    refetchInterval: (q) => (q.state.data && isActive(q.state.data.state) ? 2000 : false),
  });
  const events = useQuery({
    queryKey: ['job-events', project, id, job.data?.state],
    queryFn: () => api<Page<Schemas['JobEvent']>>(pagePath(`${path}/events`, 200)),
    enabled: !!job.data,
  });
  const cancel = useMutation({
    mutationFn: () => api(`${path}/cancel`, { method: 'POST' }),
    onSuccess: () => client.invalidateQueries({ queryKey: ['job', project, id] }),
  });
  const retry = useMutation({
    mutationFn: () => api<Schemas['Job']>(`${path}/retry`, { method: 'POST' }),
    onSuccess: (j) => navigate(`/projects/${seg(project)}/jobs/${seg(j?.id ?? id)}`),
  });
  if (isNotFound(job.error)) return <NotFound resource />;
  if (job.isError) return <ErrorView error={job.error} onRetry={() => job.refetch()} />;
  if (!job.data) return <p aria-busy="true">{t('common.loading')}</p>;
  const j = job.data;
  const argv = j.spec?.command ?? [];
  // The form's jobs run `sh -c TEXT`: show the text as it was written.
  const code = j.spec?.code as { ref?: string; commit?: string } | undefined;
  const command = argv.length === 3 && argv[0] === 'sh' && argv[1] === '-c' ? argv[2] : argv.join(' ');
  return (
    <section>
      <p className="crumbs">
        <Link to={`/projects/${seg(project)}`}>{t('project.title', { name: project })}</Link>
      </p>
      <div className="heading-row">
        <h1>{t('job.title', { name: j.name })}</h1>
        <StateBadge state={j.state} />
        <div className="spacer" />
        {isActive(j.state) && (
          <button
            type="button"
            className="danger"
            disabled={cancel.isPending || j.cancel_requested}
            onClick={() => window.confirm(t('job.cancelConfirm', { name: j.name })) && cancel.mutate()}
          >
            {t('job.cancel')}
          </button>
        )}
        {!isActive(j.state) && (
          <button type="button" disabled={retry.isPending} onClick={() => retry.mutate()}>
            {t('job.retry')}
          </button>
        )}
      </div>
      {(cancel.isError || retry.isError) && <ErrorView error={cancel.error ?? retry.error} />}
      {(j.message || j.reason) && (
        <p className="reason-box">
          <Reason reason={j.reason} message={j.message} />
        </p>
      )}
      <dl className="facts">
        <dt>{t('job.id')}</dt>
        <dd>{j.id}</dd>
        <dt>{t('jobs.kind')}</dt>
        <dd>{t(`jobs.kinds.${j.kind}`, { defaultValue: j.kind })}</dd>
        <dt>{t('jobs.user')}</dt>
        <dd>{j.user}</dd>
        <dt>{t('job.attempt')}</dt>
        <dd>{j.attempt}</dd>
        <dt>{t('jobs.since')}</dt>
        <dd>{formatTime(j.created_at)}</dd>
        <dt>{t('job.started')}</dt>
        <dd>{formatTime(j.started_at) || '—'}</dd>
        <dt>{t('job.finished')}</dt>
        <dd>{formatTime(j.finished_at) || '—'}</dd>
        <dt>{t('job.exitCode')}</dt>
        <dd>{j.exit_code ?? '—'}</dd>
        <dt>{t('job.command')}</dt>
        <dd>
          <code>{command}</code>
        </dd>
        <dt>{t('job.resources')}</dt>
        <dd>{resources(j.spec) || '—'}</dd>
        {j.progress && (
          <>
            <dt>{t('job.progress')}</dt>
            <dd className="progress-cell">
              <progress max={j.progress.total} value={j.progress.done} aria-label={t('job.progress')} />{' '}
              {formatNumber((100 * j.progress.done) / Math.max(1, j.progress.total), { maximumFractionDigits: 0 })}%{' '}
              {t('job.progressOf', {
                done: j.progress.done,
                total: j.progress.total,
                source: t(`job.progressSources.${j.progress.source}`),
              })}
              {j.progress.eta_s !== undefined && <> {t('job.eta', { time: formatDuration(j.progress.eta_s) })}</>}
            </dd>
          </>
        )}
        {(j.spec?.monitor?.milestones ?? []).length > 0 && (
          <>
            <dt>{t('job.milestones')}</dt>
            <dd>{(j.spec?.monitor?.milestones ?? []).join('; ')}</dd>
          </>
        )}
        {code?.commit && (
          <>
            <dt>{t('job.code')}</dt>
            <dd>
              <Link to={`/projects/${seg(project)}/code`}>{code.ref}</Link> <code title={code.commit}>{code.commit.slice(0, 10)}</code>
            </dd>
          </>
        )}
      </dl>
      <h2>{t('job.metrics')}</h2>
      <JobMetrics project={project} job={j.id} live={isActive(j.state)} />
      <h2>{t('monitoring.resources')}</h2>
      <JobResources path={path} />
      <h2>{t('job.outputs')}</h2>
      <Outputs path={path} ended={!isActive(j.state)} />
      <h2>{t('job.logs')}</h2>
      <LogViewer path={`${path}/logs`} active={isActive(j.state)} />
      <h2>{t('job.timeline')}</h2>
      {events.isError && <ErrorView error={events.error} />}
      {events.data && events.data.items.length === 0 && <p className="muted">{t('job.noEvents')}</p>}
      {events.data && events.data.items.length > 0 && (
        <ol className="timeline">
          {events.data.items.map((e) => (
            <li key={e.seq}>
              <time dateTime={e.time}>{formatTime(e.time)}</time>
              <StateBadge state={e.to} />
              <Reason reason={e.reason} message={e.message} />
            </li>
          ))}
        </ol>
      )}
    </section>
  );
}
