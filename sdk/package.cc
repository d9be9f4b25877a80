#include "sdk/package.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <memory>
#include <set>

#include "core/archive.h"
#include "core/files.h"
#include "sdk/library.h"

namespace jz::sdk {
namespace fs = std::filesystem;
namespace {

constexpr const char* kManifest = "manifest.json";
constexpr const char* kSignature = "signature.json";
constexpr uint64_t kMaxMetaBytes = 4 << 20;  // manifest.json and signature.json

using ArchivePtr = std::unique_ptr<archive, int (*)(archive*)>;  // pack() writes with it

Status bad_package(const std::string& what) { return Status::invalid_argument("package: " + what); }

// The package rules on top of the archive rules: manifest.json and signature.json are
// small.
ArchiveLimits archive_limits(const PackageLimits& limits) {
  ArchiveLimits a = limits;
  a.entry_cap = [](const std::string& name) {
    return name == kManifest || name == kSignature ? kMaxMetaBytes : 0;
  };
  return a;
}

// Checks what was found against the signature and the manifest.
Result<PackageInfo> conclude(const std::map<std::string, PackageFile>& found,
                             const std::string& signature_text, const std::string& manifest_text,
                             const std::vector<PublicKey>& trusted_keys) {
  if (!found.count(kSignature)) {
    return bad_package(
        "no signature.json: the package is not signed (make it with `jizhan algo pack`)");
  }
  if (!found.count(kManifest)) return bad_package("no manifest.json");
  PackageInfo info;
  SignedDocument doc;
  JZ_ASSIGN_OR_RETURN(info.signature, parse_package_signature(signature_text, &doc));
  // The signature is checked with the key it names, so a changed package is found even
  // when its signer is unknown; whether that key is trusted is a separate question.
  if (!signature_valid(doc, info.signature.public_key)) {
    return bad_package(
        "the signature does not match its content: the package was altered "
        "after signing");
  }
  for (const auto& k : trusted_keys) {
    if (k.key == info.signature.public_key.key) info.trusted = true;
  }
  for (const auto& [name, file] : found) {
    if (name == kSignature) continue;
    auto it = info.signature.files.find(name);
    if (it == info.signature.files.end()) {
      return bad_package("'" + name +
                         "' is not among the signed files: the package was altered "
                         "after signing");
    }
    if (it->second.sha256 != file.sha256 || it->second.size != file.size) {
      return bad_package("'" + name +
                         "' differs from what was signed: the package was altered "
                         "after signing");
    }
  }
  for (const auto& [name, file] : info.signature.files) {
    if (!found.count(name)) return bad_package("signed file '" + name + "' is missing");
  }
  JZ_ASSIGN_OR_RETURN(info.manifest, parse_manifest(manifest_text));
  if (!found.count(info.manifest.library)) {
    return bad_package("the manifest's library '" + info.manifest.library + "' is not in it");
  }
  for (const auto& m : info.manifest.models) {
    auto it = found.find(m.path);
    if (it == found.end()) return bad_package("model '" + m.path + "' is not in it");
    if (it->second.sha256 != m.sha256) {
      return bad_package("model '" + m.path + "' does not have the sha256 its manifest names");
    }
  }
  return info;
}

Json default_config_of(const Json& schema) {
  Json out = Json::object();
  if (!schema.contains("properties") || !schema["properties"].is_object()) return out;
  for (auto it = schema["properties"].begin(); it != schema["properties"].end(); ++it) {
    if (it->is_object() && it->contains("default")) out[it.key()] = (*it)["default"];
  }
  return out;
}

}  // namespace

Result<PackageSignature> parse_package_signature(std::string_view text, SignedDocument* doc) {
  JZ_ASSIGN_OR_RETURN(SignedDocument d, parse_signed_document(text, "signature.json"));
  Json p = Json::parse(d.payload, nullptr, false);
  if (p.is_discarded() || !p.is_object() ||
      json::string_or(p, "type") != "jizhan-package-signature") {
    return bad_package("signature.json: payload is not a package signature");
  }
  PackageSignature s;
  s.key_id = d.key_id;
  if (json::string_or(p, "key_id") != d.key_id) {
    return bad_package("signature.json: payload and envelope name different keys");
  }
  if (p.contains("publisher") && p["publisher"].is_string()) s.publisher = p["publisher"];
  if (!p.contains("public_key") || !p["public_key"].is_string()) {
    return bad_package("signature.json: payload has no 'public_key'");
  }
  JZ_ASSIGN_OR_RETURN(s.public_key.key, base64_decode(p["public_key"].get<std::string>(),
                                                      "signature.json: public_key"));
  if (key_id_of(s.public_key.key) != s.key_id) {
    return bad_package("signature.json: public_key does not match key_id");
  }
  s.public_key.key_id = s.key_id;
  s.public_key.name = s.publisher;
  if (!p.contains("files") || !p["files"].is_object()) {
    return bad_package("signature.json: payload has no 'files' object");
  }
  for (auto it = p["files"].begin(); it != p["files"].end(); ++it) {
    const Json& f = *it;
    auto path_ok = check_package_path(it.key(), "file");
    if (!path_ok.ok()) return bad_package("signature.json: " + path_ok.message());
    if (!f.is_object() || !f.contains("sha256") || !f["sha256"].is_string() ||
        !f.contains("size") || !f["size"].is_number_unsigned()) {
      return bad_package("signature.json: file '" + it.key() + "' needs sha256 and size");
    }
    s.files[it.key()] = {f["sha256"].get<std::string>(), f["size"].get<uint64_t>()};
  }
  if (doc) *doc = std::move(d);
  return s;
}

Result<Manifest> pack(const PackOptions& o) {
  const fs::path root(o.dir);
  JZ_ASSIGN_OR_RETURN(std::string manifest_text, read_file((root / kManifest).string()));
  Json mj = Json::parse(manifest_text, nullptr, false);
  if (mj.is_discarded() || !mj.is_object()) {
    return Status::invalid_argument(o.dir + "/manifest.json is not a JSON object");
  }
  if (!mj.contains("library") || !mj["library"].is_string()) {
    return Status::invalid_argument(o.dir +
                                    "/manifest.json: field 'library': required, the "
                                    "algorithm's shared library, relative to the folder");
  }
  JZ_RETURN_IF_ERROR(check_package_path(mj["library"].get<std::string>(), "library"));
  // Fill what the library itself declares.
  JZ_ASSIGN_OR_RETURN(auto lib,
                      AlgoLibrary::open((root / mj["library"].get<std::string>()).string()));
  const Json& d = lib->description();
  for (const char* k :
       {"name", "version", "abi_version", "config_schema", "inputs", "output_schema"}) {
    if (mj.contains(k) || !d.contains(k)) continue;
    mj[k] = d[k];
  }
  if (mj["name"] != d["name"] || mj["version"] != d["version"]) {
    return Status::invalid_argument("manifest.json says " + mj["name"].dump() + " " +
                                    mj["version"].dump() + " but the library describes itself as " +
                                    d["name"].dump() + " " + d["version"].dump());
  }
  if (!mj.contains("default_config") && mj.contains("config_schema")) {
    mj["default_config"] = default_config_of(mj["config_schema"]);
  }
  if (mj.contains("models") && mj["models"].is_array()) {
    for (auto& m : mj["models"]) {
      if (!m.is_object() || !m.contains("path") || !m["path"].is_string()) continue;
      JZ_RETURN_IF_ERROR(check_package_path(m["path"].get<std::string>(), "models[].path"));
      JZ_ASSIGN_OR_RETURN(std::string h,
                          sha256_file((root / m["path"].get<std::string>()).string()));
      if (m.contains("sha256") && m["sha256"] != h) {
        return Status::invalid_argument("model " + m["path"].get<std::string>() +
                                        ": its sha256 in manifest.json is not the file's (" + h +
                                        ")");
      }
      m["sha256"] = h;
    }
  }
  manifest_text = mj.dump(2) + "\n";
  JZ_ASSIGN_OR_RETURN(Manifest manifest, parse_manifest(manifest_text));

  // Every regular file under the folder; links are refused, not followed.
  std::vector<std::string> files;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(root, ec), end; it != end; it.increment(ec)) {
    if (ec) break;
    const std::string rel = fs::relative(it->path(), root).generic_string();
    if (it->is_symlink()) {
      return Status::invalid_argument(it->path().string() +
                                      " is a symbolic link; copy the file into the folder instead");
    }
    if (it->is_directory()) continue;
    if (!it->is_regular_file()) {
      return Status::invalid_argument(it->path().string() + " is not a regular file");
    }
    if (rel == kSignature) continue;
    JZ_RETURN_IF_ERROR(check_package_path(rel, "file"));
    files.push_back(rel);
  }
  if (ec) return Status::failed_precondition("cannot list " + o.dir + ": " + ec.message());
  std::sort(files.begin(), files.end());
  for (const auto& m : manifest.models) {
    if (!std::binary_search(files.begin(), files.end(), m.path)) {
      return Status::invalid_argument("model " + m.path + " is not in " + o.dir);
    }
  }

