// One dataset: its versions (files, size, what each stored, what changed, splits, tags)
// for everyone who sees the dataset; making and deleting versions for those who manage it;
// and for data owners a browser of a version's files with thumbnails, by split and tag.
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect, useState, type FormEvent } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, useParams } from 'react-router-dom';
import { api, pagePath, seg, type Page, type Schemas, isNotFound } from '../api/client';
import { can, usePermissions } from '../api/permissions';
import { ActionError } from '../components/ActionError';
import { ErrorView, errorText } from '../components/ErrorView';
import { Field } from '../components/Field';
import { ProjectTabs } from '../components/ProjectTabs';
import { formatNumber, formatTime } from '../i18n/format';
import { DatasetConvert } from './DatasetConvert';
import { DatasetLifecycle } from './DatasetLifecycle';
import { NotFound } from './NotFound';
import { formatBytes } from './Outputs';

type Version = Schemas['DatasetVersion'];
type VersionFile = Schemas['VersionFile'];
type Curation = Schemas['Curation'];
type Proposal = Schemas['Proposal'];

const imageFile = /\.(jpe?g|png|webp|bmp|gif)$/i;

function Counts({ counts }: { counts: Record<string, number> | undefined }) {
  const entries = Object.entries(counts ?? {});
  if (entries.length === 0) return <span className="muted">–</span>;
  return (
    <span className="chips">
      {entries.map(([k, n]) => (
        <span key={k} className="badge">
          {k} {formatNumber(n)}
        </span>
      ))}
    </span>
  );
}

function MakeVersion({ base, onDone }: { base: string; onDone: () => void }) {
  const { t } = useTranslation();
  const [message, setMessage] = useState('');
  const [byShare, setByShare] = useState(false);
  const [shares, setShares] = useState({ train: '80', val: '10', test: '10' });
  const [tags, setTags] = useState('');
  const [byFolder, setByFolder] = useState(false);
  const total = Object.values(shares).reduce((s, v) => s + (Number(v) || 0), 0);
  const badShares = byShare && Math.abs(total - 100) > 0.001;
  const make = useMutation({
    mutationFn: () => {
      const body: Record<string, unknown> = { message, tag_by_folder: byFolder };
      const list = tags
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
      if (list.length) body.tags = list;
      if (byShare) {
        body.splits = Object.fromEntries(
          Object.entries(shares)
            .filter(([, v]) => Number(v) > 0)
            .map(([k, v]) => [k, Number(v) / 100]),
        );
      }
      return api<Version>(`${base}/versions`, { method: 'POST', body });
    },
    onSuccess: () => {
      setMessage('');
      onDone();
    },
  });
  return (
    <form className="card wide" noValidate onSubmit={(e: FormEvent) => e.preventDefault()}>
      <h2>{t('versions.make')}</h2>
      <div className="row">
        <Field id="v-message" label={t('versions.message')}>
          <input id="v-message" value={message} onChange={(e) => setMessage(e.target.value)} />
        </Field>
        <Field id="v-tags" label={t('versions.tags')} help={t('versions.tagsHelp')}>
          <input id="v-tags" value={tags} aria-describedby="v-tags-help" onChange={(e) => setTags(e.target.value)} />
        </Field>
      </div>
      <div className="row">
        <label className="check">
          <input type="checkbox" checked={byFolder} onChange={(e) => setByFolder(e.target.checked)} />
          {t('versions.tagByFolder')}
        </label>
        <label className="check">
          <input type="checkbox" checked={byShare} onChange={(e) => setByShare(e.target.checked)} />
          {t('versions.byShare')}
        </label>
      </div>
      {!byShare && <p className="help">{t('versions.byFolderHelp')}</p>}
      {byShare && (
        <div className="row">
          {(['train', 'val', 'test'] as const).map((k) => (
            <Field key={k} id={`v-share-${k}`} label={t('versions.share', { split: k })}>
              <input
                id={`v-share-${k}`}
                type="number"
                min={0}
                max={100}
                value={shares[k]}
                aria-invalid={badShares}
                onChange={(e) => setShares({ ...shares, [k]: e.target.value })}
              />
            </Field>
          ))}
        </div>
      )}
      {badShares && (
        <p className="error" role="alert">
          {t('versions.sharesSum', { total })}
        </p>
      )}
      <button type="button" className="primary" disabled={badShares || make.isPending} onClick={() => make.mutate()}>
        {make.isPending ? t('versions.making') : t('versions.makeButton')}
      </button>
      <ActionError of={make} />
      {make.isSuccess && (
        <p className="ok" role="status">
          {t('versions.made', { number: make.data.number, files: make.data.files, size: formatBytes(make.data.new_bytes ?? 0) })}
        </p>
      )}
    </form>
  );
}

