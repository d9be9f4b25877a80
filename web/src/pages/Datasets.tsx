// A project's datasets: names and levels for everyone; registering a server folder,
// uploading an archive (with progress), deleting, and the log policy of each level for
// those the server lets do it (data owners and admins).
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect, useState, type FormEvent } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, useParams } from 'react-router-dom';
import { api, apiTagged, pagePath, seg, type Page, type Schemas, isNotFound } from '../api/client';
import { uploadDataset } from '../api/upload';
import { can, usePermissions } from '../api/permissions';
import { ActionError } from '../components/ActionError';
import { ErrorView, errorText } from '../components/ErrorView';
import { Field } from '../components/Field';
import { ProjectTabs } from '../components/ProjectTabs';
import { formatTime } from '../i18n/format';
import { NotFound } from './NotFound';
import { resourceName } from './Workspaces';

const levels = ['open', 'internal', 'secret'] as const;

function Register({ project, onDone }: { project: string; onDone: () => void }) {
  const { t } = useTranslation();
  const [name, setName] = useState('');
  const [path, setPath] = useState('');
  const [level, setLevel] = useState<string>('internal');
  const [file, setFile] = useState<File | null>(null);
  const [percent, setPercent] = useState<number | null>(null);
  const [done, setDone] = useState('');
  const bad = name !== '' && !resourceName.test(name);
  const base = `/api/v1/projects/${seg(project)}/datasets`;
  const register = useMutation({
    mutationFn: () => api(base, { method: 'POST', body: { name, path, security_level: level } }),
    onSuccess: () => {
      setName('');
      setPath('');
      onDone();
    },
  });
  const send = useMutation({
    // In chunks that resume after a dropped connection (api/upload.ts).
    mutationFn: () =>
      uploadDataset(project, name, level, file!, {
        onProgress: (sent, total) => setPercent(Math.floor((100 * sent) / total)),
      }),
    onSuccess: () => {
      setDone(t('datasets.uploaded', { name }));
      setName('');
      setFile(null);
      setPercent(null);
      onDone();
    },
    onError: () => setPercent(null),
  });
  const error = register.error ?? send.error;
  return (
    <form className="card wide" noValidate onSubmit={(e: FormEvent) => e.preventDefault()}>
      <div className="row">
        <Field id="ds-name" label={t('common.name')} error={bad ? t('workspaces.nameInvalid') : undefined}>
          <input
            id="ds-name"
            value={name}
            aria-invalid={bad}
            aria-describedby={bad ? 'ds-name-help' : undefined}
            onChange={(e) => setName(e.target.value)}
          />
        </Field>
        <Field id="ds-level" label={t('datasets.level')} help={t('datasets.levelHelp')}>
          <select id="ds-level" value={level} aria-describedby="ds-level-help" onChange={(e) => setLevel(e.target.value)}>
            {levels.map((l) => (
              <option key={l} value={l}>
                {t(`datasets.levels.${l}`)}
              </option>
            ))}
          </select>
        </Field>
      </div>
      <div className="row">
        <Field id="ds-path" label={t('datasets.path')} help={t('datasets.pathHelp')}>
          <input id="ds-path" value={path} aria-describedby="ds-path-help" onChange={(e) => setPath(e.target.value)} />
        </Field>
        <div className="field end">
          <button
            type="button"
            className="primary"
            disabled={!name || bad || !path || register.isPending}
            onClick={() => register.mutate()}
          >
            {register.isPending ? t('datasets.registering') : t('datasets.register')}
          </button>
        </div>
      </div>
      <div className="row">
        <Field id="ds-file" label={t('datasets.file')}>
          <input
            id="ds-file"
            type="file"
            accept=".tar,.tar.gz,.tgz,application/x-tar,application/gzip"
            onChange={(e) => setFile(e.target.files?.[0] ?? null)}
          />
        </Field>
        <div className="field end">
          <button type="button" disabled={!name || bad || !file || send.isPending} onClick={() => send.mutate()}>
            {percent !== null ? t('datasets.uploading', { percent }) : t('datasets.upload')}
          </button>
          {percent !== null && <progress max={100} value={percent} aria-label={t('datasets.uploading', { percent })} />}
        </div>
      </div>
      {error && (
        <p className="error" role="alert">
          {errorText(error, t)}
        </p>
      )}
      {done && !send.isPending && (
        <p className="ok" role="status">
          {done}
        </p>
      )}
    </form>
  );
}

