// The frame of every signed-in page: the header (product, language, the bell with one's
// unread notifications, account) and the navigation. Places for what later releases add are shown, marked as coming.
import type { ReactNode } from 'react';
import { useTranslation } from 'react-i18next';
import { NavLink, useNavigate } from 'react-router-dom';
import { isPlatformAdmin, useSession } from '../api/session';
import { languages, setLanguage, type Language } from '../i18n';
import { useUnread } from '../pages/Notifications';

const later: readonly string[] = [];

export function LanguageSwitch() {
  const { t, i18n } = useTranslation();
  return (
    <label className="language">
      <span>{t('user.language')}</span>
      <select value={i18n.language} onChange={(e) => setLanguage(e.target.value as Language)}>
        {languages.map((l) => (
          <option key={l.code} value={l.code} lang={l.code}>
            {l.label}
          </option>
        ))}
      </select>
    </label>
  );
}

// The bell: a link to one's notifications saying how many are unread.
function Bell() {
  const { t } = useTranslation();
  const unread = useUnread();
  const n = unread.data?.unread ?? 0;
  return (
    <NavLink to="/notifications" className="bell" aria-label={t('inbox.bell', { count: n })}>
      <svg aria-hidden="true" width="20" height="20" viewBox="0 0 24 24" fill="none" stroke="currentColor" strokeWidth="2">
        <path d="M18 8a6 6 0 0 0-12 0c0 7-3 9-3 9h18s-3-2-3-9" />
        <path d="M13.7 21a2 2 0 0 1-3.4 0" />
      </svg>
      {n > 0 && (
        <span className="badge" aria-hidden="true">
          {n > 99 ? '99+' : n}
        </span>
      )}
    </NavLink>
  );
}

export function Shell({ children }: { children: ReactNode }) {
  const { t } = useTranslation();
  const { user, signOut } = useSession();
  const navigate = useNavigate();
  const link = (to: string, label: string) => (
    <li>
      <NavLink to={to} end={to === '/'}>
        {label}
      </NavLink>
    </li>
  );
  return (
    <div className="shell">
      <a className="skip" href="#main">
        {t('app.skipToContent')}
      </a>
      <header className="topbar">
        <NavLink to="/" className="brand">
          {t('app.name')}
        </NavLink>
        <span className="tagline">{t('app.tagline')}</span>
        <div className="spacer" />
        <LanguageSwitch />
        {user && <Bell />}
        {user && (
          <div className="account" aria-label={t('user.menu', { name: user.username })}>
            <span className="who">
              {user.username}
              <small>{t(isPlatformAdmin(user) ? 'user.roles.platform-admin' : 'user.roles.platform-regular')}</small>
            </span>
            <button
              type="button"
              onClick={async () => {
                await signOut();
                navigate('/login');
              }}
            >
              {t('user.signOut')}
            </button>
          </div>
        )}
      </header>
      <nav className="sidenav" aria-label={t('nav.label')}>
        <ul>
          {link('/', t('nav.overview'))}
          {link('/workspaces', t('nav.workspaces'))}
          {link('/scheduling', t('nav.scheduling'))}
          {link('/clusters', t('nav.clusters'))}
          {link('/monitoring', t('nav.monitoring'))}
          {link('/runs', t('nav.metrics'))}
          {link('/tests', t('nav.autotest'))}
          {link('/store', t('nav.store'))}
          {link('/usage', t('nav.usage'))}
          {link('/tokens', t('nav.tokens'))}
          {link('/account', t('nav.account'))}
          {link('/roles', t('nav.roles'))}
          {isPlatformAdmin(user) && link('/users', t('nav.users'))}
          {isPlatformAdmin(user) && link('/audit', t('nav.audit'))}
          {isPlatformAdmin(user) && link('/alerting', t('nav.alerts'))}
        </ul>
        {later.length > 0 && <p className="navgroup">{t('nav.later')}</p>}
        {later.length > 0 && <ul>{later.map((k) => link(`/later/${k}`, t(`nav.${k}`)))}</ul>}
      </nav>
      <main id="main" tabIndex={-1}>
        {children}
      </main>
    </div>
  );
}
