// Training records, the run store and its downsampling, checked against brute force.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "tests/support/temp_dir.h"
#include "training/records.h"
#include "training/store.h"
#include "training/tensorboard.h"

namespace jz::training {
namespace {

TEST(TrainingRecords, LinesParseAndEveryErrorNamesItsLine) {
  auto r = parse_lines(
      "{\"kind\":\"log\",\"step\":3,\"time\":1700000000.5,\"values\":{\"train/loss\":0.25,"
      "\"acc\":\"NaN\",\"x\":\"-Infinity\"}}\n\n"
      "{\"kind\":\"config\",\"values\":{\"lr\":0.001,\"model\":\"tiny\"}}\n"
      "{\"kind\":\"note\",\"text\":\"warm-up done\"}\r\n"
      "{\"kind\":\"progress\",\"done\":3,\"total\":10}\n"
      "{\"kind\":\"finish\"}");
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(r->size(), 5u);
  const Record& log = (*r)[0];
  EXPECT_EQ(log.step, 3);
  EXPECT_EQ(log.wall_us, 1700000000500000);
  ASSERT_EQ(log.values.size(), 3u);
  EXPECT_TRUE(std::isnan(log.values[0].second));  // "acc" (keys come sorted)
  EXPECT_EQ(log.values[1].first, "train/loss");
  EXPECT_TRUE(std::isinf(log.values[2].second) && log.values[2].second < 0);
  EXPECT_EQ((*r)[1].config["model"], "tiny");
  EXPECT_EQ((*r)[2].text, "warm-up done");
  EXPECT_EQ((*r)[3].done, 3);
  EXPECT_EQ((*r)[4].kind, Record::Kind::kFinish);
  // Formatting and parsing again give the same records.
  for (const Record& x : *r) {
    auto again = parse_lines(format_record(x));
    ASSERT_TRUE(again.ok()) << format_record(x);
    EXPECT_EQ(format_record((*again)[0]), format_record(x));
  }

  const std::vector<std::pair<std::string, std::string>> bad = {
      {"{\"kind\":\"log\",\"values\":{\"a\":1}}", "\"step\" is missing"},
      {"{\"kind\":\"log\",\"step\":-1,\"values\":{\"a\":1}}", "whole number"},
      {"{\"kind\":\"log\",\"step\":1,\"values\":{}}", "needs \"values\""},
      {"{\"kind\":\"log\",\"step\":1,\"values\":{\"a b\":1}}", "letters, digits"},
      {"{\"kind\":\"log\",\"step\":1,\"values\":{\"a\":\"1\"}}", "must be a number"},
      {"{\"kind\":\"log\",\"step\":1,\"time\":-3,\"values\":{\"a\":1}}", "seconds since"},
      {"{\"kind\":\"config\",\"values\":{\"a\":{\"b\":1}}}", "flatten nested"},
      {"{\"kind\":\"progress\",\"done\":5,\"total\":3}", "done <= total"},
      {"{\"kind\":\"image\"}", "unknown kind"},
      {"[1]", "JSON object"},
      {"{\"kind\":", "JSON"},
  };
  for (const auto& [text, says] : bad) {
    auto e = parse_lines("{\"kind\":\"finish\"}\n" + text);
    ASSERT_FALSE(e.ok()) << text;
    EXPECT_NE(e.status().message().find("line 2"), std::string::npos) << e.status().message();
    EXPECT_NE(e.status().message().find(says), std::string::npos) << e.status().message();
  }
  EXPECT_FALSE(check_tag(std::string(129, 'a')).ok());
  EXPECT_TRUE(check_tag("val/acc:top-1_x.y").ok());
}

std::vector<Point> make_points(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> noise(0, 0.2);
  std::vector<Point> out;
  for (size_t i = 0; i < n; ++i) {
    double v = std::exp(-static_cast<double>(i) / 3000.0) + noise(rng);
    if (i % 997 == 5) v = std::numeric_limits<double>::quiet_NaN();
    out.push_back(
        {static_cast<int64_t>(i * 2), 1700000000000000 + static_cast<int64_t>(i) * 1000, v});
  }
  out[12345 % n].value = 50;   // a spike a chart must show
  out[23456 % n].value = -50;  // and a dip
  return out;
}

TEST(TrainingStore, PointsComeBackAsWrittenAndAReaderSeesWhatIsFlushed) {
  testing::TempDir dir;
  const std::string d = dir.str() + "/run";
  auto w = RunWriter::open(d);
  ASSERT_TRUE(w.ok()) << w.status().message();
  const auto pts = make_points(10000, 1);
  for (const Point& p : pts) {
    ASSERT_TRUE((*w)->append("loss", p).ok());
    ASSERT_TRUE((*w)->append("lr", {p.step, p.wall_us, 0.1}).ok());
  }
  // Not flushed yet: the tags are there, the buffered points are not.
  auto early = read_series(d, "loss", {.points = 0});
  ASSERT_TRUE(early.ok());
  EXPECT_LT(early->total, 10000);
  ASSERT_TRUE((*w)->flush().ok());
  EXPECT_EQ(*read_tags(d), (std::vector<std::string>{"loss", "lr"}));
  auto all = read_series(d, "loss", {.points = 0});
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->total, 10000);
  ASSERT_EQ(all->points.size(), 10000u);
  for (size_t i = 0; i < pts.size(); ++i) {
    ASSERT_EQ(all->points[i].step, pts[i].step);
    ASSERT_EQ(all->points[i].wall_us, pts[i].wall_us);
    if (std::isnan(pts[i].value)) {
      ASSERT_TRUE(std::isnan(all->points[i].value));
    } else {
      ASSERT_EQ(all->points[i].value, pts[i].value);
    }
  }
  const RunSummary sum = summarize(d);
  EXPECT_EQ(sum.points, 20000);
  ASSERT_EQ(sum.last.size(), 2u);
  EXPECT_EQ(sum.last[1].first, "lr");
  EXPECT_EQ(sum.last[1].second.value, 0.1);
  auto missing = read_series(d, "acc", {});
  EXPECT_EQ(missing.status().code(), Code::kNotFound);
}

TEST(TrainingStore, ACrashCutRecordIsDroppedAndMissingSummariesAreRebuilt) {
  testing::TempDir dir;
  const std::string d = dir.str() + "/run";
  const auto pts = make_points(9000, 2);
  {
    auto w = RunWriter::open(d);
    ASSERT_TRUE(w.ok());
    for (const Point& p : pts) ASSERT_TRUE((*w)->append("loss", p).ok());
  }
  // A crash: half a record at the end, the summaries lost.
  {
    FILE* f = std::fopen((d + "/0.pts").c_str(), "ab");
    std::fwrite("abcdefghij", 1, 10, f);
    std::fclose(f);
  }
  ASSERT_EQ(::truncate((d + "/0.l1").c_str(), 32 * 10 + 7), 0);
  ASSERT_EQ(::truncate((d + "/0.l2").c_str(), 0), 0);
  auto reduced_before = read_series(d, "loss", {.points = 100});
  ASSERT_TRUE(reduced_before.ok());
  {
    auto w = RunWriter::open(d);
    ASSERT_TRUE(w.ok()) << w.status().message();
    EXPECT_EQ((*w)->count("loss"), 9000);
    ASSERT_TRUE((*w)->append("loss", {18000, 1800000000000000, 1.5}).ok());
  }
  EXPECT_EQ(std::filesystem::file_size(d + "/0.pts"), 9001u * 24);
  EXPECT_EQ(std::filesystem::file_size(d + "/0.l1"), 9001u / 64 * 32);
  EXPECT_EQ(std::filesystem::file_size(d + "/0.l2"), 9001u / 4096 * 32);
  auto after = read_series(d, "loss", {.points = 100});
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->total, 9001);
  EXPECT_EQ(after->points.back().value, 1.5);
}

