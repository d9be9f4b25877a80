#include "cli/data_command.h"

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <iostream>
#include <map>
#include <opencv2/imgcodecs.hpp>
#include <thread>

#include "core/files.h"
#include "core/hash.h"
#include "core/json.h"
#include "data/dedup.h"
#include "data/formats.h"
#include "data/image.h"
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

// Files under `dir` (recursively) whose names end in one of `exts`, as sorted relative paths.
Result<std::vector<std::string>> files_under(const std::string& dir,
                                             const std::vector<std::string>& exts) {
  std::vector<std::string> out;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return Status::not_found(dir + " is not a folder");
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    if (!it->is_regular_file(ec)) continue;
    std::string ext = it->path().extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(),
                   [](unsigned char c) { return std::tolower(c); });
    if (std::find(exts.begin(), exts.end(), ext) != exts.end()) {
      out.push_back(fs::relative(it->path(), dir, ec).generic_string());
    }
  }
  if (ec) return Status::failed_precondition("cannot list " + dir + ": " + ec.message());
  std::sort(out.begin(), out.end());
  return out;
}

std::string without_extension(const std::string& path) {
  const size_t dot = path.rfind('.');
  const size_t slash = path.rfind('/');
  return dot == std::string::npos || (slash != std::string::npos && dot < slash)
             ? path
             : path.substr(0, dot);
}

void add_categories(std::vector<std::string>& cats, const data::AnnotatedImage& img) {
  for (const auto& b : img.boxes) {
    if (std::find(cats.begin(), cats.end(), b.category) == cats.end()) cats.push_back(b.category);
  }
}

Result<data::Annotations> read_annotations(const std::string& format, const std::string& in,
                                           const std::string& images) {
  data::Annotations a;
  if (format == "coco") {
    JZ_ASSIGN_OR_RETURN(std::string text, read_file(in));
    return data::read_coco(text, in);
  }
  if (format == "voc" || format == "json") {
    JZ_ASSIGN_OR_RETURN(auto files, files_under(in, {format == "voc" ? ".xml" : ".json"}));
    for (const auto& f : files) {
      JZ_ASSIGN_OR_RETURN(std::string text, read_file(in + "/" + f));
      if (format == "voc") {
        JZ_ASSIGN_OR_RETURN(auto img, data::read_voc(text, f, a.categories));
        a.images.push_back(std::move(img));
      } else {
        JZ_ASSIGN_OR_RETURN(auto img, data::read_image_json(text, f));
        add_categories(a.categories, img);
        a.images.push_back(std::move(img));
      }
    }
    return a;
  }
  // YOLO: IN/classes.txt, IN/labels/STEM.txt for each image under the images folder, whose
  // sizes YOLO does not record.
  JZ_ASSIGN_OR_RETURN(std::string list, read_file(in + "/classes.txt"));
  JZ_ASSIGN_OR_RETURN(a.categories, data::read_class_list(list, in + "/classes.txt"));
  JZ_ASSIGN_OR_RETURN(
      auto files, files_under(images, {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}));
  for (const auto& f : files) {
    auto decoded = data::read_image(images + "/" + f, cv::IMREAD_UNCHANGED);
    if (!decoded.ok()) {
      return Status::invalid_argument(decoded.status().message() +
                                      " (YOLO needs each image's size)");
    }
    const cv::Mat& img = *decoded;
    data::AnnotatedImage ai{f, img.cols, img.rows, {}, {}};
    const std::string label = in + "/labels/" + without_extension(f) + ".txt";
    std::error_code ec;
    if (fs::exists(label, ec)) {
      JZ_ASSIGN_OR_RETURN(std::string text, read_file(label));
      JZ_ASSIGN_OR_RETURN(ai.boxes, data::read_yolo(text, "labels/" + without_extension(f) + ".txt",
                                                    a.categories, ai.width, ai.height));
    }
    a.images.push_back(std::move(ai));
  }
  return a;
}

