// A job's outputs on its page: what it left in /output (names, sizes, hashes where the
// caller may have the bytes), downloads, and the release request of held outputs.
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { useTranslation } from 'react-i18next';
import { api, pagePath, type Page, type Schemas, isNotFound } from '../api/client';
import { ErrorView } from '../components/ErrorView';
import { Field } from '../components/Field';
import { formatTime } from '../i18n/format';

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i += 1;
  }
  return i === 0 ? `${n} B` : `${v.toFixed(1)} ${units[i]}`;
}

export function OutputStateBadge({ state }: { state: string }) {
  const { t } = useTranslation();
  return <span className={`badge output-${state}`}>{t(`outputs.states.${state}`, { defaultValue: state })}</span>;
}

export function Outputs({ path, ended }: { path: string; ended: boolean }) {
  const { t } = useTranslation();
  const client = useQueryClient();
  const [reason, setReason] = useState('');
  const base = `${path}/outputs`;
  const outputs = useQuery({
    queryKey: ['outputs', base, ended],
    queryFn: () => api<Schemas['JobOutputs']>(base),
    enabled: ended,
    retry: false,
  });
  const files = useQuery({
    queryKey: ['output-files', base, outputs.data?.state],
    queryFn: () => api<Page<Schemas['OutputFile']>>(pagePath(`${base}/files`, 500)),
    enabled: !!outputs.data,
  });
  const request = useMutation({
    mutationFn: () => api<Schemas['Release']>(`${base}/release`, { method: 'POST', body: { reason } }),
    onSuccess: () => {
      setReason('');
      return client.invalidateQueries({ queryKey: ['outputs', base] });
    },
  });
  if (!ended) return <p className="muted">{t('outputs.whenEnded')}</p>;
  if (isNotFound(outputs.error)) return <p className="muted">{t('outputs.none')}</p>;
  if (outputs.isError) return <ErrorView error={outputs.error} onRetry={() => outputs.refetch()} />;
  const o = outputs.data;
  if (!o) return <p aria-busy="true">{t('common.loading')}</p>;
  const release = o.release ?? null;
  const pending = release?.state === 'pending';
  return (
    <div className="outputs">
      <p>
        <OutputStateBadge state={o.state} />{' '}
        {t('outputs.summary', { count: o.files, size: formatBytes(o.bytes) })}
        {o.expires_at && o.state !== 'expired' && <> · {t('outputs.expires', { when: formatTime(o.expires_at) })}</>}
      </p>
      {o.state === 'held' && <p className="reason-box">{t('outputs.heldExplained', { level: t(`datasets.levels.${o.level}`) })}</p>}
      {o.skipped && <p className="muted">{o.skipped}</p>}
      {o.truncated && <p className="muted">{t('outputs.truncated')}</p>}
      {files.isError && <ErrorView error={files.error} />}
      {files.data && files.data.items.length > 0 && (
        <table>
          <thead>
            <tr>
              <th scope="col">{t('outputs.file')}</th>
              <th scope="col">{t('outputs.size')}</th>
              <th scope="col">{t('outputs.sha256')}</th>
            </tr>
          </thead>
          <tbody>
            {files.data.items.map((f) => (
              <tr key={f.path}>
                <td>
                  {o.downloadable ? (
                    <a href={`${base}/files/${f.path.split('/').map(encodeURIComponent).join('/')}`} download>
                      {f.path}
                    </a>
                  ) : (
                    f.path
                  )}
                </td>
                <td>{formatBytes(f.size)}</td>
                <td>{f.sha256 ? <code title={f.sha256}>{f.sha256.slice(0, 16)}…</code> : <span className="muted">{t('outputs.hidden')}</span>}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {release && (
        <p className="release-status">
          {t('outputs.request', { state: t(`outputs.requestStates.${release.state}`, { defaultValue: release.state }), who: release.requester })}
          {release.reviewer && <> · {t('outputs.reviewedBy', { who: release.reviewer })}</>}
          {release.comment && <> · “{release.comment}”</>}
        </p>
      )}
      {o.state === 'held' && !pending && (
        <form
          className="card wide"
          noValidate
          onSubmit={(e: FormEvent) => {
            e.preventDefault();
            if (reason.trim()) request.mutate();
          }}
        >
          <Field id="release-reason" label={t('outputs.reason')} help={t('outputs.reasonHelp')}>
            <textarea id="release-reason" rows={2} value={reason} aria-describedby="release-reason-help" onChange={(e) => setReason(e.target.value)} />
          </Field>
          {request.isError && <ErrorView error={request.error} />}
          <button type="submit" disabled={!reason.trim() || request.isPending}>
            {t('outputs.askRelease')}
          </button>
        </form>
      )}
    </div>
  );
}
