#include "data/hamming_index.h"

#include <algorithm>

#include "data/phash.h"

namespace jz::data {
namespace {

constexpr int kChunks = 4;
constexpr int kChunkBits = 16;
constexpr int kMaxIndexedRadius = 15;  // sub-radius 3: 697 lookups a chunk

inline uint32_t chunk_of(uint64_t h, int c) {
  return static_cast<uint32_t>((h >> (c * kChunkBits)) & 0xFFFF);
}

// Calls f(v) for every 16-bit v within `r` bits of `value`.
template <typename F>
void for_each_near(uint32_t value, int r, const F& f) {
  f(value);
  if (r < 1) return;
  for (int a = 0; a < kChunkBits; ++a) {
    const uint32_t va = value ^ (1u << a);
    f(va);
    if (r < 2) continue;
    for (int b = a + 1; b < kChunkBits; ++b) {
      const uint32_t vb = va ^ (1u << b);
      f(vb);
      if (r < 3) continue;
      for (int c = b + 1; c < kChunkBits; ++c) f(vb ^ (1u << c));
    }
  }
}

}  // namespace

uint32_t MultiIndex::add(uint64_t hash) {
  const auto id = static_cast<uint32_t>(hashes_.size());
  hashes_.push_back(hash);
  for (int c = 0; c < kChunks; ++c) {
    auto& table = tables_[static_cast<size_t>(c)];
    if (table.empty()) table.resize(size_t{1} << kChunkBits);
    table[chunk_of(hash, c)].push_back(id);
  }
  return id;
}

void MultiIndex::search(uint64_t query, int radius, std::vector<HashMatch>& out) const {
  out.clear();
  if (radius < 0 || hashes_.empty()) return;
  if (radius > kMaxIndexedRadius) {
    linear_search(hashes_, query, radius, out);
    return;
  }
  const int sub = radius / kChunks;
  std::array<uint32_t, kChunks> q{};
  for (int c = 0; c < kChunks; ++c) q[static_cast<size_t>(c)] = chunk_of(query, c);
  for (int c = 0; c < kChunks; ++c) {
    const auto& table = tables_[static_cast<size_t>(c)];
    for_each_near(q[static_cast<size_t>(c)], sub, [&](uint32_t v) {
      for (uint32_t id : table[v]) {
        const uint64_t h = hashes_[id];
        const int d = hamming(h, query);
        if (d > radius) continue;
        // Found from the first chunk it is near in, and only there.
        bool earlier = false;
        for (int e = 0; e < c && !earlier; ++e) {
          earlier = __builtin_popcount(chunk_of(h, e) ^ q[static_cast<size_t>(e)]) <= sub;
        }
        if (!earlier) out.push_back({id, d});
      }
    });
  }
}

struct BkTree::Node {
  uint32_t id = 0;
  std::vector<std::pair<int, std::unique_ptr<Node>>> children;  // by distance
};

BkTree::BkTree() = default;
BkTree::~BkTree() = default;

uint32_t BkTree::add(uint64_t hash) {
  const auto id = static_cast<uint32_t>(hashes_.size());
  hashes_.push_back(hash);
  if (!root_) {
    root_ = std::make_unique<Node>();
    root_->id = id;
    return id;
  }
  Node* n = root_.get();
  for (;;) {
    const int d = hamming(hashes_[n->id], hash);
    auto it = std::find_if(n->children.begin(), n->children.end(),
                           [d](const auto& c) { return c.first == d; });
    if (it == n->children.end()) {
      auto child = std::make_unique<Node>();
      child->id = id;
      n->children.emplace_back(d, std::move(child));
      return id;
    }
    n = it->second.get();
  }
}

void BkTree::search(uint64_t query, int radius, std::vector<HashMatch>& out) const {
  out.clear();
  if (!root_) return;
  std::vector<const Node*> stack{root_.get()};
  while (!stack.empty()) {
    const Node* n = stack.back();
    stack.pop_back();
    const int d = hamming(hashes_[n->id], query);
    if (d <= radius) out.push_back({n->id, d});
    for (const auto& [cd, child] : n->children) {
      if (cd >= d - radius && cd <= d + radius) stack.push_back(child.get());
    }
  }
}

void linear_search(const std::vector<uint64_t>& hashes, uint64_t query, int radius,
                   std::vector<HashMatch>& out) {
  out.clear();
  for (size_t i = 0; i < hashes.size(); ++i) {
    const int d = hamming(hashes[i], query);
    if (d <= radius) out.push_back({static_cast<uint32_t>(i), d});
  }
}

}  // namespace jz::data
