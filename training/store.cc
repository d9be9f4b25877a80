#include "training/store.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>

#include "core/bytes.h"
#include "core/files.h"

namespace jz::training {

namespace {

constexpr size_t kPointSize = 24, kSumSize = 32;
constexpr uint64_t kBlock1 = 64, kBlock2 = 4096;
constexpr size_t kFlushAt = size_t{1} << 20;

std::string sys_error(const std::string& what, const std::string& path) {
  return what + " " + path + ": " + errno_message(errno);
}

Point point_at(const char* base, uint64_t i) {
  const char* p = base + i * kPointSize;
  return {get_bytes<int64_t>(p), get_bytes<int64_t>(p + 8), get_bytes<double>(p + 16)};
}

std::string tag_file(const std::string& dir, int id, const char* ext) {
  return dir + "/" + std::to_string(id) + ext;
}

// A read-only mapping of a whole file as it is when opened (empty when it is missing).
class Mapped {
 public:
  explicit Mapped(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    struct stat st {};
    if (::fstat(fd, &st) == 0 && st.st_size > 0) {
      void* p = ::mmap(nullptr, static_cast<size_t>(st.st_size), PROT_READ, MAP_SHARED, fd, 0);
      if (p != MAP_FAILED) {
        data_ = static_cast<const char*>(p);
        size_ = static_cast<size_t>(st.st_size);
      }
    }
    ::close(fd);
  }
  ~Mapped() {
    if (data_) ::munmap(const_cast<char*>(data_), size_);
  }
  Mapped(const Mapped&) = delete;
  Mapped& operator=(const Mapped&) = delete;
  const char* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  const char* data_ = nullptr;
  size_t size_ = 0;
};

struct Agg {
  uint64_t min_idx = 0, max_idx = 0;
  double min = 0, max = 0, sum = 0;
  uint64_t n = 0;
  void add(uint64_t idx, double v) {
    if (!std::isfinite(v)) return;
    if (n == 0 || v < min) min = v, min_idx = idx;
    if (n == 0 || v > max) max = v, max_idx = idx;
    sum += v;
    ++n;
  }
  void merge(const Agg& o) {
    if (o.n == 0) return;
    if (n == 0 || o.min < min) min = o.min, min_idx = o.min_idx;
    if (n == 0 || o.max > max) max = o.max, max_idx = o.max_idx;
    sum += o.sum;
    n += o.n;
  }
};

// One tag's files as a reader sees them.
class SeriesFiles {
 public:
  SeriesFiles(const std::string& dir, int id)
      : pts_(tag_file(dir, id, ".pts")),
        l1_(tag_file(dir, id, ".l1")),
        l2_(tag_file(dir, id, ".l2")),
        n_(pts_.size() / kPointSize),
        e1_(std::min<uint64_t>(l1_.size() / kSumSize, n_ / kBlock1)),
        e2_(std::min<uint64_t>(l2_.size() / kSumSize, n_ / kBlock2)) {}
  uint64_t size() const { return n_; }
  Point at(uint64_t i) const { return point_at(pts_.data(), i); }

  // The finite values of points [i0, i1): least, greatest, sum, count.
  Agg aggregate(uint64_t i0, uint64_t i1) const {
    Agg a;
    uint64_t i = i0;
    while (i < i1) {
      if (i % kBlock2 == 0 && i + kBlock2 <= i1 && i / kBlock2 < e2_) {
        a.merge(summary(l2_, i / kBlock2));
        i += kBlock2;
      } else if (i % kBlock1 == 0 && i + kBlock1 <= i1 && i / kBlock1 < e1_) {
        a.merge(summary(l1_, i / kBlock1));
        i += kBlock1;
      } else {
        a.add(i, at(i).value);
        ++i;
      }
    }
    return a;
  }

