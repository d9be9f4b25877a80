#include "cli/server_config.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "core/clock.h"

namespace jz::cli {

const std::vector<std::string>& reserved_environment() {
  // The admin's first password, and the client commands' variables (cli/client.h).
  static const std::vector<std::string> kReserved = {"JIZHAN_ADMIN_PASSWORD", "JIZHAN_SERVER",
                                                     "JIZHAN_TOKEN", "JIZHAN_CONFIG_DIR"};
  return kReserved;
}

Result<ServerSettings> server_settings(const Config& c) {
  ServerSettings s;
  s.data_dir = c.get_string("server.data_dir");
  if (s.data_dir.empty()) {
    return Status::invalid_argument("config key 'server.data_dir' (" +
                                    c.source_of("server.data_dir") + ") is empty: give a folder");
  }
  Status listen =
      api::parse_listen_address(c.get_string("server.listen"), s.http.host, s.http.port);
  if (!listen.ok()) {
    return listen.with_context("config key 'server.listen' (" + c.source_of("server.listen") + ")");
  }
  s.http.threads = static_cast<int>(c.get_int("server.threads"));
  s.http.max_body_bytes = static_cast<size_t>(c.get_int("server.max_body_bytes"));
  s.http.header_timeout = std::chrono::seconds(c.get_int("server.header_timeout_s"));
  s.http.read_timeout = std::chrono::seconds(c.get_int("server.read_timeout_s"));
  s.http.max_connections = static_cast<int>(c.get_int("server.max_connections"));
  s.http.max_connections_per_client =
      static_cast<int>(c.get_int("server.max_connections_per_client"));
  s.http.max_streams_per_user = static_cast<int>(c.get_int("server.max_streams_per_user"));
  s.http.write_timeout = std::chrono::seconds(c.get_int("server.write_timeout_s"));
  s.http.websocket_ping_interval =
      std::chrono::seconds(c.get_int("server.websocket_ping_interval_s"));
  s.http.websocket_max_message_bytes =
      static_cast<size_t>(c.get_int("server.websocket_max_message_bytes"));
  s.http.proxy_threads = static_cast<int>(c.get_int("server.proxy_threads"));
  s.http.devenv_max_connections = static_cast<int>(c.get_int("server.devenv_max_connections"));
  s.http.git_max_push_bytes = static_cast<size_t>(c.get_int("server.git_max_push_bytes"));
  s.output_retention = std::chrono::hours(c.get_int("jobs.output_retention_h"));
  s.http.keepalive_timeout = std::chrono::seconds(c.get_int("server.keepalive_timeout_s"));
  s.http.keepalive_max_requests = static_cast<int>(c.get_int("server.keepalive_max_requests"));
  s.http.metrics_public = c.get_bool("server.metrics_public");
  s.http.secure_cookies = c.get_bool("server.secure_cookies");
  s.http.console_dir = c.get_string("server.console_dir");
  s.shutdown_timeout = std::chrono::seconds(c.get_int("server.shutdown_timeout_s"));

  std::string url = c.get_string("store.url");
  if (url.empty()) url = "sqlite:" + (std::filesystem::path(s.data_dir) / "jizhan.db").string();
  auto parsed = store::parse_database_url(url);
  if (!parsed.ok()) {
    return parsed.status().with_context("config key 'store.url' (" + c.source_of("store.url") +
                                        ")");
  }
  s.db.url = *parsed;
  s.db.pool_size = static_cast<int>(c.get_int("store.pool_size"));
  s.db.busy_timeout = std::chrono::milliseconds(c.get_int("store.busy_timeout_ms"));
  s.db.connect_timeout = std::chrono::seconds(c.get_int("store.connect_timeout_s"));
  s.db.sqlite_synchronous_full = c.get_string("store.sqlite_synchronous") == "full";

  s.log.format = *parse_log_format(c.get_string("log.format"));
  s.log.level = *parse_log_level(c.get_string("log.level"));
  s.http.access_log = c.get_bool("log.access");

  s.audit_enabled = c.get_bool("audit.enabled");
  if (const std::string& r = c.get_string("audit.retention"); !r.empty()) {
    auto d = parse_duration(r);
    if (!d.ok()) {
      return Status::invalid_argument("config key 'audit.retention' (" +
                                      c.source_of("audit.retention") +
                                      "): " + d.status().message());
    }
    s.audit_retention = *d;
  }
  s.audit_archive_dir = c.get_string("audit.archive_dir");
  if (s.audit_archive_dir.empty()) s.audit_archive_dir = s.data_dir + "/audit-archive";
  s.auth.session_ttl = std::chrono::seconds(c.get_int("auth.session_ttl_s"));
  s.auth.lockout_threshold = static_cast<int>(c.get_int("auth.lockout_threshold"));
  s.auth.lockout = std::chrono::seconds(c.get_int("auth.lockout_s"));
  s.auth.hash_cost = c.get_string("auth.password_hash_cost") == "minimum"
                         ? iam::HashCost::kMinimum
                         : iam::HashCost::kInteractive;
  s.auth.token_cache = std::chrono::seconds(c.get_int("auth.token_cache_s"));
  s.bootstrap_token_ttl = std::chrono::seconds(c.get_int("auth.bootstrap_token_ttl_s"));
  s.jobs_enabled = c.get_bool("jobs.enabled");
  s.jobs_dir = c.get_string("jobs.dir");
  if (s.jobs_dir.empty()) s.jobs_dir = s.data_dir + "/jobs";
  s.jobs_grace = std::chrono::seconds(c.get_int("jobs.grace_period_s"));
  s.jobs_max_pids = c.get_int("jobs.max_pids");
  s.storage_check_s = c.get_int("jobs.storage_check_s");
  s.jobs_tick = std::chrono::milliseconds(c.get_int("jobs.tick_ms"));
  s.jobs_local = c.get_bool("jobs.local");
  s.clusters_sync = std::chrono::milliseconds(c.get_int("clusters.sync_ms"));
  s.store_licence_days = c.get_int("store.licence_days");
  s.clusters_unavailable_after =
      std::chrono::milliseconds(c.get_int("clusters.unavailable_after_ms"));
  s.placement_policy = *sched::policy_named(c.get_string("jobs.placement_policy"));  // checked
  s.log_retention_age = std::chrono::hours(24 * c.get_int("logs.retention_days"));
  s.log_retention_bytes = c.get_int("logs.retention_mib") << 20;
  // One list for every tenant let any data owner register any tenant's folder (issue 17).
  if (!c.get_string("datasets.roots").empty()) {
    return Status::invalid_argument(
        "config key 'datasets.roots' (" + c.source_of("datasets.roots") +
        ") is no longer read: dataset roots belong to one workspace each. Remove it and let a "
        "platform admin assign each folder: jizhan workspace roots add WORKSPACE PATH (POST "
        "/api/v1/workspaces/{workspace}/dataset-roots)");
  }
  s.dataset_archive_dir = c.get_string("datasets.archive_dir");
  s.upload_max_bytes = c.get_int("datasets.upload_max_bytes");
  s.upload_max_entries = c.get_int("datasets.upload_max_entries");
  s.upload_max_ratio = c.get_int("datasets.upload_max_ratio");
  s.virtual_gpus = static_cast<int>(c.get_int("exec.virtual_gpus"));
  s.virtual_gpu_memory_mib = c.get_int("exec.virtual_gpu_memory_mib");
  s.sandbox_uid = static_cast<int>(c.get_int("exec.sandbox_uid"));
  s.project_uid_base = c.get_int("exec.project_uid_base");
  s.sandbox_gid = static_cast<int>(c.get_int("exec.sandbox_gid"));
  s.bwrap = c.get_string("exec.bwrap");
  s.nvml_library = c.get_string("exec.nvml_library");
  s.vgpu_library = c.get_string("exec.vgpu_library");
  s.cuda_driver = c.get_string("exec.cuda_driver");
  s.monitoring_agent = c.get_bool("monitoring.agent");
  s.monitoring_interval = std::chrono::milliseconds(c.get_int("monitoring.interval_ms"));
  s.monitoring_max_series = c.get_int("monitoring.max_series");
  s.monitoring_prometheus_url = c.get_string("monitoring.prometheus_url");
  if (!s.monitoring_prometheus_url.empty() &&
      s.monitoring_prometheus_url.rfind("http://", 0) != 0 &&
      s.monitoring_prometheus_url.rfind("https://", 0) != 0) {
    return Status::invalid_argument(
        "config key 'monitoring.prometheus_url' must start with "
        "http:// or https://, not '" +
        s.monitoring_prometheus_url + "'");
  }
  auto prices =
      jobs::parse_prices(c.get_string("metering.prices"), c.get_string("metering.currency"));
  if (!prices.ok()) return prices.status().with_context("config key 'metering.prices'");
  s.metering_prices = std::move(*prices);
  s.monitoring_training_idle = std::chrono::seconds(c.get_int("monitoring.training_idle_s"));
  auto tiers = metrics::parse_tiers(c.get_string("monitoring.tiers"));
  if (!tiers.ok()) return tiers.status().with_context("config key 'monitoring.tiers'");
  s.monitoring_tiers = std::move(*tiers);
  s.alerts_enabled = c.get_bool("alerts.enabled");
  s.alerts.allow_private_networks = c.get_bool("alerts.allow_private_networks");
  s.alerts.console_url = c.get_string("alerts.console_url");
  s.alerts.max_attempts = static_cast<int>(c.get_int("alerts.max_attempts"));
  s.alerts.delivery_threads = static_cast<int>(c.get_int("alerts.delivery_threads"));
  s.alerts.tick = std::chrono::milliseconds(c.get_int("alerts.tick_ms"));
  s.alerts.rule_interval = std::chrono::seconds(c.get_int("alerts.rule_interval_s"));
  s.alerts.backoff_base = std::chrono::milliseconds(c.get_int("alerts.backoff_ms"));
  s.alerts.ca_file = c.get_string("alerts.ca_file");
  return s;
}

Status prepare_data_dir(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    return Status::failed_precondition("data directory '" + dir +
                                       "' (server.data_dir) cannot be "
                                       "created: " +
                                       ec.message() +
                                       "; choose another with --data-dir or fix the path");
  }
  std::string probe = (std::filesystem::path(dir) / ".write-test").string();
  int fd = open(probe.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0 || write(fd, "x", 1) != 1 || fsync(fd) != 0) {
    int err = errno;
    if (fd >= 0) close(fd);
    return Status::failed_precondition("data directory '" + dir +
                                       "' (server.data_dir) is not "
                                       "writable: " +
                                       errno_message(err) +
                                       "; choose another with --data-dir or fix its permissions");
  }
  close(fd);
  unlink(probe.c_str());
  // Others may pass through (job sandboxes reach their folders under it) but not list it;
  // the files in it are the server's own (mode 0600).
  struct stat st;
  if (::stat(dir.c_str(), &st) == 0 && st.st_uid == ::geteuid()) ::chmod(dir.c_str(), 0711);
  return {};
}

std::string describe_keys(bool markdown) {
  std::string out;
  if (markdown) {
    out += "| key | environment variable | type | default | description |\n";
    out += "|---|---|---|---|---|\n";
  }
  for (const auto& k : server_schema().keys()) {
    std::string type;
    switch (k.type) {
      case ConfigType::kString:
        type = "string";
        break;
      case ConfigType::kBool:
        type = "bool";
        break;
      case ConfigType::kInt:
        type = "integer " + std::to_string(k.min) + ".." + std::to_string(k.max);
        break;
      case ConfigType::kEnum:
        for (const auto& c : k.choices) type += (type.empty() ? "one of " : ", ") + c;
        break;
    }
    std::string def = k.default_value.empty() ? "(empty)" : k.default_value;
    if (markdown) {
      out += "| `" + k.name + "` | `" + ConfigSchema::env_name(k.name) + "` | " + type + " | `" +
             def + "` | " + k.help + " |\n";
    } else {
      out += k.name + " (" + type + ", default " + def + ")\n    " + k.help + "\n";
    }
  }
  return out;
}

}  // namespace jz::cli
