// Algorithm packages (.jzpkg): a gzip-compressed tar of manifest.json, the library, its
// models and any other files, plus signature.json, the publisher's Ed25519 signature over
// the SHA-256 and size of every other file (sdk/signing.h).
//
// Reading a package never trusts it: entry names must pass check_package_path (relative,
// no "..", no "."), only regular files and folders are accepted (no links of any kind, no
// devices), sizes and counts are bounded, names appear once, and the files present must be
// exactly the signed ones with the signed hashes.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/archive.h"
#include "core/status.h"
#include "sdk/manifest.h"
#include "sdk/signing.h"

namespace jz::sdk {

// The archive rules (core/archive.h); a package's manifest.json and signature.json are
// also held to 4 MiB each.
using PackageLimits = ArchiveLimits;
using PackageFile = ArchiveEntry;

// What signature.json's payload says.
struct PackageSignature {
  std::string publisher;  // the key's name
  std::string key_id;
  PublicKey public_key;                      // the signer's key, as the signature names it
  std::map<std::string, PackageFile> files;  // every file except signature.json
};
Result<PackageSignature> parse_package_signature(std::string_view text, SignedDocument* doc);

// Builds a package from DIR (manifest.json plus the files it names; every regular file
// under DIR goes in). Model hashes missing from the manifest are computed; name, version,
// abi_version, schemas and inputs missing from it are taken from the library's describe().
struct PackOptions {
  std::string dir;
  std::string out;
  SigningKey key;
};
Result<Manifest> pack(const PackOptions& options);

// The result of checking a package.
struct PackageInfo {
  Manifest manifest;
  PackageSignature signature;
  bool trusted = false;  // signed by one of the trusted keys
  std::string root;      // where it was unpacked (unpack only)
};

// Reads every entry with the rules above, calling `on_file(name, bytes)` for each regular
// file (bytes in memory: for small packages, inspection and fuzzing).
Status read_package_entries(std::string_view archive_bytes, const PackageLimits& limits,
                            const std::function<Status(const std::string&, std::string)>& on_file);

// Unpacks a plain tar or tar.gz (no signature: a dataset upload) into the existing, empty
// folder `dest` with the entry rules above, streaming each file to disk (memory stays
// bounded whatever the archive expands to): folders 0755, files 0644, nothing through a
// link. On error what was written stays for the caller to remove with `dest`.
Status unpack_entries(std::string_view archive_bytes, const std::string& dest,
                      const PackageLimits& limits);

// Checks a package in memory: entries, hashes, signature, manifest, files the manifest
// names. `trusted_keys` decides `trusted`; an untrusted signer is not an error here.
Result<PackageInfo> inspect_package_bytes(std::string_view archive_bytes,
                                          const std::vector<PublicKey>& trusted_keys,
                                          const PackageLimits& limits = {});

// Unpacks FILE into `dest` (created; must not exist or be empty) with every check above,
// streaming (large models never sit in memory). Refuses untrusted signers unless
// `allow_untrusted`. On error `dest` is removed again.
Result<PackageInfo> unpack_package(const std::string& file, const std::string& dest,
                                   const std::vector<PublicKey>& trusted_keys,
                                   bool allow_untrusted = false, const PackageLimits& limits = {});

}  // namespace jz::sdk
