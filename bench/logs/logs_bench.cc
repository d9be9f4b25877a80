// Benchmark tool for bench/logs/run (issue 8): the log filter's throughput on realistic
// training logs with 100 blacklist patterns plus the leak detectors.
//
//   jz_bench_logs generate FILE BYTES   deterministic training-log text
//   jz_bench_logs patterns FILE         100 patterns, POSIX ERE (grep -E) and Hyperscan alike
//   jz_bench_logs filter FILE PATTERNS [detectors|no-detectors] [no-gates]
//                                       filters FILE in 1 MiB blocks as the job supervisor
//                                       does; prints one JSON line: mb_per_s with the
//                                       read() calls, filter_mb_per_s without them
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "core/json.h"
#include "logs/classes.h"
#include "logs/filter.h"

namespace {

using jz::logs::LineRef;

// Words that the generated logs use and the patterns look for (rarely present).
const char* kWords[] = {"loading",  "dataset", "model",     "resnet50", "yolov8",
                        "backbone", "frozen",  "warmup",    "cosine",   "adamw",
                        "sgd",      "mixed",   "precision", "amp",      "cuda",
                        "device",   "worker",  "prefetch",  "shuffle",  "augment"};

int generate(const char* path, int64_t bytes) {
  std::mt19937_64 rng(42);
  std::FILE* f = std::fopen(path, "wb");
  if (!f) return std::perror(path), 1;
  std::string line;
  int64_t written = 0, step = 0;
  int epoch = 1;
  char buf[512];
  while (written < bytes) {
    const int kind = static_cast<int>(rng() % 100);
    const double loss = 2.5 * std::exp(-static_cast<double>(step) / 200000.0) +
                        static_cast<double>(rng() % 1000) / 10000.0;
    const int sec = static_cast<int>(step / 20);
    if (kind < 55) {
      std::snprintf(buf, sizeof buf,
                    "2026-11-27 %02d:%02d:%02d,%03d INFO train: epoch %d/300 step %lld/1200000 "
                    "loss %.4f box_loss %.4f cls_loss %.4f lr %.6f grad_norm %.3f %.2f it/s\n",
                    (sec / 3600) % 24, (sec / 60) % 60, sec % 60, static_cast<int>(rng() % 1000),
                    epoch, static_cast<long long>(step), loss, loss * 0.4, loss * 0.6,
                    0.01 * std::exp(-static_cast<double>(step) / 500000.0),
                    static_cast<double>(rng() % 5000) / 1000.0,
                    10.0 + static_cast<double>(rng() % 500) / 100.0);
    } else if (kind < 70) {
      std::snprintf(buf, sizeof buf, "%3d%%|%-40.*s| %lld/%d [%02d:%02d<%02d:%02d, %.2fit/s]\n",
                    static_cast<int>(step % 100), static_cast<int>((step % 100) * 40 / 100),
                    "########################################", static_cast<long long>(step % 4000),
                    4000, (sec / 60) % 60, sec % 60, static_cast<int>(rng() % 60),
                    static_cast<int>(rng() % 60), 9.0 + static_cast<double>(rng() % 300) / 100.0);
    } else if (kind < 80) {
      std::snprintf(buf, sizeof buf,
                    "2026-11-27 %02d:%02d:%02d INFO val: epoch %d mAP@0.5 %.4f mAP@0.5:0.95 %.4f "
                    "precision %.3f recall %.3f images 5000 instances %d\n",
                    (sec / 3600) % 24, (sec / 60) % 60, sec % 60, epoch,
                    static_cast<double>(rng() % 10000) / 10000.0,
                    static_cast<double>(rng() % 10000) / 12000.0,
                    static_cast<double>(rng() % 1000) / 1000.0,
                    static_cast<double>(rng() % 1000) / 1000.0, static_cast<int>(rng() % 40000));
    } else if (kind < 88) {
      std::snprintf(buf, sizeof buf,
                    "2026-11-27 %02d:%02d:%02d INFO %s %s %s: prefetch queue %d/%d, host memory "
                    "%.1f GiB, gpu memory %.1f/80.0 GiB\n",
                    (sec / 3600) % 24, (sec / 60) % 60, sec % 60, kWords[rng() % 20],
                    kWords[rng() % 20], kWords[rng() % 20], static_cast<int>(rng() % 64), 64,
                    static_cast<double>(rng() % 2000) / 10.0,
                    static_cast<double>(rng() % 800) / 10.0);
    } else if (kind < 94) {
      std::snprintf(buf, sizeof buf,
                    "2026-11-27 %02d:%02d:%02d INFO saving checkpoint to "
                    "/job/output/checkpoints/epoch_%03d_step_%07lld.pt (%.1f MiB)\n",
                    (sec / 3600) % 24, (sec / 60) % 60, sec % 60, epoch,
                    static_cast<long long>(step), 90.0 + static_cast<double>(rng() % 100) / 10.0);
    } else if (kind < 98) {
      std::snprintf(buf, sizeof buf,
                    "/usr/lib/python3/dist-packages/torch/utils/data/dataloader.py:%d: "
                    "UserWarning: This DataLoader will create %d worker processes in total.\n",
                    static_cast<int>(500 + rng() % 100), static_cast<int>(4 + rng() % 12));
    } else {
      std::snprintf(buf, sizeof buf,
                    "  File \"/job/train.py\", line %d, in %s\n    loss = criterion(outputs, "
                    "targets)  # batch %lld\n",
                    static_cast<int>(rng() % 900), kWords[rng() % 20],
                    static_cast<long long>(step));
    }
    const size_t n = std::strlen(buf);
    std::fwrite(buf, 1, n, f);
    written += static_cast<int64_t>(n);
    ++step;
    if (step % 4000 == 0) ++epoch;
  }
  std::fclose(f);
  return 0;
}

// 100 patterns of the kind a data owner writes: names and paths of the data, personal data
// shapes, credentials, label dumps. ERE only, so grep -E reads them the same way.
int patterns(const char* path) {
  std::vector<std::string> p;
  for (int i = 0; i < 40; ++i) {
    p.push_back("/data/secret-" + std::to_string(1000 + i * 37) + "/[a-z0-9_/-]+\\.(jpg|png|bmp)");
  }
  for (int i = 0; i < 30; ++i) {
    p.push_back("(customer|person|plate)_id[=:] ?[0-9]{" + std::to_string(6 + i % 5) + "}x" +
                std::to_string(i));
  }
  const char* fixed[] = {
      "[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\\.(com|cn|org|net)",
      "([0-9]{1,3}\\.){3}[0-9]{1,3}:[0-9]{2,5}",
      "(api|secret|access)[_-]?key[=:]",
      "password[=:]",
      "BEGIN (RSA|EC|OPENSSH) PRIVATE KEY",
      "AKIA[0-9A-Z]{16}",
      "ghp_[A-Za-z0-9]{36}",
      "sk-[A-Za-z0-9]{32,}",
      "bbox[=:] ?\\[[0-9., ]+\\]",
      "label[=:] ?\"[a-z ]+\" at \\([0-9]+, ?[0-9]+\\)",
      "annotations?/[a-z0-9_-]+\\.(json|xml|txt)",
      "[0-9]{17}[0-9Xx]",
      "1[3-9][0-9]{9}",
      "[A-Z]{2}[0-9]{2} ?[0-9]{4} ?[0-9]{4} ?[0-9]{4}",
      "gps[=:] ?-?[0-9]+\\.[0-9]+, ?-?[0-9]+\\.[0-9]+",
      "face_embedding",
      "raw_frame",
      "pixel_values",
      "dump_tensor",
      "np\\.save\\(",
      "cv2\\.imwrite\\(",
      "PIL\\.Image\\.(open|save)",
      "torchvision\\.utils\\.save_image",
      "base64\\.b64encode",
      "binascii\\.hexlify",
      "tobytes\\(\\)",
      "camera_(serial|location)[=:]",
      "site_code[=:] ?[A-Z]{3}[0-9]{3}",
      "frame_[0-9]{8}\\.raw",
      "track_id[=:] ?[0-9]+ ?name[=:]",
  };
  for (const char* f : fixed) p.push_back(f);
  std::ofstream out(path);
  for (const auto& s : p) out << s << "\n";
  return p.size() == 100 ? 0 : (std::fprintf(stderr, "have %zu patterns\n", p.size()), 1);
}

int filter(const char* file, const char* pattern_file, bool detectors, bool gates) {
  std::ifstream in(pattern_file);
  jz::logs::LogPolicy policy;
  policy.mode = jz::logs::LogPolicy::Mode::kBlacklist;
  policy.detectors.enabled = detectors;
  policy.detectors.long_line = 4096;
  std::string line;
  int i = 0;
  while (std::getline(in, line)) {
    if (!line.empty()) policy.rules.push_back({"p" + std::to_string(i++), line, false, false});
  }
  const auto t0 = std::chrono::steady_clock::now();
  auto f = jz::logs::LogFilter::compile(policy, gates);
  if (!f.ok()) return std::fprintf(stderr, "%s\n", f.status().message().c_str()), 1;
  const double compile_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const int fd = ::open(file, O_RDONLY);
  if (fd < 0) return std::perror(file), 1;
  // As the supervisor gets them: read() calls of up to 1 MiB into one reused buffer (a
  // pipe read there, the page cache here: both a kernel copy, as grep's reads are), cut
  // after the last whole line; the partial line moves to the front for the next read.
  constexpr size_t kBlock = 1u << 20;
  std::vector<char> buffer(2 * kBlock);
  std::vector<LineRef> lines;
  std::vector<uint32_t> newlines;
  int64_t passed = 0;
  size_t size = 0, kept = 0;
  // Also the filter's own time (finding the lines and LogFilter::process), without the
  // read() calls: the supervisor's reads of a job's pipe are a kernel copy it cannot skip
  // either, but they are not the filter's work.
  double filter_s = 0;
  const auto start = std::chrono::steady_clock::now();
  for (;;) {
    if (kept > kBlock) return std::fprintf(stderr, "%s: a line over 1 MiB\n", file), 1;
    const ssize_t got = ::read(fd, buffer.data() + kept, kBlock);
    if (got < 0) return std::perror("read"), 1;
    size += static_cast<size_t>(got);
    const size_t have = kept + static_cast<size_t>(got);
    if (have == 0) break;
    const std::string_view data(buffer.data(), have);
    const auto filter_start = std::chrono::steady_clock::now();
    lines.clear();
    newlines.clear();
    jz::logs::find_newlines(data, newlines);
    if (got == 0 && (newlines.empty() || newlines.back() + 1 != have)) {
      newlines.push_back(static_cast<uint32_t>(have));  // the last line has no newline
    }
    uint32_t a = 0;
    for (const uint32_t e : newlines) {
      LineRef l;
      l.offset = a;
      l.length = e - a;
      lines.push_back(l);
      a = e + 1;
    }
    const size_t used = std::min<size_t>(a, have);
    (*f)->process(data.substr(0, used), lines, [&](size_t, std::string_view) { ++passed; });
    filter_s +=
        std::chrono::duration<double>(std::chrono::steady_clock::now() - filter_start).count();
    kept = have - used;
    std::memmove(buffer.data(), buffer.data() + used, kept);
    if (got == 0) break;
  }
  ::close(fd);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  jz::Json withheld = jz::Json::object();
  for (const auto& [k, w] : (*f)->withheld()) withheld[k] = w.lines;
  std::printf("%s\n",
              jz::json::dump({{"bytes", size},
                              {"seconds", s},
                              {"mb_per_s", static_cast<double>(size) / 1e6 / s},
                              {"filter_seconds", filter_s},
                              {"filter_mb_per_s", static_cast<double>(size) / 1e6 / filter_s},
                              {"compile_ms", compile_s * 1000},
                              {"passed_lines", passed},
                              {"withheld_lines", withheld}})
                  .c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string cmd = argc > 1 ? argv[1] : "";
  if (cmd == "generate" && argc == 4) return generate(argv[2], std::atoll(argv[3]));
  if (cmd == "patterns" && argc == 3) return patterns(argv[2]);
  if (cmd == "compile" && argc == 3) {
    // The time a job's supervisor spends building the built-in filter of a level.
    const auto t0 = std::chrono::steady_clock::now();
    auto f = jz::logs::LogFilter::compile(jz::logs::default_policy(argv[2]));
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    if (!f.ok()) return std::fprintf(stderr, "%s\n", f.status().message().c_str()), 1;
    std::printf("%s %.1f ms\n", argv[2], ms);
    return 0;
  }
  if (cmd == "filter" && argc >= 4 && argc <= 6) {
    // JZ_VECTOR_LEVEL=0|1|2|3 caps the line pass at SSE2, AVX2, AVX-512 or AVX-512 VBMI.
    if (const char* level = std::getenv("JZ_VECTOR_LEVEL")) {
      jz::logs::limit_vector_level(std::atoi(level));
    }
    return filter(argv[2], argv[3], argc == 4 || std::string(argv[4]) != "no-detectors",
                  argc < 6 || std::string(argv[5]) != "no-gates");
  }
  std::fprintf(
      stderr,
      "usage: jz_bench_logs generate FILE BYTES | patterns FILE | filter FILE PATTERNS "
      "[detectors|no-detectors] [no-gates] | compile LEVEL\n"
      "  JZ_VECTOR_LEVEL=0|1|2|3: the line pass uses at most SSE2, AVX2, AVX-512, AVX-512 VBMI\n");
  return 2;
}
