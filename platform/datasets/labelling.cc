#include "platform/datasets/labelling.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <set>

#include "core/text.h"
#include "data/formats.h"
#include "platform/iam/tenancy.h"
#include "store/rows.h"

namespace jz::datasets {

namespace {

constexpr size_t kMaxShapes = 2000;      // per image
constexpr size_t kMaxPoints = 1000;      // per polygon
constexpr int64_t kMaxImages = 200'000;  // per task

const store::RowMap<LabelTask> kTask{{"id", &LabelTask::id},
                                     {"project_id", &LabelTask::project_id},
                                     {"dataset_id", &LabelTask::dataset_id},
                                     {"name", &LabelTask::name},
                                     {"number", &LabelTask::number},
                                     {"state", &LabelTask::state},
                                     {"exported_version", &LabelTask::exported_version},
                                     {"images", &LabelTask::images},
                                     {"created_by", &LabelTask::created_by},
                                     {"created_at_ms", &LabelTask::created_at_ms}};
const std::string kTaskSelect = "SELECT " + kTask.columns("t.") +
                                ", t.spec, d.name AS dataset FROM label_tasks t JOIN datasets d "
                                "ON d.id = t.dataset_id";

const store::RowMap<LabelJob> kJob{{"id", &LabelJob::id},
                                   {"task_id", &LabelJob::task_id},
                                   {"seq", &LabelJob::seq},
                                   {"state", &LabelJob::state},
                                   {"note", &LabelJob::note},
                                   {"reworks", &LabelJob::reworks},
                                   {"work_ms", &LabelJob::work_ms},
                                   {"started_at_ms", &LabelJob::started_at_ms},
                                   {"submitted_at_ms", &LabelJob::submitted_at_ms},
                                   {"accepted_at_ms", &LabelJob::accepted_at_ms}};
const std::string kJobSelect =
    "SELECT " + kJob.columns("j.") +
    ", j.files, j.annotator_id, j.annotator, j.reviewer_id, j.reviewer, "
    "(SELECT COUNT(*) FROM label_images i WHERE i.job_id = j.id AND i.width > 0) AS opened, "
    "(SELECT COALESCE(SUM(i.shape_count), 0) FROM label_images i WHERE i.job_id = j.id) AS "
    "shapes FROM label_jobs j";

bool is_image(const std::string& path) {
  const size_t dot = path.find_last_of('.');
  if (dot == std::string::npos) return false;
  std::string ext = path.substr(dot + 1);
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  return ext == "jpg" || ext == "jpeg" || ext == "png" || ext == "webp" || ext == "bmp" ||
         ext == "gif";
}

std::string joined(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "" : ", ") + i;
  return out;
}

Status check_name(const std::string& what, const std::string& s) {
  bool ok = !s.empty() && s.size() <= 64;
  for (unsigned char c : s) ok = ok && c >= 0x20 && c != 0x7f;
  if (ok) return {};
  return Status::invalid_argument(what + " '" + s.substr(0, 80) +
                                  "' must be 1 to 64 printable characters");
}

LabelJob job_of(const store::Row& row) {
  LabelJob j;
  kJob.read(row, j);
  auto files = json::parse(row.text(row.index_of("files")));
  if (files.ok() && files->is_array()) {
    for (const auto& f : *files)
      if (f.is_string()) j.files.push_back(f.get<std::string>());
  }
  j.annotator = {row.text(row.index_of("annotator_id")), row.text(row.index_of("annotator"))};
  j.reviewer = {row.text(row.index_of("reviewer_id")), row.text(row.index_of("reviewer"))};
  j.opened = row.integer(row.index_of("opened"));
  j.shapes = row.integer(row.index_of("shapes"));
  return j;
}

// The intersection over union of two shapes' boxes (a polygon by its bounding box).
// A checked shape's bounding box: x0, y0, x1, y1 (a polygon's over its points).
std::array<double, 4> bounds_of(const Json& s) {
  if (s.value("type", "") == "polygon") {
    const Json& p = s["points"];
    double x0 = p[0].get<double>(), y0 = p[1].get<double>(), x1 = x0, y1 = y0;
    for (size_t i = 0; i + 1 < p.size(); i += 2) {
      x0 = std::min(x0, p[i].get<double>());
      x1 = std::max(x1, p[i].get<double>());
      y0 = std::min(y0, p[i + 1].get<double>());
      y1 = std::max(y1, p[i + 1].get<double>());
    }
    return {x0, y0, x1, y1};
  }
  const double x = s["x"].get<double>(), y = s["y"].get<double>();
  return {x, y, x + s["width"].get<double>(), y + s["height"].get<double>()};
}

double iou(const Json& a, const Json& b) {
  const auto p = bounds_of(a), q = bounds_of(b);
  const double iw = std::max(0.0, std::min(p[2], q[2]) - std::max(p[0], q[0]));
  const double ih = std::max(0.0, std::min(p[3], q[3]) - std::max(p[1], q[1]));
  const double inter = iw * ih;
  const double uni = (p[2] - p[0]) * (p[3] - p[1]) + (q[2] - q[0]) * (q[3] - q[1]) - inter;
  return uni > 0 ? inter / uni : 0;
}

// Shapes of `submitted` that match one of `final` (same label, IoU >= 0.5), each used once,
// greedily by best IoU.
int64_t kept_shapes(const Json& submitted, const Json& final_shapes) {
  std::vector<bool> used(final_shapes.size(), false);
  int64_t kept = 0;
  for (const auto& s : submitted) {
    double best = 0.5;
    int at = -1;
    for (size_t k = 0; k < final_shapes.size(); ++k) {
      if (used[k] || final_shapes[k].value("label", "") != s.value("label", "")) continue;
      const double v = iou(s, final_shapes[k]);
      if (v >= best) {
        best = v;
        at = static_cast<int>(k);
      }
    }
    if (at >= 0) {
      used[static_cast<size_t>(at)] = true;
      ++kept;
    }
  }
  return kept;
}

}  // namespace

