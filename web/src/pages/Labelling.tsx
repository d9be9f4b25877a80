// Labelling: a project's tasks and the caller's waiting jobs; a task's jobs, annotator
// statistics and export (data owners); and the tool that draws boxes and polygons on a
// job's images, with keyboard shortcuts, for its annotator and its reviewer.
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useCallback, useEffect, useRef, useState, type FormEvent, type PointerEvent as ReactPointerEvent } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, useParams } from 'react-router-dom';
import { api, seg, type Page, type Schemas } from '../api/client';
import { can, usePermissions } from '../api/permissions';
import { useSession } from '../api/session';
import { ActionError } from '../components/ActionError';
import { ErrorView, errorText } from '../components/ErrorView';
import { Field } from '../components/Field';
import { ProjectTabs } from '../components/ProjectTabs';
import { formatDuration, formatNumber, formatTime } from '../i18n/format';
import { PreAnnotate } from './PreAnnotate';

type Task = Schemas['LabelTask'];
type Job = Schemas['LabelJob'];
type Work = Schemas['LabelWork'];
type JobDetail = Schemas['LabelJobDetail'];
type Dataset = Schemas['Dataset'];

interface Spec {
  classes: string[];
  shapes: string[];
  attributes: { name: string; values: string[] }[];
}
export interface Shape {
  type: 'box' | 'polygon';
  label: string;
  x?: number;
  y?: number;
  width?: number;
  height?: number;
  points?: number[];
  attributes?: Record<string, string>;
}

const list = (s: string) =>
  s
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);

// "occluded: no | yes; truncated: no | yes" -> attributes.
export function parseAttributes(text: string): { name: string; values: string[] }[] {
  return text
    .split(';')
    .map((part) => part.trim())
    .filter(Boolean)
    .map((part) => {
      const [name, values = ''] = part.split(':');
      return {
        name: name.trim(),
        values: values
          .split('|')
          .map((v) => v.trim())
          .filter(Boolean),
      };
    });
}

function JobState({ state }: { state: string }) {
  const { t } = useTranslation();
  return <span className={`badge label-${state}`}>{t(`labelling.states.${state}`, { defaultValue: state })}</span>;
}