function Browser({ base, version }: { base: string; version: Version }) {
  const { t } = useTranslation();
  const [split, setSplit] = useState('');
  const [tag, setTag] = useState('');
  const [quality, setQuality] = useState('');
  const [grouped, setGrouped] = useState(false);
  const [pages, setPages] = useState<string[]>(['']);
  const filter = new URLSearchParams();
  if (split) filter.set('split', split);
  if (tag) filter.set('tag', tag);
  if (quality) filter.set('quality', quality);
  if (grouped) filter.set('duplicates', 'true');
  const root = `${base}/versions/${version.number}`;
  const files = useQuery({
    queryKey: ['version-files', root, split, tag, quality, grouped, pages],
    queryFn: async () => {
      const out: VersionFile[] = [];
      let next: string | null | undefined = null;
      for (const token of pages) {
        const page: Page<VersionFile> = await api<Page<VersionFile>>(
          pagePath(`${root}/files${filter.toString() ? `?${filter}` : ''}`, 60, token || null),
        );
        out.push(...page.items);
        next = page.next_page_token;
      }
      return { items: out, next };
    },
  });
  const splits = Object.keys(version.splits ?? {});
  const tags = Object.keys(version.tags ?? {});
  return (
    <section aria-label={t('versions.browse', { number: version.number })}>
      <h2>{t('versions.browse', { number: version.number })}</h2>
      <div className="row">
        <Field id="b-split" label={t('versions.split')}>
          <select id="b-split" value={split} onChange={(e) => { setSplit(e.target.value); setPages(['']); }}>
            <option value="">{t('versions.all')}</option>
            {splits.map((s) => (
              <option key={s} value={s}>{s}</option>
            ))}
          </select>
        </Field>
        <Field id="b-tag" label={t('versions.tag')}>
          <select id="b-tag" value={tag} onChange={(e) => { setTag(e.target.value); setPages(['']); }}>
            <option value="">{t('versions.all')}</option>
            {tags.map((s) => (
              <option key={s} value={s}>{s}</option>
            ))}
          </select>
        </Field>
        <Field id="b-quality" label={t('versions.quality')} help={t('versions.qualityHelp')}>
          <select id="b-quality" value={quality} aria-describedby="b-quality-help" onChange={(e) => { setQuality(e.target.value); setPages(['']); }}>
            <option value="">{t('versions.all')}</option>
            <option value="poor">{t('versions.poor')}</option>
            <option value="fine">{t('versions.fine')}</option>
          </select>
        </Field>
        <label className="check">
          <input type="checkbox" checked={grouped} onChange={(e) => { setGrouped(e.target.checked); setPages(['']); }} />
          {t('versions.onlyDuplicates')}
        </label>
      </div>
      {files.isError && <ErrorView error={files.error} onRetry={() => files.refetch()} />}
      {files.data && files.data.items.length === 0 && <p className="empty">{t('versions.noFiles')}</p>}
      {files.data && (
        <ul className="thumbs">
          {files.data.items.map((f) => (
            <li key={f.path} className="thumb">
              {imageFile.test(f.path) ? (
                <img src={`${root}/files/${f.path.split('/').map(seg).join('/')}`} alt={f.path} loading="lazy" />
              ) : (
                <div className="file-icon" aria-hidden="true">▤</div>
              )}
              <div className="thumb-caption">
                <code title={f.path}>{f.path}</code>
                <span>
                  {formatBytes(f.size)} · {f.split}
                </span>
                {f.tags.length > 0 && <Counts counts={Object.fromEntries(f.tags.map((x) => [x, 1]))} />}
                {f.quality?.problems && <span className="badge problem">{f.quality.problems}</span>}
                {f.duplicate_of && <span className="muted">{t('versions.duplicateOf', { path: f.duplicate_of })}</span>}
                {f.in_group && !f.duplicate_of && <span className="muted">{t('versions.keptOfGroup')}</span>}
              </div>
            </li>
          ))}
        </ul>
      )}
      {files.data?.next && (
        <button type="button" onClick={() => setPages([...pages, files.data!.next!])}>
          {t('versions.more')}
        </button>
      )}
    </section>
  );
}

