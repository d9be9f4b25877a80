// The metric store of one training run: per tag, every point as it came (step, wall time,
// value) and a pyramid of summaries, so a chart of millions of points is drawn from a few
// thousand reads (docs/TRAINING.md).
//
//   DIR/tags          the run's tags, one per line; a tag's number is its line (from 0)
//   DIR/N.pts         tag N's points: 24-byte records (i64 step, i64 wall time in
//                     microseconds, f64 value; little-endian), in the order logged
//   DIR/N.l1, N.l2    a summary of each whole block of 64 (l1) and 4,096 (l2) points:
//                     32-byte records (u64 index of the least finite value, u64 index of
//                     the greatest, f64 sum of the finite values, u64 their count)
//
// A reader takes whole records only and a summary only for points it can see, so it reads
// a prefix of the run while the writer appends. Steps are expected not to go down (a range
// by step or by time is found by bisection); a run whose steps go back is still stored
// and drawn in the order logged.
//
// RunWriter: one per folder at a time, one thread (callers lock). Readers: any number.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"

namespace jz::training {

struct Point {
  int64_t step = 0;
  int64_t wall_us = 0;
  double value = 0;
};

class RunWriter {
 public:
  // Opens DIR (created 0700 when missing) to append after what it holds; a record cut by a
  // crash is dropped and missing summaries are rebuilt from the points.
  static Result<std::unique_ptr<RunWriter>> open(const std::string& dir);
  ~RunWriter();
  RunWriter(const RunWriter&) = delete;
  RunWriter& operator=(const RunWriter&) = delete;

  // Buffers one point (a new tag is added to the run's list first); written by flush(),
  // or when 1 MiB is buffered.
  Status append(const std::string& tag, const Point& p);
  Status flush();
  size_t tag_count() const { return tags_.size(); }
  // Points of `tag` stored or buffered; 0 for an unknown tag.
  int64_t count(const std::string& tag) const;

 private:
  struct Level {
    uint64_t min_idx = 0, max_idx = 0;
    double min = 0, max = 0, sum = 0;
    uint64_t n = 0;  // finite values seen in the block
    uint64_t seen = 0;
  };
  struct Tag {
    int fd = -1, l1 = -1, l2 = -1;
    int64_t count = 0;  // points stored or buffered
    std::string buf, l1_buf, l2_buf;
    Level b1, b2;  // the open blocks
  };
  RunWriter() = default;
  Status add_tag(const std::string& name, int id);
  Status open_tag(int id, Tag& t);
  static void add_to(Level& b, uint64_t idx, double v);
  std::string dir_;
  std::vector<std::string> tags_;
  std::map<std::string, int> index_;
  std::vector<std::unique_ptr<Tag>> files_;
  size_t buffered_ = 0;
};

// The tags of the run in DIR, in the order they first came; empty when DIR has none.
Result<std::vector<std::string>> read_tags(const std::string& dir);

// Points [from, from + max) of a tag as stored (fewer at the end; none for an unknown tag).
std::vector<Point> read_points(const std::string& dir, const std::string& tag, int64_t from,
                               int64_t max);

// How many points the run in DIR has, and the last point of each tag (in tag order).
struct RunSummary {
  int64_t points = 0;
  std::vector<std::pair<std::string, Point>> last;
};
RunSummary summarize(const std::string& dir);

enum class Axis { kStep, kWall, kRelative };
// "step", "wall" or "relative"; invalid_argument naming the choices otherwise.
Result<Axis> parse_axis(const std::string& text);

struct SeriesQuery {
  Axis x = Axis::kStep;
  // The range on the axis (steps, or seconds: since the epoch for wall, since the series'
  // first point for relative); open when absent.
  std::optional<double> from, to;
  // At most this many points: more are reduced by min/max-preserving LTTB. 0: every point.
  int64_t points = 1000;
  // With `grid`, instead: `points` buckets of equal width over [from, to] (the same for
  // every run given the same range), each with the mean, least and greatest value.
  bool grid = false;
  // > 0 (below 1): each point also carries the debiased exponential moving average of the
  // series at it (TensorBoard's smoothing: s = w*s + (1-w)*v, divided by 1 - w^n), over
  // every point from the series' start, so it does not change with the range or the point
  // count. Not with `grid`.
  double smoothing = 0;
  // Another tag as the x axis: each point's x is that tag's value as of its step (the
  // latest point of that tag at or before it); points before its first are left out.
  // `from`/`to` are then values of that tag; at most 2,000,000 points a side; the curve is
  // reduced by taking every n-th point (the x order is not the series' order). Not with
  // `grid`.
  std::string x_tag;
};

struct SeriesPoint {
  int64_t step = 0, wall_us = 0;
  double x = 0, value = 0;
  double min = 0, max = 0;  // grid buckets only
  double smoothed = 0;      // with smoothing
  int64_t count = 0;        // grid buckets only: finite values in the bucket
};

struct Series {
  std::string tag;
  int64_t total = 0;     // points in the series
  int64_t in_range = 0;  // of them, in the range asked
  bool reduced = false;  // fewer points returned than in the range
  int64_t first_wall_us = 0;
  std::vector<SeriesPoint> points;
};

// One tag's series; not_found naming the tag when the run has no such tag.
Result<Series> read_series(const std::string& dir, const std::string& tag, const SeriesQuery& q);

// min/max-preserving LTTB over (x, y) pairs: the indices of at most `n` points (the first
// and the last always kept), in order. Exposed for tests and benchmarks.
std::vector<size_t> lttb(const std::vector<double>& x, const std::vector<double>& y, size_t n);

}  // namespace jz::training