  // The first index whose key is >= k (or > k with `after`), by bisection.
  uint64_t bound(bool wall, double k, bool after) const {
    uint64_t lo = 0, hi = n_;
    while (lo < hi) {
      const uint64_t mid = lo + (hi - lo) / 2;
      const Point p = at(mid);
      const double key = wall ? static_cast<double>(p.wall_us) / 1e6 : static_cast<double>(p.step);
      if (after ? key <= k : key < k) {
        lo = mid + 1;
      } else {
        hi = mid;
      }
    }
    return lo;
  }

 private:
  Agg summary(const Mapped& m, uint64_t e) const {
    const char* p = m.data() + e * kSumSize;
    Agg a;
    a.n = get_bytes<uint64_t>(p + 24);
    if (a.n == 0) return a;
    a.min_idx = get_bytes<uint64_t>(p);
    a.max_idx = get_bytes<uint64_t>(p + 8);
    a.sum = get_bytes<double>(p + 16);
    a.min = at(a.min_idx).value;
    a.max = at(a.max_idx).value;
    return a;
  }
  Mapped pts_, l1_, l2_;
  uint64_t n_, e1_, e2_;
};

}  // namespace

// ---- writing ---------------------------------------------------------------------------

void RunWriter::add_to(Level& b, uint64_t idx, double v) {
  if (b.seen == 0) b.min_idx = b.max_idx = idx;
  ++b.seen;
  if (!std::isfinite(v)) return;
  if (b.n == 0 || v < b.min) b.min = v, b.min_idx = idx;
  if (b.n == 0 || v > b.max) b.max = v, b.max_idx = idx;
  b.sum += v;
  ++b.n;
}

namespace {
void emit(std::string& out, const auto& b) {
  put_bytes<uint64_t>(out, b.min_idx);
  put_bytes<uint64_t>(out, b.max_idx);
  put_bytes<double>(out, b.sum);
  put_bytes<uint64_t>(out, b.n);
}
}  // namespace

Result<std::unique_ptr<RunWriter>> RunWriter::open(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Status::internal("cannot create " + dir + ": " + ec.message());
  ::chmod(dir.c_str(), 0700);
  std::unique_ptr<RunWriter> w(new RunWriter());
  w->dir_ = dir;
  JZ_ASSIGN_OR_RETURN(auto tags, read_tags(dir));
  for (size_t i = 0; i < tags.size(); ++i) {
    w->tags_.push_back(tags[i]);
    w->index_[tags[i]] = static_cast<int>(i);
    w->files_.push_back(std::make_unique<Tag>());
    JZ_RETURN_IF_ERROR(w->open_tag(static_cast<int>(i), *w->files_.back()));
  }
  return w;
}

RunWriter::~RunWriter() {
  (void)flush();
  for (auto& t : files_) {
    for (int fd : {t->fd, t->l1, t->l2}) {
      if (fd >= 0) ::close(fd);
    }
  }
}

Status RunWriter::open_tag(int id, Tag& t) {
  const std::string pts = tag_file(dir_, id, ".pts");
  auto open_one = [](const std::string& path, int& fd) -> Status {
    fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0) return Status::internal(sys_error("cannot open", path));
    return {};
  };
  JZ_RETURN_IF_ERROR(open_one(pts, t.fd));
  JZ_RETURN_IF_ERROR(open_one(tag_file(dir_, id, ".l1"), t.l1));
  JZ_RETURN_IF_ERROR(open_one(tag_file(dir_, id, ".l2"), t.l2));
  // Whole records only; summaries for the points there, rebuilt where missing.
  struct stat st {};
  if (::fstat(t.fd, &st) != 0) return Status::internal(sys_error("cannot stat", pts));
  const uint64_t n = static_cast<uint64_t>(st.st_size) / kPointSize;
  if (static_cast<uint64_t>(st.st_size) != n * kPointSize &&
      ::ftruncate(t.fd, static_cast<off_t>(n * kPointSize)) != 0) {
    return Status::internal(sys_error("cannot truncate", pts));
  }
  t.count = static_cast<int64_t>(n);
  // The summaries there (those of whole blocks only), and the points from the first block
  // without one: enough to rebuild the missing ones and the open blocks.
  uint64_t have[2];
  const uint64_t blocks[2] = {kBlock1, kBlock2};
  const int fds[2] = {t.l1, t.l2};
  const char* exts[2] = {".l1", ".l2"};
  for (int l = 0; l < 2; ++l) {
    struct stat s {};
    if (::fstat(fds[l], &s) != 0) return Status::internal(sys_error("cannot stat", exts[l]));
    have[l] = std::min<uint64_t>(static_cast<uint64_t>(s.st_size) / kSumSize, n / blocks[l]);
    if (::ftruncate(fds[l], static_cast<off_t>(have[l] * kSumSize)) != 0) {
      return Status::internal(sys_error("cannot truncate", tag_file(dir_, id, exts[l])));
    }
  }
  const uint64_t from = std::min(have[0] * kBlock1, have[1] * kBlock2);
  std::vector<Point> points(n - from);
  static_assert(sizeof(Point) == kPointSize);
  if (n > from && ::pread(t.fd, points.data(), (n - from) * kPointSize,
                          static_cast<off_t>(from * kPointSize)) !=
                      static_cast<ssize_t>((n - from) * kPointSize)) {
    return Status::internal(sys_error("cannot read", pts));
  }
  Level* open[2] = {&t.b1, &t.b2};
  for (int l = 0; l < 2; ++l) {
    std::string missing;
    const uint64_t block = blocks[l];
    for (uint64_t b = have[l]; b < n / block; ++b) {
      Level lv;
      for (uint64_t i = b * block; i < (b + 1) * block; ++i) add_to(lv, i, points[i - from].value);
      emit(missing, lv);
    }
    for (uint64_t i = n / block * block; i < n; ++i) add_to(*open[l], i, points[i - from].value);
    JZ_RETURN_IF_ERROR(write_all(fds[l], missing, tag_file(dir_, id, exts[l])));
  }
  return {};
}

