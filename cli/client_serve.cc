#include "cli/client_serve.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>
#include <tuple>

#include "cli/client.h"
#include "cli/client_install.h"
#include "core/clock.h"
#include "core/files.h"
#include "core/hash.h"
#include "core/random.h"
#include "sdk/host.h"
#include "sdk/licence.h"
#include "sdk/media.h"
#include "sdk/runtime.h"
#include "sdk/serve.h"
#include "sdk/serve_plan.h"

namespace jz::cli {
namespace {

namespace fs = std::filesystem;
using std::chrono::steady_clock;

constexpr char kCmd[] = "jizhan client serve";
std::atomic<bool> g_stop{false};

void say(const std::string& line) {
  static std::mutex mu;
  std::lock_guard<std::mutex> lock(mu);
  std::cerr << kCmd << ": " << line << "\n" << std::flush;
}

// Sleeps `d`, or less when serving stops.
void nap(std::chrono::milliseconds d, const std::atomic<bool>& also) {
  const auto until = steady_clock::now() + d;
  while (!g_stop && !also && steady_clock::now() < until) {
    std::this_thread::sleep_for(std::min<steady_clock::duration>(std::chrono::milliseconds(100),
                                                                 until - steady_clock::now()));
  }
}

// One licence's frames a second, shared by the calls that use it: each waits its turn.
class Pacer {
 public:
  explicit Pacer(double qps) : qps_(qps) {}
  void wait() {
    if (qps_ <= 0) return;
    steady_clock::time_point due;
    {
      std::lock_guard<std::mutex> lock(mu_);
      due = std::max(steady_clock::now(), next_);
      next_ = due + std::chrono::duration_cast<steady_clock::duration>(
                        std::chrono::duration<double>(1.0 / qps_));
    }
    std::this_thread::sleep_until(due);
  }

 private:
  double qps_;
  std::mutex mu_;
  steady_clock::time_point next_{};
};

// An installed algorithm this serve uses: its package, licence and usage.
struct Served {
  std::string name;
  Json record;  // install.json
  sdk::OpenedAlgorithm algo;
  Clock::WallTime valid_until{};
  std::string licence_id;
  int channels = 0;  // held by this serve
  int source_count = 0;
  std::unique_ptr<Pacer> pacer;  // the sources' share of the licence's rate
  std::vector<std::unique_ptr<sdk::AlgoServer>> servers;
  std::atomic<int64_t> frames{0};  // analysed by the sources
  int64_t reported = 0;            // frames already in a report
  Clock::WallTime reported_to{};
  std::atomic<bool> stopped{false};  // its licence ended
  bool warned_grace = false;
  steady_clock::time_point next_renewal{};
  std::string last_renewal_error;

