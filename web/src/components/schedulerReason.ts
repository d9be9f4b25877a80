// The scheduling engine explains each waiting job in English words with numbers in them
// (sched/scheduler.cc, docs/SCHEDULING.md: "pending: project vision uses 4 of 4 GPUs ...").
// In another language the console recognises those sentences and says them in its own
// words with the same numbers; a sentence it does not know is shown as the server wrote it.
// A clause after "; " (why no preemption helped) stays as written.

type Translate = (key: string, args: Record<string, string>) => string;

const num = '(-?[\\d.]+)';
const name = '(\\S+)';
const limit = '([\\d.]+|unlimited)';

// key, pattern, and the names of its groups in order
const patterns: [string, RegExp, string[]][] = [
  ['jobs', new RegExp(`^project ${name} runs ${num} of the ${num} jobs its quota allows at once$`), ['project', 'used', 'limit']],
  ['cpu', new RegExp(`^project ${name} uses ${num} of ${num} CPUs; this job needs ${num}$`), ['project', 'used', 'limit', 'need']],
  ['memory', new RegExp(`^project ${name} uses ${num} of ${num} MiB of memory; this job needs ${num}$`), ['project', 'used', 'limit', 'need']],
  [
    'gpus',
    new RegExp(`^project ${name} uses ${num} of ${limit} GPUs \\(nominal ${num}, borrowing limit ${limit}\\); this job needs ${num}$`),
    ['project', 'used', 'limit', 'nominal', 'borrowing', 'need'],
  ],
  ['perUser', new RegExp(`^user ${name} uses ${num} of the ${num} GPUs a user may use in project ${name}$`), ['user', 'used', 'limit', 'project']],
  ['noCohort', new RegExp(`^project ${name} uses ${num} of ${num} GPUs and has no cohort to borrow from$`), ['project', 'used', 'limit']],
  [
    'cohort',
    new RegExp(`^project ${name} uses ${num} of ${num} GPUs and its cohort ${name} has ${num} more to lend \\(${num} lendable, ${num} borrowed\\)$`),
    ['project', 'used', 'limit', 'cohort', 'more', 'lendable', 'borrowed'],
  ],
  ['heldPriority', new RegExp(`^GPUs in pool ${name} are held for a job of priority ${num} whose preempted jobs are stopping$`), ['pool', 'priority']],
  ['heldJobEstimate', new RegExp(`^GPUs in pool ${name} are held for job ${name} \\(this job's estimate does not end before it starts\\)$`), ['pool', 'job']],
  ['heldJob', new RegExp(`^GPUs in pool ${name} are held for job ${name}$`), ['pool', 'job']],
  ['preempting', new RegExp(`^waiting for ${num} preempted job\\(s\\) to stop$`), ['count']],
  ['noGpusWorkers', new RegExp(`^no node in pool ${name} has ${num} free GPUs for each of ${num} workers$`), ['pool', 'gpus', 'workers']],
  ['noGpus', new RegExp(`^no node in pool ${name} has ${num} free GPUs$`), ['pool', 'gpus']],
  [
    'noShareWorkers',
    new RegExp(`^no node in pool ${name} has a GPU with ${num}% of its cores and ${num} MiB free for each of ${num} workers$`),
    ['pool', 'cores', 'memory', 'workers'],
  ],
  ['noShare', new RegExp(`^no node in pool ${name} has a GPU with ${num}% of its cores and ${num} MiB free$`), ['pool', 'cores', 'memory']],
  [
    'noCpuMemoryWorkers',
    new RegExp(`^no node in pool ${name} with room for its GPUs has ${num} CPUs and ${num} MiB of memory free for each of ${num} workers$`),
    ['pool', 'cpus', 'memory', 'workers'],
  ],
  ['noCpuMemory', new RegExp(`^no node in pool ${name} with room for its GPUs has ${num} CPUs and ${num} MiB of memory free$`), ['pool', 'cpus', 'memory']],
  [
    'noCpuOnlyWorkers',
    new RegExp(`^no node in pool ${name} has ${num} CPUs and ${num} MiB of memory free for each of ${num} workers$`),
    ['pool', 'cpus', 'memory', 'workers'],
  ],
  ['noCpuOnly', new RegExp(`^no node in pool ${name} has ${num} CPUs and ${num} MiB of memory free$`), ['pool', 'cpus', 'memory']],
];

export const schedulerReasonKeys = patterns.map(([key]) => key);

// The engine's sentence in the console's language (`t` looks up `schedReasons.KEY`), or
// null when it is not one the console knows.
export function translateSchedulerReason(text: string, t: Translate): string | null {
  const pending = text.startsWith('pending: ');
  const body = pending ? text.slice('pending: '.length) : text;
  // The whole sentence, else its head before a "; " (the quota sentences hold one of
  // their own, so the whole is tried first).
  const heads: [string, string][] = [[body, '']];
  for (let i = body.indexOf('; '); i >= 0; i = body.indexOf('; ', i + 2)) heads.push([body.slice(0, i), body.slice(i + 2)]);
  for (const [head, rest] of heads) {
    for (const [key, re, names] of patterns) {
      const m = re.exec(head);
      if (!m) continue;
      const args: Record<string, string> = {};
      names.forEach((n, i) => (args[n] = m[i + 1]));
      const said = t(`schedReasons.${key}`, args);
      return (pending ? t('schedReasons.pending', { reason: said }) : said) + (rest ? ` (${rest})` : '');
    }
  }
  return null;
}

// As the page shows it: the server's own words in English, else translated when known.
export function localReason(text: string, t: Translate, language: string): string {
  if (!text || language.startsWith('en')) return text;
  return translateSchedulerReason(text, t) ?? text;
}
