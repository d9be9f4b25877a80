// What went wrong with an action the user started (a save, a start, a delete), in one line
// that screen readers announce; nothing while it has not failed. A page whose data failed
// to load shows ErrorView instead (with the request id and a retry).
import { useTranslation } from 'react-i18next';
import { errorText } from './ErrorView';

export function ActionError({ of }: { of: { isError: boolean; error: unknown } }) {
  const { t } = useTranslation();
  if (!of.isError) return null;
  return (
    <p className="error" role="alert">
      {errorText(of.error, t)}
    </p>
  );
}
