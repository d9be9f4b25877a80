#include "platform/training/watch.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>

#include "logs/store.h"
#include "training/store.h"

namespace jz::training {

namespace {

std::string number(double v) {
  if (!std::isfinite(v)) return std::isnan(v) ? "NaN" : v > 0 ? "Infinity" : "-Infinity";
  char b[32];
  std::snprintf(b, sizeof b, "%.6g", v);
  return b;
}

std::string duration(int64_t s) {
  if (s < 90) return std::to_string(s) + " s";
  if (s < int64_t{90} * 60) return std::to_string((s + 30) / 60) + " min";
  return std::to_string(s / 3600) + " h " + std::to_string((s % 3600 + 30) / 60) + " min";
}

bool holds(const Milestone& m, double v) {
  if (!std::isfinite(v)) return false;
  if (m.op == ">=") return v >= m.value;
  if (m.op == "<=") return v <= m.value;
  if (m.op == ">") return v > m.value;
  return v < m.value;
}

bool is_loss(const std::string& tag) {
  std::string lower = tag;
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return lower.find("loss") != std::string::npos;
}

// The whole number at text[at], advancing `at`; nullopt when there is none.
std::optional<int64_t> whole(std::string_view text, size_t& at) {
  size_t start = at;
  int64_t v = 0;
  while (at < text.size() && std::isdigit(static_cast<unsigned char>(text[at])) &&
         at - start < 12) {
    v = v * 10 + (text[at] - '0');
    ++at;
  }
  if (at == start) return std::nullopt;
  return v;
}

}  // namespace

std::string Milestone::text() const { return tag + " " + op + " " + number(value); }

Result<Milestone> parse_milestone(std::string_view text) {
  auto bad = [&] {
    return Status::invalid_argument("milestone \"" + std::string(text.substr(0, 80)) +
                                    "\" must read TAG OP NUMBER, OP one of >= <= > < "
                                    "(such as val/acc >= 0.9)");
  };
  size_t op_at = text.find_first_of("<>");
  if (op_at == std::string_view::npos) return bad();
  Milestone m;
  std::string tag(text.substr(0, op_at));
  while (!tag.empty() && tag.back() == ' ') tag.pop_back();
  while (!tag.empty() && tag.front() == ' ') tag.erase(tag.begin());
  if (!check_tag(tag).ok()) return bad();
  m.tag = tag;
  m.op = std::string(1, text[op_at]);
  size_t at = op_at + 1;
  if (at < text.size() && text[at] == '=') {
    m.op += '=';
    ++at;
  }
  std::string rest(text.substr(at));
  char* end = nullptr;
  m.value = std::strtod(rest.c_str(), &end);
  if (end == rest.c_str() || !std::isfinite(m.value)) return bad();
  for (const char* p = end; *p; ++p) {
    if (*p != ' ') return bad();
  }
  return m;
}

Json WatchSettings::to_json() const {
  Json ms = Json::array();
  for (const auto& m : milestones) ms.push_back(m.text());
  return {{"stalled_minutes", stalled_s / 60},
          {"progress_every_percent", progress_percent},
          {"nan", nan},
          {"completion", completion},
          {"milestones", ms}};
}

Result<WatchSettings> parse_watch_settings(const Json& j) {
  WatchSettings s;
  if (j.is_null()) return s;
  auto bad = [](const std::string& what) {
    return Status::invalid_argument("field 'monitor': " + what);
  };
  if (!j.is_object())
    return bad(
        "must be an object (stalled_minutes, progress_every_percent, "
        "nan, completion, milestones)");
  for (const auto& [k, v] : j.items()) {
    if (k == "stalled_minutes") {
      if (!v.is_number_integer() || v.get<int64_t>() < 0 ||
          v.get<int64_t>() > int64_t{7} * 24 * 60) {
        return bad("stalled_minutes must be 0 (off) to 10080");
      }
      s.stalled_s = v.get<int64_t>() * 60;
    } else if (k == "progress_every_percent") {
      if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() > 100) {
        return bad("progress_every_percent must be 0 (off) to 100");
      }
      s.progress_percent = static_cast<int>(v.get<int64_t>());
    } else if (k == "nan" || k == "completion") {
      if (!v.is_boolean()) return bad(k + " must be true or false");
      (k == "nan" ? s.nan : s.completion) = v.get<bool>();
    } else if (k == "milestones") {
      if (!v.is_array() || v.size() > 20) return bad("milestones must be a list of at most 20");
      for (const auto& m : v) {
        if (!m.is_string())
          return bad("each milestone must be a string such as \"val/acc >= 0.9\"");
        auto parsed = parse_milestone(m.get<std::string>());
        if (!parsed.ok()) return bad(std::string(parsed.status().message()));
        s.milestones.push_back(*parsed);
      }
    } else {
      return bad("'" + k +
                 "' is unknown (stalled_minutes, progress_every_percent, nan, "
                 "completion, milestones)");
    }
  }
  return s;
}

