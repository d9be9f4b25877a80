// A project's members, quota and events.
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect, useState, type FormEvent } from 'react';
import { useTranslation } from 'react-i18next';
import { useParams } from 'react-router-dom';
import { ApiError, api, apiTagged, seg, type Page, type Schemas, isNotFound } from '../api/client';
import { ErrorView, errorText } from '../components/ErrorView';
import { can, usePermissions } from '../api/permissions';
import { Members } from '../components/Members';
import { ProjectTabs } from '../components/ProjectTabs';
import { formatNumber, formatTime } from '../i18n/format';
import { ProjectGpuUse } from './Monitoring';
import { NotFound } from './NotFound';

const projectBase = (p: string) => `/api/v1/projects/${seg(p)}`;

export function ProjectMembers() {
  const { project = '' } = useParams();
  return (
    <section>
      <ProjectTabs project={project} />
      <Members base={projectBase(project)} scope="project" />
    </section>
  );
}

// In the order of the page, each with what is in use now (per user for the per-user limit).
const quotaFields = [
  'gpus',
  'gpu_memory_mib',
  'per_user_gpus',
  'concurrent_jobs',
  'cpu_cores',
  'memory_mib',
  'storage_mib',
] as const;
type QuotaField = (typeof quotaFields)[number];
type Usage = Partial<Record<Exclude<QuotaField, 'per_user_gpus'>, number>> & { per_user_gpus?: Record<string, number> };
type Quota = Partial<Record<QuotaField, number | null>> & { usage?: Usage; clusters?: string[] | null };

// What a quota row shows in use: one bar, or (GPUs per user) a bar per user holding GPUs.
function QuotaUse({ field, quota }: { field: QuotaField; quota: Quota }) {
  const { t } = useTranslation();
  const usage = quota.usage;
  if (!usage) return null;
  if (field === 'per_user_gpus') {
    const users = Object.entries(usage.per_user_gpus ?? {});
    if (users.length === 0) return <span className="muted">{t('quota.noUserGpus')}</span>;
    return (
      <ul className="per-user">
        {users.map(([user, used]) => (
          <li key={user}>
            <span>{user}</span> <UsageBar used={used} limit={quota.per_user_gpus} />
          </li>
        ))}
      </ul>
    );
  }
  const used = usage[field];
  return used === undefined ? null : <UsageBar used={used} limit={quota[field]} />;
}

// A bar of what is used against the limit (a limit of null: unlimited, no bar).
export function UsageBar({ used, limit }: { used: number; limit: number | null | undefined }) {
  const { t } = useTranslation();
  if (limit === null || limit === undefined) {
    return <span className="muted">{t('quota.usedOnly', { used: formatNumber(used, { maximumFractionDigits: 1 }) })}</span>;
  }
  const share = limit > 0 ? Math.min(1, used / limit) : 1;
  const text = t('quota.used', {
    used: formatNumber(used, { maximumFractionDigits: 1 }),
    limit: formatNumber(limit),
  });
  return (
    <span className="usage">
      <meter min={0} max={1} value={share} high={0.85} aria-label={text} />
      <span>{text}</span>
    </span>
  );
}

// "a, b c" -> ["a", "b", "c"]: the clusters a project's jobs may use.
export const clusterList = (text: string): string[] => text.split(/[\s,]+/).filter(Boolean);

