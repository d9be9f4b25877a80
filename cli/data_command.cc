#include "cli/data_command.h"

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <iostream>
#include <opencv2/imgcodecs.hpp>
#include <thread>

#include "core/files.h"
#include "core/hash.h"
#include "core/json.h"
#include "data/dedup.h"
#include "data/phash.h"

namespace jz::cli {
namespace {

namespace fs = std::filesystem;

bool image_name(const fs::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  for (const char* e : {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}) {
    if (ext == e) return true;
  }
  return false;
}

}  // namespace

DataCommands::DataCommands(CLI::App& app) {
  auto* data = app.add_subcommand(
      "data",
      "The data platform's tools on a local folder of images: perceptual hashes, "
      "duplicate groups (docs/DATA.md)");
  data->require_subcommand(1);
  auto* h = data->add_subcommand(
      "hash", "Print each image's perceptual hash (" + std::string(data::kPhashAlgorithm) + " v" +
                  std::to_string(data::kPhashVersion) + ", 16 hex digits) and its name");
  h->add_option("FILE", files_, "Images (JPEG, PNG, BMP, WebP, TIFF)")->required();
  h->callback([this] { action_ = [this] { return hash(); }; });
  auto* d = data->add_subcommand(
      "dedup",
      "Find exact duplicates (the same bytes) and near-duplicates (perceptual hashes within\n"
      "--radius bits: resized, re-encoded, slightly cropped or brightened copies) among the\n"
      "images under DIR. Prints the groups, the image each proposes to keep first (the\n"
      "largest); deletes nothing. Exit 0 with or without duplicates, 1 when nothing could be "
      "read.");
  d->add_option("DIR", dir_, "The folder (searched recursively)")
      ->required()
      ->check(CLI::ExistingDirectory);
  d->add_option("--radius", radius_,
                "Bits two hashes may differ by and still be one picture (0-32; 10 finds 5% crops)")
      ->check(CLI::Range(0, 32))
      ->capture_default_str();
  d->add_option("-o,--output", output_, "table or json")->check(CLI::IsMember({"table", "json"}));
  d->callback([this] { action_ = [this] { return dedup(); }; });
}

int DataCommands::hash() {
  int failed = 0;
  for (const auto& f : files_) {
    auto h = data::phash_file(f);
    if (!h.ok()) {
      std::cerr << "jizhan data hash: " << h.status().message() << "\n";
      ++failed;
      continue;
    }
    std::cout << data::hash_hex(*h) << "  " << f << "\n";
  }
  return failed ? 1 : 0;
}

int DataCommands::dedup() {
  const char* cmd = "jizhan data dedup";
  std::vector<std::string> names;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir_, ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    if (it->is_regular_file(ec) && image_name(it->path())) {
      names.push_back(fs::relative(it->path(), dir_, ec).string());
    }
  }
  if (ec) {
    std::cerr << cmd << ": cannot list " << dir_ << ": " << ec.message() << "\n";
    return 1;
  }
  std::sort(names.begin(), names.end());
  std::vector<data::ImageRecord> records(names.size());
  std::vector<std::string> errors(names.size());
  std::atomic<size_t> next{0};
  std::vector<std::thread> pool;
  for (unsigned t = 0; t < std::max(1u, std::thread::hardware_concurrency()); ++t) {
    pool.emplace_back([&] {
      for (size_t i; (i = next.fetch_add(1)) < names.size();) {
        const std::string path = dir_ + "/" + names[i];
        auto bytes = read_file(path);
        auto h =
            bytes.ok() ? data::phash_encoded(*bytes, names[i]) : Result<uint64_t>(bytes.status());
        if (!h.ok()) {
          errors[i] = h.status().message();
          continue;
        }
        cv::Mat head =
            cv::imdecode(cv::Mat(1, static_cast<int>(bytes->size()), CV_8U, bytes->data()),
                         cv::IMREAD_REDUCED_GRAYSCALE_8);
        records[i] = {names[i], *h, sha256_hex(*bytes), static_cast<int64_t>(head.total()) * 64};
      }
    });
  }
  for (auto& t : pool) t.join();
  std::vector<data::ImageRecord> read;
  std::vector<std::string> unreadable;
  for (size_t i = 0; i < names.size(); ++i) {
    if (errors[i].empty()) {
      read.push_back(records[i]);
    } else {
      unreadable.push_back(errors[i]);
      std::cerr << cmd << ": skipped " << errors[i] << "\n";
    }
  }
  if (read.empty()) {
    std::cerr << cmd << ": no image could be read under " << dir_ << "\n";
    return 1;
  }
  const auto groups = data::group_duplicates(read, radius_);
  if (output_ == "json") {
    Json out = {{"algorithm",
                 std::string(data::kPhashAlgorithm) + "/" + std::to_string(data::kPhashVersion)},
                {"radius", radius_},
                {"images", read.size()},
                {"unreadable", unreadable},
                {"groups", Json::array()}};
    for (const auto& g : groups) {
      Json members = Json::array();
      for (size_t m : g.members) {
        members.push_back({{"name", read[m].name},
                           {"phash", data::hash_hex(read[m].phash)},
                           {"distance", data::hamming(read[m].phash, read[g.members[0]].phash)}});
      }
      out["groups"].push_back({{"exact", g.exact},
                               {"max_distance", g.max_distance},
                               {"keep", read[g.members[0]].name},
                               {"members", members}});
    }
    std::cout << out.dump(2) << "\n";
    return 0;
  }
  size_t extra = 0;
  for (const auto& g : groups) extra += g.members.size() - 1;
  std::cout << read.size() << " images, " << groups.size() << " duplicate group"
            << (groups.size() == 1 ? "" : "s") << " (" << extra
            << " images a review could remove), radius " << radius_ << "\n";
  for (const auto& g : groups) {
    std::cout << "\n"
              << (g.exact ? "exact" : "near") << ", keep " << read[g.members[0]].name << "\n";
    for (size_t i = 1; i < g.members.size(); ++i) {
      const auto& r = read[g.members[i]];
      std::cout << "  " << r.name << "  (" << data::hamming(r.phash, read[g.members[0]].phash)
                << " bits)\n";
    }
  }
  return 0;
}

}  // namespace jz::cli