std::optional<LineProgress> progress_of_line(std::string_view line) {
  // The last "N/M" (optionally "[N/M]", "N / M") in the line, with the word before it.
  std::optional<LineProgress> found;
  for (size_t i = 0; i < line.size(); ++i) {
    if (!std::isdigit(static_cast<unsigned char>(line[i])) ||
        (i > 0 && std::isdigit(static_cast<unsigned char>(line[i - 1])))) {
      continue;
    }
    size_t at = i;
    auto done = whole(line, at);
    while (at < line.size() && line[at] == ' ') ++at;
    if (at >= line.size() || line[at] != '/') continue;
    ++at;
    while (at < line.size() && line[at] == ' ') ++at;
    auto total = whole(line, at);
    if (!done || !total || *total <= 0 || *done > *total) continue;
    if (at < line.size() && (std::isalnum(static_cast<unsigned char>(line[at])) || line[at] == '.'))
      continue;  // a date, a ratio of words, a path
    // The word before: epoch, step, iter, batch (or a tqdm bar's "|").
    std::string before;
    size_t b = i;
    while (b > 0 && (line[b - 1] == ' ' || line[b - 1] == '[' || line[b - 1] == ':')) --b;
    size_t w = b;
    while (w > 0 && std::isalpha(static_cast<unsigned char>(line[w - 1]))) --w;
    for (size_t k = w; k < b; ++k)
      before += static_cast<char>(std::tolower(static_cast<unsigned char>(line[k])));
    const bool epoch = before == "epoch" || before == "epochs";
    const bool counted = epoch || before == "step" || before == "steps" || before == "iter" ||
                         before == "iteration" || before == "batch" ||
                         (b > 0 && line[b - 1] == '|');  // tqdm: "45%|####  | 450/1000 ["
    const bool keras = at + 1 < line.size() && line.substr(at, 2) == " [";  // "120/500 [===>"
    if (!counted && !keras) continue;
    if (!found || epoch || !found->epoch) found = LineProgress{*done, *total, epoch};
  }
  return found;
}

void TrainingWatch::watch(WatchedJob job) {
  State s;
  s.job = std::move(job);
  s.last_activity_ms = std::max(s.job.started_ms, clock_.now_unix_ms());
  s.reached.assign(s.job.settings.milestones.size(), false);
  jobs_[s.job.job_id] = std::move(s);
}

void TrainingWatch::emit(const State& s, const std::string& reason, const std::string& message) {
  iam::Event e;
  e.project = s.job.project;
  e.resource_type = "job";
  e.resource_name = s.job.job_id;
  e.type = "updated";
  e.reason = reason;
  e.message = message;
  e.actor = "system";
  (void)events_.append(e);  // best effort: a watch must never stop the runner
}

