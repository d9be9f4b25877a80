// The algorithm store (docs/STORE.md): the store front everyone browses (what each
// listing's visibility lets them see), a listing's page (versions with their reports,
// tiers, selling for those who may), and a project's store page: its publisher key, its
// listings and versions, orders and their codes (revoke, machines), offline activations.
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, useParams, useSearchParams } from 'react-router-dom';
import { api, isNotFound, seg, type Schemas } from '../api/client';
import { can, usePermissions } from '../api/permissions';
import { ActionError } from '../components/ActionError';
import { ErrorView } from '../components/ErrorView';
import { Field } from '../components/Field';
import { ProjectTabs } from '../components/ProjectTabs';
import { formatNumber, formatTime } from '../i18n/format';

type Listing = Schemas['Listing'];
type Order = Schemas['Order'];
type Tier = Listing['tiers'][number];
type Version = Listing['versions'][number];
type Code = Order['codes'][number];
type Report = { evaluation?: string; suite?: string; suite_version?: number; metrics?: Record<string, unknown> };

// "basic, 2, 25, 365, 1200 CNY/year" a line: name, channels, frames a second, days, price.
export function parseTiers(text: string): Tier[] | string {
  const out: Tier[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line) continue;
    const [name, channels = '0', qps = '0', days = '365', ...price] = line.split(',').map((s) => s.trim());
    const c = Number(channels), q = Number(qps), d = Number(days);
    if (!name || !Number.isInteger(c) || c < 0 || !(q >= 0) || !Number.isInteger(d) || d < 1) return line;
    out.push({ name, channels: c, qps: q, term_days: d, price: price.join(', ') });
  }
  return out;
}
export const tiersText = (tiers: Tier[]): string =>
  tiers.map((t) => [t.name, t.channels ?? 0, t.qps ?? 0, t.term_days ?? 365, t.price ?? ''].join(', ')).join('\n');
const words = (s: string): string[] => s.split(',').map((w) => w.trim()).filter(Boolean);
const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);

// The top-level numbers of a report's metrics (nested ones are the full report's).
function headlineMetrics(m: Record<string, unknown> | undefined): [string, number][] {
  return Object.entries(m ?? {}).filter((e): e is [string, number] => typeof e[1] === 'number');
}

