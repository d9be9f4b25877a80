// The `jizhan server` configuration: every key the server reads, declared once here.
// docs/CONFIG.md is generated from this schema (`jizhan config keys --markdown`) and a
// test keeps the two in step.
#pragma once

#include <memory>
#include <string>

#include "api/server.h"
#include "cli/server_schema.h"
#include "core/config.h"
#include "core/log.h"
#include "metrics/tsdb.h"
#include "platform/alerts/alerts.h"
#include "platform/iam/authenticator.h"
#include "platform/jobs/metering.h"
#include "sched/scheduler.h"
#include "store/database.h"

namespace jz::cli {

// JIZHAN_* variables that are read by other parts of the program, not config keys.
const std::vector<std::string>& reserved_environment();

// Everything the server needs, validated. Errors name the key and where it came from.
struct ServerSettings {
  std::string data_dir;
  api::ServerOptions http;
  store::DatabaseOptions db;
  LogOptions log;
  bool access_log = true;
  std::chrono::seconds shutdown_timeout{30};
  iam::AuthOptions auth;
  bool audit_enabled = true;
  std::chrono::milliseconds audit_retention{0};  // 0: keep every record in the store
  std::string audit_archive_dir;
  std::chrono::seconds bootstrap_token_ttl{std::chrono::hours(24 * 90)};
  bool jobs_enabled = true;
  bool jobs_local = true;  // also on this machine (false: on registered clusters only)
  bool monitoring_agent = true;
  bool alerts_enabled = true;
  std::string jobs_dir;
  std::chrono::seconds jobs_grace{10};
  int64_t jobs_max_pids = 4096;
  std::chrono::hours output_retention{24 * 30};
  int64_t project_uid_base = 1500000000;
  int64_t storage_check_s = 10;
  std::string dataset_archive_dir;  // "": DATA/dataset-versions/archive
  int64_t upload_max_bytes = int64_t{16} << 30, upload_max_entries = 1000000,
          upload_max_ratio = 200;
  std::chrono::milliseconds jobs_tick{100};
  std::chrono::milliseconds clusters_sync{5000};
  std::chrono::milliseconds clusters_unavailable_after{15000};
  int64_t store_licence_days = 30;
  sched::Policy placement_policy = sched::Policy::kFgd;
  std::chrono::seconds log_retention_age{std::chrono::hours(24 * 30)};
  int64_t log_retention_bytes = int64_t{50} << 30;
  int virtual_gpus = 0;
  int64_t virtual_gpu_memory_mib = 16384;
  int sandbox_uid = 65534, sandbox_gid = 65534;
  std::string bwrap = "bwrap";
  std::string nvml_library = "libnvidia-ml.so.1";
  std::string vgpu_library = "auto";  // "auto": libjzvgpu.so beside jizhan; "": none
  std::string cuda_driver;
  std::chrono::milliseconds monitoring_interval{1000};
  int64_t monitoring_max_series = 4096;
  std::chrono::seconds monitoring_training_idle{1800};
  std::vector<metrics::Tier> monitoring_tiers;
  std::string monitoring_prometheus_url;
  jobs::Prices metering_prices;
  alerts::AlertOptions alerts;
};

Result<ServerSettings> server_settings(const Config& config);

// Creates the data directory if needed and proves it writable.
Status prepare_data_dir(const std::string& dir);

// The keys as a Markdown table (for docs/CONFIG.md) or as plain text.
std::string describe_keys(bool markdown);

}  // namespace jz::cli
