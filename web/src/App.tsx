// Pages by address: every page and filter is a URL, so links can be shared and Back works.
import { Suspense, lazy, type ReactNode } from 'react';
import { useTranslation } from 'react-i18next';
import { Navigate, Route, Routes, useLocation } from 'react-router-dom';
import { useSession } from './api/session';
import { Shell } from './components/Shell';
import { Login } from './pages/Login';
import { NotFound, Planned } from './pages/NotFound';

// Each page is its own chunk, loaded when first visited: the sign-in page carries
// only what it needs (bench/web measures it).
const Account = lazy(() => import('./pages/Account').then((m) => ({ default: m.Account })));
const Roles = lazy(() => import('./pages/Roles').then((m) => ({ default: m.Roles })));
const Audit = lazy(() => import('./pages/Audit').then((m) => ({ default: m.Audit })));
const DevEnvs = lazy(() => import('./pages/DevEnvs').then((m) => ({ default: m.DevEnvs })));
const Datasets = lazy(() => import('./pages/Datasets').then((m) => ({ default: m.Datasets })));
const DatasetDetail = lazy(() => import('./pages/DatasetDetail').then((m) => ({ default: m.DatasetDetail })));
const Labelling = lazy(() => import('./pages/Labelling').then((m) => ({ default: m.Labelling })));
const LabelTaskView = lazy(() => import('./pages/Labelling').then((m) => ({ default: m.LabelTaskView })));
const LabelTool = lazy(() => import('./pages/Labelling').then((m) => ({ default: m.LabelTool })));
const Code = lazy(() => import('./pages/Code').then((m) => ({ default: m.Code })));
const Reviews = lazy(() => import('./pages/Reviews').then((m) => ({ default: m.Reviews })));
const ProjectAlerts = lazy(() => import('./pages/Alerts').then((m) => ({ default: m.ProjectAlerts })));
const PlatformAlerts = lazy(() => import('./pages/Alerts').then((m) => ({ default: m.PlatformAlerts })));
const WorkspaceAlerts = lazy(() => import('./pages/Alerts').then((m) => ({ default: m.WorkspaceAlerts })));
const Notifications = lazy(() => import('./pages/Notifications').then((m) => ({ default: m.Notifications })));
const JobDetail = lazy(() => import('./pages/JobDetail').then((m) => ({ default: m.JobDetail })));
const Overview = lazy(() => import('./pages/Overview').then((m) => ({ default: m.Overview })));
const ProjectJobs = lazy(() => import('./pages/ProjectJobs').then((m) => ({ default: m.ProjectJobs })));
const SubmitJob = lazy(() => import('./pages/SubmitJob').then((m) => ({ default: m.SubmitJob })));
const Tokens = lazy(() => import('./pages/Tokens').then((m) => ({ default: m.Tokens })));
const Scheduling = lazy(() => import('./pages/Scheduling').then((m) => ({ default: m.Scheduling })));
const Clusters = lazy(() => import('./pages/Clusters').then((m) => ({ default: m.Clusters })));
const WhatIf = lazy(() => import('./pages/WhatIf').then((m) => ({ default: m.WhatIf })));
const Monitoring = lazy(() => import('./pages/Monitoring').then((m) => ({ default: m.Monitoring })));
const Usage = lazy(() => import('./pages/Usage').then((m) => ({ default: m.Usage })));
const Users = lazy(() => import('./pages/Users').then((m) => ({ default: m.Users })));
const WorkspaceDetail = lazy(() => import('./pages/WorkspaceDetail').then((m) => ({ default: m.WorkspaceDetail })));
const Workspaces = lazy(() => import('./pages/Workspaces').then((m) => ({ default: m.Workspaces })));
const ProjectEvents = lazy(() => import('./pages/ProjectPages').then((m) => ({ default: m.ProjectEvents })));
const ProjectMembers = lazy(() => import('./pages/ProjectPages').then((m) => ({ default: m.ProjectMembers })));
const ProjectRuns = lazy(() => import('./pages/Runs').then((m) => ({ default: m.ProjectRuns })));
const RunDetail = lazy(() => import('./pages/Runs').then((m) => ({ default: m.RunDetail })));
const RunsHome = lazy(() => import('./pages/Runs').then((m) => ({ default: m.RunsHome })));
const ProjectTests = lazy(() => import('./pages/Autotest').then((m) => ({ default: m.ProjectTests })));
const EvaluationView = lazy(() => import('./pages/Autotest').then((m) => ({ default: m.EvaluationView })));
const TestsHome = lazy(() => import('./pages/Autotest').then((m) => ({ default: m.TestsHome })));
const CompetitionView = lazy(() => import('./pages/Competitions').then((m) => ({ default: m.CompetitionView })));
const StoreFront = lazy(() => import('./pages/Store').then((m) => ({ default: m.StoreFront })));
const ListingView = lazy(() => import('./pages/Store').then((m) => ({ default: m.ListingView })));
const ProjectStore = lazy(() => import('./pages/Store').then((m) => ({ default: m.ProjectStore })));
const ProjectQuota = lazy(() => import('./pages/ProjectPages').then((m) => ({ default: m.ProjectQuota })));

