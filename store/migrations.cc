// Every schema change, in order. Never edit a released migration: add a new one.
// SQL here is the common subset of SQLite and PostgreSQL unless a migration gives a
// separate PostgreSQL text. Times are Unix milliseconds in BIGINT columns.
#include "store/database.h"

namespace jz::store {

const std::vector<Migration>& migrations() {
  static const std::vector<Migration> kAll = {
      {1, "settings",
       "CREATE TABLE settings ("
       "  key TEXT PRIMARY KEY,"
       "  value TEXT NOT NULL,"
       "  revision BIGINT NOT NULL,"
       "  updated_at_ms BIGINT NOT NULL"
       ");",
       ""},
      {2, "iam_users_tokens",
       "CREATE TABLE users ("
       "  id TEXT PRIMARY KEY,"
       "  username TEXT NOT NULL UNIQUE,"
       "  display_name TEXT NOT NULL,"
       "  email TEXT NOT NULL,"
       "  state TEXT NOT NULL,"
       "  platform_role TEXT NOT NULL,"
       "  password_hash TEXT NOT NULL,"
       "  failed_logins BIGINT NOT NULL,"
       "  locked_until_ms BIGINT NOT NULL,"
       "  created_at_ms BIGINT NOT NULL,"
       "  updated_at_ms BIGINT NOT NULL"
       ");"
       "CREATE TABLE tokens ("
       "  id TEXT PRIMARY KEY,"
       "  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
       "  kind TEXT NOT NULL,"
       "  name TEXT NOT NULL,"
       "  project TEXT NOT NULL,"
       "  secret_hash TEXT NOT NULL UNIQUE,"
       "  expires_at_ms BIGINT NOT NULL,"
       "  revoked_at_ms BIGINT,"
       "  created_at_ms BIGINT NOT NULL"
       ");"
       "CREATE INDEX tokens_user ON tokens (user_id);",
       ""},
      {3, "audit",
       "CREATE TABLE audit ("
       "  seq BIGINT PRIMARY KEY,"
       "  id TEXT NOT NULL UNIQUE,"
       "  time_ms BIGINT NOT NULL,"
       "  user_name TEXT NOT NULL,"
       "  source_ip TEXT NOT NULL,"
       "  user_agent TEXT NOT NULL,"
       "  verb TEXT NOT NULL,"
       "  resource_type TEXT NOT NULL,"
       "  resource_name TEXT NOT NULL,"
       "  workspace TEXT NOT NULL,"
       "  project TEXT NOT NULL,"
       "  request_summary TEXT NOT NULL,"
       "  response_status BIGINT NOT NULL,"
       "  latency_us BIGINT NOT NULL,"
       "  request_id TEXT NOT NULL,"
       "  prev_hash TEXT NOT NULL,"
       "  hash TEXT NOT NULL"
       ");"
       "CREATE INDEX audit_user ON audit (user_name, seq);"
       "CREATE INDEX audit_project ON audit (project, seq);"
       "CREATE INDEX audit_time ON audit (time_ms);",
       ""},
      {4, "tenancy",
       "CREATE TABLE workspaces ("
       "  id TEXT PRIMARY KEY,"
       "  name TEXT NOT NULL UNIQUE,"
       "  description TEXT NOT NULL,"
       "  created_at_ms BIGINT NOT NULL"
       ");"
       "CREATE TABLE projects ("
       "  id TEXT PRIMARY KEY,"
       "  name TEXT NOT NULL UNIQUE,"
       "  workspace_id TEXT NOT NULL REFERENCES workspaces(id),"
       "  description TEXT NOT NULL,"
       "  created_at_ms BIGINT NOT NULL"
       ");"
       "CREATE INDEX projects_workspace ON projects (workspace_id);"
       "CREATE TABLE roles ("
       "  name TEXT PRIMARY KEY,"
       "  scope TEXT NOT NULL,"
       "  permissions TEXT NOT NULL,"
       "  builtin BIGINT NOT NULL"
       ");"
       "CREATE TABLE members ("
       "  scope TEXT NOT NULL,"
       "  scope_id TEXT NOT NULL,"
       "  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
       "  role TEXT NOT NULL REFERENCES roles(name),"
       "  created_at_ms BIGINT NOT NULL,"
       "  PRIMARY KEY (scope, scope_id, user_id)"
       ");"
       "CREATE INDEX members_user ON members (user_id);"
       "INSERT INTO roles (name, scope, permissions, builtin) VALUES ('platform-admin', "
       "'platform', '[\"*:*\"]', 1);"
       "INSERT INTO roles (name, scope, permissions, builtin) VALUES ('platform-regular', "
       "'platform', '[]', 1);"
       "INSERT INTO roles (name, scope, permissions, builtin) VALUES ('workspace-admin', "
       "'workspace', '[\"*:*\"]', 1);"
       "INSERT INTO roles (name, scope, permissions, builtin) VALUES ('workspace-regular', "
       "'workspace', '[\"workspace:get\",\"project:create\",\"workspace_member:list\"]', 1);"
       "INSERT INTO roles (name, scope, permissions, builtin) VALUES ('workspace-viewer', "
       "'workspace', "
       "'[\"workspace:get\",\"project:get\",\"project:list\",\"workspace_member:list\",\"project_"
       "member:list\",\"quota:get\",\"event:list\",\"job:get\",\"job:list\",\"dataset:get\","
       "\"dataset:list\"]', 1);"
       "INSERT INTO roles (name, scope, permissions, builtin) VALUES ('project-admin', 'project', "
       "'[\"project:get\",\"project:update\",\"project_member:*\",\"quota:get\",\"event:list\","
       "\"job:*\",\"dataset:get\",\"dataset:list\"]', 1);"
       "INSERT INTO roles (name, scope, permissions, builtin) VALUES ('project-developer', "
       "'project', "
       "'[\"project:get\",\"project_member:list\",\"quota:get\",\"event:list\",\"job:*\",\"dataset:"
       "get\",\"dataset:list\"]', 1);"
       "INSERT INTO roles (name, scope, permissions, builtin) VALUES ('project-viewer', 'project', "
       "'[\"project:get\",\"project_member:list\",\"quota:get\",\"event:list\",\"job:get\",\"job:"
       "list\",\"dataset:get\",\"dataset:list\"]', 1);"
       "INSERT INTO roles (name, scope, permissions, builtin) VALUES ('data-owner', 'project', "
       "'[\"project:get\",\"project_member:list\",\"quota:get\",\"event:list\",\"job:get\",\"job:"
       "list\",\"dataset:*\",\"dataset_data:get\"]', 1);",
       ""},
      {5, "quotas_events",
       "CREATE TABLE quotas ("
       "  project_id TEXT PRIMARY KEY REFERENCES projects(id) ON DELETE CASCADE,"
       "  gpus_milli BIGINT,"
       "  gpu_memory_mib BIGINT,"
       "  concurrent_jobs BIGINT,"
       "  cpu_milli BIGINT,"
       "  memory_mib BIGINT,"
       "  per_user_gpus_milli BIGINT,"
       "  updated_at_ms BIGINT NOT NULL"
       ");"
       "CREATE TABLE events ("
       "  seq BIGINT PRIMARY KEY,"
       "  id TEXT NOT NULL UNIQUE,"
       "  time_ms BIGINT NOT NULL,"
       "  project TEXT NOT NULL,"
       "  resource_type TEXT NOT NULL,"
       "  resource_name TEXT NOT NULL,"
       "  type TEXT NOT NULL,"
       "  reason TEXT NOT NULL,"
       "  message TEXT NOT NULL,"
       "  actor TEXT NOT NULL"
       ");"
       "CREATE INDEX events_project ON events (project, seq);",
       ""},
      // Checkpoints of audit records moved to archive files: the live chain continues
      // from last_hash, and each file's content is pinned by its SHA-256.
      {6, "audit_archives",
       "CREATE TABLE audit_archives ("
       "  last_seq BIGINT PRIMARY KEY,"
       "  first_seq BIGINT NOT NULL,"
       "  first_prev_hash TEXT NOT NULL,"
       "  last_hash TEXT NOT NULL,"
       "  records BIGINT NOT NULL,"
       "  first_time_ms BIGINT NOT NULL,"
       "  last_time_ms BIGINT NOT NULL,"
       "  file TEXT NOT NULL,"
       "  file_sha256 TEXT NOT NULL,"
       "  archived_at_ms BIGINT NOT NULL"
       ");",
       ""},
      // Jobs (platform/jobs): datasets with security levels, jobs with their spec and
      // state, each state change (also mirrored into `events`), per-project job settings.
      {7, "jobs_datasets",
       "CREATE TABLE datasets ("
       "  id TEXT PRIMARY KEY,"
       "  project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,"
       "  name TEXT NOT NULL,"
       "  path TEXT NOT NULL,"
       "  security_level TEXT NOT NULL,"
       "  created_by TEXT NOT NULL,"
       "  created_at_ms BIGINT NOT NULL,"
       "  UNIQUE (project_id, name)"
       ");"
       "CREATE TABLE jobs ("
       "  id TEXT PRIMARY KEY,"
       "  seq BIGINT NOT NULL UNIQUE,"
       "  queue_seq BIGINT NOT NULL,"
       "  project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,"
       "  project TEXT NOT NULL,"
       "  user_id TEXT NOT NULL,"
       "  username TEXT NOT NULL,"
       "  name TEXT NOT NULL,"
       "  kind TEXT NOT NULL,"
       "  spec TEXT NOT NULL,"
       "  state TEXT NOT NULL,"
       "  reason TEXT NOT NULL,"
       "  message TEXT NOT NULL,"
       "  exit_code BIGINT,"
       "  attempt BIGINT NOT NULL,"
       "  placement TEXT NOT NULL,"
       "  cancel_requested BIGINT NOT NULL,"
       "  created_at_ms BIGINT NOT NULL,"
       "  started_at_ms BIGINT,"
       "  finished_at_ms BIGINT,"
       "  updated_at_ms BIGINT NOT NULL"
       ");"
       "CREATE INDEX jobs_project ON jobs (project_id, seq);"
       "CREATE INDEX jobs_state ON jobs (state, queue_seq);"
       "CREATE INDEX jobs_cancel ON jobs (cancel_requested, state);"
       "CREATE TABLE job_events ("
       "  job_id TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,"
       "  seq BIGINT NOT NULL,"
       "  time_ms BIGINT NOT NULL,"
       "  from_state TEXT NOT NULL,"
       "  to_state TEXT NOT NULL,"
       "  reason TEXT NOT NULL,"
       "  message TEXT NOT NULL,"
       "  exit_code BIGINT,"
       "  PRIMARY KEY (job_id, seq)"
       ");"
       "CREATE TABLE project_job_settings ("
       "  project_id TEXT PRIMARY KEY REFERENCES projects(id) ON DELETE CASCADE,"
       "  allow_egress BIGINT NOT NULL,"
       "  devenv_idle_s BIGINT NOT NULL,"
       "  devenv_gpu_idle_percent BIGINT NOT NULL,"
       "  updated_at_ms BIGINT NOT NULL"
       ");",
       ""},
      {8, "log_policies",
       "CREATE TABLE log_policies ("
       "  project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,"
       "  level TEXT NOT NULL,"
       "  policy TEXT NOT NULL,"
       "  updated_by TEXT NOT NULL,"
       "  updated_at_ms BIGINT NOT NULL,"
       "  PRIMARY KEY (project_id, level)"
       ");",
       ""},
      // Dataset roots belong to one workspace each (issue 17): data owners register
      // datasets only under their own workspace's roots.
      {9, "dataset_roots",
       "CREATE TABLE dataset_roots ("
       "  path TEXT PRIMARY KEY,"
       "  workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,"
       "  created_by TEXT NOT NULL,"
       "  created_at_ms BIGINT NOT NULL"
       ");",
       ""},
      // A dataset's folder identity (device, inode) recorded at registration, checked
      // at each job start (issue 17); each project's jobs run as a user of their own.
      {10, "dataset_identity_project_uids",
       "ALTER TABLE datasets ADD COLUMN folder_dev BIGINT NOT NULL DEFAULT 0;"
       "ALTER TABLE datasets ADD COLUMN folder_ino BIGINT NOT NULL DEFAULT 0;"
       "CREATE TABLE project_uids ("
       "  project_id TEXT PRIMARY KEY REFERENCES projects(id) ON DELETE CASCADE,"
       "  uid_offset BIGINT NOT NULL UNIQUE"
       ");",
       ""},
      // Storage quotas (issue 17): a project's limit, and the bytes of uploaded datasets.
      {11, "storage_quota",
       "ALTER TABLE quotas ADD COLUMN storage_mib BIGINT;"
       "ALTER TABLE datasets ADD COLUMN bytes BIGINT NOT NULL DEFAULT 0;",
       ""},
      // A user's own jobs across projects (issue 19: the console's overview).
      {12, "jobs_by_user", "CREATE INDEX jobs_user ON jobs (user_id, seq);", ""},
      // Fair share remembers usage across restarts (issue 20): each project's decayed
      // GPU usage (milli-GPU x ms) as of at_ms.
      {13, "sched_usage",
       "CREATE TABLE sched_usage ("
       "  project TEXT PRIMARY KEY,"
       "  decayed DOUBLE PRECISION NOT NULL,"
       "  at_ms BIGINT NOT NULL"
       ");",
       ""},
      // Custom roles (issue 20): who made one, and in which workspace (NULL: a platform
      // admin, for every workspace).
      {14, "custom_roles",
       "ALTER TABLE roles ADD COLUMN workspace_id TEXT REFERENCES workspaces(id) ON DELETE "
       "CASCADE;"
       "ALTER TABLE roles ADD COLUMN created_by TEXT NOT NULL DEFAULT '';",
       ""},
      // Resumable uploads (issue 20): what each becomes; the bytes are in a file whose
      // length is the offset.
      {15, "uploads",
       "CREATE TABLE uploads ("
       "  id TEXT PRIMARY KEY,"
       "  project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,"
       "  dataset TEXT NOT NULL,"
       "  security_level TEXT NOT NULL,"
       "  size BIGINT NOT NULL,"
       "  user_id TEXT NOT NULL,"
       "  username TEXT NOT NULL,"
       "  created_at_ms BIGINT NOT NULL,"
       "  expires_at_ms BIGINT NOT NULL"
       ");"
       "CREATE INDEX uploads_dataset ON uploads (project_id, dataset, user_id);",
       ""},
      {16, "code_outputs_releases",
       "CREATE TABLE job_outputs ("
       "  job_id TEXT PRIMARY KEY,"
       "  project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,"
       "  dir TEXT NOT NULL,"
       "  level TEXT NOT NULL,"
       "  state TEXT NOT NULL,"
       "  files BIGINT NOT NULL,"
       "  bytes BIGINT NOT NULL,"
       "  truncated INTEGER NOT NULL,"
       "  skipped TEXT NOT NULL,"
       "  recorded_at_ms BIGINT NOT NULL,"
       "  expires_at_ms BIGINT"
       ");"
       "CREATE INDEX job_outputs_expiry ON job_outputs (expires_at_ms);"
       "CREATE TABLE job_output_files ("
       "  job_id TEXT NOT NULL,"
       "  path TEXT NOT NULL,"
       "  size BIGINT NOT NULL,"
       "  sha256 TEXT NOT NULL,"
       "  PRIMARY KEY (job_id, path)"
       ");"
       "CREATE TABLE releases ("
       "  id TEXT PRIMARY KEY,"
       "  project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,"
       "  job_id TEXT NOT NULL,"
       "  state TEXT NOT NULL,"
       "  reason TEXT NOT NULL,"
       "  requested_by TEXT NOT NULL,"
       "  requester TEXT NOT NULL,"
       "  reviewer TEXT,"
       "  comment TEXT,"
       "  created_at_ms BIGINT NOT NULL,"
       "  decided_at_ms BIGINT"
       ");"
       "CREATE INDEX releases_project ON releases (project_id, state);"
       "CREATE INDEX releases_job ON releases (job_id, state);"
       "UPDATE roles SET permissions = "
       "'[\"workspace:get\",\"project:get\",\"project:list\",\"workspace_member:list\",\"project_"
       "member:list\",\"quota:get\",\"event:list\",\"job:get\",\"job:list\",\"dataset:get\","
       "\"dataset:list\",\"code:get\"]' WHERE name = 'workspace-viewer' AND builtin = 1;"
       "UPDATE roles SET permissions = "
       "'[\"project:get\",\"project:update\",\"project_member:*\",\"quota:get\",\"event:list\","
       "\"job:*\",\"dataset:get\",\"dataset:list\",\"code:*\"]' WHERE name = 'project-admin' AND "
       "builtin = 1;"
       "UPDATE roles SET permissions = "
       "'[\"project:get\",\"project_member:list\",\"quota:get\",\"event:list\",\"job:*\",\"dataset:"
       "get\",\"dataset:list\",\"code:*\"]' WHERE name = 'project-developer' AND builtin = 1;"
       "UPDATE roles SET permissions = "
       "'[\"project:get\",\"project_member:list\",\"quota:get\",\"event:list\",\"job:get\",\"job:"
       "list\",\"dataset:get\",\"dataset:list\",\"code:get\"]' WHERE name = 'project-viewer' AND "
       "builtin = 1;"
       "UPDATE roles SET permissions = "
       "'[\"project:get\",\"project_member:list\",\"quota:get\",\"event:list\",\"job:get\",\"job:"
       "list\",\"dataset:*\",\"dataset_data:get\",\"code:get\",\"release:*\"]' WHERE name = "
       "'data-owner' AND builtin = 1;",
       ""},
      // Events of workspaces and about users (platform/iam/events.h).
      {17, "workspace_user_events",
       "ALTER TABLE events ADD COLUMN workspace TEXT NOT NULL DEFAULT '';"
       "ALTER TABLE events ADD COLUMN subject TEXT NOT NULL DEFAULT '';"
       "CREATE INDEX events_workspace ON events (workspace, seq);"
       "CREATE INDEX events_subject ON events (subject, seq);",
       ""},
      // What an admission allocated, for metering (platform/jobs/metering.h).
      {18, "job_event_allocations",
       "ALTER TABLE job_events ADD COLUMN allocation TEXT NOT NULL DEFAULT '';", ""},
      // Alerts and notifications (platform/alerts/alerts.h).
      {19, "alerts",
       "CREATE TABLE alert_receivers ("
       "  id TEXT PRIMARY KEY,"
       "  scope TEXT NOT NULL,"
       "  scope_id TEXT NOT NULL,"
       "  name TEXT NOT NULL,"
       "  channel TEXT NOT NULL,"
       "  config TEXT NOT NULL,"
       "  secret TEXT NOT NULL,"
       "  min_severity TEXT NOT NULL,"
       "  rules TEXT NOT NULL,"
       "  enabled INTEGER NOT NULL,"
       "  rate_per_minute BIGINT NOT NULL,"
       "  created_by TEXT NOT NULL,"
       "  created_at_ms BIGINT NOT NULL,"
       "  UNIQUE (scope, scope_id, name)"
       ");"
       "CREATE TABLE alert_rule_settings ("
       "  scope TEXT NOT NULL,"
       "  scope_id TEXT NOT NULL,"
       "  rule TEXT NOT NULL,"
       "  enabled INTEGER NOT NULL,"
       "  severity TEXT NOT NULL,"
       "  updated_by TEXT NOT NULL,"
       "  updated_at_ms BIGINT NOT NULL,"
       "  PRIMARY KEY (scope, scope_id, rule)"
       ");"
       "CREATE TABLE notifications ("
       "  id TEXT PRIMARY KEY,"
       "  receiver_id TEXT NOT NULL,"
       "  receiver_name TEXT NOT NULL,"
       "  scope TEXT NOT NULL,"
       "  scope_id TEXT NOT NULL,"
       "  dedup_key TEXT NOT NULL,"
       "  rule TEXT NOT NULL,"
       "  severity TEXT NOT NULL,"
       "  title TEXT NOT NULL,"
       "  message TEXT NOT NULL,"
       "  state TEXT NOT NULL,"
       "  attempts BIGINT NOT NULL,"
       "  next_attempt_ms BIGINT NOT NULL,"
       "  created_at_ms BIGINT NOT NULL,"
       "  delivered_at_ms BIGINT,"
       "  last_code BIGINT NOT NULL,"
       "  last_answer TEXT NOT NULL,"
       "  UNIQUE (receiver_id, dedup_key)"
       ");"
       "CREATE INDEX notifications_due ON notifications (state, next_attempt_ms);"
       "CREATE INDEX notifications_scope ON notifications (scope, scope_id, id);"
       "CREATE TABLE alert_cursors (name TEXT PRIMARY KEY, seq BIGINT NOT NULL);"
       "UPDATE roles SET permissions = "
       "'[\"workspace:get\",\"project:get\",\"project:list\",\"workspace_member:list\",\"project_"
       "member:list\",\"quota:get\",\"event:list\",\"job:get\",\"job:list\",\"dataset:get\","
       "\"dataset:list\",\"code:get\",\"alert:list\"]' WHERE name = 'workspace-viewer' AND builtin "
       "= 1;"
       "UPDATE roles SET permissions = "
       "'[\"project:get\",\"project:update\",\"project_member:*\",\"quota:get\",\"event:list\","
       "\"job:*\",\"dataset:get\",\"dataset:list\",\"code:*\",\"alert:*\"]' WHERE name = "
       "'project-admin' AND builtin = 1;"
       "UPDATE roles SET permissions = "
       "'[\"project:get\",\"project_member:list\",\"quota:get\",\"event:list\",\"job:*\",\"dataset:"
       "get\",\"dataset:list\",\"code:*\",\"alert:list\"]' WHERE name = 'project-developer' AND "
       "builtin = 1;"
       "UPDATE roles SET permissions = "
       "'[\"project:get\",\"project_member:list\",\"quota:get\",\"event:list\",\"job:get\",\"job:"
       "list\",\"dataset:get\",\"dataset:list\",\"code:get\",\"alert:list\"]' WHERE name = "
       "'project-viewer' AND builtin = 1;"
       "UPDATE roles SET permissions = "
       "'[\"project:get\",\"project_member:list\",\"quota:get\",\"event:list\",\"job:get\",\"job:"
       "list\",\"dataset:*\",\"dataset_data:get\",\"code:get\",\"release:*\",\"alert:list\"]' "
       "WHERE name = 'data-owner' AND builtin = 1;",
       ""},
      // Custom alert rules and the alerts they hold (platform/alerts/alerts.h).
      {20, "alert_custom_rules",
       "CREATE TABLE alert_custom_rules ("
       "  id TEXT PRIMARY KEY,"
       "  scope TEXT NOT NULL,"
       "  scope_id TEXT NOT NULL,"
       "  name TEXT NOT NULL,"
       "  expr TEXT NOT NULL,"
       "  for_ms BIGINT NOT NULL,"
       "  severity TEXT NOT NULL,"
       "  labels TEXT NOT NULL,"
       "  annotations TEXT NOT NULL,"
       "  enabled INTEGER NOT NULL,"
       "  created_by TEXT NOT NULL,"
       "  created_at_ms BIGINT NOT NULL,"
       "  UNIQUE (scope, scope_id, name)"
       ");"
       "CREATE TABLE alerts_active ("
       "  fingerprint TEXT PRIMARY KEY,"
       "  rule_id TEXT NOT NULL,"
       "  rule TEXT NOT NULL,"
       "  scope TEXT NOT NULL,"
       "  scope_id TEXT NOT NULL,"
       "  state TEXT NOT NULL,"
       "  labels TEXT NOT NULL,"
       "  annotations TEXT NOT NULL,"
       "  value TEXT NOT NULL,"
       "  active_since_ms BIGINT NOT NULL,"
       "  fired_at_ms BIGINT NOT NULL"
       ");"
       "CREATE INDEX alerts_active_rule ON alerts_active (rule_id);"
       "CREATE INDEX alerts_active_scope ON alerts_active (scope, scope_id);",
       ""},
      // Silences of alerts (platform/alerts/alerts.h).
      {21, "alert_silences",
       "CREATE TABLE alert_silences ("
       "  id TEXT PRIMARY KEY,"
       "  scope TEXT NOT NULL,"
       "  scope_id TEXT NOT NULL,"
       "  matchers TEXT NOT NULL,"
       "  starts_at_ms BIGINT NOT NULL,"
       "  ends_at_ms BIGINT NOT NULL,"
       "  created_by TEXT NOT NULL,"
       "  comment TEXT NOT NULL,"
       "  created_at_ms BIGINT NOT NULL"
       ");"
       "CREATE INDEX alert_silences_scope ON alert_silences (scope, scope_id, ends_at_ms);",
       ""},
      // Receivers that group alerts (Alertmanager's group_by, group_wait, group_interval,
      // repeat_interval) and speak a language; the groups they hold (platform/alerts).
      {22, "alert_groups",
       "ALTER TABLE alert_receivers ADD COLUMN grouping TEXT NOT NULL DEFAULT '';"
       "ALTER TABLE alert_receivers ADD COLUMN language TEXT NOT NULL DEFAULT 'en';"
       "CREATE TABLE alert_groups ("
       "  id TEXT PRIMARY KEY,"
       "  receiver_id TEXT NOT NULL,"
       "  group_key TEXT NOT NULL,"
       "  group_labels TEXT NOT NULL,"
       "  next_flush_ms BIGINT,"
       "  repeat_at_ms BIGINT,"
       "  last_sent_ms BIGINT NOT NULL,"
       "  created_at_ms BIGINT NOT NULL,"
       "  UNIQUE (receiver_id, group_key)"
       ");"
       "CREATE INDEX alert_groups_flush ON alert_groups (next_flush_ms);"
       "CREATE INDEX alert_groups_repeat ON alert_groups (repeat_at_ms);"
       "CREATE TABLE alert_group_alerts ("
       "  group_id TEXT NOT NULL,"
       "  fingerprint TEXT NOT NULL,"
       "  alert TEXT NOT NULL,"
       "  status TEXT NOT NULL,"
       "  severity TEXT NOT NULL,"
       "  title TEXT NOT NULL,"
       "  oneshot INTEGER NOT NULL,"
       "  changed INTEGER NOT NULL,"
       "  updated_at_ms BIGINT NOT NULL,"
       "  PRIMARY KEY (group_id, fingerprint)"
       ");",
       ""},
      // How long a project's job may wait in the queue before its owner hears of it.
      {23, "job_settings_queued_alert",
       "ALTER TABLE project_job_settings ADD COLUMN queued_alert_s BIGINT NOT NULL DEFAULT 1800;",
       ""},
      // A user's own notifications (the console's bell) and which rules they follow for their
      // own jobs (platform/alerts).
      {24, "alert_inbox",
       "CREATE TABLE alert_inbox ("
       "  id TEXT PRIMARY KEY,"
       "  user_id TEXT NOT NULL,"
       "  dedup_key TEXT NOT NULL,"
       "  rule TEXT NOT NULL,"
       "  severity TEXT NOT NULL,"
       "  title TEXT NOT NULL,"
       "  labels TEXT NOT NULL,"
       "  link TEXT NOT NULL,"
       "  created_at_ms BIGINT NOT NULL,"
       "  read_at_ms BIGINT,"
       "  UNIQUE (user_id, dedup_key)"
       ");"
       "CREATE INDEX alert_inbox_user ON alert_inbox (user_id, id);"
       "CREATE TABLE alert_subscriptions ("
       "  user_id TEXT NOT NULL,"
       "  rule TEXT NOT NULL,"
       "  subscribed INTEGER NOT NULL,"
       "  PRIMARY KEY (user_id, rule)"
       ");",
       ""},
      // Inhibition rules a scope writes (platform/alerts): while a source alert fires, the
      // targets that share its `equal` labels are held back.
      {25, "alert_inhibitions",
       "CREATE TABLE alert_inhibitions ("
       "  id TEXT PRIMARY KEY,"
       "  scope TEXT NOT NULL,"
       "  scope_id TEXT NOT NULL,"
       "  source_matchers TEXT NOT NULL,"
       "  target_matchers TEXT NOT NULL,"
       "  equal TEXT NOT NULL,"
       "  comment TEXT NOT NULL,"
       "  created_by TEXT NOT NULL,"
       "  created_at_ms BIGINT NOT NULL"
       ");"
       "CREATE INDEX alert_inhibitions_scope ON alert_inhibitions (scope, scope_id);",
       ""},
      // Training runs (platform/training): what training code reports; the points are in
      // run stores under DATA/training.
      {26, "training_runs",
       "CREATE TABLE training_runs ("
       "  id TEXT PRIMARY KEY,"
       "  project_id TEXT NOT NULL,"
       "  name TEXT NOT NULL,"
       "  owner_id TEXT NOT NULL,"
       "  job_id TEXT NOT NULL,"
       "  state TEXT NOT NULL,"
       "  config TEXT NOT NULL,"
       "  progress_done BIGINT,"
       "  progress_total BIGINT,"
       "  store_dir TEXT NOT NULL,"
       "  records_offset BIGINT NOT NULL,"
       "  created_at_ms BIGINT NOT NULL,"
       "  updated_at_ms BIGINT NOT NULL,"
       "  finished_at_ms BIGINT,"
       "  UNIQUE (project_id, name)"
       ");"
       "CREATE INDEX training_runs_job ON training_runs (project_id, job_id);"
       "CREATE TABLE training_notes ("
       "  run_id TEXT NOT NULL,"
       "  seq BIGINT NOT NULL,"
       "  time_ms BIGINT NOT NULL,"
       "  text TEXT NOT NULL,"
       "  PRIMARY KEY (run_id, seq)"
       ");",
       ""},
  };
  return kAll;
}

}  // namespace jz::store
