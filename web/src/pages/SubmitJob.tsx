// The job form: every field of a job request, checked while typing, with the project's
// quota beside it. The server checks again and its message names the field it refuses.
import { useMutation, useQuery } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, useNavigate, useParams } from 'react-router-dom';
import { api, seg, type Schemas } from '../api/client';
import { ActionError } from '../components/ActionError';
import { Field } from '../components/Field';
import { formatNumber } from '../i18n/format';
import { jobKinds, jobsPath } from './jobs';

type GpuMode = 'none' | 'whole' | 'share';

export interface JobForm {
  kind: 'train' | 'eval' | 'devenv';
  port: string;
  stripPrefix: boolean;
  name: string;
  command: string;
  env: string;
  datasets: string;
  code: string;
  inputs: string;
  packages: string;
  venv: string;
  gpuMode: GpuMode;
  gpus: string;
  shareMemory: string;
  shareCores: string;
  cpu: string;
  memory: string;
  pool: string;
  image: string;
  priority: string;
  preemptible: boolean;
  runtimeLimit: string;
  restartPolicy: 'never' | 'on_failure';
  maxRestarts: string;
  // Watching the job unattended (platform/training/watch.h)
  stalledMinutes: string;
  progressEvery: string;
  milestones: string;
  watchNan: boolean;
  watchCompletion: boolean;
}

export const emptyForm: JobForm = {
  kind: 'train',
  port: '8888',
  stripPrefix: false,
  name: '',
  command: '',
  env: '',
  datasets: '',
  code: '',
  inputs: '',
  packages: '',
  venv: '',
  gpuMode: 'none',
  gpus: '1',
  shareMemory: '4096',
  shareCores: '50',
  cpu: '1',
  memory: '1024',
  pool: '',
  priority: '',
  preemptible: false,
  image: '',
  runtimeLimit: '',
  restartPolicy: 'never',
  maxRestarts: '0',
  stalledMinutes: '30',
  progressEvery: '25',
  milestones: '',
  watchNan: true,
  watchCompletion: true,
};

const milestoneForm = /^\s*[A-Za-z0-9_.\-/:]+\s*(>=|<=|>|<)\s*-?\d+(\.\d+)?([eE][-+]?\d+)?\s*$/;

type Problem = { key: string; values?: Record<string, unknown> };

const whole = (v: string, min: number, max: number): Problem | undefined =>
  /^\d+$/.test(v) && Number(v) >= min && Number(v) <= max
    ? undefined
    : { key: 'submit.mustBeWhole', values: { min, max } };
const positive = (v: string): Problem | undefined =>
  Number.isFinite(Number(v)) && Number(v) > 0 && v.trim() !== '' ? undefined : { key: 'submit.mustBePositive' };