  int64_t total_frames() const {
    int64_t n = frames.load();
    for (const auto& s : servers) n += s->frames();
    return n;
  }
};

struct SourceOutcome {
  int64_t frames = 0, errors = 0;
  std::string failure;  // why it stopped for good; empty: it ran to its end or was stopped
};

struct Context {
  std::string output, host_binary;
  std::chrono::milliseconds timeout{10000};
  int64_t memory_mb = 0;
  bool sandbox = true;
};

sdk::HostOptions host_options(const Served& a, const std::string& config_json, const Context& c) {
  sdk::HostOptions ho;
  ho.library = a.algo.library;
  ho.package_dir = a.algo.package_dir;
  ho.config_json = config_json;
  ho.host_binary = c.host_binary;
  ho.timeout = c.timeout;
  ho.memory_limit_mb = c.memory_mb;
  ho.sandbox.enabled = c.sandbox;
  return ho;
}

void run_source(const sdk::PlanSource& s, Served& a, const Context& c, SourceOutcome& out) {
  auto config = a.algo.config(s.config);
  if (!config.ok()) {
    out.failure = config.status().message();
    return;
  }
  auto host = sdk::IsolatedAlgo::start(host_options(a, *config, c));
  if (!host.ok()) {
    out.failure = "cannot start " + a.name + ": " + host.status().message();
    return;
  }
  const std::string file = c.output + "/" + s.name + ".jsonl";
  std::ofstream results(file, std::ios::app);
  if (!results) {
    out.failure = "cannot write " + file;
    return;
  }
  const bool stream = sdk::is_stream_url(s.input);
  auto backoff = std::chrono::milliseconds(1000);
  std::string last_error;
  while (!g_stop && !a.stopped) {
    sdk::InputOptions io;
    io.input = s.input;
    io.fps = s.fps;
    io.max_frames = s.max_frames > 0 ? s.max_frames - out.frames : 0;
    auto source = sdk::FrameSource::open(io);
    if (!source.ok()) {
      if (!stream) {
        out.failure = source.status().message();
        return;
      }
      if (source.status().message() != last_error) {
        last_error = source.status().message();
        say("source " + s.name + ": " + last_error + "; retrying every " +
            format_duration(backoff) + " up to 30s");
      }
      nap(backoff, a.stopped);
      backoff = std::min(backoff * 2, std::chrono::milliseconds(30000));
      continue;
    }
    if (!last_error.empty()) say("source " + s.name + ": connected to " + s.input);
    last_error.clear();
    backoff = std::chrono::milliseconds(1000);
    (*source)->decode_into((*host)->frame_buffer(), (*host)->frame_buffer_bytes());
    sdk::Frame f;
    while (!g_stop && !a.stopped && (*source)->next(f)) {
      nlohmann::ordered_json line = {{"source", s.name},
                                     {"algorithm", a.name},
                                     {"frame", f.index},
                                     {"timestamp_ms", f.timestamp_us / 1000.0},
                                     {"time", format_rfc3339(SystemClock().now())}};
      Status err;
      if (!f.error.empty()) {
        err = Status::invalid_argument(f.error);
      } else {
        a.pacer->wait();
        auto r = (*host)->process({f.view()}, s.args);
        a.frames.fetch_add(1);
        if (r.ok()) {
          Json j = Json::parse(*r, nullptr, false);
          line["result"] = j.is_discarded() ? Json(*r) : j;
        } else {
          err = r.status();
        }
      }
      ++out.frames;
      if (!err.ok()) {
        ++out.errors;
        line["error"] = {{"code", std::string(code_name(err.code()))}, {"message", err.message()}};
      }
      results << line.dump() << "\n" << std::flush;
    }
    if (!stream || (s.max_frames > 0 && out.frames >= s.max_frames)) break;
    if (!g_stop && !a.stopped) {
      say("source " + s.name + ": the stream ended after " + std::to_string(out.frames) +
          " frames; reopening");
      nap(backoff, a.stopped);
    }
  }
  if (!results.flush()) out.failure = "cannot write " + file;
}

// Usage reports waiting for the store, one JSON line each: {"algorithm", "report"}.
class UsageQueue {
 public:
  explicit UsageQueue(const Install& in) : in_(in), path_(in.dir + "/usage/queue.jsonl") {
    std::error_code ec;
    fs::create_directories(in.dir + "/usage", ec);
  }

  void add(const std::string& algorithm, const Json& report) {
    auto lock = locked();
    std::ofstream f(path_, std::ios::app);
    f << Json{{"algorithm", algorithm}, {"report", report}}.dump() << "\n";
    if (!f.flush()) say("usage: cannot write " + path_ + "; this report is lost");
  }

