// A dataset's lifecycle rules (docs/DATA.md "Lifecycle"): the ordered list of keep /
// archive / delete rules by tag, split or version, edited by those who manage the dataset;
// the dry run (everyone who sees the dataset sees its counts, data owners its paths); and
// applying the rules now.
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { api, type Schemas } from '../api/client';
import { ErrorView, errorText } from '../components/ErrorView';
import { formatNumber, formatTime } from '../i18n/format';
import { formatBytes } from './Outputs';

type Policy = Schemas['LifecyclePolicy'];
type Plan = Schemas['LifecyclePlan'];

// A rule as the form holds it: numbers as typed.
interface RuleForm {
  action: string;
  tag: string;
  split: string;
  after_days: string;
  version: string;
  keep_newest: string;
}

function toForm(r: Schemas['LifecycleRule']): RuleForm {
  return {
    action: r.action,
    tag: r.tag ?? '',
    split: r.split ?? '',
    after_days: String(r.after_days ?? 0),
    version: r.version ? String(r.version) : '',
    keep_newest: r.keep_newest ? String(r.keep_newest) : '',
  };
}

function toBody(r: RuleForm): Record<string, unknown> {
  const out: Record<string, unknown> = { action: r.action, after_days: Number(r.after_days) || 0 };
  if (r.tag.trim()) out.tag = r.tag.trim();
  if (r.split.trim()) out.split = r.split.trim();
  if (r.version.trim()) out.version = Number(r.version);
  if (r.keep_newest.trim()) out.keep_newest = Number(r.keep_newest);
  return out;
}

const blank: RuleForm = { action: 'delete', tag: '', split: '', after_days: '30', version: '', keep_newest: '' };

