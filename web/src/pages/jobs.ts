// What the job pages share: states, and the paths of a project's jobs.
import { seg } from '../api/client';

export const jobStates = [
  'queued',
  'admitted',
  'starting',
  'running',
  'succeeded',
  'failed',
  'cancelled',
  'preempted',
  'lost',
] as const;
export const jobKinds = ['train', 'eval', 'devenv'] as const;
const finished = new Set(['succeeded', 'failed', 'cancelled', 'lost']);
export const isActive = (state: string) => !finished.has(state);

export const jobsPath = (project: string) => `/api/v1/projects/${seg(project)}/jobs`;
export const jobPath = (project: string, id: string) => `${jobsPath(project)}/${seg(id)}`;
