#include "platform/iam/quota.h"

#include <algorithm>
#include <cmath>

#include "platform/iam/tenancy.h"

namespace jz::iam {
namespace {

struct Field {
  const char* name;
  std::optional<int64_t> Quota::*member;
  bool fractional;  // given as a decimal number, stored in thousandths
  int64_t max;      // in stored units
};

constexpr Field kFields[] = {
    {"gpus", &Quota::gpus_milli, true, int64_t{100000} * 1000},
    {"gpu_memory_mib", &Quota::gpu_memory_mib, false, int64_t{1} << 40},
    {"concurrent_jobs", &Quota::concurrent_jobs, false, 1000000},
    {"cpu_cores", &Quota::cpu_milli, true, int64_t{10000000} * 1000},
    {"memory_mib", &Quota::memory_mib, false, int64_t{1} << 40},
    {"per_user_gpus", &Quota::per_user_gpus_milli, true, int64_t{100000} * 1000},
    {"storage_mib", &Quota::storage_mib, false, int64_t{1} << 40},
};

std::optional<int64_t> opt(const store::Row& r, size_t i) {
  if (r.is_null(i)) return std::nullopt;
  return r.integer(i);
}

store::Value val(const std::optional<int64_t>& v) {
  if (!v) return std::monostate{};
  return *v;
}

}  // namespace

Json Quota::to_json() const {
  Json j = Json::object();
  for (const auto& f : kFields) {
    const auto& v = this->*f.member;
    if (!v) {
      j[f.name] = nullptr;
    } else if (f.fractional) {
      j[f.name] = static_cast<double>(*v) / 1000.0;
    } else {
      j[f.name] = *v;
    }
  }
  j["clusters"] = clusters.empty() ? Json(nullptr) : Json(clusters);
  return j;
}

Result<Quota> Quota::from_json(const Json& body) {
  if (!body.is_object()) return Status::invalid_argument("request body must be a JSON object");
  for (auto& [k, v] : body.items()) {
    bool known = k == "usage" || k == "clusters";  // usage: what GET adds (read-only)
    for (const auto& f : kFields) known = known || k == f.name;
    if (!known) {
      return Status::invalid_argument("unknown quota field '" + k +
                                      "': use gpus, gpu_memory_mib, concurrent_jobs, cpu_cores, "
                                      "memory_mib, per_user_gpus, storage_mib, clusters");
    }
  }
  Quota q;
  for (const auto& f : kFields) {
    auto it = body.find(f.name);
    if (it == body.end() || it->is_null()) continue;
    std::string field = f.name;
    if (!it->is_number()) {
      return Status::invalid_argument("field '" + field + "' must be a number or null, got " +
                                      std::string(json::type_phrase(*it)));
    }
    int64_t stored;
    if (f.fractional) {
      double d = it->get<double>();
      if (!std::isfinite(d) || d < 0) {
        return Status::invalid_argument("field '" + field + "' must be zero or more");
      }
      double milli = d * 1000.0;
      if (std::fabs(milli - std::round(milli)) > 1e-6) {
        return Status::invalid_argument("field '" + field +
                                        "' allows at most three decimal places");
      }
      if (milli > static_cast<double>(f.max)) {
        return Status::invalid_argument("field '" + field + "' is too large");
      }
      stored = static_cast<int64_t>(std::llround(milli));
    } else {
      if (!it->is_number_integer()) {
        return Status::invalid_argument("field '" + field + "' must be a whole number");
      }
      if (it->is_number_unsigned() ? it->get<uint64_t>() > static_cast<uint64_t>(f.max)
                                   : (it->get<int64_t>() < 0 || it->get<int64_t>() > f.max)) {
        return Status::invalid_argument("field '" + field + "' must be between 0 and " +
                                        std::to_string(f.max));
      }
      stored = it->get<int64_t>();
    }
    q.*f.member = stored;
  }
  if (auto it = body.find("clusters"); it != body.end() && !it->is_null()) {
    if (!it->is_array() || it->size() > 64) {
      return Status::invalid_argument(
          "field 'clusters' must be a list of cluster names (or null: any)");
    }
    for (const auto& c : *it) {
      const std::string name = c.is_string() ? c.get<std::string>() : "";
      if (!validate_cluster_name(name).ok()) {
        return Status::invalid_argument(
            "field 'clusters': '" + name +
            "' is not a cluster name (lowercase letters, digits and '-', "
            "up to 63)");
      }
      if (std::find(q.clusters.begin(), q.clusters.end(), name) == q.clusters.end())
        q.clusters.push_back(name);
    }
  }
  if (q.gpus_milli && q.per_user_gpus_milli && *q.per_user_gpus_milli > *q.gpus_milli) {
    return Status::invalid_argument("field 'per_user_gpus' may not exceed the project's 'gpus'");
  }
  return q;
}

Result<Quota> Quotas::get(const std::string& project_id) {
  Quota q;
  JZ_RETURN_IF_ERROR(db_.with_conn([&](store::Conn& c) -> Status {
    JZ_ASSIGN_OR_RETURN(
        auto rows, c.query("SELECT gpus_milli, gpu_memory_mib, concurrent_jobs, cpu_milli, "
                           "memory_mib, per_user_gpus_milli, storage_mib, clusters FROM quotas "
                           "WHERE project_id = ?",
                           {project_id}));
    if (rows.empty()) return {};
    const auto& r = rows[0];
    q = Quota{opt(r, 0), opt(r, 1), opt(r, 2), opt(r, 3), opt(r, 4), opt(r, 5), opt(r, 6), {}};
    if (!r.is_null(7)) {
      Json list = Json::parse(r.text(7), nullptr, false);
      if (list.is_array()) {
        for (const auto& c : list) {
          if (c.is_string()) q.clusters.push_back(c.get<std::string>());
        }
      }
    }
    return {};
  }));
  return q;
}

Status Quotas::set(const std::string& project_id, const Quota& q, const QuotaUse& use) {
  if (q.gpus_milli && *q.gpus_milli < use.gpus_milli) {
    return Status::failed_precondition(
        "field 'gpus': " + std::to_string(static_cast<double>(*q.gpus_milli) / 1000) +
        " is below the " + std::to_string(static_cast<double>(use.gpus_milli) / 1000) +
        " GPUs in use; stop jobs first or choose a higher limit");
  }
  if (q.concurrent_jobs && *q.concurrent_jobs < use.concurrent_jobs) {
    return Status::failed_precondition(
        "field 'concurrent_jobs': " + std::to_string(*q.concurrent_jobs) + " is below the " +
        std::to_string(use.concurrent_jobs) + " jobs running");
  }
  return db_.transact([&](store::Conn& c) -> Status {
    JZ_RETURN_IF_ERROR(c.exec("DELETE FROM quotas WHERE project_id = ?", {project_id}).status());
    return c
        .exec(
            "INSERT INTO quotas (project_id, gpus_milli, gpu_memory_mib, concurrent_jobs, "
            "cpu_milli, memory_mib, per_user_gpus_milli, storage_mib, clusters, updated_at_ms) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            {project_id, val(q.gpus_milli), val(q.gpu_memory_mib), val(q.concurrent_jobs),
             val(q.cpu_milli), val(q.memory_mib), val(q.per_user_gpus_milli), val(q.storage_mib),
             q.clusters.empty() ? store::Value(std::monostate{})
                                : store::Value(json::dump(Json(q.clusters))),
             clock_.now_unix_ms()})
        .status();
  });
}

}  // namespace jz::iam
