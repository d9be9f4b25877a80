// Pre-annotation of a labelling task (docs/DATA.md "Pre-annotation"): a data owner runs an
// uploaded algorithm over the task's version as a job; its boxes become the first shapes of
// the images nobody has saved yet. Everyone who sees the task sees the runs and their counts.
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect, useState, type FormEvent } from 'react';
import { useTranslation } from 'react-i18next';
import { api, type Page, type Schemas } from '../api/client';
import { ActionError } from '../components/ActionError';
import { ErrorView } from '../components/ErrorView';
import { Field } from '../components/Field';
import { formatNumber, formatTime } from '../i18n/format';

type Pre = Schemas['PreAnnotation'];
type Algorithm = Schemas['Algorithm'];

// "truck=car, bus=car" -> {truck: "car", bus: "car"}; null when a pair is malformed.
export function parseClassMap(text: string): Record<string, string> | null {
  const out: Record<string, string> = {};
  for (const part of text.split(',').map((s) => s.trim()).filter(Boolean)) {
    const eq = part.indexOf('=');
    if (eq <= 0 || eq === part.length - 1) return null;
    out[part.slice(0, eq).trim()] = part.slice(eq + 1).trim();
  }
  return out;
}

export function PreAnnotate({ project, root, mayStart, open }: { project: string; root: string; mayStart: boolean; open: boolean }) {
  const { t } = useTranslation();
  const client = useQueryClient();
  const runs = useQuery({
    queryKey: ['pre-annotations', root],
    queryFn: () => api<Page<Pre>>(`${root}/pre-annotations`),
    // Follow the ones running.
    refetchInterval: (q) => (q.state.data?.items.some((p) => p.state === 'queued' || p.state === 'running') ? 1000 : false),
  });
  const algorithms = useQuery({
    queryKey: ['algorithms', project],
    queryFn: () => api<Page<Algorithm>>(`/api/v1/projects/${encodeURIComponent(project)}/algorithms`),
    enabled: mayStart && open,
  });
  const ready = (algorithms.data?.items ?? []).filter((a) => a.state === 'ready');
  const [choice, setChoice] = useState('');
  const [confidence, setConfidence] = useState('0.5');
  const [classes, setClasses] = useState('');
  const classMap = parseClassMap(classes);
  const start = useMutation({
    mutationFn: () => {
      const a = ready.find((x) => `${x.name} ${x.version}` === choice) ?? ready[0];
      return api<Pre>(`${root}/pre-annotations`, {
        method: 'POST',
        body: { algorithm: a?.name ?? '', version: a?.version ?? '', min_confidence: Number(confidence), classes: classMap ?? {} },
      });
    },
    onSuccess: () => client.invalidateQueries({ queryKey: ['pre-annotations', root] }),
  });
  // When a run ends, the jobs' shape counts change.
  const finished = (runs.data?.items ?? []).filter((p) => p.state === 'done').length;
  useEffect(() => {
    if (finished > 0) void client.invalidateQueries({ queryKey: ['label-jobs', root] });
  }, [finished, client, root]);
  return (
    <section aria-label={t('preAnnotate.title')}>
      <h3>{t('preAnnotate.title')}</h3>
      <p className="help">{t('preAnnotate.help')}</p>
      {mayStart && open && (
        <form className="row" noValidate onSubmit={(e: FormEvent) => { e.preventDefault(); start.mutate(); }}>
          <Field id="pa-algorithm" label={t('preAnnotate.algorithm')}>
            <select id="pa-algorithm" value={choice} onChange={(e) => setChoice(e.target.value)}>
              {ready.length === 0 && <option value="">{t('preAnnotate.noAlgorithm')}</option>}
              {ready.map((a) => (
                <option key={`${a.name} ${a.version}`} value={`${a.name} ${a.version}`}>
                  {a.name} {a.version}
                </option>
              ))}
            </select>
          </Field>
          <Field id="pa-confidence" label={t('preAnnotate.minConfidence')}>
            <input id="pa-confidence" type="number" min={0} max={1} step={0.05} value={confidence} onChange={(e) => setConfidence(e.target.value)} />
          </Field>
          <Field id="pa-classes" label={t('preAnnotate.classes')} help={t('preAnnotate.classesHelp')}>
            <input id="pa-classes" value={classes} aria-invalid={classMap === null} aria-describedby="pa-classes-help" onChange={(e) => setClasses(e.target.value)} />
          </Field>
          <div className="field end">
            <button type="submit" className="primary" disabled={ready.length === 0 || classMap === null || start.isPending}>
              {t('preAnnotate.start')}
            </button>
          </div>
        </form>
      )}
      <ActionError of={start} />
      {runs.isError && <ErrorView error={runs.error} onRetry={() => runs.refetch()} />}
      {runs.data && runs.data.items.length > 0 && (
        <table aria-label={t('preAnnotate.runs')}>
          <thead>
            <tr>
              <th scope="col">{t('preAnnotate.algorithm')}</th>
              <th scope="col">{t('preAnnotate.state')}</th>
              <th scope="col">{t('preAnnotate.result')}</th>
              <th scope="col">{t('preAnnotate.by')}</th>
              <th scope="col">{t('common.created')}</th>
            </tr>
          </thead>
          <tbody>
            {runs.data.items.map((p) => {
              const r = p.request as { algorithm?: string; version?: string };
              const s = (p.summary ?? {}) as Record<string, number>;
              return (
                <tr key={p.id}>
                  <td>
                    {r.algorithm} {r.version}
                  </td>
                  <td>
                    <span className={`badge pre-${p.state}`}>{t(`preAnnotate.states.${p.state}`, { defaultValue: p.state })}</span>
                    {p.message && <div className="muted">{p.message}</div>}
                  </td>
                  <td>
                    {p.state === 'done'
                      ? t('preAnnotate.counts', {
                          images: formatNumber(s.images ?? 0),
                          shapes: formatNumber(s.shapes ?? 0),
                          touched: formatNumber(s.touched ?? 0),
                          errors: formatNumber(s.errors ?? 0),
                        })
                      : '…'}
                  </td>
                  <td>{p.created_by}</td>
                  <td>{formatTime(p.created_at)}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
    </section>
  );
}