function NewTask({ project, onDone }: { project: string; onDone: () => void }) {
  const { t } = useTranslation();
  const base = `/api/v1/projects/${seg(project)}`;
  const datasets = useQuery({
    queryKey: ['datasets', project, 'all'],
    queryFn: () => api<Page<Dataset>>(`${base}/datasets?page_size=1000`),
  });
  const [form, setForm] = useState({
    name: '',
    dataset: '',
    version: '',
    classes: '',
    box: true,
    polygon: false,
    attributes: '',
    jobSize: '50',
    annotators: '',
    reviewers: '',
  });
  const set = (k: keyof typeof form) => (e: { target: { value: string; checked?: boolean; type?: string } }) =>
    setForm({ ...form, [k]: e.target.type === 'checkbox' ? e.target.checked : e.target.value });
  const make = useMutation({
    mutationFn: () => {
      const shapes = [form.box && 'box', form.polygon && 'polygon'].filter(Boolean);
      const body: Record<string, unknown> = {
        name: form.name,
        spec: { classes: list(form.classes), shapes, attributes: parseAttributes(form.attributes) },
        job_size: Number(form.jobSize) || 50,
        annotators: list(form.annotators),
        reviewers: list(form.reviewers),
      };
      if (form.version) body.version = Number(form.version);
      return api<Task>(`${base}/datasets/${seg(form.dataset)}/label-tasks`, { method: 'POST', body });
    },
    onSuccess: onDone,
  });
  return (
    <form className="card wide" aria-label={t('labelling.new')} noValidate onSubmit={(e: FormEvent) => { e.preventDefault(); make.mutate(); }}>
      <h2>{t('labelling.new')}</h2>
      <p className="help">{t('labelling.newHelp')}</p>
      <div className="row">
        <Field id="lt-name" label={t('common.name')}>
          <input id="lt-name" value={form.name} onChange={set('name')} />
        </Field>
        <Field id="lt-dataset" label={t('labelling.dataset')}>
          <select id="lt-dataset" value={form.dataset} onChange={set('dataset')}>
            <option value="">{t('labelling.choose')}</option>
            {(datasets.data?.items ?? []).map((d) => (
              <option key={d.name} value={d.name}>
                {d.name}
              </option>
            ))}
          </select>
        </Field>
        <Field id="lt-version" label={t('labelling.version')} help={t('labelling.versionHelp')}>
          <input id="lt-version" type="number" min={1} value={form.version} aria-describedby="lt-version-help" onChange={set('version')} />
        </Field>
      </div>
      <div className="row">
        <Field id="lt-classes" label={t('labelling.classes')} help={t('labelling.commaHelp')}>
          <input id="lt-classes" value={form.classes} aria-describedby="lt-classes-help" onChange={set('classes')} />
        </Field>
        <Field id="lt-attributes" label={t('labelling.attributes')} help={t('labelling.attributesHelp')}>
          <input id="lt-attributes" value={form.attributes} aria-describedby="lt-attributes-help" onChange={set('attributes')} />
        </Field>
        <fieldset className="field">
          <legend>{t('labelling.shapes')}</legend>
          <label className="check">
            <input type="checkbox" checked={form.box} onChange={set('box')} />
            {t('labelling.box')}
          </label>
          <label className="check">
            <input type="checkbox" checked={form.polygon} onChange={set('polygon')} />
            {t('labelling.polygon')}
          </label>
        </fieldset>
      </div>
      <div className="row">
        <Field id="lt-size" label={t('labelling.jobSize')}>
          <input id="lt-size" type="number" min={1} value={form.jobSize} onChange={set('jobSize')} />
        </Field>
        <Field id="lt-annotators" label={t('labelling.annotators')} help={t('labelling.peopleHelp')}>
          <input id="lt-annotators" value={form.annotators} aria-describedby="lt-annotators-help" onChange={set('annotators')} />
        </Field>
        <Field id="lt-reviewers" label={t('labelling.reviewers')}>
          <input id="lt-reviewers" value={form.reviewers} onChange={set('reviewers')} />
        </Field>
      </div>
      <button type="submit" className="primary" disabled={make.isPending || !form.dataset}>
        {make.isPending ? t('common.creating') : t('labelling.create')}
      </button>
      <ActionError of={make} />
      {make.isSuccess && (
        <p className="ok" role="status">
          {t('labelling.created', { name: make.data.name, images: make.data.images })}
        </p>
      )}
    </form>
  );
}

