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

Result<double> number_field(const Json& obj, const char* field, const std::string& where) {
  auto it = obj.find(field);
  if (it == obj.end() || !it->is_number()) {
    return Status::invalid_argument(where + ": field '" + field + "' must be a number");
  }
  return it->get<double>();
}

Result<int64_t> id_field(const Json& obj, const char* field, const std::string& where) {
  auto it = obj.find(field);
  if (it == obj.end() || !it->is_number_integer()) {
    return Status::invalid_argument(where + ": field '" + field + "' must be an integer id");
  }
  return it->get<int64_t>();
}

Result<Box> bbox_field(const Json& obj, const std::string& where) {
  auto it = obj.find("bbox");
  if (it == obj.end() || !it->is_array() || it->size() != 4) {
    return Status::invalid_argument(where + ": field 'bbox' must be [x, y, width, height]");
  }
  for (const auto& v : *it) {
    if (!v.is_number()) {
      return Status::invalid_argument(where + ": field 'bbox' must hold four numbers");
    }
  }
  Box b{(*it)[0].get<double>(), (*it)[1].get<double>(), (*it)[2].get<double>(),
        (*it)[3].get<double>()};
  if (b.w < 0 || b.h < 0) {
    return Status::invalid_argument(where + ": field 'bbox' has a negative width or height");
  }
  return b;
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

// One image and category: its ground truth and its detections (best first, capped).
struct Bucket {
  size_t image;  // index in the sorted image ids
  std::vector<int> gts;
  std::vector<int> dts;
  std::vector<double> ious;  // [d * G + g], in the original ground-truth order
};

// evaluateImg's output for one bucket and one area range.
struct ImageEval {
  std::vector<double> scores;      // D
  std::vector<uint8_t> matched;    // T x D
  std::vector<uint8_t> dt_ignore;  // T x D
  int gt_counted = 0;              // ground truth not ignored
};

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
                    {"detections", c.detections}});
  }
  out["per_category"] = cats;
  return out;
}

Result<CocoDataset> parse_coco_dataset(const Json& j) {
  if (!j.is_object()) return Status::invalid_argument("a COCO dataset must be a JSON object");
  CocoDataset d;
  for (const char* f : {"images", "annotations", "categories"}) {
    if (!j.contains(f) || !j[f].is_array()) {
      return Status::invalid_argument(std::string("a COCO dataset needs an array '") + f + "'");
    }
  }
  for (size_t i = 0; i < j["images"].size(); ++i) {
    JZ_ASSIGN_OR_RETURN(int64_t id,
                        id_field(j["images"][i], "id", "images[" + std::to_string(i) + "]"));
    d.image_ids.push_back(id);
  }
  for (size_t i = 0; i < j["categories"].size(); ++i) {
    const Json& c = j["categories"][i];
    JZ_ASSIGN_OR_RETURN(int64_t id, id_field(c, "id", "categories[" + std::to_string(i) + "]"));
    d.categories.push_back({id, c.value("name", std::to_string(id))});
  }
  for (size_t i = 0; i < j["annotations"].size(); ++i) {
    const Json& a = j["annotations"][i];
    const std::string where = "annotations[" + std::to_string(i) + "]";
    GroundTruth g;
    JZ_ASSIGN_OR_RETURN(g.id, id_field(a, "id", where));
    JZ_ASSIGN_OR_RETURN(g.image_id, id_field(a, "image_id", where));
    JZ_ASSIGN_OR_RETURN(g.category_id, id_field(a, "category_id", where));
    JZ_ASSIGN_OR_RETURN(g.box, bbox_field(a, where));
    if (a.contains("area")) {
      JZ_ASSIGN_OR_RETURN(g.area, number_field(a, "area", where));
    } else {
      g.area = g.box.w * g.box.h;
    }
    auto crowd = a.find("iscrowd");
    g.iscrowd = crowd != a.end() && ((crowd->is_number() && crowd->get<double>() != 0) ||
                                     (crowd->is_boolean() && crowd->get<bool>()));
    d.annotations.push_back(g);
  }
  return d;
}

