// Converting a version's annotations between COCO, Pascal VOC, YOLO and image JSON, on the
// platform (docs/DATA.md "Annotation formats"): a job in the project's sandbox; the next
// version holds the converted files. Data owners who may update the dataset start one;
// everyone who sees the dataset sees the list.
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect, useState, type FormEvent } from 'react';
import { useTranslation } from 'react-i18next';
import { api, type Page, type Schemas } from '../api/client';
import { ActionError } from '../components/ActionError';
import { ErrorView } from '../components/ErrorView';
import { Field } from '../components/Field';
import { formatTime } from '../i18n/format';

type Conversion = Schemas['Conversion'];
type Version = Schemas['DatasetVersion'];

const formats = ['coco', 'voc', 'yolo', 'json'] as const;

export function DatasetConvert({ base, versions, mayStart }: { base: string; versions: Version[]; mayStart: boolean }) {
  const { t } = useTranslation();
  const client = useQueryClient();
  const usable = versions.filter((v) => !v.archived_at);
  const [version, setVersion] = useState<number>(usable[0]?.number ?? 1);
  const [from, setFrom] = useState('coco');
  const [to, setTo] = useState('yolo');
  const [input, setInput] = useState('');
  const [output, setOutput] = useState('');
  const [images, setImages] = useState('');
  const list = useQuery({
    queryKey: ['conversions', base],
    queryFn: () => api<Page<Conversion>>(`${base}/conversions`),
    refetchInterval: (q) => (q.state.data?.items.some((c) => c.state === 'queued' || c.state === 'running') ? 1000 : false),
  });
  const start = useMutation({
    mutationFn: () => {
      const body: Record<string, string> = { from, to, input };
      if (output.trim()) body.output = output.trim();
      if (images.trim()) body.images = images.trim();
      return api<Conversion>(`${base}/versions/${version}/conversions`, { method: 'POST', body });
    },
    onSuccess: () => client.invalidateQueries({ queryKey: ['conversions', base] }),
  });
  const label = (f: string) => t(`convert.formats.${f}`);
  const finished = (list.data?.items ?? []).filter((c) => c.state === 'done').length;
  // A conversion that ended made a version: show it.
  useEffect(() => {
    if (finished > 0) void client.invalidateQueries({ queryKey: ['versions'] });
  }, [finished, client]);
  return (
    <section aria-label={t('convert.title')}>
      <h2>{t('convert.title')}</h2>
      <p className="help">{t('convert.help')}</p>
      {mayStart && usable.length > 0 && (
        <form className="row" noValidate onSubmit={(e: FormEvent) => { e.preventDefault(); start.mutate(); }}>
          <Field id="cv-version" label={t('curation.version')}>
            <select id="cv-version" value={version} onChange={(e) => setVersion(Number(e.target.value))}>
              {usable.map((v) => (
                <option key={v.number} value={v.number}>
                  {t('versions.label', { number: v.number })}
                </option>
              ))}
            </select>
          </Field>
          <Field id="cv-from" label={t('convert.from')}>
            <select id="cv-from" value={from} onChange={(e) => setFrom(e.target.value)}>
              {formats.map((f) => (
                <option key={f} value={f}>{label(f)}</option>
              ))}
            </select>
          </Field>
          <Field id="cv-input" label={t('convert.input')} help={t('convert.inputHelp')}>
            <input id="cv-input" value={input} aria-describedby="cv-input-help" onChange={(e) => setInput(e.target.value)} />
          </Field>
          <Field id="cv-to" label={t('convert.to')}>
            <select id="cv-to" value={to} onChange={(e) => setTo(e.target.value)}>
              {formats.map((f) => (
                <option key={f} value={f}>{label(f)}</option>
              ))}
            </select>
          </Field>
          <Field id="cv-output" label={t('convert.output')} help={t('convert.outputHelp', { to })}>
            <input id="cv-output" value={output} aria-describedby="cv-output-help" onChange={(e) => setOutput(e.target.value)} />
          </Field>
          {from === 'yolo' && (
            <Field id="cv-images" label={t('convert.images')} help={t('convert.imagesHelp')}>
              <input id="cv-images" value={images} aria-describedby="cv-images-help" onChange={(e) => setImages(e.target.value)} />
            </Field>
          )}
          <div className="field end">
            <button type="submit" className="primary" disabled={!input.trim() || from === to || start.isPending}>
              {t('convert.start')}
            </button>
          </div>
        </form>
      )}
      <ActionError of={start} />
      {list.isError && <ErrorView error={list.error} onRetry={() => list.refetch()} />}
      {list.data && list.data.items.length > 0 && (
        <table aria-label={t('convert.list')}>
          <thead>
            <tr>
              <th scope="col">{t('curation.version')}</th>
              <th scope="col">{t('convert.what')}</th>
              <th scope="col">{t('convert.state')}</th>
              <th scope="col">{t('convert.made')}</th>
              <th scope="col">{t('versions.by')}</th>
              <th scope="col">{t('common.created')}</th>
            </tr>
          </thead>
          <tbody>
            {list.data.items.map((c) => {
              const r = c.request as { from?: string; to?: string; input?: string; output?: string };
              return (
                <tr key={c.id}>
                  <td>{t('versions.label', { number: c.version })}</td>
                  <td>
                    {t('convert.fromTo', { from: label(r.from ?? ''), to: label(r.to ?? ''), input: r.input, output: r.output })}
                  </td>
                  <td>
                    <span className={`badge conversion-${c.state}`}>{t(`convert.states.${c.state}`, { defaultValue: c.state })}</span>
                    {c.message && <div className="muted">{c.message}</div>}
                  </td>
                  <td>{c.result_version ? t('convert.version', { number: c.result_version, files: c.files ?? 0 }) : '–'}</td>
                  <td>{c.created_by}</td>
                  <td>{formatTime(c.created_at)}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
    </section>
  );
}
