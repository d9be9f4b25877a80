#include "eval/coco.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <unordered_map>

namespace jz::eval {
namespace {

// numpy.linspace(start, stop, num), endpoint included, computed as numpy does, so the
// thresholds compare exactly as pycocotools' do.
std::vector<double> linspace(double start, double stop, int num) {
  std::vector<double> out(num);
  const double step = (stop - start) / (num - 1);
  for (int i = 0; i < num; ++i) out[i] = i * step + start;
  out[num - 1] = stop;
  return out;
}

// maskApi.c bbIou: intersection over union, or over the detection's area for crowds.
double iou(const Box& d, const Box& g, bool crowd) {
  const double w = std::fmin(d.w + d.x, g.w + g.x) - std::fmax(d.x, g.x);
  if (w <= 0) return 0;
  const double h = std::fmin(d.h + d.y, g.h + g.y) - std::fmax(d.y, g.y);
  if (h <= 0) return 0;
  const double i = w * h;
  const double da = d.w * d.h;
  const double u = crowd ? da : da + g.w * g.h - i;
  return i / u;
}

}  // namespace

CocoParams::CocoParams()
    : iou_thresholds(linspace(0.5, 0.95, 10)), recall_thresholds(linspace(0.0, 1.0, 101)) {}

const std::array<const char*, 12>& CocoResult::stat_names() {
  static const std::array<const char*, 12> kNames = {"AP",  "AP50", "AP75",  "APs", "APm", "APl",
                                                     "AR1", "AR10", "AR100", "ARs", "ARm", "ARl"};
  return kNames;
}

Json CocoResult::to_json() const {
  Json out = Json::object();
  for (size_t i = 0; i < stats.size(); ++i) out[stat_names()[i]] = stats[i];
  Json cats = Json::array();
  for (const auto& c : categories) {
    cats.push_back({{"id", c.id},
                    {"name", c.name},
                    {"AP", c.ap},
                    {"AP50", c.ap50},
                    {"AR100", c.ar100},
                    {"ground_truth", c.ground_truth},
                    {"detections", c.detections},
                    {"pr_curve_50", c.pr_curve_50}});
  }
  out["per_category"] = cats;
  return out;
}

Result<CocoResult> evaluate_coco(const CocoDataset& gt, const std::vector<Detection>& dets,
                                 const CocoParams& p) {
  // Images and categories in sorted id order, as pycocotools' Params.
  std::vector<int64_t> images = gt.image_ids;
  std::sort(images.begin(), images.end());
  images.erase(std::unique(images.begin(), images.end()), images.end());
  std::vector<CocoDataset::Category> cats = gt.categories;
  std::sort(cats.begin(), cats.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
  std::unordered_map<int64_t, size_t> image_index, cat_index;
  for (size_t i = 0; i < images.size(); ++i) image_index[images[i]] = i;
  for (size_t k = 0; k < cats.size(); ++k) cat_index[cats[k].id] = k;
  const size_t I = images.size(), K = cats.size();
  const size_t T = p.iou_thresholds.size(), R = p.recall_thresholds.size();
  const size_t A = p.area_ranges.size(), M = p.max_dets.size();
  const int max_det =
      p.max_dets.empty() ? 0 : *std::max_element(p.max_dets.begin(), p.max_dets.end());

  CocoResult result;
  result.categories.resize(K);
  for (size_t k = 0; k < K; ++k) {
    result.categories[k].id = cats[k].id;
    result.categories[k].name = cats[k].name;
  }

  // Buckets per (category, image): ground truth and detections sorted by bucket key
  // (category, then image), file order kept within a bucket. Everything below lives in
  // flat arrays indexed by bucket: a val2017-sized run has ~300,000 buckets.
  struct Ref {
    uint64_t key;
    int index;
  };
  std::vector<Ref> gref, dref;
  gref.reserve(gt.annotations.size());
  dref.reserve(dets.size());
  for (size_t n = 0; n < gt.annotations.size(); ++n) {
    const auto& g = gt.annotations[n];
    auto i = image_index.find(g.image_id);
    auto k = cat_index.find(g.category_id);
    if (i == image_index.end() || k == cat_index.end()) continue;
    gref.push_back({static_cast<uint64_t>(k->second) * I + i->second, static_cast<int>(n)});
    ++result.categories[k->second].ground_truth;
  }
  for (size_t n = 0; n < dets.size(); ++n) {
    const auto& d = dets[n];
    auto i = image_index.find(d.image_id);
    if (i == image_index.end()) {
      return Status::invalid_argument("detection " + std::to_string(n) + " is for image " +
                                      std::to_string(d.image_id) +
                                      ", which is not in the annotations");
    }
    auto k = cat_index.find(d.category_id);
    if (k == cat_index.end()) continue;  // categories not in the annotations are not scored
    dref.push_back({static_cast<uint64_t>(k->second) * I + i->second, static_cast<int>(n)});
    ++result.categories[k->second].detections;
  }
  auto by_key = [](const Ref& a, const Ref& b) { return a.key < b.key; };
  std::stable_sort(gref.begin(), gref.end(), by_key);
  std::stable_sort(dref.begin(), dref.end(), by_key);

  struct B {
    uint64_t key;
    size_t g0, g1, d0, d1;  // ranges in gref and dref; d1 is capped at max_det
    size_t iou0;            // offset into ious
  };
  std::vector<B> buckets;
  {
    size_t gi = 0, di = 0, iou_total = 0;
    while (gi < gref.size() || di < dref.size()) {
      const uint64_t key = std::min(gi < gref.size() ? gref[gi].key : UINT64_MAX,
                                    di < dref.size() ? dref[di].key : UINT64_MAX);
      B b{key, gi, gi, di, di, 0};
      while (b.g1 < gref.size() && gref[b.g1].key == key) ++b.g1;
      size_t dend = di;
      while (dend < dref.size() && dref[dend].key == key) ++dend;
      // Best first (stable), then the cap.
      std::stable_sort(
          dref.begin() + static_cast<long>(di), dref.begin() + static_cast<long>(dend),
          [&](const Ref& x, const Ref& y) { return dets[x.index].score > dets[y.index].score; });
      b.d1 = di + std::min(dend - di, static_cast<size_t>(std::max(max_det, 0)));
      b.iou0 = iou_total;
      iou_total += (b.d1 - b.d0) * (b.g1 - b.g0);
      buckets.push_back(b);
      gi = b.g1;
      di = dend;
    }
  }
  std::vector<double> ious;
  {
    size_t total = 0;
    for (const auto& b : buckets) total += (b.d1 - b.d0) * (b.g1 - b.g0);
    ious.resize(total);
  }
  for (const auto& b : buckets) {
    const size_t G = b.g1 - b.g0;
    for (size_t d = b.d0; d < b.d1; ++d) {
      for (size_t g = 0; g < G; ++g) {
        const auto& ga = gt.annotations[gref[b.g0 + g].index];
        ious[b.iou0 + (d - b.d0) * G + g] = iou(dets[dref[d].index].box, ga.box, ga.iscrowd);
      }
    }
  }

  // evaluateImg for every bucket and area range: per detection slot (its index in dref)
  // and threshold, whether it matched and whether it is ignored.
  const size_t ND = dref.size();
  std::vector<uint8_t> matched(A * T * ND, 0), dt_ignored(A * T * ND, 0);
  std::vector<int> gt_counted(buckets.size() * A, 0);
  auto slot = [&](size_t a, size_t t, size_t d) { return (a * T + t) * ND + d; };
  std::vector<int> order;
  std::vector<uint8_t> ignore_of, gt_used;
  for (size_t bi = 0; bi < buckets.size(); ++bi) {
    const B& b = buckets[bi];
    const size_t G = b.g1 - b.g0, D = b.d1 - b.d0;
    for (size_t a = 0; a < A; ++a) {
      const auto& range = p.area_ranges[a];
      // Ground truth: not-ignored first (stable).
      order.resize(G);
      ignore_of.resize(G);
      int counted = 0;
      for (size_t g = 0; g < G; ++g) {
        const auto& ga = gt.annotations[gref[b.g0 + g].index];
        ignore_of[g] = ga.iscrowd || ga.area < range[0] || ga.area > range[1];
        counted += !ignore_of[g];
      }
      gt_counted[bi * A + a] = counted;
      std::iota(order.begin(), order.end(), 0);
      std::stable_sort(order.begin(), order.end(),
                       [&](int x, int y) { return ignore_of[x] < ignore_of[y]; });
      if (G > 0 && D > 0) {
        gt_used.assign(T * G, 0);
        for (size_t t = 0; t < T; ++t) {
          for (size_t d = 0; d < D; ++d) {
            double best = std::min(p.iou_thresholds[t], 1 - 1e-10);
            int m = -1;
            for (size_t gi = 0; gi < G; ++gi) {
              const int g = order[gi];
              const bool crowd = gt.annotations[gref[b.g0 + g].index].iscrowd;
              if (gt_used[t * G + gi] && !crowd) continue;
              if (m > -1 && !ignore_of[order[m]] && ignore_of[g]) break;
              const double v = ious[b.iou0 + d * G + g];
              if (v < best) continue;
              best = v;
              m = static_cast<int>(gi);
            }
            if (m == -1) continue;
            dt_ignored[slot(a, t, b.d0 + d)] = ignore_of[order[m]];
            matched[slot(a, t, b.d0 + d)] = 1;
            gt_used[t * G + m] = 1;
          }
        }
      }
      for (size_t d = b.d0; d < b.d1; ++d) {
        const Box& box = dets[dref[d].index].box;
        const double area = box.w * box.h;
        if (area < range[0] || area > range[1]) {
          for (size_t t = 0; t < T; ++t) {
            if (!matched[slot(a, t, d)]) dt_ignored[slot(a, t, d)] = 1;
          }
        }
      }
    }
  }

  // accumulate(): per category and area, the detections of all images sorted by score
  // once (stable: image order, then rank within the image); each maxDets keeps those
  // ranked below its cap, in that same order.
  std::vector<double> precision(T * R * K * A * M, -1.0), recall(T * K * A * M, -1.0);
  auto P = [&](size_t t, size_t r, size_t k, size_t a, size_t m) -> double& {
    return precision[(((t * R + r) * K + k) * A + a) * M + m];
  };
  auto Rc = [&](size_t t, size_t k, size_t a, size_t m) -> double& {
    return recall[((t * K + k) * A + a) * M + m];
  };
  constexpr double kSpacing = 2.220446049250313e-16;  // numpy.spacing(1)
  struct Entry {
    double score;
    size_t d;  // slot in dref
    int rank;  // position within its image's detections
  };
  std::vector<Entry> entries, kept;
  std::vector<double> rc, pr;
  size_t bstart = 0;
  for (size_t k = 0; k < K; ++k) {
    size_t bend = bstart;
    while (bend < buckets.size() && buckets[bend].key / I == k) ++bend;
    if (bend == bstart) continue;
    for (size_t a = 0; a < A; ++a) {
      entries.clear();
      int npig = 0;
      for (size_t bi = bstart; bi < bend; ++bi) {
        const B& b = buckets[bi];
        for (size_t d = b.d0; d < b.d1; ++d) {
          entries.push_back({dets[dref[d].index].score, d, static_cast<int>(d - b.d0)});
        }
        npig += gt_counted[bi * A + a];
      }
      if (npig == 0) continue;
      std::stable_sort(entries.begin(), entries.end(),
                       [](const Entry& x, const Entry& y) { return x.score > y.score; });
      for (size_t m = 0; m < M; ++m) {
        kept.clear();
        for (const auto& e : entries) {
          if (e.rank < p.max_dets[m]) kept.push_back(e);
        }
        const size_t nd = kept.size();
        rc.resize(nd);
        pr.resize(nd);
        for (size_t t = 0; t < T; ++t) {
          double tps = 0, fps = 0;
          const uint8_t* mt = &matched[slot(a, t, 0)];
          const uint8_t* ig = &dt_ignored[slot(a, t, 0)];
          for (size_t j = 0; j < nd; ++j) {
            const size_t d = kept[j].d;
            if (!ig[d]) (mt[d] ? tps : fps) += 1;
            rc[j] = tps / npig;
            pr[j] = tps / (fps + tps + kSpacing);
          }
          Rc(t, k, a, m) = nd ? rc[nd - 1] : 0;
          for (size_t j = nd; j-- > 1;) {
            if (pr[j] > pr[j - 1]) pr[j - 1] = pr[j];
          }
          for (size_t r = 0; r < R; ++r) {
            const size_t pi = static_cast<size_t>(
                std::lower_bound(rc.begin(), rc.end(), p.recall_thresholds[r]) - rc.begin());
            if (pi >= nd) {
              for (size_t rest = r; rest < R; ++rest) P(t, rest, k, a, m) = 0;
              break;
            }
            P(t, r, k, a, m) = pr[pi];
          }
        }
      }
    }
    bstart = bend;
  }

  // summarize()
  auto index_of_dets = [&](int n) -> size_t {
    for (size_t m = 0; m < M; ++m) {
      if (p.max_dets[m] == n) return m;
    }
    return M - 1;
  };
  auto mean_valid = [](const std::vector<double>& v) {
    double sum = 0;
    size_t n = 0;
    for (double x : v) {
      if (x > -1) sum += x, ++n;
    }
    return n ? sum / n : -1.0;
  };
  auto ap = [&](std::optional<size_t> t_only, size_t a, size_t m, std::optional<size_t> k_only) {
    std::vector<double> v;
    for (size_t t = 0; t < T; ++t) {
      if (t_only && t != *t_only) continue;
      for (size_t r = 0; r < R; ++r) {
        for (size_t k = 0; k < K; ++k) {
          if (k_only && k != *k_only) continue;
          v.push_back(P(t, r, k, a, m));
        }
      }
    }
    return mean_valid(v);
  };
  auto ar = [&](size_t a, size_t m, std::optional<size_t> k_only) {
    std::vector<double> v;
    for (size_t t = 0; t < T; ++t) {
      for (size_t k = 0; k < K; ++k) {
        if (k_only && k != *k_only) continue;
        v.push_back(Rc(t, k, a, m));
      }
    }
    return mean_valid(v);
  };
  auto thr = [&](double x) -> std::optional<size_t> {
    for (size_t t = 0; t < T; ++t) {
      if (std::fabs(p.iou_thresholds[t] - x) < 1e-9) return t;
    }
    return std::nullopt;
  };
  const size_t m100 = index_of_dets(100);
  auto s = [&](std::optional<size_t> t) { return t ? ap(t, 0, m100, std::nullopt) : -1.0; };
  result.stats = {ap(std::nullopt, 0, m100, std::nullopt),
                  s(thr(0.5)),
                  s(thr(0.75)),
                  A > 1 ? ap(std::nullopt, 1, m100, std::nullopt) : -1,
                  A > 2 ? ap(std::nullopt, 2, m100, std::nullopt) : -1,
                  A > 3 ? ap(std::nullopt, 3, m100, std::nullopt) : -1,
                  ar(0, index_of_dets(1), std::nullopt),
                  ar(0, index_of_dets(10), std::nullopt),
                  ar(0, m100, std::nullopt),
                  A > 1 ? ar(1, m100, std::nullopt) : -1,
                  A > 2 ? ar(2, m100, std::nullopt) : -1,
                  A > 3 ? ar(3, m100, std::nullopt) : -1};
  const auto t50 = thr(0.5);
  for (size_t k = 0; k < K; ++k) {
    auto& c = result.categories[k];
    c.ap = ap(std::nullopt, 0, m100, k);
    c.ap50 = t50 ? ap(t50, 0, m100, k) : -1;
    c.ar100 = ar(0, m100, k);
    if (t50) {
      for (size_t r = 0; r < R; ++r) c.pr_curve_50.push_back(P(*t50, r, k, 0, m100));
    }
  }
  return result;
}

}  // namespace jz::eval
