// `jizhan autotest`: suites, algorithm packages and evaluations of the automatic test
// service (docs/AUTOTEST.md), over the API like every client command.
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "cli/client_commands.h"
#include "cli/client_util.h"
#include "core/clock.h"
#include "core/text.h"
#include "platform/autotest/competitions.h"
#include "sdk/signing.h"

namespace jz::cli {

namespace {

Result<std::string> slurp(const std::string& path, const char* what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::not_found(std::string("cannot read the ") + what + " '" + path + "'");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A JUnit XML document of an evaluation: one test case per threshold (a failure when it
// did not pass), one error case when the evaluation did not end in a verdict.
std::string junit_of(const Json& e) {
  const std::string suite = json::string_or(e, "suite");
  const Json result = e.value("result", Json::object()).is_object() ? e["result"] : Json::object();
  const Json thresholds = result.value("thresholds", Json::array());
  const std::string state = json::string_or(e, "state");
  const bool verdict = state == "passed" || state == "failed";
  int failures = 0;
  for (const auto& t : thresholds) failures += !t.value("passed", false);
  std::ostringstream x;
  x << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n  <testsuite name=\""
    << escape_markup("autotest." + suite) << "\" tests=\""
    << (verdict ? std::max<size_t>(thresholds.size(), 1) : 1) << "\" failures=\"" << failures
    << "\" errors=\"" << (verdict ? 0 : 1) << "\">\n";
  x << "    <properties>\n";
  for (const char* k : {"id", "algorithm", "algorithm_version", "suite_version", "job_id"}) {
    if (e.contains(k)) {
      x << "      <property name=\"" << k << "\" value=\"" << escape_markup(cell(e[k])) << "\"/>\n";
    }
  }
  x << "    </properties>\n";
  if (!verdict) {
    x << "    <testcase classname=\"" << escape_markup(suite) << "\" name=\"evaluation\">\n"
      << "      <error message=\"" << escape_markup(state + ": " + json::string_or(e, "message"))
      << "\"/>\n    </testcase>\n";
  } else if (thresholds.empty()) {
    x << "    <testcase classname=\"" << escape_markup(suite) << "\" name=\"scored\"/>\n";
  }
  for (const auto& t : thresholds) {
    const std::string name = json::string_or(t, "threshold");
    x << "    <testcase classname=\"" << escape_markup(suite) << "\" name=\"" << escape_markup(name)
      << "\"";
    if (t.value("passed", false)) {
      x << "/>\n";
    } else {
      x << ">\n      <failure message=\"" << escape_markup(name) << ": "
        << escape_markup(t.contains("value") && !t["value"].is_null()
                             ? json::dump(t["value"])
                             : std::string("no such metric"))
        << "\"/>\n    </testcase>\n";
    }
  }
  x << "  </testsuite>\n</testsuites>\n";
  return x.str();
}

// The metrics table `submit` and `show` print: thresholds, then the headline metrics,
// performance and errors.
void print_evaluation(const Json& e) {
  std::cout << "evaluation " << json::string_or(e, "id") << ": " << json::string_or(e, "suite")
            << " v" << e.value("suite_version", 0) << " x " << json::string_or(e, "algorithm")
            << " " << json::string_or(e, "algorithm_version") << ": "
            << json::string_or(e, "state");
  if (!json::string_or(e, "message").empty())
    std::cout << " (" << e["message"].get<std::string>() << ")";
  std::cout << "\n";
  const Json r = e.value("result", Json()).is_object() ? e["result"] : Json::object();
  if (r.empty()) return;
  Json rows = Json::array();
  for (const auto& t : r.value("thresholds", Json::array())) {
    rows.push_back({{"name", t.value("threshold", "")},
                    {"value", t.value("value", Json())},
                    {"result", t.value("passed", false) ? "pass" : "FAIL"}});
  }
  const Json m = r.value("metrics", Json::object());
  for (const auto& [k, v] : m.items()) {
    if (v.is_number()) rows.push_back({{"name", k}, {"value", v}, {"result", ""}});
  }
  const Json perf = r.value("performance", Json::object());
  for (const auto& [k, v] : perf.items()) {
    rows.push_back({{"name", k}, {"value", v}, {"result", ""}});
  }
  const Json errs = r.value("errors", Json::object());
  if (errs.contains("count")) {
    rows.push_back({{"name", "errors"}, {"value", errs["count"]}, {"result", ""}});
    const Json kinds = errs.value("by_kind", Json::object());
    for (const auto& [k, v] : kinds.items()) {
      rows.push_back({{"name", "errors." + k}, {"value", v}, {"result", ""}});
    }
  }
  print_table(rows, {{"METRIC", "name"}, {"VALUE", "value"}, {"THRESHOLD", "result"}});
}

bool ended(const std::string& state) {
  return state == "passed" || state == "failed" || state == "error" || state == "cancelled";
}

}  // namespace

void ClientCommands::autotest_commands(CLI::App& app) {
  auto* at = app.add_subcommand(
      "autotest",
      "The automatic test service: suites on data you never see, algorithm packages,\n"
      "evaluations and their reports (docs/AUTOTEST.md)");
  at->require_subcommand(1);
  struct Opts {
    std::string project, name, dataset, input, template_file, annotations, description, file,
        config, resources, suite, id, html, junit, wait_for = "2h", algorithm, state;
    std::vector<std::string> thresholds;
    double fps = -1, frame_timeout = -1, max_frames = -1, runtime_limit = -1, gpus = -1;
    int64_t version = 0;
    bool wait = false;
  };
  auto o = std::make_shared<Opts>();
  auto base = [o] { return "/api/v1/projects/" + url_encode(o->project); };

  // ---- suites
  auto* suite = at->add_subcommand("suite", "Test suites (data owners keep them)");
  suite->require_subcommand(1);
  auto suite_body = [o](bool create) -> Result<Json> {
    Json body = Json::object();
    if (create) body["name"] = o->name;
    if (!o->dataset.empty()) body["dataset"] = o->dataset;
    if (!o->input.empty()) body["input"] = o->input;
    if (!o->description.empty()) body["description"] = o->description;
    if (!o->template_file.empty()) {
      JZ_ASSIGN_OR_RETURN(std::string t, slurp(o->template_file, "template"));
      body["template"] = t;
    }
    if (!o->annotations.empty()) {
      JZ_ASSIGN_OR_RETURN(std::string a, slurp(o->annotations, "annotations"));
      body["annotations"] = {{"file", std::filesystem::path(o->annotations).filename().string()},
                             {"content", a}};
    }
    if (!o->thresholds.empty()) body["thresholds"] = o->thresholds;
    if (o->fps >= 0) body["fps"] = o->fps;
    if (o->frame_timeout >= 0) body["frame_timeout_s"] = o->frame_timeout;
    if (o->max_frames >= 0) body["max_frames"] = o->max_frames;
    if (o->runtime_limit >= 0) body["runtime_limit_s"] = o->runtime_limit;
    return body;
  };
  auto suite_flags = [o](CLI::App* c, bool create) {
    c->add_option("project", o->project, "The project")->required();
    c->add_option("name", o->name, "The suite")->required();
    auto* d = c->add_option("--dataset", o->dataset, "The samples: a dataset of the project");
    auto* t = c->add_option("--template", o->template_file, "The template (YAML or JSON)")
                  ->check(CLI::ExistingFile);
    auto* a = c->add_option("--annotations", o->annotations,
                            "The annotations (.json, .jsonl, .xml): the algorithms never see them")
                  ->check(CLI::ExistingFile);
    if (create) {
      d->required();
      t->required();
      a->required();
    }
    c->add_option("--input", o->input, "A folder, image or video inside the dataset");
    c->add_option("--threshold", o->thresholds,
                  "A pass threshold, NAME OP NUMBER ('mAP >= 0.6', 'p99_latency_ms <= 50'); "
                  "repeatable");
    c->add_option("--description", o->description, "What the suite tests");
    c->add_option("--fps", o->fps, "Video: frames analysed a second (default every frame)");
    c->add_option("--frame-timeout", o->frame_timeout, "Seconds one frame may take (default 10)");
    c->add_option("--max-frames", o->max_frames, "At most this many frames");
    c->add_option("--runtime-limit", o->runtime_limit,
                  "Seconds the evaluation job may run (default 3600)");
  };
  auto* create =
      leaf(*suite, "create", "Make a suite (data owners)", [o, base, suite_body](const Common& c) {
        return with_conn("autotest suite create", c.server, true, [&](Conn& conn) -> Status {
          JZ_ASSIGN_OR_RETURN(Json body, suite_body(true));
          JZ_ASSIGN_OR_RETURN(Json s, conn.api->call("POST", base() + "/suites", &body));
          if (c.output == "json") {
            std::cout << s.dump(2) << "\n";
          } else {
            std::cout << "suite " << s.value("name", "") << " version " << s.value("version", 0)
                      << " on dataset " << s.value("dataset", "") << " (" << s.value("level", "")
                      << ")\n";
          }
          return {};
        });
      });
  suite_flags(create, true);
  auto* update = leaf(
      *suite, "update", "Change a suite: a new version (data owners)",
      [o, base, suite_body](const Common& c) {
        return with_conn("autotest suite update", c.server, true, [&](Conn& conn) -> Status {
          JZ_ASSIGN_OR_RETURN(Json body, suite_body(false));
          JZ_ASSIGN_OR_RETURN(
              Json s, conn.api->call("PATCH", base() + "/suites/" + url_encode(o->name), &body));
          if (c.output == "json") {
            std::cout << s.dump(2) << "\n";
          } else {
            std::cout << "suite " << s.value("name", "") << " is now version "
                      << s.value("version", 0) << "\n";
          }
          return {};
        });
      });
  suite_flags(update, false);
  auto* slist = leaf(*suite, "list", "The project's suites", [o, base](const Common& c) {
    return with_conn("autotest suite list", c.server, true, [&](Conn& conn) -> Status {
      JZ_ASSIGN_OR_RETURN(Json items, list_all(*conn.api, base() + "/suites"));
      show_list(c.output, items,
                {{"NAME", "name"},
                 {"VERSION", "version"},
                 {"DATASET", "dataset"},
                 {"LEVEL", "level"},
                 {"THRESHOLDS", "thresholds"},
                 {"UPDATED", "updated_at"}});
      return {};
    });
  });
  slist->add_option("project", o->project, "The project")->required();
  auto* sshow =
      leaf(*suite, "show", "A suite's latest version (or --version N)", [o, base](const Common& c) {
        return with_conn("autotest suite show", c.server, true, [&](Conn& conn) -> Status {
          std::string path = base() + "/suites/" + url_encode(o->name);
          if (o->version > 0) path += "?version=" + std::to_string(o->version);
          JZ_ASSIGN_OR_RETURN(Json s, conn.api->call("GET", path));
          show_object(c.output, s);
          return {};
        });
      });
  sshow->add_option("project", o->project, "The project")->required();
  sshow->add_option("name", o->name, "The suite")->required();
  sshow->add_option("--version", o->version, "A version");
  auto* sdel =
      leaf(*suite, "delete", "Delete a suite and its annotations", [o, base](const Common& c) {
        return with_conn("autotest suite delete", c.server, true, [&](Conn& conn) -> Status {
          JZ_RETURN_IF_ERROR(
              conn.api->call("DELETE", base() + "/suites/" + url_encode(o->name)).status());
          std::cout << "deleted suite " << o->name << "\n";
          return {};
        });
      });
  sdel->add_option("project", o->project, "The project")->required();
  sdel->add_option("name", o->name, "The suite")->required();

  // ---- algorithms
  auto* algo = at->add_subcommand("algorithm", "Uploaded algorithm packages");
  algo->require_subcommand(1);
  auto* up = leaf(
      *algo, "upload", "Upload a .jzpkg (checked: intact, signed, conformant)",
      [o, base](const Common& c) {
        return with_conn("autotest algorithm upload", c.server, true, [&](Conn& conn) -> Status {
          JZ_ASSIGN_OR_RETURN(std::string bytes, slurp(o->file, "package"));
          JZ_ASSIGN_OR_RETURN(Json a, conn.api->post_bytes(base() + "/algorithms", bytes,
                                                           "application/octet-stream"));
          if (c.output == "json") {
            std::cout << a.dump(2) << "\n";
          } else {
            std::cout << a.value("name", "") << " " << a.value("version", "") << " signed by '"
                      << a.value("publisher", "") << "' (key " << a.value("key_id", "")
                      << "): " << a.value("state", "") << "\n";
          }
          return {};
        });
      });
  up->add_option("project", o->project, "The project")->required();
  up->add_option("file", o->file, "The package")->required()->check(CLI::ExistingFile);
  auto* alist = leaf(*algo, "list", "The project's packages", [o, base](const Common& c) {
    return with_conn("autotest algorithm list", c.server, true, [&](Conn& conn) -> Status {
      JZ_ASSIGN_OR_RETURN(Json items, list_all(*conn.api, base() + "/algorithms"));
      show_list(c.output, items,
                {{"NAME", "name"},
                 {"VERSION", "version"},
                 {"PUBLISHER", "publisher"},
                 {"STATE", "state"},
                 {"CHECKS", "message"},
                 {"UPLOADED BY", "uploaded_by"}});
      return {};
    });
  });
  alist->add_option("project", o->project, "The project")->required();

  // ---- evaluations
  auto* submit = at->add_subcommand(
      "submit",
      "Evaluate a package on a suite: upload it (unless NAME@VERSION names one uploaded\n"
      "before), start the evaluation, and with --wait print the metrics when it ends.\n"
      "Exit 0 when every threshold passed, 1 when one failed, 2 on an error.");
  submit->add_option("suite", o->suite, "PROJECT/SUITE")->required();
  submit->add_option("package", o->file, "FILE.jzpkg, or NAME@VERSION already uploaded")
      ->required();
  submit->add_option("--config", o->config, "JSON object over the package's default config");
  submit->add_option("--gpus", o->gpus, "GPUs for the job (below 1: a share; default none)");
  submit->add_flag("--wait", o->wait, "Wait for the verdict and print the metrics");
  submit->add_option("--timeout", o->wait_for, "With --wait: give up after this long")
      ->capture_default_str();
  submit->add_option("--junit", o->junit, "With --wait: write a JUnit XML file")
      ->option_text("FILE");
  submit->add_option("--server", common_.server, "Server URL")->option_text("URL");
  submit->add_option("-o,--output", common_.output, "table (default) or json")
      ->check(CLI::IsMember({"table", "json"}));
  submit->callback([this, o] {
    action_ = [this, o]() -> int {
      const char* cmd = "autotest submit";
      auto fail = [&](const Status& s) {
        std::cerr << "jizhan " << cmd << ": error: " << s.message() << "\n";
        return 2;
      };
      const size_t slash = o->suite.find('/');
      if (slash == std::string::npos || slash == 0 || slash + 1 == o->suite.size()) {
        return fail(Status::invalid_argument("the suite is PROJECT/SUITE, not '" + o->suite + "'"));
      }
      o->project = o->suite.substr(0, slash);
      const std::string suite_name = o->suite.substr(slash + 1);
      auto conn = connect(common_.server, true);
      if (!conn.ok()) return fail(conn.status());
      const std::string base = "/api/v1/projects/" + url_encode(o->project);
      std::string name, version;
      const size_t at_sign = o->file.find('@');
      if (at_sign != std::string::npos && !std::filesystem::exists(o->file)) {
        name = o->file.substr(0, at_sign);
        version = o->file.substr(at_sign + 1);
      } else {
        auto bytes = slurp(o->file, "package");
        if (!bytes.ok()) return fail(bytes.status());
        auto a = conn->api->post_bytes(base + "/algorithms", *bytes, "application/octet-stream");
        if (!a.ok()) return fail(a.status());
        name = a->value("name", "");
        version = a->value("version", "");
        std::cerr << "uploaded " << name << " " << version << " (signed by '"
                  << a->value("publisher", "") << "')\n";
      }
      // The conformance checks of a fresh upload come first.
      const auto t0 = std::chrono::steady_clock::now();
      while (true) {
        auto a = conn->api->call(
            "GET", base + "/algorithms/" + url_encode(name) + "/" + url_encode(version));
        if (!a.ok()) return fail(a.status());
        const std::string state = a->value("state", "");
        if (state == "ready") break;
        if (state == "failed") {
          return fail(Status::failed_precondition(
              name + " " + version + " did not pass its checks: " + a->value("message", "")));
        }
        if (std::chrono::steady_clock::now() - t0 > std::chrono::minutes(10)) {
          return fail(Status::deadline_exceeded("the package's checks did not end in 10 minutes"));
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
      }
      Json body = {{"suite", suite_name}, {"algorithm", name}, {"version", version}};
      if (!o->config.empty()) {
        Json cfg = Json::parse(o->config, nullptr, false);
        if (cfg.is_discarded() || !cfg.is_object()) {
          return fail(Status::invalid_argument("--config must be a JSON object"));
        }
        body["config"] = cfg;
      }
      if (o->gpus >= 0) body["resources"] = {{"gpus", o->gpus}, {"cpu", 1}, {"memory_mib", 4096}};
      auto e = conn->api->call("POST", base + "/evaluations", &body);
      if (!e.ok()) return fail(e.status());
      const std::string id = e->value("id", "");
      if (!o->wait) {
        if (common_.output == "json") {
          std::cout << e->dump(2) << "\n";
        } else {
          std::cout << "evaluation " << id << " started (job " << e->value("job_id", "") << ")\n";
        }
        return 0;
      }
      auto limit = parse_duration(o->wait_for);
      if (!limit.ok()) return fail(limit.status());
      const auto deadline = std::chrono::steady_clock::now() + *limit;
      Json now = *e;
      std::string last_state;
      while (!ended(now.value("state", ""))) {
        if (std::chrono::steady_clock::now() > deadline) {
          return fail(Status::deadline_exceeded("evaluation " + id + " did not end within " +
                                                o->wait_for + " (it goes on)"));
        }
        if (now.value("state", "") != last_state) {
          last_state = now.value("state", "");
          std::cerr << "evaluation " << id << ": " << last_state << "\n";
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(500));
        auto got = conn->api->call("GET", base + "/evaluations/" + id);
        if (!got.ok()) return fail(got.status());
        now = *got;
      }
      if (common_.output == "json") {
        std::cout << now.dump(2) << "\n";
      } else {
        print_evaluation(now);
      }
      if (!o->junit.empty()) {
        std::ofstream out(o->junit, std::ios::trunc);
        out << junit_of(now);
        if (!out.flush()) return fail(Status::failed_precondition("cannot write " + o->junit));
      }
      const std::string state = now.value("state", "");
      return state == "passed" ? 0 : state == "failed" ? 1 : 2;
    };
  });

  auto* list =
      leaf(*at, "list", "The project's evaluations, newest first", [o, base](const Common& c) {
        return with_conn("autotest list", c.server, true, [&](Conn& conn) -> Status {
          std::string path = base() + "/evaluations?page_size=100";
          if (!o->suite.empty()) path += "&suite=" + url_encode(o->suite);
          if (!o->algorithm.empty()) path += "&algorithm=" + url_encode(o->algorithm);
          if (!o->state.empty()) path += "&state=" + url_encode(o->state);
          JZ_ASSIGN_OR_RETURN(Json page, conn.api->call("GET", path));
          show_list(c.output, page["items"],
                    {{"ID", "id"},
                     {"SUITE", "suite"},
                     {"V", "suite_version"},
                     {"ALGORITHM", "algorithm"},
                     {"VERSION", "algorithm_version"},
                     {"STATE", "state"},
                     {"OWNER", "owner"},
                     {"CREATED", "created_at"}});
          return {};
        });
      });
  list->add_option("project", o->project, "The project")->required();
  list->add_option("--suite", o->suite, "Only this suite's");
  list->add_option("--algorithm", o->algorithm, "Only this algorithm's");
  list->add_option("--state", o->state, "Only in this state");
  auto* show = leaf(
      *at, "show", "An evaluation's verdict and metrics (--html FILE: its report)",
      [o, base](const Common& c) {
        return with_conn("autotest show", c.server, true, [&](Conn& conn) -> Status {
          JZ_ASSIGN_OR_RETURN(Json e,
                              conn.api->call("GET", base() + "/evaluations/" + url_encode(o->id)));
          if (c.output == "json") {
            std::cout << e.dump(2) << "\n";
          } else {
            print_evaluation(e);
          }
          if (!o->html.empty()) {
            JZ_ASSIGN_OR_RETURN(
                int64_t n, conn.api->download(
                               base() + "/evaluations/" + url_encode(o->id) + "/report", o->html));
            std::cerr << "wrote " << o->html << " (" << n << " bytes)\n";
          }
          return {};
        });
      });
  show->add_option("project", o->project, "The project")->required();
  show->add_option("id", o->id, "The evaluation (eval_...)")->required();
  show->add_option("--html", o->html, "Write the HTML report to this file");

  // ---- competitions
  struct CompOpts {
    std::string competition, split = "public", csv, package, out, key, file, results;
    std::vector<std::string> columns;
  };
  auto co = std::make_shared<CompOpts>();
  // PROJECT/COMPETITION as the API's path.
  auto comp_path = [co]() -> Result<std::string> {
    const size_t slash = co->competition.find('/');
    if (slash == std::string::npos || slash == 0 || slash + 1 == co->competition.size()) {
      return Status::invalid_argument("the competition is PROJECT/COMPETITION, not '" +
                                      co->competition + "'");
    }
    return "/api/v1/projects/" + url_encode(co->competition.substr(0, slash)) + "/competitions/" +
           url_encode(co->competition.substr(slash + 1));
  };
  auto* csv = at->add_subcommand(
      "csv",
      "Turn `jizhan algo run` results into a competition's results CSV: one row a sample, a\n"
      "column a value of the result line (--column NAME=result.PATH, as the competition\n"
      "names them). Offline: no server.");
  csv->add_option("results", co->results, "The results (JSON lines of jizhan algo run)")
      ->required()
      ->check(CLI::ExistingFile);
  csv->add_option("--column", co->columns, "NAME=result.PATH; repeatable, in order")->required();
  csv->add_option("--out", co->out, "The CSV (default standard output)");
  csv->callback([this, co] {
    action_ = [co]() -> int {
      std::vector<autotest::CsvColumn> cols;
      for (const auto& c : co->columns) {
        const size_t eq = c.find('=');
        if (eq == std::string::npos || eq == 0) {
          return report("autotest csv",
                        Status::invalid_argument("--column is NAME=result.PATH, not '" + c + "'"));
        }
        cols.push_back({c.substr(0, eq), c.substr(eq + 1)});
      }
      auto text = slurp(co->results, "results");
      auto out =
          text.ok() ? autotest::results_csv(*text, cols) : Result<std::string>(text.status());
      if (!out.ok()) return report("autotest csv", out.status());
      if (co->out.empty()) {
        std::cout << *out;
      } else {
        std::ofstream f(co->out, std::ios::trunc);
        f << *out;
        if (!f.flush())
          return report("autotest csv", Status::failed_precondition("cannot write " + co->out));
      }
      return 0;
    };
  });
  auto* compete = leaf(
      *at, "compete",
      "Submit your team's results CSV to a competition, with the uploaded package\n"
      "(NAME@VERSION) that made it; prints its score (the hidden split's after the close)",
      [co, comp_path](const Common& c) {
        return with_conn("autotest compete", c.server, true, [&](Conn& conn) -> Status {
          JZ_ASSIGN_OR_RETURN(std::string path, comp_path());
          JZ_ASSIGN_OR_RETURN(std::string text, slurp(co->csv, "CSV"));
          const size_t at_sign = co->package.find('@');
          if (at_sign == std::string::npos) {
            return Status::invalid_argument("--package is NAME@VERSION of an uploaded package");
          }
          Json body = {{"split", co->split},
                       {"algorithm", co->package.substr(0, at_sign)},
                       {"version", co->package.substr(at_sign + 1)},
                       {"csv", text}};
          JZ_ASSIGN_OR_RETURN(Json sub, conn.api->call("POST", path + "/submissions", &body));
          show_object(c.output, sub);
          return {};
        });
      });
  compete->add_option("competition", co->competition, "PROJECT/COMPETITION")->required();
  compete->add_option("--split", co->split, "public (default) or hidden")->capture_default_str();
  compete->add_option("--csv", co->csv, "The results CSV")->required()->check(CLI::ExistingFile);
  compete->add_option("--package", co->package, "NAME@VERSION of the uploaded package")->required();
  auto* board =
      leaf(*at, "board", "A competition's leaderboard (--split hidden after the close)",
           [co, comp_path](const Common& c) {
             return with_conn("autotest board", c.server, true, [&](Conn& conn) -> Status {
               JZ_ASSIGN_OR_RETURN(std::string path, comp_path());
               JZ_ASSIGN_OR_RETURN(
                   Json b, conn.api->call("GET", path + "/board?split=" + url_encode(co->split)));
               show_list(c.output, b["items"],
                         {{"RANK", "rank"},
                          {"TEAM", "team"},
                          {"SCORE", "score"},
                          {"PACKAGE", "algorithm"},
                          {"VERSION", "version"},
                          {"SUBMITTED", "submitted_at"},
                          {"VERDICT", "verdict"}});
               return {};
             });
           });
  board->add_option("competition", co->competition, "PROJECT/COMPETITION")->required();
  board->add_option("--split", co->split, "public (default) or hidden")->capture_default_str();
  auto* verdicts =
      leaf(*at, "verdicts",
           "Save a competition's signed verdicts into a folder (one TEAM.json each) and\n"
           "the platform's key (verdict-key.pub), for `verify-verdict`",
           [co, comp_path](const Common& c) {
             return with_conn("autotest verdicts", c.server, true, [&](Conn& conn) -> Status {
               JZ_ASSIGN_OR_RETURN(std::string path, comp_path());
               JZ_ASSIGN_OR_RETURN(Json list, conn.api->call("GET", path + "/verdicts"));
               JZ_ASSIGN_OR_RETURN(Json key, conn.api->call("GET", "/api/v1/autotest/verdict-key"));
               std::error_code ec;
               std::filesystem::create_directories(co->out, ec);
               if (ec) return Status::invalid_argument("cannot create " + co->out);
               std::ofstream(co->out + "/verdict-key.pub") << key.dump(2) << "\n";
               for (const auto& v : list["items"]) {
                 if (!v["document"].is_object()) continue;
                 const std::string file = co->out + "/" + v.value("team", "team") + ".json";
                 std::ofstream(file) << v["document"].dump(2) << "\n";
                 std::cout << "wrote " << file << "\n";
               }
               return {};
             });
           });
  verdicts->add_option("competition", co->competition, "PROJECT/COMPETITION")->required();
  verdicts->add_option("--out", co->out, "The folder")->required();
  auto* verify = at->add_subcommand(
      "verify-verdict",
      "Check a competition verdict offline: its Ed25519 signature by the platform's key\n"
      "(GET /api/v1/autotest/verdict-key, or `autotest verdicts`). Exit 0 and the verdict\n"
      "when it holds, 1 when the document was changed or signed by another key.");
  verify->add_option("verdict", co->file, "The verdict document (JSON)")
      ->required()
      ->check(CLI::ExistingFile);
  verify->add_option("--key", co->key, "The platform's verdict key (.pub)")
      ->required()
      ->check(CLI::ExistingFile);
  verify->callback([this, co] {
    action_ = [co]() -> int {
      const char* cmd = "autotest verify-verdict";
      auto text = slurp(co->file, "verdict");
      if (!text.ok()) return report(cmd, text.status());
      auto doc = sdk::parse_signed_document(*text, co->file);
      if (!doc.ok()) return report(cmd, doc.status());
      auto key = sdk::read_public_key(co->key);
      if (!key.ok()) return report(cmd, key.status());
      if (doc->key_id != key->key_id || !sdk::signature_valid(*doc, *key)) {
        std::cerr
            << "jizhan " << cmd << ": " << co->file
            << ": the signature does not verify: the verdict was changed after it was signed, or "
               "another key signed it (key "
            << doc->key_id << ", expected " << key->key_id << ")\n";
        return 1;
      }
      const Json p = Json::parse(doc->payload, nullptr, false);
      std::cout << co->file << ": signed by " << key->name << " (key " << key->key_id << "): team "
                << json::string_or(p, "team") << ", " << json::string_or(p, "algorithm") << " "
                << json::string_or(p, "version") << " in competition "
                << json::string_or(p, "competition") << ": " << json::string_or(p, "verdict")
                << "\n";
      return 0;
    };
  });
}

}  // namespace jz::cli
