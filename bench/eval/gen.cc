// Test data for bench/eval/run, deterministic (a fixed seed):
//   jz_bench_gen lines OUT.jsonl MEGABYTES   algorithm outputs, one JSON object per line
//   jz_bench_gen coco DIR                    a val2017-sized COCO set: 5,000 images,
//                                            36,000 boxes, 100 detections per image
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>

namespace {

const char* kNames[] = {"person", "car", "bicycle", "dog", "bus", "truck"};

int lines(const char* path, long megabytes) {
  FILE* f = std::fopen(path, "wb");
  if (!f) return 1;
  std::mt19937_64 rng(1);
  auto uni = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  auto conf = [&] { return std::uniform_real_distribution<double>(0, 1)(rng); };
  const long target = megabytes * 1024 * 1024;
  long written = 0;
  std::string line;
  char buf[256];
  for (long frame = 0; written < target; ++frame) {
    const int n = uni(0, 8);
    line.clear();
    std::snprintf(buf, sizeof buf,
                  "{\"frame_id\":%ld,\"timestamp\":%.3f,\"algorithm_data\":{\"is_alert\":%s,"
                  "\"target_count\":%d,\"target_info\":[",
                  frame, 1700000000.0 + frame / 25.0, n > 5 ? "true" : "false", n);
    line += buf;
    for (int section = 0; section < 2; ++section) {
      const int count = section == 0 ? n : n + 2;
      for (int i = 0; i < count; ++i) {
        std::snprintf(buf, sizeof buf,
                      "%s{\"x\":%d,\"y\":%d,\"width\":%d,\"height\":%d,\"name\":\"%s\","
                      "\"confidence\":%.4f}",
                      i ? "," : "", uni(0, 1900), uni(0, 1000), uni(10, 300), uni(10, 300),
                      kNames[uni(0, 5)], conf());
        line += buf;
      }
      line += section == 0 ? "]},\"model_data\":{\"objects\":[" : "]}}\n";
    }
    std::fwrite(line.data(), 1, line.size(), f);
    written += static_cast<long>(line.size());
  }
  return std::fclose(f) == 0 ? 0 : 1;
}

int coco(const std::string& dir) {
  constexpr int kImages = 5000, kBoxes = 36000, kDetsPerImage = 100, kCats = 80;
  std::mt19937_64 rng(2);
  auto uni = [&](double lo, double hi) {
    return std::uniform_real_distribution<double>(lo, hi)(rng);
  };
  auto pick = [&](int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng); };
  struct Box {
    int image, cat;
    double x, y, w, h;
  };
  std::vector<Box> gts;
  for (int i = 0; i < kBoxes; ++i) {
    const double w = uni(4, 300), h = uni(4, 300);
    gts.push_back({pick(kImages) + 1, pick(kCats) + 1, uni(0, 640 - w), uni(0, 480 - h), w, h});
  }
  FILE* g = std::fopen((dir + "/ground_truth.json").c_str(), "wb");
  FILE* d = std::fopen((dir + "/detections.json").c_str(), "wb");
  if (!g || !d) return 1;
  std::fprintf(g, "{\"images\":[");
  for (int i = 1; i <= kImages; ++i) {
    std::fprintf(g, "%s{\"id\":%d,\"width\":640,\"height\":480,\"file_name\":\"%012d.jpg\"}",
                 i > 1 ? "," : "", i, i);
  }
  std::fprintf(g, "],\"categories\":[");
  for (int c = 1; c <= kCats; ++c) {
    std::fprintf(g, "%s{\"id\":%d,\"name\":\"class%d\"}", c > 1 ? "," : "", c, c);
  }
  std::fprintf(g, "],\"annotations\":[");
  std::vector<std::vector<int>> by_image(kImages + 1);
  for (size_t i = 0; i < gts.size(); ++i) {
    const Box& b = gts[i];
    by_image[b.image].push_back(static_cast<int>(i));
    std::fprintf(g,
                 "%s{\"id\":%zu,\"image_id\":%d,\"category_id\":%d,\"bbox\":[%.2f,%.2f,%.2f,%.2f],"
                 "\"area\":%.2f,\"iscrowd\":%d}",
                 i ? "," : "", i + 1, b.image, b.cat, b.x, b.y, b.w, b.h, b.w * b.h * 0.8,
                 pick(100) == 0 ? 1 : 0);
  }
  std::fprintf(g, "]}\n");
  // Detections: jittered copies of the ground truth plus random boxes, 100 per image.
  std::fprintf(d, "[");
  bool first = true;
  for (int img = 1; img <= kImages; ++img) {
    for (int k = 0; k < kDetsPerImage; ++k) {
      Box b;
      if (k < static_cast<int>(by_image[img].size()) * 2 && !by_image[img].empty()) {
        b = gts[by_image[img][k % by_image[img].size()]];
        b.x += uni(-10, 10), b.y += uni(-10, 10), b.w *= uni(0.8, 1.2), b.h *= uni(0.8, 1.2);
        if (pick(5) == 0) b.cat = pick(kCats) + 1;
      } else {
        b.w = uni(4, 300), b.h = uni(4, 300);
        b = {img, pick(kCats) + 1, uni(0, 640 - b.w), uni(0, 480 - b.h), b.w, b.h};
      }
      std::fprintf(d,
                   "%s{\"image_id\":%d,\"category_id\":%d,\"bbox\":[%.2f,%.2f,%.2f,%.2f],"
                   "\"score\":%.4f}",
                   first ? "" : ",", img, b.cat, b.x, b.y, b.w, b.h, uni(0, 1));
      first = false;
    }
  }
  std::fprintf(d, "]\n");
  return std::fclose(g) == 0 && std::fclose(d) == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "lines" && argc == 4) return lines(argv[2], std::atol(argv[3]));
  if (mode == "coco" && argc == 3) return coco(argv[2]);
  std::fprintf(stderr, "usage: jz_bench_gen lines OUT.jsonl MEGABYTES | coco DIR\n");
  return 2;
}
