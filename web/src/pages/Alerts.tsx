// Alerts of a project (a tab of its pages) or of the platform (admins): the built-in
// rules with this scope's settings, the receivers notifications go to (add one, send it a
// test message, turn it off, remove it), and the delivery history.
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { useTranslation } from 'react-i18next';
import { useParams } from 'react-router-dom';
import { api, isNotFound, seg, type Page, type Schemas } from '../api/client';
import { can, usePermissions } from '../api/permissions';
import { isPlatformAdmin, useSession } from '../api/session';
import { ErrorView, errorText } from '../components/ErrorView';
import { Field } from '../components/Field';
import { ProjectTabs } from '../components/ProjectTabs';
import { formatTime } from '../i18n/format';
import { NotFound } from './NotFound';

type Rule = Schemas['AlertRule'];
type Receiver = Schemas['Receiver'];
type Notification = Schemas['Notification'];
type TestAnswer = Schemas['ReceiverTest'];

const channels = ['webhook', 'slack', 'dingtalk', 'wecom', 'feishu', 'email'] as const;
const severities = ['info', 'warning', 'critical'] as const;
const namePattern = /^[a-z0-9][a-z0-9_-]{0,62}$/;

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
      <Rules base={base} scopeKey={scopeKey} mayEdit={mayEdit} />
      <Receivers base={base} scopeKey={scopeKey} mayEdit={mayEdit} />
      <History base={base} scopeKey={scopeKey} />
    </>
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
      {set.isError && (
        <p className="error" role="alert">
          {errorText(set.error, t)}
        </p>
      )}
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

function Receivers({ base, scopeKey, mayEdit }: { base: string; scopeKey: string; mayEdit: boolean }) {
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
              <th scope="col">{t('alerts.state')}</th>
              {mayEdit && <th scope="col">{t('alerts.actions')}</th>}
            </tr>
          </thead>
          <tbody>
            {receivers.data.items.map((r) => (
              <tr key={r.name}>
                <th scope="row">{r.name}</th>
                <td>{t(`alerts.channels.${r.channel}`)}</td>
                <td className="mono">{target(r)}</td>
                <td>{t(`alerts.severities.${r.min_severity}`)}</td>
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
  const email = channel === 'email';
  const add = useMutation({
    mutationFn: () => {
      const config: Record<string, unknown> = email
        ? { smtp_url: url, from, to: to.split(',').map((s) => s.trim()).filter(Boolean), ...(username ? { username } : {}) }
        : { url };
      return api<Receiver>(`${base}/receivers`, {
        method: 'POST',
        body: { name, channel, config, min_severity: minSeverity, ...(secret ? { secret } : {}) },
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
      {add.isError && (
        <p className="error" role="alert">
          {errorText(add.error, t)}
        </p>
      )}
      <button type="submit" className="primary" disabled={add.isPending || badName || !name || !url}>
        {t('alerts.addButton')}
      </button>
    </form>
  );
}

function History({ base, scopeKey }: { base: string; scopeKey: string }) {
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