Json LabelSpec::to_json() const {
  Json attrs = Json::array();
  for (const auto& a : attributes) attrs.push_back({{"name", a.name}, {"values", a.values}});
  return {{"classes", classes}, {"shapes", shapes}, {"attributes", attrs}};
}

Result<LabelSpec> parse_label_spec(const Json& j) {
  if (!j.is_object()) return Status::invalid_argument("field 'spec' must be an object");
  JZ_RETURN_IF_ERROR(json::only_fields(j, {"classes", "shapes", "attributes"}));
  LabelSpec spec;
  const Json& classes = j.value("classes", Json());
  if (!classes.is_array() || classes.empty() || classes.size() > 1000) {
    return Status::invalid_argument("field 'classes' must list 1 to 1000 class names");
  }
  std::set<std::string> seen;
  for (const auto& c : classes) {
    if (!c.is_string()) return Status::invalid_argument("field 'classes' must list names");
    JZ_RETURN_IF_ERROR(check_name("class", c.get<std::string>()));
    if (!seen.insert(c.get<std::string>()).second) {
      return Status::invalid_argument("class '" + c.get<std::string>() + "' is listed twice");
    }
    spec.classes.push_back(c.get<std::string>());
  }
  if (j.contains("shapes")) {
    const Json& shapes = j["shapes"];
    spec.shapes.clear();
    if (!shapes.is_array() || shapes.empty()) {
      return Status::invalid_argument("field 'shapes' must list box, polygon or both");
    }
    for (const auto& s : shapes) {
      if (!s.is_string() || (s != "box" && s != "polygon")) {
        return Status::invalid_argument("field 'shapes' must list box, polygon or both");
      }
      if (std::find(spec.shapes.begin(), spec.shapes.end(), s.get<std::string>()) ==
          spec.shapes.end())
        spec.shapes.push_back(s.get<std::string>());
    }
  }
  const Json& attrs = j.value("attributes", Json::array());
  if (!attrs.is_array() || attrs.size() > 50) {
    return Status::invalid_argument("field 'attributes' must list at most 50 attributes");
  }
  std::set<std::string> names;
  for (size_t i = 0; i < attrs.size(); ++i) {
    const std::string where = "field 'attributes[" + std::to_string(i) + "]'";
    const Json& a = attrs[i];
    if (!a.is_object() || !a.contains("name") || !a["name"].is_string() || !a.contains("values") ||
        !a["values"].is_array() || a["values"].empty() || a["values"].size() > 100) {
      return Status::invalid_argument(where +
                                      " must be {\"name\": NAME, \"values\": [1 to 100 values]}");
    }
    LabelAttribute la{a["name"].get<std::string>(), {}};
    JZ_RETURN_IF_ERROR(check_name("attribute", la.name));
    if (!names.insert(la.name).second) {
      return Status::invalid_argument("attribute '" + la.name + "' is listed twice");
    }
    for (const auto& v : a["values"]) {
      if (!v.is_string()) return Status::invalid_argument(where + ": values must be strings");
      JZ_RETURN_IF_ERROR(check_name("value", v.get<std::string>()));
      la.values.push_back(v.get<std::string>());
    }
    spec.attributes.push_back(std::move(la));
  }
  return spec;
}