// The least and greatest finite values of [lo, hi) by brute force.
std::pair<double, double> extremes(const std::vector<Point>& pts, size_t lo, size_t hi) {
  double mn = std::numeric_limits<double>::infinity(), mx = -mn;
  for (size_t i = lo; i < hi; ++i) {
    if (!std::isfinite(pts[i].value)) continue;
    mn = std::min(mn, pts[i].value);
    mx = std::max(mx, pts[i].value);
  }
  return {mn, mx};
}

TEST(TrainingStore, DownsamplingKeepsTheEndsTheExtremesAndAGridMatchesBruteForce) {
  testing::TempDir dir;
  const std::string d = dir.str() + "/run";
  const auto pts = make_points(300000, 3);
  {
    auto w = RunWriter::open(d);
    ASSERT_TRUE(w.ok());
    for (const Point& p : pts) ASSERT_TRUE((*w)->append("loss", p).ok());
  }
  // Whole series, and a range by step, by wall time and by relative time.
  struct Case {
    SeriesQuery q;
    size_t lo, hi;
  };
  const std::vector<Case> cases = {
      {{.points = 1000}, 0, pts.size()},
      {{.x = Axis::kStep, .from = 20001, .to = 400000, .points = 500}, 10001, 200001},
      {{.x = Axis::kWall, .from = 1700000000.5, .to = 1700000100.0, .points = 300}, 500, 100001},
      {{.x = Axis::kRelative, .from = 7, .to = 8, .points = 2000}, 7000, 8001},
  };
  for (const Case& c : cases) {
    auto s = read_series(d, "loss", c.q);
    ASSERT_TRUE(s.ok()) << s.status().message();
    EXPECT_EQ(s->in_range, static_cast<int64_t>(c.hi - c.lo));
    ASSERT_LE(s->points.size(), static_cast<size_t>(c.q.points));
    EXPECT_TRUE(s->reduced == (c.hi - c.lo > static_cast<size_t>(c.q.points)));
    EXPECT_EQ(s->points.front().step, pts[c.lo].step);
    EXPECT_EQ(s->points.back().step, pts[c.hi - 1].step);
    const auto [mn, mx] = extremes(pts, c.lo, c.hi);
    double got_mn = std::numeric_limits<double>::infinity(), got_mx = -got_mn;
    int64_t last_step = -1;
    for (const auto& p : s->points) {
      got_mn = std::min(got_mn, p.value);
      got_mx = std::max(got_mx, p.value);
      EXPECT_GT(p.step, last_step);  // in order, no repeats
      last_step = p.step;
    }
    EXPECT_EQ(got_mn, mn);
    EXPECT_EQ(got_mx, mx);
  }
  // A grid: equal-width buckets on the step axis, each the mean, least and greatest value.
  auto g = read_series(d, "loss", {.from = 0, .to = 100000, .points = 64, .grid = true});
  ASSERT_TRUE(g.ok());
  ASSERT_EQ(g->points.size(), 64u);
  const double width = 100000.0 / 64;
  for (size_t b = 0; b < 64; ++b) {
    const auto& p = g->points[b];
    EXPECT_DOUBLE_EQ(p.x, width * static_cast<double>(b));
    double sum = 0, mn = std::numeric_limits<double>::infinity(), mx = -mn;
    int64_t n = 0;
    for (const Point& x : pts) {
      const double step = static_cast<double>(x.step);
      const bool in = step >= p.x && (b == 63 ? step <= 100000 : step < p.x + width);
      if (!in || !std::isfinite(x.value)) continue;
      sum += x.value;
      mn = std::min(mn, x.value);
      mx = std::max(mx, x.value);
      ++n;
    }
    EXPECT_EQ(p.count, n) << b;
    EXPECT_NEAR(p.value, sum / static_cast<double>(n), 1e-9) << b;
    EXPECT_EQ(p.min, mn);
    EXPECT_EQ(p.max, mx);
  }
}

