// The clusters jobs run on: this machine and the Kubernetes clusters registered
// (docs/KUBERNETES.md). Everyone sees their state and capacity; platform admins register,
// disable and remove them. Credentials go in and never come back.
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { useTranslation } from 'react-i18next';
import { api, seg, type Schemas } from '../api/client';
import { isPlatformAdmin, useSession } from '../api/session';
import { ActionError } from '../components/ActionError';
import { ErrorView, errorText } from '../components/ErrorView';
import { Field } from '../components/Field';
import { formatNumber, formatTime } from '../i18n/format';

type Cluster = Schemas['Cluster'];
type Volume = { server_path: string; claim?: string; host_path?: string };

// "SERVER_PATH=claim:NAME" or "SERVER_PATH=host:/PATH", one a line.
export function parseVolumes(text: string): Volume[] | string {
  const out: Volume[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line) continue;
    const m = /^(\/\S*)=(claim|host):(\S+)$/.exec(line);
    if (!m) return line;
    out.push(m[2] === 'claim' ? { server_path: m[1], claim: m[3] } : { server_path: m[1], host_path: m[3] });
  }
  return out;
}

function RegisterForm() {
  const { t } = useTranslation();
  const client = useQueryClient();
  const [name, setName] = useState('');
  const [region, setRegion] = useState('');
  const [kubeconfig, setKubeconfig] = useState('');
  const [context, setContext] = useState('');
  const [image, setImage] = useState('');
  const [pool, setPool] = useState('');
  const [selector, setSelector] = useState('');
  const [volumes, setVolumes] = useState('');
  const [force, setForce] = useState(false);
  const parsed = parseVolumes(volumes);
  const badVolume = typeof parsed === 'string' ? parsed : '';
  const nameValid = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(name) && name !== 'local';
  const add = useMutation({
    mutationFn: () =>
      api<Cluster>('/api/v1/clusters', {
        method: 'POST',
        body: {
          name,
          region,
          kubeconfig,
          ...(context ? { context } : {}),
          ...(image ? { image } : {}),
          ...(pool ? { pool } : {}),
          ...(selector ? { node_selector: selector } : {}),
          ...(typeof parsed !== 'string' && parsed.length ? { volumes: parsed } : {}),
          ...(force ? { force: true } : {}),
        },
      }),
    onSuccess: () => {
      setName('');
      setKubeconfig('');
      void client.invalidateQueries({ queryKey: ['clusters'] });
    },
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (nameValid && kubeconfig && !badVolume) add.mutate();
  };
  return (
    <form className="card wide" onSubmit={submit} noValidate aria-label={t('clusters.register')}>
      <h2>{t('clusters.register')}</h2>
      <div className="row">
        <Field id="cluster-name" label={t('common.name')} error={name && !nameValid ? t('clusters.nameHelp') : undefined}>
          <input id="cluster-name" value={name} maxLength={63} aria-invalid={!!name && !nameValid} onChange={(e) => setName(e.target.value)} />
        </Field>
        <Field id="cluster-region" label={t('clusters.region')}>
          <input id="cluster-region" value={region} onChange={(e) => setRegion(e.target.value)} />
        </Field>
        <Field id="cluster-context" label={t('clusters.context')} help={t('clusters.contextHelp')}>
          <input id="cluster-context" value={context} onChange={(e) => setContext(e.target.value)} />
        </Field>
      </div>
      <Field id="cluster-kubeconfig" label={t('clusters.kubeconfig')} help={t('clusters.kubeconfigHelp')}>
        <textarea id="cluster-kubeconfig" rows={8} spellCheck={false} value={kubeconfig} onChange={(e) => setKubeconfig(e.target.value)} />
      </Field>
      <div className="row">
        <Field id="cluster-image" label={t('clusters.image')} help={t('clusters.imageHelp')}>
          <input id="cluster-image" value={image} onChange={(e) => setImage(e.target.value)} />
        </Field>
        <Field id="cluster-pool" label={t('clusters.pool')}>
          <input id="cluster-pool" value={pool} onChange={(e) => setPool(e.target.value)} />
        </Field>
        <Field id="cluster-selector" label={t('clusters.nodeSelector')} help={t('clusters.nodeSelectorHelp')}>
          <input id="cluster-selector" value={selector} onChange={(e) => setSelector(e.target.value)} />
        </Field>
      </div>
      <Field
        id="cluster-volumes"
        label={t('clusters.volumes')}
        help={t('clusters.volumesHelp')}
        error={badVolume ? t('clusters.badVolume', { line: badVolume }) : undefined}
      >
        <textarea id="cluster-volumes" rows={3} spellCheck={false} value={volumes} aria-invalid={!!badVolume} onChange={(e) => setVolumes(e.target.value)} />
      </Field>
      <label className="check">
        <input type="checkbox" checked={force} onChange={(e) => setForce(e.target.checked)} /> {t('clusters.force')}
      </label>
      <ActionError of={add} />
      <button type="submit" className="primary" disabled={!nameValid || !kubeconfig || !!badVolume || add.isPending}>
        {add.isPending ? t('clusters.connecting') : t('clusters.add')}
      </button>
    </form>
  );
}

function ClusterRow({ c, admin }: { c: Cluster; admin: boolean }) {
  const { t } = useTranslation();
  const client = useQueryClient();
  const refresh = () => void client.invalidateQueries({ queryKey: ['clusters'] });
  const toggle = useMutation({
    mutationFn: () => api(`/api/v1/clusters/${seg(c.name)}`, { method: 'PATCH', body: { enabled: !c.enabled } }),
    onSuccess: refresh,
  });
  const remove = useMutation({
    mutationFn: () => api(`/api/v1/clusters/${seg(c.name)}`, { method: 'DELETE' }),
    onSuccess: refresh,
  });
  const error = toggle.error ?? remove.error;
  return (
    <tr>
      <th scope="row">
        {c.name}
        {c.kind === 'local' && <span className="muted"> · {t('clusters.thisMachine')}</span>}
      </th>
      <td>{c.region || '—'}</td>
      <td>
        <span className={`badge cluster-${c.state}`}>{t(`clusters.state_${c.state}`)}</span>
        {c.reason && <small className="muted"> {c.reason}</small>}
      </td>
      <td>{t('clusters.nodeCount', { ready: c.ready_nodes ?? 0, total: c.nodes })}</td>
      <td>{formatNumber(c.gpus)}</td>
      <td>{formatNumber(c.cpu ?? 0, { maximumFractionDigits: 1 })}</td>
      <td>{formatNumber((c.memory_mib ?? 0) / 1024, { maximumFractionDigits: 1 })}</td>
      <td className="muted">{c.server ?? ''}</td>
      <td>
        {admin && c.kind === 'kubernetes' && (
          <span className="actions">
            <button type="button" onClick={() => toggle.mutate()} disabled={toggle.isPending}>
              {c.enabled ? t('clusters.disable') : t('clusters.enable')}
            </button>
            <button
              type="button"
              className="danger"
              disabled={remove.isPending}
              onClick={() => {
                if (window.confirm(t('clusters.confirmRemove', { name: c.name }))) remove.mutate();
              }}
            >
              {t('common.delete')}
            </button>
          </span>
        )}
        {error && (
          <p className="error" role="alert">
            {errorText(error, t)}
          </p>
        )}
        {c.created_at && <small className="muted">{t('clusters.since', { time: formatTime(c.created_at) })}</small>}
      </td>
    </tr>
  );
}

export function Clusters() {
  const { t } = useTranslation();
  const { user } = useSession();
  const admin = isPlatformAdmin(user);
  const list = useQuery({
    queryKey: ['clusters'],
    queryFn: () => api<{ items: Cluster[] }>('/api/v1/clusters'),
    refetchInterval: 3000,
  });
  return (
    <section>
      <h1>{t('clusters.title')}</h1>
      <p className="lead">{t('clusters.intro')}</p>
      {list.isPending && <p aria-busy="true">{t('common.loading')}</p>}
      {list.isError && <ErrorView error={list.error} onRetry={() => list.refetch()} />}
      {list.data && (
        <table className="data" aria-label={t('clusters.title')}>
          <thead>
            <tr>
              <th scope="col">{t('common.name')}</th>
              <th scope="col">{t('clusters.region')}</th>
              <th scope="col">{t('clusters.state')}</th>
              <th scope="col">{t('clusters.nodes')}</th>
              <th scope="col">{t('clusters.gpus')}</th>
              <th scope="col">{t('clusters.cpus')}</th>
              <th scope="col">{t('clusters.memory')}</th>
              <th scope="col">{t('clusters.server')}</th>
              <th scope="col">{t('clusters.actions')}</th>
            </tr>
          </thead>
          <tbody>
            {list.data.items.map((c) => (
              <ClusterRow key={c.name} c={c} admin={admin} />
            ))}
          </tbody>
        </table>
      )}
      {list.data && list.data.items.length === 0 && <p className="empty">{t('clusters.none')}</p>}
      {admin && <RegisterForm />}
    </section>
  );
}