const fileUrl = (base: string, version: number, path: string) =>
  `${base}/versions/${version}/files/${path.split('/').map(seg).join('/')}`;

function Thumb({ src, path, label }: { src: string; path: string; label?: string }) {
  return (
    <figure className="thumb">
      {imageFile.test(path) ? <img src={src} alt={path} loading="lazy" /> : <div className="file-icon" aria-hidden="true">▤</div>}
      <figcaption className="thumb-caption">
        {label && <strong>{label}</strong>}
        <code title={path}>{path}</code>
      </figcaption>
    </figure>
  );
}

// Curations: start one on a version; follow its state; the review queue (data owners).
function Curations({ base, versions, owner, mayMake }: { base: string; versions: Version[]; owner: boolean; mayMake: boolean }) {
  const { t } = useTranslation();
  const client = useQueryClient();
  const [version, setVersion] = useState<number>(versions[0]?.number ?? 1);
  const [radius, setRadius] = useState('10');
  const [minSide, setMinSide] = useState('64');
  const [sharpness, setSharpness] = useState('20');
  const [dark, setDark] = useState('40');
  const [bright, setBright] = useState('215');
  const [open, setOpen] = useState<string | null>(null);
  // The dataset's own thresholds fill the form.
  const defaults = useQuery({ queryKey: ['curation-defaults', base], queryFn: () => api<Schemas['CurationDefaults']>(`${base}/curation-defaults`) });
  useEffect(() => {
    const o = defaults.data?.options as Record<string, number> | undefined;
    if (!o) return;
    setRadius(String(o.radius));
    setMinSide(String(Math.max(o.min_width, o.min_height)));
    setSharpness(String(o.min_sharpness));
    setDark(String(o.min_brightness));
    setBright(String(o.max_brightness));
  }, [defaults.data]);
  const thresholds = () => ({
    radius: Number(radius),
    min_width: Number(minSide),
    min_height: Number(minSide),
    min_sharpness: Number(sharpness),
    min_brightness: Number(dark),
    max_brightness: Number(bright),
  });
  const keep = useMutation({
    mutationFn: () => api<Schemas['CurationDefaults']>(`${base}/curation-defaults`, { method: 'PUT', body: thresholds() }),
    onSuccess: () => client.invalidateQueries({ queryKey: ['curation-defaults', base] }),
  });
  const list = useQuery({
    queryKey: ['curations', base],
    queryFn: () => api<Page<Curation>>(`${base}/curations`),
    // Follow running ones.
    refetchInterval: (q) =>
      q.state.data?.items.some((c) => c.state === 'queued' || c.state === 'running') ? 1000 : false,
  });
  const start = useMutation({
    mutationFn: () =>
      api<Curation>(`${base}/versions/${version}/curations`, {
        method: 'POST',
        body: thresholds(),
      }),
    onSuccess: (c) => {
      setOpen(c.id);
      client.invalidateQueries({ queryKey: ['curations', base] });
    },
  });
  const shown = list.data?.items.find((c) => c.id === open) ?? list.data?.items.find((c) => c.state === 'review');
  return (
    <section aria-label={t('curation.title')}>
      <h2>{t('curation.title')}</h2>
      <p className="help">{t('curation.help')}</p>
      {owner && mayMake && versions.length > 0 && !defaults.isPending && (
        <form className="row" noValidate onSubmit={(e: FormEvent) => e.preventDefault()}>
          <Field id="c-version" label={t('curation.version')}>
            <select id="c-version" value={version} onChange={(e) => setVersion(Number(e.target.value))}>
              {versions.map((v) => (
                <option key={v.number} value={v.number}>
                  {t('versions.label', { number: v.number })}
                </option>
              ))}
            </select>
          </Field>
          <Field id="c-radius" label={t('curation.radius')} help={t('curation.radiusHelp')}>
            <input id="c-radius" type="number" min={0} max={32} value={radius} aria-describedby="c-radius-help" onChange={(e) => setRadius(e.target.value)} />
          </Field>
          <Field id="c-side" label={t('curation.minSide')}>
            <input id="c-side" type="number" min={0} value={minSide} onChange={(e) => setMinSide(e.target.value)} />
          </Field>
          <Field id="c-sharp" label={t('curation.minSharpness')}>
            <input id="c-sharp" type="number" min={0} value={sharpness} onChange={(e) => setSharpness(e.target.value)} />
          </Field>
          <Field id="c-dark" label={t('curation.minBrightness')}>
            <input id="c-dark" type="number" min={0} max={255} value={dark} onChange={(e) => setDark(e.target.value)} />
          </Field>
          <Field id="c-bright" label={t('curation.maxBrightness')}>
            <input id="c-bright" type="number" min={0} max={255} value={bright} onChange={(e) => setBright(e.target.value)} />
          </Field>
          <div className="field end">
            <button type="button" className="primary" disabled={start.isPending} onClick={() => start.mutate()}>
              {t('curation.start')}
            </button>
          </div>
          <div className="field end">
            <button type="button" disabled={keep.isPending} onClick={() => keep.mutate()}>
              {t('curation.keepThresholds')}
            </button>
          </div>
        </form>
      )}
      <ActionError of={keep} />
      {defaults.data?.updated_by && (
        <p className="muted" role="status">
          {t('curation.thresholdsBy', { by: defaults.data.updated_by, when: formatTime(defaults.data.updated_at ?? '') })}
        </p>
      )}
      <ActionError of={start} />
      {list.isError && <ErrorView error={list.error} onRetry={() => list.refetch()} />}
      {list.data && list.data.items.length > 0 && (
        <table aria-label={t('curation.list')}>
          <thead>
            <tr>
              <th scope="col">{t('curation.version')}</th>
              <th scope="col">{t('curation.state')}</th>
              <th scope="col">{t('curation.found')}</th>
              <th scope="col">{t('curation.decided')}</th>
              <th scope="col">{t('versions.by')}</th>
              <th scope="col">{t('common.created')}</th>
              {owner && <th scope="col">{t('common.actions')}</th>}
            </tr>
          </thead>
          <tbody>
            {list.data.items.map((c) => {
              const s = (c.summary ?? {}) as Record<string, number | string>;
              return (
                <tr key={c.id}>
                  <td>{t('versions.label', { number: c.version })}</td>
                  <td>
                    <span className={`badge curation-${c.state}`}>{t(`curation.states.${c.state}`, { defaultValue: c.state })}</span>
                    {c.message && <div className="muted">{c.message}</div>}
                    {c.applied_version && <div>{t('curation.appliedAs', { number: c.applied_version })}</div>}
                  </td>
                  <td>{c.state === 'queued' || c.state === 'running' ? '…' : t('curation.counts', { images: s.images ?? 0, groups: s.groups ?? 0, flagged: s.flagged ?? 0 })}</td>
                  <td>{t('curation.decisions', { pending: s.pending ?? 0, confirmed: s.confirmed ?? 0, rejected: s.rejected ?? 0 })}</td>
                  <td>{c.created_by}</td>
                  <td>{formatTime(c.created_at)}</td>
                  {owner && (
                    <td>
                      {(c.state === 'review' || c.state === 'applied') && (
                        <button type="button" onClick={() => setOpen(c.id)} aria-pressed={shown?.id === c.id}>
                          {t('curation.review')}
                        </button>
                      )}
                    </td>
                  )}
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      {owner && shown && (shown.state === 'review' || shown.state === 'applied') && (
        <Review key={shown.id} base={base} curation={shown} mayDecide={mayMake && shown.state === 'review'} />
      )}
    </section>
  );
}

function Review({ base, curation, mayDecide }: { base: string; curation: Curation; mayDecide: boolean }) {
  const { t } = useTranslation();
  const client = useQueryClient();
  const root = `${base}/curations/${curation.id}`;
  const proposals = useQuery({ queryKey: ['proposals', root], queryFn: () => api<Page<Proposal>>(`${root}/proposals`) });
  const refresh = () => {
    client.invalidateQueries({ queryKey: ['proposals', root] });
    client.invalidateQueries({ queryKey: ['curations', base] });
  };
  const decide = useMutation({
    mutationFn: (decisions: Record<string, string>) => api(`${root}/decisions`, { method: 'POST', body: { decisions } }),
    onSuccess: refresh,
  });
  const apply = useMutation({
    mutationFn: () => api<Version>(`${root}/apply`, { method: 'POST' }),
    onSuccess: () => {
      refresh();
      client.invalidateQueries({ queryKey: ['versions'] });
    },
  });
  const items = proposals.data?.items ?? [];
  const pending = items.filter((p) => p.decision === 'pending');
  const confirmed = items.filter((p) => p.decision === 'confirmed').length;
  return (
    <section aria-label={t('curation.queue', { number: curation.version })}>
      <h3>{t('curation.queue', { number: curation.version })}</h3>
      {proposals.isError && <ErrorView error={proposals.error} />}
      {items.length === 0 && proposals.isSuccess && <p className="empty">{t('curation.nothing')}</p>}
      {mayDecide && pending.length > 1 && (
        <p>
          <button type="button" onClick={() => decide.mutate(Object.fromEntries(pending.filter((p) => p.kind === 'duplicate').map((p) => [p.path, 'confirmed'])))}>
            {t('curation.confirmDuplicates')}
          </button>
        </p>
      )}
      <ul className="proposals">
        {items.map((p) => (
          <li key={p.path} className={`proposal decision-${p.decision}`} aria-label={p.path}>
            <div className="pair">
              {p.keep && <Thumb src={fileUrl(base, curation.version, p.keep)} path={p.keep} label={t('curation.kept')} />}
              <Thumb src={fileUrl(base, curation.version, p.path)} path={p.path} label={t('curation.proposed')} />
            </div>
            <p>
              <span className="badge">{t(`curation.kinds.${p.kind}`, { defaultValue: p.kind })}</span> {p.reason}
            </p>
            <p>
              <span className={`badge decision-${p.decision}`}>{t(`curation.decisionNames.${p.decision}`, { defaultValue: p.decision })}</span>
              {p.decided_by && <span className="muted"> {t('curation.decidedBy', { name: p.decided_by })}</span>}
            </p>
            {mayDecide && (
              <p>
                <button type="button" className="danger" disabled={p.decision === 'confirmed'} onClick={() => decide.mutate({ [p.path]: 'confirmed' })}>
                  {t('curation.confirm')}
                </button>{' '}
                <button type="button" disabled={p.decision === 'rejected'} onClick={() => decide.mutate({ [p.path]: 'rejected' })}>
                  {t('curation.reject')}
                </button>
              </p>
            )}
          </li>
        ))}
      </ul>
      {(decide.error ?? apply.error) && (
        <p className="error" role="alert">
          {errorText(decide.error ?? apply.error, t)}
        </p>
      )}
      {mayDecide && (
        <button type="button" className="primary" disabled={confirmed === 0 || apply.isPending} onClick={() => apply.mutate()}>
          {t('curation.apply', { count: confirmed })}
        </button>
      )}
      {apply.isSuccess && (
        <p className="ok" role="status">
          {t('curation.applied', { number: apply.data.number, files: apply.data.files })}
        </p>
      )}
    </section>
  );
}

export function DatasetDetail() {
  const { t } = useTranslation();
  const { project = '', dataset = '' } = useParams();
  const client = useQueryClient();
  const perms = usePermissions(project);
  const base = `/api/v1/projects/${seg(project)}/datasets/${seg(dataset)}`;
  const [browsing, setBrowsing] = useState<number | null>(null);
  const info = useQuery({ queryKey: ['dataset', project, dataset], queryFn: () => api<Schemas['Dataset']>(base) });
  const versions = useQuery({
    queryKey: ['versions', project, dataset],
    queryFn: () => api<Page<Version>>(`${base}/versions`),
    enabled: info.isSuccess,
  });
  const remove = useMutation({
    mutationFn: (n: number) => api(`${base}/versions/${n}`, { method: 'DELETE' }),
    onSuccess: () => {
      setBrowsing(null);
      client.invalidateQueries({ queryKey: ['versions', project, dataset] });
    },
  });
  // Archive (files to the archive store; no job can mount it) or restore a version.
  const store = useMutation({
    mutationFn: ({ n, to }: { n: number; to: 'archive' | 'restore' }) =>
      api<Version>(`${base}/versions/${n}/${to}`, { method: 'POST' }),
    onSuccess: () => {
      setBrowsing(null);
      client.invalidateQueries({ queryKey: ['versions', project, dataset] });
    },
  });
  if (isNotFound(info.error)) return <NotFound resource />;
  const owner = can(perms.data, 'dataset_data', 'get');
  const mayMake = can(perms.data, 'dataset', 'update');
  const mayDelete = can(perms.data, 'dataset', 'delete');
  const shown = versions.data?.items.find((v) => v.number === browsing);
  return (
    <section>
      <ProjectTabs project={project} />
      <p>
        <Link to={`/projects/${seg(project)}/datasets`}>{t('versions.back')}</Link>
      </p>
      <h2>
        {t('versions.title', { name: dataset })}{' '}
        {info.data && (
          <span className={`badge level-${info.data.security_level}`}>
            {t(`datasets.levels.${info.data.security_level}`, { defaultValue: info.data.security_level })}
          </span>
        )}
      </h2>
      {info.isError && <ErrorView error={info.error} onRetry={() => info.refetch()} />}
      {!owner && perms.data && <p className="lead">{t('versions.countsOnly')}</p>}
      {mayMake && <MakeVersion base={base} onDone={() => client.invalidateQueries({ queryKey: ['versions', project, dataset] })} />}
      {versions.isError && <ErrorView error={versions.error} onRetry={() => versions.refetch()} />}
      {remove.isError && <ErrorView error={remove.error} />}
      {store.isError && <ErrorView error={store.error} />}
      {versions.data && versions.data.items.length === 0 && <p className="empty">{t('versions.empty')}</p>}
      {versions.data && versions.data.items.length > 0 && (
        <table aria-label={t('versions.list')}>
          <thead>
            <tr>
              <th scope="col">{t('versions.number')}</th>
              <th scope="col">{t('versions.message')}</th>
              <th scope="col">{t('versions.files')}</th>
              <th scope="col">{t('versions.size')}</th>
              <th scope="col">{t('versions.stored')}</th>
              <th scope="col">{t('versions.changes')}</th>
              <th scope="col">{t('versions.splits')}</th>
              <th scope="col">{t('versions.tags')}</th>
              <th scope="col">{t('versions.by')}</th>
              <th scope="col">{t('common.created')}</th>
              {(owner || mayMake || mayDelete) && <th scope="col">{t('common.actions')}</th>}
            </tr>
          </thead>
          <tbody>
            {versions.data.items.map((v, i) => (
              <tr key={v.number}>
                <td>
                  {t('versions.label', { number: v.number })}
                  {v.archived_at && (
                    <>
                      {' '}
                      <span className="badge version-archived" title={formatTime(v.archived_at)}>
                        {t('versions.archived')}
                      </span>
                    </>
                  )}
                </td>
                <td>{v.message}</td>
                <td>{formatNumber(v.files)}</td>
                <td>{formatBytes(v.bytes)}</td>
                <td>{formatBytes(v.new_bytes ?? 0)}</td>
                <td>{t('versions.delta', { added: v.added ?? 0, removed: v.removed ?? 0, changed: v.changed ?? 0 })}</td>
                <td><Counts counts={v.splits as Record<string, number>} /></td>
                <td><Counts counts={v.tags as Record<string, number>} /></td>
                <td>{v.created_by}</td>
                <td>{formatTime(v.created_at)}</td>
                {(owner || mayMake || mayDelete) && (
                  <td>
                    {owner && !v.archived_at && (
                      <button type="button" onClick={() => setBrowsing(v.number)} aria-pressed={browsing === v.number}>
                        {t('versions.browseButton')}
                      </button>
                    )}
                    {mayMake && i > 0 && !v.archived_at && (
                      <button
                        type="button"
                        onClick={() => window.confirm(t('versions.archiveConfirm', { number: v.number })) && store.mutate({ n: v.number, to: 'archive' })}
                      >
                        {t('versions.archive')}
                      </button>
                    )}
                    {mayMake && v.archived_at && (
                      <button type="button" onClick={() => store.mutate({ n: v.number, to: 'restore' })}>
                        {t('versions.restore')}
                      </button>
                    )}
                    {mayDelete && (
                      <button
                        type="button"
                        className="danger"
                        onClick={() => window.confirm(t('versions.deleteConfirm', { number: v.number })) && remove.mutate(v.number)}
                      >
                        {t('versions.delete')}
                      </button>
                    )}
                  </td>
                )}
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {owner && shown && !shown.archived_at && <Browser key={shown.number} base={base} version={shown} />}
      {versions.data && versions.data.items.length > 0 && (
        <DatasetConvert base={base} versions={versions.data.items} mayStart={owner && mayMake} />
      )}
      {info.isSuccess && <DatasetLifecycle base={base} mayEdit={mayMake} />}
      {versions.data && versions.data.items.length > 0 && (
        <Curations base={base} versions={versions.data.items} owner={owner} mayMake={mayMake} />
      )}
    </section>
  );
}
