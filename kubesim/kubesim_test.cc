// The Kubernetes API test server against the API's conventions, over real HTTP.
#include "kubesim/kubesim.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <thread>

#include "core/json.h"
#include "kubesim/quantity.h"

namespace jz::kubesim {
namespace {

using namespace std::chrono_literals;

struct Sim {
  std::unique_ptr<KubeSim> sim;
  std::unique_ptr<httplib::Client> http;
  explicit Sim(Options o = {}) {
    if (o.nodes.empty()) {
      o.nodes.push_back(
          {.name = "n1", .cpu_milli = 4000, .memory_mib = 8192, .gpus = 2, .gpu_product = "A100"});
      o.nodes.push_back({.name = "n2", .cpu_milli = 4000, .memory_mib = 8192});
    }
    o.bookmark_interval = 200ms;
    auto s = KubeSim::start(o);
    EXPECT_TRUE(s.ok()) << s.status().to_string();
    sim = std::move(*s);
    http = std::make_unique<httplib::Client>("127.0.0.1", sim->port());
    http->set_read_timeout(30, 0);
  }
  std::pair<int, Json> call(const std::string& method, const std::string& path,
                            const Json& body = nullptr,
                            const std::string& type = "application/json",
                            const httplib::Headers& h = {}) {
    const std::string b = body.is_null() ? "" : body.dump();
    auto send = [&]() -> httplib::Result {
      if (method == "POST") return http->Post(path, h, b, type);
      if (method == "PUT") return http->Put(path, h, b, type);
      if (method == "PATCH") return http->Patch(path, h, b, type);
      if (method == "DELETE") return http->Delete(path, h, b, type);
      return http->Get(path, h);
    };
    auto r = send();
    if (!r) return {0, nullptr};
    auto j = Json::parse(r->body, nullptr, false);
    return {r->status, j.is_discarded() ? Json(r->body) : j};
  }
  // Waits until `pred` holds for the object (or fails after 20 s).
  Json wait_for(const std::string& res, const std::string& ns, const std::string& name,
                const std::function<bool(const Json&)>& pred) {
    for (int i = 0; i < 2000; ++i) {
      Json o = sim->get(res, ns, name);
      if (pred(o)) return o;
      std::this_thread::sleep_for(10ms);
    }
    ADD_FAILURE() << "timed out waiting on " << res << " " << name << ": "
                  << sim->get(res, ns, name).dump();
    return nullptr;
  }
};

Json job(const std::string& name, const std::vector<std::string>& command, Json extra = {}) {
  Json j = {
      {"apiVersion", "batch/v1"},
      {"kind", "Job"},
      {"metadata", {{"name", name}, {"labels", {{"app", "t"}}}}},
      {"spec",
       {{"backoffLimit", 0},
        {"template",
         {{"spec",
           {{"restartPolicy", "Never"},
            {"containers",
             Json::array({{{"name", "main"}, {"image", "busybox"}, {"command", command}}})}}}}}}}};
  if (!extra.is_null()) j.merge_patch(extra);
  return j;
}

bool job_condition(const Json& j, const std::string& type) {
  if (!j.is_object() || !j.contains("status") || !j["status"].contains("conditions")) return false;
  for (const auto& c : j["status"]["conditions"]) {
    if (c["type"] == type && c["status"] == "True") return true;
  }
  return false;
}

std::vector<Json> pods_of(Sim& s, const std::string& job_name) {
  std::vector<Json> out;
  for (const auto& p : s.sim->list("pods", "default")) {
    if (p["metadata"]["labels"].value("job-name", "") == job_name) out.push_back(p);
  }
  return out;
}

TEST(Quantity, ParsesTheApiForms) {
  EXPECT_EQ(*parse_quantity_milli("500m"), 500);
  EXPECT_EQ(*parse_quantity_milli("2"), 2000);
  EXPECT_EQ(*parse_quantity_milli("1.5"), 1500);
  EXPECT_EQ(*parse_quantity_milli("1Ki"), 1024000);
  EXPECT_EQ(*parse_quantity_milli("1Gi"), int64_t{1} << 30 == 0 ? 0 : (int64_t{1} << 30) * 1000);
  EXPECT_EQ(*parse_quantity_milli("2G"), int64_t{2000000000} * 1000);
  EXPECT_EQ(*parse_quantity_milli("1e3"), 1000000);
  for (const char* bad : {"", "-1", "1.2.3", "abc", "5Q", "1e", "9999999999999999999999Ei"}) {
    EXPECT_FALSE(parse_quantity_milli(bad).ok()) << bad;
  }
}

TEST(Selectors, LabelAndFieldSelectors) {
  Json labels = {{"app", "web"}, {"tier", "front"}};
  auto sel = [](const char* s) { return *Selector::parse(s); };
  EXPECT_TRUE(sel("app=web").matches(labels));
  EXPECT_TRUE(sel("app==web,tier").matches(labels));
  EXPECT_FALSE(sel("app!=web").matches(labels));
  EXPECT_TRUE(sel("app in (db, web)").matches(labels));
  EXPECT_FALSE(sel("tier notin (front)").matches(labels));
  EXPECT_TRUE(sel("!gone").matches(labels));
  EXPECT_FALSE(sel("gone").matches(labels));
  EXPECT_FALSE(Selector::parse("app in (x").ok());
  EXPECT_FALSE(Selector::parse("a b=c").ok());
  EXPECT_FALSE(Selector::parse("x in ()").ok());
  auto f = FieldSelector::parse("spec.nodeName=n1,status.phase!=Failed");
  ASSERT_TRUE(f.ok());
  EXPECT_TRUE(f->matches({{"spec", {{"nodeName", "n1"}}}, {"status", {{"phase", "Running"}}}}));
  EXPECT_FALSE(f->matches({{"spec", {{"nodeName", "n1"}}}, {"status", {{"phase", "Failed"}}}}));
  EXPECT_FALSE(FieldSelector::parse("spec.secret=x").ok());
}

TEST(KubeSim, ObjectsHaveVersionsAndConflicts) {
  Sim s;
  auto [code, created] = s.call("POST", "/api/v1/namespaces/default/configmaps",
                                {{"apiVersion", "v1"},
                                 {"kind", "ConfigMap"},
                                 {"metadata", {{"name", "c1"}}},
                                 {"data", {{"a", "1"}}}});
  ASSERT_EQ(code, 201) << created.dump();
  EXPECT_FALSE(created["metadata"]["uid"].get<std::string>().empty());
  const std::string rv1 = created["metadata"]["resourceVersion"];
  auto [dup, dup_body] = s.call("POST", "/api/v1/namespaces/default/configmaps", created);
  EXPECT_EQ(dup, 409);
  EXPECT_EQ(dup_body["reason"], "AlreadyExists");
  // An update from the current version passes and moves it; one from the old one conflicts.
  Json next = created;
  next["data"]["a"] = "2";
  auto [ok, updated] = s.call("PUT", "/api/v1/namespaces/default/configmaps/c1", next);
  ASSERT_EQ(ok, 200) << updated.dump();
  EXPECT_GT(std::stoll(updated["metadata"]["resourceVersion"].get<std::string>()), std::stoll(rv1));
  auto [stale, stale_body] = s.call("PUT", "/api/v1/namespaces/default/configmaps/c1", next);
  EXPECT_EQ(stale, 409);
  EXPECT_EQ(stale_body["reason"], "Conflict");
  // A merge patch needs its media type.
  EXPECT_EQ(
      s.call("PATCH", "/api/v1/namespaces/default/configmaps/c1", {{"data", {{"b", "3"}}}}).first,
      415);
  auto [patched, pbody] = s.call("PATCH", "/api/v1/namespaces/default/configmaps/c1",
                                 {{"data", {{"b", "3"}}}}, "application/merge-patch+json");
  EXPECT_EQ(patched, 200);
  EXPECT_EQ(pbody["data"]["b"], "3");
  // Not found, bad names, unknown namespaces.
  EXPECT_EQ(s.call("GET", "/api/v1/namespaces/default/configmaps/none").first, 404);
  EXPECT_EQ(
      s.call("POST", "/api/v1/namespaces/default/configmaps",
             {{"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"metadata", {{"name", "Bad_Name"}}}})
          .first,
      422);
  EXPECT_EQ(s.call("POST", "/api/v1/namespaces/nowhere/configmaps",
                   {{"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"metadata", {{"name", "x"}}}})
                .first,
            404);
  // The list carries the store's version.
  auto [lc, list] = s.call("GET", "/api/v1/namespaces/default/configmaps");
  EXPECT_EQ(lc, 200);
  EXPECT_EQ(list["kind"], "ConfigMapList");
  EXPECT_EQ(std::stoll(list["metadata"]["resourceVersion"].get<std::string>()),
            s.sim->resource_version());
}

// Reads a watch stream line by line until `enough` says stop.
std::vector<Json> watch(Sim& s, const std::string& path,
                        const std::function<bool(const std::vector<Json>&)>& enough) {
  std::vector<Json> events;
  std::string buf;
  s.http->Get(path, [&](const char* data, size_t n) {
    buf.append(data, n);
    size_t nl;
    while ((nl = buf.find('\n')) != std::string::npos) {
      events.push_back(Json::parse(buf.substr(0, nl)));
      buf.erase(0, nl + 1);
    }
    return !enough(events);
  });
  return events;
}

TEST(KubeSim, WatchReplaysFromAVersionSendsBookmarksAndExpires) {
  Sim s;
  const int64_t start = s.sim->resource_version();
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(
        s.call("POST", "/api/v1/namespaces/default/configmaps",
               {{"apiVersion", "v1"},
                {"kind", "ConfigMap"},
                {"metadata",
                 {{"name", "c" + std::to_string(i)}, {"labels", {{"i", std::to_string(i)}}}}}})
            .first,
        201);
  }
  ASSERT_EQ(s.call("DELETE", "/api/v1/namespaces/default/configmaps/c1").first, 200);
  // From the version before: three ADDED and a DELETED in order, then a bookmark.
  auto events = watch(
      s,
      "/api/v1/namespaces/default/configmaps?watch=1&allowWatchBookmarks=true&"
      "resourceVersion=" +
          std::to_string(start),
      [](const std::vector<Json>& e) { return !e.empty() && e.back()["type"] == "BOOKMARK"; });
  ASSERT_EQ(events.size(), 5u);
  EXPECT_EQ(events[0]["type"], "ADDED");
  EXPECT_EQ(events[3]["type"], "DELETED");
  EXPECT_EQ(events[3]["object"]["metadata"]["name"], "c1");
  int64_t prev = start;
  for (int i = 0; i < 4; ++i) {
    const int64_t rv =
        std::stoll(events[i]["object"]["metadata"]["resourceVersion"].get<std::string>());
    EXPECT_GT(rv, prev);
    prev = rv;
  }
  EXPECT_GE(std::stoll(events[4]["object"]["metadata"]["resourceVersion"].get<std::string>()),
            prev);
  // With a label selector only the matching object.
  auto one =
      watch(s,
            "/api/v1/namespaces/default/configmaps?watch=1&labelSelector=i%3D2&resourceVersion=" +
                std::to_string(start) + "&timeoutSeconds=1",
            [](const std::vector<Json>&) { return false; });
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one[0]["object"]["metadata"]["name"], "c2");
  // After compaction the old version is gone: 410 in an ERROR event.
  s.sim->compact();
  auto gone = watch(
      s, "/api/v1/namespaces/default/configmaps?watch=1&resourceVersion=" + std::to_string(start),
      [](const std::vector<Json>&) { return false; });
  ASSERT_EQ(gone.size(), 1u);
  EXPECT_EQ(gone[0]["type"], "ERROR");
  EXPECT_EQ(gone[0]["object"]["code"], 410);
  // From the current version: live events only.
  const int64_t now = s.sim->resource_version();
  std::thread later([&] {
    std::this_thread::sleep_for(100ms);
    httplib::Client c("127.0.0.1", s.sim->port());
    c.Post(
        "/api/v1/namespaces/default/configmaps",
        Json{{"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"metadata", {{"name", "late"}}}}.dump(),
        "application/json");
  });
  auto live = watch(
      s, "/api/v1/namespaces/default/configmaps?watch=1&resourceVersion=" + std::to_string(now),
      [](const std::vector<Json>& e) { return !e.empty(); });
  later.join();
  ASSERT_EQ(live.size(), 1u);
  EXPECT_EQ(live[0]["object"]["metadata"]["name"], "late");
}

TEST(KubeSim, JobRunsItsCommandAndKeepsTheLog) {
  Sim s;
  Json hello = job("hello", {"/bin/sh", "-c", "echo one; echo two >&2; echo node=$MY_NODE"});
  hello["spec"]["template"]["spec"]["containers"][0]["env"] = Json::array(
      {{{"name", "MY_NODE"}, {"valueFrom", {{"fieldRef", {{"fieldPath", "spec.nodeName"}}}}}}});
  auto [code, body] = s.call("POST", "/apis/batch/v1/namespaces/default/jobs", hello);
  ASSERT_EQ(code, 201) << body.dump();
  Json done = s.wait_for("jobs", "default", "hello",
                         [](const Json& j) { return job_condition(j, "Complete"); });
  EXPECT_EQ(done["status"]["succeeded"], 1);
  auto pods = pods_of(s, "hello");
  ASSERT_EQ(pods.size(), 1u);
  const std::string pod = pods[0]["metadata"]["name"];
  EXPECT_EQ(pods[0]["status"]["phase"], "Succeeded");
  EXPECT_EQ(pods[0]["status"]["containerStatuses"][0]["state"]["terminated"]["reason"],
            "Completed");
  auto r = s.http->Get("/api/v1/namespaces/default/pods/" + pod + "/log");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "one\ntwo\nnode=n1\n");
  auto ts = s.http->Get("/api/v1/namespaces/default/pods/" + pod + "/log?timestamps=true");
  ASSERT_TRUE(ts);
  EXPECT_EQ(ts->body.find(" one\n"), 27u) << ts->body;  // "2026-...123456Z one"
}

TEST(KubeSim, FollowedLogStreamsUntilTheContainerEnds) {
  Sim s;
  ASSERT_EQ(s.call("POST", "/apis/batch/v1/namespaces/default/jobs",
                   job("slow", {"/bin/sh", "-c", "for i in 1 2 3; do echo $i; sleep 0.2; done"}))
                .first,
            201);
  Json pod = nullptr;
  for (int i = 0; i < 500 && pod.is_null(); ++i) {
    for (const auto& p : pods_of(s, "slow")) {
      if (p["status"].value("phase", "") == "Running") pod = p;
    }
    std::this_thread::sleep_for(10ms);
  }
  ASSERT_FALSE(pod.is_null());
  std::string got;
  auto r = s.http->Get("/api/v1/namespaces/default/pods/" +
                           pod["metadata"]["name"].get<std::string>() + "/log?follow=true",
                       [&](const char* d, size_t n) {
                         got.append(d, n);
                         return true;
                       });
  ASSERT_TRUE(r);
  EXPECT_EQ(got, "1\n2\n3\n");
}

TEST(KubeSim, IndexedJobWithGatesWaitsForItsPlacement) {
  Sim s;
  Json j = job(
      "gang", {"/bin/sh", "-c", "echo index=$JOB_COMPLETION_INDEX gpus=$GPUS"},
      {{"spec",
        {{"completionMode", "Indexed"},
         {"completions", 2},
         {"parallelism", 2},
         {"template",
          {{"spec",
            {{"schedulingGates", Json::array({{{"name", "jizhan.io/placement"}}})},
             {"containers",
              Json::array(
                  {{{"name", "main"},
                    {"image", "busybox"},
                    {"command", {"/bin/sh", "-c", "echo index=$JOB_COMPLETION_INDEX gpus=$GPUS"}},
                    {"env",
                     Json::array(
                         {{{"name", "GPUS"},
                           {"valueFrom",
                            {{"fieldRef",
                              {{"fieldPath",
                                "metadata.annotations['jizhan.io/gpus']"}}}}}}})}}})}}}}}}}});
  ASSERT_EQ(s.call("POST", "/apis/batch/v1/namespaces/default/jobs", j).first, 201);
  std::vector<Json> pods;
  for (int i = 0; i < 500 && pods.size() < 2; ++i) {
    pods = pods_of(s, "gang");
    std::this_thread::sleep_for(10ms);
  }
  ASSERT_EQ(pods.size(), 2u);
  std::this_thread::sleep_for(200ms);
  for (const auto& p : pods_of(s, "gang")) {
    EXPECT_EQ(p["status"]["phase"], "Pending");
    EXPECT_FALSE(p["spec"].contains("nodeName"));
    EXPECT_EQ(p["status"]["conditions"][0]["reason"], "SchedulingGated");
  }
  // Changing anything else of a pod's spec is refused; the placement is allowed while gated.
  const std::string p0 = pods[0]["metadata"]["name"];
  auto [bad, bad_body] =
      s.call("PATCH", "/api/v1/namespaces/default/pods/" + p0, {{"spec", {{"hostname", "other"}}}},
             "application/merge-patch+json");
  EXPECT_EQ(bad, 422) << bad_body.dump();
  for (const auto& p : pods) {
    const std::string idx =
        p["metadata"]["annotations"]["batch.kubernetes.io/job-completion-index"];
    const std::string node = idx == "0" ? "n1" : "n2";
    auto [code, body] = s.call(
        "PATCH", "/api/v1/namespaces/default/pods/" + p["metadata"]["name"].get<std::string>(),
        {{"metadata", {{"annotations", {{"jizhan.io/gpus", "GPU-" + idx}}}}},
         {"spec",
          {{"nodeSelector", {{"kubernetes.io/hostname", node}}}, {"schedulingGates", nullptr}}}},
        "application/merge-patch+json");
    ASSERT_EQ(code, 200) << body.dump();
  }
  s.wait_for("jobs", "default", "gang", [](const Json& j) { return job_condition(j, "Complete"); });
  for (const auto& p : pods_of(s, "gang")) {
    const std::string idx =
        p["metadata"]["annotations"]["batch.kubernetes.io/job-completion-index"];
    EXPECT_EQ(p["spec"]["nodeName"], idx == "0" ? "n1" : "n2");
    auto r = s.http->Get("/api/v1/namespaces/default/pods/" +
                         p["metadata"]["name"].get<std::string>() + "/log");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->body, "index=" + idx + " gpus=GPU-" + idx + "\n");
  }
}

TEST(KubeSim, FailuresHaveTheRealReasons) {
  Options o;
  o.unpullable_images = {"registry.example/missing:1"};
  Sim s(o);
  // Over its memory limit: OOMKilled.
  Json oom = job(
      "oom", {"/usr/bin/python3", "-c", "import time; x = bytearray(300 << 20); time.sleep(30)"});
  oom["spec"]["template"]["spec"]["containers"][0]["resources"] = {
      {"limits", {{"memory", "64Mi"}}}};
  ASSERT_EQ(s.call("POST", "/apis/batch/v1/namespaces/default/jobs", oom).first, 201);
  // Past its deadline: DeadlineExceeded, and its pod goes.
  Json slow = job("slow", {"/bin/sleep", "30"}, {{"spec", {{"activeDeadlineSeconds", 1}}}});
  ASSERT_EQ(s.call("POST", "/apis/batch/v1/namespaces/default/jobs", slow).first, 201);
  // An image that cannot be pulled: the pod waits in ImagePullBackOff.
  Json missing = job("missing", {"true"});
  missing["spec"]["template"]["spec"]["containers"][0]["image"] = "registry.example/missing:1";
  ASSERT_EQ(s.call("POST", "/apis/batch/v1/namespaces/default/jobs", missing).first, 201);
  // More than any node has: Unschedulable.
  Json big = job("big", {"true"});
  big["spec"]["template"]["spec"]["containers"][0]["resources"] = {
      {"requests", {{"nvidia.com/gpu", "4"}}}};
  ASSERT_EQ(s.call("POST", "/apis/batch/v1/namespaces/default/jobs", big).first, 201);

  Json failed = s.wait_for("jobs", "default", "oom",
                           [](const Json& j) { return job_condition(j, "Failed"); });
  EXPECT_EQ(failed["status"]["conditions"][0]["reason"], "BackoffLimitExceeded");
  auto oom_pods = pods_of(s, "oom");
  ASSERT_EQ(oom_pods.size(), 1u);
  EXPECT_EQ(oom_pods[0]["status"]["containerStatuses"][0]["state"]["terminated"]["reason"],
            "OOMKilled");
  EXPECT_EQ(oom_pods[0]["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"], 137);

  Json late = s.wait_for("jobs", "default", "slow",
                         [](const Json& j) { return job_condition(j, "Failed"); });
  EXPECT_EQ(late["status"]["conditions"][0]["reason"], "DeadlineExceeded");
  for (int i = 0; i < 300 && !pods_of(s, "slow").empty(); ++i) std::this_thread::sleep_for(10ms);
  EXPECT_TRUE(pods_of(s, "slow").empty()) << "the deadline ends the job's pods";

  for (int i = 0; i < 300; ++i) {
    auto pods = pods_of(s, "missing");
    if (!pods.empty() && pods[0]["status"].contains("containerStatuses") &&
        pods[0]["status"]["containerStatuses"][0]["state"]["waiting"]["reason"] ==
            "ImagePullBackOff") {
      EXPECT_EQ(pods[0]["status"]["phase"], "Pending");
      EXPECT_NE(pods[0]["status"]["containerStatuses"][0]["state"]["waiting"]["message"]
                    .get<std::string>()
                    .find("registry.example/missing:1"),
                std::string::npos);
      break;
    }
    ASSERT_LT(i, 299) << "no ImagePullBackOff";
    std::this_thread::sleep_for(10ms);
  }
  auto big_pods = pods_of(s, "big");
  ASSERT_EQ(big_pods.size(), 1u);
  EXPECT_EQ(big_pods[0]["status"]["conditions"][0]["reason"], "Unschedulable");
  EXPECT_NE(big_pods[0]["status"]["conditions"][0]["message"].get<std::string>().find(
                "Insufficient nvidia.com/gpu"),
            std::string::npos);
}

// A container's memory is its program's, never the simulator's: between the fork and the
// exec the child is a copy of this (large) process, and a limit checked in that window must
// not kill it (CI under AddressSanitizer saw jobs OOMKilled for the test's own memory).
TEST(KubeSim, MemoryLimitCountsTheContainerNotTheSimulator) {
  // This process holds 512 MiB more than any container's limit below.
  std::vector<char> ballast(size_t{512} << 20);
  for (size_t i = 0; i < ballast.size(); i += 4096) ballast[i] = static_cast<char>(i);
  Options o;
  o.controller_interval = 1ms;
  Sim s(o);
  constexpr int kJobs = 40;
  for (int i = 0; i < kJobs; ++i) {
    Json j = job("small-" + std::to_string(i), {"/bin/sh", "-c", "exit 0"},
                 {{"spec", {{"completions", 3}, {"parallelism", 3}}}});
    j["spec"]["template"]["spec"]["containers"][0]["resources"] = {
        {"limits", {{"memory", "256Mi"}}}};
    ASSERT_EQ(s.call("POST", "/apis/batch/v1/namespaces/default/jobs", j).first, 201);
  }
  for (int i = 0; i < kJobs; ++i) {
    Json done = s.wait_for("jobs", "default", "small-" + std::to_string(i), [](const Json& j) {
      return job_condition(j, "Complete") || job_condition(j, "Failed");
    });
    EXPECT_TRUE(job_condition(done, "Complete")) << done.dump();
  }
  for (const auto& p : s.sim->list("pods", "default")) {
    EXPECT_NE(p["status"]["containerStatuses"][0]["state"]["terminated"].value("reason", ""),
              "OOMKilled")
        << p["metadata"]["name"];
  }
  EXPECT_NE(ballast[4096], 7);  // keeps the ballast alive to here
}

TEST(KubeSim, DeletingAJobOrphansItsPodsUnlessTold) {
  Sim s;
  for (const char* name : {"orphaned", "background"}) {
    ASSERT_EQ(
        s.call("POST", "/apis/batch/v1/namespaces/default/jobs", job(name, {"/bin/sleep", "30"}))
            .first,
        201);
  }
  for (const char* name : {"orphaned", "background"}) {
    for (int i = 0; i < 500; ++i) {
      auto pods = pods_of(s, name);
      if (!pods.empty() && pods[0]["status"].value("phase", "") == "Running") break;
      std::this_thread::sleep_for(10ms);
    }
  }
  // The batch/v1 default: the pod stays, without its owner.
  ASSERT_EQ(s.call("DELETE", "/apis/batch/v1/namespaces/default/jobs/orphaned").first, 200);
  // Background with a grace period of 0: the pod goes too.
  ASSERT_EQ(s.call("DELETE",
                   "/apis/batch/v1/namespaces/default/jobs/background?propagationPolicy=Background&"
                   "gracePeriodSeconds=0")
                .first,
            200);
  for (int i = 0; i < 500 && !pods_of(s, "background").empty(); ++i)
    std::this_thread::sleep_for(10ms);
  EXPECT_TRUE(pods_of(s, "background").empty());
  auto orphans = pods_of(s, "orphaned");
  ASSERT_EQ(orphans.size(), 1u);
  EXPECT_FALSE(orphans[0]["metadata"].contains("ownerReferences"));
  EXPECT_EQ(orphans[0]["status"]["phase"], "Running");
  // A pod deleted with a grace period is terminating first (SIGTERM), then gone.
  const std::string name = orphans[0]["metadata"]["name"];
  auto [code, body] =
      s.call("DELETE", "/api/v1/namespaces/default/pods/" + name + "?gracePeriodSeconds=5");
  ASSERT_EQ(code, 200);
  EXPECT_TRUE(body["metadata"].contains("deletionTimestamp"));
  s.wait_for("pods", "default", name, [](const Json& p) { return p.is_null(); });
}

TEST(KubeSim, AuthenticatesAuthorisesAndThrottles) {
  Options o;
  o.users = {{"admin", "admin-token", {}},
             {"reader",
              "reader-token",
              {{.api_groups = {""}, .resources = {"pods"}, .verbs = {"get", "list"}}}}};
  Sim s(o);
  EXPECT_EQ(s.call("GET", "/api/v1/namespaces/default/pods").first, 401);
  EXPECT_EQ(s.call("GET", "/api/v1/namespaces/default/pods", nullptr, "",
                   {{"Authorization", "Bearer wrong"}})
                .first,
            401);
  const httplib::Headers reader = {{"Authorization", "Bearer reader-token"}};
  EXPECT_EQ(s.call("GET", "/api/v1/namespaces/default/pods", nullptr, "", reader).first, 200);
  auto [code, body] = s.call("POST", "/apis/batch/v1/namespaces/default/jobs", job("x", {"true"}),
                             "application/json", reader);
  EXPECT_EQ(code, 403);
  EXPECT_NE(body["message"].get<std::string>().find("cannot create resource \"jobs\""),
            std::string::npos);
  EXPECT_EQ(s.call("GET", "/api/v1/namespaces/default/pods/x/log", nullptr, "", reader).first, 403);
  s.sim->throttle(1, 2);
  auto r =
      s.http->Get("/api/v1/namespaces/default/pods", {{"Authorization", "Bearer admin-token"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 429);
  EXPECT_EQ(r->get_header_value("Retry-After"), "2");
  EXPECT_EQ(s.call("GET", "/api/v1/namespaces/default/pods", nullptr, "",
                   {{"Authorization", "Bearer admin-token"}})
                .first,
            200);
}

TEST(KubeSim, PauseCutsWatchesAndResumeKeepsEverything) {
  Sim s;
  ASSERT_EQ(
      s.call("POST", "/apis/batch/v1/namespaces/default/jobs", job("keep", {"/bin/sleep", "1"}))
          .first,
      201);
  std::thread cutter([&] {
    std::this_thread::sleep_for(200ms);
    s.sim->pause();
  });
  auto events = watch(s, "/apis/batch/v1/namespaces/default/jobs?watch=1&resourceVersion=0",
                      [](const std::vector<Json>&) { return false; });
  cutter.join();
  EXPECT_GE(events.size(), 1u);
  EXPECT_EQ(s.call("GET", "/apis/batch/v1/namespaces/default/jobs/keep").first, 0)
      << "refused while paused";
  ASSERT_TRUE(s.sim->resume().ok());
  s.wait_for("jobs", "default", "keep", [](const Json& j) { return job_condition(j, "Complete"); });
  EXPECT_EQ(s.call("GET", "/apis/batch/v1/namespaces/default/jobs/keep").first, 200);
}

}  // namespace
}  // namespace jz::kubesim
