#include "cli/server_command.h"

#include <malloc.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <iostream>
#include <thread>

#include "api/server.h"
#include "cli/server_config.h"
#include "core/files.h"
#include "core/version.h"
#include "platform/alerts/alerts.h"
#include "platform/algostore/store.h"
#include "platform/autotest/autotest.h"
#include "platform/autotest/competitions.h"
#include "platform/clusters/registry.h"
#include "platform/datasets/conversion.h"
#include "platform/datasets/curation.h"
#include "platform/datasets/labelling.h"
#include "platform/datasets/lifecycle.h"
#include "platform/datasets/preannotation.h"
#include "platform/datasets/versions.h"
#include "platform/iam/audit.h"
#include "platform/iam/bootstrap.h"
#include "platform/iam/quota.h"
#include "platform/iam/tenancy.h"
#include "platform/jobs/code.h"
#include "platform/jobs/datasets.h"
#include "platform/jobs/metering.h"
#include "platform/jobs/outputs.h"
#include "platform/jobs/runner.h"
#include "platform/jobs/store.h"
#include "platform/jobs/uploads.h"
#include "platform/monitor/monitor.h"
#include "platform/training/runs.h"

namespace jz::cli {
namespace {

std::string self_binary() {
  std::string self = self_executable();
  return self.empty() ? "jizhan" : self;
}

int fail(const Status& s, int code) {
  std::cerr << "jizhan server: error: " << s.message() << std::endl;
  return code;
}

// The monitor's series as custom alert rules read them: every series of the metric at
// the finest step, the equality matchers asked of the store, the others applied here.
class MonitorSource : public alerts::promql::Source {
 public:
  explicit MonitorSource(monitor::Monitor& m) : monitor_(m) {}
  std::vector<alerts::promql::Series> select(const std::string& metric,
                                             const std::vector<alerts::promql::Matcher>& matchers,
                                             int64_t start_ms, int64_t end_ms) const override {
    metrics::Labels exact;
    for (const auto& m : matchers) {
      if (m.op == alerts::promql::Matcher::Op::kEq && !m.value.empty()) exact[m.label] = m.value;
    }
    std::vector<alerts::promql::Series> out;
    auto got = monitor_.query(metric, exact, start_ms, end_ms, 1000, metrics::Aggregation::kAvg);
    if (!got.ok()) return out;
    static const std::string kEmpty;
    for (auto& q : *got) {
      bool ok = true;
      for (const auto& m : matchers) {
        auto it = q.labels.find(m.label);
        ok = ok && m.matches(it == q.labels.end() ? kEmpty : it->second);
      }
      if (!ok) continue;
      alerts::promql::Series s{std::move(q.labels), {}};
      for (const auto& p : q.points) {
        if (p.t_ms >= start_ms && p.t_ms <= end_ms) s.points.push_back({p.t_ms, p.value});
      }
      out.push_back(std::move(s));
    }
    return out;
  }

 private:
  monitor::Monitor& monitor_;
};

std::string display_url(const std::string& host, int port) {
  std::string h = host == "0.0.0.0" ? "127.0.0.1" : host;
  if (h.find(':') != std::string::npos) h = "[" + h + "]";
  return "http://" + h + ":" + std::to_string(port);
}

// Moves audit records older than the retention period into archive files: at start,
// then hourly, until destroyed.
class AuditRetention {
 public:
  AuditRetention(iam::AuditLog& audit, std::chrono::milliseconds retention, std::string dir,
                 std::shared_ptr<spdlog::logger> logger)
      : audit_(audit), retention_(retention), dir_(std::move(dir)), logger_(std::move(logger)) {
    thread_ = std::thread([this] { loop(); });
  }
  ~AuditRetention() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

 private:
  void loop() {
    std::unique_lock lock(mu_);
    while (!stop_) {
      lock.unlock();
      const int64_t before = Clock::system().now_unix_ms() - retention_.count();
      auto a = audit_.archive(before, dir_);
      if (!a.ok()) {
        logger_->error("audit retention: {}", a.status().message());
      } else if (a->has_value()) {
        logger_->info("audit retention: archived records {}..{} ({} records) to {}",
                      (*a)->first_seq, (*a)->last_seq, (*a)->records, (*a)->file);
      }
      lock.lock();
      cv_.wait_for(lock, std::chrono::hours(1), [this] { return stop_; });
    }
  }

