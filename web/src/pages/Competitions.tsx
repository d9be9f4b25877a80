// Competitions (docs/AUTOTEST.md, "Competitions"): teams submit the results CSV their
// package made, scored for a board per split (the hidden split's shown after the close);
// at the close the platform runs the top packages again and signs a verdict for each
// (identical, within tolerance, modified), which `jizhan autotest verify-verdict` checks
// offline with the platform's key.
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, useParams } from 'react-router-dom';
import { api, isNotFound, seg, type Page, type Schemas } from '../api/client';
import { can, usePermissions } from '../api/permissions';
import { ErrorView, errorText } from '../components/ErrorView';
import { Field } from '../components/Field';
import { ProjectTabs } from '../components/ProjectTabs';
import { formatNumber, formatTime } from '../i18n/format';
import { NotFound } from './NotFound';
import { useAlgorithms, useSuites } from './autotestQueries';

type Competition = Schemas['Competition'];
type Submission = Schemas['Submission'];
type Verdict = Schemas['Verdict'];
interface BoardRow {
  rank: number;
  team: string;
  score: number;
  algorithm: string;
  version: string;
  submitted_at: string;
  verdict: string | null;
}
interface Board {
  closed: boolean;
  rank_by: string;
  items: BoardRow[];
}

// "NAME=VALUE" lines as pairs; null when a line has no '='.
function pairs(text: string): [string, string][] | null {
  const out: [string, string][] = [];
  for (const line of text.split('\n').map((l) => l.trim())) {
    if (line === '') continue;
    const eq = line.indexOf('=');
    if (eq <= 0) return null;
    out.push([line.slice(0, eq).trim(), line.slice(eq + 1).trim()]);
  }
  return out;
}

// The organisers' form: two suites, the times, the limit, the CSV's columns and the teams.
export function NewCompetition({ project, onDone }: { project: string; onDone: () => void }) {
  const { t } = useTranslation();
  const [name, setName] = useState('');
  const [pub, setPub] = useState('');
  const [hidden, setHidden] = useState('');
  const [opens, setOpens] = useState('');
  const [closes, setCloses] = useState('');
  const [limit, setLimit] = useState('5');
  const [columns, setColumns] = useState('');
  const [teams, setTeams] = useState('');
  const suites = useSuites(project);
  const cols = pairs(columns);
  const teamPairs = pairs(teams);
  const make = useMutation({
    mutationFn: () =>
      api<Competition>(`/api/v1/projects/${seg(project)}/competitions`, {
        method: 'POST',
        body: {
          name,
          public_suite: pub,
          hidden_suite: hidden,
          opens_at: new Date(opens).toISOString(),
          closes_at: new Date(closes).toISOString(),
          daily_limit: Number(limit),
          columns: (cols ?? []).map(([n, path]) => ({ name: n, path })),
          teams: Object.fromEntries(
            (teamPairs ?? []).map(([team, users]) => [team, users.split(',').map((u) => u.trim()).filter(Boolean)]),
          ),
        },
      }),
    onSuccess: onDone,
  });
  const ready = name !== '' && pub !== '' && hidden !== '' && opens !== '' && closes !== '' && !!cols?.length && !!teamPairs?.length;
  const suiteOptions = (suites.data?.items ?? []).map((s) => (
    <option key={s.name} value={s.name}>
      {s.name}
    </option>
  ));
  return (
    <form
      className="card wide"
      noValidate
      onSubmit={(e: FormEvent) => {
        e.preventDefault();
        if (ready) make.mutate();
      }}
    >
      <h3>{t('competitions.new')}</h3>
      <div className="row">
        <Field id="comp-name" label={t('competitions.name')}>
          <input id="comp-name" value={name} onChange={(e) => setName(e.target.value)} />
        </Field>
        <Field id="comp-public" label={t('competitions.publicSuite')}>
          <select id="comp-public" value={pub} onChange={(e) => setPub(e.target.value)}>
            <option value="">{t('autotest.choose')}</option>
            {suiteOptions}
          </select>
        </Field>
        <Field id="comp-hidden" label={t('competitions.hiddenSuite')}>
          <select id="comp-hidden" value={hidden} onChange={(e) => setHidden(e.target.value)}>
            <option value="">{t('autotest.choose')}</option>
            {suiteOptions}
          </select>
        </Field>
      </div>
      <div className="row">
        <Field id="comp-opens" label={t('competitions.opens')}>
          <input id="comp-opens" type="datetime-local" value={opens} onChange={(e) => setOpens(e.target.value)} />
        </Field>
        <Field id="comp-closes" label={t('competitions.closes')}>
          <input id="comp-closes" type="datetime-local" value={closes} onChange={(e) => setCloses(e.target.value)} />
        </Field>
        <Field id="comp-limit" label={t('competitions.dailyLimit')}>
          <input id="comp-limit" type="number" min={1} value={limit} onChange={(e) => setLimit(e.target.value)} />
        </Field>
      </div>
      <div className="row">
        <Field
          id="comp-columns"
          label={t('competitions.columns')}
          help={cols === null ? undefined : t('competitions.columnsHelp')}
          error={cols === null ? t('competitions.pairsInvalid') : undefined}
        >
          <textarea id="comp-columns" rows={3} className="code" value={columns} aria-describedby="comp-columns-help" onChange={(e) => setColumns(e.target.value)} />
        </Field>
        <Field
          id="comp-teams"
          label={t('competitions.teams')}
          help={teamPairs === null ? undefined : t('competitions.teamsHelp')}
          error={teamPairs === null ? t('competitions.pairsInvalid') : undefined}
        >
          <textarea id="comp-teams" rows={3} className="code" value={teams} aria-describedby="comp-teams-help" onChange={(e) => setTeams(e.target.value)} />
        </Field>
      </div>
      {make.isError && <p role="alert" className="error">{errorText(make.error, t)}</p>}
      <button type="submit" className="primary" disabled={!ready || make.isPending}>
        {t('competitions.make')}
      </button>
    </form>
  );
}