Status RunWriter::add_tag(const std::string& name, int id) {
  if (name.empty() || name.find('\n') != std::string::npos) {
    return Status::invalid_argument("a tag name must be one line of text");
  }
  auto t = std::make_unique<Tag>();
  JZ_RETURN_IF_ERROR(open_tag(id, *t));
  const std::string path = dir_ + "/tags";
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) return Status::internal(sys_error("cannot open", path));
  Status st = write_all(fd, name + "\n", path);
  ::close(fd);
  JZ_RETURN_IF_ERROR(st);
  tags_.push_back(name);
  index_[name] = id;
  files_.push_back(std::move(t));
  return {};
}

Status RunWriter::append(const std::string& tag, const Point& p) {
  auto it = index_.find(tag);
  if (it == index_.end()) {
    JZ_RETURN_IF_ERROR(add_tag(tag, static_cast<int>(tags_.size())));
    it = index_.find(tag);
  }
  Tag& t = *files_[static_cast<size_t>(it->second)];
  put_bytes<int64_t>(t.buf, p.step);
  put_bytes<int64_t>(t.buf, p.wall_us);
  put_bytes<double>(t.buf, p.value);
  buffered_ += kPointSize;
  const auto idx = static_cast<uint64_t>(t.count++);
  add_to(t.b1, idx, p.value);
  if (t.b1.seen == kBlock1) {
    emit(t.l1_buf, t.b1);
    t.b1 = {};
  }
  add_to(t.b2, idx, p.value);
  if (t.b2.seen == kBlock2) {
    emit(t.l2_buf, t.b2);
    t.b2 = {};
  }
  if (buffered_ >= kFlushAt) return flush();
  return {};
}

Status RunWriter::flush() {
  Status first;
  for (size_t id = 0; id < files_.size(); ++id) {
    Tag& t = *files_[id];
    // Points first, so a reader never sees a summary of points it cannot read.
    for (auto [fd, buf, ext] :
         {std::tuple{t.fd, &t.buf, ".pts"}, std::tuple{t.l1, &t.l1_buf, ".l1"},
          std::tuple{t.l2, &t.l2_buf, ".l2"}}) {
      if (buf->empty()) continue;
      Status st = write_all(fd, *buf, tag_file(dir_, static_cast<int>(id), ext));
      if (!st.ok() && first.ok()) first = st;
      buf->clear();
    }
  }
  buffered_ = 0;
  return first;
}

