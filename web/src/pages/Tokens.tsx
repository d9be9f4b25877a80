import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { useTranslation } from 'react-i18next';
import { api, pagePath, seg, type Page, type Schemas } from '../api/client';
import { ActionError } from '../components/ActionError';
import { ErrorView } from '../components/ErrorView';
import { Field } from '../components/Field';
import { Pager, usePageToken } from '../components/Pager';
import { formatTime } from '../i18n/format';

type NewToken = Schemas['Token'] & { token: string };

function NewTokenForm() {
  const { t } = useTranslation();
  const client = useQueryClient();
  const [name, setName] = useState('');
  const [project, setProject] = useState('');
  const [days, setDays] = useState(30);
  const [secret, setSecret] = useState('');
  const [copied, setCopied] = useState(false);
  const create = useMutation({
    mutationFn: () =>
      api<NewToken>('/api/v1/tokens', {
        method: 'POST',
        body: { name, project: project || null, expires_in_s: days * 86400 },
      }),
    onSuccess: (r) => {
      setSecret(r.token);
      setCopied(false);
      setName('');
      void client.invalidateQueries({ queryKey: ['tokens'] });
    },
  });
  const daysValid = Number.isInteger(days) && days >= 1 && days <= 366;
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (name && daysValid) create.mutate();
  };
  return (
    <form className="card" onSubmit={submit} noValidate>
      <h2>{t('tokens.newTitle')}</h2>
      <div className="row">
        <Field id="token-name" label={t('common.name')}>
          <input id="token-name" name="name" value={name} maxLength={64} onChange={(e) => setName(e.target.value)} />
        </Field>
        <Field id="token-project" label={t('tokens.project')}>
          <input id="token-project" name="project" value={project} onChange={(e) => setProject(e.target.value)} />
        </Field>
        <Field id="token-days" label={t('tokens.days')}>
          <input
            id="token-days"
            name="days"
            type="number"
            min={1}
            max={366}
            value={days}
            aria-invalid={!daysValid}
            onChange={(e) => setDays(Number(e.target.value))}
          />
        </Field>
      </div>
      <ActionError of={create} />
      <button type="submit" className="primary" disabled={!name || !daysValid || create.isPending}>
        {create.isPending ? t('common.creating') : t('common.create')}
      </button>
      {secret && (
        <div className="secret" role="status">
          <p>{t('tokens.createdOnce')}</p>
          <code data-testid="new-token">{secret}</code>
          <button
            type="button"
            onClick={async () => {
              await navigator.clipboard?.writeText(secret);
              setCopied(true);
            }}
          >
            {copied ? t('common.copied') : t('common.copy')}
          </button>
          <button type="button" onClick={() => setSecret('')}>
            {t('common.close')}
          </button>
        </div>
      )}
    </form>
  );
}

export function Tokens() {
  const { t } = useTranslation();
  const client = useQueryClient();
  const [token, go, back, hasPrevious] = usePageToken();
  const list = useQuery({
    queryKey: ['tokens', token],
    queryFn: () => api<Page<Schemas['Token']>>(pagePath('/api/v1/tokens', 50, token)),
  });
  const revoke = useMutation({
    mutationFn: (id: string) => api(`/api/v1/tokens/${seg(id)}`, { method: 'DELETE' }),
    onSuccess: () => client.invalidateQueries({ queryKey: ['tokens'] }),
  });
  const apiTokens = list.data?.items.filter((k) => k.kind === 'api' && !k.revoked_at) ?? [];
  return (
    <section>
      <h1>{t('tokens.title')}</h1>
      <p className="lead">{t('tokens.intro')}</p>
      <NewTokenForm />
      {list.isPending && <p aria-busy="true">{t('common.loading')}</p>}
      {list.isError && <ErrorView error={list.error} onRetry={() => list.refetch()} />}
      {revoke.isError && <ErrorView error={revoke.error} />}
      {list.data && apiTokens.length === 0 && <p className="empty">{t('tokens.empty')}</p>}
      {apiTokens.length > 0 && (
        <table>
          <thead>
            <tr>
              <th scope="col">{t('common.name')}</th>
              <th scope="col">{t('tokens.project')}</th>
              <th scope="col">{t('common.created')}</th>
              <th scope="col">{t('tokens.expires')}</th>
              <th scope="col">{t('common.actions')}</th>
            </tr>
          </thead>
          <tbody>
            {apiTokens.map((k) => (
              <tr key={k.id}>
                <td>{k.name}</td>
                <td>{k.project ?? t('common.none')}</td>
                <td>{formatTime(k.created_at)}</td>
                <td>{formatTime(k.expires_at)}</td>
                <td>
                  <button
                    type="button"
                    className="danger"
                    onClick={() => {
                      if (window.confirm(t('tokens.revokeConfirm', { name: k.name }))) revoke.mutate(k.id);
                    }}
                  >
                    {t('tokens.revoke')}
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <Pager next={list.data?.next_page_token} onNext={go} onPrevious={back} hasPrevious={hasPrevious} />
    </section>
  );
}
