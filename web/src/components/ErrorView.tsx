// An API error in words: what happened and what to do, with the request id to quote.
import { useTranslation } from 'react-i18next';
import { ApiError } from '../api/client';

export function errorText(e: unknown, t: (k: string) => string): string {
  if (e instanceof ApiError) {
    if (e.code === 'unauthenticated' || e.code === 'permission_denied' || e.code === 'not_found') {
      return t(`errors.${e.code}`);
    }
    return e.message;
  }
  return t('errors.network');
}

export function ErrorView({ error, onRetry }: { error: unknown; onRetry?: () => void }) {
  const { t } = useTranslation();
  const id = error instanceof ApiError ? error.requestId : undefined;
  return (
    <div className="error" role="alert">
      <strong>{t('common.errorTitle')}</strong>
      <p>{errorText(error, t)}</p>
      {error instanceof ApiError && error.code !== 'not_found' && error.message !== errorText(error, t) && (
        <p className="muted">{error.message}</p>
      )}
      {id && <p className="muted">{t('common.requestId', { id })}</p>}
      {onRetry && (
        <button type="button" onClick={onRetry}>
          {t('common.retry')}
        </button>
      )}
    </div>
  );
}
