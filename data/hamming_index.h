// Finding 64-bit hashes within a Hamming radius of a query among millions (near-duplicate
// search). Two structures, chosen between by benchmark (bench/data, docs/BENCHMARKS.md):
//
// MultiIndex (the one used): multi-index hashing (Norouzi, Punjani and Fleet, CVPR 2012).
// The 64 bits are cut into four 16-bit chunks, each with a table from chunk value to the
// hashes that have it. Two hashes within radius r differ in at least one chunk by at most
// floor(r/4) bits (pigeonhole), so a query looks up, in each table, every value within
// floor(r/4) bits of its own chunk (137 values for r = 8), and checks those candidates'
// full distance. Each match is reported once: from the first chunk it is near in.
// Radii over 15 scan every hash (the lookups would outnumber them).
//
// BkTree: a Burkhard-Keller tree, the classic metric tree, kept for the comparison.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <vector>

namespace jz::data {

struct HashMatch {
  uint32_t id = 0;
  int distance = 0;
};

class MultiIndex {
 public:
  // Ids are the positions of the hashes in the order added (0, 1, ...).
  uint32_t add(uint64_t hash);
  size_t size() const { return hashes_.size(); }
  uint64_t hash(uint32_t id) const { return hashes_[id]; }
  // Every hash within `radius` bits of `query` (0..64), in no particular order, into `out`
  // (cleared first).
  void search(uint64_t query, int radius, std::vector<HashMatch>& out) const;

 private:
  std::vector<uint64_t> hashes_;
  // tables_[chunk][value]: the ids whose chunk has that value.
  std::array<std::vector<std::vector<uint32_t>>, 4> tables_;
};

class BkTree {
 public:
  BkTree();
  ~BkTree();
  uint32_t add(uint64_t hash);
  size_t size() const { return hashes_.size(); }
  void search(uint64_t query, int radius, std::vector<HashMatch>& out) const;

 private:
  struct Node;
  std::unique_ptr<Node> root_;
  std::vector<uint64_t> hashes_;
};

// The same answer by looking at every hash (the anchor of the benchmark and the tests).
void linear_search(const std::vector<uint64_t>& hashes, uint64_t query, int radius,
                   std::vector<HashMatch>& out);

}  // namespace jz::data