Result<Json> check_shapes(const LabelSpec& spec, const Json& shapes, int width, int height) {
  if (!shapes.is_array() || shapes.size() > kMaxShapes) {
    return Status::invalid_argument("field 'shapes' must be a list of at most " +
                                    std::to_string(kMaxShapes) + " shapes");
  }
  auto inside = [&](double x, double y) {
    return std::isfinite(x) && std::isfinite(y) && x >= -1 && y >= -1 && x <= width + 1 &&
           y <= height + 1;
  };
  Json out = Json::array();
  for (size_t i = 0; i < shapes.size(); ++i) {
    const std::string where = "shapes[" + std::to_string(i) + "]";
    const Json& s = shapes[i];
    if (!s.is_object()) return Status::invalid_argument(where + " must be an object");
    const std::string type = s.value("type", "");
    if (std::find(spec.shapes.begin(), spec.shapes.end(), type) == spec.shapes.end()) {
      return Status::invalid_argument(where + ".type must be one of the task's shapes (" +
                                      joined(spec.shapes) + "), got '" + type + "'");
    }
    const std::string label = s.value("label", "");
    if (std::find(spec.classes.begin(), spec.classes.end(), label) == spec.classes.end()) {
      return Status::invalid_argument(where + ".label '" + label + "' is not a class of the task");
    }
    Json shape = {{"type", type}, {"label", label}};
    if (type == "box") {
      JZ_RETURN_IF_ERROR(
          json::only_fields(s, {"type", "label", "x", "y", "width", "height", "attributes"}));
      double v[4];
      const char* keys[4] = {"x", "y", "width", "height"};
      for (int k = 0; k < 4; ++k) {
        if (!s.contains(keys[k]) || !s[keys[k]].is_number()) {
          return Status::invalid_argument(where + "." + keys[k] + " must be a number");
        }
        v[k] = s[keys[k]].get<double>();
        shape[keys[k]] = v[k];
      }
      if (!(v[2] >= 1 && v[3] >= 1) || !inside(v[0], v[1]) || !inside(v[0] + v[2], v[1] + v[3])) {
        return Status::invalid_argument(where +
                                        ": the box must be at least 1 x 1 pixel and lie "
                                        "inside the " +
                                        std::to_string(width) + "x" + std::to_string(height) +
                                        " image");
      }
    } else {
      JZ_RETURN_IF_ERROR(json::only_fields(s, {"type", "label", "points", "attributes"}));
      const Json& p = s.value("points", Json());
      if (!p.is_array() || p.size() < 6 || p.size() % 2 != 0 || p.size() > 2 * kMaxPoints) {
        return Status::invalid_argument(where + ".points must be 3 to " +
                                        std::to_string(kMaxPoints) +
                                        " points as [x1, y1, x2, y2, ...]");
      }
      double x0 = 0, y0 = 0, x1 = 0, y1 = 0;
      for (size_t k = 0; k < p.size(); k += 2) {
        if (!p[k].is_number() || !p[k + 1].is_number() ||
            !inside(p[k].get<double>(), p[k + 1].get<double>())) {
          return Status::invalid_argument(where + ".points: point " + std::to_string(k / 2 + 1) +
                                          " must be numbers inside the " + std::to_string(width) +
                                          "x" + std::to_string(height) + " image");
        }
        const double x = p[k].get<double>(), y = p[k + 1].get<double>();
        x0 = k == 0 ? x : std::min(x0, x);
        x1 = k == 0 ? x : std::max(x1, x);
        y0 = k == 0 ? y : std::min(y0, y);
        y1 = k == 0 ? y : std::max(y1, y);
      }
      if (x1 - x0 < 1 || y1 - y0 < 1) {
        return Status::invalid_argument(where + ": the polygon must span at least 1 x 1 pixel");
      }
      shape["points"] = p;
    }
    const Json& attrs = s.value("attributes", Json::object());
    if (!attrs.is_object())
      return Status::invalid_argument(where + ".attributes must be an object");
    Json a = Json::object();
    for (const auto& item : attrs.items()) {
      const std::string& name = item.key();
      const Json& value = item.value();
      auto it = std::find_if(spec.attributes.begin(), spec.attributes.end(),
                             [&](const LabelAttribute& la) { return la.name == name; });
      if (it == spec.attributes.end()) {
        return Status::invalid_argument(where + ".attributes: '" + name +
                                        "' is not an attribute of the task");
      }
      if (!value.is_string() || std::find(it->values.begin(), it->values.end(),
                                          value.get<std::string>()) == it->values.end()) {
        return Status::invalid_argument(where + ".attributes." + name + " must be one of " +
                                        joined(it->values));
      }
      a[name] = value;
    }
    for (const auto& la : spec.attributes)
      if (!a.contains(la.name)) a[la.name] = la.values.front();
    shape["attributes"] = std::move(a);
    out.push_back(std::move(shape));
  }
  return out;
}

