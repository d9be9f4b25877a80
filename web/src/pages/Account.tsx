// The signed-in user's own account: profile (display name, email) and password.
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect, useState, type FormEvent } from 'react';
import { useTranslation } from 'react-i18next';
import { api, seg, type Schemas } from '../api/client';
import { useSession } from '../api/session';
import { ActionError } from '../components/ActionError';
import { EventList } from '../components/EventList';
import { ErrorView } from '../components/ErrorView';
import { Field } from '../components/Field';
import { formatTime } from '../i18n/format';

// What the password form may send: the new password twice alike, 12 characters or more.
export function checkPasswordChange(current: string, next: string, again: string): string | null {
  if (!current) return 'account.currentNeeded';
  if (next.length < 12) return 'users.passwordShort';
  if (next !== again) return 'account.mismatch';
  if (next === current) return 'account.same';
  return null;
}

function Profile({ user }: { user: Schemas['User'] }) {
  const { t } = useTranslation();
  const client = useQueryClient();
  const [p, setP] = useState({ display_name: user.display_name ?? '', email: user.email ?? '' });
  useEffect(() => setP({ display_name: user.display_name ?? '', email: user.email ?? '' }), [user]);
  const save = useMutation({
    mutationFn: () => api<Schemas['User']>(`/api/v1/users/${seg(user.username)}`, { method: 'PATCH', body: p }),
    onSuccess: (u) => client.setQueryData(['account', user.username], u),
  });
  return (
    <form
      className="card wide"
      noValidate
      onSubmit={(e: FormEvent) => {
        e.preventDefault();
        save.mutate();
      }}
    >
      <h2>{t('account.profile')}</h2>
      <dl className="facts">
        <dt>{t('members.username')}</dt>
        <dd>{user.username}</dd>
        <dt>{t('users.role')}</dt>
        <dd>{t(`user.roles.${user.platform_role}`, { defaultValue: user.platform_role })}</dd>
        <dt>{t('common.created')}</dt>
        <dd>{formatTime(user.created_at)}</dd>
      </dl>
      <div className="row">
        <Field id="account-display" label={t('users.displayName')}>
          <input id="account-display" value={p.display_name} onChange={(e) => setP({ ...p, display_name: e.target.value })} />
        </Field>
        <Field id="account-email" label={t('users.email')}>
          <input id="account-email" type="email" value={p.email} onChange={(e) => setP({ ...p, email: e.target.value })} />
        </Field>
      </div>
      <ActionError of={save} />
      {save.isSuccess && (
        <p className="ok" role="status">
          {t('account.saved')}
        </p>
      )}
      <button type="submit" className="primary" disabled={save.isPending}>
        {t('common.save')}
      </button>
    </form>
  );
}

function Password({ username }: { username: string }) {
  const { t } = useTranslation();
  const [f, setF] = useState({ current: '', next: '', again: '' });
  const problem = f.next || f.again ? checkPasswordChange(f.current, f.next, f.again) : null;
  const change = useMutation({
    mutationFn: () =>
      api(`/api/v1/users/${seg(username)}/password`, {
        method: 'POST',
        body: { current_password: f.current, new_password: f.next },
      }),
    onSuccess: () => setF({ current: '', next: '', again: '' }),
  });
  const ready = f.current && f.next && f.again && !problem;
  return (
    <form
      className="card wide"
      noValidate
      onSubmit={(e: FormEvent) => {
        e.preventDefault();
        if (ready) change.mutate();
      }}
    >
      <h2>{t('account.password')}</h2>
      <p className="muted">{t('account.passwordIntro')}</p>
      <div className="row">
        <Field id="account-current" label={t('account.current')}>
          <input
            id="account-current"
            type="password"
            autoComplete="current-password"
            value={f.current}
            onChange={(e) => setF({ ...f, current: e.target.value })}
          />
        </Field>
        <Field id="account-new" label={t('account.new')} help={t('account.newHelp')}>
          <input
            id="account-new"
            type="password"
            autoComplete="new-password"
            value={f.next}
            aria-describedby="account-new-help"
            onChange={(e) => setF({ ...f, next: e.target.value })}
          />
        </Field>
        <Field id="account-again" label={t('account.again')} error={problem ? t(problem) : undefined}>
          <input
            id="account-again"
            type="password"
            autoComplete="new-password"
            value={f.again}
            aria-invalid={!!problem}
            aria-describedby={problem ? 'account-again-help' : undefined}
            onChange={(e) => setF({ ...f, again: e.target.value })}
          />
        </Field>
      </div>
      <ActionError of={change} />
      {change.isSuccess && (
        <p className="ok" role="status">
          {t('account.changed')}
        </p>
      )}
      <button type="submit" className="primary" disabled={!ready || change.isPending}>
        {t('account.change')}
      </button>
    </form>
  );
}

export function Account() {
  const { t } = useTranslation();
  const { user } = useSession();
  const name = user?.username ?? '';
  const me = useQuery({
    queryKey: ['account', name],
    queryFn: () => api<Schemas['User']>(`/api/v1/users/${seg(name)}`),
    enabled: !!name,
  });
  return (
    <section>
      <h1>{t('account.title')}</h1>
      {me.isError && <ErrorView error={me.error} onRetry={() => me.refetch()} />}
      {me.data && <Profile user={me.data} />}
      {name && <Password username={name} />}
      {name && (
        <>
          <h2>{t('account.activity')}</h2>
          <EventList path={`/api/v1/users/${seg(name)}/events`} label={t('account.activity')} />
        </>
      )}
    </section>
  );
}