int64_t RunWriter::count(const std::string& tag) const {
  auto it = index_.find(tag);
  return it == index_.end() ? 0 : files_[static_cast<size_t>(it->second)]->count;
}

// ---- reading ---------------------------------------------------------------------------

Result<std::vector<std::string>> read_tags(const std::string& dir) {
  std::vector<std::string> out;
  if (!std::filesystem::exists(dir + "/tags")) return out;
  JZ_ASSIGN_OR_RETURN(std::string text, read_file(dir + "/tags"));
  size_t start = 0;
  while (start < text.size()) {
    const size_t nl = text.find('\n', start);
    if (nl == std::string::npos) break;  // a line still being written
    out.push_back(text.substr(start, nl - start));
    start = nl + 1;
  }
  return out;
}

std::vector<Point> read_points(const std::string& dir, const std::string& tag, int64_t from,
                               int64_t max) {
  std::vector<Point> out;
  auto tags = read_tags(dir);
  if (!tags.ok()) return out;
  auto it = std::find(tags->begin(), tags->end(), tag);
  if (it == tags->end() || from < 0 || max <= 0) return out;
  const SeriesFiles f(dir, static_cast<int>(it - tags->begin()));
  for (auto i = static_cast<uint64_t>(from); i < f.size() && out.size() < static_cast<size_t>(max);
       ++i) {
    out.push_back(f.at(i));
  }
  return out;
}

RunSummary summarize(const std::string& dir) {
  RunSummary out;
  auto tags = read_tags(dir);
  if (!tags.ok()) return out;
  for (size_t i = 0; i < tags->size(); ++i) {
    const std::string path = tag_file(dir, static_cast<int>(i), ".pts");
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    struct stat st {};
    const uint64_t n = ::fstat(fd, &st) == 0 ? static_cast<uint64_t>(st.st_size) / kPointSize : 0;
    char rec[kPointSize];
    if (n > 0 && ::pread(fd, rec, kPointSize, static_cast<off_t>((n - 1) * kPointSize)) ==
                     static_cast<ssize_t>(kPointSize)) {
      out.points += static_cast<int64_t>(n);
      out.last.emplace_back((*tags)[i], point_at(rec, 0));
    }
    ::close(fd);
  }
  return out;
}

Result<Axis> parse_axis(const std::string& text) {
  if (text == "step" || text.empty()) return Axis::kStep;
  if (text == "wall") return Axis::kWall;
  if (text == "relative") return Axis::kRelative;
  return Status::invalid_argument("unknown x axis \"" + text +
                                  "\": use step, wall (seconds since the epoch), relative "
                                  "(seconds since the series' first point) or tag:NAME");
}

std::vector<size_t> lttb(const std::vector<double>& x, const std::vector<double>& y, size_t n) {
  const size_t len = x.size();
  std::vector<size_t> out;
  if (n >= len || len <= 2) {
    for (size_t i = 0; i < len; ++i) out.push_back(i);
    return out;
  }
  if (n < 2) n = 2;
  out.reserve(n);
  out.push_back(0);
  const double every = static_cast<double>(len - 2) / static_cast<double>(n - 2);
  size_t a = 0;
  for (size_t b = 0; b < n - 2; ++b) {
    const auto start = static_cast<size_t>(std::floor(static_cast<double>(b) * every)) + 1;
    const size_t end =
        std::min(len - 1, static_cast<size_t>(std::floor(static_cast<double>(b + 1) * every)) + 1);
    // The mean of the next bucket (the last point for the last bucket).
    const size_t ns = end;
    const size_t ne =
        std::min(len, static_cast<size_t>(std::floor(static_cast<double>(b + 2) * every)) + 1);
    double ax = 0, ay = 0;
    const size_t cnt = ne > ns ? ne - ns : 0;
    if (cnt == 0) {
      ax = x[len - 1];
      ay = y[len - 1];
    } else {
      for (size_t i = ns; i < ne; ++i) ax += x[i], ay += y[i];
      ax /= static_cast<double>(cnt);
      ay /= static_cast<double>(cnt);
    }
    double best = -1;
    size_t pick = start;
    for (size_t i = start; i < end; ++i) {
      const double area = std::abs((x[a] - ax) * (y[i] - y[a]) - (x[a] - x[i]) * (ay - y[a]));
      if (area > best) best = area, pick = i;
    }
    out.push_back(pick);
    a = pick;
  }
  out.push_back(len - 1);
  return out;
}