  // Sends what waits, at most 1000 reports a request. What the store took, and what it
  // refused as wrong (it would refuse it again), leaves the queue; the rest waits.
  void send() {
    auto lock = locked();
    auto text = read_file(path_);
    if (!text.ok() || text->empty()) return;
    std::map<std::string, std::vector<Json>> by_algorithm;
    std::istringstream lines(*text);
    for (std::string l; std::getline(lines, l);) {
      Json j = Json::parse(l, nullptr, false);
      if (j.is_object() && j.contains("report")) {
        by_algorithm[json::string_or(j, "algorithm")].push_back(j);
      }
    }
    std::vector<Json> keep;
    size_t sent = 0;
    for (auto& [name, items] : by_algorithm) {
      auto record = read_install(in_, name);
      const std::string server = record.ok() ? json::string_or(*record, "server") : "";
      if (server.empty()) {  // installed offline, or removed: the reports wait
        keep.insert(keep.end(), items.begin(), items.end());
        continue;
      }
      for (size_t at = 0; at < items.size(); at += 1000) {
        const size_t end = std::min(items.size(), at + 1000);
        Json reports = Json::array();
        for (size_t i = at; i < end; ++i) reports.push_back(items[i]["report"]);
        const Json body = {{"code", json::string_or(*record, "code")},
                           {"fingerprint", in_.fingerprint},
                           {"licence", json::string_or(*record, "licence_id")},
                           {"reports", reports}};
        auto r = ApiClient(server, "").call("POST", "/api/v1/store/usage", &body);
        if (r.ok()) {
          sent += end - at;
          continue;
        }
        if (r.status().code() == Code::kInvalidArgument ||
            r.status().code() == Code::kPermissionDenied) {
          say("usage: the store refused " + std::to_string(end - at) + " report(s) of " + name +
              ": " + r.status().message() + "; they are dropped");
          continue;
        }
        if (r.status().message() != last_error_) {
          last_error_ = r.status().message();
          say("usage: reports of " + name + " wait in " + path_ + " until the store answers (" +
              last_error_ + ")");
        }
        keep.insert(keep.end(), items.begin() + static_cast<ptrdiff_t>(at), items.end());
        break;
      }
    }
    if (sent > 0 && !last_error_.empty()) {
      say("usage: the store answers again; " + std::to_string(sent) + " queued report(s) sent");
      last_error_.clear();
    }
    // At most 100,000 wait; beyond that the oldest go.
    const size_t cap = 100'000;
    if (keep.size() > cap) {
      say("usage: over " + std::to_string(cap) + " reports wait; the oldest " +
          std::to_string(keep.size() - cap) + " are dropped");
      keep.erase(keep.begin(), keep.end() - static_cast<ptrdiff_t>(cap));
    }
    std::string rest;
    for (const auto& k : keep) rest += k.dump() + "\n";
    if (Status s = write_file(path_, rest, 0600); !s.ok()) say("usage: " + s.message());
  }

