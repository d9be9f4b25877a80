// Why a job is where it is: the reason code in the console's language, and the server's
// own words (the numbers: "project vision uses 4 of 4 GPUs") beside it when they add to it.
import { useTranslation } from 'react-i18next';
import { localReason } from './schedulerReason';

export function Reason({ reason, message }: { reason?: string; message?: string }) {
  const { t, i18n } = useTranslation();
  const code = reason ?? '';
  const known = code !== '' && i18n.exists(`reasons.${code}`);
  const words = known ? t(`reasons.${code}`) : code;
  const detail =
    message && message !== code && message !== words
      ? localReason(message, (k, a) => t(k, a), i18n.language)
      : '';
  if (!words && !detail) return null;
  return (
    <span className="reason">
      {words}
      {words && detail && ': '}
      {detail && <span className="detail">{detail}</span>}
    </span>
  );
}