function TierTable({ tiers }: { tiers: Tier[] }) {
  const { t } = useTranslation();
  return (
    <table className="data" aria-label={t('store.tiers')}>
      <thead>
        <tr>
          <th scope="col">{t('store.tier')}</th>
          <th scope="col">{t('store.channels')}</th>
          <th scope="col">{t('store.qps')}</th>
          <th scope="col">{t('store.term')}</th>
          <th scope="col">{t('store.price')}</th>
        </tr>
      </thead>
      <tbody>
        {tiers.map((tier) => (
          <tr key={tier.name}>
            <th scope="row">{tier.name}</th>
            <td>{tier.channels ? formatNumber(tier.channels) : t('store.unlimited')}</td>
            <td>{tier.qps ? formatNumber(tier.qps) : t('store.unlimited')}</td>
            <td>{t('store.days', { count: tier.term_days ?? 365 })}</td>
            <td>{tier.price || '—'}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function VersionCard({ v }: { v: Version }) {
  const { t } = useTranslation();
  const reports = (v.reports ?? []) as Report[];
  return (
    <article className="card wide" aria-label={t('store.versionLabel', { version: v.version })}>
      <h3>
        {v.version} <small className="muted">{formatTime(v.created_at)}</small>
      </h3>
      {v.notes && <p className="prewrap">{v.notes}</p>}
      <p className="muted">
        {t('store.sha256')} <code>{v.sha256.slice(0, 16)}…</code>
      </p>
      {reports.length === 0 ? (
        <p className="empty">{t('store.noReports')}</p>
      ) : (
        <table className="data" aria-label={t('store.reports')}>
          <thead>
            <tr>
              <th scope="col">{t('store.suite')}</th>
              <th scope="col">{t('store.metric')}</th>
              <th scope="col">{t('store.value')}</th>
            </tr>
          </thead>
          <tbody>
            {reports.flatMap((r) =>
              headlineMetrics(r.metrics).map(([k, value]) => (
                <tr key={`${r.evaluation}-${k}`}>
                  <th scope="row">{t('store.suiteVersion', { suite: r.suite ?? '', version: r.suite_version ?? 0 })}</th>
                  <td>{k}</td>
                  <td>{formatNumber(value, { maximumFractionDigits: 4 })}</td>
                </tr>
              )),
            )}
          </tbody>
        </table>
      )}
    </article>
  );
}

export function StoreFront() {
  const { t } = useTranslation();
  const [params, setParams] = useSearchParams();
  const q = params.get('q') ?? '';
  const tag = params.get('tag') ?? '';
  const [text, setText] = useState(q);
  const list = useQuery({
    queryKey: ['store', q, tag],
    queryFn: () =>
      api<{ items: Listing[] }>(`/api/v1/store/listings?q=${encodeURIComponent(q)}&tag=${encodeURIComponent(tag)}`),
  });
  const search = (e: FormEvent) => {
    e.preventDefault();
    const next = new URLSearchParams(params);
    if (text) next.set('q', text);
    else next.delete('q');
    setParams(next);
  };
  return (
    <section>
      <h1>{t('store.title')}</h1>
      <p className="lead">{t('store.intro')}</p>
      <form className="row" role="search" onSubmit={search}>
        <Field id="store-q" label={t('store.search')}>
          <input id="store-q" type="search" value={text} onChange={(e) => setText(e.target.value)} />
        </Field>
        <button type="submit">{t('store.find')}</button>
        {tag && (
          <button type="button" onClick={() => setParams(q ? { q } : {})}>
            {t('store.clearTag', { tag })}
          </button>
        )}
      </form>
      {list.isPending && <p aria-busy="true">{t('common.loading')}</p>}
      {list.isError && <ErrorView error={list.error} onRetry={() => list.refetch()} />}
      {list.data && list.data.items.length === 0 && <p className="empty">{t('store.none')}</p>}
      {list.data && list.data.items.length > 0 && (
        <table className="data" aria-label={t('store.listings')}>
          <thead>
            <tr>
              <th scope="col">{t('store.algorithm')}</th>
              <th scope="col">{t('store.seller')}</th>
              <th scope="col">{t('store.latest')}</th>
              <th scope="col">{t('store.tags')}</th>
              <th scope="col">{t('store.tiers')}</th>
            </tr>
          </thead>
          <tbody>
            {list.data.items.map((l) => (
              <tr key={l.id}>
                <th scope="row">
                  <Link to={`/store/${seg(l.project)}/${seg(l.name)}`}>{l.title}</Link>
                  <small className="muted"> {l.name}</small>
                </th>
                <td>{l.project}</td>
                <td>{l.versions[0]?.version ?? '—'}</td>
                <td>
                  {strings(l.details?.tags).map((tg) => (
                    <button key={tg} type="button" className="chip" onClick={() => setParams({ ...(q ? { q } : {}), tag: tg })}>
                      {tg}
                    </button>
                  ))}
                </td>
                <td>{l.tiers.map((x) => x.name).join(', ')}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

// Selling a tier from the listing's page: the codes are shown once made (and on the
// project's store page after).
function SellForm({ listing }: { listing: Listing }) {
  const { t } = useTranslation();
  const client = useQueryClient();
  const [tier, setTier] = useState(listing.tiers[0]?.name ?? '');
  const [customer, setCustomer] = useState('');
  const [seats, setSeats] = useState('1');
  const [oneCode, setOneCode] = useState(false);
  const n = Number(seats);
  const valid = !!tier && !!customer.trim() && Number.isInteger(n) && n >= 1 && n <= 10000;
  const sell = useMutation({
    mutationFn: () =>
      api<Order>(`/api/v1/projects/${seg(listing.project)}/orders`, {
        method: 'POST',
        body: { listing: listing.name, tier, customer: customer.trim(), seats: n, codes_per: oneCode ? 'order' : 'seat' },
      }),
    onSuccess: () => void client.invalidateQueries({ queryKey: ['orders', listing.project] }),
  });
  return (
    <form
      className="card wide"
      aria-label={t('store.sell')}
      noValidate
      onSubmit={(e) => {
        e.preventDefault();
        if (valid) sell.mutate();
      }}
    >
      <h2>{t('store.sell')}</h2>
      <div className="row">
        <Field id="sell-tier" label={t('store.tier')}>
          <select id="sell-tier" value={tier} onChange={(e) => setTier(e.target.value)}>
            {listing.tiers.map((x) => (
              <option key={x.name} value={x.name}>
                {x.name}
              </option>
            ))}
          </select>
        </Field>
        <Field id="sell-customer" label={t('store.customer')}>
          <input id="sell-customer" value={customer} maxLength={200} onChange={(e) => setCustomer(e.target.value)} />
        </Field>
        <Field id="sell-seats" label={t('store.seats')} help={t('store.seatsHelp')}>
          <input id="sell-seats" type="number" min={1} max={10000} value={seats} onChange={(e) => setSeats(e.target.value)} />
        </Field>
      </div>
      <label className="check">
        <input type="checkbox" checked={oneCode} onChange={(e) => setOneCode(e.target.checked)} /> {t('store.oneCode')}
      </label>
      <ActionError of={sell} />
      <button type="submit" className="primary" disabled={!valid || sell.isPending}>
        {t('store.makeCodes')}
      </button>
      {sell.data && (
        <div role="status">
          <p>{t('store.sold', { id: sell.data.id, until: formatTime(sell.data.valid_until) })}</p>
          <ul className="codes">
            {sell.data.codes.map((c) => (
              <li key={c.id}>
                <code>{c.code}</code> {t('store.codeSeats', { count: c.seats })}
              </li>
            ))}
          </ul>
        </div>
      )}
    </form>
  );
}

export function ListingView() {
  const { t } = useTranslation();
  const { project = '', algorithm = '' } = useParams();
  const listing = useQuery({
    queryKey: ['store', 'listing', project, algorithm],
    queryFn: () => api<Listing>(`/api/v1/store/listings/${seg(project)}/${seg(algorithm)}`),
  });
  if (listing.isPending) return <p aria-busy="true">{t('common.loading')}</p>;
  if (listing.isError)
    return (
      <section>
        <h1>{t('store.title')}</h1>
        {isNotFound(listing.error) ? <p className="empty">{t('store.notFound')}</p> : <ErrorView error={listing.error} onRetry={() => listing.refetch()} />}
      </section>
    );
  const l = listing.data;
  const hardware = (l.details?.hardware ?? {}) as Record<string, unknown>;
  return (
    <section>
      <p>
        <Link to="/store">{t('store.back')}</Link>
      </p>
      <h1>{l.title}</h1>
      <p className="muted">{t('store.byProject', { name: l.name, project: l.project })}</p>
      {l.description && <p className="prewrap">{l.description}</p>}
      <dl className="facts">
        <dt>{t('store.inputs')}</dt>
        <dd>{strings(l.details?.inputs).join(', ') || '—'}</dd>
        <dt>{t('store.hardware')}</dt>
        <dd>{Object.entries(hardware).map(([k, v]) => `${k}: ${String(v)}`).join(', ') || '—'}</dd>
        <dt>{t('store.tags')}</dt>
        <dd>{strings(l.details?.tags).join(', ') || '—'}</dd>
      </dl>
      <h2>{t('store.tiers')}</h2>
      <TierTable tiers={l.tiers} />
      <h2>{t('store.versions')}</h2>
      {l.versions.map((v) => (
        <VersionCard key={v.version} v={v} />
      ))}
      {l.yours?.sell && <SellForm listing={l} />}
      {l.yours?.manage && (
        <p>
          <Link to={`/projects/${seg(l.project)}/store`}>{t('store.manage')}</Link>
        </p>
      )}
    </section>
  );
}

// ---- the project's store page

function PublisherCard({ project, admin }: { project: string; admin: boolean }) {
  const { t } = useTranslation();
  const client = useQueryClient();
  const key = useQuery({
    queryKey: ['publisher', project],
    queryFn: () => api<{ name: string; key_id: string }>(`/api/v1/projects/${seg(project)}/store/publisher`),
    retry: false,
  });
  const [pasted, setPasted] = useState('');
  const set = useMutation({
    mutationFn: (body: object) =>
      api<{ name: string; key_id: string; signing_key?: object }>(`/api/v1/projects/${seg(project)}/store/publisher`, { method: 'PUT', body }),
    onSuccess: () => void client.invalidateQueries({ queryKey: ['publisher', project] }),
  });
  let parsed: object | null = null;
  try {
    parsed = pasted ? (JSON.parse(pasted) as object) : null;
  } catch {
    parsed = null;
  }
  return (
    <section className="card wide" aria-label={t('store.publisher')}>
      <h2>{t('store.publisher')}</h2>
      <p className="muted">{t('store.publisherIntro')}</p>
      {key.data && (
        <p>
          {t('store.publisherKey', { name: key.data.name, id: key.data.key_id })}
        </p>
      )}
      {key.isError && <p className="empty">{t('store.noPublisher')}</p>}
      {admin && (
        <>
          <button type="button" onClick={() => set.mutate({})} disabled={set.isPending}>
            {t('store.makeKey')}
          </button>
          <Field id="publisher-key" label={t('store.pasteKey')} error={pasted && !parsed ? t('store.badJson') : undefined}>
            <textarea id="publisher-key" rows={3} spellCheck={false} value={pasted} onChange={(e) => setPasted(e.target.value)} />
          </Field>
          <button type="button" disabled={!parsed || set.isPending} onClick={() => parsed && set.mutate({ signing_key: parsed })}>
            {t('store.useKey')}
          </button>
        </>
      )}
      <ActionError of={set} />
      {set.data?.signing_key && (
        <div role="status">
          <p className="warning">{t('store.keyOnce')}</p>
          <pre className="secret">{JSON.stringify(set.data.signing_key, null, 2)}</pre>
        </div>
      )}
    </section>
  );
}

function ListingForm({ project, editing }: { project: string; editing?: Listing }) {
  const { t } = useTranslation();
  const client = useQueryClient();
  const key = editing?.name ?? ''; // one form per listing: ids unique on the page
  const [name, setName] = useState(editing?.name ?? '');
  const [title, setTitle] = useState(editing?.title ?? '');
  const [description, setDescription] = useState(editing?.description ?? '');
  const [inputs, setInputs] = useState(strings(editing?.details?.inputs).join(', '));
  const [tags, setTags] = useState(strings(editing?.details?.tags).join(', '));
  const [tiers, setTiers] = useState(editing ? tiersText(editing.tiers) : '');
  const [visibility, setVisibility] = useState<string>(editing?.visibility ?? 'workspace');
  const [customers, setCustomers] = useState((editing?.customers ?? []).join(', '));
  const parsed = parseTiers(tiers);
  const badTier = typeof parsed === 'string' ? parsed : '';
  const nameValid = /^[a-z0-9_-]{1,64}$/.test(name);
  const valid = nameValid && !!title.trim() && typeof parsed !== 'string' && parsed.length > 0;
  const save = useMutation({
    mutationFn: () =>
      api<Listing>(`/api/v1/projects/${seg(project)}/listings/${seg(name)}`, {
        method: 'PUT',
        body: {
          title: title.trim(),
          description,
          details: { ...(editing?.details ?? {}), inputs: words(inputs), tags: words(tags) },
          tiers: parsed,
          visibility,
          customers: words(customers),
        },
      }),
    onSuccess: () => void client.invalidateQueries({ queryKey: ['listings', project] }),
  });
  return (
    <form
      className="card wide"
      aria-label={editing ? t('store.editListing', { name: editing.name }) : t('store.newListing')}
      noValidate
      onSubmit={(e) => {
        e.preventDefault();
        if (valid) save.mutate();
      }}
    >
      <h3>{editing ? t('store.editListing', { name: editing.name }) : t('store.newListing')}</h3>
      <div className="row">
        <Field id={`l-name-${key}`} label={t('store.algorithm')} help={t('store.algorithmHelp')}>
          <input id={`l-name-${key}`} value={name} disabled={!!editing} onChange={(e) => setName(e.target.value)} />
        </Field>
        <Field id={`l-title-${key}`} label={t('store.listingTitle')}>
          <input id={`l-title-${key}`} value={title} maxLength={200} onChange={(e) => setTitle(e.target.value)} />
        </Field>
        <Field id={`l-vis-${key}`} label={t('store.visibility')}>
          <select id={`l-vis-${key}`} value={visibility} onChange={(e) => setVisibility(e.target.value)}>
            {['public', 'workspace', 'customers'].map((v) => (
              <option key={v} value={v}>
                {t(`store.visibility_${v}`)}
              </option>
            ))}
          </select>
        </Field>
      </div>
      <Field id={`l-desc-${key}`} label={t('store.description')}>
        <textarea id={`l-desc-${key}`} rows={3} value={description} onChange={(e) => setDescription(e.target.value)} />
      </Field>
      <div className="row">
        <Field id={`l-inputs-${key}`} label={t('store.inputs')} help={t('store.commaHelp')}>
          <input id={`l-inputs-${key}`} value={inputs} onChange={(e) => setInputs(e.target.value)} />
        </Field>
        <Field id={`l-tags-${key}`} label={t('store.tags')} help={t('store.commaHelp')}>
          <input id={`l-tags-${key}`} value={tags} onChange={(e) => setTags(e.target.value)} />
        </Field>
        <Field id={`l-customers-${key}`} label={t('store.customers')} help={t('store.customersHelp')}>
          <input id={`l-customers-${key}`} value={customers} onChange={(e) => setCustomers(e.target.value)} />
        </Field>
      </div>
      <Field
        id={`l-tiers-${key}`}
        label={t('store.tiers')}
        help={t('store.tiersHelp')}
        error={badTier ? t('store.badTier', { line: badTier }) : undefined}
      >
        <textarea id={`l-tiers-${key}`} rows={3} spellCheck={false} value={tiers} aria-invalid={!!badTier} onChange={(e) => setTiers(e.target.value)} />
      </Field>
      <ActionError of={save} />
      <button type="submit" className="primary" disabled={!valid || save.isPending}>
        {t('store.saveListing')}
      </button>
    </form>
  );
}

function AddVersion({ project, listing }: { project: string; listing: Listing }) {
  const { t } = useTranslation();
  const client = useQueryClient();
  const algos = useQuery({
    queryKey: ['algorithms', project],
    queryFn: () => api<{ items: { name: string; version: string; state: string }[] }>(`/api/v1/projects/${seg(project)}/algorithms`),
  });
  const ready = (algos.data?.items ?? []).filter((a) => a.name === listing.name && a.state === 'ready' && !listing.versions.some((v) => v.version === a.version));
  const [version, setVersion] = useState('');
  const chosen = version || ready[0]?.version || '';
  const evals = useQuery({
    queryKey: ['evaluations', project, listing.name, 'passed'],
    queryFn: () =>
      api<{ items: { id: string; suite: string; algorithm_version: string; state: string }[] }>(
        `/api/v1/projects/${seg(project)}/evaluations?algorithm=${encodeURIComponent(listing.name)}&state=passed`,
      ),
  });
  const passed = (evals.data?.items ?? []).filter((e) => e.algorithm_version === chosen && e.state === 'passed');
  const [picked, setPicked] = useState<string[]>([]);
  const [notes, setNotes] = useState('');
  const add = useMutation({
    mutationFn: () =>
      api<Listing>(`/api/v1/projects/${seg(project)}/listings/${seg(listing.name)}/versions`, {
        method: 'POST',
        body: { version: chosen, evaluations: picked.filter((id) => passed.some((e) => e.id === id)), notes },
      }),
    onSuccess: () => {
      setPicked([]);
      setNotes('');
      void client.invalidateQueries({ queryKey: ['listings', project] });
    },
  });
  if (ready.length === 0) return <p className="muted">{t('store.noReadyPackage', { name: listing.name })}</p>;
  return (
    <form
      className="row"
      aria-label={t('store.addVersion', { name: listing.name })}
      onSubmit={(e) => {
        e.preventDefault();
        if (chosen) add.mutate();
      }}
    >
      <Field id={`v-${listing.name}`} label={t('store.version')}>
        <select id={`v-${listing.name}`} value={chosen} onChange={(e) => setVersion(e.target.value)}>
          {ready.map((a) => (
            <option key={a.version} value={a.version}>
              {a.version}
            </option>
          ))}
        </select>
      </Field>
      <fieldset>
        <legend>{t('store.passedEvaluations')}</legend>
        {passed.length === 0 && <small className="muted">{t('store.noPassed')}</small>}
        {passed.map((e) => (
          <label key={e.id} className="check">
            <input
              type="checkbox"
              checked={picked.includes(e.id)}
              onChange={(ev) => setPicked(ev.target.checked ? [...picked, e.id] : picked.filter((x) => x !== e.id))}
            />{' '}
            {t('store.evaluationOf', { suite: e.suite, id: e.id })}
          </label>
        ))}
      </fieldset>
      <Field id={`notes-${listing.name}`} label={t('store.notes')}>
        <input id={`notes-${listing.name}`} value={notes} onChange={(e) => setNotes(e.target.value)} />
      </Field>
      <button type="submit" disabled={!chosen || add.isPending}>
        {t('store.list')}
      </button>
      <ActionError of={add} />
    </form>
  );
}

function Machines({ project, code }: { project: string; code: Code }) {
  const { t } = useTranslation();
  const acts = useQuery({
    queryKey: ['activations', project, code.id],
    queryFn: () =>
      api<{ fingerprint: string; licence_id: string; version: string; activated_at: string; renewed_at: string; valid_until: string; usage: { frames: number; reports: number } }[]>(
        `/api/v1/projects/${seg(project)}/codes/${seg(code.id)}/activations`,
      ),
  });
  if (acts.isPending) return <p aria-busy="true">{t('common.loading')}</p>;
  if (acts.isError) return <ErrorView error={acts.error} onRetry={() => acts.refetch()} />;
  if (acts.data.length === 0) return <p className="empty">{t('store.noMachines')}</p>;
  return (
    <table className="data" aria-label={t('store.machinesOf', { id: code.id })}>
      <thead>
        <tr>
          <th scope="col">{t('store.fingerprint')}</th>
          <th scope="col">{t('store.licence')}</th>
          <th scope="col">{t('store.version')}</th>
          <th scope="col">{t('store.activated')}</th>
          <th scope="col">{t('store.validUntil')}</th>
          <th scope="col">{t('store.frames')}</th>
        </tr>
      </thead>
      <tbody>
        {acts.data.map((a) => (
          <tr key={a.fingerprint}>
            <th scope="row">
              <code>{a.fingerprint}</code>
            </th>
            <td>{a.licence_id}</td>
            <td>{a.version}</td>
            <td>{formatTime(a.activated_at)}</td>
            <td>{formatTime(a.valid_until)}</td>
            <td>{formatNumber(a.usage.frames)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function CodeRow({ project, code }: { project: string; code: Code }) {
  const { t } = useTranslation();
  const client = useQueryClient();
  const [open, setOpen] = useState(false);
  const revoke = useMutation({
    mutationFn: (reason: string) =>
      api(`/api/v1/projects/${seg(project)}/codes/${seg(code.id)}/revoke`, { method: 'POST', body: { reason } }),
    onSuccess: () => void client.invalidateQueries({ queryKey: ['orders', project] }),
  });
  return (
    <li>
      <code>{code.code}</code> {t('store.used', { used: code.used, seats: code.seats })}{' '}
      <span className={`badge code-${code.state}`}>{t(`store.state_${code.state}`)}</span>
      {code.reason && <small className="muted"> {code.reason}</small>}{' '}
      <button type="button" aria-expanded={open} onClick={() => setOpen(!open)}>
        {t('store.machines')}
      </button>
      {code.state === 'active' && (
        <button
          type="button"
          className="danger"
          disabled={revoke.isPending}
          onClick={() => {
            const reason = window.prompt(t('store.revokeWhy', { id: code.id }));
            if (reason !== null) revoke.mutate(reason);
          }}
        >
          {t('store.revoke')}
        </button>
      )}
      <ActionError of={revoke} />
      {open && <Machines project={project} code={code} />}
    </li>
  );
}

function Orders({ project }: { project: string }) {
  const { t } = useTranslation();
  const orders = useQuery({
    queryKey: ['orders', project],
    queryFn: () => api<{ items: Order[] }>(`/api/v1/projects/${seg(project)}/orders`),
  });
  return (
    <section aria-label={t('store.orders')}>
      <h2>{t('store.orders')}</h2>
      {orders.isPending && <p aria-busy="true">{t('common.loading')}</p>}
      {orders.isError && <ErrorView error={orders.error} onRetry={() => orders.refetch()} />}
      {orders.data && orders.data.items.length === 0 && <p className="empty">{t('store.noOrders')}</p>}
      {orders.data?.items.map((o) => (
        <article key={o.id} className="card wide" aria-label={t('store.orderLabel', { id: o.id })}>
          <h3>
            {t('store.orderTitle', { listing: o.listing, tier: o.tier, customer: o.customer })}{' '}
            <small className="muted">{o.id}</small>
          </h3>
          <p className="muted">{t('store.orderTerms', { count: o.seats, until: formatTime(o.valid_until) })}</p>
          <ul className="codes">
            {o.codes.map((c) => (
              <CodeRow key={c.id} project={project} code={c} />
            ))}
          </ul>
        </article>
      ))}
    </section>
  );
}

function OfflineForm({ project }: { project: string }) {
  const { t } = useTranslation();
  const [request, setRequest] = useState('');
  const answer = useMutation({
    mutationFn: () =>
      api<{ licence: string; licence_id: string; algorithm: string; version: string }>(`/api/v1/projects/${seg(project)}/store/offline-activations`, {
        method: 'POST',
        body: { request },
      }),
  });
  const href = answer.data ? `data:application/json;charset=utf-8,${encodeURIComponent(answer.data.licence)}` : '';
  return (
    <form
      className="card wide"
      aria-label={t('store.offline')}
      onSubmit={(e) => {
        e.preventDefault();
        if (request.trim()) answer.mutate();
      }}
    >
      <h2>{t('store.offline')}</h2>
      <p className="muted">{t('store.offlineIntro')}</p>
      <Field id="offline-request" label={t('store.request')}>
        <textarea id="offline-request" rows={5} spellCheck={false} value={request} onChange={(e) => setRequest(e.target.value)} />
      </Field>
      <button type="submit" disabled={!request.trim() || answer.isPending}>
        {t('store.answer')}
      </button>
      <ActionError of={answer} />
      {answer.data && (
        <p role="status">
          {t('store.answered', { id: answer.data.licence_id, name: answer.data.algorithm, version: answer.data.version })}{' '}
          <a href={href} download={`${answer.data.licence_id}.jzlic`}>
            {t('store.downloadLicence')}
          </a>
        </p>
      )}
    </form>
  );
}

export function ProjectStore() {
  const { t } = useTranslation();
  const { project = '' } = useParams();
  const perms = usePermissions(project);
  const listings = useQuery({
    queryKey: ['listings', project],
    queryFn: () => api<{ items: Listing[] }>(`/api/v1/projects/${seg(project)}/listings`),
  });
  const writer = can(perms.data, 'listing', 'update');
  const seller = can(perms.data, 'order', 'create');
  return (
    <section>
      <ProjectTabs project={project} />
      <p className="lead">{t('store.projectIntro')}</p>
      <PublisherCard project={project} admin={can(perms.data, 'order', 'update')} />
      <h2>{t('store.listings')}</h2>
      {listings.isPending && <p aria-busy="true">{t('common.loading')}</p>}
      {listings.isError && <ErrorView error={listings.error} onRetry={() => listings.refetch()} />}
      {listings.data && listings.data.items.length === 0 && <p className="empty">{t('store.noListings')}</p>}
      {listings.data?.items.map((l) => (
        <article key={l.id} className="card wide" aria-label={t('store.listingLabel', { name: l.name })}>
          <h3>
            <Link to={`/store/${seg(project)}/${seg(l.name)}`}>{l.title}</Link> <small className="muted">{l.name}</small>{' '}
            <span className="badge">{t(`store.visibility_${l.visibility}`)}</span>
          </h3>
          <p>{l.versions.length ? t('store.listedVersions', { versions: l.versions.map((v) => v.version).join(', ') }) : t('store.noVersions')}</p>
          {writer && <AddVersion project={project} listing={l} />}
          {writer && (
            <details>
              <summary>{t('store.edit')}</summary>
              <ListingForm project={project} editing={l} />
            </details>
          )}
        </article>
      ))}
      {writer && <ListingForm project={project} />}
      {seller && <Orders project={project} />}
      {seller && <OfflineForm project={project} />}
    </section>
  );
}