Labelling::Labelling(store::Database& db, Clock& clock, IdGenerator& ids, DatasetVersions& versions)
    : db_(db), clock_(clock), ids_(ids), versions_(versions) {}

Result<LabelTask> Labelling::create(const std::string& project_id, const std::string& dataset,
                                    const TaskRequest& r, const std::string& actor) {
  JZ_RETURN_IF_ERROR(iam::validate_resource_name("name", r.name));
  if (r.job_size < 1 || r.job_size > 10'000) {
    return Status::invalid_argument("field 'job_size' must be 1 to 10000 images");
  }
  if (r.annotators.empty() || r.reviewers.empty() || r.annotators.size() > 1000 ||
      r.reviewers.size() > 1000) {
    return Status::invalid_argument(
        "a task needs 1 to 1000 annotators and 1 to 1000 reviewers (fields 'annotators', "
        "'reviewers')");
  }
  JZ_ASSIGN_OR_RETURN(Version v, versions_.get(project_id, dataset, r.number));
  std::vector<std::string> images;
  FileFilter f;
  for (;;) {
    JZ_ASSIGN_OR_RETURN(auto page, versions_.files(v, f));
    for (const auto& file : page)
      if (is_image(file.path)) images.push_back(file.path);
    if (page.size() < f.limit) break;
    f.after = page.back().path;
    if (static_cast<int64_t>(images.size()) > kMaxImages) {
      return Status::invalid_argument("version " + std::to_string(v.number) + " has more than " +
                                      std::to_string(kMaxImages) +
                                      " images; label a smaller version (derive one)");
    }
  }
  if (images.empty()) {
    return Status::invalid_argument("version " + std::to_string(v.number) + " of dataset '" +
                                    dataset + "' has no images (jpg, png, webp, bmp, gif)");
  }
  LabelTask t;
  t.id = ids_.next("lbt_");
  t.project_id = project_id;
  t.dataset_id = v.dataset_id;
  t.dataset = v.dataset;
  t.name = r.name;
  t.number = v.number;
  t.spec = r.spec;
  t.state = "open";
  t.images = static_cast<int64_t>(images.size());
  t.created_by = actor;
  t.created_at_ms = clock_.now_unix_ms();
  Status s = db_.transact([&](store::Conn& conn) -> Status {
    JZ_RETURN_IF_ERROR(
        conn.exec("INSERT INTO label_tasks (id, project_id, dataset_id, name, number, spec, "
                  "state, exported_version, images, created_by, created_at_ms) VALUES (?, ?, ?, "
                  "?, ?, ?, ?, 0, ?, ?, ?)",
                  {t.id, project_id, t.dataset_id, t.name, t.number, json::dump(t.spec.to_json()),
                   t.state, t.images, actor, t.created_at_ms})
            .status());
    const size_t size = static_cast<size_t>(r.job_size);
    for (size_t start = 0, seq = 0; start < images.size(); start += size, ++seq) {
      const Json files(std::vector<std::string>(
          images.begin() + static_cast<std::ptrdiff_t>(start),
          images.begin() + static_cast<std::ptrdiff_t>(std::min(images.size(), start + size))));
      const Person& a = r.annotators[seq % r.annotators.size()];
      const Person& rv = r.reviewers[seq % r.reviewers.size()];
      JZ_RETURN_IF_ERROR(
          conn.exec("INSERT INTO label_jobs (id, task_id, project_id, seq, files, annotator_id, "
                    "annotator, reviewer_id, reviewer, state, note, reworks, work_ms) VALUES (?, "
                    "?, ?, ?, ?, ?, ?, ?, ?, 'annotating', '', 0, 0)",
                    {ids_.next("lbj_"), t.id, project_id, static_cast<int64_t>(seq + 1),
                     json::dump(files), a.user_id, a.username, rv.user_id, rv.username})
              .status());
    }
    return {};
  });
  if (s.code() == Code::kAlreadyExists) {
    return Status::already_exists("the project has a labelling task named '" + r.name + "'");
  }
  JZ_RETURN_IF_ERROR(s);
  return get(project_id, t.id);
}

namespace {
LabelTask task_of(const store::Row& row) {
  LabelTask t;
  kTask.read(row, t);
  t.dataset = row.text(row.index_of("dataset"));
  auto spec = json::parse(row.text(row.index_of("spec")));
  if (spec.ok()) {
    auto parsed = parse_label_spec(*spec);
    if (parsed.ok()) t.spec = *parsed;
  }
  return t;
}
}  // namespace

