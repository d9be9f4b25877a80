// Alerts of a project (a tab of its pages), of a workspace (its admins change them, its
// viewers read them) or of the platform (admins): the built-in rules with this scope's
// settings, the receivers notifications go to (add one, send it a
// test message, turn it off, remove it), and the delivery history.
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, useParams } from 'react-router-dom';
import { api, isNotFound, seg, type Page, type Schemas } from '../api/client';
import { can, usePermissions, useWorkspacePermissions } from '../api/permissions';
import { isPlatformAdmin, useSession } from '../api/session';
import { ActionError } from '../components/ActionError';
import { ErrorView, errorText } from '../components/ErrorView';
import { Field } from '../components/Field';
import { ProjectTabs } from '../components/ProjectTabs';
import { formatTime } from '../i18n/format';
import { NotFound } from './NotFound';

type Rule = Schemas['AlertRule'];
type Receiver = Schemas['Receiver'];
type Notification = Schemas['Notification'];
type TestAnswer = Schemas['ReceiverTest'];
type CustomRule = Schemas['CustomRule'];
type ActiveAlert = Schemas['ActiveAlert'];
type Preview = Schemas['AlertPreview'];
type Silence = Schemas['Silence'];
type Inhibition = Schemas['Inhibition'];

const channels = ['webhook', 'slack', 'dingtalk', 'wecom', 'feishu', 'email'] as const;
const severities = ['info', 'warning', 'critical'] as const;
const languages = ['en', 'zh-CN'] as const;
const namePattern = /^[a-z0-9][a-z0-9_-]{0,62}$/;
// An expression, not words: the same in every language.
const exprExample = 'avg_over_time(jizhan_job_gpu_util[30m]) < 5';
const silenceExample = 'alertname="job_failed", resource=~"job_01.*"';
const matchersExample = 'severity="critical", team="cv"';
const inhibitSourceExample = 'alertname="LossDiverged"';
const inhibitTargetExample = 'severity="warning"';
const inhibitEqualExample = 'project, run';
// Template names are the same in every language.
const templateNames = ['$status', '$severity', '$count', '$title', '$text', '$link', '$receiver', '$labels.NAME', '$annotations.NAME']
  .map((n) => `{{ ${n} }}`)
  .join(' ');
const titleTemplateExample = '{{ $labels.project }}: {{ $title }}';
const textTemplateExample = '{{ $text }}\nRunbook: https://wiki.example/{{ $labels.alertname }}';

export function ProjectAlerts() {
  const { project = '' } = useParams();
  const perms = usePermissions(project);
  const rules = useQuery({
    queryKey: ['alerts', project, 'rules'],
    queryFn: () => api<Rule[]>(`/api/v1/projects/${seg(project)}/alert-rules`),
  });
  if (isNotFound(rules.error)) return <NotFound resource />;
  return (
    <section>
      <ProjectTabs project={project} />
      <Alerts base={`/api/v1/projects/${seg(project)}`} scopeKey={project} mayEdit={can(perms.data, 'alert', 'update')} />
      <Thresholds project={project} mayEdit={can(perms.data, 'project', 'update')} />
    </section>
  );
}

export function WorkspaceAlerts() {
  const { t } = useTranslation();
  const { workspace = '' } = useParams();
  const perms = useWorkspacePermissions(workspace);
  const rules = useQuery({
    queryKey: ['alerts', `ws:${workspace}`, 'rules'],
    queryFn: () => api<Rule[]>(`/api/v1/workspaces/${seg(workspace)}/alert-rules`),
  });
  if (isNotFound(rules.error)) return <NotFound resource />;
  return (
    <section>
      <p className="crumbs">
        <Link to={`/workspaces/${seg(workspace)}`}>{t('workspace.title', { name: workspace })}</Link>
      </p>
      <h1>{t('alerts.workspaceTitle', { name: workspace })}</h1>
      <p className="lead">{t('alerts.workspaceIntro')}</p>
      <Alerts
        base={`/api/v1/workspaces/${seg(workspace)}`}
        scopeKey={`ws:${workspace}`}
        mayEdit={can(perms.data, 'alert', 'update')}
      />
    </section>
  );
}

export function PlatformAlerts() {
  const { t } = useTranslation();
  const { user } = useSession();
  return (
    <section>
      <h1>{t('alerts.platformTitle')}</h1>
      <p className="lead">{t('alerts.platformIntro')}</p>
      <Alerts base="/api/v1/alerting" scopeKey="" mayEdit={isPlatformAdmin(user)} />
    </section>
  );
}

function Alerts({ base, scopeKey, mayEdit }: { base: string; scopeKey: string; mayEdit: boolean }) {
  return (
    <>
      <Active base={base} scopeKey={scopeKey} />
      <Rules base={base} scopeKey={scopeKey} mayEdit={mayEdit} />
      <CustomRules base={base} scopeKey={scopeKey} mayEdit={mayEdit} />
      <Silences base={base} scopeKey={scopeKey} mayEdit={mayEdit} />
      <Inhibitions base={base} scopeKey={scopeKey} mayEdit={mayEdit} />
      <Receivers base={base} scopeKey={scopeKey} mayEdit={mayEdit} />
      <History base={base} scopeKey={scopeKey} />
    </>
  );
}

