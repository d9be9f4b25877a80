// One workspace: its projects (create one) and its members.
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, useParams } from 'react-router-dom';
import { api, pagePath, seg, type Page, type Schemas, isNotFound } from '../api/client';
import { ActionError } from '../components/ActionError';
import { ErrorView } from '../components/ErrorView';
import { can, useWorkspacePermissions } from '../api/permissions';
import { Field } from '../components/Field';
import { EventList } from '../components/EventList';
import { Members } from '../components/Members';
import { formatTime } from '../i18n/format';
import { NotFound } from './NotFound';
import { resourceName } from './Workspaces';

export function WorkspaceDetail() {
  const { t } = useTranslation();
  const { workspace = '' } = useParams();
  const client = useQueryClient();
  const base = `/api/v1/workspaces/${seg(workspace)}`;
  const projects = useQuery({
    queryKey: ['projects', 'of', workspace],
    queryFn: () => api<Page<Schemas['Project']>>(pagePath(`${base}/projects`, 100)),
  });
  // Workspace admins may read the workspace's audit trail: offered when the server says so.
  const perms = useWorkspacePermissions(workspace);
  const [name, setName] = useState('');
  const invalid = name !== '' && !resourceName.test(name);
  const create = useMutation({
    mutationFn: () => api(`${base}/projects`, { method: 'POST', body: { name } }),
    onSuccess: () => {
      setName('');
      void client.invalidateQueries({ queryKey: ['projects'] });
    },
  });
  if (isNotFound(projects.error)) {
    return <NotFound resource />;
  }
  return (
    <section>
      <p className="crumbs">
        <Link to="/workspaces">{t('workspaces.title')}</Link>
      </p>
      <div className="heading-row">
        <h1>{t('workspace.title', { name: workspace })}</h1>
        <div className="spacer" />
        {can(perms.data, 'alert', 'list') && (
          <Link className="button" to={`/workspaces/${seg(workspace)}/alerts`}>
            {t('workspace.alerts')}
          </Link>
        )}
        {can(perms.data, 'audit', 'list') && (
          <Link className="button" to={`/workspaces/${seg(workspace)}/audit`}>
            {t('workspace.audit')}
          </Link>
        )}
      </div>
      <h2>{t('workspaces.projects')}</h2>
      {projects.isError && <ErrorView error={projects.error} onRetry={() => projects.refetch()} />}
      {projects.data && projects.data.items.length === 0 && <p className="empty">{t('workspace.noProjects')}</p>}
      {projects.data && projects.data.items.length > 0 && (
        <table>
          <thead>
            <tr>
              <th scope="col">{t('common.name')}</th>
              <th scope="col">{t('common.created')}</th>
            </tr>
          </thead>
          <tbody>
            {projects.data.items.map((p) => (
              <tr key={p.name}>
                <td>
                  <Link to={`/projects/${seg(p.name)}`}>{p.name}</Link>
                </td>
                <td>{formatTime(p.created_at)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <form
        className="card inline-form"
        noValidate
        onSubmit={(e: FormEvent) => {
          e.preventDefault();
          if (name && !invalid) create.mutate();
        }}
      >
        <h3>{t('workspace.newProject')}</h3>
        <Field
          id="project-name"
          label={t('common.name')}
          help={t('workspaces.nameHelp')}
          error={invalid ? t('workspaces.nameInvalid') : undefined}
        >
          <input
            id="project-name"
            value={name}
            aria-invalid={invalid}
            aria-describedby="project-name-help"
            onChange={(e) => setName(e.target.value)}
          />
        </Field>
        <ActionError of={create} />
        <button type="submit" className="primary" disabled={!name || invalid || create.isPending}>
          {create.isPending ? t('common.creating') : t('common.create')}
        </button>
      </form>
      <h2>{t('project.members')}</h2>
      <Members base={base} scope="workspace" />
      {can(perms.data, 'event', 'list') && (
        <>
          <h2>{t('workspace.events')}</h2>
          <EventList path={`${base}/events`} label={t('workspace.events')} />
        </>
      )}
    </section>
  );
}
