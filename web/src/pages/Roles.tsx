// Roles: the built-in ones and custom ones made of permissions. Platform admins make roles
// for every workspace; a workspace's admins make them for theirs, of permissions they hold
// there (the server checks; the form says what it answered).
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { useTranslation } from 'react-i18next';
import { api, pagePath, seg, type Page, type Schemas } from '../api/client';
import { isPlatformAdmin, useSession } from '../api/session';
import { ActionError } from '../components/ActionError';
import { ErrorView } from '../components/ErrorView';
import { Field } from '../components/Field';

// The permissions typed in the form: one per line or comma, "resource:verb".
export function parsePermissions(text: string): { permissions: string[]; bad: string[] } {
  const permissions = text
    .split(/[\n,]/)
    .map((p) => p.trim())
    .filter(Boolean);
  const bad = permissions.filter((p) => !/^(\*|[a-z_]+):(\*|[a-z_]+)$/.test(p));
  return { permissions, bad };
}

function NewRole({ admin }: { admin: boolean }) {
  const { t } = useTranslation();
  const client = useQueryClient();
  const empty = { name: '', scope: 'project', permissions: '', workspace: '' };
  const [r, setR] = useState(empty);
  const { permissions, bad } = parsePermissions(r.permissions);
  const badName = r.name !== '' && !/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(r.name);
  const create = useMutation({
    mutationFn: () =>
      api('/api/v1/roles', {
        method: 'POST',
        body: {
          name: r.name,
          scope: r.scope,
          permissions,
          ...(r.workspace.trim() ? { workspace: r.workspace.trim() } : {}),
        },
      }),
    onSuccess: () => {
      setR(empty);
      void client.invalidateQueries({ queryKey: ['roles'] });
    },
  });
  const ready = r.name && !badName && permissions.length > 0 && bad.length === 0 && (admin || r.workspace.trim());
  return (
    <form
      className="card wide"
      noValidate
      onSubmit={(e: FormEvent) => {
        e.preventDefault();
        if (ready) create.mutate();
      }}
    >
      <h2>{t('rolesPage.newTitle')}</h2>
      <p className="muted">{t('rolesPage.intro')}</p>
      <div className="row">
        <Field id="role-name" label={t('common.name')} error={badName ? t('rolesPage.nameInvalid') : undefined}>
          <input
            id="role-name"
            value={r.name}
            aria-invalid={badName}
            aria-describedby={badName ? 'role-name-help' : undefined}
            onChange={(e) => setR({ ...r, name: e.target.value })}
          />
        </Field>
        <Field id="role-scope" label={t('rolesPage.scope')}>
          <select id="role-scope" value={r.scope} onChange={(e) => setR({ ...r, scope: e.target.value })}>
            <option value="project">{t('rolesPage.scopes.project')}</option>
            <option value="workspace">{t('rolesPage.scopes.workspace')}</option>
          </select>
        </Field>
        <Field id="role-workspace" label={t('rolesPage.workspace')} help={t(admin ? 'rolesPage.workspaceHelpAdmin' : 'rolesPage.workspaceHelp')}>
          <input
            id="role-workspace"
            value={r.workspace}
            aria-describedby="role-workspace-help"
            onChange={(e) => setR({ ...r, workspace: e.target.value })}
          />
        </Field>
      </div>
      <Field
        id="role-permissions"
        label={t('rolesPage.permissions')}
        help={t('rolesPage.permissionsHelp')}
        error={bad.length ? t('rolesPage.permissionsInvalid', { bad: bad.join(', ') }) : undefined}
      >
        <textarea
          id="role-permissions"
          rows={3}
          value={r.permissions}
          aria-invalid={bad.length > 0}
          aria-describedby="role-permissions-help"
          onChange={(e) => setR({ ...r, permissions: e.target.value })}
        />
      </Field>
      <ActionError of={create} />
      <button type="submit" className="primary" disabled={!ready || create.isPending}>
        {create.isPending ? t('common.creating') : t('common.create')}
      </button>
    </form>
  );
}

export function Roles() {
  const { t } = useTranslation();
  const { user } = useSession();
  const client = useQueryClient();
  const roles = useQuery({
    queryKey: ['roles'],
    queryFn: () => api<Page<Schemas['Role']>>(pagePath('/api/v1/roles', 1000)),
  });
  const remove = useMutation({
    mutationFn: (name: string) => api(`/api/v1/roles/${seg(name)}`, { method: 'DELETE' }),
    onSuccess: () => client.invalidateQueries({ queryKey: ['roles'] }),
  });
  return (
    <section>
      <h1>{t('rolesPage.title')}</h1>
      <NewRole admin={isPlatformAdmin(user)} />
      {remove.isError && <ErrorView error={remove.error} />}
      {roles.isError && <ErrorView error={roles.error} onRetry={() => roles.refetch()} />}
      {roles.data && (
        <table>
          <thead>
            <tr>
              <th scope="col">{t('common.name')}</th>
              <th scope="col">{t('rolesPage.scope')}</th>
              <th scope="col">{t('rolesPage.permissions')}</th>
              <th scope="col">{t('rolesPage.madeBy')}</th>
              <th scope="col">{t('common.actions')}</th>
            </tr>
          </thead>
          <tbody>
            {roles.data.items.map((r) => (
              <tr key={r.name}>
                <td className="nowrap">
                  {r.name}
                  {!r.builtin && <span className="badge">{t('rolesPage.custom')}</span>}
                </td>
                <td className="nowrap">{t(`rolesPage.scopes.${r.scope}`, { defaultValue: r.scope })}</td>
                <td>
                  <code>{r.permissions.join(', ') || '—'}</code>
                </td>
                <td>
                  {r.builtin
                    ? t('rolesPage.builtin')
                    : t('rolesPage.madeIn', { who: r.created_by, where: r.workspace ?? t('rolesPage.everyWorkspace') })}
                </td>
                <td className="nowrap">
                  {!r.builtin && (
                    <button
                      type="button"
                      className="danger"
                      onClick={() => window.confirm(t('rolesPage.deleteConfirm', { name: r.name })) && remove.mutate(r.name)}
                    >
                      {t('common.delete')}
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
