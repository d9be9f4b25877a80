// Packages: what pack writes verifies; anything changed after signing, and every hostile
// archive shape (absolute paths, "..", links, devices, oversize and repeated entries), is
// refused with a message naming the entry, and nothing is left behind.
#include "sdk/package.h"

#include <archive.h>
#include <archive_entry.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "core/files.h"
#include "tests/support/temp_dir.h"

namespace jz::sdk {
namespace {
namespace fs = std::filesystem;

std::string slurp(const fs::path& p) { return *read_file(p.string()); }

// A folder ready to pack: color_blobs with a manifest and a model file.
void make_folder(const fs::path& dir, const std::string& manifest_extra = "") {
  fs::create_directories(dir / "models");
  fs::copy_file(JZ_COLOR_BLOBS, dir / "color_blobs.so");
  std::ofstream(dir / "models" / "palette.txt") << "red green blue\n";
  std::ofstream(dir / "manifest.json")
      << R"({"library":"color_blobs.so","models":[{"path":"models/palette.txt"}])" << manifest_extra
      << "}";
}

struct Entry {
  std::string name;
  std::string data;
  unsigned type = AE_IFREG;
  std::string link;  // symlink target or hard link source
  int64_t declared_size = -1;
};

// Writes a gzip tar with exactly these entries.
std::string tar(const std::vector<Entry>& entries) {
  size_t room = 1 << 20;
  for (const auto& e : entries) room += e.data.size() + 1024;
  std::string out(room, '\0');
  size_t used = 0;
  archive* a = archive_write_new();
  archive_write_add_filter_gzip(a);
  archive_write_set_format_pax_restricted(a);
  archive_write_open_memory(a, out.data(), out.size(), &used);
  for (const auto& e : entries) {
    archive_entry* ae = archive_entry_new();
    archive_entry_set_pathname(ae, e.name.c_str());
    archive_entry_set_filetype(ae, e.type);
    archive_entry_set_perm(ae, 0644);
    if (e.type == AE_IFLNK) archive_entry_set_symlink(ae, e.link.c_str());
    if (e.type == AE_IFREG && !e.link.empty()) archive_entry_set_hardlink(ae, e.link.c_str());
    archive_entry_set_size(
        ae, e.declared_size >= 0 ? e.declared_size : static_cast<int64_t>(e.data.size()));
    archive_write_header(a, ae);
    if (!e.data.empty()) archive_write_data(a, e.data.data(), e.data.size());
    archive_entry_free(ae);
  }
  archive_write_close(a);
  archive_write_free(a);
  out.resize(used);
  return out;
}

class PackageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    key_ = generate_signing_key("acme-vision");
    make_folder(dir_.path() / "src");
    auto m = pack({(dir_.path() / "src").string(), pkg(), key_});
    ASSERT_TRUE(m.ok()) << m.status().message();
  }
  std::string pkg() const { return (dir_.path() / "cb.jzpkg").string(); }
  testing::TempDir dir_;
  SigningKey key_;
};

TEST_F(PackageTest, PackFillsTheManifestFromTheLibraryAndVerifies) {
  auto info = inspect_package_bytes(slurp(pkg()), {key_.pub});
  ASSERT_TRUE(info.ok()) << info.status().message();
  EXPECT_TRUE(info->trusted);
  EXPECT_EQ(info->manifest.name, "color_blobs");
  EXPECT_EQ(info->manifest.version, "1.0.0");
  ASSERT_EQ(info->manifest.models.size(), 1u);
  EXPECT_EQ(info->manifest.models[0].sha256, sha256_hex("red green blue\n"));
  EXPECT_TRUE(info->manifest.default_config.contains("tolerance"));
  EXPECT_EQ(info->signature.publisher, "acme-vision");
  EXPECT_EQ(info->signature.files.size(), 3u);  // manifest, library, model

  auto other = generate_signing_key("someone-else");
  auto untrusted = inspect_package_bytes(slurp(pkg()), {other.pub});
  ASSERT_TRUE(untrusted.ok());
  EXPECT_FALSE(untrusted->trusted);

  const fs::path out = dir_.path() / "unpacked";
  auto refused = unpack_package(pkg(), out.string(), {other.pub});
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("not a trusted key"), std::string::npos);
  EXPECT_FALSE(fs::exists(out)) << "a refused package leaves nothing behind";

  auto unpacked = unpack_package(pkg(), out.string(), {key_.pub});
  ASSERT_TRUE(unpacked.ok()) << unpacked.status().message();
  EXPECT_EQ(slurp(out / "models" / "palette.txt"), "red green blue\n");
  EXPECT_TRUE(fs::exists(out / "color_blobs.so"));
  EXPECT_TRUE(fs::exists(out / "manifest.json"));
}

