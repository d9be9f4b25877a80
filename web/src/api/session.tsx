// Who is signed in: the API's whoami, read once per page load (it also hands a reloaded
// page its CSRF token). Signing in and out go through the API and refresh it.
import { createContext, useContext, type ReactNode } from 'react';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { ApiError, api, setCsrfToken } from './client';

export interface SessionUser {
  username: string;
  platform_role: string;
}

interface Whoami extends SessionUser {
  csrf_token?: string;
}

interface SessionValue {
  user: SessionUser | null;
  loading: boolean;
  signIn(username: string, password: string): Promise<void>;
  signOut(): Promise<void>;
}

const SessionContext = createContext<SessionValue | null>(null);

export function SessionProvider({ children }: { children: ReactNode }) {
  const client = useQueryClient();
  const who = useQuery({
    queryKey: ['whoami'],
    queryFn: async (): Promise<SessionUser | null> => {
      try {
        const w = await api<Whoami>('/api/v1/auth/whoami');
        setCsrfToken(w.csrf_token ?? '');
        return { username: w.username, platform_role: w.platform_role };
      } catch (e) {
        if (e instanceof ApiError && e.status === 401) return null;
        throw e;
      }
    },
    staleTime: Infinity,
    retry: false,
  });
  const value: SessionValue = {
    user: who.data ?? null,
    loading: who.isPending,
    async signIn(username, password) {
      const r = await api<{ csrf_token: string; user: SessionUser }>('/api/v1/auth/login', {
        method: 'POST',
        body: { username, password, cookie: true },
      });
      setCsrfToken(r.csrf_token);
      client.setQueryData(['whoami'], r.user);
    },
    async signOut() {
      try {
        await api('/api/v1/auth/logout', { method: 'POST' });
      } finally {
        setCsrfToken('');
        // Signed out first (the pages watching whoami see it), then nothing of the
        // session is kept in memory.
        client.setQueryData(['whoami'], null);
        client.removeQueries({ predicate: (q) => q.queryKey[0] !== 'whoami' });
      }
    },
  };
  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}

export function useSession(): SessionValue {
  const v = useContext(SessionContext);
  if (!v) throw new Error('useSession outside SessionProvider');
  return v;
}

export const isPlatformAdmin = (u: SessionUser | null) => u?.platform_role === 'platform-admin';