TEST(TrainingStore, SmoothingIsTheDebiasedAverageWhateverTheRangeOrPointCount) {
  testing::TempDir dir;
  const std::string d = dir.str() + "/run";
  const auto pts = make_points(50000, 4);
  {
    auto w = RunWriter::open(d);
    ASSERT_TRUE(w.ok());
    for (const Point& p : pts) ASSERT_TRUE((*w)->append("loss", p).ok());
  }
  // By brute force, as TensorBoard smooths.
  const double w = 0.9;
  std::vector<double> want(pts.size());
  double last = 0;
  int n = 0;
  for (size_t i = 0; i < pts.size(); ++i) {
    if (std::isfinite(pts[i].value)) {
      last = last * w + (1 - w) * pts[i].value;
      ++n;
    }
    want[i] = n > 0 ? last / (1 - std::pow(w, n)) : pts[i].value;
  }
  for (const SeriesQuery& q :
       {SeriesQuery{.points = 0, .smoothing = w}, SeriesQuery{.points = 300, .smoothing = w},
        SeriesQuery{.from = 40000, .to = 50000, .points = 50, .smoothing = w}}) {
    auto s = read_series(d, "loss", q);
    ASSERT_TRUE(s.ok());
    ASSERT_FALSE(s->points.empty());
    for (const auto& p : s->points) {
      const size_t i = static_cast<size_t>(p.step / 2);
      ASSERT_NEAR(p.smoothed, want[i], 1e-9 * std::max(1.0, std::abs(want[i]))) << i;
    }
  }
}