TEST_F(PackageTest, AnythingChangedAfterSigningIsRefused) {
  // Re-pack the same files with one changed, keeping the original signature.
  std::map<std::string, std::string> files;
  ASSERT_TRUE(read_package_entries(slurp(pkg()), {}, [&](const std::string& n, std::string d) {
                files[n] = std::move(d);
                return Status{};
              }).ok());
  auto rebuild = [&](const std::map<std::string, std::string>& f) {
    std::vector<Entry> entries;
    entries.reserve(f.size());
    for (const auto& [n, d] : f) entries.push_back({n, d});
    return tar(entries);
  };
  auto expect_refused = [&](const std::map<std::string, std::string>& f,
                            const std::string& needle) {
    auto r = inspect_package_bytes(rebuild(f), {key_.pub});
    ASSERT_FALSE(r.ok()) << needle;
    EXPECT_NE(r.status().message().find(needle), std::string::npos) << r.status().message();
  };
  ASSERT_TRUE(inspect_package_bytes(rebuild(files), {key_.pub}).ok());

  auto changed_model = files;
  changed_model["models/palette.txt"] = "red green blue black\n";
  expect_refused(changed_model, "'models/palette.txt' differs from what was signed");

  auto extra = files;
  extra["models/extra.bin"] = "x";
  expect_refused(extra, "'models/extra.bin' is not among the signed files");

  auto missing = files;
  missing.erase("models/palette.txt");
  expect_refused(missing, "signed file 'models/palette.txt' is missing");

  auto unsigned_pkg = files;
  unsigned_pkg.erase("signature.json");
  expect_refused(unsigned_pkg, "not signed");

  // A signature whose payload was edited (a file's hash replaced) no longer verifies.
  auto forged = files;
  Json sig = Json::parse(forged["signature.json"]);
  std::string payload = sig["payload"];
  payload.replace(payload.find(sha256_hex("red green blue\n")), 64,
                  sha256_hex("red green blue black\n"));
  sig["payload"] = payload;
  forged["signature.json"] = sig.dump();
  forged["models/palette.txt"] = "red green blue black\n";
  expect_refused(forged, "the signature does not match its content");
}

