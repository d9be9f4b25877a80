// Automatic tests (docs/AUTOTEST.md): a project's test suites (data owners make them: the
// samples, annotations algorithms never see, a template, pass thresholds), the algorithm
// packages developers upload (checked: intact, signed, conformant), and evaluations with
// their verdicts. An evaluation's page shows thresholds, metrics, performance, errors,
// confusion matrices and precision-recall curves; readers without sight of a hidden
// suite's samples get the redacted report the server gives them.
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, useNavigate, useParams } from 'react-router-dom';
import { api, currentCsrfToken, errorOf, isNotFound, pagePath, seg, type Page, type Schemas } from '../api/client';
import { can, usePermissions } from '../api/permissions';
import { Chart, type ChartOption } from '../components/Chart';
import { ErrorView, errorText } from '../components/ErrorView';
import { Field } from '../components/Field';
import { ProjectTabs } from '../components/ProjectTabs';
import { formatNumber, formatTime } from '../i18n/format';
import { CompetitionList } from './Competitions';
import { NotFound } from './NotFound';
import { useAlgorithms, useSuites } from './autotestQueries';

type Suite = Schemas['Suite'];
type Algorithm = Schemas['Algorithm'];
type Evaluation = Schemas['Evaluation'];
type Json = unknown;

const ended = (s: string) => ['passed', 'failed', 'error', 'cancelled'].includes(s);
const suiteName = /^[a-z0-9][a-z0-9_-]{0,63}$/;

function StateBadge({ state }: { state: string }) {
  const { t } = useTranslation();
  const tone =
    state === 'passed' || state === 'ready'
      ? 'succeeded'
      : state === 'failed' || state === 'error'
        ? 'failed'
        : state === 'queued' || state === 'cancelled'
          ? 'queued'
          : 'running';
  return <span className={`badge state-${tone}`}>{t(`autotest.states.${state}`, { defaultValue: state })}</span>;
}

// Uploads a package: the body is the file itself (the API reads it raw).
async function uploadPackage(project: string, file: File): Promise<Algorithm> {
  const res = await fetch(`/api/v1/projects/${seg(project)}/algorithms`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/octet-stream', 'X-CSRF-Token': currentCsrfToken(), Accept: 'application/json' },
    body: file,
    credentials: 'same-origin',
  });
  const text = await res.text();
  let data: unknown = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!res.ok) throw errorOf(res.status, res.statusText, data);
  return data as Algorithm;
}

function NewSuite({ project, onDone }: { project: string; onDone: () => void }) {
  const { t } = useTranslation();
  const [name, setName] = useState('');
  const [dataset, setDataset] = useState('');
  const [input, setInput] = useState('');
  const [template, setTemplate] = useState('');
  const [thresholds, setThresholds] = useState('');
  const [annotations, setAnnotations] = useState<File | null>(null);
  const datasets = useQuery({
    queryKey: ['datasets', project],
    queryFn: () => api<Page<Schemas['Dataset']>>(pagePath(`/api/v1/projects/${seg(project)}/datasets`, 1000)),
  });
  const bad = name !== '' && !suiteName.test(name);
  const make = useMutation({
    mutationFn: async () =>
      api<Suite>(`/api/v1/projects/${seg(project)}/suites`, {
        method: 'POST',
        body: {
          name,
          dataset,
          input,
          template,
          annotations: { file: annotations!.name, content: await annotations!.text() },
          thresholds: thresholds
            .split('\n')
            .map((l) => l.trim())
            .filter((l) => l !== ''),
        },
      }),
    onSuccess: () => {
      setName('');
      setTemplate('');
      setThresholds('');
      onDone();
    },
  });
  const ready = suiteName.test(name) && dataset !== '' && template.trim() !== '' && annotations !== null;
  return (
    <form
      className="card wide"
      noValidate
      onSubmit={(e: FormEvent) => {
        e.preventDefault();
        if (ready) make.mutate();
      }}
    >
      <h3>{t('autotest.newSuite')}</h3>
      <div className="row">
        <Field id="suite-name" label={t('common.name')} error={bad ? t('autotest.nameInvalid') : undefined}>
          <input
            id="suite-name"
            value={name}
            aria-invalid={bad}
            aria-describedby={bad ? 'suite-name-help' : undefined}
            onChange={(e) => setName(e.target.value)}
          />
        </Field>
        <Field id="suite-dataset" label={t('autotest.dataset')} help={t('autotest.datasetHelp')}>
          <select
            id="suite-dataset"
            value={dataset}
            aria-describedby="suite-dataset-help"
            onChange={(e) => setDataset(e.target.value)}
          >
            <option value="">{t('autotest.choose')}</option>
            {(datasets.data?.items ?? []).map((d) => (
              <option key={d.name} value={d.name}>
                {d.name} ({t(`datasets.levels.${d.security_level}`)})
              </option>
            ))}
          </select>
        </Field>
        <Field id="suite-input" label={t('autotest.input')} help={t('autotest.inputHelp')}>
          <input id="suite-input" value={input} aria-describedby="suite-input-help" onChange={(e) => setInput(e.target.value)} />
        </Field>
      </div>
      <Field id="suite-template" label={t('autotest.template')} help={t('autotest.templateHelp')}>
        <textarea
          id="suite-template"
          rows={10}
          className="code"
          value={template}
          aria-describedby="suite-template-help"
          onChange={(e) => setTemplate(e.target.value)}
        />
      </Field>
      <div className="row">
        <Field id="suite-annotations" label={t('autotest.annotations')} help={t('autotest.annotationsHelp')}>
          <input
            id="suite-annotations"
            type="file"
            accept=".json,.jsonl,.ndjson,.xml"
            aria-describedby="suite-annotations-help"
            onChange={(e) => setAnnotations(e.target.files?.[0] ?? null)}
          />
        </Field>
        <Field id="suite-thresholds" label={t('autotest.thresholds')} help={t('autotest.thresholdsHelp')}>
          <textarea
            id="suite-thresholds"
            rows={3}
            value={thresholds}
            aria-describedby="suite-thresholds-help"
            onChange={(e) => setThresholds(e.target.value)}
          />
        </Field>
      </div>
      {make.isError && <p role="alert" className="error">{errorText(make.error, t)}</p>}
      <button type="submit" className="primary" disabled={!ready || make.isPending}>
        {t('autotest.makeSuite')}
      </button>
    </form>
  );
}