 private:
  // Other serves of this install share the queue: one at a time.
  std::shared_ptr<void> locked() {
    int fd = ::open((path_ + ".lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd >= 0) ::flock(fd, LOCK_EX);
    return {nullptr, [fd](void*) {
              if (fd >= 0) ::close(fd);
            }};
  }

  const Install& in_;
  std::string path_;
  std::string last_error_;
};

// Queues a report of what each algorithm did since its last one.
void report_usage(std::vector<std::unique_ptr<Served>>& served, UsageQueue& queue) {
  const auto now = SystemClock().now();
  for (auto& a : served) {
    const int64_t total = a->total_frames();
    if (total == a->reported) {
      a->reported_to = now;
      continue;
    }
    const Json report = {{"id", a->licence_id + "-" + random_hex(SecureRandom::instance(), 8)},
                         {"from", format_rfc3339(a->reported_to)},
                         {"to", format_rfc3339(now)},
                         {"frames", total - a->reported},
                         {"channels", a->channels},
                         {"algorithm", a->name}};
    queue.add(a->name, report);
    a->reported = total;
    a->reported_to = now;
  }
  queue.send();
}

// Opens an installed algorithm for `channels` channels: the package as installed, signed by
// the publisher pinned at install, with a licence for this machine (or in its grace period).
Result<std::unique_ptr<Served>> open_served(const Install& in, const std::string& name,
                                            int channels, std::chrono::milliseconds grace) {
  auto a = std::make_unique<Served>();
  a->name = name;
  JZ_ASSIGN_OR_RETURN(a->record, read_install(in, name));
  auto sha = sha256_file(in.package(name));
  if (!sha.ok() || *sha != json::string_or(a->record, "sha256")) {
    return Status::permission_denied(name +
                                     ": the package changed since it was installed (swapped or "
                                     "damaged): run `jizhan client update` to install it again");
  }
  if (!a->record.contains("publisher") || !a->record["publisher"].is_object()) {
    return Status::failed_precondition(name + ": install.json names no publisher; install again");
  }
  JZ_ASSIGN_OR_RETURN(sdk::PublicKey publisher,
                      sdk::parse_public_key(a->record["publisher"].dump()));
  sdk::OpenOptions oo;
  oo.package = in.package(name);
  oo.trusted_keys = {publisher};
  oo.channels = channels;
  oo.licence_dir = in.licences();
  oo.machine = in.fingerprint;
  oo.require_licence = true;
  oo.licence_grace = std::chrono::duration_cast<std::chrono::seconds>(grace);
  auto algo = sdk::open_algorithm(oo);
  if (!algo.ok()) return Status(algo.status().code(), name + ": " + algo.status().message());
  a->algo = std::move(*algo);
  if (!a->algo.publisher || a->algo.publisher->key_id != publisher.key_id) {
    return Status::permission_denied(name +
                                     ": the package is not signed by the publisher it "
                                     "was installed from");
  }
  a->valid_until = a->algo.licence->valid_until;
  a->licence_id = a->algo.licence->id;
  a->channels = channels;
  return a;
}

// Renews online when the licence nears its end; stops the algorithm when the licence and
// its grace period have ended. Returns false once the algorithm is stopped.
bool keep_licence(const Install& in, Served& a, const sdk::ServePlan& plan) {
  if (a.stopped) return false;
  const auto now = SystemClock().now();
  const std::string server = json::string_or(a.record, "server");
  if (!server.empty() && now + plan.renew_before >= a.valid_until &&
      steady_clock::now() >= a.next_renewal) {
    a.next_renewal = steady_clock::now() + std::chrono::minutes(15);
    auto r = activate_online(in, server, json::string_or(a.record, "code"));
    if (r.ok()) {
      auto until = parse_rfc3339(json::string_or(*r, "valid_until"));
      if (until.ok()) a.valid_until = *until;
      a.licence_id = json::string_or(*r, "licence_id", a.licence_id);
      const std::string version = json::string_or(*r, "version");
      say(a.name + ": licence renewed until " + format_rfc3339(a.valid_until) +
          (version != json::string_or(a.record, "version")
               ? "; version " + version + " is installed and runs from the next start"
               : ""));
      a.record = *r;
      a.last_renewal_error.clear();
      a.warned_grace = false;
    } else if (r.status().message() != a.last_renewal_error) {
      a.last_renewal_error = r.status().message();
      say(a.name + ": the licence could not be renewed: " + a.last_renewal_error +
          "; it holds until " + format_rfc3339(a.valid_until) + " (then a grace period of " +
          format_duration(plan.grace) + "); trying again every 15m");
    }
  }
  if (now >= a.valid_until + plan.grace) {
    say(a.name + ": licence " + a.licence_id + " expired on " + format_rfc3339(a.valid_until) +
        " and its grace period of " + format_duration(plan.grace) + " ended on " +
        format_rfc3339(a.valid_until + plan.grace) + ": " + a.name +
        " stopped. Renew it (`jizhan client update`) or ask the seller for a new code");
    a.stopped = true;
    for (auto& s : a.servers) s->shutdown();
    return false;
  }
  if (now >= a.valid_until && !a.warned_grace) {
    a.warned_grace = true;
    say(a.name + ": licence " + a.licence_id + " expired on " + format_rfc3339(a.valid_until) +
        "; serving on in its grace period until " + format_rfc3339(a.valid_until + plan.grace) +
        " (`jizhan client update` renews it)");
  }
  return true;
}

int bad(const Status& s) {
  std::cerr << kCmd << ": " << s.message() << "\n";
  return s.code() == Code::kInvalidArgument ? 2 : 1;
}

Result<sdk::ServePlan> make_plan(const ClientServeFlags& f) {
  sdk::ServePlan plan;
  if (!f.config.empty()) {
    JZ_ASSIGN_OR_RETURN(std::string text, read_file(f.config));
    auto p = sdk::parse_serve_plan(text);
    if (!p.ok()) return Status::invalid_argument(f.config + ": " + p.status().message());
    plan = std::move(*p);
  }
  const size_t from_flags = plan.sources.size();
  for (const auto& s : f.sources) JZ_RETURN_IF_ERROR(sdk::add_source_flag(plan, s));
  for (size_t i = from_flags; i < plan.sources.size(); ++i) {
    plan.sources[i].fps = f.fps;
    plan.sources[i].max_frames = f.max_frames;
  }
  for (const auto& e : f.endpoints) JZ_RETURN_IF_ERROR(sdk::add_endpoint_flag(plan, e));
  if (!f.out.empty()) plan.output = f.out;
  for (auto [text, dest, flag] :
       {std::tuple{&f.grace, &plan.grace, "--grace"},
        std::tuple{&f.report_interval, &plan.report_interval, "--report-interval"},
        std::tuple{&f.renew_before, &plan.renew_before, "--renew-before"}}) {
    if (text->empty()) continue;
    auto d = sdk::parse_plan_duration(*text, dest == &plan.grace);
    if (!d.ok()) return Status::invalid_argument(std::string(flag) + ": " + d.status().message());
    *dest = *d;
  }
  JZ_RETURN_IF_ERROR(sdk::finish_serve_plan(plan));
  return plan;
}

}  // namespace

int client_serve(const ClientServeFlags& flags) {
  auto plan = make_plan(flags);
  if (!plan.ok()) return bad(plan.status());
  auto timeout = parse_duration(flags.timeout);
  if (!timeout.ok())
    return bad(Status::invalid_argument("--timeout: " + timeout.status().message()));
  auto in = open_install(flags.dir.empty() ? default_client_dir() : flags.dir);
  if (!in.ok()) return bad(in.status());

  // Each algorithm once, holding a channel per source and endpoint instance.
  std::map<std::string, int> wanted, sources_of;
  for (const auto& s : plan->sources) {
    ++wanted[s.algorithm];
    ++sources_of[s.algorithm];
  }
  for (const auto& e : plan->endpoints) wanted[e.algorithm] += e.instances;
  std::vector<std::unique_ptr<Served>> served;
  std::map<std::string, Served*> by_name;
  for (const auto& [name, channels] : wanted) {
    auto a = open_served(*in, name, channels, plan->grace);
    if (!a.ok()) return bad(a.status());
    const double qps = (*a)->algo.licence->qps;
    (*a)->source_count = sources_of[name];
    (*a)->pacer = std::make_unique<Pacer>(qps * sources_of[name] / channels);
    (*a)->reported_to = SystemClock().now();
    by_name[name] = a->get();
    served.push_back(std::move(*a));
  }
  Context ctx;
  ctx.output = plan->output.empty() ? in->dir + "/results" : plan->output;
  ctx.host_binary = self_executable().empty() ? "jizhan" : self_executable();
  ctx.timeout = *timeout;
  ctx.memory_mb = flags.memory_mb;
  ctx.sandbox = !flags.no_sandbox;
  std::error_code ec;
  fs::create_directories(ctx.output, ec);
  if (ec)
    return bad(Status::failed_precondition("cannot create " + ctx.output + ": " + ec.message()));

  g_stop = false;
  auto old_int = std::signal(SIGINT, [](int) { g_stop = true; });
  auto old_term = std::signal(SIGTERM, [](int) { g_stop = true; });
  struct Restore {
    decltype(old_int) i, t;
    ~Restore() {
      std::signal(SIGINT, i);
      std::signal(SIGTERM, t);
    }
  } restore{old_int, old_term};

  for (const auto& e : plan->endpoints) {
    Served& a = *by_name.at(e.algorithm);
    sdk::ServeOptions so;
    so.http_address = e.http;
    so.grpc_address = e.grpc;
    so.instances = e.instances;
    if (!e.token_file.empty()) {
      auto t = read_file(e.token_file);
      if (!t.ok()) return bad(t.status());
      so.token = *t;
      while (!so.token.empty() && std::isspace(static_cast<unsigned char>(so.token.back()))) {
        so.token.pop_back();
      }
    }
    auto config = a.algo.config(e.config);
    if (!config.ok()) return bad(config.status());
    so.host = host_options(a, *config, ctx);
    if (a.algo.manifest) so.manifest_json = a.algo.manifest->to_json().dump();
    so.qps = a.algo.licence->qps * e.instances / a.channels;
    auto server = sdk::AlgoServer::start(so);
    if (!server.ok())
      return bad(Status(server.status().code(), e.algorithm + ": " + server.status().message()));
    std::string where;
    if ((*server)->http_port()) where += " HTTP port " + std::to_string((*server)->http_port());
    if ((*server)->grpc_port()) where += " gRPC port " + std::to_string((*server)->grpc_port());
    say("serving " + e.algorithm + " on" + where);
    a.servers.push_back(std::move(*server));
  }

  std::vector<SourceOutcome> outcomes(plan->sources.size());
  std::vector<std::thread> threads;
  std::atomic<size_t> running{plan->sources.size()};
  for (size_t i = 0; i < plan->sources.size(); ++i) {
    const auto& s = plan->sources[i];
    say("source " + s.name + ": " + s.algorithm + " on " + s.input + " -> " + ctx.output + "/" +
        s.name + ".jsonl");
    threads.emplace_back([&, i] {
      run_source(plan->sources[i], *by_name.at(plan->sources[i].algorithm), ctx, outcomes[i]);
      if (!outcomes[i].failure.empty()) {
        say("source " + plan->sources[i].name + ": stopped: " + outcomes[i].failure);
      }
      running.fetch_sub(1);
    });
  }

  UsageQueue queue(*in);
  queue.send();  // what an earlier run left
  auto next_report = steady_clock::now() + plan->report_interval;
  bool licence_ended = false;
  while (!g_stop) {
    bool any_alive = false;
    for (auto& a : served) {
      if (keep_licence(*in, *a, *plan)) {
        any_alive = true;
      } else {
        licence_ended = true;
      }
    }
    if (!any_alive) break;
    if (plan->endpoints.empty() && running.load() == 0) break;
    if (steady_clock::now() >= next_report) {
      report_usage(served, queue);
      next_report = steady_clock::now() + plan->report_interval;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  const bool signalled = g_stop;
  g_stop = true;
  for (auto& t : threads) t.join();
  for (auto& a : served) {
    for (auto& s : a->servers) s->shutdown();
  }
  report_usage(served, queue);

  bool failed = licence_ended;
  for (size_t i = 0; i < plan->sources.size(); ++i) {
    const auto& o = outcomes[i];
    say("source " + plan->sources[i].name + ": " + std::to_string(o.frames) + " frames, " +
        std::to_string(o.errors) + " errors" + (o.failure.empty() ? "" : "; failed: " + o.failure));
    if (!o.failure.empty()) failed = true;
  }
  for (const auto& a : served) {
    say(a->name + ": " + std::to_string(a->total_frames()) + " frames analysed" +
        (signalled ? " (stopped)" : ""));
  }
  return failed ? 1 : 0;
}

}  // namespace jz::cli