// What is wrong with each field (empty when nothing), and the request when nothing is.
export function checkJob(f: JobForm): { problems: Partial<Record<keyof JobForm, Problem>>; request?: Schemas['JobRequest'] } {
  const problems: Partial<Record<keyof JobForm, Problem>> = {};
  const env: Record<string, string> = {};
  f.env.split('\n').forEach((line, i) => {
    if (!line.trim()) return;
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (!m) problems.env ??= { key: 'submit.envInvalid', values: { line: i + 1 } };
    else env[m[1]] = m[2];
  });
  if (f.gpuMode === 'whole') problems.gpus = whole(f.gpus, 1, 64);
  if (f.gpuMode === 'share') {
    problems.shareMemory = whole(f.shareMemory, 1, 1 << 20);
    problems.shareCores = whole(f.shareCores, 1, 100);
  }
  if (f.cpu) problems.cpu = positive(f.cpu);
  if (f.memory) problems.memory = whole(f.memory, 1, 1 << 24);
  if (f.priority) problems.priority = whole(f.priority, 0, 1000);
  if (f.runtimeLimit) problems.runtimeLimit = whole(f.runtimeLimit, 1, 365 * 86400);
  if (f.image.trim() && !/^[A-Za-z0-9][A-Za-z0-9._/:@-]{0,254}$/.test(f.image.trim())) problems.image = { key: 'submit.imageInvalid' };
  if (f.restartPolicy === 'on_failure') problems.maxRestarts = whole(f.maxRestarts, 0, 100);
  if (f.kind === 'devenv') problems.port = whole(f.port, 1, 65535);
  problems.stalledMinutes = whole(f.stalledMinutes, 0, 10080);
  problems.progressEvery = whole(f.progressEvery, 0, 100);
  const milestones = f.milestones.split('\n').map((l) => l.trim()).filter(Boolean);
  const badMilestone = milestones.findIndex((m) => !milestoneForm.test(m));
  if (badMilestone >= 0) problems.milestones = { key: 'submit.milestoneInvalid', values: { line: badMilestone + 1 } };
  if (f.code.trim() && !/^[A-Za-z0-9._/-]+$/.test(f.code.trim())) problems.code = { key: 'submit.codeInvalid' };
  if (f.venv.trim() && !/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(f.venv.trim())) problems.venv = { key: 'submit.venvInvalid' };
  for (const k of Object.keys(problems) as (keyof JobForm)[]) if (!problems[k]) delete problems[k];
  if (Object.keys(problems).length || !f.name.trim() || !f.command.trim()) return { problems };
  const resources: NonNullable<Schemas['JobRequest']['resources']> = {};
  if (f.cpu) resources.cpu = Number(f.cpu);
  if (f.memory) resources.memory_mib = Number(f.memory);
  if (f.gpuMode === 'whole') resources.gpus = Number(f.gpus);
  if (f.gpuMode === 'share') {
    resources.gpu_share = { memory_mib: Number(f.shareMemory), cores_percent: Number(f.shareCores) };
  }
  const request: Schemas['JobRequest'] = {
    name: f.name.trim(),
    command: ['sh', '-c', f.command],
    resources,
    restart_policy: f.restartPolicy,
  };
  if (f.kind !== 'train') request.kind = f.kind;
  if (f.kind === 'devenv') request.port = Number(f.port);
  if (f.kind === 'devenv' && f.stripPrefix) request.strip_prefix = true;
  if (Object.keys(env).length) request.env = env;
  const datasets = f.datasets.split(',').map((d) => d.trim()).filter(Boolean);
  if (datasets.length) request.datasets = datasets;
  if (f.code.trim()) request.code = f.code.trim();
  const inputs = f.inputs.split(',').map((d) => d.trim()).filter(Boolean);
  if (inputs.length) request.inputs = inputs;
  const packages = f.packages.split(/[\s,]+/).filter(Boolean);
  if (packages.length || f.venv.trim()) {
    request.environment = {};
    if (packages.length) request.environment.packages = packages;
    if (f.venv.trim()) request.environment.venv = f.venv.trim();
  }
  if (f.pool.trim()) request.pool = f.pool.trim();
  if (f.priority) request.priority = Number(f.priority);
  if (f.preemptible) request.preemptible = true;
  if (f.runtimeLimit) request.runtime_limit_s = Number(f.runtimeLimit);
  if (f.image.trim()) request.image = f.image.trim();
  if (f.restartPolicy === 'on_failure') request.max_restarts = Number(f.maxRestarts);
  // Only what differs from the platform's defaults.
  const monitor: NonNullable<Schemas['JobRequest']['monitor']> = {};
  if (f.stalledMinutes !== emptyForm.stalledMinutes) monitor.stalled_minutes = Number(f.stalledMinutes);
  if (f.progressEvery !== emptyForm.progressEvery) monitor.progress_every_percent = Number(f.progressEvery);
  if (!f.watchNan) monitor.nan = false;
  if (!f.watchCompletion) monitor.completion = false;
  if (milestones.length) monitor.milestones = milestones;
  if (f.kind !== 'devenv' && Object.keys(monitor).length) request.monitor = monitor;
  return { problems, request };
}

