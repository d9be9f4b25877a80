#include "data/dedup.h"

#include <algorithm>
#include <map>
#include <numeric>

#include "data/hamming_index.h"
#include "data/phash.h"

namespace jz::data {
namespace {

struct Sets {
  std::vector<size_t> parent;
  explicit Sets(size_t n) : parent(n) { std::iota(parent.begin(), parent.end(), 0); }
  size_t find(size_t x) {
    while (parent[x] != x) x = parent[x] = parent[parent[x]];
    return x;
  }
  void join(size_t a, size_t b) {
    a = find(a);
    b = find(b);
    if (a != b) parent[std::max(a, b)] = std::min(a, b);
  }
};

}  // namespace

std::vector<DuplicateGroup> group_duplicates(const std::vector<ImageRecord>& records, int radius) {
  Sets sets(records.size());
  std::map<std::string, size_t> by_sha;
  MultiIndex index;
  std::vector<HashMatch> near;
  for (size_t i = 0; i < records.size(); ++i) {
    const ImageRecord& r = records[i];
    if (!r.sha256.empty()) {
      auto [it, fresh] = by_sha.emplace(r.sha256, i);
      if (!fresh) sets.join(it->second, i);
    }
    index.search(r.phash, radius, near);
    for (const HashMatch& m : near) sets.join(m.id, i);
    index.add(r.phash);
  }
  std::map<size_t, std::vector<size_t>> groups;
  for (size_t i = 0; i < records.size(); ++i) groups[sets.find(i)].push_back(i);
  std::vector<DuplicateGroup> out;
  for (auto& [root, members] : groups) {
    if (members.size() < 2) continue;
    std::stable_sort(members.begin(), members.end(), [&](size_t a, size_t b) {
      if (records[a].pixels != records[b].pixels) return records[a].pixels > records[b].pixels;
      return records[a].name < records[b].name;
    });
    DuplicateGroup g;
    g.members = members;
    g.exact = true;
    const ImageRecord& keep = records[members[0]];
    for (size_t m : members) {
      g.exact = g.exact && !keep.sha256.empty() && records[m].sha256 == keep.sha256;
      g.max_distance = std::max(g.max_distance, hamming(records[m].phash, keep.phash));
    }
    out.push_back(std::move(g));
  }
  std::stable_sort(out.begin(), out.end(), [](const DuplicateGroup& a, const DuplicateGroup& b) {
    return a.members.size() > b.members.size();
  });
  return out;
}

}  // namespace jz::data
