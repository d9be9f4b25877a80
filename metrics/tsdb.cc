#include "metrics/tsdb.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/clock.h"
#include "core/files.h"

namespace jz::metrics {

namespace fs = std::filesystem;

// One interval of one tier. idx1 is the interval's index (seconds / step) plus one, so a
// zero slot (a sparse file's hole) is empty.
struct Tsdb::Slot {
  uint32_t idx1;
  float min, max;
  uint32_t count;
  double sum;
};

struct Tsdb::Series {
  static_assert(sizeof(Slot) == 24, "the slot is the file format");
  SeriesInfo info;
  Slot* slots = nullptr;
  size_t bytes = 0;
  ~Series() {
    if (slots) ::munmap(slots, bytes);
  }
};

namespace {

// Appends a line to the series index (O_APPEND: a crash leaves at most a cut last line,
// which load() skips).
Status append_line(const std::string& path, const std::string& line) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) return Status::unavailable("cannot open " + path + ": " + errno_message(errno));
  const ssize_t n = ::write(fd, line.data(), line.size());
  const int e = errno;
  ::close(fd);
  if (n != static_cast<ssize_t>(line.size())) {
    return Status::unavailable("cannot write " + path + ": " + errno_message(e));
  }
  return Status::ok_status();
}

}  // namespace

namespace {

// A whole number of seconds ("10s", "5m", "24h", "1h30m", "2w"); nullopt when not that.
std::optional<int64_t> duration_s(std::string_view t) {
  auto d = parse_duration(t);
  if (!d.ok() || d->count() % 1000 != 0) return std::nullopt;
  return d->count() / 1000;
}

}  // namespace

Result<std::vector<Tier>> parse_tiers(const std::string& text) {
  std::vector<Tier> out;
  size_t at = 0;
  while (at <= text.size()) {
    const size_t comma = std::min(text.find(',', at), text.size());
    std::string_view part(text.data() + at, comma - at);
    while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
    while (!part.empty() && part.back() == ' ') part.remove_suffix(1);
    const size_t colon = part.find(':');
    auto step = colon == std::string_view::npos ? std::nullopt : duration_s(part.substr(0, colon));
    auto keep = colon == std::string_view::npos ? std::nullopt : duration_s(part.substr(colon + 1));
    if (!step || !keep) {
      return Status::invalid_argument(
          "'" + std::string(part) +
          "' is not STEP:KEEP (e.g. 10s:24h; units s, m, h, d, w): tiers are written like "
          "1s:1h,10s:24h,1m:30d");
    }
    if (*keep < *step || *keep % *step != 0 || *keep / *step > 10'000'000) {
      return Status::invalid_argument("tier " + std::string(part) +
                                      ": its keep must be a whole number of steps, at most ten "
                                      "million");
    }
    if (!out.empty() && *step <= out.back().step.count()) {
      return Status::invalid_argument("tier " + std::string(part) +
                                      ": each tier's step must be coarser than the one before");
    }
    out.push_back({std::chrono::seconds(*step), std::chrono::seconds(*keep)});
    if (out.size() > 8) return Status::invalid_argument("at most 8 tiers");
    at = comma + 1;
  }
  return out;
}

Result<Aggregation> parse_aggregation(const std::string& text) {
  if (text == "avg" || text.empty()) return Aggregation::kAvg;
  if (text == "min") return Aggregation::kMin;
  if (text == "max") return Aggregation::kMax;
  return Status::invalid_argument("aggregation must be avg, min or max, not '" + text + "'");
}

std::string Tsdb::key_of(const std::string& metric, const Labels& labels) {
  std::string k = metric;
  for (const auto& [n, v] : labels) {
    k += '\x1f';
    k += n;
    k += '\x1e';
    k += v;
  }
  return k;
}

