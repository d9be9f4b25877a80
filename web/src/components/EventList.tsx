// The newest events of a workspace or about a user (GET .../events), newest first.
import { useQuery } from '@tanstack/react-query';
import { useTranslation } from 'react-i18next';
import { api, pagePath, type Page, type Schemas } from '../api/client';
import { formatTime } from '../i18n/format';
import { ErrorView } from './ErrorView';

export function EventList({ path, label }: { path: string; label: string }) {
  const { t } = useTranslation();
  const events = useQuery({
    queryKey: ['event-list', path],
    // Oldest first from the server: the last page is the newest.
    queryFn: async () => {
      let page = await api<Page<Schemas['Event']>>(pagePath(path, 1000));
      let items = page.items;
      while (page.next_page_token) {
        page = await api<Page<Schemas['Event']>>(pagePath(path, 1000, page.next_page_token));
        items = [...items, ...page.items].slice(-200);
      }
      return items.slice(-50).reverse();
    },
  });
  if (events.isError) return <ErrorView error={events.error} onRetry={() => events.refetch()} />;
  if (!events.data) return <p aria-busy="true">{t('common.loading')}</p>;
  if (events.data.length === 0) return <p className="empty">{t('events.empty')}</p>;
  return (
    <table aria-label={label}>
      <thead>
        <tr>
          <th scope="col">{t('events.time')}</th>
          <th scope="col">{t('events.what')}</th>
          <th scope="col">{t('events.resource')}</th>
          <th scope="col">{t('events.actor')}</th>
        </tr>
      </thead>
      <tbody>
        {events.data.map((e) => (
          <tr key={e.seq}>
            <td>{formatTime(e.time)}</td>
            <td>
              <strong>{e.reason}</strong> {e.message}
            </td>
            <td>
              {e.project ? `${e.project} / ` : ''}
              {e.resource_type} {e.resource_name}
            </td>
            <td>{e.actor}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
