// A project's code: where to clone and push it (git over the platform, the API token as
// the password), its branches, and the recent commits of the branch chosen.
import { useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, useParams } from 'react-router-dom';
import { api, seg, type Schemas, isNotFound } from '../api/client';
import { ErrorView } from '../components/ErrorView';
import { ProjectTabs } from '../components/ProjectTabs';
import { formatTime } from '../i18n/format';
import { NotFound } from './NotFound';

export function Code() {
  const { t } = useTranslation();
  const { project = '' } = useParams();
  const [ref, setRef] = useState('');
  const code = useQuery({
    queryKey: ['code', project, ref],
    queryFn: () =>
      api<Schemas['ProjectCode']>(
        `/api/v1/projects/${seg(project)}/code?limit=30${ref ? `&ref=${seg(ref)}` : ''}`,
      ),
  });
  if (isNotFound(code.error)) return <NotFound resource />;
  const c = code.data;
  const url = c ? `${window.location.origin}${c.clone_path}` : '';
  return (
    <section>
      <ProjectTabs project={project} />
      {code.isError && <ErrorView error={code.error} onRetry={() => code.refetch()} />}
      {c && (
        <>
          <div className="card wide">
            <h2>{t('code.clone')}</h2>
            <pre className="command" aria-label={t('code.cloneCommand')}>
              <code>{`git clone ${url}`}</code>
            </pre>
            <p className="muted">
              {t('code.credentials')} <Link to="/tokens">{t('code.tokens')}</Link>
            </p>
            <p className="muted">{c.may_push ? t('code.mayPush') : t('code.readOnly')}</p>
            <p className="muted">{t('code.inJobs')}</p>
          </div>
          {c.branches.length === 0 ? (
            <p className="empty">{t('code.empty')}</p>
          ) : (
            <>
              <div className="row">
                <label htmlFor="code-ref">{t('code.branch')}</label>
                <select id="code-ref" value={c.ref} onChange={(e) => setRef(e.target.value)}>
                  {c.branches.map((b) => (
                    <option key={b.name} value={b.name}>
                      {b.name}
                    </option>
                  ))}
                </select>
              </div>
              <h2>{t('code.commits')}</h2>
              <table>
                <thead>
                  <tr>
                    <th scope="col">{t('code.commit')}</th>
                    <th scope="col">{t('code.subject')}</th>
                    <th scope="col">{t('code.author')}</th>
                    <th scope="col">{t('events.time')}</th>
                  </tr>
                </thead>
                <tbody>
                  {c.commits.map((m) => (
                    <tr key={m.id}>
                      <td>
                        <code title={m.id}>{m.id.slice(0, 10)}</code>
                      </td>
                      <td>{m.subject}</td>
                      <td>{m.author}</td>
                      <td>{formatTime(m.time)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </>
          )}
        </>
      )}
    </section>
  );
}