TEST(TrainingStore, ACurveAgainstAnotherTagTakesThatTagsValueAsOfEachStep) {
  testing::TempDir dir;
  const std::string d = dir.str() + "/run";
  {
    auto w = RunWriter::open(d);
    ASSERT_TRUE(w.ok());
    for (int64_t step = 0; step < 1000; ++step) {
      ASSERT_TRUE((*w)->append("loss", {step, step, 1.0 / static_cast<double>(step + 1)}).ok());
      // The learning rate, logged every 10 steps from step 5 on.
      if (step % 10 == 5) {
        ASSERT_TRUE((*w)->append("lr", {step, step, static_cast<double>(step) / 1000}).ok());
      }
    }
  }
  auto s = read_series(d, "loss", {.points = 0, .x_tag = "lr"});
  ASSERT_TRUE(s.ok()) << s.status().message();
  ASSERT_EQ(s->points.size(), 995u) << "steps before lr's first point have no x";
  EXPECT_EQ(s->points[0].step, 5);
  EXPECT_DOUBLE_EQ(s->points[0].x, 0.005);
  EXPECT_EQ(s->points[7].step, 12);
  EXPECT_DOUBLE_EQ(s->points[7].x, 0.005) << "as of step 12: lr's point of step 5";
  EXPECT_DOUBLE_EQ(s->points[10].x, 0.015);
  // A range of lr values, and a point count.
  auto some = read_series(d, "loss", {.from = 0.1, .to = 0.2, .points = 20, .x_tag = "lr"});
  ASSERT_TRUE(some.ok());
  EXPECT_EQ(some->in_range, 100);  // lr 0.105 to 0.195: steps 105 to 204
  EXPECT_LE(some->points.size(), 20u);
  EXPECT_TRUE(some->reduced);
  for (const auto& p : some->points) EXPECT_TRUE(p.x >= 0.1 && p.x <= 0.2) << p.x;
  EXPECT_EQ(read_series(d, "loss", {.x_tag = "acc"}).status().code(), Code::kNotFound);
}

TEST(TrainingStore, LttbPicksTheTriangleCornersOfASmallCurve) {
  const std::vector<double> x = {0, 1, 2, 3, 4, 5, 6, 7, 8};
  const std::vector<double> y = {0, 0, 9, 0, 0, 0, -9, 0, 0};
  EXPECT_EQ(lttb(x, y, 4), (std::vector<size_t>{0, 2, 6, 8}));
  EXPECT_EQ(lttb(x, y, 20).size(), 9u);
  EXPECT_EQ(lttb({}, {}, 3).size(), 0u);
}

TEST(TrainingStore, AxisNamesAreCheckedWithTheChoices) {
  EXPECT_EQ(*parse_axis("wall"), Axis::kWall);
  auto bad = parse_axis("epoch");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("relative"), std::string::npos);
}

// RFC 3720, B.4: the CRC-32C of 32 bytes of zeros, of ones, ascending and descending.
TEST(TensorBoard, Crc32cMatchesRfc3720) {
  std::string asc, desc;
  for (int i = 0; i < 32; ++i) {
    asc.push_back(static_cast<char>(i));
    desc.push_back(static_cast<char>(31 - i));
  }
  EXPECT_EQ(crc32c(std::string(32, '\0')), 0x8a9136aau);
  EXPECT_EQ(crc32c(std::string(32, '\xff')), 0x62a8ab43u);
  EXPECT_EQ(crc32c(asc), 0x46dd794eu);
  EXPECT_EQ(crc32c(desc), 0x113fdb5cu);
  // An iSCSI read command PDU (the RFC's fifth vector).
  const unsigned char pdu[48] = {0x01, 0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                                 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00,
                                 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00,
                                 0x00, 0x18, 0x28, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                                 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};
  EXPECT_EQ(crc32c(std::string_view(reinterpret_cast<const char*>(pdu), 48)), 0xd9963a56u);
  // Incremental use gives the same.
  EXPECT_EQ(crc32c(asc.substr(7), crc32c(asc.substr(0, 7))), 0x46dd794eu);
}

