// Keyset paging: the API gives the token of the next page; the console keeps the tokens
// it went through so "previous" works, and puts the current one in the URL (?page=).
import { useTranslation } from 'react-i18next';
import { useSearchParams } from 'react-router-dom';

export function usePageToken(): [string | null, (next: string | null) => void, () => void, boolean] {
  const [params, setParams] = useSearchParams();
  const token = params.get('page');
  const trail = (params.get('trail') ?? '').split(',').filter(Boolean);
  const go = (next: string | null) => {
    const p = new URLSearchParams(params);
    if (next) {
      p.set('page', next);
      p.set('trail', [...trail, token ?? ''].join(','));
    }
    setParams(p);
  };
  const back = () => {
    const p = new URLSearchParams(params);
    const prev = trail.pop();
    if (prev) p.set('page', prev);
    else p.delete('page');
    if (trail.length) p.set('trail', trail.join(','));
    else p.delete('trail');
    setParams(p);
  };
  return [token, go, back, token !== null];
}

export function Pager({
  next,
  onNext,
  onPrevious,
  hasPrevious,
}: {
  next: string | null | undefined;
  onNext: (token: string) => void;
  onPrevious: () => void;
  hasPrevious: boolean;
}) {
  const { t } = useTranslation();
  if (!next && !hasPrevious) return null;
  return (
    <nav className="pager" aria-label={t('common.pages')}>
      <button type="button" onClick={onPrevious} disabled={!hasPrevious}>
        {t('common.previous')}
      </button>
      <button type="button" onClick={() => next && onNext(next)} disabled={!next}>
        {t('common.next')}
      </button>
    </nav>
  );
}
