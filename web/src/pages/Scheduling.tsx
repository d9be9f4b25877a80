// The scheduling view (the seed's "graphical GPU scheduling"): every node and GPU as a tile
// with the jobs holding it and how much, the queue in order with each job's reason, and GPU
// use per project. The server computes it (GET /api/v1/scheduler) and hides other tenants'
// jobs; the page only draws it. Platform admins also get the "what if" simulator.
import { useQuery } from '@tanstack/react-query';
import { useTranslation } from 'react-i18next';
import { Link, NavLink } from 'react-router-dom';
import { api, seg, type Schemas } from '../api/client';
import { isPlatformAdmin, useSession } from '../api/session';
import { ErrorView } from '../components/ErrorView';
import { localReason } from '../components/schedulerReason';
import { formatNumber, formatTime } from '../i18n/format';
import { useLiveGpus } from './Monitoring';
import { UsageBar } from './ProjectPages';

type View = Schemas['SchedulerView'];
type Gpu = Schemas['SchedulerGpu'];
type Holder = Schemas['GpuHolder'];

type Node = View['nodes'][number];

// Nodes by cluster: this machine first, then the clusters by name.
function byCluster(nodes: Node[]): [string, Node[]][] {
  const groups = new Map<string, Node[]>();
  for (const n of nodes) {
    const c = n.cluster ?? 'local';
    groups.set(c, [...(groups.get(c) ?? []), n]);
  }
  return [...groups.entries()].sort(([a], [b]) => (a === 'local' ? -1 : b === 'local' ? 1 : a.localeCompare(b)));
}

const gib = (mib: number) => formatNumber(mib / 1024, { maximumFractionDigits: 1 });

export function SchedulingTabs() {
  const { t } = useTranslation();
  const { user } = useSession();
  if (!isPlatformAdmin(user)) return null;
  return (
    <nav className="tabs" aria-label={t('scheduling.tabs')}>
      <NavLink to="/scheduling" end>
        {t('scheduling.now')}
      </NavLink>
      <NavLink to="/scheduling/what-if">{t('scheduling.whatIf')}</NavLink>
    </nav>
  );
}

function HolderLine({ h }: { h: Holder }) {
  const { t } = useTranslation();
  const amount = h.whole
    ? t('scheduling.whole')
    : t('scheduling.share', { memory: gib(h.memory_mib), cores: formatNumber(h.cores_percent) });
  if (h.hidden || !h.job || !h.project) {
    return (
      <li className="holder hidden-holder">
        <span>{t('scheduling.otherProject')}</span>
        <span className="amount">{amount}</span>
      </li>
    );
  }
  return (
    <li className="holder">
      <Link to={`/projects/${seg(h.project)}/jobs/${seg(h.job)}`}>{h.name || h.job}</Link>
      <span className="muted">
        {h.project} · {h.user}
      </span>
      <span className="amount">
        {amount}
        {h.preempting && <span className="badge state-preempted">{t('scheduling.preempting')}</span>}
      </span>
    </li>
  );
}

function GpuTile({ gpu }: { gpu: Gpu }) {
  const { t } = useTranslation();
  const live = useLiveGpus().get(gpu.uuid ?? '')?.live;
  const memUsed = gpu.memory_used_mib ?? 0;
  const cores = gpu.cores_used_percent ?? 0;
  const free = gpu.holders.length === 0;
  const label = t('scheduling.gpu', { index: gpu.index });
  return (
    <li className={`gpu-tile${free ? ' free' : ''}${gpu.healthy === false ? ' unhealthy' : ''}`} aria-label={label}>
      <div className="gpu-head">
        <strong>{label}</strong>
        <span className="muted">{gpu.model}</span>
      </div>
      <div className="gpu-meters">
        <span>
          {t('scheduling.memory', { used: gib(memUsed), total: gib(gpu.memory_mib) })}
          <meter min={0} max={gpu.memory_mib} value={memUsed} aria-label={t('scheduling.memoryLabel')} />
        </span>
        <span>
          {t('scheduling.cores', { used: formatNumber(cores) })}
          <meter min={0} max={100} value={cores} aria-label={t('scheduling.coresLabel')} />
        </span>
      </div>
      {live?.gpu_util !== undefined && (
        <p className="gpu-live">
          {t('monitoring.live', {
            util: formatNumber(live.gpu_util),
            temp: formatNumber(live.gpu_temp_c ?? 0),
            power: formatNumber(live.power_w ?? 0, { maximumFractionDigits: 0 }),
          })}
          <meter min={0} max={100} value={live.gpu_util} aria-label={t('monitoring.liveLabel')} />
        </p>
      )}
      {gpu.healthy === false && <p className="error-text">{t('scheduling.unhealthy')}</p>}
      {free ? (
        <p className="muted">{t('scheduling.free')}</p>
      ) : (
        <ul className="holders">
          {gpu.holders.map((h, i) => (
            <HolderLine key={h.job ?? `hidden-${i}`} h={h} />
          ))}
        </ul>
      )}
    </li>
  );
}