function Suites({ project, mayMake }: { project: string; mayMake: boolean }) {
  const { t } = useTranslation();
  const qc = useQueryClient();
  const suites = useSuites(project);
  return (
    <section aria-labelledby="suites-h">
      <h2 id="suites-h">{t('autotest.suites')}</h2>
      <p className="muted">{t('autotest.suitesIntro')}</p>
      {suites.isError && <ErrorView error={suites.error} />}
      {suites.data && suites.data.items.length === 0 && <p className="muted">{t('autotest.noSuites')}</p>}
      {suites.data && suites.data.items.length > 0 && (
        <table>
          <caption className="visually-hidden">{t('autotest.suites')}</caption>
          <thead>
            <tr>
              <th scope="col">{t('common.name')}</th>
              <th scope="col">{t('autotest.version')}</th>
              <th scope="col">{t('autotest.dataset')}</th>
              <th scope="col">{t('datasets.level')}</th>
              <th scope="col">{t('autotest.thresholds')}</th>
              <th scope="col">{t('autotest.updated')}</th>
            </tr>
          </thead>
          <tbody>
            {suites.data.items.map((s) => (
              <tr key={s.name}>
                <td>{s.name}</td>
                <td>{s.version}</td>
                <td>
                  {s.dataset}
                  {s.input ? `/${s.input}` : ''}
                </td>
                <td>{t(`datasets.levels.${s.level}`)}</td>
                <td>
                  {(s.thresholds ?? []).map((x) => (
                    <code key={x} className="chip">
                      {x}
                    </code>
                  ))}
                </td>
                <td>{formatTime(s.updated_at)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {mayMake && <NewSuite project={project} onDone={() => qc.invalidateQueries({ queryKey: ['suites', project] })} />}
    </section>
  );
}

function Algorithms({ project, mayUpload }: { project: string; mayUpload: boolean }) {
  const { t } = useTranslation();
  const qc = useQueryClient();
  const [file, setFile] = useState<File | null>(null);
  const algorithms = useAlgorithms(project, true);
  const upload = useMutation({
    mutationFn: () => uploadPackage(project, file!),
    onSuccess: () => {
      setFile(null);
      qc.invalidateQueries({ queryKey: ['algorithms', project] });
    },
  });
  return (
    <section aria-labelledby="algorithms-h">
      <h2 id="algorithms-h">{t('autotest.algorithms')}</h2>
      <p className="muted">{t('autotest.algorithmsIntro')}</p>
      {algorithms.isError && <ErrorView error={algorithms.error} />}
      {algorithms.data && algorithms.data.items.length === 0 && <p className="muted">{t('autotest.noAlgorithms')}</p>}
      {algorithms.data && algorithms.data.items.length > 0 && (
        <table>
          <caption className="visually-hidden">{t('autotest.algorithms')}</caption>
          <thead>
            <tr>
              <th scope="col">{t('common.name')}</th>
              <th scope="col">{t('autotest.version')}</th>
              <th scope="col">{t('autotest.publisher')}</th>
              <th scope="col">{t('autotest.state')}</th>
              <th scope="col">{t('autotest.checks')}</th>
              <th scope="col">{t('autotest.uploadedBy')}</th>
            </tr>
          </thead>
          <tbody>
            {algorithms.data.items.map((a) => (
              <tr key={a.id}>
                <td>{a.name}</td>
                <td>{a.version}</td>
                <td>
                  {a.publisher} <small className="muted">{a.key_id}</small>
                </td>
                <td>
                  <StateBadge state={a.state} />
                </td>
                <td>{a.message}</td>
                <td>{a.uploaded_by}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {mayUpload && (
        <form
          className="card wide"
          noValidate
          onSubmit={(e: FormEvent) => {
            e.preventDefault();
            if (file) upload.mutate();
          }}
        >
          <div className="row">
            <Field id="algo-file" label={t('autotest.package')} help={t('autotest.packageHelp')}>
              <input
                id="algo-file"
                type="file"
                accept=".jzpkg"
                aria-describedby="algo-file-help"
                onChange={(e) => setFile(e.target.files?.[0] ?? null)}
              />
            </Field>
            <div className="field end">
              <button type="submit" className="primary" disabled={!file || upload.isPending}>
                {t('autotest.upload')}
              </button>
            </div>
          </div>
          {upload.isError && <p role="alert" className="error">{errorText(upload.error, t)}</p>}
        </form>
      )}
    </section>
  );
}

function Evaluate({ project, onDone }: { project: string; onDone: (e: Evaluation) => void }) {
  const { t } = useTranslation();
  const [suite, setSuite] = useState('');
  const [algorithm, setAlgorithm] = useState('');
  const [config, setConfig] = useState('');
  const suites = useSuites(project);
  const algorithms = useAlgorithms(project);
  let parsed: Json = undefined;
  let configBad = false;
  if (config.trim() !== '') {
    try {
      parsed = JSON.parse(config);
      configBad = typeof parsed !== 'object' || parsed === null || Array.isArray(parsed);
    } catch {
      configBad = true;
    }
  }
  const start = useMutation({
    mutationFn: () => {
      const [name, version] = algorithm.split('@');
      return api<Evaluation>(`/api/v1/projects/${seg(project)}/evaluations`, {
        method: 'POST',
        body: { suite, algorithm: name, version, ...(parsed === undefined ? {} : { config: parsed }) },
      });
    },
    onSuccess: onDone,
  });
  const ready = suite !== '' && algorithm !== '' && !configBad;
  return (
    <form
      className="card wide"
      noValidate
      onSubmit={(e: FormEvent) => {
        e.preventDefault();
        if (ready) start.mutate();
      }}
    >
      <h3>{t('autotest.evaluate')}</h3>
      <div className="row">
        <Field id="eval-suite" label={t('autotest.suite')}>
          <select id="eval-suite" value={suite} onChange={(e) => setSuite(e.target.value)}>
            <option value="">{t('autotest.choose')}</option>
            {(suites.data?.items ?? []).map((s) => (
              <option key={s.name} value={s.name}>
                {t('autotest.suiteVersion', { name: s.name, version: s.version })}
              </option>
            ))}
          </select>
        </Field>
        <Field id="eval-algorithm" label={t('autotest.algorithm')} help={t('autotest.algorithmHelp')}>
          <select
            id="eval-algorithm"
            value={algorithm}
            aria-describedby="eval-algorithm-help"
            onChange={(e) => setAlgorithm(e.target.value)}
          >
            <option value="">{t('autotest.choose')}</option>
            {(algorithms.data?.items ?? [])
              .filter((a) => a.state === 'ready')
              .map((a) => (
                <option key={a.id} value={`${a.name}@${a.version}`}>
                  {a.name} {a.version}
                </option>
              ))}
          </select>
        </Field>
      </div>
      <Field
        id="eval-config"
        label={t('autotest.config')}
        help={configBad ? t('autotest.configInvalid') : t('autotest.configHelp')}
        error={configBad ? t('autotest.configInvalid') : undefined}
      >
        <textarea
          id="eval-config"
          rows={3}
          className="code"
          value={config}
          aria-invalid={configBad}
          aria-describedby="eval-config-help"
          onChange={(e) => setConfig(e.target.value)}
        />
      </Field>
      {start.isError && <p role="alert" className="error">{errorText(start.error, t)}</p>}
      <button type="submit" className="primary" disabled={!ready || start.isPending}>
        {t('autotest.start')}
      </button>
    </form>
  );
}

function Evaluations({ project, mayStart }: { project: string; mayStart: boolean }) {
  const { t } = useTranslation();
  const navigate = useNavigate();
  const evaluations = useQuery({
    queryKey: ['evaluations', project],
    queryFn: () => api<Page<Evaluation>>(pagePath(`/api/v1/projects/${seg(project)}/evaluations`, 200)),
    refetchInterval: (q) => (q.state.data?.items.some((e) => !ended(e.state)) ? 1000 : 10000),
  });
  return (
    <section aria-labelledby="evaluations-h">
      <h2 id="evaluations-h">{t('autotest.evaluations')}</h2>
      {mayStart && (
        <Evaluate project={project} onDone={(e) => navigate(`/projects/${seg(project)}/tests/${seg(e.id)}`)} />
      )}
      {evaluations.isError && <ErrorView error={evaluations.error} />}
      {evaluations.data && evaluations.data.items.length === 0 && (
        <p className="muted">{t('autotest.noEvaluations')}</p>
      )}
      {evaluations.data && evaluations.data.items.length > 0 && (
        <table>
          <caption className="visually-hidden">{t('autotest.evaluations')}</caption>
          <thead>
            <tr>
              <th scope="col">{t('autotest.evaluation')}</th>
              <th scope="col">{t('autotest.suite')}</th>
              <th scope="col">{t('autotest.algorithm')}</th>
              <th scope="col">{t('autotest.state')}</th>
              <th scope="col">{t('autotest.message')}</th>
              <th scope="col">{t('autotest.owner')}</th>
              <th scope="col">{t('autotest.created')}</th>
            </tr>
          </thead>
          <tbody>
            {evaluations.data.items.map((e) => (
              <tr key={e.id}>
                <td>
                  <Link to={`/projects/${seg(project)}/tests/${seg(e.id)}`}>{e.id}</Link>
                </td>
                <td>{t('autotest.suiteVersion', { name: e.suite, version: e.suite_version })}</td>
                <td>
                  {e.algorithm} {e.algorithm_version}
                </td>
                <td>
                  <StateBadge state={e.state} />
                </td>
                <td>{e.message}</td>
                <td>{e.owner}</td>
                <td>{formatTime(e.created_at)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

export function ProjectTests() {
  const { t } = useTranslation();
  const { project = '' } = useParams();
  const perms = usePermissions(project);
  if (perms.isError && isNotFound(perms.error)) return <NotFound />;
  return (
    <section>
      <ProjectTabs project={project} />
      <p className="muted">{t('autotest.intro')}</p>
      <Evaluations project={project} mayStart={can(perms.data, 'evaluation', 'create')} />
      <Algorithms project={project} mayUpload={can(perms.data, 'algorithm', 'create')} />
      <Suites project={project} mayMake={can(perms.data, 'suite', 'create')} />
      <CompetitionList project={project} />
    </section>
  );
}

// ---- one evaluation ----------------------------------------------------------------

const isRecord = (v: Json): v is Record<string, Json> => typeof v === 'object' && v !== null && !Array.isArray(v);

// The numbers of a metrics object by dotted name, tables and matrices left out.
function numbers(m: Json, prefix = ''): [string, number][] {
  if (!isRecord(m)) return [];
  const out: [string, number][] = [];
  for (const [k, v] of Object.entries(m)) {
    if (k === 'confusion_matrix' || k === 'per_category' || k === 'per_class' || k === 'pr_curve_50') continue;
    if (typeof v === 'number') out.push([prefix + k, v]);
    else if (isRecord(v)) out.push(...numbers(v, `${prefix}${k}.`));
  }
  return out;
}

interface Matrix {
  name: string;
  rows: string[];
  columns: string[];
  counts: number[][];
}
function matrices(m: Json, prefix = ''): Matrix[] {
  if (!isRecord(m)) return [];
  const out: Matrix[] = [];
  for (const [k, v] of Object.entries(m)) {
    if (k === 'confusion_matrix' && isRecord(v)) {
      out.push({
        name: prefix.replace(/\.$/, '') || 'labels',
        rows: (v.rows as string[]) ?? [],
        columns: (v.columns as string[]) ?? [],
        counts: (v.counts as number[][]) ?? [],
      });
    } else if (isRecord(v)) out.push(...matrices(v, `${prefix}${k}.`));
  }
  return out;
}

const show = (v: Json) => (typeof v === 'number' ? formatNumber(v, { maximumFractionDigits: 4 }) : String(v ?? '–'));

function PrCurves({ metrics }: { metrics: Json }) {
  const { t } = useTranslation();
  const cats = isRecord(metrics) && Array.isArray(metrics.per_category) ? (metrics.per_category as Json[]) : [];
  const series = cats
    .filter((c): c is Record<string, Json> => isRecord(c) && Array.isArray(c.pr_curve_50))
    .map((c) => ({
      type: 'line',
      name: String(c.name),
      showSymbol: false,
      data: (c.pr_curve_50 as number[]).map((p, i) => [i / 100, p < 0 ? null : p]),
    }));
  if (series.length === 0) return null;
  const option: ChartOption = {
    tooltip: { trigger: 'axis', renderMode: 'richText' },
    legend: { top: 0 },
    grid: { left: 50, right: 20, top: 40, bottom: 40 },
    xAxis: { type: 'value', name: t('autotest.recall'), min: 0, max: 1 },
    yAxis: { type: 'value', name: t('autotest.precision'), min: 0, max: 1 },
    series,
  };
  return (
    <section aria-labelledby="pr-h">
      <h2 id="pr-h">{t('autotest.prCurves')}</h2>
      <Chart option={option} label={t('autotest.prCurves')} />
    </section>
  );
}

export function EvaluationView() {
  const { t } = useTranslation();
  const { project = '', id = '' } = useParams();
  const perms = usePermissions(project);
  const base = `/api/v1/projects/${seg(project)}/evaluations/${seg(id)}`;
  const e = useQuery({
    queryKey: ['evaluation', project, id],
    queryFn: () => api<Evaluation>(base),
    refetchInterval: (q) => (q.state.data && ended(q.state.data.state) ? false : 1000),
  });
  const cancel = useMutation({ mutationFn: () => api(`${base}/cancel`, { method: 'POST', body: {} }) });
  if (e.isError && isNotFound(e.error)) return <NotFound />;
  const ev = e.data;
  const r = (ev?.result ?? null) as Record<string, Json> | null;
  const metrics = r?.metrics ?? {};
  const perf = isRecord(r?.performance) ? (r!.performance as Record<string, Json>) : {};
  const errs = isRecord(r?.errors) ? (r!.errors as Record<string, Json>) : {};
  const byKind = isRecord(errs.by_kind) ? (errs.by_kind as Record<string, Json>) : {};
  const thresholds = Array.isArray(r?.thresholds) ? (r!.thresholds as Record<string, Json>[]) : [];
  const worst = Array.isArray(r?.worst_samples) ? (r!.worst_samples as Record<string, Json>[]) : [];
  return (
    <section aria-busy={e.isPending}>
      <ProjectTabs project={project} />
      <p>
        <Link to={`/projects/${seg(project)}/tests`}>{t('autotest.back')}</Link>
      </p>
      <h2>{t('autotest.evaluationTitle', { id })}</h2>
      {e.isError && <ErrorView error={e.error} />}
      {ev && (
        <>
          <dl className="facts">
            <dt>{t('autotest.suite')}</dt>
            <dd>
              {t('autotest.suiteVersion', { name: ev.suite, version: ev.suite_version })} (
              {t(`datasets.levels.${ev.suite_level}`, { defaultValue: ev.suite_level })})
            </dd>
            <dt>{t('autotest.algorithm')}</dt>
            <dd>
              {ev.algorithm} {ev.algorithm_version}
            </dd>
            <dt>{t('autotest.state')}</dt>
            <dd>
              <StateBadge state={ev.state} /> {ev.message}
            </dd>
            <dt>{t('autotest.job')}</dt>
            <dd>
              <Link to={`/projects/${seg(project)}/jobs/${seg(ev.job_id)}`}>{ev.job_id}</Link>
            </dd>
            <dt>{t('autotest.owner')}</dt>
            <dd>{ev.owner}</dd>
            <dt>{t('autotest.created')}</dt>
            <dd>{formatTime(ev.created_at)}</dd>
          </dl>
          {!ended(ev.state) && can(perms.data, 'evaluation', 'cancel') && (
            <button type="button" onClick={() => cancel.mutate()} disabled={cancel.isPending}>
              {t('autotest.cancel')}
            </button>
          )}
          {!ev.full && <p className="notice">{t('autotest.redacted')}</p>}
          {r && (
            <p>
              <a href={`${base}/report`} target="_blank" rel="noreferrer">
                {t('autotest.htmlReport')}
              </a>
              {can(perms.data, 'suite', 'samples') &&
                ['report.json', 'samples.csv'].map((f) => (
                  <span key={f}>
                    {' · '}
                    <a href={`${base}/files/${f}`} download>
                      {f}
                    </a>
                  </span>
                ))}
            </p>
          )}
          {thresholds.length > 0 && (
            <table>
              <caption>{t('autotest.thresholds')}</caption>
              <thead>
                <tr>
                  <th scope="col">{t('autotest.threshold')}</th>
                  <th scope="col">{t('autotest.value')}</th>
                  <th scope="col">{t('autotest.verdict')}</th>
                </tr>
              </thead>
              <tbody>
                {thresholds.map((x) => (
                  <tr key={String(x.threshold)}>
                    <td>
                      <code>{String(x.threshold)}</code>
                    </td>
                    <td>{show(x.value)}</td>
                    <td>{x.passed ? t('autotest.pass') : t('autotest.fail')}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          {r && (
            <div className="columns">
              <table>
                <caption>{t('autotest.metrics')}</caption>
                <tbody>
                  {numbers(metrics).map(([k, v]) => (
                    <tr key={k}>
                      <th scope="row">{k}</th>
                      <td>{show(v)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
              <table>
                <caption>{t('autotest.performance')}</caption>
                <tbody>
                  {Object.entries(perf).map(([k, v]) => (
                    <tr key={k}>
                      <th scope="row">{t(`autotest.perf.${k}`, { defaultValue: k })}</th>
                      <td>{show(v)}</td>
                    </tr>
                  ))}
                  <tr>
                    <th scope="row">{t('autotest.errors')}</th>
                    <td>{show(errs.count)}</td>
                  </tr>
                  {Object.entries(byKind).map(([k, v]) => (
                    <tr key={k}>
                      <th scope="row">{t(`autotest.errorKinds.${k}`, { defaultValue: k })}</th>
                      <td>{show(v)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
          {matrices(metrics).map((m) => (
            <table key={m.name} className="matrix">
              <caption>{t('autotest.confusion', { name: m.name })}</caption>
              <thead>
                <tr>
                  <th scope="col">{t('autotest.annotatedPredicted')}</th>
                  {m.columns.map((c) => (
                    <th scope="col" key={c}>
                      {c}
                    </th>
                  ))}
                </tr>
              </thead>
              <tbody>
                {m.rows.map((row, i) => (
                  <tr key={row}>
                    <th scope="row">{row}</th>
                    {(m.counts[i] ?? []).map((n, j) => (
                      <td key={j}>{n}</td>
                    ))}
                  </tr>
                ))}
              </tbody>
            </table>
          ))}
          <PrCurves metrics={metrics} />
          {worst.length > 0 && (
            <table>
              <caption>{t('autotest.worst')}</caption>
              <thead>
                <tr>
                  <th scope="col">{t('autotest.sample')}</th>
                  <th scope="col">{t('autotest.score')}</th>
                </tr>
              </thead>
              <tbody>
                {worst.map((w) => (
                  <tr key={String(w.id)}>
                    <td>{String(w.id)}</td>
                    <td>{show(w.score)}</td>
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

export function TestsHome() {
  const { t } = useTranslation();
  const navigate = useNavigate();
  const projects = useQuery({
    queryKey: ['projects-for-tests'],
    queryFn: () => api<Page<Schemas['Project']>>(pagePath('/api/v1/projects', 200)),
  });
  return (
    <section>
      <h1>{t('autotest.homeTitle')}</h1>
      <p className="muted">{t('autotest.homeIntro')}</p>
      {projects.isError && <ErrorView error={projects.error} />}
      <ul className="plain">
        {(projects.data?.items ?? []).map((p) => (
          <li key={p.name}>
            <button type="button" className="link" onClick={() => navigate(`/projects/${seg(p.name)}/tests`)}>
              {p.name}
            </button>
          </li>
        ))}
      </ul>
    </section>
  );
}