Status write_annotations(const std::string& format, const data::Annotations& a,
                         const std::string& out) {
  std::error_code ec;
  auto put = [&](const std::string& path, const std::string& text) -> Status {
    fs::create_directories(fs::path(path).parent_path(), ec);
    return write_file(path, text);
  };
  if (format == "coco") return put(out, data::write_coco(a));
  for (const auto& img : a.images) {
    const std::string stem = without_extension(img.file);
    if (format == "voc") {
      JZ_RETURN_IF_ERROR(put(out + "/" + stem + ".xml", data::write_voc(img)));
    } else if (format == "json") {
      JZ_RETURN_IF_ERROR(put(out + "/" + stem + ".json", data::write_image_json(img)));
    } else {
      JZ_RETURN_IF_ERROR(
          put(out + "/labels/" + stem + ".txt", data::write_yolo(img, a.categories)));
    }
  }
  if (format == "yolo") return put(out + "/classes.txt", data::write_class_list(a.categories));
  return {};
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

  const std::vector<std::string> formats = {"coco", "voc", "yolo", "json"};
  auto* c = data->add_subcommand(
      "convert",
      "Convert box annotations between COCO (IN/OUT: one .json file), Pascal VOC (a folder of\n"
      ".xml, one per image), YOLO (a folder: classes.txt and labels/STEM.txt; the images, for\n"
      "their sizes, in IN/images unless --images says) and image JSON (a folder of .json, one\n"
      "per image; the only one that keeps image tags). Nothing is written unless every input\n"
      "file reads; errors name the file and the field (docs/DATA.md).");
  c->add_option("--from", from_, "coco, voc, yolo or json")
      ->required()
      ->check(CLI::IsMember(formats));
  c->add_option("--to", to_, "coco, voc, yolo or json")->required()->check(CLI::IsMember(formats));
  c->add_option("IN", in_, "The annotations to read")->required();
  c->add_option("OUT", out_, "Where to write them")->required();
  c->add_option("--images", images_, "--from yolo: the images' folder (default IN/images)")
      ->option_text("DIR");
  c->callback([this] { action_ = [this] { return convert(); }; });

  auto* q = data->add_subcommand(
      "quality",
      "Check the images under DIR for blur (variance of the Laplacian), exposure (mean grey\n"
      "level, clipped shadows and highlights), size and corruption (undecodable or cut-short\n"
      "files), and with --brisque OpenCV's BRISQUE score. Prints what each flagged image\n"
      "fails and by how much: proposals for review; deletes nothing (docs/DATA.md).");
  q->add_option("DIR", dir_, "The folder (searched recursively)")
      ->required()
      ->check(CLI::ExistingDirectory);
  auto& t = quality_.thresholds;
  q->add_option("--min-sharpness", t.min_sharpness, "Blurry under this")->capture_default_str();
  q->add_option("--min-brightness", t.min_brightness, "Dark under this mean grey level")
      ->capture_default_str();
  q->add_option("--max-brightness", t.max_brightness, "Overexposed over this mean grey level")
      ->capture_default_str();
  q->add_option("--min-width", t.min_width, "Small under this width")->capture_default_str();
  q->add_option("--min-height", t.min_height, "Small under this height")->capture_default_str();
  q->add_flag("--brisque", quality_.brisque, "Also score BRISQUE (about 30 ms an image)");
  q->add_option("--max-brisque", t.max_brisque, "Poor over this BRISQUE score")
      ->capture_default_str();
  q->add_option("-o,--output", output_, "table or json")->check(CLI::IsMember({"table", "json"}));
  q->callback([this] { action_ = [this] { return quality(); }; });

  auto* k = data->add_subcommand(
      "curate",
      "Hash and check every image under DIR in one pass and write one JSON report to --out:\n"
      "each image's SHA-256, perceptual hash (with its algorithm and version), size and\n"
      "quality measures with what it fails, and the duplicate groups (--radius). The\n"
      "platform's curation job runs it on a dataset version; its proposals go to a person's\n"
      "review. Deletes nothing. Exit 1 when the report cannot be written.");
  k->add_option("DIR", dir_, "The folder (searched recursively)")
      ->required()
      ->check(CLI::ExistingDirectory);
  k->add_option("--out", out_, "The report (JSON)")->required();
  k->add_option("--radius", radius_, "Near-duplicate radius in bits (0-32)")
      ->check(CLI::Range(0, 32))
      ->capture_default_str();
  k->add_option("--min-sharpness", t.min_sharpness, "Blurry under this")->capture_default_str();
  k->add_option("--min-brightness", t.min_brightness, "Dark under this mean grey level")
      ->capture_default_str();
  k->add_option("--max-brightness", t.max_brightness, "Overexposed over this mean grey level")
      ->capture_default_str();
  k->add_option("--min-width", t.min_width, "Small under this width")->capture_default_str();
  k->add_option("--min-height", t.min_height, "Small under this height")->capture_default_str();
  k->add_flag("--brisque", quality_.brisque, "Also score BRISQUE (about 30 ms an image)");
  k->add_option("--max-brisque", t.max_brisque, "Poor over this BRISQUE score")
      ->capture_default_str();
  k->callback([this] { action_ = [this] { return curate(); }; });
}

