#include "cli/server_schema.h"

#include <cstdint>
#include <string>
#include <utility>

namespace jz::cli {

const ConfigSchema& server_schema() {
  static const ConfigSchema schema = [] {
    ConfigSchema s;
    auto boolean = [](std::string name, std::string def, std::string help) {
      return ConfigKey{.name = std::move(name),
                       .type = ConfigType::kBool,
                       .default_value = std::move(def),
                       .help = std::move(help)};
    };
    auto integer = [](std::string name, std::string def, int64_t min, int64_t max,
                      std::string help) {
      return ConfigKey{.name = std::move(name),
                       .type = ConfigType::kInt,
                       .default_value = std::move(def),
                       .help = std::move(help),
                       .min = min,
                       .max = max};
    };
    s.add({.name = "server.listen",
           .default_value = "127.0.0.1:8080",
           .help = "Address and port of the HTTP server (HOST:PORT; [::1]:PORT for IPv6; "
                   ":PORT for all interfaces). Flag: --listen."});
    s.add({.name = "server.data_dir",
           .default_value = "./jizhan-data",
           .help = "Folder for the SQLite database, the admin token and job data; created if "
                   "missing. Flag: --data-dir."});
    s.add(integer("server.threads", "16", 1, 4096,
                  "Threads that run request handlers (one more serves I/O). Idle connections "
                  "and live streams hold none; requests beyond wait in a backlog."));
    s.add(integer("server.max_body_bytes", "8388608", 1024, int64_t{1} << 30,
                  "Largest accepted request body; larger ones get 413."));
    s.add(integer("server.header_timeout_s", "10", 1, 3600,
                  "Seconds a client has to send a request's head, from its first byte (408 "
                  "after)."));
    s.add(integer("server.read_timeout_s", "30", 1, 3600,
                  "Seconds a request body may stall before the request gets 408."));
    s.add(integer("server.write_timeout_s", "30", 1, 3600,
                  "Seconds to wait for a client to accept a response."));
    s.add(integer("server.keepalive_timeout_s", "5", 1, 3600,
                  "Seconds an idle keep-alive connection stays open."));
    s.add(integer("server.keepalive_max_requests", "1000", 1, 1000000,
                  "Requests served on one connection before it is closed."));
    s.add(integer("server.max_connections", "10000", 16, 1000000,
                  "Open connections in all; more get 503 (also bounded by the open-file "
                  "limit)."));
    s.add(integer("server.max_connections_per_client", "512", 1, 1000000,
                  "Open connections from one client address; more get 503. Behind a reverse "
                  "proxy every client is the proxy: raise it."));
    s.add(integer("server.max_streams_per_user", "32", 1, 100000,
                  "Live streams (event streams, log follows) one user holds at once; more get "
                  "429."));
    s.add({.name = "server.secure_cookies",
           .type = ConfigType::kBool,
           .default_value = "false",
           .help = "Mark the console's session cookie Secure (sent over HTTPS only): set it "
                   "when users reach the server through a TLS proxy."});
    s.add({.name = "server.console_dir",
           .default_value = "",
           .help = "Folder of the built web console. Empty: PREFIX/console or "
                   "PREFIX/share/jizhan/console, PREFIX being the folder above the program's."});
    s.add(integer("server.websocket_ping_interval_s", "30", 1, 3600,
                  "A WebSocket peer silent this long is pinged, and dropped when nothing "
                  "arrives within as long again."));
    s.add(integer("server.proxy_threads", "2", 1, 64,
                  "Threads that carry dev environments' proxied connections (HTTP answers and "
                  "WebSockets), each with bounded buffers."));
    s.add(integer("server.devenv_max_connections", "64", 1, 100000,
                  "Connections one dev environment may hold open through the proxy at once "
                  "(a browser tab holds a few); more get 429."));
    s.add(integer("server.git_max_push_bytes", "268435456", 1024, int64_t{16} << 30,
                  "Largest git push to a project's repository (over /git/); it is held in "
                  "memory while git takes it. Push a larger history in parts."));
    s.add(integer("jobs.output_retention_h", "720", 0, int64_t{24} * 3660,
                  "Hours a job's outputs are kept after it ends (names and sizes stay after); "
                  "0 keeps them until the job is deleted."));
    s.add(integer("server.websocket_max_message_bytes", "1048576", 1024, 1 << 30,
                  "Largest WebSocket message a peer may send; larger ones close the "
                  "connection with 1009."));
    s.add(integer("server.shutdown_timeout_s", "30", 1, 3600,
                  "On SIGTERM/SIGINT, seconds to let requests in flight finish before exiting "
                  "with status 1."));
    s.add({.name = "server.metrics_public",
           .type = ConfigType::kBool,
           .default_value = "true",
           .help = "Serve /metrics without authentication (for a Prometheus scraper on a "
                   "trusted network)."});
    s.add({.name = "store.url",
           .default_value = "",
           .help = "Metadata database: sqlite:PATH or postgres://USER:PASSWORD@HOST:PORT/DB. "
                   "Empty: sqlite:DATA_DIR/jizhan.db. Flag: --db.",
           .secret = true});
    s.add(integer("store.pool_size", "8", 1, 256, "Database connections kept open."));
    s.add(integer("store.busy_timeout_ms", "5000", 0, 600000,
                  "Milliseconds to wait for a locked SQLite database or a free pooled "
                  "connection before failing with 503."));
    s.add(integer("store.connect_timeout_s", "10", 1, 600,
                  "Seconds to wait when connecting to PostgreSQL."));
    s.add({.name = "store.sqlite_synchronous",
           .type = ConfigType::kEnum,
           .default_value = "full",
           .help = "SQLite durability: full (every commit reaches the disk before it is "
                   "acknowledged) or normal (faster; a power loss may drop the last commits, a "
                   "process crash does not).",
           .choices = {"full", "normal"}});
    s.add({.name = "log.format",
           .type = ConfigType::kEnum,
           .default_value = "text",
           .help = "Log format on stderr: text, or json (one object per line).",
           .choices = {"text", "json"}});
    s.add({.name = "log.level",
           .type = ConfigType::kEnum,
           .default_value = "info",
           .help = "Lowest level logged.",
           .choices = {"trace", "debug", "info", "warn", "error", "off"}});
    s.add({.name = "log.access",
           .type = ConfigType::kBool,
           .default_value = "true",
           .help = "Log one line per HTTP request (request id, route, status, duration)."});
    s.add({.name = "audit.enabled",
           .type = ConfigType::kBool,
           .default_value = "true",
           .help = "Append every mutating request and every login or logout to the "
                   "hash-chained audit trail (GET /api/v1/audit, `jizhan audit verify`)."});
    s.add({.name = "audit.retention",
           .type = ConfigType::kString,
           .default_value = "",
           .help = "Audit records older than this (a duration such as 365d) are moved, once "
                   "their chain verifies, into JSON-lines files under audit.archive_dir; "
                   "checked at start and hourly; `jizhan audit verify` re-reads the files. "
                   "Empty keeps every record in the store."});
    s.add({.name = "audit.archive_dir",
           .type = ConfigType::kString,
           .default_value = "",
           .help = "Folder for audit archive files (default DATA_DIR/audit-archive)."});
    s.add(integer("auth.session_ttl_s", "43200", 60, 2592000,
                  "Lifetime of a login session token, in seconds (default 12 hours)."));
    s.add(integer("auth.lockout_threshold", "5", 1, 1000,
                  "Failed logins in a row, for one username from one address, after which that "
                  "pair waits before each try (1 s, doubling); an address failing for many "
                  "names waits after 5 times this. Nobody can lock another's account."));
    s.add(integer("auth.lockout_s", "900", 1, 604800,
                  "The longest such wait, in seconds; a quiet spell this long forgets the "
                  "failures. POST /api/v1/users/{username}/unlock clears them at once."));
    s.add(integer("auth.token_cache_s", "10", 0, 300,
                  "Seconds a checked token is trusted without asking the store again; a "
                  "revocation made elsewhere (another server) applies within this time. 0 "
                  "turns the cache off."));
    s.add(integer("auth.bootstrap_token_ttl_s", "7776000", 60, 315360000,
                  "Lifetime of the API token written to DATA_DIR/admin-token on first start "
                  "(default 90 days)."));
    s.add({.name = "auth.password_hash_cost",
           .type = ConfigType::kEnum,
           .default_value = "interactive",
           .help = "argon2id cost for new password hashes: interactive (~64 MiB, the "
                   "default) or minimum (for tests only: fast and weak).",
           .choices = {"interactive", "minimum"}});
    s.add({.name = "jobs.enabled",
           .type = ConfigType::kBool,
           .default_value = "true",
           .help = "Run jobs on this machine (the local executor: bubblewrap sandboxes). "
                   "false: the server serves the API only."});
    s.add({.name = "jobs.local",
           .type = ConfigType::kBool,
           .default_value = "true",
           .help = "Run jobs on this machine too (the local executor). false: only on the "
                   "Kubernetes clusters registered (POST /api/v1/clusters; docs/KUBERNETES.md), "
                   "as when the server itself runs in a cluster."});
    s.add({.name = "jobs.dir",
           .default_value = "",
           .help = "Folder of the jobs' folders (work, output, logs). Default DATA_DIR/jobs."});
    s.add(integer("jobs.grace_period_s", "10", 0, 3600,
                  "Seconds between SIGTERM and SIGKILL when a job is cancelled, preempted or "
                  "runs past its limit."));
    s.add(integer("jobs.max_pids", "4096", 0, 4194304,
                  "Processes and threads one job may have at once (the pids cgroup; without "
                  "it, RLIMIT_NPROC of the sandbox user). A job past it cannot fork; when it "
                  "then fails its reason is PidsLimit. 0: no limit."));
    s.add(integer("jobs.storage_check_s", "10", 1, 3600,
                  "How often the disk use of projects with a storage quota (storage_mib) and "
                  "running jobs is measured; past the quota their jobs stop with reason "
                  "StorageQuotaExceeded."));
    s.add({.name = "jobs.placement_policy",
           .type = ConfigType::kEnum,
           .default_value = "fgd",
           .help = "Where the scheduler places jobs (docs/SCHEDULING.md): fgd (where a job adds "
                   "the least GPU fragmentation for the workload seen so far; the most GPUs "
                   "allocated), binpack (the fullest node that fits) or spread (as fgd, but "
                   "ties go to the emptiest node).",
           .choices = {"fgd", "binpack", "spread"}});
    s.add(integer("clusters.sync_ms", "5000", 100, 600000,
                  "How often each registered Kubernetes cluster's nodes (capacity, GPUs, "
                  "readiness) are read (docs/KUBERNETES.md); clusters that did not answer are "
                  "retried twice as often apart."));
    s.add(integer("clusters.unavailable_after_ms", "15000", 100, 3600000,
                  "A cluster that has not answered for this long is unavailable: its nodes take "
                  "no new job (queued work goes to other clusters), what runs there stays."));
    s.add(integer("store.licence_days", "30", 1, 3650,
                  "How long a licence the algorithm store issues lasts before the customer's "
                  "client must renew it (activate again; never past the order's term). A "
                  "revoked code renews nothing, so this is how long a revocation takes to "
                  "reach a machine that is online (docs/STORE.md)."));
    s.add(integer("jobs.tick_ms", "100", 10, 10000,
                  "How often the job runner looks at jobs and runs a scheduling cycle when "
                  "nothing wakes it sooner."));
    s.add(integer("logs.retention_days", "30", 0, 36500,
                  "Days the logs of an ended job run are kept (0: no age limit)."));
    s.add(integer("logs.retention_mib", "51200", 0, int64_t{1} << 40,
                  "MiB that the logs of ended job runs may take in all; the oldest go first "
                  "(0: no size limit)."));
    s.add({.name = "datasets.roots",
           .default_value = "",
           .help = "Removed: dataset roots are assigned to workspaces by platform admins "
                   "(jizhan workspace roots add). A value here stops the server with that hint."});
    s.add(integer("datasets.upload_max_bytes", std::to_string(int64_t{16} << 30), 1,
                  int64_t{1} << 50, "Bytes an uploaded dataset archive may unpack to."));
    s.add(integer("datasets.upload_max_entries", "1000000", 1, int64_t{1} << 32,
                  "Files and folders in one uploaded dataset archive."));
    s.add(integer("datasets.upload_max_ratio", "200", 0, int64_t{1} << 20,
                  "Bytes an uploaded archive may unpack to per byte of the archive (a bound on "
                  "compression bombs; archives under 1 MiB count as 1 MiB). 0: no bound."));
    s.add({.name = "datasets.archive_dir",
           .default_value = "",
           .help = "Where archived dataset versions' files go (lifecycle rules, or Archive on a "
                   "version): a folder, e.g. on a cheaper disk. Empty: "
                   "DATA_DIR/dataset-versions/archive."});
    s.add(integer("exec.virtual_gpus", "0", 0, 1024,
                  "Declare this many virtual GPUs instead of discovering real ones with NVML "
                  "(tests, demos, machines without GPUs)."));
    s.add(
        integer("exec.virtual_gpu_memory_mib", "16384", 1, 1 << 22, "Memory of each virtual GPU."));
    s.add(integer("exec.sandbox_uid", "65534", 1, 4294967294LL,
                  "User id jobs run as when the server runs as root (default nobody)."));
    s.add(integer("exec.sandbox_gid", "65534", 1, 4294967294LL, "Group id jobs run as."));
    s.add(integer("exec.project_uid_base", "1500000000", 0, 4000000000LL,
                  "When the server runs as root, each project's jobs run as a user (and group) "
                  "of their own: this number plus the project's (0, 1, 2, ... in the order "
                  "projects first ran a job). Pick a range no account on the machine uses. 0: "
                  "all jobs as exec.sandbox_uid."));
    s.add({.name = "exec.nvml_library",
           .default_value = "libnvidia-ml.so.1",
           .help = "The NVML library GPUs are discovered with (no GPUs when it does not "
                   "load)."});
    s.add({.name = "exec.vgpu_library",
           .default_value = "auto",
           .help = "The vGPU library that holds GPU shares to their memory and compute limits "
                   "inside their sandboxes (docs/VGPU.md). auto: libjzvgpu.so beside jizhan; "
                   "a path; or empty to run shares without limits (accounting only)."});
    s.add({.name = "exec.cuda_driver",
           .default_value = "",
           .help = "The CUDA driver library jobs load, when it is not the machine's "
                   "libcuda.so.1 (for tests with a fake driver). Empty: the machine's."});
    s.add({.name = "monitoring.agent",
           .type = ConfigType::kBool,
           .default_value = "true",
           .help = "Run jizhan-agent (beside jizhan) for this machine: GPU and node metrics, "
                   "GPU health (a GPU that fails leaves placement), dev environments' GPU "
                   "use against their idleness. docs/MONITORING.md."});
    s.add(integer("monitoring.interval_ms", "1000", 100, 60000,
                  "How often the agent samples and the server collects."));
    s.add(integer("monitoring.max_series", "4096", 16, 1000000,
                  "Series the embedded time-series store keeps at most (each takes at most "
                  "1.3 MB of disk with the default tiers)."));
    s.add(integer("monitoring.training_idle_s", "1800", 0, int64_t{7} * 86400,
                  "A job (not a dev environment) whose GPUs stay under its project's "
                  "devenv_gpu_idle_percent this long gets a GpuIdle event, once until it uses "
                  "them again. 0: never."));
    s.add(boolean("alerts.enabled", "true",
                  "Alert rules and notification delivery (docs/ALERTS.md): events such as a "
                  "failed job are sent to the receivers of their project, workspace and the "
                  "platform."));
    s.add(boolean("alerts.allow_private_networks", "false",
                  "Let receivers (webhooks, robots, SMTP servers) be on loopback, private or "
                  "link-local addresses. Off, a receiver's URL cannot reach the server's own "
                  "network, whatever its name resolves to."));
    s.add({.name = "alerts.console_url",
           .default_value = "",
           .help = "The console's address as receivers' readers reach it, for the links in "
                   "messages (https://jizhan.example.com). Empty: the server's own address."});
    s.add(integer("alerts.max_attempts", "10", 1, 100,
                  "Attempts to deliver one notification (with an exponential backoff from 5 "
                  "s to an hour, with jitter) before it is marked failed."));
    s.add(integer("alerts.tick_ms", "1000", 10, 60000,
                  "How often new events are turned into notifications and due ones are sent."));
    s.add(integer("alerts.rule_interval_s", "15", 1, 3600,
                  "How often custom alert rules are evaluated over the metrics."));
    s.add(integer("alerts.backoff_ms", "5000", 10, 3600000,
                  "The first retry's delay after a failed delivery; each next one doubles "
                  "(at most an hour), a random half to all of it."));
    s.add(integer("alerts.delivery_threads", "4", 1, 64,
                  "Receivers sent to at once; a slow or failing receiver holds one of them."));
    s.add({.name = "alerts.ca_file",
           .default_value = "",
           .help = "Extra CA certificates (PEM) trusted for TLS receivers and SMTP servers. "
                   "Empty: the system's."});
    s.add({.name = "monitoring.prometheus_url",
           .default_value = "",
           .help = "A Prometheus (http://host:9090) that scrapes the agents (honor_labels: "
                   "true): charts are then read from it instead of the embedded store. Empty: "
                   "the embedded store."});
    s.add({.name = "monitoring.tiers",
           .default_value = "1s:1h,10s:24h,1m:30d",
           .help = "The embedded store's resolutions: STEP:KEEP pairs, finest first (units "
                   "s, m, h, d). Changing them starts the store again."});
    s.add({.name = "metering.prices",
           .default_value = "",
           .help = "Prices per hour by pool, for usage reports: POOL: gpu=P, gpu_memory=P, "
                   "cpu=P, memory=P; ... (memories per GiB; * for every other pool), e.g. "
                   "default: gpu=2.5, cpu=0.04, memory=0.005. Empty: no costs."});
    s.add({.name = "metering.currency",
           .default_value = "CNY",
           .help = "The currency of metering.prices, shown with costs."});
    s.add({.name = "exec.bwrap",
           .default_value = "bwrap",
           .help = "The bubblewrap program that sandboxes jobs."});
    return s;
  }();
  return schema;
}

}  // namespace jz::cli