export function ProjectQuota() {
  const { t } = useTranslation();
  const { project = '' } = useParams();
  const client = useQueryClient();
  const path = `${projectBase(project)}/quota`;
  const perms = usePermissions(project);
  const mayEdit = can(perms.data, 'quota', 'update');
  const quota = useQuery({
    queryKey: ['quota', project],
    queryFn: () => apiTagged<Quota>(path),
    refetchInterval: 5000, // the usage bars follow the running jobs
  });
  const [draft, setDraft] = useState<Record<string, string>>({});
  const [clusters, setClusters] = useState('');
  const [saved, setSaved] = useState(false);
  useEffect(() => {
    if (!quota.data) return;
    const d: Record<string, string> = {};
    for (const f of quotaFields) d[f] = quota.data.body[f] == null ? '' : String(quota.data.body[f]);
    setDraft(d);
    setClusters((quota.data.body.clusters ?? []).join(', '));
    // Only a new version of the limits resets the form, not fresh usage.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [quota.data?.etag]);
  const invalid = (f: string) => draft[f] !== '' && draft[f] !== undefined && !(Number(draft[f]) >= 0);
  const save = useMutation({
    mutationFn: () => {
      const body: Record<string, number | string[] | null> = {};
      for (const f of quotaFields) body[f] = draft[f] === '' ? null : Number(draft[f]);
      const names = clusterList(clusters);
      body.clusters = names.length ? names : null;
      return api(path, { method: 'PUT', body, ifMatch: quota.data?.etag });
    },
    onSuccess: () => {
      setSaved(true);
      void client.invalidateQueries({ queryKey: ['quota', project] });
    },
    onError: () => void client.invalidateQueries({ queryKey: ['quota', project] }),
  });
  if (isNotFound(quota.error)) return <NotFound resource />;
  return (
    <section>
      <ProjectTabs project={project} />
      <p className="lead">{t('quota.intro')}</p>
      {quota.isError && <ErrorView error={quota.error} onRetry={() => quota.refetch()} />}
      {quota.data && (
        <form
          className="card wide"
          noValidate
          onSubmit={(e: FormEvent) => {
            e.preventDefault();
            setSaved(false);
            if (!quotaFields.some(invalid)) save.mutate();
          }}
        >
          <table className="plain">
            <tbody>
              {quotaFields.map((f) => (
                <tr key={f}>
                  <th scope="row">
                    <label htmlFor={`quota-${f}`}>{t(`quota.fields.${f}`)}</label>
                  </th>
                  <td>
                    <input
                      id={`quota-${f}`}
                      type="number"
                      min={0}
                      readOnly={!mayEdit}
                      value={draft[f] ?? ''}
                      aria-invalid={invalid(f)}
                      onChange={(e) => setDraft((d) => ({ ...d, [f]: e.target.value }))}
                    />
                  </td>
                  <td>
                    <QuotaUse field={f} quota={quota.data.body} />
                  </td>
                </tr>
              ))}
              <tr>
                <th scope="row">
                  <label htmlFor="quota-clusters">{t('quota.clusters')}</label>
                </th>
                <td>
                  <input
                    id="quota-clusters"
                    readOnly={!mayEdit}
                    value={clusters}
                    aria-describedby="quota-clusters-help"
                    onChange={(e) => setClusters(e.target.value)}
                  />
                </td>
                <td>
                  <small id="quota-clusters-help" className="muted">
                    {t('quota.clustersHelp')}
                  </small>
                </td>
              </tr>
            </tbody>
          </table>
          {save.isError && (
            <p className="error" role="alert">
              {save.error instanceof ApiError && save.error.status === 412 ? t('quota.changed') : errorText(save.error, t)}
            </p>
          )}
          {saved && !save.isPending && (
            <p className="ok" role="status">
              {t('quota.saved')}
            </p>
          )}
          {mayEdit && (
            <button type="submit" className="primary" disabled={save.isPending || quotaFields.some(invalid)}>
              {save.isPending ? t('quota.saving') : t('quota.save')}
            </button>
          )}
        </form>
      )}
      <ProjectGpuUse project={project} />
    </section>
  );
}

const eventsKept = 500;

// The project's newest events, then every new one as it happens (Server-Sent Events from
// the last one shown; a reconnect resumes from the last one received).
export function ProjectEvents() {
  const { t } = useTranslation();
  const { project = '' } = useParams();
  const events = useQuery({
    queryKey: ['events', project],
    queryFn: () => api<Page<Schemas['Event']>>(`${projectBase(project)}/events?tail=200`),
    staleTime: Infinity,
  });
  const [live, setLive] = useState<Schemas['Event'][]>([]);
  const [following, setFollowing] = useState(false);
  const from = events.data ? (events.data.items.at(-1)?.seq ?? 0) : null;
  useEffect(() => {
    setLive([]);
    if (from === null) return undefined;
    const source = new EventSource(`${projectBase(project)}/events?stream=true&after=${from}`);
    const onEvent = (e: MessageEvent) => {
      const ev = JSON.parse(e.data as string) as Schemas['Event'];
      setLive((old) => (old.some((o) => o.seq === ev.seq) ? old : [...old, ev].slice(-eventsKept)));
    };
    for (const type of ['created', 'updated', 'deleted', 'state']) source.addEventListener(type, onEvent);
    source.onopen = () => setFollowing(true);
    source.onerror = () => setFollowing(source.readyState === EventSource.OPEN);
    return () => {
      source.close();
      setFollowing(false);
    };
  }, [project, from]);
  if (isNotFound(events.error)) return <NotFound resource />;
  const items = [...(events.data?.items ?? []), ...live].reverse().slice(0, eventsKept);
  return (
    <section>
      <ProjectTabs project={project} />
      {following && (
        <p className="muted" role="status">
          <span className="live">{t('jobs.live')}</span>
        </p>
      )}
      {events.isError && <ErrorView error={events.error} onRetry={() => events.refetch()} />}
      {events.data && items.length === 0 && <p className="empty">{t('events.empty')}</p>}
      {items.length > 0 && (
        <table>
          <thead>
            <tr>
              <th scope="col">{t('events.time')}</th>
              <th scope="col">{t('events.what')}</th>
              <th scope="col">{t('events.resource')}</th>
              <th scope="col">{t('events.actor')}</th>
            </tr>
          </thead>
          <tbody>
            {items.map((e) => (
              <tr key={e.seq}>
                <td>{formatTime(e.time)}</td>
                <td>{e.message || e.reason}</td>
                <td>
                  {e.resource_type} {e.resource_name}
                </td>
                <td>{e.actor}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
