// Ed25519 signing for packages and licences (libsodium), and the key files people keep.
//
// A signing key file (0600) holds the secret and public key; a public key file holds
// only the public key. Both are small JSON documents that name their key by `key_id`,
// the first 16 hex digits of the public key's SHA-256. A signed document is
//   {"payload": "<the signed JSON text, verbatim>", "key_id": "...", "signature": "<base64>"}
// so that the signed bytes never depend on how a JSON library re-serialises them.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/hash.h"  // sha256_hex, sha256_file, base64_decode
#include "core/json.h"
#include "core/status.h"

namespace jz::sdk {

struct PublicKey {
  std::string name;    // who holds the key, e.g. "acme-vision"
  std::string key_id;  // 16 hex digits
  std::string key;     // 32 raw bytes
};

struct SigningKey {
  PublicKey pub;
  std::string secret;  // 64 raw bytes (libsodium's seed + public key form)
};

SigningKey generate_signing_key(const std::string& name);
std::string key_id_of(std::string_view public_key);

Json signing_key_json(const SigningKey& key);
Json public_key_json(const PublicKey& key);
Result<SigningKey> parse_signing_key(std::string_view text);
Result<PublicKey> parse_public_key(std::string_view text);
Result<SigningKey> read_signing_key(const std::string& path);
Result<PublicKey> read_public_key(const std::string& path);
// Writes the key pair as PREFIX.key (0600) and PREFIX.pub; refuses to overwrite.
Status write_key_pair(const SigningKey& key, const std::string& prefix);

// The signed envelope around `payload` (JSON text).
Json sign_document(const SigningKey& key, const std::string& payload);

struct SignedDocument {
  std::string payload;  // verbatim signed text
  std::string key_id;
  std::string signature;  // 64 raw bytes
};
// Parses the envelope's shape (it does not check the signature).
Result<SignedDocument> parse_signed_document(std::string_view text, std::string_view what);
// True when `doc` was signed by `key`.
bool signature_valid(const SignedDocument& doc, const PublicKey& key);

// Keys a user trusts: files given on the command line, then every *.pub in the
// trusted-keys folder (`$JIZHAN_CONFIG_DIR/trusted-keys`, else
// `$XDG_CONFIG_HOME/jizhan/trusted-keys`, else `~/.config/jizhan/trusted-keys`).
Result<std::vector<PublicKey>> load_trusted_keys(const std::vector<std::string>& files);
std::string trusted_keys_dir();

}  // namespace jz::sdk
