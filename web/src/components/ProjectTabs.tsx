// The heading of every project page and the tabs between them.
import { useTranslation } from 'react-i18next';
import { Link, NavLink } from 'react-router-dom';
import { seg } from '../api/client';
import { can, usePermissions } from '../api/permissions';

export function ProjectTabs({ project }: { project: string }) {
  const { t } = useTranslation();
  const base = `/projects/${seg(project)}`;
  const perms = usePermissions(project);
  return (
    <>
      <div className="heading-row">
        <h1>{t('project.title', { name: project })}</h1>
        <div className="spacer" />
        <Link className="button primary" to={`${base}/jobs/new`}>
          {t('project.submit')}
        </Link>
      </div>
      <nav className="tabs" aria-label={t('project.tabs')}>
        <NavLink to={base} end>
          {t('project.jobs')}
        </NavLink>
        <NavLink to={`${base}/runs`}>{t('project.runs')}</NavLink>
        <NavLink to={`${base}/tests`}>{t('project.tests')}</NavLink>
        {can(perms.data, 'listing', 'list') && <NavLink to={`${base}/store`}>{t('project.store')}</NavLink>}
        <NavLink to={`${base}/devenvs`}>{t('project.devenvs')}</NavLink>
        <NavLink to={`${base}/code`}>{t('project.code')}</NavLink>
        <NavLink to={`${base}/datasets`}>{t('project.datasets')}</NavLink>
        {can(perms.data, 'label_task', 'list') && <NavLink to={`${base}/labelling`}>{t('project.labelling')}</NavLink>}
        {can(perms.data, 'release', 'list') && <NavLink to={`${base}/reviews`}>{t('project.reviews')}</NavLink>}
        <NavLink to={`${base}/members`}>{t('project.members')}</NavLink>
        <NavLink to={`${base}/quota`}>{t('project.quota')}</NavLink>
        <NavLink to={`${base}/events`}>{t('project.events')}</NavLink>
        {can(perms.data, 'alert', 'list') && <NavLink to={`${base}/alerts`}>{t('project.alerts')}</NavLink>}
      </nav>
    </>
  );
}