export function CompetitionList({ project }: { project: string }) {
  const { t } = useTranslation();
  const qc = useQueryClient();
  const perms = usePermissions(project);
  const list = useQuery({
    queryKey: ['competitions', project],
    queryFn: () => api<Page<Competition>>(`/api/v1/projects/${seg(project)}/competitions`),
  });
  return (
    <section aria-labelledby="competitions-h">
      <h2 id="competitions-h">{t('competitions.title')}</h2>
      <p className="muted">{t('competitions.intro')}</p>
      {list.isError && <ErrorView error={list.error} />}
      {list.data && list.data.items.length === 0 && <p className="muted">{t('competitions.none')}</p>}
      {list.data && list.data.items.length > 0 && (
        <table>
          <caption className="visually-hidden">{t('competitions.title')}</caption>
          <thead>
            <tr>
              <th scope="col">{t('common.name')}</th>
              <th scope="col">{t('competitions.state')}</th>
              <th scope="col">{t('competitions.opens')}</th>
              <th scope="col">{t('competitions.closes')}</th>
            </tr>
          </thead>
          <tbody>
            {list.data.items.map((c) => (
              <tr key={c.name}>
                <td>
                  <Link to={`/projects/${seg(project)}/tests/competitions/${seg(c.name)}`}>{c.name}</Link>
                </td>
                <td>{t(`competitions.states.${c.state}`)}</td>
                <td>{formatTime(c.opens_at)}</td>
                <td>{formatTime(c.closes_at)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {can(perms.data, 'suite', 'create') && (
        <NewCompetition project={project} onDone={() => qc.invalidateQueries({ queryKey: ['competitions', project] })} />
      )}
    </section>
  );
}

function BoardTable({
  project,
  name,
  split,
  waitsUntil,
}: {
  project: string;
  name: string;
  split: 'public' | 'hidden';
  waitsUntil?: string; // the hidden board before the close (not for organisers): its time
}) {
  const { t } = useTranslation();
  const board = useQuery({
    queryKey: ['board', project, name, split],
    queryFn: () => api<Board>(`/api/v1/projects/${seg(project)}/competitions/${seg(name)}/board?split=${split}`),
    refetchInterval: 3000,
    retry: false,
    enabled: !waitsUntil,
  });
  const label = t(split === 'public' ? 'competitions.publicBoard' : 'competitions.hiddenBoard');
  return (
    <section aria-label={label}>
      <h3>{label}</h3>
      {waitsUntil && <p className="muted">{t('competitions.hiddenUntil', { time: formatTime(waitsUntil) })}</p>}
      {board.isError && <p className="muted">{errorText(board.error, t)}</p>}
      {board.data && board.data.items.length === 0 && <p className="muted">{t('competitions.noEntries')}</p>}
      {board.data && board.data.items.length > 0 && (
        <table>
          <caption className="visually-hidden">{label}</caption>
          <thead>
            <tr>
              <th scope="col">{t('competitions.rank')}</th>
              <th scope="col">{t('competitions.team')}</th>
              <th scope="col">{board.data.rank_by}</th>
              <th scope="col">{t('autotest.algorithm')}</th>
              <th scope="col">{t('competitions.submitted')}</th>
              <th scope="col">{t('competitions.verdict')}</th>
            </tr>
          </thead>
          <tbody>
            {board.data.items.map((r) => (
              <tr key={r.team}>
                <td>{r.rank}</td>
                <td>{r.team}</td>
                <td>{formatNumber(r.score, { maximumFractionDigits: 4 })}</td>
                <td>
                  {r.algorithm} {r.version}
                </td>
                <td>{formatTime(r.submitted_at)}</td>
                <td>{r.verdict ? t(`competitions.verdicts.${r.verdict}`, { defaultValue: r.verdict }) : '–'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

function Submit({ project, name, onDone }: { project: string; name: string; onDone: () => void }) {
  const { t } = useTranslation();
  const [split, setSplit] = useState('public');
  const [algorithm, setAlgorithm] = useState('');
  const [file, setFile] = useState<File | null>(null);
  const algorithms = useAlgorithms(project);
  const send = useMutation({
    mutationFn: async () => {
      const [a, version] = algorithm.split('@');
      return api<Submission>(`/api/v1/projects/${seg(project)}/competitions/${seg(name)}/submissions`, {
        method: 'POST',
        body: { split, algorithm: a, version, csv: await file!.text() },
      });
    },
    onSuccess: onDone,
  });
  return (
    <form
      className="card wide"
      noValidate
      onSubmit={(e: FormEvent) => {
        e.preventDefault();
        if (file && algorithm) send.mutate();
      }}
    >
      <h3>{t('competitions.submit')}</h3>
      <div className="row">
        <Field id="sub-split" label={t('competitions.split')}>
          <select id="sub-split" value={split} onChange={(e) => setSplit(e.target.value)}>
            <option value="public">{t('competitions.splits.public')}</option>
            <option value="hidden">{t('competitions.splits.hidden')}</option>
          </select>
        </Field>
        <Field id="sub-package" label={t('competitions.madeBy')}>
          <select id="sub-package" value={algorithm} onChange={(e) => setAlgorithm(e.target.value)}>
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
        <Field id="sub-csv" label={t('competitions.csv')} help={t('competitions.csvHelp')}>
          <input id="sub-csv" type="file" accept=".csv" aria-describedby="sub-csv-help" onChange={(e) => setFile(e.target.files?.[0] ?? null)} />
        </Field>
      </div>
      {send.isError && <p role="alert" className="error">{errorText(send.error, t)}</p>}
      <button type="submit" className="primary" disabled={!file || !algorithm || send.isPending}>
        {t('competitions.send')}
      </button>
    </form>
  );
}

export function CompetitionView() {
  const { t } = useTranslation();
  const { project = '', name = '' } = useParams();
  const qc = useQueryClient();
  const perms = usePermissions(project);
  const base = `/api/v1/projects/${seg(project)}/competitions/${seg(name)}`;
  const c = useQuery({
    queryKey: ['competition', project, name],
    queryFn: () => api<Competition>(base),
    refetchInterval: 5000,
  });
  const subs = useQuery({
    queryKey: ['submissions', project, name],
    queryFn: () => api<Page<Submission>>(`${base}/submissions`),
    refetchInterval: 5000,
  });
  const verdicts = useQuery({
    queryKey: ['verdicts', project, name],
    queryFn: () => api<Page<Verdict>>(`${base}/verdicts`),
    refetchInterval: 3000,
  });
  if (c.isError && isNotFound(c.error)) return <NotFound />;
  const comp = c.data;
  return (
    <section aria-busy={c.isPending}>
      <ProjectTabs project={project} />
      <p>
        <Link to={`/projects/${seg(project)}/tests`}>{t('autotest.back')}</Link>
      </p>
      <h2>{t('competitions.heading', { name })}</h2>
      {c.isError && <ErrorView error={c.error} />}
      {comp && (
        <>
          <dl className="facts">
            <dt>{t('competitions.state')}</dt>
            <dd>{t(`competitions.states.${comp.state}`)}</dd>
            <dt>{t('competitions.publicSuite')}</dt>
            <dd>{comp.public_suite}</dd>
            <dt>{t('competitions.hiddenSuite')}</dt>
            <dd>{comp.hidden_suite}</dd>
            <dt>{t('competitions.opens')}</dt>
            <dd>{formatTime(comp.opens_at)}</dd>
            <dt>{t('competitions.closes')}</dt>
            <dd>{formatTime(comp.closes_at)}</dd>
            <dt>{t('competitions.dailyLimit')}</dt>
            <dd>{comp.daily_limit}</dd>
            <dt>{t('competitions.yourTeam')}</dt>
            <dd>{comp.your_team || t('competitions.noTeam')}</dd>
          </dl>
          <BoardTable project={project} name={name} split="public" />
          <BoardTable
            project={project}
            name={name}
            split="hidden"
            waitsUntil={
              comp.state === 'open' && Date.parse(comp.closes_at) > Date.now() && !can(perms.data, 'suite', 'samples')
                ? comp.closes_at
                : undefined
            }
          />
          {comp.your_team && comp.state === 'open' && (
            <Submit
              project={project}
              name={name}
              onDone={() => {
                qc.invalidateQueries({ queryKey: ['submissions', project, name] });
                qc.invalidateQueries({ queryKey: ['board', project, name] });
              }}
            />
          )}
          {subs.data && subs.data.items.length > 0 && (
            <table>
              <caption>{t('competitions.submissions')}</caption>
              <thead>
                <tr>
                  <th scope="col">{t('competitions.team')}</th>
                  <th scope="col">{t('competitions.split')}</th>
                  <th scope="col">{t('competitions.score')}</th>
                  <th scope="col">{t('autotest.algorithm')}</th>
                  <th scope="col">{t('competitions.submitted')}</th>
                </tr>
              </thead>
              <tbody>
                {subs.data.items.map((s) => (
                  <tr key={s.id}>
                    <td>{s.team}</td>
                    <td>{t(`competitions.splits.${s.split}`)}</td>
                    <td>{s.score === null || s.score === undefined ? t('competitions.afterClose') : formatNumber(s.score, { maximumFractionDigits: 4 })}</td>
                    <td>
                      {s.algorithm} {s.version}
                    </td>
                    <td>{formatTime(s.created_at)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          {verdicts.data && verdicts.data.items.length > 0 && (
            <section aria-labelledby="verdicts-h">
              <h3 id="verdicts-h">{t('competitions.signedVerdicts')}</h3>
              <p className="muted">
                {t('competitions.verifyHelp')} <a href="/api/v1/autotest/verdict-key">{t('competitions.key')}</a>
              </p>
              <table>
                <caption className="visually-hidden">{t('competitions.signedVerdicts')}</caption>
                <thead>
                  <tr>
                    <th scope="col">{t('competitions.team')}</th>
                    <th scope="col">{t('competitions.verdict')}</th>
                    <th scope="col">{t('competitions.document')}</th>
                  </tr>
                </thead>
                <tbody>
                  {verdicts.data.items.map((v) => {
                    const payload = v.document ? (JSON.parse(String((v.document as { payload?: string }).payload ?? '{}')) as { verdict?: string }) : {};
                    return (
                      <tr key={v.id}>
                        <td>{v.team}</td>
                        <td>{payload.verdict ? t(`competitions.verdicts.${payload.verdict}`, { defaultValue: payload.verdict }) : t('competitions.verdicts.re-running')}</td>
                        <td>
                          {v.document && (
                            <a
                              href={`data:application/json;charset=utf-8,${encodeURIComponent(JSON.stringify(v.document, null, 2))}`}
                              download={`${v.team}.json`}
                            >
                              {t('competitions.download')}
                            </a>
                          )}
                        </td>
                      </tr>
                    );
                  })}
                </tbody>
              </table>
            </section>
          )}
        </>
      )}
    </section>
  );
}
