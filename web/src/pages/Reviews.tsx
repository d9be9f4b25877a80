// The data owners' review queue: release requests for held outputs of the project's
// jobs, each with what the job ran and what it would release; approve or refuse.
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, useParams } from 'react-router-dom';
import { api, pagePath, seg, type Page, type Schemas, isNotFound } from '../api/client';
import { ErrorView } from '../components/ErrorView';
import { ProjectTabs } from '../components/ProjectTabs';
import { formatTime } from '../i18n/format';
import { NotFound } from './NotFound';
import { formatBytes } from './Outputs';

function Review({ project, release }: { project: string; release: Schemas['Release'] }) {
  const { t } = useTranslation();
  const client = useQueryClient();
  const [comment, setComment] = useState('');
  const jobPath = `/api/v1/projects/${seg(project)}/jobs/${seg(release.job_id)}`;
  const job = useQuery({ queryKey: ['job', project, release.job_id], queryFn: () => api<Schemas['Job']>(jobPath) });
  const outputs = useQuery({
    queryKey: ['output-files', `${jobPath}/outputs`, 'review'],
    queryFn: () => api<Page<Schemas['OutputFile']>>(pagePath(`${jobPath}/outputs/files`, 50)),
  });
  const decide = useMutation({
    mutationFn: (verb: 'approve' | 'refuse') =>
      api(`/api/v1/projects/${seg(project)}/releases/${seg(release.id)}/${verb}`, { method: 'POST', body: { comment } }),
    onSuccess: () => client.invalidateQueries({ queryKey: ['releases', project] }),
  });
  const spec = job.data?.spec;
  return (
    <article className="card wide review" aria-label={t('reviews.request', { job: job.data?.name ?? release.job_id })}>
      <h2>
        <Link to={`/projects/${seg(project)}/jobs/${seg(release.job_id)}`}>{job.data?.name ?? release.job_id}</Link>
      </h2>
      <p>
        {t('reviews.asked', { who: release.requester, when: formatTime(release.created_at) })}: “{release.reason}”
      </p>
      {spec && (
        <dl className="facts">
          <dt>{t('job.command')}</dt>
          <dd>
            <code>{(spec.command ?? []).join(' ')}</code>
          </dd>
          <dt>{t('reviews.data')}</dt>
          <dd>{[...(spec.datasets ?? []), ...(spec.inputs ?? []).map((i) => `job ${i}`)].join(', ') || '—'}</dd>
          <dt>{t('reviews.code')}</dt>
          <dd>{spec.code ? <code>{String((spec.code as { commit?: string }).commit ?? '').slice(0, 10)}</code> : '—'}</dd>
        </dl>
      )}
      {outputs.data && (
        <ul className="files">
          {outputs.data.items.map((f) => (
            <li key={f.path}>
              <a href={`${jobPath}/outputs/files/${f.path.split('/').map(encodeURIComponent).join('/')}`} download>
                {f.path}
              </a>{' '}
              <span className="muted">{formatBytes(f.size)}</span>
            </li>
          ))}
        </ul>
      )}
      {release.state === 'pending' ? (
        <div className="row">
          <label htmlFor={`comment-${release.id}`}>{t('reviews.comment')}</label>
          <input id={`comment-${release.id}`} value={comment} onChange={(e) => setComment(e.target.value)} />
          <button type="button" className="primary" disabled={decide.isPending} onClick={() => decide.mutate('approve')}>
            {t('reviews.approve')}
          </button>
          <button type="button" className="danger" disabled={decide.isPending} onClick={() => decide.mutate('refuse')}>
            {t('reviews.refuse')}
          </button>
        </div>
      ) : (
        <p className="muted">
          {t(`outputs.requestStates.${release.state}`, { defaultValue: release.state })}
          {release.reviewer && <> · {t('outputs.reviewedBy', { who: release.reviewer })}</>}
          {release.comment && <> · “{release.comment}”</>}
        </p>
      )}
      {decide.isError && <ErrorView error={decide.error} />}
    </article>
  );
}

export function Reviews() {
  const { t } = useTranslation();
  const { project = '' } = useParams();
  const [state, setState] = useState('pending');
  const releases = useQuery({
    queryKey: ['releases', project, state],
    queryFn: () =>
      api<Page<Schemas['Release']>>(pagePath(`/api/v1/projects/${seg(project)}/releases${state ? `?state=${state}` : ''}`, 100)),
  });
  if (isNotFound(releases.error)) return <NotFound resource />;
  return (
    <section>
      <ProjectTabs project={project} />
      <p className="muted">{t('reviews.intro')}</p>
      <div className="row">
        <label htmlFor="review-state">{t('reviews.show')}</label>
        <select id="review-state" value={state} onChange={(e) => setState(e.target.value)}>
          <option value="pending">{t('outputs.requestStates.pending')}</option>
          <option value="">{t('reviews.all')}</option>
        </select>
      </div>
      {releases.isError && <ErrorView error={releases.error} onRetry={() => releases.refetch()} />}
      {releases.data && releases.data.items.length === 0 && <p className="empty">{t('reviews.empty')}</p>}
      {releases.data?.items.map((r) => <Review key={r.id} project={project} release={r} />)}
    </section>
  );
}