// The project's job settings the built-in rules read: how long a job may wait in the
// queue, and how long a dev environment may idle (its owner is warned before the end).
function Thresholds({ project, mayEdit }: { project: string; mayEdit: boolean }) {
  const { t } = useTranslation();
  const client = useQueryClient();
  const key = ['job-settings', project];
  const settings = useQuery({
    queryKey: key,
    queryFn: () => api<Schemas['JobSettings']>(`/api/v1/projects/${seg(project)}/job-settings`),
  });
  const [queued, setQueued] = useState<string | null>(null);
  const [idle, setIdle] = useState<string | null>(null);
  const minutes = (s: number | undefined) => (s === undefined ? '' : String(Math.round(s / 60)));
  const queuedText = queued ?? minutes(settings.data?.queued_alert_s);
  const idleText = idle ?? minutes(settings.data?.devenv_idle_s);
  const bad = !/^\d+$/.test(queuedText) || !/^\d+$/.test(idleText) || Number(idleText) < 1;
  const save = useMutation({
    mutationFn: () =>
      api<Schemas['JobSettings']>(`/api/v1/projects/${seg(project)}/job-settings`, {
        method: 'PUT',
        body: { queued_alert_s: Number(queuedText) * 60, devenv_idle_s: Number(idleText) * 60 },
      }),
    onSuccess: () => {
      setQueued(null);
      setIdle(null);
      void client.invalidateQueries({ queryKey: key });
    },
  });
  if (!settings.data) return null;
  return (
    <form
      className="card wide"
      noValidate
      onSubmit={(e: FormEvent) => {
        e.preventDefault();
        if (!bad) save.mutate();
      }}
    >
      <h2>{t('alerts.thresholds')}</h2>
      <p className="muted">{t('alerts.thresholdsIntro')}</p>
      <div className="row">
        <Field id="queued-alert-minutes" label={t('alerts.queuedMinutes')} help={t('alerts.queuedMinutesHelp')}>
          <input
            id="queued-alert-minutes"
            inputMode="numeric"
            value={queuedText}
            disabled={!mayEdit}
            aria-describedby="queued-alert-minutes-help"
            onChange={(e) => setQueued(e.target.value)}
          />
        </Field>
        <Field id="devenv-idle-minutes" label={t('alerts.idleMinutes')} help={t('alerts.idleMinutesHelp')}>
          <input
            id="devenv-idle-minutes"
            inputMode="numeric"
            value={idleText}
            disabled={!mayEdit}
            aria-describedby="devenv-idle-minutes-help"
            onChange={(e) => setIdle(e.target.value)}
          />
        </Field>
      </div>
      <ActionError of={save} />
      {save.isSuccess && queued === null && idle === null && (
        <p role="status" className="ok">
          {t('alerts.thresholdsSaved')}
        </p>
      )}
      {mayEdit && (
        <button type="submit" className="primary" disabled={bad || save.isPending}>
          {t('alerts.saveThresholds')}
        </button>
      )}
    </form>
  );
}

