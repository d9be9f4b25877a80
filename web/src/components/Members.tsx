// The members of a workspace or a project: add one with a role of that scope, change a
// role, remove. The server decides who may (nobody grants rights they do not hold) and
// its refusal is shown as it is.
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { useTranslation } from 'react-i18next';
import { api, pagePath, seg, type Page, type Schemas } from '../api/client';
import { ErrorView, errorText } from './ErrorView';
import { Field } from './Field';

export function useRoles(scope: 'workspace' | 'project') {
  return useQuery({
    queryKey: ['roles'],
    queryFn: () => api<Page<Schemas['Role']>>(pagePath('/api/v1/roles', 1000)),
    staleTime: 60_000,
    select: (p) => p.items.filter((r) => r.scope === scope).map((r) => r.name),
  });
}

export function Members({ base, scope }: { base: string; scope: 'workspace' | 'project' }) {
  const { t } = useTranslation();
  const client = useQueryClient();
  const roles = useRoles(scope);
  const members = useQuery({
    queryKey: ['members', base],
    queryFn: () => api<Page<Schemas['Member']>>(pagePath(`${base}/members`, 1000)),
  });
  const [username, setUsername] = useState('');
  const [role, setRole] = useState('');
  const refresh = () => client.invalidateQueries({ queryKey: ['members', base] });
  const put = useMutation({
    mutationFn: (m: { username: string; role: string }) => api(`${base}/members`, { method: 'POST', body: m }),
    onSuccess: () => {
      setUsername('');
      void refresh();
    },
  });
  const remove = useMutation({
    mutationFn: (name: string) => api(`${base}/members/${seg(name)}`, { method: 'DELETE' }),
    onSuccess: refresh,
  });
  const roleLabel = (r: string) => t(`roles.${r}`, { defaultValue: r });
  const chosen = role || roles.data?.[0] || '';
  return (
    <div>
      {members.isError && <ErrorView error={members.error} onRetry={() => members.refetch()} />}
      {(put.isError || remove.isError) && (
        <p className="error" role="alert">
          {errorText(put.error ?? remove.error, t)}
        </p>
      )}
      {members.data && members.data.items.length === 0 && <p className="empty">{t('members.empty')}</p>}
      {members.data && members.data.items.length > 0 && (
        <table>
          <thead>
            <tr>
              <th scope="col">{t('members.username')}</th>
              <th scope="col">{t('members.role')}</th>
              <th scope="col">{t('common.actions')}</th>
            </tr>
          </thead>
          <tbody>
            {members.data.items.map((m) => (
              <tr key={m.username}>
                <td>{m.username}</td>
                <td>
                  <select
                    aria-label={t('members.changeRole', { name: m.username })}
                    value={m.role}
                    onChange={(e) => put.mutate({ username: m.username, role: e.target.value })}
                  >
                    {(roles.data ?? [m.role]).map((r) => (
                      <option key={r} value={r}>
                        {roleLabel(r)}
                      </option>
                    ))}
                  </select>
                </td>
                <td>
                  <button
                    type="button"
                    className="danger"
                    onClick={() =>
                      window.confirm(t('members.removeConfirm', { name: m.username })) && remove.mutate(m.username)
                    }
                  >
                    {t('members.remove')}
                  </button>
                </td>
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
          if (username.trim() && chosen) put.mutate({ username: username.trim(), role: chosen });
        }}
      >
        <h3>{t('members.add')}</h3>
        <div className="row">
          <Field id={`${scope}-member-name`} label={t('members.username')}>
            <input id={`${scope}-member-name`} value={username} onChange={(e) => setUsername(e.target.value)} />
          </Field>
          <Field id={`${scope}-member-role`} label={t('members.role')}>
            <select id={`${scope}-member-role`} value={chosen} onChange={(e) => setRole(e.target.value)}>
              {(roles.data ?? []).map((r) => (
                <option key={r} value={r}>
                  {roleLabel(r)}
                </option>
              ))}
            </select>
          </Field>
        </div>
        <button type="submit" className="primary" disabled={!username.trim() || !chosen || put.isPending}>
          {put.isPending ? t('members.adding') : t('members.add')}
        </button>
      </form>
    </div>
  );
}