function LogPolicy({ project, level }: { project: string; level: string }) {
  const { t } = useTranslation();
  const path = `/api/v1/projects/${seg(project)}/log-policies/${level}`;
  // The answer holds the policy and what the server derives from it (its leak budget);
  // only the policy is edited.
  const policy = useQuery({
    queryKey: ['policy', project, level],
    queryFn: () => apiTagged<{ policy: unknown; leak_budget?: { bounded?: boolean; bits_per_line?: number } }>(path),
  });
  const [text, setText] = useState('');
  useEffect(() => {
    if (policy.data) setText(JSON.stringify(policy.data.body.policy, null, 2));
  }, [policy.data]);
  let parsed: unknown = undefined;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  const save = useMutation({
    mutationFn: () => api(path, { method: 'PUT', body: parsed, ifMatch: policy.data?.etag }),
    onSettled: () => policy.refetch(),
  });
  const id = `policy-${level}`;
  return (
    <details className="policy">
      <summary>{t('datasets.policy', { level: t(`datasets.levels.${level}`) })}</summary>
      {policy.isError && <ErrorView error={policy.error} />}
      <Field id={id} label={t('datasets.policy', { level: t(`datasets.levels.${level}`) })} help={t('datasets.policyHelp')}
        error={text && parsed === undefined ? t('datasets.policyInvalid') : undefined}>
        <textarea id={id} rows={12} value={text} aria-describedby={`${id}-help`} onChange={(e) => setText(e.target.value)} />
      </Field>
      <ActionError of={save} />
      {save.isSuccess && (
        <p className="ok" role="status">
          {t('datasets.policySaved')}
        </p>
      )}
      <button type="button" disabled={parsed === undefined || save.isPending} onClick={() => save.mutate()}>
        {t('datasets.policySave')}
      </button>
    </details>
  );
}

export function Datasets() {
  const { t } = useTranslation();
  const { project = '' } = useParams();
  const client = useQueryClient();
  const perms = usePermissions(project);
  const base = `/api/v1/projects/${seg(project)}/datasets`;
  const list = useQuery({
    queryKey: ['datasets', project],
    queryFn: () => api<Page<Schemas['Dataset']>>(pagePath(base, 1000)),
  });
  const remove = useMutation({
    mutationFn: (name: string) => api(`${base}/${seg(name)}`, { method: 'DELETE' }),
    onSuccess: () => client.invalidateQueries({ queryKey: ['datasets', project] }),
  });
  if (isNotFound(list.error)) return <NotFound resource />;
  const owner = can(perms.data, 'dataset_data', 'get');
  const mayCreate = can(perms.data, 'dataset', 'create');
  const mayDelete = can(perms.data, 'dataset', 'delete');
  const mayPolicy = can(perms.data, 'dataset', 'update');
  return (
    <section>
      <ProjectTabs project={project} />
      {!owner && perms.data && <p className="lead">{t('datasets.ownersOnly')}</p>}
      {mayCreate && <Register project={project} onDone={() => client.invalidateQueries({ queryKey: ['datasets', project] })} />}
      {list.isError && <ErrorView error={list.error} onRetry={() => list.refetch()} />}
      {remove.isError && <ErrorView error={remove.error} />}
      {list.data && list.data.items.length === 0 && <p className="empty">{t('datasets.empty')}</p>}
      {list.data && list.data.items.length > 0 && (
        <table>
          <thead>
            <tr>
              <th scope="col">{t('common.name')}</th>
              <th scope="col">{t('datasets.level')}</th>
              {owner && <th scope="col">{t('datasets.path')}</th>}
              <th scope="col">{t('datasets.createdBy')}</th>
              <th scope="col">{t('common.created')}</th>
              {mayDelete && <th scope="col">{t('common.actions')}</th>}
            </tr>
          </thead>
          <tbody>
            {list.data.items.map((d) => (
              <tr key={d.name}>
                <td>
                  <Link to={`/projects/${seg(project)}/datasets/${seg(d.name)}`}>{d.name}</Link>
                </td>
                <td>
                  <span className={`badge level-${d.security_level}`}>
                    {t(`datasets.levels.${d.security_level}`, { defaultValue: d.security_level })}
                  </span>
                </td>
                {owner && <td><code>{d.path}</code></td>}
                <td>{d.created_by}</td>
                <td>{formatTime(d.created_at)}</td>
                {mayDelete && (
                  <td>
                    <button
                      type="button"
                      className="danger"
                      onClick={() => window.confirm(t('datasets.deleteConfirm', { name: d.name })) && remove.mutate(d.name)}
                    >
                      {t('datasets.delete')}
                    </button>
                  </td>
                )}
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {mayPolicy && levels.map((l) => <LogPolicy key={l} project={project} level={l} />)}
    </section>
  );
}