  iam::AuditLog& audit_;
  std::chrono::milliseconds retention_;
  std::string dir_;
  std::shared_ptr<spdlog::logger> logger_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

// A bad configuration or a missing database: exit status 2 rather than 1.
bool usage_error(const Status& s) {
  return s.code() == Code::kInvalidArgument || s.code() == Code::kNotFound;
}

// Opens the store named by the config for an offline audit command.
Result<std::unique_ptr<store::Database>> open_for_audit(const ConfigSources& sources,
                                                        const char* command,
                                                        ServerSettings& settings_out) {
  auto config = load_config(server_schema(), sources);
  if (!config.ok()) return config.status();
  auto settings = server_settings(*config);
  if (!settings.ok()) return settings.status();
  if (settings->db.url.dialect == store::Dialect::kSqlite &&
      !std::filesystem::exists(settings->db.url.sqlite_path)) {
    return Status::not_found("no database at '" + settings->db.url.sqlite_path +
                             "': give the server's --data-dir or --db");
  }
  settings->db.pool_size = 1;
  // verify only reads; archive writes only to tables the server already has.
  settings->db.apply_migrations = std::string(command) != "verify";
  settings_out = *settings;
  return store::Database::open(settings->db);
}

}  // namespace

int run_server(const ConfigSources& sources) {
  // Request bodies of up to server.max_body_bytes (upload chunks) live on many threads:
  // a fixed mmap threshold gives each one's memory back when it is freed, where glibc's
  // sliding threshold would keep a chunk's worth resident in every thread's arena.
  ::mallopt(M_MMAP_THRESHOLD, 1 << 20);  // NOLINT(concurrency-mt-unsafe): no thread yet
  // Block the shutdown signals before any thread starts, so only sigtimedwait below
  // sees them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  auto config = load_config(server_schema(), sources);
  if (!config.ok()) return fail(config.status(), 2);
  auto settings = server_settings(*config);
  if (!settings.ok()) return fail(settings.status(), 2);

  // What the server writes (the database, tokens, job records) is its own.
  ::umask(077);
  Status dir = prepare_data_dir(settings->data_dir);
  if (!dir.ok()) return fail(dir, 1);

  auto logger = make_logger(settings->log);

  auto db = store::Database::open(settings->db);
  if (!db.ok()) return fail(db.status(), 1);

  IdGenerator ids(Clock::system(), SecureRandom::instance());
  iam::Accounts accounts(**db, Clock::system(), ids);
  std::optional<std::string> admin_password;
  if (const char* p = std::getenv("JIZHAN_ADMIN_PASSWORD"); p && *p) admin_password = p;
  auto boot = iam::bootstrap_admin(accounts, Clock::system(), settings->data_dir, admin_password,
                                   settings->auth.hash_cost, settings->bootstrap_token_ttl);
  if (!boot.ok()) return fail(boot.status(), 1);
  iam::Authenticator auth(accounts, Clock::system(), settings->auth);
  std::optional<iam::AuditLog> audit;
  if (settings->audit_enabled) audit.emplace(**db, Clock::system(), ids);

  std::optional<AuditRetention> retention;
  if (audit && settings->audit_retention.count() > 0) {
    retention.emplace(*audit, settings->audit_retention, settings->audit_archive_dir, logger);
  }

  // Jobs: the store, datasets, the local executor and the runner.
  iam::EventLog events(**db, Clock::system(), ids);
  iam::Tenancy tenancy(**db, Clock::system(), ids);
  iam::Quotas quotas(**db, Clock::system());
  jobs::JobStore job_store(**db, Clock::system(), ids, events);
  jobs::DatasetPolicy dataset_policy{settings->data_dir, settings->data_dir + "/datasets"};
  dataset_policy.upload_max_bytes = static_cast<uint64_t>(settings->upload_max_bytes);
  dataset_policy.upload_max_entries = static_cast<size_t>(settings->upload_max_entries);
  dataset_policy.upload_max_ratio = static_cast<uint64_t>(settings->upload_max_ratio);
  jobs::Datasets datasets(**db, Clock::system(), ids, dataset_policy);
  // Versions keep their files beside the datasets (content-addressed, per project).
  datasets::DatasetVersions versions(**db, Clock::system(), ids, datasets,
                                     {.dir = settings->data_dir + "/dataset-versions",
                                      .archive_dir = settings->dataset_archive_dir});
  // Resumable uploads keep their bytes beside the datasets they become.
  jobs::Uploads uploads(**db, Clock::system(), ids, datasets,
                        dataset_policy.upload_dir + "/.partial");
  if (auto gone = uploads.expire(); !gone.ok()) {
    logger->warn("cannot drop expired uploads: {}", gone.status().message());
  }
  // Project repositories: git runs as the project's sandbox user when the server is root.
  jobs::CodeOptions code_options;
  code_options.root = settings->data_dir + "/code";
  code_options.bwrap = settings->bwrap;
  if (::geteuid() == 0) {
    code_options.uid_of = [&job_store, base = settings->project_uid_base,
                           fallback = settings->sandbox_uid](const std::string& project) {
      if (base <= 0) return static_cast<int64_t>(fallback);
      auto offset = job_store.uid_offset(project);
      return offset.ok() ? base + *offset : static_cast<int64_t>(fallback);
    };
  }
  jobs::CodeRepos code(code_options);
  jobs::Outputs outputs(**db, Clock::system(), ids,
                        jobs::OutputsOptions{.retention = settings->output_retention});
  training::RunService runs(**db, Clock::system(), ids,
                            training::RunOptions{.dir = settings->data_dir + "/training"});
  std::unique_ptr<exec::LocalExecutor> executor;
  std::unique_ptr<jobs::JobRunner> runner;
  std::string jobs_unavailable;
  if (settings->jobs_enabled && settings->jobs_local) {
    exec::LocalExecutorOptions eo;
    eo.jobs_dir = settings->jobs_dir;
    eo.shim_binary =
        std::filesystem::path(self_binary()).parent_path().append("jizhan-shim").string();
    eo.bwrap = settings->bwrap;
    eo.sandbox_uid = settings->sandbox_uid;
    eo.sandbox_gid = settings->sandbox_gid;
    eo.virtual_gpus = settings->virtual_gpus;
    eo.virtual_gpu_memory_mib = settings->virtual_gpu_memory_mib;
    eo.nvml_library = settings->nvml_library;
    eo.vgpu_library =
        settings->vgpu_library == "auto"
            ? std::filesystem::path(self_binary()).parent_path().append("libjzvgpu.so").string()
            : settings->vgpu_library;
    eo.cuda_driver = settings->cuda_driver;
    // The Python training client beside the binary (the build copies it there).
    const auto client = std::filesystem::path(self_binary()).parent_path() / "python";
    if (std::filesystem::is_directory(client / "jizhan")) eo.python_client = client.string();
    auto e = exec::LocalExecutor::create(eo);
    if (e.ok()) {
      executor = std::move(*e);
    } else {
      // The API still serves; submitting a job says why none can run here.
      jobs_unavailable = "jobs cannot run on this machine: " + e.status().message() +
                         " (or set jobs.enabled=false)";
    }
  }
  // The cluster registry: this machine's executor and every Kubernetes cluster registered,
  // as one executor for the runner.
  std::unique_ptr<clusters::ClusterRegistry> cluster_registry;
  const bool jobs_run = executor || (settings->jobs_enabled && !settings->jobs_local);
  if (jobs_run) {
    auto box = alerts::SecretBox::open_or_create(settings->data_dir + "/secrets.key");
    if (!box.ok()) return fail(box.status().with_context("clusters"), 1);
    clusters::RegistryOptions co;
    co.jobs_dir = settings->jobs_dir;
    co.node_sync = settings->clusters_sync;
    co.unavailable_after = settings->clusters_unavailable_after;
    co.retry = settings->clusters_sync * 2;
    cluster_registry = std::make_unique<clusters::ClusterRegistry>(
        **db, Clock::system(), std::move(*box), executor.get(), co, logger);
    if (Status s = cluster_registry->start(); !s.ok()) return fail(s.with_context("clusters"), 1);
  }
  if (jobs_run) {
    jobs::RunnerOptions ro;
    ro.grace = settings->jobs_grace;
    ro.max_pids = settings->jobs_max_pids;
    ro.project_uid_base = settings->project_uid_base;
    ro.storage_check = std::chrono::seconds(settings->storage_check_s);
    ro.tick = settings->jobs_tick;
    ro.policy = settings->placement_policy;
    ro.jobs_dir = settings->jobs_dir;
    ro.volumes_dir = settings->data_dir + "/volumes";
    ro.log_retention_age = settings->log_retention_age;
    ro.log_retention_bytes = settings->log_retention_bytes;
    ro.training_gpu_idle = settings->monitoring_training_idle;
    // Evaluations run uploaded packages with the jizhan-algo beside this binary.
    ro.algorithms_dir = settings->data_dir + "/autotest/algorithms";
    ro.tools_dir = std::filesystem::path(self_binary()).parent_path().string();
    runner = std::make_unique<jobs::JobRunner>(**db, Clock::system(), job_store, datasets, quotas,
                                               tenancy, *cluster_registry, logger, ro);
    runner->attach(&code, &outputs);
    runner->attach_runs(&runs);
    runner->also_count_storage(
        [&versions](const std::string& project) { return versions.stored_bytes(project); });
  }
  // GPU monitoring: the node agent for this machine, its series, GPU health to the runner.
  std::unique_ptr<monitor::Monitor> node_monitor;
  if (settings->monitoring_agent && runner) {
    monitor::MonitorOptions mo;
    mo.agent_binary =
        std::filesystem::path(self_binary()).parent_path().append("jizhan-agent").string();
    mo.state_dir = settings->data_dir + "/monitor";
    mo.nvml_library = settings->nvml_library;
    mo.jobs_dir = settings->jobs_dir;
    mo.filesystems = {settings->data_dir};
    mo.interval = settings->monitoring_interval;
    mo.tsdb.tiers = settings->monitoring_tiers;
    mo.tsdb.max_series = static_cast<size_t>(settings->monitoring_max_series);
    mo.prometheus_url = settings->monitoring_prometheus_url;
    node_monitor = std::make_unique<monitor::Monitor>(mo, Clock::system(), logger);
    runner->attach_monitor(node_monitor.get());
    node_monitor->on_health([r = runner.get()](const monitor::HealthChange& c) {
      r->set_gpu_health(c.uuid, c.healthy, c.reason);
    });
  }
  jobs::Metering metering(**db, Clock::system(), settings->metering_prices);
  // Alerts: rules over the events, receivers and the outbox that delivers to them; custom
  // rules read the monitor's series (embedded store or Prometheus). The source is made
  // first, so it outlives the service's thread.
  std::unique_ptr<MonitorSource> alert_metrics;
  if (node_monitor) alert_metrics = std::make_unique<MonitorSource>(*node_monitor);
  std::unique_ptr<alerts::AlertService> alert_service;
  if (settings->alerts_enabled) {
    auto box = alerts::SecretBox::open_or_create(settings->data_dir + "/secrets.key");
    if (!box.ok()) return fail(box.status().with_context("alerts"), 1);
    alerts::AlertOptions ao = settings->alerts;
    if (ao.console_url.empty())
      ao.console_url = display_url(settings->http.host, settings->http.port);
    alert_service = std::make_unique<alerts::AlertService>(**db, Clock::system(), ids, tenancy,
                                                           std::move(*box), ao, logger);
    if (alert_metrics) alert_service->attach_metrics(alert_metrics.get());
  }
  // The automatic test service: suites, uploaded algorithms, evaluations (eval jobs).
  autotest::AutotestOptions ato;
  ato.dir = settings->data_dir + "/autotest";
  ato.algo_binary =
      std::filesystem::path(self_binary()).parent_path().append("jizhan-algo").string();
  autotest::AutotestService autotest_service(**db, Clock::system(), ids, job_store, datasets,
                                             outputs, ato, logger);
  autotest::CompetitionService competitions(**db, Clock::system(), ids, autotest_service,
                                            ato.dir + "/competitions", logger);
  if (Status s = competitions.open(); !s.ok()) return fail(s.with_context("competitions"), 1);
  autotest_service.also_tick([&competitions] { competitions.tick(); });
  if (node_monitor) {
    // An evaluation's GPU memory: the peak of its job's per-GPU series, summed over GPUs.
    autotest_service.gpu_memory_of(
        [m = node_monitor.get()](const jobs::Job& j) -> std::optional<double> {
          if (!j.started_at_ms || !j.finished_at_ms) return std::nullopt;
          const int64_t from = *j.started_at_ms, to = *j.finished_at_ms + 1000;
          auto found =
              m->query("jizhan_job_gpu_memory_used_mib", {{"job", j.id}, {"project", j.project}},
                       from, to, to - from, metrics::Aggregation::kMax);
          if (!found.ok() || found->empty()) return std::nullopt;
          double sum = 0;
          for (const auto& series : *found) {
            double peak = 0;
            for (const auto& p : series.points) peak = std::max(peak, p.value);
            sum += peak;
          }
          return sum;
        });
  }
  // The algorithm store: listings of the packages tested here, orders, activations.
  auto store_box = alerts::SecretBox::open_or_create(settings->data_dir + "/secrets.key");
  if (!store_box.ok()) return fail(store_box.status().with_context("store"), 1);
  algostore::StoreOptions sto;
  sto.licence_days = settings->store_licence_days;
  algostore::AlgorithmStore algorithm_store(**db, Clock::system(), ids, autotest_service,
                                            std::move(*store_box), sto, logger);
  // Curations of dataset versions: their jobs' reports become review queues.
  datasets::CurationService curations(**db, Clock::system(), ids, job_store, outputs, versions,
                                      logger);
  if (Status s = curations.start_thread(); !s.ok()) return fail(s, 1);
  // Labelling tasks over versions: jobs, shapes, review, export.
  datasets::Labelling labelling(**db, Clock::system(), ids, versions);
  // Lifecycle rules: datasets whose rules are automatic are applied once a day (checked
  // hourly), as the user "lifecycle".
  datasets::Lifecycle lifecycle(**db, Clock::system(), versions, audit ? &*audit : nullptr, logger);
  lifecycle.start_thread(std::chrono::hours(24), std::chrono::hours(1));
  // Pre-annotations of labelling tasks: their jobs' boxes become first shapes.
  datasets::PreAnnotations preannotations(**db, Clock::system(), ids, job_store, outputs, labelling,
                                          logger);
  preannotations.start_thread();
  // Conversions of versions' annotations: their jobs' files become the next version.
  datasets::Conversions conversions(**db, Clock::system(), ids, job_store, outputs, versions,
                                    logger);
  conversions.start_thread();
  api::PlatformServices services{&job_store,
                                 &datasets,
                                 runner.get(),
                                 &events,
                                 jobs_unavailable,
                                 &uploads,
                                 &code,
                                 &outputs,
                                 node_monitor.get(),
                                 &metering,
                                 alert_service.get(),
                                 &runs,
                                 &autotest_service,
                                 &competitions,
                                 cluster_registry.get(),
                                 &algorithm_store,
                                 &versions,
                                 &curations,
                                 &labelling,
                                 &lifecycle,
                                 &preannotations,
                                 &conversions};

  api::ApiServer server(settings->http, **db, auth, audit ? &*audit : nullptr, logger,
                        Clock::system(), services);
  Status bound = server.bind();
  if (!bound.ok()) return fail(bound, 1);
  if (!jobs_unavailable.empty()) logger->error("{}", jobs_unavailable);
  if (runner && !executor) {
    logger->info("jobs: run on the registered Kubernetes clusters only (jobs.local=false)");
  } else if (runner) {
    const exec::MachineInfo& m = executor->machine();
    logger->info("jobs: this machine offers {} CPUs, {} MiB memory, {} GPUs ({}); cgroups: {}",
                 m.cpu_milli / 1000, m.memory_mib, m.gpus.size(), m.gpu_source, m.cgroups);
    if (m.cgroups == "none") {
      logger->warn("jobs: no writable cgroups here: CPU and memory limits are not enforced");
    }
  }
  if (runner) {
    if (Status s = runner->start(); !s.ok()) return fail(s.with_context("jobs"), 1);
  }
  if (alert_service) {
    if (Status s = alert_service->start(); !s.ok()) return fail(s.with_context("alerts"), 1);
  }
  if (Status s = autotest_service.start(); !s.ok()) return fail(s.with_context("autotest"), 1);
  if (node_monitor) {
    if (Status s = node_monitor->start(); !s.ok()) {
      logger->error("monitoring: {} (GPU metrics and health are off)", s.message());
    }
  }

  const std::string url = display_url(settings->http.host, server.port());
  logger->info("jizhan {} ({}) listening on {} (store: {}, data dir: {})", version(),
               git_revision(), url, settings->db.url.redacted, settings->data_dir);
  if (boot->created) {
    logger->info(
        "first start: created user 'admin' (platform-admin) and an API token for it in "
        "{}/admin-token (mode 0600)",
        settings->data_dir);
    if (boot->password_generated) {
      // Printed once, on stdout rather than in the log; the file keeps it for later.
      std::string password;
      std::ifstream(settings->data_dir + "/initial-admin-password") >> password;
      std::cout << "\n  Initial password of user 'admin': " << password << "\n  (also in "
                << settings->data_dir
                << "/initial-admin-password, mode 0600; change it after logging in)\n\n"
                << std::flush;
    }
  }

  std::promise<Status> done;
  auto finished = done.get_future();
  std::thread serving([&] { done.set_value(server.run()); });

  int exit_code = 0;
  for (;;) {
    timespec tick{0, 200'000'000L};
    int sig = sigtimedwait(&signals, nullptr, &tick);
    if (sig == SIGTERM || sig == SIGINT) {
      logger->info("received {}; stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
      server.stop();
      if (finished.wait_for(settings->shutdown_timeout) != std::future_status::ready) {
        logger->error("requests still in flight after {} s (server.shutdown_timeout_s); exiting",
                      settings->shutdown_timeout.count());
        logger->flush();
        _exit(1);
      }
      break;
    }
    if (finished.wait_for(std::chrono::seconds(0)) == std::future_status::ready) break;
  }
  serving.join();
  if (node_monitor) node_monitor->stop();
  autotest_service.stop();
  if (runner) runner->stop();  // jobs keep running; the next start adopts them
  Status result = finished.get();
  if (!result.ok()) {
    logger->error("{}", result.message());
    exit_code = 1;
  } else {
    logger->info("stopped cleanly");
  }
  logger->flush();
  return exit_code;
}

int run_audit_verify(const ConfigSources& sources, bool check_archive_files) {
  auto fail = [](const Status& s, int code) {
    std::cerr << "jizhan audit verify: error: " << s.message() << std::endl;
    return code;
  };
  ServerSettings settings;
  auto db = open_for_audit(sources, "verify", settings);
  if (!db.ok()) return fail(db.status(), usage_error(db.status()) ? 2 : 1);
  IdGenerator ids(Clock::system(), SecureRandom::instance());
  iam::AuditLog audit(**db, Clock::system(), ids);
  auto v = audit.verify(check_archive_files);
  if (!v.ok()) return fail(v.status(), 1);
  std::string archived;
  if (v->archives > 0) {
    archived = " in the store, " + std::to_string(v->archived_records) + " in " +
               std::to_string(v->archives) + " archive file(s)" +
               (check_archive_files ? "" : " (files not read)");
  }
  if (v->intact) {
    std::cout << "audit chain intact: " << v->records << " records" << archived << std::endl;
    return 0;
  }
  if (!v->first_bad) {
    std::cout << "audit chain BROKEN: " << v->reason << std::endl;
    return 1;
  }
  const iam::AuditRecord& bad = *v->first_bad;
  std::cout << "audit chain BROKEN at record seq " << bad.seq << " (id " << bad.id << ", "
            << format_rfc3339(Clock::WallTime(std::chrono::milliseconds(bad.time_ms))) << ", user '"
            << bad.user << "', verb " << bad.verb << "): " << v->reason << "; " << v->records
            << " records before it verify" << std::endl;
  return 1;
}

int run_audit_archive(const ConfigSources& sources, std::chrono::milliseconds older_than,
                      const std::string& out_dir) {
  auto fail = [](const Status& s, int code) {
    std::cerr << "jizhan audit archive: error: " << s.message() << std::endl;
    return code;
  };
  ServerSettings settings;
  auto db = open_for_audit(sources, "archive", settings);
  if (!db.ok()) return fail(db.status(), usage_error(db.status()) ? 2 : 1);
  IdGenerator ids(Clock::system(), SecureRandom::instance());
  iam::AuditLog audit(**db, Clock::system(), ids);
  const std::string dir = out_dir.empty() ? settings.audit_archive_dir : out_dir;
  auto a = audit.archive(Clock::system().now_unix_ms() - older_than.count(), dir);
  if (!a.ok()) return fail(a.status(), 1);
  if (!a->has_value()) {
    std::cout << "nothing to archive: no audit record is that old" << std::endl;
    return 0;
  }
  std::cout << "archived records " << (*a)->first_seq << ".." << (*a)->last_seq << " ("
            << (*a)->records << " records) to " << (*a)->file << "\nsha256 " << (*a)->file_sha256
            << std::endl;
  return 0;
}

}  // namespace jz::cli
