import { useTranslation } from 'react-i18next';
import { Link, useParams } from 'react-router-dom';

// No page at this address; or (`resource`) the API answered 404: it does not exist or
// belongs to a project the caller may not see, and the console does not tell which.
export function NotFound({ resource = false }: { resource?: boolean }) {
  const { t } = useTranslation();
  return (
    <section>
      <h1>{t('notFound.title')}</h1>
      <p role={resource ? 'alert' : undefined}>{resource ? t('errors.not_found') : t('notFound.body')}</p>
      <Link to="/">{t('notFound.home')}</Link>
    </section>
  );
}

// A place kept for a feature of a later release.
export function Planned() {
  const { t } = useTranslation();
  const { feature = '' } = useParams();
  const known = ['monitoring', 'alerts', 'metrics', 'autotest', 'store'];
  if (!known.includes(feature)) return <NotFound />;
  return (
    <section>
      <h1>{t('planned.title', { feature: t(`nav.${feature}`) })}</h1>
      <p>{t('planned.body')}</p>
    </section>
  );
}
