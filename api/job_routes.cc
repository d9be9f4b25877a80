#include "api/job_routes.h"

#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <thread>

#include "api/route_util.h"
#include "core/files.h"
#include "platform/jobs/datasets.h"
#include "platform/jobs/runner.h"
#include "platform/jobs/store.h"

namespace jz::api {

namespace {

Json dataset_json(const jobs::Dataset& d, bool show_path) {
  Json j = {
      {"name", d.name},
      {"security_level", d.security_level},
      {"created_by", d.created_by},
      {"created_at", format_rfc3339(Clock::WallTime(std::chrono::milliseconds(d.created_at_ms)))}};
  // Where the data lives on the server is for those who may see the data.
  if (show_path) j["path"] = d.path;
  return j;
}

// Sends one request into a dev environment's sandbox. The connection is made from a
// thread that joined the sandbox's network namespace, so the environment needs no port
// on the machine and stays without a network of its own.
httplib::Result forward(const std::string& netns, int port, const httplib::Request& in,
                        const std::string& target) {
  httplib::Result out{nullptr, httplib::Error::Connection};
  std::thread t([&] {
    if (!netns.empty()) {
      const int fd = ::open(netns.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0 || ::setns(fd, CLONE_NEWNET) != 0) {
        if (fd >= 0) ::close(fd);
        return;
      }
      ::close(fd);
    }
    httplib::Client cli("127.0.0.1", port);
    cli.set_connection_timeout(5, 0);
    cli.set_read_timeout(300, 0);
    httplib::Request r;
    r.method = in.method;
    r.path = target;
    r.body = in.body;
    for (const auto& [k, v] : in.headers) {
      // The platform's credentials stay with the platform.
      if (k == "Authorization" || k == "Host" || k == "Content-Length" || k == "Connection" ||
          k == "REMOTE_ADDR" || k == "REMOTE_PORT" || k == "LOCAL_ADDR" || k == "LOCAL_PORT") {
        continue;
      }
      r.headers.emplace(k, v);
    }
    out = cli.send(r);
  });
  t.join();
  return out;
}

}  // namespace

void add_job_routes(RouteHost& host, const PlatformServices& services) {
  jobs::JobStore& store = *services.jobs;
  jobs::Datasets& datasets = *services.datasets;
  jobs::JobRunner* runner = services.runner;
  RouteHost* h = &host;
  const std::string pr = R"(/api/v1/projects/([a-z0-9-]+))";
  const std::string pl = "/api/v1/projects/{project}";
  const std::string job_id = R"((job_[0-9A-Z]{26}))";

  // ---- datasets ----
  h->on("POST", pr + "/datasets", pl + "/datasets",
        [h, &datasets](const httplib::Request& req, httplib::Response& res) {
          auto p = guard(h, req, res, "dataset", "create");
          if (!p) return;
          auto body = h->body_object(req);
          if (!body.ok()) return h->send_error(res, body.status());
          std::string fields[3];
          const char* names[3] = {"name", "path", "security_level"};
          for (int i = 0; i < 3; ++i) {
            auto v = json::required_string(*body, names[i]);
            if (!v.ok()) return h->send_error(res, v.status());
            fields[i] = *v;
          }
          const auto& me = h->principal();
          auto d = datasets.create(p->id, p->workspace_id, fields[0], fields[1], fields[2],
                                   me.username, me.is_platform_admin());
          if (!d.ok()) return h->send_error(res, d.status());
          h->send_json(res, 201, dataset_json(*d, true));
        });
  h->on("GET", pr + "/datasets", pl + "/datasets",
        [h, &datasets](const httplib::Request& req, httplib::Response& res) {
          auto p = guard(h, req, res, "dataset", "list");
          if (!p) return;
          const bool owner = h->allow("dataset_data", "get", p->workspace_id, &*p).ok();
          auto all = datasets.list(p->id);
          if (!all.ok()) return h->send_error(res, all.status());
          Json items = Json::array();
          for (const auto& d : *all) items.push_back(dataset_json(d, owner));
          h->send_json(res, 200, {{"items", items}, {"next_page_token", nullptr}});
        });
  const std::string ds = pr + "/datasets/([a-z0-9-]+)";
  const std::string dl = pl + "/datasets/{dataset}";
  h->on("GET", ds, dl, [h, &datasets](const httplib::Request& req, httplib::Response& res) {
    auto p = guard(h, req, res, "dataset", "get");
    if (!p) return;
    auto d = datasets.get(p->id, req.matches[2]);
    if (!d.ok()) return h->send_error(res, d.status());
    h->send_json(res, 200,
                 dataset_json(*d, h->allow("dataset_data", "get", p->workspace_id, &*p).ok()));
  });
  h->on("DELETE", ds, dl, [h, &datasets](const httplib::Request& req, httplib::Response& res) {
    auto p = guard(h, req, res, "dataset", "delete");
    if (!p) return;
    if (Status s = datasets.remove(p->id, req.matches[2]); !s.ok()) return h->send_error(res, s);
    res.status = 204;
  });
  h->on("POST", ds + "/archive", dl + "/archive",
        [h, &datasets, runner](const httplib::Request& req, httplib::Response& res) {
          auto p = guard(h, req, res, "dataset", "create");
          if (!p) return;
          const std::string level = req.has_param("security_level")
                                        ? req.get_param_value("security_level")
                                        : std::string("internal");
          std::optional<int64_t> left;
          if (runner) {
            auto l = runner->storage_left(p->id);
            if (!l.ok()) return h->send_error(res, l.status());
            left = *l;
          }
          auto d = datasets.create_from_archive(p->id, req.matches[2], req.body, level,
                                                h->principal().username, left);
          if (!d.ok()) return h->send_error(res, d.status());
          h->send_json(res, 201, dataset_json(*d, true));
        });
  h->on("GET", ds + "/files", dl + "/files",
        [h, &datasets](const httplib::Request& req, httplib::Response& res) {
          auto p = guard(h, req, res, "dataset_data", "get");
          if (!p) return;
          auto d = datasets.get(p->id, req.matches[2]);
          if (!d.ok()) return h->send_error(res, d.status());
          auto files = datasets.files(*d);
          if (!files.ok()) return h->send_error(res, files.status());
          Json items = Json::array();
          for (const auto& f : *files) items.push_back({{"path", f.path}, {"size", f.size}});
          h->send_json(res, 200, {{"items", items}, {"next_page_token", nullptr}});
        });
  h->on("GET", ds + "/files/(.+)", dl + "/files/{path}",
        [h, &datasets](const httplib::Request& req, httplib::Response& res) {
          auto p = guard(h, req, res, "dataset_data", "get");
          if (!p) return;
          auto d = datasets.get(p->id, req.matches[2]);
          if (!d.ok()) return h->send_error(res, d.status());
          auto path = datasets.file_path(*d, req.matches[3]);
          if (!path.ok()) return h->send_error(res, path.status());
          auto data = read_file(*path);
          if (!data.ok()) return h->send_error(res, data.status());
          res.set_content(std::move(*data), "application/octet-stream");
        });

  // ---- jobs ----
  h->on("POST", pr + "/jobs", pl + "/jobs",
        [h, &store, &datasets, runner, unavailable = services.jobs_unavailable](
            const httplib::Request& req, httplib::Response& res) {
          auto p = guard(h, req, res, "job", "create");
          if (!p) return;
          auto body = h->body_object(req);
          if (!body.ok()) return h->send_error(res, body.status());
          if (!unavailable.empty()) return h->send_error(res, Status::unavailable(unavailable));
          auto spec = jobs::parse_job_request(*body);
          if (!spec.ok()) return h->send_error(res, spec.status());
          for (const auto& name : spec->datasets) {
            auto d = datasets.get(p->id, name);
            if (!d.ok()) {
              return h->send_error(
                  res, Status::invalid_argument("field 'datasets': dataset '" + name +
                                                "' does not exist in project " + p->name));
            }
            if (spec->kind == "devenv") {
              if (Status s = jobs::devenv_may_mount(*d); !s.ok()) {
                return h->send_error(res, Status(s.code(), "field 'datasets': " + s.message()));
              }
            }
          }
          const auto& me = h->principal();
          auto j = store.create(p->id, p->name, me.user_id, me.username, *spec, me.username);
          if (!j.ok()) return h->send_error(res, j.status());
          if (runner) runner->wake();
          h->send_json(res, 201, j->to_json());
        });
  h->on("GET", pr + "/jobs", pl + "/jobs",
        [h, &store](const httplib::Request& req, httplib::Response& res) {
          auto p = guard(h, req, res, "job", "list");
          if (!p) return;
          jobs::ListFilter f;
          f.state = req.get_param_value("state");
          f.kind = req.get_param_value("kind");
          f.user = req.get_param_value("user");
          auto size = int_param(req, "page_size", 1, 1000, 100);
          auto token = int_param(req, "page_token", 1, INT64_MAX, 0);
          if (!size.ok()) return h->send_error(res, size.status());
          if (!token.ok()) return h->send_error(res, token.status());
          f.limit = static_cast<int>(*size);
          f.before_seq = *token;
          auto list = store.list(p->id, f);
          if (!list.ok()) return h->send_error(res, list.status());
          Json items = Json::array();
          for (const auto& j : *list) items.push_back(j.to_json());
          Json next = list->size() == static_cast<size_t>(f.limit) && !list->empty()
                          ? Json(std::to_string(list->back().seq))
                          : Json(nullptr);
          h->send_json(res, 200, {{"items", items}, {"next_page_token", next}});
        });
  const std::string jp = pr + "/jobs/" + job_id;
  const std::string jl = pl + "/jobs/{id}";
  auto job_of = [h, &store](const httplib::Request& req, const char* verb,
                            jobs::Job& out) -> Status {
    JZ_ASSIGN_OR_RETURN(iam::Project p, h->project_of(req));
    JZ_RETURN_IF_ERROR(h->allow("job", verb, p.workspace_id, &p));
    JZ_ASSIGN_OR_RETURN(out, store.get_in(p.id, req.matches[2]));
    return {};
  };
  h->on("GET", jp, jl, [h, job_of](const httplib::Request& req, httplib::Response& res) {
    jobs::Job j;
    if (Status s = job_of(req, "get", j); !s.ok()) return h->send_error(res, s);
    h->send_json(res, 200, j.to_json());
  });
  h->on("GET", jp + "/events", jl + "/events",
        [h, job_of, &store](const httplib::Request& req, httplib::Response& res) {
          jobs::Job j;
          if (Status s = job_of(req, "get", j); !s.ok()) return h->send_error(res, s);
          auto events = store.history(j.id);
          if (!events.ok()) return h->send_error(res, events.status());
          Json items = Json::array();
          for (const auto& e : *events) items.push_back(e.to_json());
          h->send_json(res, 200, {{"items", items}, {"next_page_token", nullptr}});
        });
  h->on("POST", jp + "/cancel", jl + "/cancel",
        [h, &store, runner](const httplib::Request& req, httplib::Response& res) {
          auto p = guard(h, req, res, "job", "cancel");
          if (!p) return;
          if (Status s = store.request_cancel(p->id, req.matches[2], h->principal().username);
              !s.ok()) {
            return h->send_error(res, s);
          }
          if (runner) runner->wake();
          auto j = store.get(req.matches[2]);
          if (!j.ok()) return h->send_error(res, j.status());
          h->send_json(res, 202, j->to_json());
        });
  h->on("POST", jp + "/retry", jl + "/retry",
        [h, &store, runner](const httplib::Request& req, httplib::Response& res) {
          auto p = guard(h, req, res, "job", "create");
          if (!p) return;
          auto j = store.retry(p->id, req.matches[2], h->principal().username);
          if (!j.ok()) return h->send_error(res, j.status());
          if (runner) runner->wake();
          h->send_json(res, 201, j->to_json());
        });

  // ---- per-project job settings ----
  h->on("GET", pr + "/job-settings", pl + "/job-settings",
        [h, &store](const httplib::Request& req, httplib::Response& res) {
          auto p = guard(h, req, res, "project", "get");
          if (!p) return;
          auto s = store.settings(p->id);
          if (!s.ok()) return h->send_error(res, s.status());
          h->send_json(res, 200, s->to_json());
        });
  h->on(
      "PUT", pr + "/job-settings", pl + "/job-settings",
      [h, &store](const httplib::Request& req, httplib::Response& res) {
        auto p = guard(h, req, res, "project", "update");
        if (!p) return;
        auto body = h->body_object(req);
        if (!body.ok()) return h->send_error(res, body.status());
        auto current = store.settings(p->id);
        if (!current.ok()) return h->send_error(res, current.status());
        jobs::JobSettings s = *current;
        for (const auto& [k, v] : body->items()) {
          if (k == "allow_egress") {
            if (!v.is_boolean()) {
              return h->send_error(
                  res, Status::invalid_argument("field 'allow_egress' must be a boolean"));
            }
            // Letting jobs reach the network is the platform's decision.
            if (v.get<bool>() && !s.allow_egress && !h->principal().is_platform_admin()) {
              return h->send_error(res, Status::permission_denied(
                                            "only a platform-admin may let a project's jobs reach "
                                            "the network (allow_egress)"));
            }
            s.allow_egress = v.get<bool>();
          } else if (k == "devenv_idle_s" || k == "devenv_gpu_idle_percent") {
            const int64_t hi = k == "devenv_idle_s" ? 366LL * 24 * 3600 : 100;
            if (!v.is_number_integer() || v.get<int64_t>() < 1 || v.get<int64_t>() > hi) {
              return h->send_error(
                  res, Status::invalid_argument("field '" + k + "' must be an integer from 1 to " +
                                                std::to_string(hi)));
            }
            (k == "devenv_idle_s" ? s.devenv_idle_s : s.devenv_gpu_idle_percent) = v.get<int64_t>();
          } else {
            return h->send_error(
                res, Status::invalid_argument("field '" + k +
                                              "' is unknown; job settings are allow_egress, "
                                              "devenv_idle_s, devenv_gpu_idle_percent"));
          }
        }
        if (Status w = store.set_settings(p->id, s); !w.ok()) return h->send_error(res, w);
        h->send_json(res, 200, s.to_json());
      });

  h->on("GET", "/api/v1/nodes", "/api/v1/nodes",
        [h, runner](const httplib::Request&, httplib::Response& res) {
          if (!runner) return h->send_json(res, 200, {{"items", Json::array()}});
          h->send_json(res, 200, runner->nodes_json());
        });

  // ---- dev environments ----
  auto proxy = [h, &store, runner](const httplib::Request& req, httplib::Response& res) {
    auto j = store.get(req.matches[1]);
    if (!j.ok()) return h->send_error(res, j.status());
    auto p = h->project_named(j->project);
    if (!p.ok()) return h->send_error(res, p.status());
    // Not a member: the environment looks missing.
    if (!h->allow("job", "get", p->workspace_id, &*p).ok()) {
      return h->send_error(res, Status::not_found("job '" + j->id + "' does not exist"));
    }
    // An environment is its owner's: other members (viewers, developers, tokens of other
    // users) may see that it exists, not use it. Project admins may, and each of their
    // requests is audited.
    if (j->user_id != h->principal().user_id) {
      if (Status s = h->allow("project", "update", p->workspace_id, &*p); !s.ok()) {
        return h->send_error(res, Status::permission_denied(
                                      "dev environment " + j->id + " belongs to " + j->username +
                                      "; only its owner and project admins may reach it"));
      }
      h->audit_request("proxy", j->id);
    }
    if (j->kind != "devenv") {
      return h->send_error(res,
                           Status::invalid_argument("job " + j->id + " is not a dev environment"));
    }
    if (j->state != "running" || !runner) {
      return h->send_error(res, Status::failed_precondition(
                                    "dev environment " + j->id + " is " + j->state +
                                    (j->state == "cancelled" ? "; retry it to resume" : "")));
    }
    runner->touch(j->id);
    std::string target = req.target.substr(std::string("/devenvs/").size() + j->id.size());
    if (target.empty()) target = "/";
    auto r = forward(runner->executor().network_namespace(j->id), j->spec.port, req, target);
    if (!r) {
      return h->send_error(
          res, Status::unavailable("dev environment " + j->id + " does not answer on port " +
                                   std::to_string(j->spec.port) + " (" +
                                   httplib::to_string(r.error()) + ")"));
    }
    res.status = r->status;
    for (const auto& [k, v] : r->headers) {
      if (k == "Content-Length" || k == "Transfer-Encoding" || k == "Connection") continue;
      res.set_header(k.c_str(), v);
    }
    res.body = r->body;
  };
  for (const char* m : {"GET", "POST", "PUT", "DELETE"}) {
    h->on(m, "/devenvs/" + job_id + "(/.*)?", "/devenvs/{id}", proxy);
  }
}

}  // namespace jz::api