Result<std::unique_ptr<Tsdb>> Tsdb::open(TsdbOptions options) {
  if (options.dir.empty()) return Status::invalid_argument("the time-series store needs a folder");
  if (options.tiers.empty()) return Status::invalid_argument("the time-series store needs a tier");
  for (const auto& t : options.tiers) {
    if (t.step.count() < 1 || t.keep < t.step || t.keep.count() / t.step.count() > 10'000'000) {
      return Status::invalid_argument(
          "a tier's step must be at least 1 s and its keep at least one step (and at most "
          "ten million steps)");
    }
  }
  std::unique_ptr<Tsdb> db(new Tsdb(std::move(options)));
  for (const auto& t : db->options_.tiers) {
    db->tier_offset_.push_back(db->slots_per_series_);
    db->tier_slots_.push_back(t.keep.count() / t.step.count());
    db->slots_per_series_ += db->tier_slots_.back();
  }
  JZ_RETURN_IF_ERROR(db->load());
  return db;
}

Tsdb::Tsdb(TsdbOptions options) : options_(std::move(options)) {}

Tsdb::~Tsdb() = default;

Status Tsdb::load() {
  std::error_code ec;
  fs::create_directories(options_.dir, ec);
  if (ec) return Status::unavailable("cannot create " + options_.dir + ": " + ec.message());
  // A store written with other tiers holds slots at other places: start it again.
  nlohmann::json layout = nlohmann::json::array();
  for (const auto& t : options_.tiers) layout.push_back({t.step.count(), t.keep.count()});
  const std::string layout_path = options_.dir + "/layout.json";
  auto old = read_file(layout_path);
  if (!old.ok() || nlohmann::json::parse(*old, nullptr, false) != layout) {
    for (const auto& e : fs::directory_iterator(options_.dir, ec)) {
      const std::string n = e.path().filename().string();
      if (n.ends_with(".ring") || n == "series.jsonl") fs::remove(e.path(), ec);
    }
    JZ_RETURN_IF_ERROR(write_file(layout_path, layout.dump() + "\n"));
  }
  auto index = read_file(options_.dir + "/series.jsonl");
  if (!index.ok()) return Status::ok_status();
  std::istringstream in(*index);
  std::string line;
  while (std::getline(in, line)) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (!j.is_object() || !j["id"].is_number_unsigned() || !j["metric"].is_string() ||
        !j["labels"].is_object()) {
      continue;  // a line cut by a crash
    }
    const uint32_t id = j["id"].get<uint32_t>();
    if (id >= options_.max_series) continue;
    Labels labels;
    for (const auto& [k, v] : j["labels"].items()) {
      if (v.is_string()) labels[k] = v.get<std::string>();
    }
    if (series_.size() <= id) series_.resize(id + 1);
    auto s = std::make_unique<Series>();
    s->info = {id, j["metric"].get<std::string>(), std::move(labels), 0};
    by_key_[key_of(s->info.metric, s->info.labels)] = id;
    series_[id] = std::move(s);
  }
  for (uint32_t id = 0; id < series_.size(); ++id) {
    if (!series_[id]) continue;
    auto mapped = map_series(id);
    if (!mapped.ok()) {
      series_[id].reset();
      continue;
    }
    // The last sample: the newest slot of the finest ring (nothing overwrites it after).
    uint32_t newest = 0;
    for (int64_t i = 0; i < tier_slots_[0]; ++i)
      newest = std::max(newest, (*mapped)->slots[i].idx1);
    if (newest > 0) {
      (*mapped)->info.last_ms = (int64_t{newest} - 1) * options_.tiers[0].step.count() * 1000;
    }
  }
  return Status::ok_status();
}