TEST(PackageArchive, HostileEntriesAreRefusedByName) {
  const struct {
    std::vector<Entry> entries;
    const char* needle;
  } cases[] = {
      {{{"/etc/passwd", "x"}}, "entry '/etc/passwd'"},
      {{{"../escape.txt", "x"}}, "entry '../escape.txt'"},
      {{{"models/../../escape.txt", "x"}}, "entry 'models/../../escape.txt'"},
      // "./name" is how `tar -C DIR .` spells "name" (accepted), so both are one entry.
      {{{"./manifest.json", "{}"}, {"manifest.json", "{}"}}, "'manifest.json' appears twice"},
      {{{"./../escape.txt", "x"}}, "entry '../escape.txt'"},
      {{{"link", "", AE_IFLNK, "/etc"}}, "'link' is a symbolic link"},
      {{{"models/a", "x"}, {"models/b", "", AE_IFREG, "models/a", 0}}, "'models/b' is a hard link"},
      {{{"fifo", "", AE_IFIFO}}, "'fifo' is not a regular file"},
      {{{"dev", "", AE_IFCHR}}, "'dev' is not a regular file"},
      {{{"a.txt", "x"}, {"a.txt", "y"}}, "'a.txt' appears twice"},
      {{{"a", "x"}, {"a/b", "y"}}, "'a' is both a file and a folder"},
      {{{"big.bin", std::string(2000, 'x')}}, "over the limit of 1000"},
      {{{"manifest.json", std::string(5 << 20, ' ')}}, "'manifest.json' is 5242880 bytes"},
  };
  PackageLimits limits;
  limits.max_entry_bytes = 1000;
  for (const auto& c : cases) {
    Status s = read_package_entries(
        tar(c.entries), limits, [](const std::string&, const std::string&) { return Status{}; });
    ASSERT_FALSE(s.ok()) << c.needle;
    EXPECT_NE(s.message().find(c.needle), std::string::npos) << s.message();
  }
  limits.max_entries = 3;
  std::vector<Entry> many;
  many.reserve(5);
  for (int i = 0; i < 5; ++i) many.push_back({"f" + std::to_string(i), "x"});
  Status s = read_package_entries(tar(many), limits,
                                  [](const std::string&, const std::string&) { return Status{}; });
  EXPECT_NE(s.message().find("more than 3 entries"), std::string::npos) << s.message();
  limits = {};
  limits.max_total_bytes = 1500;
  s = read_package_entries(tar({{"a", std::string(1000, 'a')}, {"b", std::string(1000, 'b')}}),
                           limits, [](const std::string&, const std::string&) { return Status{}; });
  EXPECT_NE(s.message().find("add up to more than 1500"), std::string::npos) << s.message();
  s = read_package_entries("this is not an archive", {},
                           [](const std::string&, const std::string&) { return Status{}; });
  EXPECT_NE(s.message().find("not a .jzpkg"), std::string::npos) << s.message();
}

TEST(PackageArchive, UnpackingIntoAFolderThatHoldsFilesIsRefused) {
  testing::TempDir dir;
  std::ofstream(dir.path() / "keep.txt") << "precious";
  auto r = unpack_package("/nonexistent.jzpkg", dir.str(), {});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("not empty"), std::string::npos);
  EXPECT_EQ(slurp(dir.path() / "keep.txt"), "precious") << "nothing already there is lost";
}

TEST(PackageSigning, PackRefusesLinksAndWrongModelHashes) {
  testing::TempDir dir;
  auto key = generate_signing_key("k");
  make_folder(dir.path() / "a");
  fs::create_symlink("/etc/passwd", dir.path() / "a" / "models" / "link");
  auto r = pack({(dir.path() / "a").string(), (dir.path() / "a.jzpkg").string(), key});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("symbolic link"), std::string::npos) << r.status().message();
  make_folder(dir.path() / "b", R"(,"name":"color_blobs")");
  std::ofstream(dir.path() / "b" / "manifest.json")
      << R"({"library":"color_blobs.so","models":[{"path":"models/palette.txt","sha256":")"
      << std::string(64, '0') << R"("}]})";
  r = pack({(dir.path() / "b").string(), (dir.path() / "b.jzpkg").string(), key});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("is not the file's"), std::string::npos)
      << r.status().message();
  EXPECT_FALSE(fs::exists(dir.path() / "b.jzpkg"));
}

TEST(PackageSigning, KeyFilesRoundTripAndRefuseMixUps) {
  testing::TempDir dir;
  auto key = generate_signing_key("acme");
  const std::string prefix = (dir.path() / "acme").string();
  ASSERT_TRUE(write_key_pair(key, prefix).ok());
  EXPECT_EQ(fs::status(prefix + ".key").permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);
  EXPECT_EQ(write_key_pair(key, prefix).code(), Code::kAlreadyExists) << "never overwrites a key";
  auto sk = read_signing_key(prefix + ".key");
  ASSERT_TRUE(sk.ok()) << sk.status().message();
  EXPECT_EQ(sk->secret, key.secret);
  auto pk = read_public_key(prefix + ".pub");
  ASSERT_TRUE(pk.ok());
  EXPECT_EQ(pk->key_id, key.pub.key_id);
  auto mixed = read_public_key(prefix + ".key");
  ASSERT_FALSE(mixed.ok());
  EXPECT_NE(mixed.status().message().find("keep the .key file private"), std::string::npos);
}

}  // namespace
}  // namespace jz::sdk
