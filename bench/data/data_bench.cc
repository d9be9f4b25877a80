// Data platform benchmark (issue 29): perceptual hashing of 1080p JPEGs, decode included,
// against OpenCV's own img_hash::PHash loop (full decode + compute) in the same run, both
// on every core; then a radius-8 query over 1,000,000 hashes with the multi-index, the
// BK-tree and a scan of every hash. Prints Markdown.
//   jz_bench_data [IMAGES] [ROUNDS] [HASHES]   (default 120 images, 3 rounds, 1000000)
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <opencv2/core/utility.hpp>
#include <opencv2/img_hash.hpp>
#include <opencv2/imgcodecs.hpp>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "data/hamming_index.h"
#include "data/phash.h"
#include "tests/support/synthetic_scenes.h"

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// Runs work(i) for every i in [0, n) on `threads` threads; returns the wall seconds.
template <typename F>
double parallel(int n, int threads, const F& work) {
  std::atomic<int> next{0};
  const auto t0 = Clock::now();
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      for (int i; (i = next.fetch_add(1)) < n;) work(i);
    });
  }
  for (auto& t : pool) t.join();
  return seconds_since(t0);
}

}  // namespace

int main(int argc, char** argv) {
  const int images = argc > 1 ? std::atoi(argv[1]) : 120;
  const int rounds = argc > 2 ? std::atoi(argv[2]) : 3;
  const int hashes = argc > 3 ? std::atoi(argv[3]) : 1000000;
  const int threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  cv::setNumThreads(1);  // one image per thread on both sides

  std::vector<std::vector<uint8_t>> jpegs;
  size_t bytes = 0;
  for (int i = 0; i < images; ++i) {
    jpegs.push_back(
        jz::testing::encode(jz::testing::scene(static_cast<uint64_t>(i), 1920, 1080), ".jpg", 90));
    bytes += jpegs.back().size();
  }
  std::printf("OpenCV %s, dispatching to: %s\n\n", CV_VERSION, cv::getCPUFeaturesLine().c_str());
  std::printf(
      "## Perceptual hashing of 1080p JPEGs (%d images, %.0f KiB each on average, %d "
      "threads)\n\n",
      images, static_cast<double>(bytes) / images / 1024, threads);
  std::printf("| round | jizhan dct64 (images/s) | OpenCV img_hash PHash (images/s) | ratio |\n");
  std::printf("|---|---|---|---|\n");
  std::vector<uint64_t> ours(static_cast<size_t>(images));
  std::vector<double> ratios;
  for (int r = 1; r <= rounds; ++r) {
    const double t_ours = parallel(images, threads, [&](int i) {
      const auto& j = jpegs[static_cast<size_t>(i)];
      ours[static_cast<size_t>(i)] = *jz::data::phash_encoded(
          std::string_view(reinterpret_cast<const char*>(j.data()), j.size()));
    });
    const double t_cv = parallel(images, threads, [&](int i) {
      thread_local auto hasher = cv::img_hash::PHash::create();
      const cv::Mat img = cv::imdecode(jpegs[static_cast<size_t>(i)], cv::IMREAD_COLOR);
      cv::Mat out;
      hasher->compute(img, out);
    });
    const double a = images / t_ours, b = images / t_cv;
    ratios.push_back(a / b);
    std::printf("| %d | %.0f | %.0f | %.2fx |\n", r, a, b, a / b);
  }
  std::sort(ratios.begin(), ratios.end());
  std::printf("\nmedian ratio %.2fx\n\n", ratios[ratios.size() / 2]);

  // The search: random hashes, a fifth of them near copies of others (as duplicates are).
  std::mt19937_64 rng(29);
  std::vector<uint64_t> all;
  all.reserve(static_cast<size_t>(hashes));
  jz::data::MultiIndex mih;
  jz::data::BkTree bk;
  for (int i = 0; i < hashes; ++i) {
    uint64_t h = rng();
    if (i > 1000 && rng() % 5 == 0) {
      h = all[rng() % all.size()];
      for (int f = static_cast<int>(rng() % 8); f > 0; --f) h ^= uint64_t{1} << (rng() % 64);
    }
    all.push_back(h);
  }
  auto t0 = Clock::now();
  for (uint64_t h : all) mih.add(h);
  const double build_mih = seconds_since(t0);
  t0 = Clock::now();
  for (uint64_t h : all) bk.add(h);
  const double build_bk = seconds_since(t0);
  std::vector<uint64_t> queries;
  for (int q = 0; q < 1000; ++q) {
    uint64_t h = all[rng() % all.size()];
    h ^= uint64_t{1} << (rng() % 64);
    queries.push_back(h);
  }
  std::vector<jz::data::HashMatch> out;
  size_t found_mih = 0, found_bk = 0, found_scan = 0;
  auto per_query = [&](auto&& search, size_t& found, size_t n) {
    const auto t = Clock::now();
    for (size_t q = 0; q < n; ++q) {
      search(queries[q]);
      found += out.size();
    }
    return seconds_since(t) / static_cast<double>(n) * 1e6;
  };
  const double us_mih = per_query([&](uint64_t h) { mih.search(h, 8, out); }, found_mih, 1000);
  const double us_scan =
      per_query([&](uint64_t h) { jz::data::linear_search(all, h, 8, out); }, found_scan, 100);
  const double us_bk = per_query([&](uint64_t h) { bk.search(h, 8, out); }, found_bk, 100);
  std::printf("## Radius-8 queries over %d hashes (one thread)\n\n", hashes);
  std::printf(
      "| structure | build (s) | one query (us) | matches per query |\n|---|---|---|---|\n");
  std::printf("| multi-index (4 x 16 bits) | %.2f | %.1f | %.2f |\n", build_mih, us_mih,
              static_cast<double>(found_mih) / 1000);
  std::printf("| BK-tree | %.2f | %.1f | %.2f |\n", build_bk, us_bk,
              static_cast<double>(found_bk) / 100);
  std::printf("| scan of every hash (anchor) | - | %.1f | %.2f |\n", us_scan,
              static_cast<double>(found_scan) / 100);
  return 0;
}