Result<Tsdb::Series*> Tsdb::map_series(uint32_t id) {
  Series& s = *series_[id];
  if (s.slots) return &s;
  const std::string file = options_.dir + "/s" + std::to_string(id) + ".ring";
  const int fd = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return Status::unavailable("cannot open " + file + ": " + errno_message(errno));
  s.bytes = static_cast<size_t>(slots_per_series_) * sizeof(Slot);
  // Sparse: the file takes disk only where slots were written.
  if (::ftruncate(fd, static_cast<off_t>(s.bytes)) != 0) {
    const int e = errno;
    ::close(fd);
    return Status::unavailable("cannot size " + file + ": " + errno_message(e));
  }
  void* p = ::mmap(nullptr, s.bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  ::close(fd);
  if (p == MAP_FAILED)
    return Status::unavailable("cannot map " + file + ": " + errno_message(errno));
  s.slots = static_cast<Slot*>(p);
  return &s;
}

Result<uint32_t> Tsdb::series(const std::string& metric, const Labels& labels) {
  const std::string key = key_of(metric, labels);
  {
    std::shared_lock lock(mu_);
    if (auto it = by_key_.find(key); it != by_key_.end()) return it->second;
  }
  std::unique_lock lock(mu_);
  if (auto it = by_key_.find(key); it != by_key_.end()) return it->second;
  uint32_t id = 0;
  while (id < series_.size() && series_[id]) ++id;
  if (id >= options_.max_series) {
    return Status::resource_exhausted(
        "the time-series store holds its limit of " + std::to_string(options_.max_series) +
        " series (monitoring.max_series); raise it, or let old series age out");
  }
  if (series_.size() <= id) series_.resize(id + 1);
  series_[id] = std::make_unique<Series>();
  series_[id]->info = {id, metric, labels, 0};
  auto mapped = map_series(id);
  if (!mapped.ok()) {
    series_[id].reset();
    return mapped.status();
  }
  nlohmann::json line = {{"id", id}, {"metric", metric}, {"labels", labels}};
  JZ_RETURN_IF_ERROR(append_line(options_.dir + "/series.jsonl", line.dump() + "\n"));
  by_key_[key] = id;
  return id;
}

void Tsdb::append(uint32_t id, int64_t t_ms, double value) {
  std::unique_lock lock(mu_);
  append_locked(id, t_ms, value);
}

void Tsdb::append(const std::vector<Sample>& samples) {
  std::unique_lock lock(mu_);
  for (const Sample& s : samples) append_locked(s.id, s.t_ms, s.value);
}

void Tsdb::append_locked(uint32_t id, int64_t t_ms, double value) {
  if (t_ms < 0 || !std::isfinite(value)) return;
  if (id >= series_.size() || !series_[id] || !series_[id]->slots) return;
  Series& s = *series_[id];
  const int64_t t_s = t_ms / 1000;
  const auto v = static_cast<float>(value);
  for (size_t k = 0; k < tier_slots_.size(); ++k) {
    const int64_t idx = t_s / options_.tiers[k].step.count();
    Slot& slot = s.slots[tier_offset_[k] + idx % tier_slots_[k]];
    const auto idx1 = static_cast<uint32_t>(idx + 1);
    if (slot.idx1 == idx1) {
      slot.min = std::min(slot.min, v);
      slot.max = std::max(slot.max, v);
      ++slot.count;
      slot.sum += value;
    } else if (slot.idx1 < idx1) {  // a newer interval takes the slot over
      slot = {idx1, v, v, 1, value};
    }
  }
  s.info.last_ms = std::max(s.info.last_ms, t_ms);
}

std::vector<SeriesInfo> Tsdb::find(const std::string& metric, const Labels& match) const {
  std::shared_lock lock(mu_);
  std::vector<SeriesInfo> out;
  for (const auto& s : series_) {
    if (!s || s->info.metric != metric) continue;
    bool all = true;
    for (const auto& [k, v] : match) {
      auto it = s->info.labels.find(k);
      if (it == s->info.labels.end() || it->second != v) {
        all = false;
        break;
      }
    }
    if (all) out.push_back(s->info);
  }
  return out;
}

std::optional<SeriesInfo> Tsdb::info(uint32_t id) const {
  std::shared_lock lock(mu_);
  if (id >= series_.size() || !series_[id]) return std::nullopt;
  return series_[id]->info;
}

std::vector<Point> Tsdb::range(uint32_t id, int64_t start_ms, int64_t end_ms, int64_t step_ms,
                               Aggregation agg) const {
  std::vector<Point> out;
  std::shared_lock lock(mu_);
  if (id >= series_.size() || !series_[id] || !series_[id]->slots || step_ms < 1000 ||
      end_ms < start_ms) {
    return out;
  }
  const Series& s = *series_[id];
  const int64_t latest_s = s.info.last_ms / 1000;
  // Of the tiers whose rings still hold the start, the coarsest whose step divides the
  // query's (its slots combine exactly into the query's steps, and are fewest); else the
  // finest that holds it; else the coarsest tier.
  size_t tier = tier_slots_.size() - 1;
  std::optional<size_t> finest, dividing;
  for (size_t k = 0; k < tier_slots_.size(); ++k) {
    const int64_t step = options_.tiers[k].step.count();
    if (latest_s / step - start_ms / 1000 / step >= tier_slots_[k]) continue;
    if (!finest) finest = k;
    if (step_ms % (step * 1000) == 0) dividing = k;
  }
  if (dividing) {
    tier = *dividing;
  } else if (finest) {
    tier = *finest;
  }
  const int64_t ts = options_.tiers[tier].step.count();
  const Slot* ring = s.slots + tier_offset_[tier];
  const int64_t slots = tier_slots_[tier];
  const int64_t first = start_ms / step_ms * step_ms;
  out.reserve(static_cast<size_t>((end_ms - first) / step_ms + 1));
  for (int64_t t = first; t <= end_ms; t += step_ms) {
    // The slots whose intervals start within [t, t + step).
    int64_t from = t / 1000 / ts, to = (t + step_ms - 1) / 1000 / ts;
    if (to - from >= slots) from = to - slots + 1;
    double sum = 0, lo = std::numeric_limits<double>::infinity(), hi = -lo;
    uint64_t count = 0;
    for (int64_t idx = from; idx <= to; ++idx) {
      const Slot& slot = ring[idx % slots];
      if (slot.idx1 != static_cast<uint32_t>(idx + 1) || slot.count == 0) continue;
      sum += slot.sum;
      count += slot.count;
      lo = std::min<double>(lo, slot.min);
      hi = std::max<double>(hi, slot.max);
    }
    if (count == 0) continue;
    const double v = agg == Aggregation::kAvg   ? sum / static_cast<double>(count)
                     : agg == Aggregation::kMin ? lo
                                                : hi;
    out.push_back({t, v});
  }
  return out;
}

size_t Tsdb::compact(int64_t now_ms) {
  std::unique_lock lock(mu_);
  const int64_t cutoff =
      now_ms - std::chrono::duration_cast<std::chrono::milliseconds>(options_.forget_after).count();
  size_t dropped = 0;
  for (auto& s : series_) {
    if (!s || s->info.last_ms >= cutoff) continue;
    by_key_.erase(key_of(s->info.metric, s->info.labels));
    std::error_code ec;
    fs::remove(options_.dir + "/s" + std::to_string(s->info.id) + ".ring", ec);
    s.reset();
    ++dropped;
  }
  if (dropped > 0) {
    std::string index;
    for (const auto& s : series_) {
      if (!s) continue;
      index +=
          nlohmann::json{{"id", s->info.id}, {"metric", s->info.metric}, {"labels", s->info.labels}}
              .dump() +
          "\n";
    }
    (void)write_file(options_.dir + "/series.jsonl", index);
  }
  return dropped;
}

size_t Tsdb::size() const {
  std::shared_lock lock(mu_);
  return static_cast<size_t>(
      std::count_if(series_.begin(), series_.end(), [](const auto& s) { return s != nullptr; }));
}

}  // namespace jz::metrics
