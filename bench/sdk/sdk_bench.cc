// The isolated host's cost (issue 5): face_detect on 1080p frames called
//   in-process      (AlgoLibrary: a function call, the anchor),
//   isolated        (IsolatedAlgo: the frame is copied into shared memory, read by a child
//                    process),
//   isolated, in shared memory (the frame was produced there, as `jizhan algo run` has the
//                    video decoder write it: no copy),
//   raw over gRPC   (`jizhan algo serve`'s Process with raw pixels, loopback),
//   JPEG over gRPC  (the common approach: encode, send, decode, then the algorithm),
// one frame at a time, in alternating rounds; medians of the rounds.
//
//   jz_bench_sdk FACE_DETECT_DIR JIZHAN_BINARY [FRAMES_PER_ROUND] [ROUNDS]
// Prints Markdown and one JSON line.
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>
#include <opencv2/imgcodecs.hpp>
#include <string>
#include <vector>

#include "jizhan/algo/v1/algo.grpc.pb.h"
#include "sdk/host.h"
#include "sdk/library.h"
#include "sdk/serve.h"
#include "tests/support/synthetic_faces.h"

namespace {

using Clock = std::chrono::steady_clock;
namespace pb = jizhan::algo::v1;

jz_frame view(const cv::Mat& m, int64_t i) {
  jz_frame f{};
  f.struct_size = sizeof f;
  f.width = m.cols;
  f.height = m.rows;
  f.stride = static_cast<int32_t>(m.step[0]);
  f.format = JZ_PIXEL_BGR24;
  f.data = m.data;
  f.frame_index = i;
  return f;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

int die(const std::string& what) {
  std::cerr << "jz_bench_sdk: " << what << "\n";
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) return die("usage: jz_bench_sdk FACE_DETECT_DIR JIZHAN_BINARY [FRAMES] [ROUNDS]");
  const std::string dir = argv[1], jizhan = argv[2];
  const int frames = argc > 3 ? std::atoi(argv[3]) : 20;
  const int rounds = argc > 4 ? std::atoi(argv[4]) : 3;
  setenv("JIZHAN_PACKAGE_DIR", dir.c_str(), 1);
  const std::string config = "{}";

  // Four 1080p frames with faces of several sizes, cycled.
  std::vector<cv::Mat> images;
  for (int k = 0; k < 4; ++k) {
    images.push_back(jz::testing::faces_image(
        1920, 1080,
        {{300 + 40 * k, 400, 220}, {900, 500 - 20 * k, 160}, {1500, 450, 120 + 10 * k}}));
  }
  std::vector<std::string> jpegs;
  for (const auto& m : images) {
    std::vector<uint8_t> buf;
    cv::imencode(".jpg", m, buf, {cv::IMWRITE_JPEG_QUALITY, 90});
    jpegs.emplace_back(buf.begin(), buf.end());
  }

  auto lib = jz::sdk::AlgoLibrary::open(dir + "/face_detect.so");
  if (!lib.ok()) return die(lib.status().message());
  auto inproc = (*lib)->create(config);
  if (!inproc.ok()) return die(inproc.status().message());

  jz::sdk::HostOptions ho;
  ho.library = dir + "/face_detect.so";
  ho.package_dir = dir;
  ho.config_json = config;
  ho.host_binary = jizhan;
  ho.timeout = std::chrono::seconds(60);
  ho.shared_memory_bytes = 64 << 20;
  auto isolated = jz::sdk::IsolatedAlgo::start(ho);
  if (!isolated.ok()) return die(isolated.status().message());

  // The frames placed once in the shared memory, as a decoder writing there would.
  std::vector<cv::Mat> shared;
  for (size_t k = 0; k < images.size(); ++k) {
    // After the first 8 MiB, where the copying way puts its frame.
    const size_t bytes = images[k].total() * 3,
                 at = (size_t{8} << 20) + k * ((bytes + 63) & ~size_t{63});
    if (at + bytes > (*isolated)->frame_buffer_bytes()) return die("shared memory too small");
    shared.emplace_back(images[k].rows, images[k].cols, CV_8UC3, (*isolated)->frame_buffer() + at);
    images[k].copyTo(shared.back());
  }

  jz::sdk::ServeOptions so;
  so.grpc_address = "127.0.0.1:0";
  so.instances = 1;
  so.host = ho;
  auto server = jz::sdk::AlgoServer::start(so);
  if (!server.ok()) return die(server.status().message());
  grpc::ChannelArguments args;
  args.SetMaxSendMessageSize(64 << 20);
  auto channel = grpc::CreateCustomChannel("127.0.0.1:" + std::to_string((*server)->grpc_port()),
                                           grpc::InsecureChannelCredentials(), args);
  auto stub = pb::Algorithm::NewStub(channel);

  std::map<std::string, std::vector<double>> fps;
  std::string reference;  // outputs must agree across the ways of calling
  bool agree = true;
  auto check = [&](const std::string& out, int i) {
    if (i != 0) return;
    if (reference.empty()) reference = out;
    agree = agree && out == reference;
  };
  const std::vector<std::string> ways = {"in-process", "isolated", "isolated, in shared memory",
                                         "raw over gRPC", "JPEG over gRPC"};
  for (int round = 0; round < rounds; ++round) {
    for (const auto& way : ways) {
      const auto t0 = Clock::now();
      for (int i = 0; i < frames; ++i) {
        const cv::Mat& img = images[i % images.size()];
        std::string out;
        if (way == "in-process") {
          auto r = (*inproc)->process({view(img, 0)});
          if (!r.ok()) return die(r.status().message());
          out = *r;
        } else if (way.rfind("isolated", 0) == 0) {
          const bool in_shm = way != "isolated";
          auto r = (*isolated)->process({view(in_shm ? shared[i % shared.size()] : img, 0)});
          if (!r.ok()) return die(r.status().message());
          out = *r;
        } else {
          pb::ProcessRequest req;
          if (way == "raw over gRPC") {
            auto* raw = req.mutable_raw();
            raw->set_width(img.cols);
            raw->set_height(img.rows);
            raw->set_format(pb::BGR24);
            raw->set_pixels(reinterpret_cast<const char*>(img.data), img.total() * 3);
          } else {
            // The client encodes each frame, as a camera client would (not cached).
            std::vector<uint8_t> buf;
            cv::imencode(".jpg", img, buf, {cv::IMWRITE_JPEG_QUALITY, 90});
            req.set_encoded(buf.data(), buf.size());
          }
          pb::ProcessResponse resp;
          grpc::ClientContext ctx;
          auto st = stub->Process(&ctx, req, &resp);
          if (!st.ok()) return die(way + ": " + st.error_message());
          out = resp.result_json();
        }
        if (way != "JPEG over gRPC") check(out, i % static_cast<int>(images.size()));
      }
      fps[way].push_back(frames / std::chrono::duration<double>(Clock::now() - t0).count());
    }
  }
  const double base = median(fps["in-process"]);
  std::printf("| way | frames/s (median of %d rounds of %d) | vs in-process | ms/frame added |\n",
              rounds, frames);
  std::printf("|---|---:|---:|---:|\n");
  std::string json = "{";
  for (const auto& way : ways) {
    const double f = median(fps[way]);
    std::printf("| %s | %.2f | %.1f%% | %+.2f |\n", way.c_str(), f, 100.0 * f / base,
                1000.0 / f - 1000.0 / base);
    char item[200];
    std::snprintf(item, sizeof item, "%s\"%s\":{\"fps\":%.3f,\"ratio\":%.4f,\"added_ms\":%.3f}",
                  json.size() > 1 ? "," : "", way.c_str(), f, f / base, 1000.0 / f - 1000.0 / base);
    json += item;
  }
  json += std::string(",\"outputs_agree\":") + (agree ? "true" : "false") + "}";
  std::printf("\n%s\n", json.c_str());
  (*server)->shutdown();

  // The host's own cost, without an algorithm's work to hide it: faulty (it sums one row)
  // on the same 1080p frames, in-process vs isolated.
  if (argc > 5) {
    const std::string faulty = argv[5];
    auto flib = jz::sdk::AlgoLibrary::open(faulty);
    if (!flib.ok()) return die(flib.status().message());
    auto fin = (*flib)->create("{}");
    if (!fin.ok()) return die(fin.status().message());
    jz::sdk::HostOptions fo = ho;
    fo.library = faulty;
    fo.package_dir.clear();
    auto fiso = jz::sdk::IsolatedAlgo::start(fo);
    if (!fiso.ok()) return die(fiso.status().message());
    std::vector<cv::Mat> fshared;
    for (size_t k = 0; k < images.size(); ++k) {
      const size_t bytes = images[k].total() * 3;
      fshared.emplace_back(
          images[k].rows, images[k].cols, CV_8UC3,
          (*fiso)->frame_buffer() + (size_t{8} << 20) + k * ((bytes + 63) & ~size_t{63}));
      images[k].copyTo(fshared.back());
    }
    const int calls = 300;
    std::map<std::string, std::vector<double>> us;
    for (int round = 0; round < rounds; ++round) {
      for (const std::string way : {"in-process", "isolated", "shared"}) {
        const auto t0 = Clock::now();
        for (int i = 0; i < calls; ++i) {
          auto f =
              view(way == "shared" ? fshared[i % fshared.size()] : images[i % images.size()], i);
          auto r = way == "in-process" ? (*fin)->process({f}) : (*fiso)->process({f});
          if (!r.ok()) return die(r.status().message());
        }
        us[way].push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count() /
                          calls);
      }
    }
    const double a = median(us["in-process"]), b = median(us["isolated"]), c = median(us["shared"]);
    std::printf(
        "\nHost overhead alone (faulty, which sums one row, on the same 1080p frames; %d calls "
        "a round):\n\n| way | ms per call | added by isolation |\n|---|---:|---:|\n"
        "| in-process | %.3f | |\n| isolated (frame copied in) | %.3f | %.3f |\n"
        "| isolated, in shared memory | %.3f | %.3f |\n",
        calls, a / 1000, b / 1000, (b - a) / 1000, c / 1000, (c - a) / 1000);
    std::printf(
        "\n{\"overhead_ms\":{\"in_process\":%.4f,\"isolated\":%.4f,\"added\":%.4f,"
        "\"in_shared_memory\":%.4f,\"added_in_shared_memory\":%.4f}}\n",
        a / 1000, b / 1000, (b - a) / 1000, c / 1000, (c - a) / 1000);
  }
  return agree ? 0 : 1;
}
