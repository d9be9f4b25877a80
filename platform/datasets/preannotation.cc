#include "platform/datasets/preannotation.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <set>

#include "core/files.h"
#include "platform/jobs/spec.h"
#include "store/rows.h"

namespace jz::datasets {

namespace {

constexpr int64_t kMaxLineBytes = 4 << 20;
constexpr size_t kMaxClassMap = 1000;

const store::RowMap<PreAnnotation> kRow{{"id", &PreAnnotation::id},
                                        {"project_id", &PreAnnotation::project_id},
                                        {"task_id", &PreAnnotation::task_id},
                                        {"job_id", &PreAnnotation::job_id},
                                        {"state", &PreAnnotation::state},
                                        {"message", &PreAnnotation::message},
                                        {"created_by", &PreAnnotation::created_by},
                                        {"created_at_ms", &PreAnnotation::created_at_ms},
                                        {"finished_at_ms", &PreAnnotation::finished_at_ms}};
const std::string kSelect =
    "SELECT " + kRow.columns() + ", request, summary FROM label_preannotations";

PreAnnotation pre_of(const store::Row& row) {
  PreAnnotation p;
  kRow.read(row, p);
  auto req = json::parse(row.text(row.index_of("request")));
  if (req.ok() && req->is_object()) {
    p.request.algorithm = req->value("algorithm", "");
    p.request.version = req->value("version", "");
    p.request.min_confidence = req->value("min_confidence", 0.5);
    p.request.from = req->value("from", "model_data");
    p.request.gpus = req->value("gpus", int64_t{0});
    if (req->contains("classes") && (*req)["classes"].is_object()) {
      for (const auto& [k, v] : (*req)["classes"].items()) {
        if (v.is_string()) p.request.classes[k] = v.get<std::string>();
      }
    }
  }
  auto summary = json::parse(row.text(row.index_of("summary")));
  p.summary = summary.ok() && summary->is_object() ? *summary : Json::object();
  return p;
}

Status bad(const std::string& field, const std::string& why) {
  return Status::invalid_argument("field '" + field + "' " + why);
}

// A number from an object's field, or nullopt.
std::optional<double> number(const Json& o, const char* key) {
  if (!o.contains(key) || !o[key].is_number()) return std::nullopt;
  const double v = o[key].get<double>();
  if (!std::isfinite(v)) return std::nullopt;
  return v;
}

}  // namespace

Json PreAnnotationRequest::to_json() const {
  Json c = Json::object();
  for (const auto& [k, v] : classes) c[k] = v;
  return {{"algorithm", algorithm}, {"version", version}, {"min_confidence", min_confidence},
          {"from", from},           {"classes", c},       {"gpus", gpus}};
}

Result<PreAnnotationRequest> parse_pre_annotation_request(const Json& body, const LabelSpec& spec) {
  if (!body.is_object()) return Status::invalid_argument("the body must be a JSON object");
  JZ_RETURN_IF_ERROR(json::only_fields(
      body, {"algorithm", "version", "min_confidence", "from", "classes", "gpus"}));
  PreAnnotationRequest r;
  for (const char* field : {"algorithm", "version"}) {
    if (!body.contains(field) || !body[field].is_string() ||
        body[field].get<std::string>().empty()) {
      return bad(field, "must name the uploaded algorithm and its version");
    }
  }
  r.algorithm = body["algorithm"].get<std::string>();
  r.version = body["version"].get<std::string>();
  if (body.contains("min_confidence")) {
    const auto c = number(body, "min_confidence");
    if (!c || *c < 0 || *c > 1) return bad("min_confidence", "must be a number from 0 to 1");
    r.min_confidence = *c;
  }
  if (body.contains("from")) {
    if (!body["from"].is_string() ||
        (body["from"] != "model_data" && body["from"] != "algorithm_data")) {
      return bad("from",
                 "must be model_data (the model's raw objects) or algorithm_data (after the "
                 "algorithm's own rules)");
    }
    r.from = body["from"].get<std::string>();
  }
  if (body.contains("gpus")) {
    if (!body["gpus"].is_number_integer() || body["gpus"].get<int64_t>() < 0 ||
        body["gpus"].get<int64_t>() > 8) {
      return bad("gpus", "must be a whole number from 0 to 8");
    }
    r.gpus = body["gpus"].get<int64_t>();
  }
  if (body.contains("classes")) {
    const Json& c = body["classes"];
    if (!c.is_object() || c.size() > kMaxClassMap) {
      return bad("classes", "must map the algorithm's object names to the task's classes");
    }
    for (const auto& [name, cls] : c.items()) {
      if (!cls.is_string() || std::find(spec.classes.begin(), spec.classes.end(),
                                        cls.get<std::string>()) == spec.classes.end()) {
        return bad("classes", "maps '" + name + "' to " + json::dump(cls) +
                                  ", which is not a class of the task");
      }
      r.classes[name] = cls.get<std::string>();
    }
  }
  return r;
}

Result<Json> boxes_of(const Json& line, const PreAnnotationRequest& r, const LabelSpec& spec,
                      std::map<std::string, int64_t>& dropped) {
  const auto w = number(line, "width"), h = number(line, "height");
  if (!w || !h || *w < 1 || *h < 1 || *w > 100000 || *h > 100000) {
    return Status::invalid_argument("the line has no image size (width, height)");
  }
  const Json& result = line.value("result", Json());
  const Json& part = result.is_object() ? result.value(r.from, Json()) : Json();
  const Json& objects = !part.is_object()        ? Json()
                        : r.from == "model_data" ? part.value("objects", Json())
                                                 : part.value("target_info", Json());
  Json shapes = Json::array();
  if (!objects.is_array()) return shapes;
  const bool box = std::find(spec.shapes.begin(), spec.shapes.end(), "box") != spec.shapes.end();
  for (const auto& o : objects) {
    if (shapes.size() >= 1000) {
      ++dropped["over 1000 in one image"];
      continue;
    }
    if (!o.is_object()) {
      ++dropped["not an object"];
      continue;
    }
    const std::string name = o.value("name", Json("")).is_string() ? o.value("name", "") : "";
    std::string cls;
    if (auto m = r.classes.find(name); m != r.classes.end()) {
      cls = m->second;
    } else if (std::find(spec.classes.begin(), spec.classes.end(), name) != spec.classes.end()) {
      cls = name;
    } else {
      ++dropped["not a class of the task"];
      continue;
    }
    const auto confidence = number(o, "confidence");
    if (confidence && *confidence < r.min_confidence) {
      ++dropped["under min_confidence"];
      continue;
    }
    const auto x = number(o, "x"), y = number(o, "y"), bw = number(o, "width"),
               bh = number(o, "height");
    if (!x || !y || !bw || !bh) {
      ++dropped["no box"];
      continue;
    }
    // Cut to the image; what is left must be a pixel at least.
    const double x0 = std::clamp(*x, 0.0, *w), y0 = std::clamp(*y, 0.0, *h);
    const double x1 = std::clamp(*x + *bw, 0.0, *w), y1 = std::clamp(*y + *bh, 0.0, *h);
    if (x1 - x0 < 1 || y1 - y0 < 1) {
      ++dropped["outside the image or under a pixel"];
      continue;
    }
    if (box) {
      shapes.push_back({{"type", "box"},
                        {"label", cls},
                        {"x", x0},
                        {"y", y0},
                        {"width", x1 - x0},
                        {"height", y1 - y0}});
    } else {  // a task of polygons: the box's four corners
      shapes.push_back(
          {{"type", "polygon"}, {"label", cls}, {"points", {x0, y0, x1, y0, x1, y1, x0, y1}}});
    }
  }
  return check_shapes(spec, shapes, static_cast<int>(std::ceil(*w)),
                      static_cast<int>(std::ceil(*h)));
}

PreAnnotations::PreAnnotations(store::Database& db, Clock& clock, IdGenerator& ids,
                               jobs::JobStore& jobs, jobs::Outputs& outputs, Labelling& labelling,
                               std::shared_ptr<spdlog::logger> logger,
                               std::chrono::milliseconds tick)
    : db_(db),
      clock_(clock),
      ids_(ids),
      jobs_(jobs),
      outputs_(outputs),
      labelling_(labelling),
      logger_(std::move(logger)),
      ticker_(tick) {}

PreAnnotations::~PreAnnotations() { stop(); }

Result<PreAnnotation> PreAnnotations::start(const LabelTask& t, const std::string& project,
                                            const PreAnnotationRequest& r,
                                            const std::string& user_id,
                                            const std::string& username) {
  if (t.state != "open") {
    return Status::failed_precondition("task " + t.name +
                                       " was exported; there is nothing left to pre-annotate");
  }
  const std::string mounted = t.dataset + "@" + std::to_string(t.number);
  Json command = {"/opt/jizhan/bin/jizhan-algo",
                  "algo",
                  "run",
                  "--package",
                  "/algorithm/package.jzpkg",
                  "--allow-untrusted",
                  "--no-sandbox",
                  "--input",
                  "/data/" + mounted,
                  "--out",
                  "/output/results.jsonl",
                  "--summary",
                  "/output/summary.json",
                  "--timeout",
                  "30s"};
  JZ_ASSIGN_OR_RETURN(
      auto job, queue_service_job(jobs_, t.project_id, project, user_id, username,
                                  "pre-annotate-" + t.name + "-" + r.algorithm + "-" + r.version,
                                  command, mounted, 4096, int64_t{24} * 3600,
                                  Json{{"name", r.algorithm}, {"version", r.version}}, r.gpus));
  PreAnnotation p;
  p.id = ids_.next("pre_");
  p.project_id = t.project_id;
  p.task_id = t.id;
  p.job_id = job.id;
  p.state = "queued";
  p.request = r;
  p.created_by = username;
  p.created_at_ms = clock_.now_unix_ms();
  JZ_RETURN_IF_ERROR(db_.transact([&](store::Conn& c) -> Status {
    return c
        .exec(
            "INSERT INTO label_preannotations (id, project_id, task_id, job_id, state, message, "
            "request, summary, created_by, created_at_ms) VALUES (?, ?, ?, ?, 'queued', '', ?, "
            "'{}', ?, ?)",
            {p.id, p.project_id, p.task_id, p.job_id, json::dump(r.to_json()), username,
             p.created_at_ms})
        .status();
  }));
  wake();
  return p;
}

Result<std::vector<PreAnnotation>> PreAnnotations::list(const LabelTask& t) {
  std::vector<PreAnnotation> out;
  JZ_RETURN_IF_ERROR(db_.with_conn([&](store::Conn& c) -> Status {
    JZ_ASSIGN_OR_RETURN(auto rows, c.query(kSelect + " WHERE task_id = ? ORDER BY created_at_ms "
                                                     "DESC, id DESC LIMIT 100",
                                           {t.id}));
    for (const auto& row : rows) out.push_back(pre_of(row));
    return {};
  }));
  return out;
}

Result<PreAnnotation> PreAnnotations::get(const LabelTask& t, const std::string& id) {
  std::optional<PreAnnotation> out;
  JZ_RETURN_IF_ERROR(db_.with_conn([&](store::Conn& c) -> Status {
    JZ_ASSIGN_OR_RETURN(auto rows, c.query(kSelect + " WHERE task_id = ? AND id = ?", {t.id, id}));
    if (!rows.empty()) out = pre_of(rows.at(0));
    return {};
  }));
  if (!out) return Status::not_found("task " + t.name + " has no pre-annotation " + id);
  return *out;
}

Status PreAnnotations::finish(const PreAnnotation& p, const std::string& state,
                              const std::string& message, const Json& summary) {
  return db_.with_conn([&](store::Conn& c) -> Status {
    return c
        .exec(
            "UPDATE label_preannotations SET state = ?, message = ?, summary = ?, "
            "finished_at_ms = ? WHERE id = ? AND state IN ('queued', 'running')",
            {state, message.substr(0, 2000), json::dump(summary), clock_.now_unix_ms(), p.id})
        .status();
  });
}

Status PreAnnotations::ingest(const PreAnnotation& p, const std::string& results_path) {
  auto task = labelling_.get(p.project_id, p.task_id);
  if (!task.ok()) return finish(p, "failed", "its task is gone", {});
  if (task->state != "open") {
    return finish(p, "failed", "the task was exported before the job ended", {});
  }
  // The task's images, by the job that holds each.
  std::map<std::string, std::string> job_of;
  std::map<std::string, std::string> source_of;  // images that have a row: its source
  JZ_RETURN_IF_ERROR(db_.with_conn([&](store::Conn& c) -> Status {
    JZ_ASSIGN_OR_RETURN(auto jobs,
                        c.query("SELECT id, files FROM label_jobs WHERE task_id = ?", {task->id}));
    for (const auto& row : jobs) {
      auto files = json::parse(row.text(1));
      if (!files.ok() || !files->is_array()) continue;
      for (const auto& f : *files) {
        if (f.is_string()) job_of[f.get<std::string>()] = row.text(0);
      }
    }
    JZ_ASSIGN_OR_RETURN(auto images, c.query("SELECT path, source, width FROM label_images "
                                             "WHERE task_id = ?",
                                             {task->id}));
    // Saved by a person, or opened (looked at) by one: theirs.
    for (const auto& row : images) {
      source_of[row.text(0)] = row.integer(2) > 0 ? "opened" : row.text(1);
    }
    return {};
  }));
  std::ifstream in(results_path);
  if (!in) {
    return finish(p, "failed", "the job wrote no results (/output/results.jsonl); its log says why",
                  {});
  }
  int64_t frames = 0, errors = 0, not_in_task = 0, touched = 0, images = 0, shapes = 0;
  std::map<std::string, int64_t> dropped;
  std::map<std::string, Json> found;  // path -> shapes
  std::string text;
  while (std::getline(in, text)) {
    if (text.empty()) continue;
    ++frames;
    if (text.size() > static_cast<size_t>(kMaxLineBytes)) {
      ++errors;
      continue;
    }
    auto line = json::parse(text);
    if (!line.ok() || !line->is_object() || !(*line)["sample"].is_string()) {
      ++errors;
      continue;
    }
    const std::string path = (*line)["sample"].get<std::string>();
    if (!job_of.count(path)) {
      ++not_in_task;
      continue;
    }
    if (line->contains("error")) {
      ++errors;
      continue;
    }
    auto boxes = boxes_of(*line, p.request, task->spec, dropped);
    if (!boxes.ok()) {
      ++errors;
      continue;
    }
    found[path] = std::move(*boxes);
  }
  const int64_t now = clock_.now_unix_ms();
  const std::string by = "model:" + p.request.algorithm + " " + p.request.version;
  JZ_RETURN_IF_ERROR(db_.transact([&](store::Conn& c) -> Status {
    for (const auto& [path, s] : found) {
      auto src = source_of.find(path);
      if (src != source_of.end() && src->second != "model") {
        ++touched;  // a person saved or opened it: theirs
        continue;
      }
      // Guarded again here: a person may have saved it since it was read above.
      int64_t n = 0;
      if (src != source_of.end()) {
        JZ_ASSIGN_OR_RETURN(
            n, c.exec("UPDATE label_images SET shapes = ?, shape_count = ?, updated_by = ?, "
                      "updated_at_ms = ? WHERE task_id = ? AND path = ? AND source = 'model' AND "
                      "width = 0",
                      {json::dump(s), static_cast<int64_t>(s.size()), by, now, task->id, path}));
      } else {
        JZ_ASSIGN_OR_RETURN(
            n, c.exec("INSERT INTO label_images (task_id, path, job_id, width, height, shapes, "
                      "shape_count, submitted, source, updated_by, updated_at_ms) VALUES (?, ?, "
                      "?, 0, 0, ?, ?, 'null', 'model', ?, ?) ON CONFLICT (task_id, path) DO "
                      "NOTHING",
                      {task->id, path, job_of[path], json::dump(s), static_cast<int64_t>(s.size()),
                       by, now}));
      }
      if (n == 0) {
        ++touched;
        continue;
      }
      ++images;
      shapes += static_cast<int64_t>(s.size());
    }
    return Status();
  }));
  Json d = Json::object();
  for (const auto& [why, n] : dropped) d[why] = n;
  const Json summary = {{"frames", frames},   {"images", images}, {"shapes", shapes},
                        {"touched", touched}, {"errors", errors}, {"not_in_task", not_in_task},
                        {"dropped", d}};
  return finish(p, "done", "", summary);
}

void PreAnnotations::tick() {
  std::vector<PreAnnotation> active;
  Status listed = db_.with_conn([&](store::Conn& c) -> Status {
    JZ_ASSIGN_OR_RETURN(auto rows, c.query(kSelect + " WHERE state IN ('queued', 'running') "
                                                     "ORDER BY id LIMIT 1000"));
    for (const auto& r : rows) active.push_back(pre_of(r));
    return {};
  });
  if (!listed.ok() && logger_) logger_->warn("pre-annotation: {}", listed.message());
  for (auto& p : active) {
    const JobTurn turn =
        job_turn(jobs_, outputs_, p.project_id, p.job_id, p.state == "queued", "the job");
    Status s;
    if (turn.kind == JobTurn::kStarted) {
      s = mark_running(db_, "label_preannotations", p.id);
    } else if (turn.kind == JobTurn::kSucceeded) {
      s = ingest(p, turn.output_dir + "/results.jsonl");
    } else if (turn.kind == JobTurn::kEnded) {
      s = finish(p, turn.state, turn.message, {});
    }
    if (!s.ok() && logger_) logger_->warn("pre-annotation {}: {}", p.id, s.message());
  }
}

void PreAnnotations::start_thread() {
  ticker_.start([this] { tick(); });
}

void PreAnnotations::stop() { ticker_.stop(); }

void PreAnnotations::wake() { ticker_.wake(); }

}  // namespace jz::datasets