Result<std::vector<LabelTask>> Labelling::list(const std::string& project_id) {
  std::vector<LabelTask> out;
  JZ_RETURN_IF_ERROR(db_.with_conn([&](store::Conn& conn) -> Status {
    JZ_ASSIGN_OR_RETURN(
        auto rows,
        conn.query(kTaskSelect + " WHERE t.project_id = ? ORDER BY t.created_at_ms DESC, "
                                 "t.id DESC LIMIT 200",
                   {project_id}));
    for (const auto& r : rows) out.push_back(task_of(r));
    JZ_ASSIGN_OR_RETURN(auto counts,
                        conn.query("SELECT task_id, state, COUNT(*) AS n FROM label_jobs WHERE "
                                   "project_id = ? GROUP BY task_id, state",
                                   {project_id}));
    for (auto& t : out) {
      for (const auto& c : counts)
        if (c.text(0) == t.id) t.jobs[c.text(1)] = c.integer(2);
    }
    return {};
  }));
  return out;
}

Result<LabelTask> Labelling::get(const std::string& project_id, const std::string& id) {
  std::optional<LabelTask> out;
  JZ_RETURN_IF_ERROR(db_.with_conn([&](store::Conn& conn) -> Status {
    JZ_ASSIGN_OR_RETURN(auto rows, conn.query(kTaskSelect + " WHERE t.project_id = ? AND t.id = ?",
                                              {project_id, id}));
    if (rows.empty()) return {};
    out = task_of(rows.at(0));
    JZ_ASSIGN_OR_RETURN(auto counts, conn.query("SELECT state, COUNT(*) AS n FROM label_jobs "
                                                "WHERE task_id = ? GROUP BY state",
                                                {id}));
    for (const auto& c : counts) out->jobs[c.text(0)] = c.integer(1);
    return {};
  }));
  if (!out) return Status::not_found("no labelling task " + id + " in this project");
  return *out;
}

Result<std::vector<LabelJob>> Labelling::jobs(const LabelTask& t) {
  std::vector<LabelJob> out;
  JZ_RETURN_IF_ERROR(db_.with_conn([&](store::Conn& conn) -> Status {
    JZ_ASSIGN_OR_RETURN(auto rows,
                        conn.query(kJobSelect + " WHERE j.task_id = ? ORDER BY j.seq", {t.id}));
    for (const auto& r : rows) out.push_back(job_of(r));
    return {};
  }));
  return out;
}

Result<LabelJob> Labelling::job_locked(store::Conn& conn, const LabelTask& t,
                                       const std::string& job_id) {
  JZ_ASSIGN_OR_RETURN(auto rows,
                      conn.query(kJobSelect + " WHERE j.task_id = ? AND j.id = ?", {t.id, job_id}));
  if (rows.empty()) return Status::not_found("no job " + job_id + " in task " + t.name);
  return job_of(rows.at(0));
}

Result<LabelJob> Labelling::job(const LabelTask& t, const std::string& job_id) {
  std::optional<LabelJob> out;
  JZ_RETURN_IF_ERROR(db_.with_conn([&](store::Conn& conn) -> Status {
    JZ_ASSIGN_OR_RETURN(out, job_locked(conn, t, job_id));
    return {};
  }));
  return *out;
}

Result<std::vector<std::pair<LabelTask, LabelJob>>> Labelling::work_of(
    const std::string& project_id, const std::string& user_id) {
  JZ_ASSIGN_OR_RETURN(auto tasks, list(project_id));
  std::vector<std::pair<LabelTask, LabelJob>> out;
  for (const auto& t : tasks) {
    if (t.state != "open") continue;
    JZ_ASSIGN_OR_RETURN(auto js, jobs(t));
    for (auto& j : js) {
      const bool mine =
          (j.annotator.user_id == user_id && (j.state == "annotating" || j.state == "rework")) ||
          (j.reviewer.user_id == user_id && j.state == "review");
      if (mine) out.emplace_back(t, std::move(j));
    }
  }
  return out;
}

Status Labelling::assign(const LabelTask& t, const std::string& job_id,
                         const std::optional<Person>& a, const std::optional<Person>& r) {
  return db_.transact([&](store::Conn& conn) -> Status {
    JZ_ASSIGN_OR_RETURN(LabelJob j, job_locked(conn, t, job_id));
    if (j.state == "accepted") {
      return Status::failed_precondition("job " + std::to_string(j.seq) + " is accepted");
    }
    if (a) {
      JZ_RETURN_IF_ERROR(
          conn.exec("UPDATE label_jobs SET annotator_id = ?, annotator = ? WHERE id = ?",
                    {a->user_id, a->username, j.id})
              .status());
    }
    if (r) {
      JZ_RETURN_IF_ERROR(
          conn.exec("UPDATE label_jobs SET reviewer_id = ?, reviewer = ? WHERE id = ?",
                    {r->user_id, r->username, j.id})
              .status());
    }
    return {};
  });
}