Result<Series> read_series(const std::string& dir, const std::string& tag, const SeriesQuery& q) {
  JZ_ASSIGN_OR_RETURN(auto tags, read_tags(dir));
  auto it = std::find(tags.begin(), tags.end(), tag);
  if (it == tags.end()) return Status::not_found("the run has no tag \"" + tag + "\"");
  const SeriesFiles f(dir, static_cast<int>(it - tags.begin()));
  Series s;
  s.tag = tag;
  s.total = static_cast<int64_t>(f.size());
  if (f.size() == 0) return s;
  s.first_wall_us = f.at(0).wall_us;
  const bool wall = q.x != Axis::kStep;
  const double shift = q.x == Axis::kRelative ? static_cast<double>(s.first_wall_us) / 1e6 : 0;
  auto x_of = [&](const Point& p) {
    switch (q.x) {
      case Axis::kStep:
        return static_cast<double>(p.step);
      case Axis::kWall:
        return static_cast<double>(p.wall_us) / 1e6;
      case Axis::kRelative:
        return static_cast<double>(p.wall_us - s.first_wall_us) / 1e6;
    }
    return 0.0;
  };
  const bool by_index = q.x_tag.empty();  // from/to are on this series' own axis
  const uint64_t i0 = q.from && by_index ? f.bound(wall, *q.from + shift, false) : 0;
  const uint64_t i1 = q.to && by_index ? f.bound(wall, *q.to + shift, true) : f.size();
  if (i1 <= i0) return s;
  s.in_range = static_cast<int64_t>(i1 - i0);
  auto push = [&](uint64_t i) {
    const Point p = f.at(i);
    s.points.push_back({.step = p.step, .wall_us = p.wall_us, .x = x_of(p), .value = p.value});
  };

  if (q.grid) {
    const int64_t buckets = std::max<int64_t>(1, q.points);
    const double from = q.from ? *q.from : x_of(f.at(i0));
    const double to = q.to ? *q.to : x_of(f.at(i1 - 1));
    const double width = to > from ? (to - from) / static_cast<double>(buckets) : 1;
    uint64_t lo = i0;
    for (int64_t b = 0; b < buckets && lo < i1; ++b) {
      const double start = from + width * static_cast<double>(b);
      const uint64_t hi =
          b + 1 == buckets ? i1 : std::min(i1, f.bound(wall, start + width + shift, false));
      if (hi <= lo) continue;
      const Agg a = f.aggregate(lo, hi);
      const Point first = f.at(lo);
      if (a.n > 0) {
        s.points.push_back({.step = first.step,
                            .wall_us = first.wall_us,
                            .x = start,
                            .value = a.sum / static_cast<double>(a.n),
                            .min = a.min,
                            .max = a.max,
                            .count = static_cast<int64_t>(a.n)});
      }
      lo = hi;
    }
    s.reduced = true;
    return s;
  }

  std::vector<uint64_t> chosen;  // the indices returned, in order
  auto finish = [&]() -> Result<Series> {
    for (uint64_t i : chosen) push(i);
    if (q.smoothing > 0 && !chosen.empty()) {
      // One pass from the series' start; non-finite values are skipped.
      double last = 0, debias = 1;
      size_t k = 0;
      for (uint64_t i = 0; i <= chosen.back(); ++i) {
        const double v = f.at(i).value;
        if (std::isfinite(v)) {
          last = last * q.smoothing + (1 - q.smoothing) * v;
          debias *= q.smoothing;
        }
        if (i == chosen[k]) {
          s.points[k].smoothed = debias < 1 ? last / (1 - debias) : v;
          ++k;
        }
      }
    }
    return s;
  };
  if (!q.x_tag.empty()) {
    auto xi = std::find(tags.begin(), tags.end(), q.x_tag);
    if (xi == tags.end()) return Status::not_found("the run has no tag \"" + q.x_tag + "\"");
    const SeriesFiles xf(dir, static_cast<int>(xi - tags.begin()));
    constexpr uint64_t kMaxJoined = 2'000'000;
    if (f.size() > kMaxJoined || xf.size() > kMaxJoined) {
      return Status::resource_exhausted(
          "a curve against another tag takes series of at most "
          "2,000,000 points");
    }
    // (from/to were taken as steps above: the whole series, filtered by x below.)
    uint64_t k = 0;
    bool any = false;
    double xv = 0;
    std::vector<std::pair<uint64_t, double>> joined;  // y index, x
    for (uint64_t i = 0; i < f.size(); ++i) {
      const Point y = f.at(i);
      while (k < xf.size() && xf.at(k).step <= y.step) {
        xv = xf.at(k++).value;
        any = true;
      }
      if (!any || !std::isfinite(xv)) continue;
      if ((q.from && xv < *q.from) || (q.to && xv > *q.to)) continue;
      joined.emplace_back(i, xv);
    }
    s.in_range = static_cast<int64_t>(joined.size());
    const size_t stride =
        q.points > 0 && joined.size() > static_cast<size_t>(q.points)
            ? (joined.size() + static_cast<size_t>(q.points) - 1) / static_cast<size_t>(q.points)
            : 1;
    s.reduced = stride > 1;
    std::vector<double> xs;
    for (size_t j = 0; j < joined.size(); j += stride) {
      chosen.push_back(joined[j].first);
      xs.push_back(joined[j].second);
    }
    JZ_ASSIGN_OR_RETURN(Series out, finish());
    for (size_t j = 0; j < out.points.size(); ++j) out.points[j].x = xs[j];
    return out;
  }
  const uint64_t n = i1 - i0;
  if (q.points <= 0 || n <= static_cast<uint64_t>(q.points)) {
    for (uint64_t i = i0; i < i1; ++i) chosen.push_back(i);
    return finish();
  }
  // Min/max preselection (two candidates per bucket, from the summaries), then LTTB.
  const uint64_t buckets = std::min<uint64_t>(n, static_cast<uint64_t>(q.points) * 2);
  std::vector<uint64_t> cand;
  cand.reserve(buckets * 2 + 2);
  auto keep = [&](uint64_t i) {
    if (!std::isfinite(f.at(i).value)) return;
    if (cand.empty() || cand.back() < i) cand.push_back(i);
  };
  keep(i0);
  for (uint64_t b = 0; b < buckets; ++b) {
    const uint64_t lo = i0 + n * b / buckets, hi = i0 + n * (b + 1) / buckets;
    const Agg a = f.aggregate(lo, hi);
    if (a.n == 0) continue;
    keep(std::min(a.min_idx, a.max_idx));
    keep(std::max(a.min_idx, a.max_idx));
  }
  keep(i1 - 1);
  std::vector<double> xs, ys;
  xs.reserve(cand.size());
  ys.reserve(cand.size());
  for (uint64_t i : cand) {
    const Point p = f.at(i);
    xs.push_back(x_of(p));
    ys.push_back(p.value);
  }
  for (size_t k : lttb(xs, ys, static_cast<size_t>(q.points))) chosen.push_back(cand[k]);
  s.reduced = true;
  return finish();
}

}  // namespace jz::training
