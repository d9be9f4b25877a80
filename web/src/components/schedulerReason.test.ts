// The engine's sentences (as sched/scheduler.cc writes them; docs/SCHEDULING.md lists
// them) in Chinese: recognised, with their numbers, and nothing recognised left English.
import { beforeAll, describe, expect, it } from 'vitest';
import i18n from '../i18n';
import { localReason, schedulerReasonKeys, translateSchedulerReason } from './schedulerReason';

const samples: [string, string, string[]][] = [
  ['jobs', 'pending: project vision runs 3 of the 3 jobs its quota allows at once', ['vision', '3']],
  ['cpu', 'pending: project vision uses 3.50 of 4 CPUs; this job needs 1', ['3.50', '4']],
  ['memory', 'pending: project vision uses 2048 of 4096 MiB of memory; this job needs 4096', ['2048', '4096']],
  ['gpus', 'pending: project vision-a uses 8 of 8 GPUs (nominal 8, borrowing limit 0); this job needs 1', ['vision-a', '8']],
  ['gpus unlimited', 'pending: project a uses 2 of unlimited GPUs (nominal 2, borrowing limit unlimited); this job needs 1', ['unlimited']],
  ['perUser', 'pending: user alice uses 4 of the 6 GPUs a user may use in project vision-a', ['alice', '6']],
  ['noCohort', 'pending: project a uses 5 of 4 GPUs and has no cohort to borrow from', ['5', '4']],
  ['cohort', 'pending: project a uses 5 of 4 GPUs and its cohort ws has 0 more to lend (1 lendable, 1 borrowed)', ['ws']],
  ['heldPriority', 'pending: GPUs in pool default are held for a job of priority 5 whose preempted jobs are stopping', ['5']],
  ['heldJobEstimate', "pending: GPUs in pool default are held for job 2 (this job's estimate does not end before it starts)", ['2']],
  ['heldJob', 'pending: GPUs in pool default are held for job job_01M8YPHA777F6YPD6B5RTBBHWF', ['job_01M8YPHA777F6YPD6B5RTBBHWF']],
  ['preempting', 'pending: waiting for 2 preempted job(s) to stop', ['2']],
  ['noGpus', 'pending: no node in pool default has 4 free GPUs', ['4']],
  ['noGpusWorkers', 'pending: no node in pool train has 8 free GPUs for each of 2 workers', ['8', '2']],
  ['noShare', 'pending: no node in pool dev has a GPU with 50% of its cores and 20000 MiB free', ['50', '20000']],
  ['noShareWorkers', 'pending: no node in pool dev has a GPU with 50% of its cores and 20000 MiB free for each of 2 workers', ['20000']],
  ['noCpuMemory', 'pending: no node in pool default with room for its GPUs has 8 CPUs and 65536 MiB of memory free', ['8', '65536']],
  ['noCpuMemoryWorkers', 'pending: no node in pool train with room for its GPUs has 0.50 CPUs and 1024 MiB of memory free for each of 4 workers', ['0.50', '1024', '4']],
  ['noCpuOnly', 'pending: no node in pool default has 16 CPUs and 4096 MiB of memory free', ['16', '4096']],
  ['noCpuOnlyWorkers', 'pending: no node in pool default has 16 CPUs and 4096 MiB of memory free for each of 3 workers', ['16', '3']],
];

describe('the scheduler reasons in Chinese', () => {
  beforeAll(async () => {
    await i18n.changeLanguage('zh-CN');
  });

  it('every pattern has a sample here', () => {
    const covered = new Set(samples.map(([k]) => k.split(' ')[0]));
    expect([...covered].sort()).toEqual([...schedulerReasonKeys].sort());
  });

  it.each(samples)('%s', (_, text, kept) => {
    const said = translateSchedulerReason(text, (k, a) => i18n.t(k, a));
    expect(said).not.toBeNull();
    expect(said).toMatch(/^等待中：/);
    for (const k of kept) expect(said).toContain(k);
    // No English word of the engine's sentence is left (names and numbers are).
    expect(said).not.toMatch(/\b(uses|pending|project|pool|node|GPUs are|waiting|borrow)\b/);
  });

  it('keeps the clause after the sentence as written, and unknown sentences whole', () => {
    const said = translateSchedulerReason(
      'pending: no node in pool default has 4 free GPUs; not preempting 1 lower-priority job(s) in the way: non-preemptible',
      (k, a) => i18n.t(k, a),
    );
    expect(said).toContain('4 个空闲 GPU');
    expect(said).toContain('(not preempting 1 lower-priority job(s) in the way: non-preemptible)');
    expect(localReason('something new', (k, a) => i18n.t(k, a), 'zh-CN')).toBe('something new');
  });

  it('in English the server\'s words are shown as written', () => {
    const text = samples[3][1];
    expect(localReason(text, (k, a) => i18n.t(k, a), 'en')).toBe(text);
  });
});