Status Labelling::remove(const std::string& project_id, const std::string& id) {
  JZ_ASSIGN_OR_RETURN(LabelTask t, get(project_id, id));
  return db_.transact([&](store::Conn& conn) -> Status {
    JZ_RETURN_IF_ERROR(conn.exec("DELETE FROM label_images WHERE task_id = ?", {t.id}).status());
    JZ_RETURN_IF_ERROR(conn.exec("DELETE FROM label_jobs WHERE task_id = ?", {t.id}).status());
    return conn.exec("DELETE FROM label_tasks WHERE id = ?", {t.id}).status();
  });
}

Result<std::vector<ImageLabels>> Labelling::labels(const LabelTask& t, const LabelJob& j) {
  if (j.task_id != t.id)
    return Status::not_found("job " + j.id + " is not a job of task " + t.name);
  std::map<std::string, ImageLabels> saved;
  JZ_RETURN_IF_ERROR(db_.with_conn([&](store::Conn& conn) -> Status {
    JZ_ASSIGN_OR_RETURN(auto rows,
                        conn.query("SELECT path, width, height, shapes, submitted, source, "
                                   "updated_by, updated_at_ms FROM label_images WHERE job_id = ?",
                                   {j.id}));
    for (const auto& r : rows) {
      ImageLabels l;
      l.path = r.text(0);
      l.width = static_cast<int>(r.integer(1));
      l.height = static_cast<int>(r.integer(2));
      auto shapes = json::parse(r.text(3));
      if (shapes.ok()) l.shapes = *shapes;
      auto submitted = json::parse(r.text(4));
      if (submitted.ok()) l.submitted = *submitted;
      l.source = r.text(5);
      l.updated_by = r.text(6);
      l.updated_at_ms = r.integer(7);
      saved[l.path] = std::move(l);
    }
    return {};
  }));
  std::vector<ImageLabels> out;
  for (const auto& path : j.files) {
    auto it = saved.find(path);
    if (it != saved.end()) {
      out.push_back(std::move(it->second));
    } else {
      ImageLabels l;
      l.path = path;
      out.push_back(std::move(l));
    }
  }
  return out;
}

Status Labelling::save(const LabelTask& t, const std::string& job_id, const std::string& path,
                       int width, int height, const Json& shapes, const Person& actor,
                       const std::string& source) {
  if (t.state != "open") {
    return Status::failed_precondition("task " + t.name + " was exported; it takes no changes");
  }
  if (width < 1 || height < 1 || width > 100'000 || height > 100'000) {
    return Status::invalid_argument(
        "fields 'width' and 'height' must be the image's size, 1 to "
        "100000 pixels");
  }
  JZ_ASSIGN_OR_RETURN(Json checked, check_shapes(t.spec, shapes, width, height));
  const int64_t now = clock_.now_unix_ms();
  return db_.transact([&](store::Conn& conn) -> Status {
    JZ_ASSIGN_OR_RETURN(LabelJob j, job_locked(conn, t, job_id));
    const bool annotating = j.state == "annotating" || j.state == "rework";
    if (!((annotating && actor.user_id == j.annotator.user_id) ||
          (j.state == "review" && actor.user_id == j.reviewer.user_id))) {
      return Status::permission_denied("job " + std::to_string(j.seq) + " is " + j.state + ": " +
                                       (annotating ? "its annotator " + j.annotator.username
                                        : j.state == "review"
                                            ? "its reviewer " + j.reviewer.username
                                            : std::string("nobody")) +
                                       " may change it now");
    }
    if (std::find(j.files.begin(), j.files.end(), path) == j.files.end()) {
      return Status::not_found("'" + path + "' is not an image of job " + std::to_string(j.seq));
    }
    // The annotator's work time runs from their first save in each round to its submission.
    if (annotating) {
      JZ_RETURN_IF_ERROR(conn.exec("UPDATE label_jobs SET started_at_ms = COALESCE(started_at_ms, "
                                   "?), round_started_at_ms = COALESCE(round_started_at_ms, ?) "
                                   "WHERE id = ?",
                                   {now, now, j.id})
                             .status());
    }
    // A model's shapes saved unchanged (the image opened and looked at) stay the model's:
    // only what a person changes becomes theirs.
    JZ_ASSIGN_OR_RETURN(auto before, conn.query("SELECT shapes, source FROM label_images WHERE "
                                                "task_id = ? AND path = ?",
                                                {t.id, path}));
    if (!before.empty() && before.at(0).text(1) == "model") {
      auto stored = json::parse(before.at(0).text(0));
      if (stored.ok() && *stored == checked) {
        return conn
            .exec("UPDATE label_images SET width = ?, height = ? WHERE task_id = ? AND path = ?",
                  {int64_t{width}, int64_t{height}, t.id, path})
            .status();
      }
    }
    JZ_ASSIGN_OR_RETURN(
        int64_t n,
        conn.exec("UPDATE label_images SET width = ?, height = ?, shapes = ?, "
                  "shape_count = ?, source = ?, updated_by = ?, updated_at_ms = ? "
                  "WHERE task_id = ? AND path = ?",
                  {int64_t{width}, int64_t{height}, json::dump(checked),
                   static_cast<int64_t>(checked.size()), source, actor.username, now, t.id, path}));
    if (n == 0) {
      JZ_RETURN_IF_ERROR(
          conn.exec("INSERT INTO label_images (task_id, path, job_id, width, height, shapes, "
                    "shape_count, submitted, source, updated_by, updated_at_ms) VALUES (?, ?, ?, "
                    "?, ?, ?, ?, 'null', ?, ?, ?)",
                    {t.id, path, j.id, int64_t{width}, int64_t{height}, json::dump(checked),
                     static_cast<int64_t>(checked.size()), source, actor.username, now})
              .status());
    }
    return {};
  });
}