int DataCommands::curate() {
  const char* cmd = "jizhan data curate";
  auto names = files_under(dir_, {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"});
  if (!names.ok()) {
    std::cerr << cmd << ": " << names.status().message() << "\n";
    return 1;
  }
  struct Item {
    std::string error;
    data::QualityReport q;
    data::ImageRecord r;
    bool hashed = false;
  };
  std::vector<Item> items(names->size());
  std::atomic<size_t> next{0}, done{0};
  std::vector<std::thread> pool;
  for (unsigned w = 0; w < std::max(1u, std::thread::hardware_concurrency()); ++w) {
    pool.emplace_back([&] {
      for (size_t i; (i = next.fetch_add(1)) < names->size();) {
        Item& it = items[i];
        auto bytes = read_file(dir_ + "/" + (*names)[i]);
        if (!bytes.ok()) {
          it.error = bytes.status().message();
          continue;
        }
        auto q = data::assess_quality(*bytes, quality_);
        if (q.ok()) it.q = *q;
        it.r.name = (*names)[i];
        it.r.sha256 = sha256_hex(*bytes);
        it.r.pixels = static_cast<int64_t>(it.q.width) * it.q.height;
        auto h = data::phash_encoded(*bytes, (*names)[i]);
        if (h.ok()) {
          it.r.phash = *h;
          it.hashed = true;
        } else if (it.q.problems.empty()) {
          it.q.corrupt = true;
          it.q.problems.push_back("corrupt: " + h.status().message());
        }
        const size_t n = done.fetch_add(1) + 1;
        if (n % 1000 == 0) std::cerr << cmd << ": " << n << " of " << names->size() << " images\n";
      }
    });
  }
  for (auto& th : pool) th.join();
  std::vector<data::ImageRecord> hashed;
  Json files = Json::array();
  int flagged = 0;
  for (size_t i = 0; i < items.size(); ++i) {
    const Item& it = items[i];
    Json f = {{"path", (*names)[i]}};
    if (!it.error.empty()) {
      f["problems"] = Json::array({"unreadable: " + it.error});
      ++flagged;
      files.push_back(std::move(f));
      continue;
    }
    f["sha256"] = it.r.sha256;
    if (it.hashed) {
      f["phash"] = data::hash_hex(it.r.phash);
      hashed.push_back(it.r);
    }
    f["width"] = it.q.width;
    f["height"] = it.q.height;
    f["sharpness"] = it.q.sharpness;
    f["brightness"] = it.q.brightness;
    if (it.q.brisque >= 0) f["brisque"] = it.q.brisque;
    f["problems"] = it.q.problems;
    flagged += !it.q.problems.empty();
    files.push_back(std::move(f));
  }
  Json groups = Json::array();
  for (const auto& g : data::group_duplicates(hashed, radius_)) {
    Json members = Json::array();
    for (size_t i = 1; i < g.members.size(); ++i) {
      const auto& m = hashed[g.members[i]];
      members.push_back({{"path", m.name},
                         {"distance", data::hamming(m.phash, hashed[g.members[0]].phash)},
                         {"exact", m.sha256 == hashed[g.members[0]].sha256}});
    }
    groups.push_back({{"keep", hashed[g.members[0]].name}, {"members", members}});
  }
  const auto& t = quality_.thresholds;
  Json report = {{"algorithm", data::kPhashAlgorithm},
                 {"algorithm_version", data::kPhashVersion},
                 {"radius", radius_},
                 {"thresholds",
                  {{"min_sharpness", t.min_sharpness},
                   {"min_brightness", t.min_brightness},
                   {"max_brightness", t.max_brightness},
                   {"min_width", t.min_width},
                   {"min_height", t.min_height},
                   {"brisque", quality_.brisque},
                   {"max_brisque", t.max_brisque}}},
                 {"images", files.size()},
                 {"flagged", flagged},
                 {"files", std::move(files)},
                 {"groups", std::move(groups)}};
  if (Status s = write_file(out_, report.dump()); !s.ok()) {
    std::cerr << cmd << ": " << s.message() << "\n";
    return 1;
  }
  std::cerr << cmd << ": " << report["images"] << " images, " << flagged << " flagged, "
            << report["groups"].size() << " duplicate groups\n";
  return 0;
}

int DataCommands::quality() {
  const char* cmd = "jizhan data quality";
  auto names = files_under(dir_, {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"});
  if (!names.ok()) {
    std::cerr << cmd << ": " << names.status().message() << "\n";
    return 1;
  }
  std::vector<Result<data::QualityReport>> reports(names->size(), Status::internal("not checked"));
  std::atomic<size_t> next{0};
  std::vector<std::thread> pool;
  for (unsigned k = 0; k < std::max(1u, std::thread::hardware_concurrency()); ++k) {
    pool.emplace_back([&] {
      for (size_t i; (i = next.fetch_add(1)) < names->size();) {
        auto bytes = read_file(dir_ + "/" + (*names)[i]);
        reports[i] = bytes.ok() ? data::assess_quality(*bytes, quality_)
                                : Result<data::QualityReport>(bytes.status());
      }
    });
  }
  for (auto& th : pool) th.join();
  Json items = Json::array();
  std::map<std::string, int> by_problem;
  int flagged = 0;
  for (size_t i = 0; i < names->size(); ++i) {
    if (!reports[i].ok()) {
      std::cerr << cmd << ": " << (*names)[i] << ": " << reports[i].status().message() << "\n";
      return 1;
    }
    const auto& r = *reports[i];
    flagged += !r.problems.empty();
    for (const auto& p : r.problems) by_problem[p.substr(0, p.find(':'))]++;
    Json item = {
        {"name", (*names)[i]},      {"width", r.width},           {"height", r.height},
        {"sharpness", r.sharpness}, {"brightness", r.brightness}, {"dark", r.dark},
        {"bright", r.bright},       {"corrupt", r.corrupt},       {"problems", r.problems}};
    if (r.brisque >= 0) item["brisque"] = r.brisque;
    items.push_back(std::move(item));
  }
  if (output_ == "json") {
    std::cout << Json{{"images", items.size()}, {"flagged", flagged}, {"items", items}}.dump(2)
              << "\n";
    return 0;
  }
  std::cout << names->size() << " images, " << flagged << " flagged";
  std::string sep = " (";
  for (const auto& [p, n] : by_problem) {
    std::cout << sep << n << " " << p;
    sep = ", ";
  }
  std::cout << (by_problem.empty() ? "" : ")") << "\n";
  for (const auto& item : items) {
    if (item["problems"].empty()) continue;
    std::cout << "\n" << item["name"].get<std::string>() << "\n";
    for (const auto& p : item["problems"]) std::cout << "  " << p.get<std::string>() << "\n";
  }
  return 0;
}

int DataCommands::convert() {
  const char* cmd = "jizhan data convert";
  auto a = read_annotations(from_, in_, images_.empty() ? in_ + "/images" : images_);
  if (!a.ok()) {
    std::cerr << cmd << ": " << a.status().message() << "\n";
    return 1;
  }
  size_t boxes = 0, tags = 0;
  for (const auto& img : a->images) {
    boxes += img.boxes.size();
    tags += img.tags.size();
  }
  if (Status s = write_annotations(to_, *a, out_); !s.ok()) {
    std::cerr << cmd << ": " << s.message() << "\n";
    return 1;
  }
  std::cout << "converted " << a->images.size() << " images, " << boxes << " boxes, "
            << a->categories.size() << " categories from " << from_ << " to " << to_ << ": " << out_
            << "\n";
  if (tags > 0 && to_ != "json") {
    std::cout << "note: " << tags << " image tags are not kept: only image JSON holds them\n";
  }
  if (to_ == "yolo") std::cout << "note: YOLO labels need the images beside them (images/)\n";
  return 0;
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
        // Its size from the header (the hash has decoded it already); decoded again only
        // when the header does not say.
        int64_t pixels = 0;
        if (const auto size = data::image_size(*bytes)) {
          pixels = int64_t{size->width} * size->height;
        } else if (auto head = data::decode_image(*bytes, cv::IMREAD_REDUCED_GRAYSCALE_8, names[i]);
                   head.ok()) {
          pixels = static_cast<int64_t>(head->total()) * 64;
        }
        records[i] = {names[i], *h, sha256_hex(*bytes), pixels};
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