function Rules({ base, scopeKey, mayEdit }: { base: string; scopeKey: string; mayEdit: boolean }) {
  const { t } = useTranslation();
  const client = useQueryClient();
  const key = ['alerts', scopeKey, 'rules'];
  const rules = useQuery({ queryKey: key, queryFn: () => api<Rule[]>(`${base}/alert-rules`) });
  const set = useMutation({
    mutationFn: ({ rule, patch }: { rule: string; patch: Schemas['AlertRulePatch'] }) =>
      api<Rule>(`${base}/alert-rules/${seg(rule)}`, { method: 'PATCH', body: patch }),
    onSettled: () => void client.invalidateQueries({ queryKey: key }),
  });
  return (
    <>
      <h2>{t('alerts.rules')}</h2>
      <p className="muted">{t('alerts.rulesIntro')}</p>
      {rules.isError && <ErrorView error={rules.error} onRetry={() => rules.refetch()} />}
      <ActionError of={set} />
      {rules.data && (
        <table aria-label={t('alerts.rules')}>
          <thead>
            <tr>
              <th scope="col">{t('alerts.rule')}</th>
              <th scope="col">{t('alerts.on')}</th>
              <th scope="col">{t('alerts.severity')}</th>
              <th scope="col">{t('alerts.setBy')}</th>
            </tr>
          </thead>
          <tbody>
            {rules.data.map((r) => {
              const label = t(`alerts.ruleNames.${r.rule}`, { defaultValue: r.rule });
              return (
                <tr key={r.rule}>
                  <th scope="row">{label}</th>
                  <td>
                    <input
                      type="checkbox"
                      aria-label={t('alerts.ruleOn', { rule: label })}
                      checked={r.enabled}
                      disabled={!mayEdit || set.isPending}
                      onChange={(e) => set.mutate({ rule: r.rule, patch: { enabled: e.target.checked } })}
                    />
                  </td>
                  <td>
                    <select
                      aria-label={t('alerts.ruleSeverity', { rule: label })}
                      value={r.severity}
                      disabled={!mayEdit || set.isPending}
                      onChange={(e) => set.mutate({ rule: r.rule, patch: { severity: e.target.value as Rule['severity'] } })}
                    >
                      {severities.map((s) => (
                        <option key={s} value={s}>
                          {t(`alerts.severities.${s}`)}
                        </option>
                      ))}
                    </select>
                  </td>
                  <td>{t(`alerts.setByValues.${r.set_by}`)}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
    </>
  );
}

function labelText(labels: Record<string, string>, skip: string[] = []): string {
  return Object.entries(labels)
    .filter(([k]) => !skip.includes(k))
    .map(([k, v]) => `${k}=${v}`)
    .join(', ');
}

function Active({ base, scopeKey }: { base: string; scopeKey: string }) {
  const { t } = useTranslation();
  const active = useQuery({
    queryKey: ['alerts', scopeKey, 'active'],
    queryFn: () => api<ActiveAlert[]>(`${base}/alerts`),
    refetchInterval: 5000,
  });
  return (
    <>
      <h2>{t('alerts.active')}</h2>
      {active.isError && <ErrorView error={active.error} onRetry={() => active.refetch()} />}
      {active.data && active.data.length === 0 && <p className="empty">{t('alerts.noActive')}</p>}
      {active.data && active.data.length > 0 && (
        <table aria-label={t('alerts.active')}>
          <thead>
            <tr>
              <th scope="col">{t('alerts.rule')}</th>
              <th scope="col">{t('alerts.state')}</th>
              <th scope="col">{t('alerts.what')}</th>
              <th scope="col">{t('alerts.labels')}</th>
              <th scope="col">{t('alerts.since')}</th>
            </tr>
          </thead>
          <tbody>
            {active.data.map((a) => (
              <tr key={a.fingerprint}>
                <th scope="row">{a.rule}</th>
                <td>{t(`alerts.activeStates.${a.state}`)}</td>
                <td>{a.annotations.summary ?? ''}</td>
                <td className="mono">{labelText(a.labels, ['alertname'])}</td>
                <td>{formatTime(a.fired_at ?? a.active_since)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}

function CustomRules({ base, scopeKey, mayEdit }: { base: string; scopeKey: string; mayEdit: boolean }) {
  const { t } = useTranslation();
  const client = useQueryClient();
  const key = ['alerts', scopeKey, 'custom'];
  const rules = useQuery({ queryKey: key, queryFn: () => api<CustomRule[]>(`${base}/custom-rules`) });
  const refresh = () => void client.invalidateQueries({ queryKey: key });
  const toggle = useMutation({
    mutationFn: (r: CustomRule) => api<CustomRule>(`${base}/custom-rules/${seg(r.name)}`, { method: 'PATCH', body: { enabled: !r.enabled } }),
    onSettled: refresh,
  });
  const remove = useMutation({
    mutationFn: (name: string) => api<void>(`${base}/custom-rules/${seg(name)}`, { method: 'DELETE' }),
    onSettled: refresh,
  });
  const failed = [toggle, remove].find((m) => m.isError);
  return (
    <>
      <div className="heading-row">
        <h2>{t('alerts.customRules')}</h2>
        <div className="spacer" />
        <a className="button" href={`${base}/prometheus-rules`} download="jizhan-rules.yml">
          {t('alerts.export')}
        </a>
      </div>
      <p className="muted">{t('alerts.customIntro')}</p>
      {rules.isError && <ErrorView error={rules.error} onRetry={() => rules.refetch()} />}
      {failed && (
        <p className="error" role="alert">
          {errorText(failed.error, t)}
        </p>
      )}
      {rules.data && rules.data.length === 0 && <p className="empty">{t('alerts.noCustom')}</p>}
      {rules.data && rules.data.length > 0 && (
        <table aria-label={t('alerts.customRules')}>
          <thead>
            <tr>
              <th scope="col">{t('alerts.name')}</th>
              <th scope="col">{t('alerts.expr')}</th>
              <th scope="col">{t('alerts.for')}</th>
              <th scope="col">{t('alerts.severity')}</th>
              <th scope="col">{t('alerts.state')}</th>
              {mayEdit && <th scope="col">{t('alerts.actions')}</th>}
            </tr>
          </thead>
          <tbody>
            {rules.data.map((r) => (
              <tr key={r.name}>
                <th scope="row">{r.name}</th>
                <td className="mono">{r.expr}</td>
                <td>{r.for}</td>
                <td>{t(`alerts.severities.${r.severity}`)}</td>
                <td>{r.enabled ? t('alerts.enabled') : t('alerts.disabled')}</td>
                {mayEdit && (
                  <td className="actions">
                    <button type="button" onClick={() => toggle.mutate(r)}>
                      {r.enabled ? t('alerts.disable') : t('alerts.enable')}
                    </button>
                    <button
                      type="button"
                      className="danger"
                      onClick={() => window.confirm(t('alerts.removeRuleConfirm', { name: r.name })) && remove.mutate(r.name)}
                    >
                      {t('alerts.remove')}
                    </button>
                  </td>
                )}
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {mayEdit && <AddCustomRule base={base} onAdded={refresh} />}
    </>
  );
}

function AddCustomRule({ base, onAdded }: { base: string; onAdded: () => void }) {
  const { t } = useTranslation();
  const [name, setName] = useState('');
  const [expr, setExpr] = useState('');
  const [forText, setFor] = useState('5m');
  const [severity, setSeverity] = useState<(typeof severities)[number]>('warning');
  const [summary, setSummary] = useState('');
  const add = useMutation({
    mutationFn: () =>
      api<CustomRule>(`${base}/custom-rules`, {
        method: 'POST',
        body: { name, expr, for: forText, severity, ...(summary ? { annotations: { summary } } : {}) },
      }),
    onSuccess: () => {
      setName('');
      setExpr('');
      setSummary('');
      preview.reset();
      onAdded();
    },
  });
  const preview = useMutation({
    mutationFn: () => api<Preview>(`${base}/alert-preview`, { method: 'POST', body: { expr } }),
  });
  const badName = name !== '' && !namePattern.test(name);
  return (
    <form
      className="card wide"
      noValidate
      onSubmit={(e: FormEvent) => {
        e.preventDefault();
        if (!badName && name && expr) add.mutate();
      }}
    >
      <h3>{t('alerts.addRule')}</h3>
      <div className="row">
        <Field id="rule-name" label={t('alerts.name')} error={badName ? t('alerts.nameRule') : undefined}>
          <input id="rule-name" value={name} aria-invalid={badName} onChange={(e) => setName(e.target.value)} />
        </Field>
        <Field id="rule-for" label={t('alerts.for')} help={t('alerts.forHelp')}>
          <input id="rule-for" value={forText} aria-describedby="rule-for-help" onChange={(e) => setFor(e.target.value)} />
        </Field>
        <Field id="rule-severity" label={t('alerts.severity')}>
          <select id="rule-severity" value={severity} onChange={(e) => setSeverity(e.target.value as (typeof severities)[number])}>
            {severities.map((s) => (
              <option key={s} value={s}>
                {t(`alerts.severities.${s}`)}
              </option>
            ))}
          </select>
        </Field>
      </div>
      <Field id="rule-expr" label={t('alerts.expr')} help={t('alerts.exprHelp')}>
        <textarea
          id="rule-expr"
          className="mono"
          rows={2}
          value={expr}
          aria-describedby="rule-expr-help"
          placeholder={exprExample}
          onChange={(e) => setExpr(e.target.value)}
        />
      </Field>
      <Field id="rule-summary" label={t('alerts.summary')} help={t('alerts.summaryHelp', { labels: '{{ $labels.job }}', value: '{{ $value }}' })}>
        <input id="rule-summary" value={summary} aria-describedby="rule-summary-help" onChange={(e) => setSummary(e.target.value)} />
      </Field>
      {(add.isError || preview.isError) && (
        <p className="error" role="alert">
          {errorText(add.error ?? preview.error, t)}
        </p>
      )}
      {preview.data && (
        <div role="status">
          {preview.data.samples.length === 0 ? (
            <p className="muted">{t('alerts.previewNone')}</p>
          ) : (
            <>
              <p>{t('alerts.previewSome', { count: preview.data.samples.length })}</p>
              <ul className="mono">
                {preview.data.samples.slice(0, 20).map((x) => (
                  <li key={labelText(x.labels)}>
                    {labelText(x.labels)} = {x.value}
                  </li>
                ))}
              </ul>
            </>
          )}
        </div>
      )}
      <div className="actions">
        <button type="button" disabled={!expr || preview.isPending} onClick={() => preview.mutate()}>
          {t('alerts.preview')}
        </button>
        <button type="submit" className="primary" disabled={add.isPending || badName || !name || !expr}>
          {t('alerts.addRuleButton')}
        </button>
      </div>
    </form>
  );
}

type Matchers = { label?: unknown; op?: unknown; value?: unknown }[];
const matchersText = (ms: Matchers) => ms.map((m) => `${String(m.label)}${String(m.op)}"${String(m.value)}"`).join(', ');

function Inhibitions({ base, scopeKey, mayEdit }: { base: string; scopeKey: string; mayEdit: boolean }) {
  const { t } = useTranslation();
  const client = useQueryClient();
  const key = ['alerts', scopeKey, 'inhibitions'];
  const list = useQuery({ queryKey: key, queryFn: () => api<Inhibition[]>(`${base}/inhibitions`) });
  const [source, setSource] = useState('');
  const [target, setTarget] = useState('');
  const [equal, setEqual] = useState('');
  const [comment, setComment] = useState('');
  const refresh = () => void client.invalidateQueries({ queryKey: key });
  const add = useMutation({
    mutationFn: () =>
      api<Inhibition>(`${base}/inhibitions`, {
        method: 'POST',
        body: {
          source,
          target,
          comment,
          equal: equal
            .split(',')
            .map((s) => s.trim())
            .filter(Boolean),
        },
      }),
    onSuccess: () => {
      setSource('');
      setTarget('');
      setEqual('');
      setComment('');
      refresh();
    },
  });
  const remove = useMutation({
    mutationFn: (id: string) => api<void>(`${base}/inhibitions/${seg(id)}`, { method: 'DELETE' }),
    onSettled: refresh,
  });
  const items = list.data ?? [];
  return (
    <>
      <h2>{t('alerts.inhibitions')}</h2>
      <p className="muted">{t('alerts.inhibitionsIntro')}</p>
      {list.isError && <ErrorView error={list.error} onRetry={() => list.refetch()} />}
      <ActionError of={remove} />
      {list.data && items.length === 0 && <p className="empty">{t('alerts.noInhibitions')}</p>}
      {items.length > 0 && (
        <table aria-label={t('alerts.inhibitions')}>
          <thead>
            <tr>
              <th scope="col">{t('alerts.inhibitSource')}</th>
              <th scope="col">{t('alerts.inhibitTarget')}</th>
              <th scope="col">{t('alerts.inhibitEqual')}</th>
              <th scope="col">{t('alerts.comment')}</th>
              {mayEdit && <th scope="col">{t('alerts.actions')}</th>}
            </tr>
          </thead>
          <tbody>
            {items.map((x) => (
              <tr key={x.id}>
                <th scope="row" className="mono">
                  {matchersText(x.source as Matchers)}
                </th>
                <td className="mono">{matchersText(x.target as Matchers)}</td>
                <td className="mono">{(x.equal ?? []).join(', ')}</td>
                <td>{x.comment}</td>
                {mayEdit && (
                  <td className="actions">
                    <button type="button" onClick={() => remove.mutate(x.id)}>
                      {t('alerts.removeInhibition', { comment: x.comment })}
                    </button>
                  </td>
                )}
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {mayEdit && (
        <form
          className="card wide"
          noValidate
          onSubmit={(e: FormEvent) => {
            e.preventDefault();
            if (source && target && comment) add.mutate();
          }}
        >
          <h3>{t('alerts.addInhibition')}</h3>
          <div className="row">
            <Field id="inhibit-source" label={t('alerts.inhibitSource')}>
              <input id="inhibit-source" className="mono" value={source} placeholder={inhibitSourceExample} onChange={(e) => setSource(e.target.value)} />
            </Field>
            <Field id="inhibit-target" label={t('alerts.inhibitTarget')}>
              <input id="inhibit-target" className="mono" value={target} placeholder={inhibitTargetExample} onChange={(e) => setTarget(e.target.value)} />
            </Field>
          </div>
          <div className="row">
            <Field id="inhibit-equal" label={t('alerts.inhibitEqual')}>
              <input id="inhibit-equal" className="mono" value={equal} placeholder={inhibitEqualExample} onChange={(e) => setEqual(e.target.value)} />
            </Field>
            <Field id="inhibit-comment" label={t('alerts.comment')}>
              <input id="inhibit-comment" value={comment} onChange={(e) => setComment(e.target.value)} />
            </Field>
          </div>
          <ActionError of={add} />
          <button type="submit" className="primary" disabled={add.isPending || !source || !target || !comment}>
            {t('alerts.addInhibitionButton')}
          </button>
        </form>
      )}
    </>
  );
}

function Silences({ base, scopeKey, mayEdit }: { base: string; scopeKey: string; mayEdit: boolean }) {
  const { t } = useTranslation();
  const client = useQueryClient();
  const key = ['alerts', scopeKey, 'silences'];
  const silences = useQuery({ queryKey: key, queryFn: () => api<Silence[]>(`${base}/silences`) });
  const [matchers, setMatchers] = useState('');
  const [duration, setDuration] = useState('2h');
  const [comment, setComment] = useState('');
  const refresh = () => void client.invalidateQueries({ queryKey: key });
  const add = useMutation({
    mutationFn: () => api<Silence>(`${base}/silences`, { method: 'POST', body: { matchers, duration, comment } }),
    onSuccess: () => {
      setMatchers('');
      setComment('');
      refresh();
    },
  });
  const end = useMutation({
    mutationFn: (id: string) => api<void>(`${base}/silences/${seg(id)}`, { method: 'DELETE' }),
    onSettled: refresh,
  });
  const shown = (silences.data ?? []).filter((x) => x.state !== 'expired');
  return (
    <>
      <h2>{t('alerts.silences')}</h2>
      <p className="muted">{t('alerts.silencesIntro')}</p>
      {silences.isError && <ErrorView error={silences.error} onRetry={() => silences.refetch()} />}
      <ActionError of={end} />
      {silences.data && shown.length === 0 && <p className="empty">{t('alerts.noSilences')}</p>}
      {shown.length > 0 && (
        <table aria-label={t('alerts.silences')}>
          <thead>
            <tr>
              <th scope="col">{t('alerts.matchers')}</th>
              <th scope="col">{t('alerts.until')}</th>
              <th scope="col">{t('alerts.comment')}</th>
              <th scope="col">{t('alerts.by')}</th>
              {mayEdit && <th scope="col">{t('alerts.actions')}</th>}
            </tr>
          </thead>
          <tbody>
            {shown.map((x) => {
              const text = matchersText(x.matchers);
              return (
                <tr key={x.id}>
                  <th scope="row" className="mono">
                    {text}
                  </th>
                  <td>{formatTime(x.ends_at)}</td>
                  <td>{x.comment}</td>
                  <td>{x.created_by ?? ''}</td>
                  {mayEdit && (
                    <td className="actions">
                      <button type="button" onClick={() => end.mutate(x.id)}>
                        {t('alerts.endSilence')}
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
        <form
          className="card wide"
          noValidate
          onSubmit={(e: FormEvent) => {
            e.preventDefault();
            if (matchers && comment) add.mutate();
          }}
        >
          <h3>{t('alerts.addSilence')}</h3>
          <Field id="silence-matchers" label={t('alerts.matchers')} help={t('alerts.matchersHelp', { example: silenceExample })}>
            <input id="silence-matchers" className="mono" value={matchers} aria-describedby="silence-matchers-help" onChange={(e) => setMatchers(e.target.value)} />
          </Field>
          <div className="row">
            <Field id="silence-duration" label={t('alerts.duration')}>
              <input id="silence-duration" value={duration} onChange={(e) => setDuration(e.target.value)} />
            </Field>
            <Field id="silence-comment" label={t('alerts.comment')}>
              <input id="silence-comment" value={comment} onChange={(e) => setComment(e.target.value)} />
            </Field>
          </div>
          <ActionError of={add} />
          <button type="submit" className="primary" disabled={add.isPending || !matchers || !comment}>
            {t('alerts.addSilenceButton')}
          </button>
        </form>
      )}
    </>
  );
}

function target(r: Receiver): string {
  const c = r.config as Record<string, unknown>;
  const url = String(c.url ?? c.smtp_url ?? '');
  try {
    const u = new URL(url);
    return r.channel === 'email' ? `${u.host} → ${String((c.to as string[] | undefined)?.join(', ') ?? '')}` : u.host + u.pathname;
  } catch {
    return url;
  }
}

export function Receivers({ base, scopeKey, mayEdit }: { base: string; scopeKey: string; mayEdit: boolean }) {
  const { t } = useTranslation();
  const client = useQueryClient();
  const key = ['alerts', scopeKey, 'receivers'];
  const receivers = useQuery({ queryKey: key, queryFn: () => api<Page<Receiver>>(`${base}/receivers?page_size=1000`) });
  const [answers, setAnswers] = useState<Record<string, TestAnswer>>({});
  const refresh = () => {
    void client.invalidateQueries({ queryKey: key });
    void client.invalidateQueries({ queryKey: ['alerts', scopeKey, 'history'] });
  };
  const test = useMutation({
    mutationFn: (name: string) => api<TestAnswer>(`${base}/receivers/${seg(name)}/test`, { method: 'POST', body: {} }),
    onSuccess: (a, name) => setAnswers((old) => ({ ...old, [name]: a })),
    onSettled: refresh,
  });
  const toggle = useMutation({
    mutationFn: (r: Receiver) => api<Receiver>(`${base}/receivers/${seg(r.name)}`, { method: 'PATCH', body: { enabled: !r.enabled } }),
    onSettled: refresh,
  });
  const remove = useMutation({
    mutationFn: (name: string) => api<void>(`${base}/receivers/${seg(name)}`, { method: 'DELETE' }),
    onSettled: refresh,
  });
  const failed = [test, toggle, remove].find((m) => m.isError);
  return (
    <>
      <h2>{t('alerts.receivers')}</h2>
      <p className="muted">{t('alerts.receiversIntro')}</p>
      {receivers.isError && <ErrorView error={receivers.error} onRetry={() => receivers.refetch()} />}
      {failed && (
        <p className="error" role="alert">
          {errorText(failed.error, t)}
        </p>
      )}
      {receivers.data && receivers.data.items.length === 0 && <p className="empty">{t('alerts.noReceivers')}</p>}
      {receivers.data && receivers.data.items.length > 0 && (
        <table aria-label={t('alerts.receivers')}>
          <thead>
            <tr>
              <th scope="col">{t('alerts.name')}</th>
              <th scope="col">{t('alerts.channel')}</th>
              <th scope="col">{t('alerts.target')}</th>
              <th scope="col">{t('alerts.minSeverity')}</th>
              <th scope="col">{t('alerts.grouping')}</th>
              <th scope="col">{t('alerts.language')}</th>
              <th scope="col">{t('alerts.state')}</th>
              {mayEdit && <th scope="col">{t('alerts.actions')}</th>}
            </tr>
          </thead>
          <tbody>
            {receivers.data.items.map((r) => (
              <tr key={r.name}>
                <th scope="row">{r.name}</th>
                <td>{t(`alerts.channels.${r.channel}`)}</td>
                <td className="mono">
                  {target(r)}
                  {r.matchers && r.matchers.length > 0 && (
                    <>
                      <br />
                      <small>{matchersText(r.matchers as Matchers)}</small>
                    </>
                  )}
                </td>
                <td>{t(`alerts.severities.${r.min_severity}`)}</td>
                <td>
                  {r.group_by.length === 0
                    ? t('alerts.noGrouping')
                    : t('alerts.groupingText', {
                        labels: r.group_by.join(', '),
                        wait: r.group_wait,
                        interval: r.group_interval,
                        repeat: r.repeat_interval === '0s' ? t('alerts.never') : r.repeat_interval,
                      })}
                </td>
                <td>{t(`alerts.languages.${r.language}`)}</td>
                <td>
                  {r.enabled ? t('alerts.enabled') : t('alerts.disabled')}
                  {answers[r.name] && (
                    <span role="status" className={answers[r.name].ok ? 'ok' : 'error'}>
                      {' '}
                      {answers[r.name].ok
                        ? t('alerts.testOk', { code: answers[r.name].code })
                        : t('alerts.testFailed', { detail: answers[r.name].detail })}
                    </span>
                  )}
                </td>
                {mayEdit && (
                  <td className="actions">
                    <button type="button" disabled={test.isPending} onClick={() => test.mutate(r.name)}>
                      {t('alerts.test', { name: r.name })}
                    </button>
                    <button type="button" onClick={() => toggle.mutate(r)}>
                      {r.enabled ? t('alerts.disable') : t('alerts.enable')}
                    </button>
                    <button
                      type="button"
                      className="danger"
                      onClick={() => window.confirm(t('alerts.removeConfirm', { name: r.name })) && remove.mutate(r.name)}
                    >
                      {t('alerts.remove')}
                    </button>
                  </td>
                )}
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {mayEdit && <AddReceiver base={base} onAdded={refresh} />}
    </>
  );
}

function AddReceiver({ base, onAdded }: { base: string; onAdded: () => void }) {
  const { t } = useTranslation();
  const [name, setName] = useState('');
  const [channel, setChannel] = useState<(typeof channels)[number]>('webhook');
  const [url, setUrl] = useState('');
  const [from, setFrom] = useState('');
  const [to, setTo] = useState('');
  const [username, setUsername] = useState('');
  const [secret, setSecret] = useState('');
  const [minSeverity, setMinSeverity] = useState<(typeof severities)[number]>('info');
  const [language, setLanguage] = useState<(typeof languages)[number]>('en');
  const [groupBy, setGroupBy] = useState('');
  const [matchers, setMatchers] = useState('');
  const [titleTemplate, setTitleTemplate] = useState('');
  const [textTemplate, setTextTemplate] = useState('');
  const [groupWait, setGroupWait] = useState('30s');
  const [groupInterval, setGroupInterval] = useState('5m');
  const [repeatInterval, setRepeatInterval] = useState('4h');
  const email = channel === 'email';
  const groupLabels = groupBy
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const add = useMutation({
    mutationFn: () => {
      const config: Record<string, unknown> = email
        ? { smtp_url: url, from, to: to.split(',').map((s) => s.trim()).filter(Boolean), ...(username ? { username } : {}) }
        : { url };
      return api<Receiver>(`${base}/receivers`, {
        method: 'POST',
        body: {
          name,
          channel,
          config,
          min_severity: minSeverity,
          language,
          ...(secret ? { secret } : {}),
          ...(matchers.trim() ? { matchers: matchers.trim() } : {}),
          ...(titleTemplate || textTemplate
            ? { templates: { ...(titleTemplate ? { title: titleTemplate } : {}), ...(textTemplate ? { text: textTemplate } : {}) } }
            : {}),
          ...(groupLabels.length > 0
            ? { group_by: groupLabels, group_wait: groupWait, group_interval: groupInterval, repeat_interval: repeatInterval }
            : {}),
        },
      });
    },
    onSuccess: () => {
      setName('');
      setUrl('');
      setSecret('');
      onAdded();
    },
  });
  const badName = name !== '' && !namePattern.test(name);
  return (
    <form
      className="card wide"
      noValidate
      onSubmit={(e: FormEvent) => {
        e.preventDefault();
        if (!badName && name && url) add.mutate();
      }}
    >
      <h3>{t('alerts.add')}</h3>
      <div className="row">
        <Field id="receiver-name" label={t('alerts.name')} error={badName ? t('alerts.nameRule') : undefined}>
          <input id="receiver-name" value={name} aria-invalid={badName} onChange={(e) => setName(e.target.value)} />
        </Field>
        <Field id="receiver-channel" label={t('alerts.channel')}>
          <select id="receiver-channel" value={channel} onChange={(e) => setChannel(e.target.value as (typeof channels)[number])}>
            {channels.map((c) => (
              <option key={c} value={c}>
                {t(`alerts.channels.${c}`)}
              </option>
            ))}
          </select>
        </Field>
        <Field id="receiver-severity" label={t('alerts.minSeverity')}>
          <select id="receiver-severity" value={minSeverity} onChange={(e) => setMinSeverity(e.target.value as (typeof severities)[number])}>
            {severities.map((s) => (
              <option key={s} value={s}>
                {t(`alerts.severities.${s}`)}
              </option>
            ))}
          </select>
        </Field>
      </div>
      <Field id="receiver-url" label={email ? t('alerts.smtpUrl') : t('alerts.url')} help={t(`alerts.hints.${channel}`)}>
        <input
          id="receiver-url"
          type="url"
          value={url}
          placeholder={email ? 'smtp://mail.example.com:587' : 'https://'}
          aria-describedby="receiver-url-help"
          onChange={(e) => setUrl(e.target.value)}
        />
      </Field>
      {email && (
        <div className="row">
          <Field id="receiver-from" label={t('alerts.from')}>
            <input id="receiver-from" value={from} onChange={(e) => setFrom(e.target.value)} />
          </Field>
          <Field id="receiver-to" label={t('alerts.to')}>
            <input id="receiver-to" value={to} onChange={(e) => setTo(e.target.value)} />
          </Field>
          <Field id="receiver-username" label={t('alerts.username')}>
            <input id="receiver-username" value={username} onChange={(e) => setUsername(e.target.value)} />
          </Field>
        </div>
      )}
      <Field id="receiver-secret" label={email ? t('alerts.password') : t('alerts.secret')}>
        <input id="receiver-secret" type="password" autoComplete="new-password" value={secret} onChange={(e) => setSecret(e.target.value)} />
      </Field>
      <div className="row">
        <Field id="receiver-language" label={t('alerts.language')}>
          <select id="receiver-language" value={language} onChange={(e) => setLanguage(e.target.value as (typeof languages)[number])}>
            {languages.map((l) => (
              <option key={l} value={l}>
                {t(`alerts.languages.${l}`)}
              </option>
            ))}
          </select>
        </Field>
        <Field id="receiver-matchers" label={t('alerts.matchers')} help={t('alerts.receiverMatchersHelp')}>
          <input
            id="receiver-matchers"
            className="mono"
            value={matchers}
            placeholder={matchersExample}
            aria-describedby="receiver-matchers-help"
            onChange={(e) => setMatchers(e.target.value)}
          />
        </Field>
        <Field id="receiver-group-by" label={t('alerts.groupBy')} help={t('alerts.groupByHelp')}>
          <input id="receiver-group-by" value={groupBy} aria-describedby="receiver-group-by-help" onChange={(e) => setGroupBy(e.target.value)} />
        </Field>
      </div>
      <details>
        <summary>{t('alerts.wording')}</summary>
        <p className="muted">{t('alerts.wordingHelp', { names: templateNames, interpolation: { escapeValue: false } })}</p>
        <Field id="receiver-title-template" label={t('alerts.titleTemplate')}>
          <input
            id="receiver-title-template"
            className="mono"
            value={titleTemplate}
            placeholder={titleTemplateExample}
            onChange={(e) => setTitleTemplate(e.target.value)}
          />
        </Field>
        <Field id="receiver-text-template" label={t('alerts.textTemplate')}>
          <textarea
            id="receiver-text-template"
            className="mono"
            rows={3}
            value={textTemplate}
            placeholder={textTemplateExample}
            onChange={(e) => setTextTemplate(e.target.value)}
          />
        </Field>
      </details>
      {groupLabels.length > 0 && (
        <div className="row">
          <Field id="receiver-group-wait" label={t('alerts.groupWait')}>
            <input id="receiver-group-wait" value={groupWait} onChange={(e) => setGroupWait(e.target.value)} />
          </Field>
          <Field id="receiver-group-interval" label={t('alerts.groupInterval')}>
            <input id="receiver-group-interval" value={groupInterval} onChange={(e) => setGroupInterval(e.target.value)} />
          </Field>
          <Field id="receiver-repeat-interval" label={t('alerts.repeatInterval')}>
            <input id="receiver-repeat-interval" value={repeatInterval} onChange={(e) => setRepeatInterval(e.target.value)} />
          </Field>
        </div>
      )}
      <ActionError of={add} />
      <button type="submit" className="primary" disabled={add.isPending || badName || !name || !url}>
        {t('alerts.addButton')}
      </button>
    </form>
  );
}

export function History({ base, scopeKey }: { base: string; scopeKey: string }) {
  const { t } = useTranslation();
  const history = useQuery({
    queryKey: ['alerts', scopeKey, 'history'],
    queryFn: () => api<Page<Notification>>(`${base}/notifications?page_size=50`),
    refetchInterval: 5000,
  });
  return (
    <>
      <h2>{t('alerts.history')}</h2>
      {history.isError && <ErrorView error={history.error} onRetry={() => history.refetch()} />}
      {history.data && history.data.items.length === 0 && <p className="empty">{t('alerts.noHistory')}</p>}
      {history.data && history.data.items.length > 0 && (
        <table aria-label={t('alerts.history')}>
          <thead>
            <tr>
              <th scope="col">{t('alerts.time')}</th>
              <th scope="col">{t('alerts.receiver')}</th>
              <th scope="col">{t('alerts.what')}</th>
              <th scope="col">{t('alerts.state')}</th>
              <th scope="col">{t('alerts.answer')}</th>
            </tr>
          </thead>
          <tbody>
            {history.data.items.map((n) => (
              <tr key={n.id}>
                <td>{formatTime(n.created_at)}</td>
                <td>{n.receiver}</td>
                <td>
                  <span className={`severity ${n.severity}`}>{t(`alerts.severities.${n.severity}`, { defaultValue: n.severity })}</span>{' '}
                  {n.title}
                </td>
                <td>
                  {t(`alerts.states.${n.state}`)}
                  {n.attempts > 1 && ` (${t('alerts.attempts', { count: n.attempts })})`}
                </td>
                <td className="mono">{n.last_code ? `${n.last_code} ` : ''}{n.last_answer}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}