Status Labelling::submit(const LabelTask& t, const std::string& job_id, const Person& actor) {
  const int64_t now = clock_.now_unix_ms();
  return db_.transact([&](store::Conn& conn) -> Status {
    JZ_ASSIGN_OR_RETURN(LabelJob j, job_locked(conn, t, job_id));
    if (j.state != "annotating" && j.state != "rework") {
      return Status::failed_precondition("job " + std::to_string(j.seq) + " is " + j.state +
                                         "; only a job being annotated is submitted");
    }
    if (actor.user_id != j.annotator.user_id) {
      return Status::permission_denied("job " + std::to_string(j.seq) + " is " +
                                       j.annotator.username + "'s to submit");
    }
    if (j.opened < static_cast<int64_t>(j.files.size())) {
      return Status::failed_precondition(
          std::to_string(static_cast<int64_t>(j.files.size()) - j.opened) + " of the " +
          std::to_string(j.files.size()) + " images of job " + std::to_string(j.seq) +
          " were never opened; look at every image (an image with nothing to mark is saved "
          "with no shapes) before submitting");
    }
    JZ_RETURN_IF_ERROR(
        conn.exec("UPDATE label_images SET submitted = shapes WHERE job_id = ?", {j.id}).status());
    return conn
        .exec(
            "UPDATE label_jobs SET state = 'review', submitted_at_ms = ?, work_ms = work_ms + "
            "CASE WHEN round_started_at_ms IS NULL THEN 0 ELSE ? - round_started_at_ms END, "
            "round_started_at_ms = NULL WHERE id = ?",
            {now, now, j.id})
        .status();
  });
}

Status Labelling::review(const LabelTask& t, const std::string& job_id, bool accept,
                         const std::string& note, const Person& actor) {
  if (note.size() > 2000)
    return Status::invalid_argument("field 'note' must be at most 2000 bytes");
  if (!accept && note.empty()) {
    return Status::invalid_argument("field 'note' must say what to rework");
  }
  const int64_t now = clock_.now_unix_ms();
  return db_.transact([&](store::Conn& conn) -> Status {
    JZ_ASSIGN_OR_RETURN(LabelJob j, job_locked(conn, t, job_id));
    if (j.state != "review") {
      return Status::failed_precondition("job " + std::to_string(j.seq) + " is " + j.state +
                                         "; only a submitted job is reviewed");
    }
    if (actor.user_id != j.reviewer.user_id) {
      return Status::permission_denied("job " + std::to_string(j.seq) + " is " +
                                       j.reviewer.username + "'s to review");
    }
    if (accept) {
      return conn
          .exec(
              "UPDATE label_jobs SET state = 'accepted', accepted_at_ms = ?, note = '' WHERE "
              "id = ?",
              {now, j.id})
          .status();
    }
    return conn
        .exec(
            "UPDATE label_jobs SET state = 'rework', note = ?, reworks = reworks + 1 WHERE id = ?",
            {note, j.id})
        .status();
  });
}

