// Dates, numbers and durations in the console's language.
import i18n from './index';

// Building an Intl formatter costs far more than using one (long lists format thousands
// of values): one per language and options, kept.
const formatters = new Map<string, Intl.DateTimeFormat | Intl.NumberFormat>();
function cached<T extends Intl.DateTimeFormat | Intl.NumberFormat>(kind: string, options: object | undefined, make: () => T): T {
  const key = `${kind}|${i18n.language}|${options ? JSON.stringify(options) : ''}`;
  let f = formatters.get(key);
  if (!f) {
    f = make();
    formatters.set(key, f);
  }
  return f as T;
}

export function formatTime(iso: string | null | undefined, seconds = false): string {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const options = { dateStyle: 'medium', timeStyle: seconds ? 'medium' : 'short' } as const;
  return cached('time', options, () => new Intl.DateTimeFormat(i18n.language, options)).format(d);
}

export function formatNumber(n: number, options?: Intl.NumberFormatOptions): string {
  return cached('number', options, () => new Intl.NumberFormat(i18n.language, options)).format(n);
}

// "in 5 minutes", "5分钟后": a time relative to now.
export function formatRelative(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return '';
  const seconds = Math.round((new Date(iso).getTime() - now) / 1000);
  if (Number.isNaN(seconds)) return iso;
  const f = new Intl.RelativeTimeFormat(i18n.language, { numeric: 'auto' });
  const abs = Math.abs(seconds);
  if (abs < 60) return f.format(seconds, 'second');
  if (abs < 3600) return f.format(Math.round(seconds / 60), 'minute');
  if (abs < 86400) return f.format(Math.round(seconds / 3600), 'hour');
  return f.format(Math.round(seconds / 86400), 'day');
}

export function formatDuration(seconds: number): string {
  const units: [Intl.RelativeTimeFormatUnit, number][] = [
    ['day', 86400],
    ['hour', 3600],
    ['minute', 60],
    ['second', 1],
  ];
  const parts: string[] = [];
  let left = Math.max(0, Math.round(seconds));
  for (const [unit, size] of units) {
    const n = Math.floor(left / size);
    if (n > 0 || (unit === 'second' && parts.length === 0)) {
      parts.push(new Intl.NumberFormat(i18n.language, { style: 'unit', unit, unitDisplay: 'short' }).format(n));
    }
    left -= n * size;
    if (parts.length === 2) break;
  }
  return parts.join(' ');
}
