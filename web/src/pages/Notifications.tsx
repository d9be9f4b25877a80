// The signed-in user's own notifications (the bell): the alerts of the rules they follow
// about their own jobs, the rules they follow, and their own receivers (say, their email)
// with the delivery history. Nobody sees another user's.
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useTranslation } from 'react-i18next';
import { Link } from 'react-router-dom';
import { api, type Page, type Schemas } from '../api/client';
import { ActionError } from '../components/ActionError';
import { ErrorView } from '../components/ErrorView';
import { formatTime } from '../i18n/format';
import { History, Receivers } from './Alerts';

type Item = Schemas['InboxItem'];
type Subscription = Schemas['Subscription'];

export const unreadKey = ['me', 'unread'];

// The bell in the header: how many of one's notifications are unread, a link to them.
export function useUnread() {
  return useQuery({
    queryKey: unreadKey,
    queryFn: () => api<{ unread: number }>('/api/v1/me/inbox/unread'),
    refetchInterval: 15000,
  });
}

export function Notifications() {
  const { t } = useTranslation();
  const client = useQueryClient();
  const key = ['me', 'inbox'];
  const inbox = useQuery({ queryKey: key, queryFn: () => api<Page<Item>>('/api/v1/me/inbox?page_size=100'), refetchInterval: 15000 });
  const refresh = () => {
    void client.invalidateQueries({ queryKey: key });
    void client.invalidateQueries({ queryKey: unreadKey });
  };
  const read = useMutation({
    mutationFn: (body: { ids?: string[]; all?: boolean }) => api<{ marked: number }>('/api/v1/me/inbox/read', { method: 'POST', body }),
    onSettled: refresh,
  });
  const unread = inbox.data?.items.some((i) => !i.read) ?? false;
  return (
    <section>
      <h1>{t('inbox.title')}</h1>
      <p className="lead">{t('inbox.intro')}</p>
      {inbox.isError && <ErrorView error={inbox.error} onRetry={() => inbox.refetch()} />}
      <ActionError of={read} />
      {inbox.data && inbox.data.items.length === 0 && <p className="empty">{t('inbox.empty')}</p>}
      {inbox.data && inbox.data.items.length > 0 && (
        <>
          {unread && (
            <button type="button" onClick={() => read.mutate({ all: true })} disabled={read.isPending}>
              {t('inbox.markAll')}
            </button>
          )}
          <table aria-label={t('inbox.title')}>
            <thead>
              <tr>
                <th scope="col">{t('alerts.time')}</th>
                <th scope="col">{t('alerts.what')}</th>
                <th scope="col">{t('inbox.job')}</th>
                <th scope="col">{t('inbox.project')}</th>
                <th scope="col">{t('alerts.state')}</th>
              </tr>
            </thead>
            <tbody>
              {inbox.data.items.map((i) => (
                <tr key={i.id} className={i.read ? undefined : 'unread'}>
                  <td>{formatTime(i.created_at)}</td>
                  <th scope="row">
                    <span className={`severity ${i.severity}`}>{t(`alerts.severities.${i.severity}`)}</span>{' '}
                    {t(`alerts.ruleNames.${i.rule}`, { defaultValue: i.title })}
                  </th>
                  <td className="mono">{i.link ? <Link to={i.link}>{i.labels.resource ?? i.link}</Link> : i.labels.resource}</td>
                  <td>{i.labels.project}</td>
                  <td>
                    {i.read ? (
                      t('inbox.read')
                    ) : (
                      <button type="button" onClick={() => read.mutate({ ids: [i.id] })} disabled={read.isPending}>
                        {t('inbox.markRead', { job: i.labels.resource ?? i.id })}
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
      <Subscriptions />
      <Receivers base="/api/v1/me" scopeKey="me" mayEdit />
      <History base="/api/v1/me" scopeKey="me" />
    </section>
  );
}

function Subscriptions() {
  const { t } = useTranslation();
  const client = useQueryClient();
  const key = ['me', 'subscriptions'];
  const subs = useQuery({ queryKey: key, queryFn: () => api<Subscription[]>('/api/v1/me/subscriptions') });
  const set = useMutation({
    mutationFn: (s: { rule: string; subscribed: boolean }) =>
      api<Subscription>(`/api/v1/me/subscriptions/${s.rule}`, { method: 'PATCH', body: { subscribed: s.subscribed } }),
    onSettled: () => void client.invalidateQueries({ queryKey: key }),
  });
  return (
    <>
      <h2>{t('inbox.follow')}</h2>
      <p className="muted">{t('inbox.followIntro')}</p>
      {subs.isError && <ErrorView error={subs.error} onRetry={() => subs.refetch()} />}
      <ActionError of={set} />
      {subs.data && (
        <ul className="checks">
          {subs.data.map((s) => (
            <li key={s.rule}>
              <label>
                <input
                  type="checkbox"
                  checked={s.subscribed}
                  disabled={set.isPending}
                  onChange={(e) => set.mutate({ rule: s.rule, subscribed: e.target.checked })}
                />{' '}
                {t(`alerts.ruleNames.${s.rule}`, { defaultValue: s.rule })}
              </label>
            </li>
          ))}
        </ul>
      )}
    </>
  );
}
