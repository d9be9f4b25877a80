import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { useTranslation } from 'react-i18next';
import { Link } from 'react-router-dom';
import { api, pagePath, seg, type Page, type Schemas } from '../api/client';
import { isPlatformAdmin, useSession } from '../api/session';
import { ActionError } from '../components/ActionError';
import { ErrorView } from '../components/ErrorView';
import { Field } from '../components/Field';
import { Pager, usePageToken } from '../components/Pager';
import { formatTime } from '../i18n/format';

// The API's rule for workspace and project names (api/framework.cc).
export const resourceName = /^[a-z0-9][a-z0-9-]{0,62}$/;

function NewWorkspace() {
  const { t } = useTranslation();
  const client = useQueryClient();
  const [name, setName] = useState('');
  const [description, setDescription] = useState('');
  const invalid = name !== '' && !resourceName.test(name);
  const create = useMutation({
    mutationFn: () => api('/api/v1/workspaces', { method: 'POST', body: { name, description } }),
    onSuccess: () => {
      setName('');
      setDescription('');
      void client.invalidateQueries({ queryKey: ['workspaces'] });
      void client.invalidateQueries({ queryKey: ['projects'] });
    },
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (name && !invalid) create.mutate();
  };
  return (
    <form className="card" onSubmit={submit} noValidate>
      <h2>{t('workspaces.newTitle')}</h2>
      <Field
        id="ws-name"
        label={t('common.name')}
        help={t('workspaces.nameHelp')}
        error={invalid ? t('workspaces.nameInvalid') : undefined}
      >
        <input
          id="ws-name"
          name="name"
          value={name}
          onChange={(e) => setName(e.target.value)}
          aria-invalid={invalid}
          aria-describedby="ws-name-help"
        />
      </Field>
      <Field id="ws-description" label={t('common.description')}>
        <input
          id="ws-description"
          name="description"
          value={description}
          onChange={(e) => setDescription(e.target.value)}
        />
      </Field>
      <ActionError of={create} />
      <button type="submit" className="primary" disabled={!name || invalid || create.isPending}>
        {create.isPending ? t('common.creating') : t('common.create')}
      </button>
    </form>
  );
}

function WorkspaceProjects({ workspace }: { workspace: string }) {
  const { t } = useTranslation();
  const projects = useQuery({
    queryKey: ['projects', 'of', workspace],
    queryFn: () =>
      api<Page<Schemas['Project']>>(pagePath(`/api/v1/workspaces/${seg(workspace)}/projects`, 100)),
  });
  if (projects.isError) return <ErrorView error={projects.error} />;
  if (!projects.data) return <span aria-busy="true">{t('common.loading')}</span>;
  if (projects.data.items.length === 0) return <span className="muted">{t('common.none')}</span>;
  return <span>{projects.data.items.map((p) => p.name).join(', ')}</span>;
}

export function Workspaces() {
  const { t } = useTranslation();
  const { user } = useSession();
  const [token, go, back, hasPrevious] = usePageToken();
  const list = useQuery({
    queryKey: ['workspaces', token],
    queryFn: () => api<Page<Schemas['Workspace']>>(pagePath('/api/v1/workspaces', 50, token)),
  });
  return (
    <section>
      <h1>{t('workspaces.title')}</h1>
      {isPlatformAdmin(user) && <NewWorkspace />}
      {list.isPending && <p aria-busy="true">{t('common.loading')}</p>}
      {list.isError && <ErrorView error={list.error} onRetry={() => list.refetch()} />}
      {list.data && list.data.items.length === 0 && !hasPrevious && (
        <p className="empty">{t('workspaces.empty')}</p>
      )}
      {list.data && list.data.items.length > 0 && (
        <table>
          <thead>
            <tr>
              <th scope="col">{t('common.name')}</th>
              <th scope="col">{t('common.description')}</th>
              <th scope="col">{t('workspaces.projects')}</th>
              <th scope="col">{t('common.created')}</th>
            </tr>
          </thead>
          <tbody>
            {list.data.items.map((w) => (
              <tr key={w.name}>
                <td>
                  <Link to={`/workspaces/${seg(w.name)}`}>{w.name}</Link>
                </td>
                <td>{w.description}</td>
                <td>
                  <WorkspaceProjects workspace={w.name} />
                </td>
                <td>{formatTime(w.created_at)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <Pager next={list.data?.next_page_token} onNext={go} onPrevious={back} hasPrevious={hasPrevious} />
    </section>
  );
}