function PlanView({ plan, applied }: { plan: Plan; applied: boolean }) {
  const { t } = useTranslation();
  const files = plan.files ?? null;
  const nothing = plan.files_removed === 0 && plan.versions.length === 0;
  return (
    <div className="card wide" role="region" aria-label={applied ? t('lifecycle.result') : t('lifecycle.plan')}>
      <h3>{applied ? t('lifecycle.result') : t('lifecycle.plan')}</h3>
      {nothing && <p className="empty">{t('lifecycle.nothing')}</p>}
      {plan.files_removed > 0 && (
        <p>
          {applied && plan.new_version
            ? t('lifecycle.filesRemoved', { count: plan.files_removed, size: formatBytes(plan.file_bytes ?? 0), number: plan.new_version })
            : t('lifecycle.filesToRemove', { count: plan.files_removed, size: formatBytes(plan.file_bytes ?? 0), number: plan.newest ?? 0 })}
        </p>
      )}
      {plan.files_kept > 0 && <p className="muted">{t('lifecycle.filesKept', { count: plan.files_kept })}</p>}
      {files && files.length > 0 && (
        <table aria-label={t('lifecycle.files')}>
          <thead>
            <tr>
              <th scope="col">{t('lifecycle.path')}</th>
              <th scope="col">{t('lifecycle.age')}</th>
              <th scope="col">{t('lifecycle.rule')}</th>
            </tr>
          </thead>
          <tbody>
            {files.slice(0, 200).map((f) => (
              <tr key={f.path}>
                <td>
                  <code>{f.path}</code>
                </td>
                <td>{t('lifecycle.days', { count: f.age_days ?? 0 })}</td>
                <td>{f.rule}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {plan.versions.length > 0 && (
        <table aria-label={t('lifecycle.versions')}>
          <thead>
            <tr>
              <th scope="col">{t('versions.number')}</th>
              <th scope="col">{t('lifecycle.action')}</th>
              <th scope="col">{t('lifecycle.age')}</th>
              <th scope="col">{t('versions.size')}</th>
              <th scope="col">{t('lifecycle.why')}</th>
            </tr>
          </thead>
          <tbody>
            {plan.versions.map((v) => (
              <tr key={v.number}>
                <td>{t('versions.label', { number: v.number })}</td>
                <td>
                  <span className={`badge lifecycle-${v.action}`}>{t(`lifecycle.actions.${v.action}`, { defaultValue: v.action })}</span>
                </td>
                <td>{t('lifecycle.days', { count: v.age_days ?? 0 })}</td>
                <td>{formatBytes(v.bytes ?? 0)}</td>
                <td>{v.reason}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}

export function DatasetLifecycle({ base, mayEdit }: { base: string; mayEdit: boolean }) {
  const { t } = useTranslation();
  const client = useQueryClient();
  const policy = useQuery({ queryKey: ['lifecycle', base], queryFn: () => api<Policy>(`${base}/lifecycle`) });
  const [rules, setRules] = useState<RuleForm[]>([]);
  const [automatic, setAutomatic] = useState(false);
  const [shown, setShown] = useState<{ plan: Plan; applied: boolean } | null>(null);
  useEffect(() => {
    if (policy.data) {
      setRules(policy.data.rules.map(toForm));
      setAutomatic(policy.data.automatic);
    }
  }, [policy.data]);
  const save = useMutation({
    mutationFn: () => api<Policy>(`${base}/lifecycle`, { method: 'PUT', body: { rules: rules.map(toBody), automatic } }),
    onSuccess: () => {
      setShown(null);
      client.invalidateQueries({ queryKey: ['lifecycle', base] });
    },
  });
  const dryRun = useMutation({
    mutationFn: () => api<Plan>(`${base}/lifecycle/plan`),
    onSuccess: (plan) => setShown({ plan, applied: false }),
  });
  const apply = useMutation({
    mutationFn: () => api<Plan>(`${base}/lifecycle/apply`, { method: 'POST' }),
    onSuccess: (plan) => {
      setShown({ plan, applied: true });
      client.invalidateQueries({ queryKey: ['lifecycle', base] });
      client.invalidateQueries({ queryKey: ['versions'] });
    },
  });
  const set = (i: number, patch: Partial<RuleForm>) => setRules(rules.map((r, k) => (k === i ? { ...r, ...patch } : r)));
  const move = (i: number, by: number) => {
    const next = [...rules];
    const [r] = next.splice(i, 1);
    next.splice(i + by, 0, r);
    setRules(next);
  };
  const last = policy.data?.last_result as Record<string, number | string> | undefined;
  const error = save.error ?? dryRun.error ?? apply.error;
  return (
    <section aria-label={t('lifecycle.title')}>
      <h2>{t('lifecycle.title')}</h2>
      <p className="help">{t('lifecycle.help')}</p>
      {policy.isError && <ErrorView error={policy.error} onRetry={() => policy.refetch()} />}
      {policy.data && rules.length === 0 && <p className="empty">{t('lifecycle.none')}</p>}
      {rules.length > 0 && (
        <table className="lifecycle-rules" aria-label={t('lifecycle.rules')}>
          <thead>
            <tr>
              <th scope="col">#</th>
              <th scope="col">{t('lifecycle.action')}</th>
              <th scope="col">{t('versions.tag')}</th>
              <th scope="col">{t('versions.split')}</th>
              <th scope="col">{t('lifecycle.afterDays')}</th>
              <th scope="col">{t('lifecycle.version')}</th>
              <th scope="col">{t('lifecycle.keepNewest')}</th>
              {mayEdit && <th scope="col">{t('common.actions')}</th>}
            </tr>
          </thead>
          <tbody>
            {rules.map((r, i) => {
              const label = (what: string) => t('lifecycle.field', { what, number: i + 1 });
              const fileRule = r.tag.trim() !== '' || r.split.trim() !== '';
              return (
                <tr key={i}>
                  <td>{i + 1}</td>
                  <td>
                    <select aria-label={label(t('lifecycle.action'))} value={r.action} disabled={!mayEdit} onChange={(e) => set(i, { action: e.target.value })}>
                      {['keep', 'archive', 'delete'].map((a) => (
                        <option key={a} value={a} disabled={fileRule && a === 'archive'}>
                          {t(`lifecycle.actions.${a}`)}
                        </option>
                      ))}
                    </select>
                  </td>
                  <td>
                    <input aria-label={label(t('versions.tag'))} value={r.tag} disabled={!mayEdit} onChange={(e) => set(i, { tag: e.target.value })} />
                  </td>
                  <td>
                    <input aria-label={label(t('versions.split'))} value={r.split} disabled={!mayEdit} onChange={(e) => set(i, { split: e.target.value })} />
                  </td>
                  <td>
                    <input aria-label={label(t('lifecycle.afterDays'))} type="number" min={0} value={r.after_days} disabled={!mayEdit} onChange={(e) => set(i, { after_days: e.target.value })} />
                  </td>
                  <td>
                    <input aria-label={label(t('lifecycle.version'))} type="number" min={1} value={r.version} disabled={!mayEdit || fileRule} onChange={(e) => set(i, { version: e.target.value })} />
                  </td>
                  <td>
                    <input aria-label={label(t('lifecycle.keepNewest'))} type="number" min={0} value={r.keep_newest} disabled={!mayEdit || fileRule} onChange={(e) => set(i, { keep_newest: e.target.value })} />
                  </td>
                  {mayEdit && (
                    <td>
                      <button type="button" disabled={i === 0} aria-label={t('lifecycle.up', { number: i + 1 })} onClick={() => move(i, -1)}>
                        ↑
                      </button>
                      <button type="button" disabled={i === rules.length - 1} aria-label={t('lifecycle.down', { number: i + 1 })} onClick={() => move(i, 1)}>
                        ↓
                      </button>
                      <button type="button" className="danger" onClick={() => setRules(rules.filter((_, k) => k !== i))}>
                        {t('lifecycle.remove')}
                      </button>
                    </td>
                  )}
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      {mayEdit && (
        <div className="row">
          <button type="button" onClick={() => setRules([...rules, blank])}>
            {t('lifecycle.add')}
          </button>
          <label className="check">
            <input type="checkbox" checked={automatic} onChange={(e) => setAutomatic(e.target.checked)} />
            {t('lifecycle.automatic')}
          </label>
          <button type="button" className="primary" disabled={save.isPending} onClick={() => save.mutate()}>
            {t('lifecycle.save')}
          </button>
        </div>
      )}
      {save.isSuccess && (
        <p className="ok" role="status">
          {t('lifecycle.saved', { count: save.data.rules.length })}
        </p>
      )}
      <div className="row">
        <button type="button" disabled={dryRun.isPending} onClick={() => dryRun.mutate()}>
          {t('lifecycle.dryRun')}
        </button>
        {mayEdit && (
          <button
            type="button"
            className="danger"
            disabled={apply.isPending || (policy.data?.rules.length ?? 0) === 0}
            onClick={() => window.confirm(t('lifecycle.applyConfirm')) && apply.mutate()}
          >
            {t('lifecycle.apply')}
          </button>
        )}
      </div>
      {error && (
        <p className="error" role="alert">
          {errorText(error, t)}
        </p>
      )}
      {shown && <PlanView plan={shown.plan} applied={shown.applied} />}
      {policy.data?.last_run_at && last && (
        <p className="muted">
          {t('lifecycle.lastRun', {
            when: formatTime(policy.data.last_run_at),
            by: String(last.by ?? ''),
            files: formatNumber(Number(last.files_removed ?? 0)),
            archived: formatNumber(Number(last.archived ?? 0)),
            deleted: formatNumber(Number(last.deleted ?? 0)),
          })}
        </p>
      )}
    </section>
  );
}