Result<Json> Labelling::statistics(const LabelTask& t) {
  JZ_ASSIGN_OR_RETURN(auto js, jobs(t));
  struct Acc {
    int64_t jobs = 0, accepted = 0, reworks = 0, images = 0, shapes = 0, work_ms = 0;
    int64_t compared = 0, kept = 0, larger = 0;  // over accepted images
  };
  std::map<std::string, Acc> by;
  for (const auto& j : js) {
    Acc& a = by[j.annotator.username];
    ++a.jobs;
    a.reworks += j.reworks;
    a.work_ms += j.work_ms;
    if (j.state == "review" || j.state == "accepted")
      a.images += static_cast<int64_t>(j.files.size());
    if (j.state == "accepted") ++a.accepted;
    JZ_ASSIGN_OR_RETURN(auto ls, labels(t, j));
    for (const auto& l : ls) {
      if (!l.submitted.is_array()) continue;
      a.shapes += static_cast<int64_t>(l.submitted.size());
      if (j.state != "accepted") continue;
      ++a.compared;
      a.kept += kept_shapes(l.submitted, l.shapes);
      a.larger += static_cast<int64_t>(std::max(l.submitted.size(), l.shapes.size()));
    }
  }
  Json out = Json::array();
  for (const auto& [name, a] : by) {
    const double hours = static_cast<double>(a.work_ms) / 3.6e6;
    out.push_back({{"annotator", name},
                   {"jobs", a.jobs},
                   {"accepted", a.accepted},
                   {"reworks", a.reworks},
                   {"images", a.images},
                   {"shapes", a.shapes},
                   {"work_seconds", a.work_ms / 1000},
                   {"images_per_hour",
                    hours > 0 ? Json(static_cast<double>(a.images) / hours) : Json(nullptr)},
                   {"agreement", a.compared == 0 ? Json(nullptr)
                                 : a.larger == 0 ? Json(1.0)
                                                 : Json(static_cast<double>(a.kept) /
                                                        static_cast<double>(a.larger))}});
  }
  return Json{{"annotators", out}};
}

Result<Version> Labelling::export_version(const LabelTask& t, const std::string& format,
                                          const std::string& actor) {
  if (format != "coco" && format != "image-json") {
    return Status::invalid_argument("format must be coco or image-json, got '" + format + "'");
  }
  if (t.state != "open") {
    return Status::failed_precondition("task " + t.name + " was exported as version " +
                                       std::to_string(t.exported_version));
  }
  JZ_ASSIGN_OR_RETURN(auto js, jobs(t));
  int64_t open = 0;
  for (const auto& j : js) open += j.state != "accepted" ? 1 : 0;
  if (open > 0) {
    return Status::failed_precondition(std::to_string(open) + " of the " +
                                       std::to_string(js.size()) + " jobs of task " + t.name +
                                       " are not accepted yet; a task is exported once every "
                                       "job is");
  }
  data::Annotations a;
  a.categories = t.spec.classes;
  for (const auto& j : js) {
    JZ_ASSIGN_OR_RETURN(auto ls, labels(t, j));
    for (const auto& l : ls) {
      data::AnnotatedImage img;
      img.file = l.path;
      img.width = l.width;
      img.height = l.height;
      for (const auto& s : l.shapes) {
        data::Box b;
        b.category = s.value("label", "");
        if (s.value("type", "") == "polygon") {
          for (const auto& v : s["points"]) b.polygon.push_back(v.get<double>());
        }
        const auto [x0, y0, x1, y1] = bounds_of(s);
        b.x = x0;
        b.y = y0;
        b.width = x1 - x0;
        b.height = y1 - y0;
        const Json attrs = s.value("attributes", Json::object());
        for (const auto& [k, v] : attrs.items()) b.attributes[k] = v.get<std::string>();
        img.boxes.push_back(std::move(b));
      }
      a.images.push_back(std::move(img));
    }
  }
  std::sort(
      a.images.begin(), a.images.end(),
      [](const data::AnnotatedImage& x, const data::AnnotatedImage& y) { return x.file < y.file; });
  Changes ch;
  ch.message = "labelling task " + t.name + " (" + format + ")";
  ch.add_split = "labels";
  if (format == "coco") {
    ch.add["labels/" + t.name + "/coco.json"] = data::write_coco(a);
  } else {
    for (const auto& img : a.images)
      ch.add["labels/" + t.name + "/" + img.file + ".json"] = data::write_image_json(img);
  }
  JZ_ASSIGN_OR_RETURN(Version v, versions_.derive(t.project_id, t.dataset, t.number, ch, actor));
  JZ_RETURN_IF_ERROR(db_.transact([&](store::Conn& conn) -> Status {
    return conn
        .exec("UPDATE label_tasks SET state = 'exported', exported_version = ? WHERE id = ?",
              {v.number, t.id})
        .status();
  }));
  return v;
}

}  // namespace jz::datasets
