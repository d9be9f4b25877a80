// What the caller may do in a project (GET .../permissions), read as the server's
// authoriser reads it: "job:*" grants every verb on jobs, "*:*" everything. The console
// offers only what this allows; the server decides every request regardless.
import { useQuery } from '@tanstack/react-query';
import { api, seg } from './client';

export function can(perms: string[] | undefined, resource: string, verb: string): boolean {
  return (perms ?? []).some((p) => {
    const [r, v] = p.split(':');
    return (r === '*' || r === resource) && (v === '*' || v === verb);
  });
}

export function usePermissions(project: string) {
  return useQuery({
    queryKey: ['permissions', project],
    queryFn: () => api<{ permissions: string[] }>(`/api/v1/projects/${seg(project)}/permissions`),
    select: (r) => r.permissions,
    staleTime: 30_000,
  });
}

// The same for a workspace (GET /api/v1/workspaces/NAME/permissions).
export function useWorkspacePermissions(workspace: string) {
  return useQuery({
    queryKey: ['permissions', 'workspace', workspace],
    queryFn: () => api<{ permissions: string[] }>(`/api/v1/workspaces/${seg(workspace)}/permissions`),
    select: (r) => r.permissions,
    staleTime: 30_000,
  });
}