TEST(TensorBoard, ScalarsWrittenReadBackAndDamageIsNamed) {
  std::string file;
  EventWriter w(file);
  w.file_version(1700000000.0);
  for (int i = 0; i < 100; ++i) {
    w.scalar(1700000000.0 + i, int64_t{i} * 10, i % 2 ? "train/loss" : "val/acc", 1.0f / (i + 1));
  }
  auto r = read_event_file(file);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->file_version, "brain.Event:2");
  EXPECT_EQ(r->events, 101);
  ASSERT_EQ(r->scalars.size(), 100u);
  EXPECT_EQ(r->scalars[3].tag, "train/loss");
  EXPECT_EQ(r->scalars[3].step, 30);
  EXPECT_EQ(r->scalars[3].wall_s, 1700000003.0);
  EXPECT_EQ(r->scalars[3].value, 1.0f / 4);
  EXPECT_FALSE(r->truncated);
  // Cut mid-record: what is whole is read, the cut is said.
  auto cut = read_event_file(std::string_view(file).substr(0, file.size() - 5));
  ASSERT_TRUE(cut.ok());
  EXPECT_EQ(cut->scalars.size(), 99u);
  EXPECT_TRUE(cut->truncated);
  // A flipped bit: the CRC catches it, with the place.
  std::string bad = file;
  bad[bad.size() - 10] ^= 1;
  auto broken = read_event_file(bad);
  ASSERT_FALSE(broken.ok());
  EXPECT_NE(broken.status().message().find("CRC"), std::string::npos);
  EXPECT_NE(broken.status().message().find("at byte"), std::string::npos);
}

// What tf.summary.scalar writes in TensorFlow 2: a tensor under the scalars plugin, its
// value in tensor_content, float_val (packed) or double_val.
TEST(TensorBoard, TensorScalarsAreRead) {
  auto event = [](const std::string& tensor) {
    std::string value =
        std::string("\x0a\x04loss") + "\x42" + static_cast<char>(tensor.size()) + tensor;
    std::string summary = "\x0a" + std::string(1, static_cast<char>(value.size())) + value;
    std::string e = std::string("\x10\x07") + "\x2a" +
                    std::string(1, static_cast<char>(summary.size())) + summary;
    std::string file, len;
    const uint64_t n = e.size();
    len.assign(reinterpret_cast<const char*>(&n), 8);
    const uint32_t c1 = masked_crc32c(len), c2 = masked_crc32c(e);
    file = len + std::string(reinterpret_cast<const char*>(&c1), 4) + e +
           std::string(reinterpret_cast<const char*>(&c2), 4);
    return file;
  };
  const float f = 0.25f;
  const double d = 0.125;
  const std::string content =
      std::string("\x08\x01") + "\x22\x04" + std::string(reinterpret_cast<const char*>(&f), 4);
  const std::string packed_float =
      std::string("\x08\x01") + "\x2a\x04" + std::string(reinterpret_cast<const char*>(&f), 4);
  const std::string one_double =
      std::string("\x08\x02") + "\x31" + std::string(reinterpret_cast<const char*>(&d), 8);
  for (const auto& [tensor, want] : std::vector<std::pair<std::string, double>>{
           {content, 0.25}, {packed_float, 0.25}, {one_double, 0.125}}) {
    auto r = read_event_file(event(tensor));
    ASSERT_TRUE(r.ok()) << r.status().message();
    ASSERT_EQ(r->scalars.size(), 1u);
    EXPECT_EQ(r->scalars[0].step, 7);
    EXPECT_EQ(r->scalars[0].value, want);
  }
}

}  // namespace
}  // namespace jz::training