function SignedIn({ children }: { children: ReactNode }) {
  const { t } = useTranslation();
  const { user, loading } = useSession();
  const location = useLocation();
  if (loading) return <p aria-busy="true">{t('common.loading')}</p>;
  if (!user) {
    const next = encodeURIComponent(location.pathname + location.search);
    return <Navigate to={`/login?next=${next}`} replace />;
  }
  return (
    <Shell>
      <Suspense fallback={<p aria-busy="true">{t('common.loading')}</p>}>{children}</Suspense>
    </Shell>
  );
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
      <Route path="/projects/:project/devenvs" element={<SignedIn><DevEnvs /></SignedIn>} />
      <Route path="/projects/:project/datasets" element={<SignedIn><Datasets /></SignedIn>} />
      <Route path="/projects/:project/datasets/:dataset" element={<SignedIn><DatasetDetail /></SignedIn>} />
      <Route path="/projects/:project/labelling" element={<SignedIn><Labelling /></SignedIn>} />
      <Route path="/projects/:project/labelling/:task" element={<SignedIn><LabelTaskView /></SignedIn>} />
      <Route path="/projects/:project/labelling/:task/jobs/:job" element={<SignedIn><LabelTool /></SignedIn>} />
      <Route path="/projects/:project/code" element={<SignedIn><Code /></SignedIn>} />
      <Route path="/projects/:project/reviews" element={<SignedIn><Reviews /></SignedIn>} />
      <Route path="/projects/:project/members" element={<SignedIn><ProjectMembers /></SignedIn>} />
      <Route path="/projects/:project/quota" element={<SignedIn><ProjectQuota /></SignedIn>} />
      <Route path="/projects/:project/events" element={<SignedIn><ProjectEvents /></SignedIn>} />
      <Route path="/projects/:project/alerts" element={<SignedIn><ProjectAlerts /></SignedIn>} />
      <Route path="/projects/:project/runs" element={<SignedIn><ProjectRuns /></SignedIn>} />
      <Route path="/projects/:project/runs/:run" element={<SignedIn><RunDetail /></SignedIn>} />
      <Route path="/runs" element={<SignedIn><RunsHome /></SignedIn>} />
      <Route path="/tests" element={<SignedIn><TestsHome /></SignedIn>} />
      <Route path="/projects/:project/tests" element={<SignedIn><ProjectTests /></SignedIn>} />
      <Route path="/projects/:project/tests/:id" element={<SignedIn><EvaluationView /></SignedIn>} />
      <Route path="/projects/:project/tests/competitions/:name" element={<SignedIn><CompetitionView /></SignedIn>} />
      <Route path="/store" element={<SignedIn><StoreFront /></SignedIn>} />
      <Route path="/store/:project/:algorithm" element={<SignedIn><ListingView /></SignedIn>} />
      <Route path="/projects/:project/store" element={<SignedIn><ProjectStore /></SignedIn>} />
      <Route path="/alerting" element={<SignedIn><PlatformAlerts /></SignedIn>} />
      <Route path="/notifications" element={<SignedIn><Notifications /></SignedIn>} />
      <Route path="/projects/:project/jobs/new" element={<SignedIn><SubmitJob /></SignedIn>} />
      <Route path="/projects/:project/jobs/:id" element={<SignedIn><JobDetail /></SignedIn>} />
      <Route path="/scheduling" element={<SignedIn><Scheduling /></SignedIn>} />
      <Route path="/clusters" element={<SignedIn><Clusters /></SignedIn>} />
      <Route path="/scheduling/what-if" element={<SignedIn><WhatIf /></SignedIn>} />
      <Route path="/monitoring" element={<SignedIn><Monitoring /></SignedIn>} />
      <Route path="/usage" element={<SignedIn><Usage /></SignedIn>} />
      <Route path="/users" element={<SignedIn><Users /></SignedIn>} />
      <Route path="/account" element={<SignedIn><Account /></SignedIn>} />
      <Route path="/roles" element={<SignedIn><Roles /></SignedIn>} />
      <Route path="/audit" element={<SignedIn><Audit /></SignedIn>} />
      <Route path="/workspaces/:workspace/audit" element={<SignedIn><Audit /></SignedIn>} />
      <Route path="/workspaces/:workspace/alerts" element={<SignedIn><WorkspaceAlerts /></SignedIn>} />
      <Route path="/later/:feature" element={<SignedIn><Planned /></SignedIn>} />
      <Route path="/index.html" element={<Navigate to="/" replace />} />
      <Route path="*" element={<SignedIn><NotFound /></SignedIn>} />
    </Routes>
  );
}