void TrainingWatch::look(State& s, int64_t now) {
  const WatchSettings& set = s.job.settings;
  const std::string& name = s.job.name;
  // New points: activity, NaN in a loss, milestones.
  auto tags = read_tags(s.job.run_dir);
  for (const auto& tag : tags.ok() ? *tags : std::vector<std::string>{}) {
    int64_t& seen = s.seen[tag];
    for (;;) {
      auto points = read_points(s.job.run_dir, tag, seen, 65536);
      if (points.empty()) break;
      seen += static_cast<int64_t>(points.size());
      s.last_activity_ms = now;  // new since the last look (whatever the job's clock says)
      for (const Point& p : points) {
        if (set.nan && !s.nan && is_loss(tag) && !std::isfinite(p.value)) {
          s.nan = true;
          emit(s, "LossNaN",
               "job " + name + ": " + tag + " is " + number(p.value) + " at step " +
                   std::to_string(p.step) + " (training has likely diverged)");
        }
        for (size_t m = 0; m < set.milestones.size(); ++m) {
          const Milestone& ms = set.milestones[m];
          if (!s.reached[m] && ms.tag == tag && holds(ms, p.value)) {
            s.reached[m] = true;
            emit(s, "MilestoneReached",
                 "job " + name + ": " + ms.text() + " reached at step " + std::to_string(p.step) +
                     " (" + tag + " = " + number(p.value) + ")");
          }
        }
      }
    }
  }
  // The log: activity, and progress when the run says none.
  logs::LogQuery q;
  q.tail = 20;
  auto page = logs::read_log(s.job.log_dir, q);
  std::optional<LineProgress> from_log;
  if (page.ok() && !page->records.empty()) {
    if (page->records.back().seq > s.last_log_seq) {
      s.last_log_seq = page->records.back().seq;
      s.last_activity_ms = now;
    }
    for (const auto& r : page->records) {
      auto p = progress_of_line(r.text);
      if (p && (!from_log || p->epoch || !from_log->epoch)) from_log = p;
    }
  }
  std::optional<JobProgress> progress;
  auto run = runs_.get(s.job.project_id, s.job.job_id);
  if (run.ok() && run->progress_total && *run->progress_total > 0) {
    progress = JobProgress{run->progress_done.value_or(0), *run->progress_total, "metrics", {}};
  } else if (from_log) {
    progress = JobProgress{from_log->done, from_log->total, "log", {}};
  }
  if (progress) {
    const int64_t elapsed_s = (now - s.job.started_ms) / 1000;
    if (progress->done > 0 && elapsed_s > 0) {
      progress->eta_s = elapsed_s * (progress->total - progress->done) / progress->done;
    }
    if (set.progress_percent > 0 && progress->done < progress->total) {
      const int64_t percent = 100 * progress->done / progress->total;
      const int64_t step = percent / set.progress_percent * set.progress_percent;
      if (step > s.last_percent && step > 0) {
        s.last_percent = step;
        std::string msg = "job " + name + " is " + std::to_string(step) + " % done (" +
                          std::to_string(progress->done) + " of " +
                          std::to_string(progress->total) + ")";
        if (progress->eta_s) msg += ", about " + duration(*progress->eta_s) + " left";
        emit(s, "TrainingProgress", msg);
      }
    }
    std::lock_guard lock(mu_);
    progress_[s.job.job_id] = *progress;
  }
  // Stalled: nothing new for stalled_s (said once, again after it moves again).
  if (set.stalled_s > 0) {
    const int64_t quiet_ms = now - s.last_activity_ms;
    if (!s.stalled && quiet_ms >= set.stalled_s * 1000) {
      s.stalled = true;
      emit(s, "TrainingStalled",
           "job " + name + " has logged no metric and no line for " + duration(quiet_ms / 1000));
    } else if (s.stalled && quiet_ms < set.stalled_s * 1000) {
      s.stalled = false;
    }
  }
}

void TrainingWatch::check() {
  const int64_t now = clock_.now_unix_ms();
  for (auto& [id, s] : jobs_) look(s, now);
}

void TrainingWatch::ended(const std::string& job_id, bool succeeded) {
  auto it = jobs_.find(job_id);
  if (it == jobs_.end()) return;
  State& s = it->second;
  look(s, clock_.now_unix_ms());
  if (succeeded && s.job.settings.completion) {
    const RunSummary sum = summarize(s.job.run_dir);
    if (!sum.last.empty()) {
      std::string finals;
      int64_t step = 0;
      for (const auto& [tag, p] : sum.last) {
        if (finals.size() > 400) break;
        finals += (finals.empty() ? "" : ", ") + tag + " " + number(p.value);
        step = std::max(step, p.step);
      }
      emit(s, "TrainingCompleted",
           "job " + s.job.name + " finished training at step " + std::to_string(step) + ": " +
               finals);
    }
  }
  jobs_.erase(it);
  std::lock_guard lock(mu_);
  progress_.erase(job_id);
}

std::optional<JobProgress> TrainingWatch::progress(const std::string& job_id) const {
  std::lock_guard lock(mu_);
  auto it = progress_.find(job_id);
  if (it == progress_.end()) return std::nullopt;
  return it->second;
}

}  // namespace jz::training
