// One dataset: its versions (files, size, what each stored, what changed, splits, tags)
// for everyone who sees the dataset; making and deleting versions for those who manage it;
// and for data owners a browser of a version's files with thumbnails, by split and tag.
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, useParams } from 'react-router-dom';
import { api, pagePath, seg, type Page, type Schemas, isNotFound } from '../api/client';
import { can, usePermissions } from '../api/permissions';
import { ErrorView, errorText } from '../components/ErrorView';
import { Field } from '../components/Field';
import { ProjectTabs } from '../components/ProjectTabs';
import { formatNumber, formatTime } from '../i18n/format';
import { NotFound } from './NotFound';
import { formatBytes } from './Outputs';

type Version = Schemas['DatasetVersion'];
type VersionFile = Schemas['VersionFile'];

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
      {make.isError && (
        <p className="error" role="alert">
          {errorText(make.error, t)}
        </p>
      )}
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
  const [pages, setPages] = useState<string[]>(['']);
  const filter = new URLSearchParams();
  if (split) filter.set('split', split);
  if (tag) filter.set('tag', tag);
  const root = `${base}/versions/${version.number}`;
  const files = useQuery({
    queryKey: ['version-files', root, split, tag, pages],
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
              {(owner || mayDelete) && <th scope="col">{t('common.actions')}</th>}
            </tr>
          </thead>
          <tbody>
            {versions.data.items.map((v) => (
              <tr key={v.number}>
                <td>v{v.number}</td>
                <td>{v.message}</td>
                <td>{formatNumber(v.files)}</td>
                <td>{formatBytes(v.bytes)}</td>
                <td>{formatBytes(v.new_bytes ?? 0)}</td>
                <td>{t('versions.delta', { added: v.added ?? 0, removed: v.removed ?? 0, changed: v.changed ?? 0 })}</td>
                <td><Counts counts={v.splits as Record<string, number>} /></td>
                <td><Counts counts={v.tags as Record<string, number>} /></td>
                <td>{v.created_by}</td>
                <td>{formatTime(v.created_at)}</td>
                {(owner || mayDelete) && (
                  <td>
                    {owner && (
                      <button type="button" onClick={() => setBrowsing(v.number)} aria-pressed={browsing === v.number}>
                        {t('versions.browseButton')}
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
      {owner && shown && <Browser key={shown.number} base={base} version={shown} />}
    </section>
  );
}
