// The audit trail (platform admins; a workspace's, at /workspaces/NAME/audit, for its
// admins): search by user, action, resource, project, status, source and time, every
// filter in the URL; export what matches; verify the hash chain (platform admins).
import { useMutation, useQuery } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, useParams, useSearchParams } from 'react-router-dom';
import { api, pagePath, seg, type Page, type Schemas, isNotFound } from '../api/client';
import { ErrorView } from '../components/ErrorView';
import { Field } from '../components/Field';
import { Pager, usePageToken } from '../components/Pager';
import { formatNumber, formatTime } from '../i18n/format';
import { NotFound } from './NotFound';

const filters = ['user', 'verb', 'resource', 'project', 'status', 'source', 'since', 'until'] as const;
type Filter = (typeof filters)[number];

interface Verdict {
  intact: boolean;
  records: number;
  archived_records: number;
  archives: number;
  first_bad_seq: number | null;
  reason: string;
}

// datetime-local values are local time; the API takes RFC 3339.
const toApiTime = (local: string) => (local ? new Date(local).toISOString() : '');

export function Audit() {
  const { t } = useTranslation();
  const { workspace } = useParams();
  const base = workspace ? `/api/v1/workspaces/${seg(workspace)}/audit` : '/api/v1/audit';
  const [params, setParams] = useSearchParams();
  const [token, go, back, hasPrevious] = usePageToken();
  const [draft, setDraft] = useState<Record<Filter, string>>(
    () => Object.fromEntries(filters.map((f) => [f, params.get(f) ?? ''])) as Record<Filter, string>,
  );
  const query = new URLSearchParams();
  for (const f of filters) {
    const v = params.get(f);
    if (v) query.set(f, f === 'since' || f === 'until' ? toApiTime(v) : v);
  }
  const path = `${base}${query.size ? `?${query}` : ''}`;
  const records = useQuery({
    queryKey: ['audit', path, token],
    queryFn: () => api<Page<Schemas['AuditRecord']>>(pagePath(path, 100, token)),
  });
  const verify = useMutation({ mutationFn: () => api<Verdict>('/api/v1/audit/verify') });
  const search = (e: FormEvent) => {
    e.preventDefault();
    const p = new URLSearchParams();
    for (const f of filters) if (draft[f].trim()) p.set(f, draft[f].trim());
    setParams(p);
  };
  const exportQuery = new URLSearchParams(query);
  exportQuery.set('format', 'jsonl');
  exportQuery.set('page_size', '1000');
  if (isNotFound(records.error)) return <NotFound resource />;
  return (
    <section>
      {workspace && (
        <p className="crumbs">
          <Link to={`/workspaces/${seg(workspace)}`}>{t('workspace.title', { name: workspace })}</Link>
        </p>
      )}
      <h1>{workspace ? t('audit.workspaceTitle', { name: workspace }) : t('audit.title')}</h1>
      <p className="lead">{t('audit.intro')}</p>
      <form className="card wide" onSubmit={search} noValidate>
        <div className="row">
          {filters.map((f) => (
            <Field key={f} id={`audit-${f}`} label={t(`audit.${f}`)}>
              <input
                id={`audit-${f}`}
                type={f === 'since' || f === 'until' ? 'datetime-local' : f === 'status' ? 'number' : 'text'}
                value={draft[f]}
                onChange={(e) => setDraft((d) => ({ ...d, [f]: e.target.value }))}
              />
            </Field>
          ))}
        </div>
        <div className="buttons">
          <button type="submit" className="primary">
            {t('audit.search')}
          </button>
          <button
            type="button"
            onClick={() => {
              setDraft(Object.fromEntries(filters.map((f) => [f, ''])) as Record<Filter, string>);
              setParams(new URLSearchParams());
            }}
          >
            {t('audit.clear')}
          </button>
          <a className="button" href={`${base}?${exportQuery}`} download="audit.jsonl">
            {t('audit.export')}
          </a>
          {!workspace && (
            <button type="button" onClick={() => verify.mutate()} disabled={verify.isPending}>
              {verify.isPending ? t('audit.verifying') : t('audit.verify')}
            </button>
          )}
        </div>
        {verify.data && (
          <p className={verify.data.intact ? 'ok' : 'error'} role="status">
            {verify.data.intact
              ? t('audit.intact', {
                  records: formatNumber(verify.data.records),
                  archived: formatNumber(verify.data.archived_records),
                  archives: formatNumber(verify.data.archives),
                })
              : t('audit.broken', { seq: verify.data.first_bad_seq ?? '?', reason: verify.data.reason })}
          </p>
        )}
        {verify.isError && <ErrorView error={verify.error} />}
      </form>
      {records.isError && <ErrorView error={records.error} onRetry={() => records.refetch()} />}
      {records.data && records.data.items.length === 0 && <p className="empty">{t('audit.empty')}</p>}
      {records.data && records.data.items.length > 0 && (
        <table>
          <thead>
            <tr>
              <th scope="col">{t('audit.time')}</th>
              <th scope="col">{t('audit.user')}</th>
              <th scope="col">{t('audit.verb')}</th>
              <th scope="col">{t('audit.resource')}</th>
              <th scope="col">{t('audit.name')}</th>
              <th scope="col">{t('audit.project')}</th>
              <th scope="col">{t('audit.status')}</th>
              <th scope="col">{t('audit.source')}</th>
            </tr>
          </thead>
          <tbody>
            {records.data.items.map((r) => (
              <tr key={r.seq}>
                <td>{formatTime(r.time)}</td>
                <td>{r.user}</td>
                <td>{r.verb}</td>
                <td>{r.resource_type}</td>
                <td>{r.resource_name}</td>
                <td>{r.project}</td>
                <td className={(r.response_status ?? 0) >= 400 ? 'invalid' : undefined}>{r.response_status}</td>
                <td>{r.source_ip}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <Pager next={records.data?.next_page_token} onNext={go} onPrevious={back} hasPrevious={hasPrevious} />
    </section>
  );
}
