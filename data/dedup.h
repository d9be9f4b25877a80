// Duplicate groups among a dataset's images (mission G2): exact duplicates (the same
// bytes: SHA-256) and near-duplicates (perceptual hashes within a Hamming radius;
// data/phash.h), joined transitively into groups for a person to review. Nothing here
// deletes anything: a group proposes keeping its first member (the largest image, then the
// first name) and removing the others.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace jz::data {

struct ImageRecord {
  std::string name;  // its path inside the dataset
  uint64_t phash = 0;
  std::string sha256;
  int64_t pixels = 0;  // width x height, to keep the largest
};

struct DuplicateGroup {
  std::vector<size_t> members;  // indexes into the records; members[0] is the one to keep
  bool exact = false;           // every member has the same bytes
  int max_distance = 0;         // the largest distance of a member's hash from the kept one's
};

// Groups of two or more, largest first. `radius` 0 finds images whose hashes are equal.
std::vector<DuplicateGroup> group_duplicates(const std::vector<ImageRecord>& records, int radius);

}  // namespace jz::data