export function Scheduling() {
  const { t, i18n } = useTranslation();
  const view = useQuery({
    queryKey: ['scheduler'],
    queryFn: () => api<View>('/api/v1/scheduler'),
    refetchInterval: 2000,
  });
  const v = view.data;
  const hiddenQueued = v && v.queue_length !== undefined ? v.queue_length - v.queue.length : 0;
  return (
    <section>
      <h1>{t('scheduling.title')}</h1>
      <SchedulingTabs />
      {view.isPending && <p aria-busy="true">{t('common.loading')}</p>}
      {view.isError && <ErrorView error={view.error} onRetry={() => view.refetch()} />}
      {v && (
        <>
          <p className="lead">
            {t('scheduling.summary', {
              allocated: formatNumber(v.gpus_allocated ?? 0, { maximumFractionDigits: 2 }),
              total: formatNumber(v.gpus_total ?? 0),
            })}{' '}
            <span className="muted">{t('scheduling.asOf', { time: formatTime(v.as_of) })}</span>
          </p>
          {v.policy && <p className="muted">{t(`scheduling.policy_${v.policy}`)}</p>}
          <h2>{t('scheduling.nodes')}</h2>
          {v.nodes.length === 0 && <p className="empty">{t('scheduling.noNodes')}</p>}
          {byCluster(v.nodes).map(([cluster, nodes]) => (
            <section key={cluster} className="cluster" aria-label={cluster === 'local' ? t('scheduling.thisMachine') : t('scheduling.cluster', { name: cluster })}>
              <h3 className="cluster-name">
                {cluster === 'local' ? t('scheduling.thisMachine') : t('scheduling.cluster', { name: cluster })}
              </h3>
              {nodes.map((n) => (
                <section key={n.name} className="card wide node" aria-label={t('scheduling.node', { name: n.name })}>
                  <h4>
                    {t('scheduling.node', { name: n.name })}{' '}
                    {n.schedulable === false && <span className="badge state-lost">{t('scheduling.noNewJobs')}</span>}{' '}
                    <span className="muted">
                      {t('scheduling.nodeFacts', {
                        pool: n.pool,
                        flavor: n.flavor ?? '',
                        cpuUsed: formatNumber(n.cpu_used ?? 0, { maximumFractionDigits: 1 }),
                        cpu: formatNumber(n.cpu ?? 0, { maximumFractionDigits: 1 }),
                        memUsed: gib(n.memory_used_mib ?? 0),
                        mem: gib(n.memory_mib ?? 0),
                      })}
                    </span>
                  </h4>
                  {n.gpus.length === 0 ? (
                    <p className="muted">{t('scheduling.noGpus')}</p>
                  ) : (
                    <ul className="gpu-grid">
                      {n.gpus.map((g) => (
                        <GpuTile key={g.index} gpu={g} />
                      ))}
                    </ul>
                  )}
                </section>
              ))}
            </section>
          ))}
          <h2>{t('scheduling.queue')}</h2>
          {v.queue.length === 0 ? (
            <p className="empty">{t('scheduling.queueEmpty')}</p>
          ) : (
            <table>
              <thead>
                <tr>
                  <th scope="col">{t('scheduling.position')}</th>
                  <th scope="col">{t('common.name')}</th>
                  <th scope="col">{t('scheduling.project')}</th>
                  <th scope="col">{t('jobs.user')}</th>
                  <th scope="col">{t('scheduling.priority')}</th>
                  <th scope="col">{t('scheduling.gpus')}</th>
                  <th scope="col">{t('scheduling.reason')}</th>
                </tr>
              </thead>
              <tbody>
                {v.queue.map((q) => (
                  <tr key={q.job}>
                    <td>{formatNumber(q.position)}</td>
                    <td>
                      <Link to={`/projects/${seg(q.project)}/jobs/${seg(q.job)}`}>{q.name || q.job}</Link>
                    </td>
                    <td>{q.project}</td>
                    <td>{q.user}</td>
                    <td>{formatNumber(q.priority ?? 0)}</td>
                    <td>{formatNumber(q.gpus ?? 0, { maximumFractionDigits: 2 })}</td>
                    <td className="reason">
                      {q.reason ? localReason(q.reason, (k, a) => t(k, a), i18n.language) : t('scheduling.notYetLooked')}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          {hiddenQueued > 0 && <p className="muted">{t('scheduling.hiddenQueued', { count: hiddenQueued })}</p>}
          <h2>{t('scheduling.projects')}</h2>
          {v.projects.length === 0 ? (
            <p className="empty">{t('scheduling.noProjects')}</p>
          ) : (
            <table>
              <thead>
                <tr>
                  <th scope="col">{t('scheduling.project')}</th>
                  <th scope="col">{t('scheduling.gpuUse')}</th>
                  <th scope="col">{t('scheduling.running')}</th>
                  <th scope="col">{t('scheduling.pending')}</th>
                </tr>
              </thead>
              <tbody>
                {v.projects.map((p) => (
                  <tr key={p.project}>
                    <td>
                      <Link to={`/projects/${seg(p.project ?? '')}`}>{p.project}</Link>
                    </td>
                    <td>
                      <UsageBar used={p.gpus_used ?? 0} limit={p.gpus_quota} />
                    </td>
                    <td>{formatNumber(p.running_jobs ?? 0)}</td>
                    <td>{formatNumber(p.pending_jobs ?? 0)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </>
      )}
    </section>
  );
}