export function SubmitJob() {
  const { t } = useTranslation();
  const { project = '' } = useParams();
  const navigate = useNavigate();
  const [f, setF] = useState<JobForm>(emptyForm);
  const set = <K extends keyof JobForm>(k: K, v: JobForm[K]) => setF((old) => ({ ...old, [k]: v }));
  const { problems, request } = checkJob(f);
  const quota = useQuery({
    queryKey: ['quota', project],
    queryFn: () => api<Schemas['Quota']>(`/api/v1/projects/${seg(project)}/quota`),
  });
  const submit = useMutation({
    mutationFn: (r: Schemas['JobRequest']) => api<Schemas['Job']>(jobsPath(project), { method: 'POST', body: r }),
    onSuccess: (j) => navigate(`/projects/${seg(project)}/jobs/${seg(j.id)}`),
  });
  const say = (k: keyof JobForm) => (problems[k] ? t(problems[k]!.key, problems[k]!.values) : undefined);
  const text = (k: keyof JobForm, label: string, extra: { help?: string; type?: string; step?: string } = {}) => (
    <Field id={`job-${k}`} label={label} help={extra.help} error={say(k)}>
      <input
        id={`job-${k}`}
        type={extra.type ?? 'text'}
        step={extra.step}
        value={f[k] as string}
        aria-invalid={!!problems[k]}
        aria-describedby={problems[k] || extra.help ? `job-${k}-help` : undefined}
        onChange={(e) => set(k, e.target.value as never)}
      />
    </Field>
  );
  const limits = quota.data
    ? Object.entries(quota.data)
        .filter(([k, v]) => k !== 'usage' && typeof v === 'number')
        .map(([k, v]) => `${k} ${formatNumber(v as number)}`)
        .join(', ')
    : '';
  return (
    <section>
      <p className="crumbs">
        <Link to={`/projects/${seg(project)}`}>{t('project.title', { name: project })}</Link>
      </p>
      <h1>{t('submit.title', { project })}</h1>
      {quota.data && <p className="muted">{t('submit.quotaLeft', { limits: limits || t('submit.unlimited') })}</p>}
      <form
        className="card wide"
        noValidate
        onSubmit={(e: FormEvent) => {
          e.preventDefault();
          if (request) submit.mutate(request);
        }}
      >
        <div className="row">
          {text('name', t('submit.name'))}
          <Field id="job-kind" label={t('submit.kind')}>
            <select id="job-kind" value={f.kind} onChange={(e) => set('kind', e.target.value as JobForm['kind'])}>
              {jobKinds.map((k) => (
                <option key={k} value={k}>
                  {t(`jobs.kinds.${k}`)}
                </option>
              ))}
            </select>
          </Field>
          {f.kind === 'devenv' && text('port', t('submit.port'), { type: 'number', help: t('submit.portHelp') })}
        </div>
        {f.kind === 'devenv' && (
          <label className="inline">
            <input type="checkbox" checked={f.stripPrefix} onChange={(e) => set('stripPrefix', e.target.checked)} />
            {t('submit.stripPrefix')}
          </label>
        )}
        <Field id="job-command" label={t('submit.command')} help={t('submit.commandHelp')}>
          <textarea
            id="job-command"
            rows={3}
            value={f.command}
            aria-describedby="job-command-help"
            onChange={(e) => set('command', e.target.value)}
          />
        </Field>
        <Field id="job-env" label={t('submit.env')} help={t('submit.envHelp')} error={say('env')}>
          <textarea
            id="job-env"
            rows={2}
            value={f.env}
            aria-invalid={!!problems.env}
            aria-describedby="job-env-help"
            onChange={(e) => set('env', e.target.value)}
          />
        </Field>
        {text('datasets', t('submit.datasets'), { help: t('submit.datasetsHelp') })}
        {text('code', t('submit.code'), { help: t('submit.codeHelp') })}
        {text('inputs', t('submit.inputs'), { help: t('submit.inputsHelp') })}
        {text('packages', t('submit.packages'), { help: t('submit.packagesHelp') })}
        {text('venv', t('submit.venv'), { help: t('submit.venvHelp') })}
        <fieldset>
          <legend>{t('submit.gpuMode')}</legend>
          {(['none', 'whole', 'share'] as const).map((m) => (
            <label key={m} className="inline">
              <input type="radio" name="gpu-mode" checked={f.gpuMode === m} onChange={() => set('gpuMode', m)} />
              {t(m === 'none' ? 'submit.gpuNone' : m === 'whole' ? 'submit.gpuWhole' : 'submit.gpuShare')}
            </label>
          ))}
          <div className="row">
            {f.gpuMode === 'whole' && text('gpus', t('submit.gpus'), { type: 'number' })}
            {f.gpuMode === 'share' && text('shareMemory', t('submit.shareMemory'), { type: 'number' })}
            {f.gpuMode === 'share' && text('shareCores', t('submit.shareCores'), { type: 'number' })}
          </div>
        </fieldset>
        <div className="row">
          {text('cpu', t('submit.cpu'), { type: 'number', step: '0.1' })}
          {text('memory', t('submit.memory'), { type: 'number' })}
          {text('pool', t('submit.pool'), { help: t('submit.optional') })}
          {text('image', t('submit.image'), { help: t('submit.imageHelp') })}
          {text('priority', t('submit.priority'), { type: 'number', help: t('submit.optional') })}
        </div>
        <div className="row">
          {text('runtimeLimit', t('submit.runtimeLimit'), { type: 'number', help: t('submit.optional') })}
          <Field id="job-restart" label={t('submit.restartPolicy')}>
            <select
              id="job-restart"
              value={f.restartPolicy}
              onChange={(e) => set('restartPolicy', e.target.value as JobForm['restartPolicy'])}
            >
              <option value="never">{t('submit.restartNever')}</option>
              <option value="on_failure">{t('submit.restartOnFailure')}</option>
            </select>
          </Field>
          {f.restartPolicy === 'on_failure' && text('maxRestarts', t('submit.maxRestarts'), { type: 'number' })}
        </div>
        <label className="inline">
          <input type="checkbox" checked={f.preemptible} onChange={(e) => set('preemptible', e.target.checked)} />
          {t('submit.preemptible')}
        </label>
        {f.kind !== 'devenv' && (
          <fieldset>
            <legend>{t('submit.watch')}</legend>
            <p className="muted">{t('submit.watchHelp')}</p>
            <div className="row">
              {text('stalledMinutes', t('submit.stalledMinutes'), { type: 'number', help: t('submit.zeroOff') })}
              {text('progressEvery', t('submit.progressEvery'), { type: 'number', help: t('submit.zeroOff') })}
            </div>
            <Field
              id="job-milestones"
              label={t('submit.milestones')}
              help={t('submit.milestonesHelp')}
              error={say('milestones')}
            >
              <textarea
                id="job-milestones"
                rows={2}
                value={f.milestones}
                aria-invalid={!!problems.milestones}
                aria-describedby="job-milestones-help"
                onChange={(e) => set('milestones', e.target.value)}
              />
            </Field>
            <label className="inline">
              <input type="checkbox" checked={f.watchNan} onChange={(e) => set('watchNan', e.target.checked)} />
              {t('submit.watchNan')}
            </label>
            <label className="inline">
              <input
                type="checkbox"
                checked={f.watchCompletion}
                onChange={(e) => set('watchCompletion', e.target.checked)}
              />
              {t('submit.watchCompletion')}
            </label>
          </fieldset>
        )}
        <ActionError of={submit} />
        <button type="submit" className="primary" disabled={!request || submit.isPending}>
          {submit.isPending ? t('submit.submitting') : t('submit.submit')}
        </button>
      </form>
    </section>
  );
}
