// The queries the automatic test pages share (Autotest.tsx, Competitions.tsx): a project's
// suites and uploaded packages, under one cache key each.
import { useQuery } from '@tanstack/react-query';
import { api, pagePath, seg, type Page, type Schemas } from '../api/client';

export function useSuites(project: string) {
  return useQuery({
    queryKey: ['suites', project],
    queryFn: () => api<Page<Schemas['Suite']>>(pagePath(`/api/v1/projects/${seg(project)}/suites`, 1000)),
  });
}

// `followChecks`: poll every second while a package is still being checked.
export function useAlgorithms(project: string, followChecks = false) {
  return useQuery({
    queryKey: ['algorithms', project],
    queryFn: () => api<Page<Schemas['Algorithm']>>(pagePath(`/api/v1/projects/${seg(project)}/algorithms`, 1000)),
    refetchInterval: followChecks
      ? (q) => (q.state.data?.items.some((a) => a.state === 'checking') ? 1000 : false)
      : false,
  });
}
