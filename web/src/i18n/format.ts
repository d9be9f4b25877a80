// Dates, numbers and durations in the console's language.
import i18n from './index';

export function formatTime(iso: string | null | undefined): string {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return new Intl.DateTimeFormat(i18n.language, { dateStyle: 'medium', timeStyle: 'short' }).format(d);
}

export function formatNumber(n: number, options?: Intl.NumberFormatOptions): string {
  return new Intl.NumberFormat(i18n.language, options).format(n);
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
