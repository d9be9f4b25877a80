// The platform's users (platform admins): list, create, clear failed sign-ins.
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { useTranslation } from 'react-i18next';
import { api, pagePath, seg, type Page, type Schemas } from '../api/client';
import { ActionError } from '../components/ActionError';
import { ErrorView } from '../components/ErrorView';
import { Field } from '../components/Field';
import { Pager, usePageToken } from '../components/Pager';
import { formatTime } from '../i18n/format';

// The API's rule for user names (platform/iam/accounts.cc).
const usernameRule = /^[a-z0-9][a-z0-9._-]{0,62}$/;

function NewUser() {
  const { t } = useTranslation();
  const client = useQueryClient();
  const empty = { username: '', display_name: '', email: '', password: '', platform_role: 'platform-regular' };
  const [u, setU] = useState(empty);
  const badName = u.username !== '' && !usernameRule.test(u.username);
  const shortPassword = u.password !== '' && u.password.length < 12;
  const create = useMutation({
    mutationFn: () => api('/api/v1/users', { method: 'POST', body: u }),
    onSuccess: () => {
      setU(empty);
      void client.invalidateQueries({ queryKey: ['users'] });
    },
  });
  const ok = u.username && u.password && !badName && !shortPassword;
  return (
    <form
      className="card wide"
      noValidate
      onSubmit={(e: FormEvent) => {
        e.preventDefault();
        if (ok) create.mutate();
      }}
    >
      <h2>{t('users.newTitle')}</h2>
      <div className="row">
        <Field id="user-name" label={t('members.username')} error={badName ? t('users.nameInvalid') : undefined}>
          <input
            id="user-name"
            value={u.username}
            aria-invalid={badName}
            aria-describedby={badName ? 'user-name-help' : undefined}
            onChange={(e) => setU({ ...u, username: e.target.value })}
          />
        </Field>
        <Field id="user-display" label={t('users.displayName')}>
          <input id="user-display" value={u.display_name} onChange={(e) => setU({ ...u, display_name: e.target.value })} />
        </Field>
        <Field id="user-email" label={t('users.email')}>
          <input id="user-email" type="email" value={u.email} onChange={(e) => setU({ ...u, email: e.target.value })} />
        </Field>
      </div>
      <div className="row">
        <Field
          id="user-password"
          label={t('users.password')}
          help={t('users.passwordHelp')}
          error={shortPassword ? t('users.passwordShort') : undefined}
        >
          <input
            id="user-password"
            type="password"
            autoComplete="new-password"
            value={u.password}
            aria-invalid={shortPassword}
            aria-describedby="user-password-help"
            onChange={(e) => setU({ ...u, password: e.target.value })}
          />
        </Field>
        <Field id="user-role" label={t('users.role')}>
          <select id="user-role" value={u.platform_role} onChange={(e) => setU({ ...u, platform_role: e.target.value })}>
            <option value="platform-regular">{t('user.roles.platform-regular')}</option>
            <option value="platform-admin">{t('user.roles.platform-admin')}</option>
          </select>
        </Field>
      </div>
      <ActionError of={create} />
      <button type="submit" className="primary" disabled={!ok || create.isPending}>
        {create.isPending ? t('common.creating') : t('common.create')}
      </button>
    </form>
  );
}

// Sets another user's password (platform admins): every session of theirs ends.
function ResetPassword({ username, onDone }: { username: string; onDone: () => void }) {
  const { t } = useTranslation();
  const [password, setPassword] = useState('');
  const short = password !== '' && password.length < 12;
  const reset = useMutation({
    mutationFn: () => api(`/api/v1/users/${seg(username)}/password`, { method: 'POST', body: { new_password: password } }),
    onSuccess: onDone,
  });
  return (
    <form
      className="inline-form"
      noValidate
      onSubmit={(e: FormEvent) => {
        e.preventDefault();
        if (password && !short) reset.mutate();
      }}
    >
      <Field id={`reset-${username}`} label={t('users.newPassword', { name: username })} error={short ? t('users.passwordShort') : undefined}>
        <input
          id={`reset-${username}`}
          type="password"
          autoComplete="new-password"
          value={password}
          aria-invalid={short}
          aria-describedby={short ? `reset-${username}-help` : undefined}
          onChange={(e) => setPassword(e.target.value)}
        />
      </Field>
      <ActionError of={reset} />
      <button type="submit" className="primary" disabled={!password || short || reset.isPending}>
        {t('users.setPassword')}
      </button>
    </form>
  );
}

