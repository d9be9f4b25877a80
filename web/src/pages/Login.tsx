import { useState, type FormEvent } from 'react';
import { useTranslation } from 'react-i18next';
import { Navigate, useNavigate, useSearchParams } from 'react-router-dom';
import { ApiError } from '../api/client';
import { useSession } from '../api/session';
import { errorText } from '../components/ErrorView';
import { Field } from '../components/Field';
import { LanguageSwitch } from '../components/Shell';

export function Login() {
  const { t } = useTranslation();
  const { user, signIn } = useSession();
  const [params] = useSearchParams();
  const navigate = useNavigate();
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  // Only a path of this site: never an address elsewhere (an open redirect).
  const next = params.get('next');
  const target = next && next.startsWith('/') && !next.startsWith('//') ? next : '/';
  if (user) return <Navigate to={target} replace />;

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (!username || !password) {
      setError(t('login.required'));
      return;
    }
    setBusy(true);
    setError('');
    try {
      await signIn(username, password);
      navigate(target, { replace: true });
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) setError(t('login.invalid'));
      else if (err instanceof ApiError && err.status === 429) setError(t('login.throttled'));
      else setError(errorText(err, t));
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="login">
      <div className="login-lang">
        <LanguageSwitch />
      </div>
      <form onSubmit={submit} noValidate aria-describedby={error ? 'login-error' : undefined}>
        <h1>{t('login.title')}</h1>
        <Field id="login-username" label={t('login.username')}>
          <input
            id="login-username"
            name="username"
            autoComplete="username"
            value={username}
            onChange={(e) => setUsername(e.target.value)}
            autoFocus
          />
        </Field>
        <Field id="login-password" label={t('login.password')}>
          <input
            id="login-password"
            name="password"
            type="password"
            autoComplete="current-password"
            value={password}
            onChange={(e) => setPassword(e.target.value)}
          />
        </Field>
        {error && (
          <p id="login-error" className="error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" className="primary" disabled={busy}>
          {busy ? t('login.submitting') : t('login.submit')}
        </button>
        <p className="muted">{t('login.hint')}</p>
      </form>
    </div>
  );
}
