// A project's job list as one long list: pages loaded as the reader scrolls (keyset paging,
// newest first), kept live by the project's event stream (Server-Sent Events from the
// newest event on) instead of polling: a changed job is fetched again and patched in
// place, a new one that fits the filters appears on top. Thousands of jobs cost one request
// per page read and one per change, not a reload of the list every few seconds.
import { useEffect, useRef, useState } from 'react';
import { api, pagePath, seg, type Page, type Schemas } from '../api/client';

type Job = Schemas['Job'];

const pageSize = 500;
const batchMs = 250; // changes arriving together are fetched together

export interface JobList {
  items: Job[];
  more: boolean; // more pages after the loaded ones
  loading: boolean;
  error: unknown;
  live: boolean; // the event stream is open
  loadMore: () => void;
  retry: () => void;
}

export function useJobList(project: string, path: string): JobList {
  const [items, setItems] = useState<Job[]>([]);
  const [next, setNext] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<unknown>(null);
  const [live, setLive] = useState(false);
  const [attempt, setAttempt] = useState(0);
  const generation = useRef(0); // answers for an older path are dropped
  const busy = useRef(false);

  // Reads one page (the newest with no token) and adds its jobs not already listed.
  const read = (token: string | null, gen: number) => {
    busy.current = true;
    setLoading(true);
    api<Page<Job>>(pagePath(path, pageSize, token))
      .then((page) => {
        if (gen !== generation.current) return;
        setItems((old) => {
          const have = new Set(old.map((j) => j.id));
          return [...old, ...page.items.filter((j) => !have.has(j.id))];
        });
        setNext(page.next_page_token ?? null);
      })
      .catch((e: unknown) => gen === generation.current && setError(e))
      .finally(() => {
        if (gen === generation.current) {
          busy.current = false;
          setLoading(false);
        }
      });
  };

  useEffect(() => {
    const gen = ++generation.current;
    setItems([]);
    setNext(null);
    setError(null);
    read(null, gen);
  }, [path, attempt]); // eslint-disable-line react-hooks/exhaustive-deps

  const loadMore = () => {
    if (!busy.current && next) read(next, generation.current);
  };

  // Live: the project's events from now on; each job event names the job.
  const known = useRef(new Set<string>());
  known.current = new Set(items.map((j) => j.id));
  useEffect(() => {
    const changed = new Set<string>();
    let timer = 0;
    const gen = generation.current;
    const flush = async () => {
      timer = 0;
      const ids = [...changed];
      changed.clear();
      const fresh = ids.filter((id) => !known.current.has(id));
      const updates = await Promise.all(
        ids
          .filter((id) => known.current.has(id))
          .map((id) => api<Job>(`/api/v1/projects/${seg(project)}/jobs/${seg(id)}`).catch(() => null)),
      );
      // New jobs: the newest page under the filters holds them if they fit.
      let top: Job[] = [];
      if (fresh.length > 0) {
        const page = await api<Page<Job>>(pagePath(path, Math.min(1000, Math.max(50, fresh.length)))).catch(() => null);
        top = page?.items.filter((j) => fresh.includes(j.id)) ?? [];
      }
      if (gen !== generation.current) return;
      setItems((old) => {
        const byId = new Map(updates.filter((j): j is Job => j !== null).map((j) => [j.id, j]));
        const have = new Set(old.map((j) => j.id));
        const added = top.filter((j) => !have.has(j.id));
        return [...added, ...old.map((j) => byId.get(j.id) ?? j)];
      });
    };
    const source = new EventSource(`/api/v1/projects/${seg(project)}/events?stream=true&after=latest`);
    const onEvent = (e: MessageEvent) => {
      try {
        const ev = JSON.parse(e.data as string) as { resource_type?: string; resource_name?: string };
        if (ev.resource_type !== 'job' || !ev.resource_name) return;
        changed.add(ev.resource_name);
        if (!timer) timer = window.setTimeout(() => void flush(), batchMs);
      } catch {
        // not an event of ours
      }
    };
    for (const type of ['created', 'updated', 'deleted', 'state']) source.addEventListener(type, onEvent);
    source.onopen = () => setLive(true);
    source.onerror = () => setLive(source.readyState === EventSource.OPEN);
    return () => {
      source.close();
      if (timer) window.clearTimeout(timer);
      setLive(false);
    };
  }, [project, path]);

  return { items, more: next !== null, loading, error, live, loadMore, retry: () => setAttempt((a) => a + 1) };
}