// The project's tasks, the caller's waiting jobs, and (data owners) a form for a new task.
export function Labelling() {
  const { project = '' } = useParams();
  const { t } = useTranslation();
  const client = useQueryClient();
  const perms = usePermissions(project);
  const base = `/api/v1/projects/${seg(project)}`;
  const tasks = useQuery({ queryKey: ['label-tasks', project], queryFn: () => api<Page<Task>>(`${base}/label-tasks`) });
  const work = useQuery({ queryKey: ['label-work', project], queryFn: () => api<Page<Work>>(`${base}/label-work`) });
  const owner = can(perms.data, 'dataset_data', 'get') && can(perms.data, 'label_task', 'create');
  return (
    <>
      <ProjectTabs project={project} />
      <section aria-label={t('labelling.myWork')}>
        <h2>{t('labelling.myWork')}</h2>
        {work.isError && <ErrorView error={work.error} onRetry={() => work.refetch()} />}
        {work.data && work.data.items.length === 0 && <p className="empty">{t('labelling.noWork')}</p>}
        {work.data && work.data.items.length > 0 && (
          <ul className="plain">
            {work.data.items.map((w) => (
              <li key={w.id}>
                <Link to={`/projects/${seg(project)}/labelling/${w.task_id}/jobs/${w.id}`}>
                  {t(w.role === 'review' ? 'labelling.toReview' : 'labelling.toAnnotate', { task: w.task, seq: w.seq, count: w.images })}
                </Link>{' '}
                <JobState state={w.state} />
                {w.note && <span className="muted"> — {w.note}</span>}
              </li>
            ))}
          </ul>
        )}
      </section>
      <section aria-label={t('labelling.tasks')}>
        <h2>{t('labelling.tasks')}</h2>
        {tasks.isError && <ErrorView error={tasks.error} onRetry={() => tasks.refetch()} />}
        {tasks.data && tasks.data.items.length === 0 && <p className="empty">{t('labelling.noTasks')}</p>}
        {tasks.data && tasks.data.items.length > 0 && (
          <table aria-label={t('labelling.tasks')}>
            <thead>
              <tr>
                <th scope="col">{t('common.name')}</th>
                <th scope="col">{t('labelling.dataset')}</th>
                <th scope="col">{t('labelling.images')}</th>
                <th scope="col">{t('labelling.progress')}</th>
                <th scope="col">{t('labelling.state')}</th>
                <th scope="col">{t('common.created')}</th>
              </tr>
            </thead>
            <tbody>
              {tasks.data.items.map((task) => (
                <tr key={task.id}>
                  <td>
                    <Link to={`/projects/${seg(project)}/labelling/${task.id}`}>{task.name}</Link>
                  </td>
                  <td>
                    {task.dataset} {t('versions.label', { number: task.version })}
                  </td>
                  <td>{formatNumber(task.images)}</td>
                  <td>
                    {Object.entries(task.jobs as Record<string, number>).map(([s, n]) => (
                      <span key={s} className="chips">
                        <JobState state={s} /> {formatNumber(n)}{' '}
                      </span>
                    ))}
                  </td>
                  <td>{task.state === 'exported' ? t('labelling.exportedAs', { number: task.exported_version }) : t('labelling.open')}</td>
                  <td>{formatTime(task.created_at)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
      {owner && <NewTask project={project} onDone={() => client.invalidateQueries({ queryKey: ['label-tasks', project] })} />}
    </>
  );
}

// One task: its jobs, the annotators' statistics, the export (data owners).
export function LabelTaskView() {
  const { project = '', task: id = '' } = useParams();
  const { t } = useTranslation();
  const client = useQueryClient();
  const { user } = useSession();
  const perms = usePermissions(project);
  const root = `/api/v1/projects/${seg(project)}/label-tasks/${seg(id)}`;
  const task = useQuery({ queryKey: ['label-task', root], queryFn: () => api<Task>(root) });
  const jobs = useQuery({ queryKey: ['label-jobs', root], queryFn: () => api<Page<Job>>(`${root}/jobs`) });
  const stats = useQuery({
    queryKey: ['label-stats', root],
    queryFn: () =>
      api<{ annotators: { annotator: string; jobs: number; accepted: number; reworks: number; images: number; shapes: number; work_seconds: number; images_per_hour: number | null; agreement: number | null }[] }>(
        `${root}/statistics`,
      ),
  });
  const [format, setFormat] = useState('coco');
  const exporter = useMutation({
    mutationFn: () => api<Schemas['DatasetVersion']>(`${root}/export`, { method: 'POST', body: { format } }),
    onSuccess: () => client.invalidateQueries({ queryKey: ['label-task', root] }),
  });
  const owner = can(perms.data, 'dataset_data', 'get');
  const mayExport = owner && can(perms.data, 'dataset', 'update') && can(perms.data, 'label_task', 'update');
  if (task.isError) return <ErrorView error={task.error} onRetry={() => task.refetch()} />;
  if (!task.data) return <p>{t('common.loading')}</p>;
  const tk = task.data;
  return (
    <>
      <ProjectTabs project={project} />
      <p>
        <Link to={`/projects/${seg(project)}/labelling`}>{t('labelling.back')}</Link>
      </p>
      <h2>{t('labelling.taskTitle', { name: tk.name })}</h2>
      <p>
        {t('labelling.taskSummary', { dataset: tk.dataset, version: tk.version, images: tk.images })}{' '}
        {(tk.spec as unknown as Spec).classes.map((c) => (
          <span key={c} className="badge">
            {c}
          </span>
        ))}
      </p>
      <section aria-label={t('labelling.jobs')}>
        <h3>{t('labelling.jobs')}</h3>
        {jobs.isError && <ErrorView error={jobs.error} onRetry={() => jobs.refetch()} />}
        {jobs.data && (
          <table aria-label={t('labelling.jobs')}>
            <thead>
              <tr>
                <th scope="col">{t('labelling.job')}</th>
                <th scope="col">{t('labelling.annotator')}</th>
                <th scope="col">{t('labelling.reviewer')}</th>
                <th scope="col">{t('labelling.state')}</th>
                <th scope="col">{t('labelling.images')}</th>
                <th scope="col">{t('labelling.shapesCount')}</th>
                <th scope="col">{t('labelling.reworks')}</th>
              </tr>
            </thead>
            <tbody>
              {jobs.data.items.map((j) => {
                const mine = user && (j.annotator === user.username || j.reviewer === user.username);
                return (
                  <tr key={j.id}>
                    <td>
                      {mine || owner ? (
                        <Link to={`/projects/${seg(project)}/labelling/${tk.id}/jobs/${j.id}`}>{t('labelling.jobN', { seq: j.seq })}</Link>
                      ) : (
                        t('labelling.jobN', { seq: j.seq })
                      )}
                    </td>
                    <td>{j.annotator}</td>
                    <td>{j.reviewer}</td>
                    <td>
                      <JobState state={j.state} />
                    </td>
                    <td>
                      {formatNumber(j.opened ?? 0)} / {formatNumber(j.images)}
                    </td>
                    <td>{formatNumber(j.shapes ?? 0)}</td>
                    <td>{formatNumber(j.reworks ?? 0)}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        )}
      </section>
      <PreAnnotate project={project} root={root} mayStart={owner && can(perms.data, 'label_task', 'update')} open={tk.state === 'open'} />
      <section aria-label={t('labelling.statistics')}>
        <h3>{t('labelling.statistics')}</h3>
        {stats.data && (
          <table aria-label={t('labelling.statistics')}>
            <thead>
              <tr>
                <th scope="col">{t('labelling.annotator')}</th>
                <th scope="col">{t('labelling.jobs')}</th>
                <th scope="col">{t('labelling.accepted')}</th>
                <th scope="col">{t('labelling.images')}</th>
                <th scope="col">{t('labelling.shapesCount')}</th>
                <th scope="col">{t('labelling.reworks')}</th>
                <th scope="col">{t('labelling.workTime')}</th>
                <th scope="col">{t('labelling.perHour')}</th>
                <th scope="col">{t('labelling.agreement')}</th>
              </tr>
            </thead>
            <tbody>
              {stats.data.annotators.map((a) => (
                <tr key={a.annotator}>
                  <th scope="row">{a.annotator}</th>
                  <td>{formatNumber(a.jobs)}</td>
                  <td>{formatNumber(a.accepted)}</td>
                  <td>{formatNumber(a.images)}</td>
                  <td>{formatNumber(a.shapes)}</td>
                  <td>{formatNumber(a.reworks)}</td>
                  <td>{formatDuration(a.work_seconds)}</td>
                  <td>{a.images_per_hour == null ? '–' : formatNumber(a.images_per_hour, { maximumFractionDigits: 1 })}</td>
                  <td>{a.agreement == null ? '–' : formatNumber(a.agreement, { style: 'percent', maximumFractionDigits: 0 })}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
      {mayExport && (
        <section aria-label={t('labelling.export')}>
          <h3>{t('labelling.export')}</h3>
          {tk.state === 'exported' ? (
            <p className="ok">{t('labelling.exportedAs', { number: tk.exported_version })}</p>
          ) : (
            <form className="row" noValidate onSubmit={(e: FormEvent) => { e.preventDefault(); exporter.mutate(); }}>
              <Field id="lt-format" label={t('labelling.format')}>
                <select id="lt-format" value={format} onChange={(e) => setFormat(e.target.value)}>
                  <option value="coco">{t('labelling.coco')}</option>
                  <option value="image-json">{t('labelling.imageJson')}</option>
                </select>
              </Field>
              <div className="field end">
                <button type="submit" className="primary" disabled={exporter.isPending}>
                  {t('labelling.exportButton')}
                </button>
              </div>
            </form>
          )}
          <ActionError of={exporter} />
          {exporter.isSuccess && (
            <p className="ok" role="status">
              {t('labelling.exported', { number: exporter.data.number })}
            </p>
          )}
        </section>
      )}
    </>
  );
}

// The drawing: an SVG over the image in the image's own pixels.
function shapeBounds(s: Shape): [number, number, number, number] {
  if (s.type === 'polygon' && s.points) {
    const xs = s.points.filter((_, i) => i % 2 === 0);
    const ys = s.points.filter((_, i) => i % 2 === 1);
    return [Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys)];
  }
  return [s.x ?? 0, s.y ?? 0, (s.x ?? 0) + (s.width ?? 0), (s.y ?? 0) + (s.height ?? 0)];
}

const round = (v: number) => Math.round(v * 10) / 10;

// A job's images, one at a time: draw, select, delete; save on the way to the next image.
export function LabelTool() {
  const { project = '', task: taskId = '', job: jobId = '' } = useParams();
  const { t } = useTranslation();
  const client = useQueryClient();
  const { user } = useSession();
  const root = `/api/v1/projects/${seg(project)}/label-tasks/${seg(taskId)}/jobs/${seg(jobId)}`;
  const detail = useQuery({ queryKey: ['label-job', root], queryFn: () => api<JobDetail>(root) });
  const [index, setIndex] = useState(0);
  const [shapes, setShapes] = useState<Shape[]>([]);
  const [dirty, setDirty] = useState(false);
  const [size, setSize] = useState<{ w: number; h: number } | null>(null);
  const [label, setLabel] = useState('');
  const [mode, setMode] = useState<'box' | 'polygon'>('box');
  const [drag, setDrag] = useState<{ x0: number; y0: number; x1: number; y1: number } | null>(null);
  const [points, setPoints] = useState<number[]>([]);
  const [selected, setSelected] = useState<number | null>(null);
  const [note, setNote] = useState('');
  const [message, setMessage] = useState('');
  const svgRef = useRef<SVGSVGElement>(null);

  const job = detail.data;
  const spec = job ? (job.task.spec as unknown as Spec) : null;
  const images = job?.items ?? [];
  const image = images[index];
  const me = user?.username ?? '';
  const annotating = !!job && (job.state === 'annotating' || job.state === 'rework') && job.annotator === me;
  const reviewing = !!job && job.state === 'review' && job.reviewer === me;
  const editable = annotating || reviewing;

  // Load the image's saved shapes when it changes.
  useEffect(() => {
    if (!image) return;
    setShapes((image.shapes as unknown as Shape[]) ?? []);
    setDirty(false);
    setSelected(null);
    setPoints([]);
    setDrag(null);
    setSize(null);
  }, [image?.path, job?.state]); // eslint-disable-line react-hooks/exhaustive-deps
  useEffect(() => {
    if (spec && !label) {
      setLabel(spec.classes[0]);
      setMode(spec.shapes.includes('box') ? 'box' : 'polygon');
    }
  }, [spec, label]);

  const save = useMutation({
    mutationFn: (args: { path: string; shapes: Shape[]; w: number; h: number }) =>
      api<void>(`${root}/images/${args.path.split('/').map(seg).join('/')}`, {
        method: 'PUT',
        body: { width: args.w, height: args.h, shapes: args.shapes },
      }),
    onSuccess: () => {
      setDirty(false);
      setMessage(t('labelling.saved'));
      client.invalidateQueries({ queryKey: ['label-job', root] });
    },
    onError: (e) => setMessage(errorText(e, t)),
  });
  const saveNow = useCallback(async () => {
    if (!editable || !image || !size) return;
    await save.mutateAsync({ path: image.path, shapes, w: size.w, h: size.h }).catch(() => undefined);
  }, [editable, image, size, shapes, save]);

  // An image opened for the first time is saved as looked at (its size, no shapes).
  useEffect(() => {
    if (editable && image && size && image.width === 0 && !save.isPending) {
      save.mutate({ path: image.path, shapes, w: size.w, h: size.h });
    }
  }, [size]); // eslint-disable-line react-hooks/exhaustive-deps

  const go = useCallback(
    async (to: number) => {
      if (to < 0 || to >= images.length) return;
      if (dirty) await saveNow();
      setIndex(to);
    },
    [images.length, dirty, saveNow],
  );

  const change = (next: Shape[]) => {
    setShapes(next);
    setDirty(true);
  };
  const closePolygon = () => {
    if (points.length >= 6) change([...shapes, { type: 'polygon', label, points: points.map(round) }]);
    setPoints([]);
  };

  // Keyboard shortcuts (not while typing in a field).
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const target = e.target as HTMLElement;
      if (target.closest('input, textarea, select')) return;
      if (e.key === 's') {
        e.preventDefault();
        void saveNow();
      } else if (e.key === 'n' || e.key === 'ArrowRight') {
        void go(index + 1);
      } else if (e.key === 'N' || e.key === 'ArrowLeft') {
        void go(index - 1);
      } else if (e.key === 'b' && spec?.shapes.includes('box')) {
        setMode('box');
      } else if (e.key === 'p' && spec?.shapes.includes('polygon')) {
        setMode('polygon');
      } else if (e.key === 'Enter' && points.length) {
        closePolygon();
      } else if (e.key === 'Escape') {
        setPoints([]);
        setDrag(null);
        setSelected(null);
      } else if ((e.key === 'Delete' || e.key === 'Backspace') && selected != null && editable) {
        change(shapes.filter((_, i) => i !== selected));
        setSelected(null);
      } else if (/^[1-9]$/.test(e.key) && spec && spec.classes[Number(e.key) - 1]) {
        const c = spec.classes[Number(e.key) - 1];
        setLabel(c);
        if (selected != null && editable) change(shapes.map((s, i) => (i === selected ? { ...s, label: c } : s)));
      }
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  });

  const toImage = (e: ReactPointerEvent<SVGSVGElement>) => {
    const r = svgRef.current!.getBoundingClientRect();
    const w = size?.w ?? 1;
    const h = size?.h ?? 1;
    return {
      x: Math.max(0, Math.min(w, ((e.clientX - r.left) * w) / r.width)),
      y: Math.max(0, Math.min(h, ((e.clientY - r.top) * h) / r.height)),
    };
  };
  const onDown = (e: ReactPointerEvent<SVGSVGElement>) => {
    if (!editable || !size) return;
    const p = toImage(e);
    if (mode === 'polygon') {
      setPoints([...points, round(p.x), round(p.y)]);
      return;
    }
    (e.target as Element).setPointerCapture?.(e.pointerId);
    setDrag({ x0: p.x, y0: p.y, x1: p.x, y1: p.y });
  };
  const onMove = (e: ReactPointerEvent<SVGSVGElement>) => {
    if (!drag) return;
    const p = toImage(e);
    setDrag({ ...drag, x1: p.x, y1: p.y });
  };
  const onUp = () => {
    if (!drag) return;
    const x = Math.min(drag.x0, drag.x1);
    const y = Math.min(drag.y0, drag.y1);
    const w = Math.abs(drag.x1 - drag.x0);
    const h = Math.abs(drag.y1 - drag.y0);
    setDrag(null);
    if (w >= 2 && h >= 2) {
      const attrs = Object.fromEntries((spec?.attributes ?? []).map((a) => [a.name, a.values[0]]));
      change([...shapes, { type: 'box', label, x: round(x), y: round(y), width: round(w), height: round(h), attributes: attrs }]);
      setSelected(shapes.length);
    }
  };

  const submit = useMutation({
    mutationFn: async () => {
      if (dirty) await saveNow();
      return api<Job>(`${root}/submit`, { method: 'POST' });
    },
    onSuccess: () => client.invalidateQueries({ queryKey: ['label-job', root] }),
  });
  const review = useMutation({
    mutationFn: async (decision: 'accept' | 'rework') => {
      if (dirty) await saveNow();
      return api<Job>(`${root}/review`, { method: 'POST', body: { decision, note } });
    },
    onSuccess: () => client.invalidateQueries({ queryKey: ['label-job', root] }),
  });

  if (detail.isError) return <ErrorView error={detail.error} onRetry={() => detail.refetch()} />;
  if (!job || !spec) return <p>{t('common.loading')}</p>;
  const src = image ? `${root}/images/${image.path.split('/').map(seg).join('/')}` : '';
  const colour = (l: string) => `hsl(${(spec.classes.indexOf(l) * 137) % 360} 80% 45%)`;
  return (
    <>
      <ProjectTabs project={project} />
      <p>
        <Link to={`/projects/${seg(project)}/labelling/${seg(taskId)}`}>{t('labelling.backToTask', { name: job.task.name })}</Link>
      </p>
      <h2>
        {t('labelling.toolTitle', { task: job.task.name, seq: job.seq })} <JobState state={job.state} />
      </h2>
      {job.note && job.state === 'rework' && (
        <p className="error" role="note">
          {t('labelling.reworkNote', { note: job.note })}
        </p>
      )}
      <p className="help">{t('labelling.keys')}</p>
      <div className="label-tool">
        <nav aria-label={t('labelling.imageList')} className="label-images">
          <ol>
            {images.map((im, i) => (
              <li key={im.path}>
                <button type="button" aria-current={i === index ? 'true' : undefined} onClick={() => void go(i)}>
                  {im.path} {im.width > 0 ? `· ${(im.shapes as unknown[]).length}` : ''}
                </button>
              </li>
            ))}
          </ol>
        </nav>
        <div className="label-canvas">
          {image && image.source === 'model' && (
            <p className="muted" role="note">
              {t('labelling.fromModel', { by: image.updated_by })}
            </p>
          )}
          {image && (
            <div className="label-stage">
              <img
                src={src}
                alt={image.path}
                draggable={false}
                onLoad={(e) => setSize({ w: e.currentTarget.naturalWidth, h: e.currentTarget.naturalHeight })}
              />
              {size && (
                <svg
                  ref={svgRef}
                  role="img"
                  aria-label={t('labelling.drawing', { path: image.path })}
                  viewBox={`0 0 ${size.w} ${size.h}`}
                  preserveAspectRatio="none"
                  className={editable ? 'editable' : undefined}
                  onPointerDown={onDown}
                  onPointerMove={onMove}
                  onPointerUp={onUp}
                  onDoubleClick={closePolygon}
                >
                  {shapes.map((s, i) =>
                    s.type === 'polygon' ? (
                      <polygon key={i} points={(s.points ?? []).join(' ')} stroke={colour(s.label)} className={i === selected ? 'selected' : undefined} />
                    ) : (
                      <rect key={i} x={s.x} y={s.y} width={s.width} height={s.height} stroke={colour(s.label)} className={i === selected ? 'selected' : undefined} />
                    ),
                  )}
                  {drag && (
                    <rect className="drawing" x={Math.min(drag.x0, drag.x1)} y={Math.min(drag.y0, drag.y1)} width={Math.abs(drag.x1 - drag.x0)} height={Math.abs(drag.y1 - drag.y0)} />
                  )}
                  {points.length > 0 && <polyline className="drawing" points={points.join(' ')} />}
                </svg>
              )}
            </div>
          )}
          <div className="row">
            <button type="button" onClick={() => void go(index - 1)} disabled={index === 0}>
              {t('labelling.previous')}
            </button>
            <span>{t('labelling.imageOf', { n: index + 1, total: images.length })}</span>
            <button type="button" onClick={() => void go(index + 1)} disabled={index >= images.length - 1}>
              {t('labelling.next')}
            </button>
            {editable && (
              <button type="button" onClick={() => void saveNow()} disabled={!dirty || save.isPending}>
                {t('common.save')}
              </button>
            )}
            <span role="status" className="muted">
              {dirty ? t('labelling.unsaved') : message}
            </span>
          </div>
        </div>
        <aside className="label-side" aria-label={t('labelling.panel')}>
          <Field id="lt-class" label={t('labelling.class')}>
            <select id="lt-class" value={label} onChange={(e) => setLabel(e.target.value)}>
              {spec.classes.map((c, i) => (
                <option key={c} value={c}>
                  {i < 9 ? `${i + 1} · ` : ''}
                  {c}
                </option>
              ))}
            </select>
          </Field>
          <fieldset className="field">
            <legend>{t('labelling.tool')}</legend>
            {spec.shapes.map((s) => (
              <label key={s} className="check">
                <input type="radio" name="lt-mode" checked={mode === s} onChange={() => setMode(s as 'box' | 'polygon')} />
                {t(s === 'box' ? 'labelling.boxKey' : 'labelling.polygonKey')}
              </label>
            ))}
          </fieldset>
          <h3>{t('labelling.shapesOn', { count: shapes.length })}</h3>
          <ul className="plain" aria-label={t('labelling.shapeList')}>
            {shapes.map((s, i) => {
              const [x0, y0, x1, y1] = shapeBounds(s);
              return (
                <li key={i}>
                  <button type="button" aria-pressed={i === selected} onClick={() => setSelected(i === selected ? null : i)}>
                    {t('labelling.shapeLine', { label: s.label, kind: t(s.type === 'box' ? 'labelling.box' : 'labelling.polygon'), x: Math.round(x0), y: Math.round(y0), w: Math.round(x1 - x0), h: Math.round(y1 - y0) })}
                  </button>
                  {editable && (
                    <button type="button" aria-label={t('labelling.deleteShape', { n: i + 1 })} onClick={() => { change(shapes.filter((_, k) => k !== i)); setSelected(null); }}>
                      ×
                    </button>
                  )}
                  {editable && i === selected && (spec.attributes ?? []).map((a) => (
                    <Field key={a.name} id={`lt-attr-${a.name}`} label={a.name}>
                      <select
                        id={`lt-attr-${a.name}`}
                        value={s.attributes?.[a.name] ?? a.values[0]}
                        onChange={(e) => change(shapes.map((x, k) => (k === i ? { ...x, attributes: { ...x.attributes, [a.name]: e.target.value } } : x)))}
                      >
                        {a.values.map((v) => (
                          <option key={v}>{v}</option>
                        ))}
                      </select>
                    </Field>
                  ))}
                </li>
              );
            })}
          </ul>
          {annotating && (
            <button type="button" className="primary" disabled={submit.isPending} onClick={() => submit.mutate()}>
              {t('labelling.submit')}
            </button>
          )}
          {reviewing && (
            <>
              <Field id="lt-note" label={t('labelling.note')}>
                <textarea id="lt-note" value={note} onChange={(e) => setNote(e.target.value)} />
              </Field>
              <div className="row">
                <button type="button" className="primary" disabled={review.isPending} onClick={() => review.mutate('accept')}>
                  {t('labelling.accept')}
                </button>
                <button type="button" disabled={review.isPending} onClick={() => review.mutate('rework')}>
                  {t('labelling.sendBack')}
                </button>
              </div>
            </>
          )}
          {(submit.isError || review.isError) && (
            <p className="error" role="alert">
              {errorText(submit.error ?? review.error, t)}
            </p>
          )}
          {!editable && <p className="muted">{t('labelling.readOnly')}</p>}
        </aside>
      </div>
    </>
  );
}
