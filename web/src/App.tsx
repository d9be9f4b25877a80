// Pages by address: every page and filter is a URL, so links can be shared and Back works.
import type { ReactNode } from 'react';
import { useTranslation } from 'react-i18next';
import { Navigate, Route, Routes, useLocation } from 'react-router-dom';
import { useSession } from './api/session';
import { Shell } from './components/Shell';
import { Login } from './pages/Login';
import { NotFound, Planned } from './pages/NotFound';
import { Audit } from './pages/Audit';
import { Datasets } from './pages/Datasets';
import { JobDetail } from './pages/JobDetail';
import { Overview } from './pages/Overview';
import { ProjectJobs } from './pages/ProjectJobs';
import { ProjectEvents, ProjectMembers, ProjectQuota } from './pages/ProjectPages';
import { SubmitJob } from './pages/SubmitJob';
import { Tokens } from './pages/Tokens';
import { Users } from './pages/Users';
import { WorkspaceDetail } from './pages/WorkspaceDetail';
import { Workspaces } from './pages/Workspaces';

function SignedIn({ children }: { children: ReactNode }) {
  const { t } = useTranslation();
  const { user, loading } = useSession();
  const location = useLocation();
  if (loading) return <p aria-busy="true">{t('common.loading')}</p>;
  if (!user) {
    const next = encodeURIComponent(location.pathname + location.search);
    return <Navigate to={`/login?next=${next}`} replace />;
  }
  return <Shell>{children}</Shell>;
}

export function App() {
  return (
    <Routes>
      <Route path="/login" element={<Login />} />
      <Route path="/" element={<SignedIn><Overview /></SignedIn>} />
      <Route path="/workspaces" element={<SignedIn><Workspaces /></SignedIn>} />
      <Route path="/tokens" element={<SignedIn><Tokens /></SignedIn>} />
      <Route path="/projects/:project" element={<SignedIn><ProjectJobs /></SignedIn>} />
      <Route path="/workspaces/:workspace" element={<SignedIn><WorkspaceDetail /></SignedIn>} />
      <Route path="/projects/:project/datasets" element={<SignedIn><Datasets /></SignedIn>} />
      <Route path="/projects/:project/members" element={<SignedIn><ProjectMembers /></SignedIn>} />
      <Route path="/projects/:project/quota" element={<SignedIn><ProjectQuota /></SignedIn>} />
      <Route path="/projects/:project/events" element={<SignedIn><ProjectEvents /></SignedIn>} />
      <Route path="/projects/:project/jobs/new" element={<SignedIn><SubmitJob /></SignedIn>} />
      <Route path="/projects/:project/jobs/:id" element={<SignedIn><JobDetail /></SignedIn>} />
      <Route path="/users" element={<SignedIn><Users /></SignedIn>} />
      <Route path="/audit" element={<SignedIn><Audit /></SignedIn>} />
      <Route path="/later/:feature" element={<SignedIn><Planned /></SignedIn>} />
      <Route path="/index.html" element={<Navigate to="/" replace />} />
      <Route path="*" element={<SignedIn><NotFound /></SignedIn>} />
    </Routes>
  );
}