  Json signed_files = Json::object();
  for (const auto& f : files) {
    if (f == kManifest) {
      signed_files[f] = {{"sha256", sha256_hex(manifest_text)}, {"size", manifest_text.size()}};
      continue;
    }
    uint64_t size = 0;
    JZ_ASSIGN_OR_RETURN(std::string h, sha256_file((root / f).string(), &size));
    signed_files[f] = {{"sha256", h}, {"size", size}};
  }
  Json payload = {{"type", "jizhan-package-signature"},
                  {"publisher", o.key.pub.name},
                  {"key_id", o.key.pub.key_id},
                  {"public_key", base64_encode(o.key.pub.key)},
                  {"package", manifest.name + "@" + manifest.version},
                  {"files", signed_files}};
  const std::string signature_text = sign_document(o.key, payload.dump()).dump(2) + "\n";

  const std::string tmp = o.out + ".tmp." + std::to_string(::getpid());
  ArchivePtr a(archive_write_new(), archive_write_free);
  archive_write_add_filter_gzip(a.get());
  archive_write_set_format_pax_restricted(a.get());
  if (archive_write_open_filename(a.get(), tmp.c_str()) != ARCHIVE_OK) {
    return Status::failed_precondition("cannot write " + o.out + ": " +
                                       archive_error_string(a.get()));
  }
  auto add = [&](const std::string& name, const std::string* data, const fs::path& src) -> Status {
    std::unique_ptr<archive_entry, void (*)(archive_entry*)> e(archive_entry_new(),
                                                               archive_entry_free);
    uint64_t size = data ? data->size() : fs::file_size(src);
    archive_entry_set_pathname(e.get(), name.c_str());
    archive_entry_set_size(e.get(), static_cast<la_int64_t>(size));
    archive_entry_set_filetype(e.get(), AE_IFREG);
    archive_entry_set_perm(e.get(), 0644);
    archive_entry_set_mtime(e.get(), 0, 0);
    if (archive_write_header(a.get(), e.get()) != ARCHIVE_OK) {
      return Status::failed_precondition("cannot add " + name + ": " +
                                         archive_error_string(a.get()));
    }
    if (data) {
      archive_write_data(a.get(), data->data(), data->size());
      return {};
    }
    int fd = ::open(src.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Status::not_found("cannot read " + src.string());
    char buf[1 << 16];
    ssize_t n;
    while ((n = ::read(fd, buf, sizeof buf)) > 0)
      archive_write_data(a.get(), buf, static_cast<size_t>(n));
    ::close(fd);
    return {};
  };
  Status s = add(kManifest, &manifest_text, {});
  for (const auto& f : files) {
    if (!s.ok()) break;
    if (f != kManifest) s = add(f, nullptr, root / f);
  }
  if (s.ok()) s = add(kSignature, &signature_text, {});
  if (s.ok() && archive_write_close(a.get()) != ARCHIVE_OK) {
    s = Status::failed_precondition("cannot write " + o.out + ": " + archive_error_string(a.get()));
  }
  if (s.ok() && ::rename(tmp.c_str(), o.out.c_str()) != 0) {
    s = Status::failed_precondition("cannot write " + o.out + ": " + errno_message(errno));
  }
  if (!s.ok()) {
    ::unlink(tmp.c_str());
    return s;
  }
  return manifest;
}

Status read_package_entries(std::string_view bytes, const PackageLimits& limits,
                            const std::function<Status(const std::string&, std::string)>& on_file) {
  JZ_ASSIGN_OR_RETURN(TarReader reader, TarReader::from_memory(bytes, "package", "a .jzpkg"));
  std::map<std::string, PackageFile> found;
  std::set<std::string> dirs;
  std::string current;
  return reader.walk(
      archive_limits(limits),
      [&](const std::string&) -> Result<ArchiveSink> {
        current.clear();
        return ArchiveSink{&current, -1};
      },
      [&](const std::string& name, ArchiveSink&) { return on_file(name, std::move(current)); },
      found, dirs);
}

Status unpack_entries(std::string_view bytes, const std::string& dest,
                      const PackageLimits& limits) {
  return unpack_tar(bytes, dest, limits, "archive");
}

Result<PackageInfo> inspect_package_bytes(std::string_view bytes,
                                          const std::vector<PublicKey>& trusted_keys,
                                          const PackageLimits& limits) {
  std::map<std::string, PackageFile> found;
  std::string signature_text, manifest_text;
  JZ_RETURN_IF_ERROR(
      read_package_entries(bytes, limits, [&](const std::string& name, std::string data) {
        found[name] = {sha256_hex(data), data.size()};
        if (name == kSignature) {
          signature_text = std::move(data);
        } else if (name == kManifest) {
          manifest_text = std::move(data);
        }
        return Status{};
      }));
  return conclude(found, signature_text, manifest_text, trusted_keys);
}

Result<PackageInfo> unpack_package(const std::string& file, const std::string& dest,
                                   const std::vector<PublicKey>& trusted_keys, bool allow_untrusted,
                                   const PackageLimits& limits) {
  std::error_code ec;
  if (fs::exists(dest, ec) && !fs::is_empty(dest, ec)) {
    return Status::already_exists(dest + " is not empty; unpack into a new folder");
  }
  fs::create_directories(dest, ec);
  if (ec) return Status::failed_precondition("cannot create " + dest + ": " + ec.message());
  auto fail = [&](Status s) -> Result<PackageInfo> {
    std::error_code ignored;
    fs::remove_all(dest, ignored);
    return s;
  };
  auto reader = TarReader::from_file(file, "package");
  if (!reader.ok()) return fail(reader.status());
  std::map<std::string, PackageFile> found;
  std::set<std::string> dirs;
  std::string signature_text, manifest_text;
  Status walked = reader->walk(
      archive_limits(limits),
      [&](const std::string& name) -> Result<ArchiveSink> {
        if (name == kSignature) return ArchiveSink{&signature_text, -1};
        if (name == kManifest) return ArchiveSink{&manifest_text, -1};
        return file_sink(dest, name);
      },
      close_sink, found, dirs);
  if (!walked.ok()) return fail(walked);
  auto info = conclude(found, signature_text, manifest_text, trusted_keys);
  if (!info.ok()) return fail(info.status());
  if (!info->trusted && !allow_untrusted) {
    return fail(
        bad_package("signed by '" + info->signature.publisher + "' (key " + info->signature.key_id +
                    "), which is not a trusted key; pass --trust KEY.pub or put the key in " +
                    trusted_keys_dir()));
  }
  for (const auto& [name, text] :
       {std::pair{kManifest, &manifest_text}, std::pair{kSignature, &signature_text}}) {
    Status w = write_file(dest + "/" + name, *text, 0644, true);
    if (!w.ok()) return fail(w);
  }
  info->root = dest;
  return info;
}

}  // namespace jz::sdk
