// A job's log: the last lines, then live lines over Server-Sent Events while the run goes
// on (batched once per frame, so a fast log never blocks the page), the lines that match a
// search, or the lines from a time on (jump by time). Lines the dataset's log policy
// withheld are counted, never shown.
import { useEffect, useRef, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { api } from '../api/client';
import { formatNumber, formatTime } from '../i18n/format';

interface LogLine {
  seq: number;
  time: string;
  stream: string;
  text: string;
}
interface LogStats {
  withheld?: Record<string, number>;
}
interface LogPage {
  items: LogLine[];
  next_seq: number;
  complete: boolean;
  stats: LogStats | null;
}

const kept = 5000; // lines kept on the page

function withheldCount(stats: LogStats | null | undefined): number {
  return Object.values(stats?.withheld ?? {}).reduce((a, b) => a + (typeof b === 'number' ? b : 0), 0);
}

export function LogViewer({ path, active }: { path: string; active: boolean }) {
  const { t } = useTranslation();
  const [lines, setLines] = useState<LogLine[]>([]);
  const [withheld, setWithheld] = useState(0);
  const [following, setFollowing] = useState(false);
  const [ended, setEnded] = useState(false);
  const [search, setSearch] = useState('');
  const [since, setSince] = useState(''); // RFC 3339: showing lines from then, not following
  const [jumpDraft, setJumpDraft] = useState('');
  // Which query the lines shown answer: a new one (a jump) shows no stale status meanwhile.
  const query = `${path}|${search}|${since}`;
  const [loadedFor, setLoadedFor] = useState('');
  const [error, setError] = useState('');
  const buffer = useRef<LogLine[]>([]);
  const box = useRef<HTMLPreElement>(null);

  useEffect(() => {
    let source: EventSource | null = null;
    let frame = 0;
    let stop = false;
    setLines([]);
    setEnded(false);
    setError('');
    const flush = () => {
      frame = 0;
      const add = buffer.current;
      buffer.current = [];
      if (add.length) setLines((old) => [...old, ...add].slice(-kept));
    };
    const load = async () => {
      const q = new URLSearchParams({ format: 'json' });
      if (search) q.set('q', search);
      if (since) {
        q.set('since', since);
        q.set('limit', String(kept));
      } else if (!search) q.set('tail', '500');
      try {
        const page = await api<LogPage>(`${path}?${q}`);
        if (stop) return;
        setLines(page.items);
        setLoadedFor(query);
        setWithheld(withheldCount(page.stats));
        if (search || since || page.complete || !active) {
          setEnded(page.complete);
          return;
        }
        source = new EventSource(`${path}?follow=true&from=${page.next_seq}`);
        setFollowing(true);
        source.addEventListener('line', (e) => {
          buffer.current.push(JSON.parse((e as MessageEvent).data) as LogLine);
          if (!frame) frame = requestAnimationFrame(flush);
        });
        source.addEventListener('end', (e) => {
          flush();
          setWithheld(withheldCount(JSON.parse((e as MessageEvent).data).stats));
          setEnded(true);
          setFollowing(false);
          source?.close();
        });
        source.onerror = () => {
          // The browser reconnects by itself (Last-Event-ID); nothing to do.
        };
      } catch (err) {
        if (!stop) setError(String((err as Error).message ?? err));
      }
    };
    void load();
    return () => {
      stop = true;
      source?.close();
      if (frame) cancelAnimationFrame(frame);
      setFollowing(false);
    };
  }, [path, active, search, since]);

  useEffect(() => {
    const el = box.current;
    if (el && following) el.scrollTop = el.scrollHeight;
  }, [lines, following]);

  return (
    <div className="logs">
      <div className="log-tools">
        <label>
          {t('job.search')}
          <input
            type="search"
            defaultValue={search}
            onKeyDown={(e) => {
              if (e.key === 'Enter') setSearch((e.target as HTMLInputElement).value);
            }}
          />
        </label>
        <form
          className="jump"
          onSubmit={(e) => {
            e.preventDefault();
            const d = new Date(jumpDraft);
            if (!Number.isNaN(d.getTime())) setSince(d.toISOString());
          }}
        >
          <label>
            {t('job.jumpTo')}
            <input type="datetime-local" step={1} value={jumpDraft} onChange={(e) => setJumpDraft(e.target.value)} />
          </label>
          <button type="submit" disabled={!jumpDraft}>
            {t('job.jump')}
          </button>
          {since && (
            <button type="button" onClick={() => setSince('')}>
              {t('job.backToLive')}
            </button>
          )}
        </form>
        {following && <span className="live">{t('job.following')}</span>}
        {ended && <span className="muted">{t('job.ended')}</span>}
        {withheld > 0 && (
          <span className="withheld" role="status">
            {t('job.withheld', { count: withheld, formatted: formatNumber(withheld) })}
          </span>
        )}
      </div>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      {since && loadedFor === query && (
        <p className="muted" role="status">
          {lines.length > 0 ? t('job.showingFrom', { time: formatTime(lines[0].time, true) }) : t('job.noLinesThen')}
        </p>
      )}
      <pre ref={box} className="log" tabIndex={0} aria-label={t('job.logs')} aria-live="off">
        {lines.length === 0 ? t('job.noLines') : lines.map((l) => (l.stream === 'stderr' ? `! ${l.text}` : l.text)).join('\n')}
      </pre>
    </div>
  );
}