export function Users() {
  const { t } = useTranslation();
  const [token, go, back, hasPrevious] = usePageToken();
  const users = useQuery({
    queryKey: ['users', token],
    queryFn: () => api<Page<Schemas['User']>>(pagePath('/api/v1/users', 100, token)),
  });
  const client = useQueryClient();
  const [resetting, setResetting] = useState('');
  const [done, setDone] = useState('');
  const unlock = useMutation({
    mutationFn: (name: string) => api(`/api/v1/users/${seg(name)}/unlock`, { method: 'POST' }).then(() => name),
  });
  const setDisabled = useMutation({
    mutationFn: ({ name, disabled }: { name: string; disabled: boolean }) =>
      api(`/api/v1/users/${seg(name)}`, { method: 'PATCH', body: { disabled } }),
    onSuccess: () => client.invalidateQueries({ queryKey: ['users'] }),
  });
  return (
    <section>
      <h1>{t('users.title')}</h1>
      <NewUser />
      {unlock.isSuccess && (
        <p className="ok" role="status">
          {t('users.unlocked', { name: unlock.data })}
        </p>
      )}
      {unlock.isError && <ErrorView error={unlock.error} />}
      {setDisabled.isError && <ErrorView error={setDisabled.error} />}
      {done && (
        <p className="ok" role="status">
          {t('users.passwordSet', { name: done })}
        </p>
      )}
      {users.isError && <ErrorView error={users.error} onRetry={() => users.refetch()} />}
      {users.data && (
        <table>
          <thead>
            <tr>
              <th scope="col">{t('members.username')}</th>
              <th scope="col">{t('users.displayName')}</th>
              <th scope="col">{t('users.role')}</th>
              <th scope="col">{t('users.state')}</th>
              <th scope="col">{t('common.created')}</th>
              <th scope="col">{t('common.actions')}</th>
            </tr>
          </thead>
          <tbody>
            {users.data.items.map((u) => (
              <tr key={u.username}>
                <td>{u.username}</td>
                <td>{u.display_name}</td>
                <td>{t(`user.roles.${u.platform_role}`, { defaultValue: u.platform_role })}</td>
                <td>{t(`users.states.${u.state}`, { defaultValue: u.state })}</td>
                <td>{formatTime(u.created_at)}</td>
                <td className="buttons">
                  <button type="button" onClick={() => unlock.mutate(u.username)}>
                    {t('users.unlock')}
                  </button>
                  {u.state === 'active' ? (
                    <button
                      type="button"
                      className="danger"
                      onClick={() =>
                        window.confirm(t('users.disableConfirm', { name: u.username })) &&
                        setDisabled.mutate({ name: u.username, disabled: true })
                      }
                    >
                      {t('users.disable')}
                    </button>
                  ) : (
                    <button type="button" onClick={() => setDisabled.mutate({ name: u.username, disabled: false })}>
                      {t('users.enable')}
                    </button>
                  )}
                  <button
                    type="button"
                    aria-expanded={resetting === u.username}
                    onClick={() => setResetting(resetting === u.username ? '' : u.username)}
                  >
                    {t('users.resetPassword')}
                  </button>
                  {resetting === u.username && (
                    <ResetPassword
                      username={u.username}
                      onDone={() => {
                        setDone(u.username);
                        setResetting('');
                      }}
                    />
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <Pager next={users.data?.next_page_token} onNext={go} onPrevious={back} hasPrevious={hasPrevious} />
    </section>
  );
}