Result<std::vector<Detection>> parse_coco_detections(const Json& j) {
  const Json* list = &j;
  if (j.is_object()) {
    if (!j.contains("annotations") || !j["annotations"].is_array()) {
      return Status::invalid_argument(
          "detections must be a COCO results list, or an object whose 'annotations' are them");
    }
    list = &j["annotations"];
  } else if (!j.is_array()) {
    return Status::invalid_argument("detections must be a JSON array or object");
  }
  std::vector<Detection> out;
  out.reserve(list->size());
  for (size_t i = 0; i < list->size(); ++i) {
    const Json& a = (*list)[i];
    const std::string where = "detection " + std::to_string(i);
    if (!a.is_object()) return Status::invalid_argument(where + " must be an object");
    Detection d;
    JZ_ASSIGN_OR_RETURN(d.image_id, id_field(a, "image_id", where));
    JZ_ASSIGN_OR_RETURN(d.category_id, id_field(a, "category_id", where));
    JZ_ASSIGN_OR_RETURN(d.box, bbox_field(a, where));
    JZ_ASSIGN_OR_RETURN(d.score, number_field(a, "score", where));
    out.push_back(d);
  }
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

  // Buckets per (category, image), in file order within each.
  std::unordered_map<uint64_t, size_t> bucket_of;
  std::vector<Bucket> buckets;
  auto bucket = [&](size_t k, size_t i) -> Bucket& {
    const uint64_t key = static_cast<uint64_t>(k) * I + i;
    auto [it, fresh] = bucket_of.emplace(key, buckets.size());
    if (fresh) buckets.push_back({i, {}, {}, {}});
    return buckets[it->second];
  };
  for (size_t n = 0; n < gt.annotations.size(); ++n) {
    const auto& g = gt.annotations[n];
    auto i = image_index.find(g.image_id);
    auto k = cat_index.find(g.category_id);
    if (i == image_index.end() || k == cat_index.end()) continue;
    bucket(k->second, i->second).gts.push_back(static_cast<int>(n));
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
    bucket(k->second, i->second).dts.push_back(static_cast<int>(n));
    ++result.categories[k->second].detections;
  }
  // Per category, its buckets in image order (accumulate() concatenates in that order).
  std::vector<std::vector<size_t>> by_cat(K);
  for (const auto& [key, b] : bucket_of) by_cat[key / std::max<size_t>(I, 1)].push_back(b);
  for (auto& list : by_cat) {
    std::sort(list.begin(), list.end(),
              [&](size_t a, size_t b) { return buckets[a].image < buckets[b].image; });
  }

  // Sort detections by score (stable), cap, and compute IoUs once.
  for (auto& b : buckets) {
    std::stable_sort(b.dts.begin(), b.dts.end(),
                     [&](int x, int y) { return dets[x].score > dets[y].score; });
    if (static_cast<int>(b.dts.size()) > max_det) b.dts.resize(max_det);
    const size_t D = b.dts.size(), G = b.gts.size();
    b.ious.assign(D * G, 0.0);
    for (size_t d = 0; d < D; ++d) {
      for (size_t g = 0; g < G; ++g) {
        const auto& ga = gt.annotations[b.gts[g]];
        b.ious[d * G + g] = iou(dets[b.dts[d]].box, ga.box, ga.iscrowd);
      }
    }
  }

  // evaluateImg for every bucket and area range.
  std::vector<ImageEval> evals(buckets.size() * A);
  for (size_t bi = 0; bi < buckets.size(); ++bi) {
    const Bucket& b = buckets[bi];
    const size_t G = b.gts.size(), D = b.dts.size();
    for (size_t a = 0; a < A; ++a) {
      const auto& range = p.area_ranges[a];
      // Ground truth: not-ignored first (stable).
      std::vector<int> order(G);
      std::vector<uint8_t> ignore_of(G);
      for (size_t g = 0; g < G; ++g) {
        const auto& ga = gt.annotations[b.gts[g]];
        ignore_of[g] = ga.iscrowd || ga.area < range[0] || ga.area > range[1];
      }
      std::iota(order.begin(), order.end(), 0);
      std::stable_sort(order.begin(), order.end(),
                       [&](int x, int y) { return ignore_of[x] < ignore_of[y]; });
      ImageEval& e = evals[bi * A + a];
      e.scores.resize(D);
      e.matched.assign(T * D, 0);
      e.dt_ignore.assign(T * D, 0);
      for (size_t d = 0; d < D; ++d) e.scores[d] = dets[b.dts[d]].score;
      for (size_t g = 0; g < G; ++g) e.gt_counted += !ignore_of[g];
      std::vector<uint8_t> gt_used(T * G, 0);
      if (G > 0 && D > 0) {
        for (size_t t = 0; t < T; ++t) {
          for (size_t d = 0; d < D; ++d) {
            double best = std::min(p.iou_thresholds[t], 1 - 1e-10);
            int m = -1;
            for (size_t gi = 0; gi < G; ++gi) {
              const int g = order[gi];
              const bool crowd = gt.annotations[b.gts[g]].iscrowd;
              if (gt_used[t * G + gi] && !crowd) continue;
              if (m > -1 && !ignore_of[order[m]] && ignore_of[g]) break;
              const double v = b.ious[d * G + g];
              if (v < best) continue;
              best = v;
              m = static_cast<int>(gi);
            }
            if (m == -1) continue;
            e.dt_ignore[t * D + d] = ignore_of[order[m]];
            e.matched[t * D + d] = 1;
            gt_used[t * G + m] = 1;
          }
        }
      }
      for (size_t d = 0; d < D; ++d) {
        const Box& box = dets[b.dts[d]].box;
        const double area = box.w * box.h;
        const bool outside = area < range[0] || area > range[1];
        for (size_t t = 0; t < T; ++t) {
          if (!e.matched[t * D + d] && outside) e.dt_ignore[t * D + d] = 1;
        }
      }
    }
  }

  // accumulate()
  std::vector<double> precision(T * R * K * A * M, -1.0), recall(T * K * A * M, -1.0);
  auto P = [&](size_t t, size_t r, size_t k, size_t a, size_t m) -> double& {
    return precision[(((t * R + r) * K + k) * A + a) * M + m];
  };
  auto Rc = [&](size_t t, size_t k, size_t a, size_t m) -> double& {
    return recall[((t * K + k) * A + a) * M + m];
  };
  constexpr double kSpacing = 2.220446049250313e-16;  // numpy.spacing(1)
  std::vector<double> scores, tp, fp, rc, pr;
  std::vector<std::pair<size_t, size_t>> refs;  // (eval, detection index)
  for (size_t k = 0; k < K; ++k) {
    if (by_cat[k].empty()) continue;
    for (size_t a = 0; a < A; ++a) {
      for (size_t m = 0; m < M; ++m) {
        const size_t cap = static_cast<size_t>(p.max_dets[m]);
        refs.clear();
        scores.clear();
        int npig = 0;
        for (size_t bi : by_cat[k]) {
          const ImageEval& e = evals[bi * A + a];
          const size_t n = std::min(cap, e.scores.size());
          for (size_t d = 0; d < n; ++d) {
            refs.push_back({bi * A + a, d});
            scores.push_back(e.scores[d]);
          }
          npig += e.gt_counted;
        }
        if (npig == 0) continue;
        std::vector<size_t> order(refs.size());
        std::iota(order.begin(), order.end(), 0);
        std::stable_sort(order.begin(), order.end(),
                         [&](size_t x, size_t y) { return scores[x] > scores[y]; });
        const size_t nd = order.size();
        for (size_t t = 0; t < T; ++t) {
          tp.assign(nd, 0);
          fp.assign(nd, 0);
          double tps = 0, fps = 0;
          for (size_t j = 0; j < nd; ++j) {
            const auto& [ei, d] = refs[order[j]];
            const ImageEval& e = evals[ei];
            const size_t D = e.scores.size();
            const bool ignored = e.dt_ignore[t * D + d];
            const bool matched = e.matched[t * D + d];
            if (!ignored) (matched ? tps : fps) += 1;
            tp[j] = tps;
            fp[j] = fps;
          }
          rc.resize(nd);
          pr.resize(nd);
          for (size_t j = 0; j < nd; ++j) {
            rc[j] = tp[j] / npig;
            pr[j] = tp[j] / (fp[j] + tp[j] + kSpacing);
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
