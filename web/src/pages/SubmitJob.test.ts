import { describe, expect, test } from 'vitest';
import { checkJob, emptyForm } from './SubmitJob';

describe('the job form', () => {
  test('builds the request the API takes', () => {
    const { problems, request } = checkJob({
      ...emptyForm,
      name: 'train-yolo',
      command: 'python train.py --epochs 3',
      env: 'EPOCHS=3\n\nLR=0.01',
      datasets: 'coco, captions',
      gpuMode: 'share',
      shareMemory: '8192',
      shareCores: '30',
      cpu: '2.5',
      memory: '4096',
      priority: '10',
      preemptible: true,
      restartPolicy: 'on_failure',
      maxRestarts: '2',
    });
    expect(problems).toEqual({});
    expect(request).toEqual({
      name: 'train-yolo',
      command: ['sh', '-c', 'python train.py --epochs 3'],
      env: { EPOCHS: '3', LR: '0.01' },
      datasets: ['coco', 'captions'],
      resources: { cpu: 2.5, memory_mib: 4096, gpu_share: { memory_mib: 8192, cores_percent: 30 } },
      priority: 10,
      preemptible: true,
      restart_policy: 'on_failure',
      max_restarts: 2,
    });
  });

  test('names each wrong field and sends nothing', () => {
    const { problems, request } = checkJob({
      ...emptyForm,
      name: 'x',
      command: 'true',
      env: 'GOOD=1\nnot a pair',
      gpuMode: 'share',
      shareCores: '150',
      cpu: '-1',
      runtimeLimit: '1.5',
    });
    expect(request).toBeUndefined();
    expect(problems.env).toEqual({ key: 'submit.envInvalid', values: { line: 2 } });
    expect(problems.shareCores).toEqual({ key: 'submit.mustBeWhole', values: { min: 1, max: 100 } });
    expect(problems.cpu).toEqual({ key: 'submit.mustBePositive' });
    expect(problems.runtimeLimit?.key).toBe('submit.mustBeWhole');
    expect(problems.shareMemory).toBeUndefined();
  });

  test('a dev environment names its port', () => {
    const r = checkJob({ ...emptyForm, name: 'lab', command: 'jupyter lab', kind: 'devenv', port: '8888' }).request;
    expect(r?.kind).toBe('devenv');
    expect(r?.port).toBe(8888);
    expect(r?.strip_prefix).toBeUndefined();
    const served = checkJob({ ...emptyForm, name: 'web', command: 'x', kind: 'devenv', stripPrefix: true }).request;
    expect(served?.strip_prefix).toBe(true);
    expect(checkJob({ ...emptyForm, name: 't', command: 'x', stripPrefix: true }).request?.strip_prefix).toBeUndefined();
    expect(checkJob({ ...emptyForm, name: 'lab', command: 'x', kind: 'devenv', port: '70000' }).problems.port?.key).toBe(
      'submit.mustBeWhole',
    );
    expect(checkJob({ ...emptyForm, name: 't', command: 'x' }).request?.kind).toBeUndefined();
  });

  test('needs a name and a command, and whole GPUs only in whole mode', () => {
    expect(checkJob({ ...emptyForm, command: 'true' }).request).toBeUndefined();
    expect(checkJob({ ...emptyForm, name: 'n' }).request).toBeUndefined();
    const r = checkJob({ ...emptyForm, name: 'n', command: 'true', gpuMode: 'whole', gpus: '2' }).request;
    expect(r?.resources).toEqual({ cpu: 1, memory_mib: 1024, gpus: 2 });
  });

  test('sends how the job is watched only where it differs from the defaults', () => {
    const base = { ...emptyForm, name: 'w', command: 'python train.py' };
    expect(checkJob(base).request?.monitor).toBeUndefined();
    const { problems, request } = checkJob({
      ...base,
      milestones: 'val/acc >= 0.9\n\nloss<0.05',
      stalledMinutes: '0',
      watchNan: false,
    });
    expect(problems).toEqual({});
    expect(request?.monitor).toEqual({ stalled_minutes: 0, nan: false, milestones: ['val/acc >= 0.9', 'loss<0.05'] });
    const bad = checkJob({ ...base, milestones: 'val/acc >= 0.9\nacc is high', progressEvery: '101' });
    expect(bad.problems.milestones).toEqual({ key: 'submit.milestoneInvalid', values: { line: 2 } });
    expect(bad.problems.progressEvery).toBeDefined();
    expect(bad.request).toBeUndefined();
  });
});
