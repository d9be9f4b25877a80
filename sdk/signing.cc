#include "sdk/signing.h"

#include <dirent.h>
#include <fcntl.h>
#include <sodium.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>

#include "core/files.h"

namespace jz::sdk {
namespace {

constexpr const char* kSecretType = "jizhan-signing-key";
constexpr const char* kPublicType = "jizhan-public-key";

void init_sodium() {
  static const bool ok = sodium_init() >= 0;
  (void)ok;
}

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

Result<Json> parse_object(std::string_view text, std::string_view what) {
  Json j = Json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return Status::invalid_argument(std::string(what) + " is not a JSON object");
  }
  return j;
}

Result<std::string> string_field(const Json& j, const char* key, std::string_view what) {
  if (!j.contains(key) || !j[key].is_string()) {
    return Status::invalid_argument(std::string(what) + ": field '" + key +
                                    "' is missing or not a string");
  }
  return j[key].get<std::string>();
}

Result<PublicKey> public_from(const Json& j, std::string_view what) {
  PublicKey k;
  JZ_ASSIGN_OR_RETURN(std::string b64, string_field(j, "public_key", what));
  JZ_ASSIGN_OR_RETURN(k.key, base64_decode(b64, std::string(what) + ": public_key"));
  if (k.key.size() != crypto_sign_PUBLICKEYBYTES) {
    return Status::invalid_argument(std::string(what) + ": public_key is not an Ed25519 key");
  }
  if (j.contains("name") && j["name"].is_string()) k.name = j["name"].get<std::string>();
  k.key_id = key_id_of(k.key);
  if (j.contains("key_id") && j["key_id"] != k.key_id) {
    return Status::invalid_argument(std::string(what) +
                                    ": key_id does not belong to public_key (edited file?)");
  }
  return k;
}

Result<Json> check_type(std::string_view text, const char* type, std::string_view what) {
  JZ_ASSIGN_OR_RETURN(Json j, parse_object(text, what));
  if (json::string_or(j, "type") != type) {
    return Status::invalid_argument(std::string(what) + " is not a " + type +
                                    " file (its type is '" + json::string_or(j, "type") + "')");
  }
  return j;
}

}  // namespace

std::string key_id_of(std::string_view public_key) { return sha256_hex(public_key).substr(0, 16); }

SigningKey generate_signing_key(const std::string& name) {
  init_sodium();
  SigningKey k;
  k.pub.key.resize(crypto_sign_PUBLICKEYBYTES);
  k.secret.resize(crypto_sign_SECRETKEYBYTES);
  crypto_sign_keypair(reinterpret_cast<unsigned char*>(k.pub.key.data()),
                      reinterpret_cast<unsigned char*>(k.secret.data()));
  k.pub.name = name;
  k.pub.key_id = key_id_of(k.pub.key);
  return k;
}

Json public_key_json(const PublicKey& key) {
  return {{"type", kPublicType},
          {"algorithm", "ed25519"},
          {"name", key.name},
          {"key_id", key.key_id},
          {"public_key", base64_encode(key.key)}};
}

Json signing_key_json(const SigningKey& key) {
  Json j = public_key_json(key.pub);
  j["type"] = kSecretType;
  j["secret_key"] = base64_encode(key.secret);
  return j;
}

Result<PublicKey> parse_public_key(std::string_view text) {
  JZ_ASSIGN_OR_RETURN(Json j, parse_object(text, "public key"));
  if (json::string_or(j, "type") == kSecretType) {
    return Status::invalid_argument(
        "this is a signing (secret) key; give the .pub file, and keep the .key file private");
  }
  JZ_ASSIGN_OR_RETURN(j, check_type(text, kPublicType, "public key"));
  return public_from(j, "public key");
}

Result<SigningKey> parse_signing_key(std::string_view text) {
  JZ_ASSIGN_OR_RETURN(Json j, check_type(text, kSecretType, "signing key"));
  SigningKey k;
  JZ_ASSIGN_OR_RETURN(k.pub, public_from(j, "signing key"));
  JZ_ASSIGN_OR_RETURN(std::string b64, string_field(j, "secret_key", "signing key"));
  JZ_ASSIGN_OR_RETURN(k.secret, base64_decode(b64, "signing key: secret_key"));
  if (k.secret.size() != crypto_sign_SECRETKEYBYTES ||
      k.secret.compare(crypto_sign_SEEDBYTES, std::string::npos, k.pub.key) != 0) {
    return Status::invalid_argument("signing key: secret_key does not match public_key");
  }
  return k;
}

Result<SigningKey> read_signing_key(const std::string& path) {
  JZ_ASSIGN_OR_RETURN(std::string text, read_file(path));
  auto k = parse_signing_key(text);
  if (!k.ok()) return Status(k.status().code(), path + ": " + k.status().message());
  return k;
}

Result<PublicKey> read_public_key(const std::string& path) {
  JZ_ASSIGN_OR_RETURN(std::string text, read_file(path));
  auto k = parse_public_key(text);
  if (!k.ok()) return Status(k.status().code(), path + ": " + k.status().message());
  return k;
}

Status write_key_pair(const SigningKey& key, const std::string& prefix) {
  JZ_RETURN_IF_ERROR(write_file(prefix + ".key", signing_key_json(key).dump(2) + "\n", 0600, true));
  return write_file(prefix + ".pub", public_key_json(key.pub).dump(2) + "\n", 0644, true);
}

Json sign_document(const SigningKey& key, const std::string& payload) {
  unsigned char sig[crypto_sign_BYTES];
  crypto_sign_detached(sig, nullptr, reinterpret_cast<const unsigned char*>(payload.data()),
                       payload.size(), reinterpret_cast<const unsigned char*>(key.secret.data()));
  return {{"payload", payload},
          {"key_id", key.pub.key_id},
          {"signature", base64_encode(std::string_view(reinterpret_cast<char*>(sig), sizeof sig))}};
}

Result<SignedDocument> parse_signed_document(std::string_view text, std::string_view what) {
  JZ_ASSIGN_OR_RETURN(Json j, parse_object(text, what));
  SignedDocument d;
  JZ_ASSIGN_OR_RETURN(d.payload, string_field(j, "payload", what));
  JZ_ASSIGN_OR_RETURN(d.key_id, string_field(j, "key_id", what));
  JZ_ASSIGN_OR_RETURN(std::string sig, string_field(j, "signature", what));
  JZ_ASSIGN_OR_RETURN(d.signature, base64_decode(sig, std::string(what) + ": signature"));
  if (d.signature.size() != crypto_sign_BYTES) {
    return Status::invalid_argument(std::string(what) + ": signature is not an Ed25519 signature");
  }
  return d;
}

bool signature_valid(const SignedDocument& doc, const PublicKey& key) {
  init_sodium();
  if (key.key.size() != crypto_sign_PUBLICKEYBYTES || doc.signature.size() != crypto_sign_BYTES) {
    return false;
  }
  return crypto_sign_verify_detached(reinterpret_cast<const unsigned char*>(doc.signature.data()),
                                     reinterpret_cast<const unsigned char*>(doc.payload.data()),
                                     doc.payload.size(),
                                     reinterpret_cast<const unsigned char*>(key.key.data())) == 0;
}

std::string trusted_keys_dir() {
  if (std::string d = env("JIZHAN_CONFIG_DIR"); !d.empty()) return d + "/trusted-keys";
  if (std::string d = env("XDG_CONFIG_HOME"); !d.empty()) return d + "/jizhan/trusted-keys";
  if (std::string d = env("HOME"); !d.empty()) return d + "/.config/jizhan/trusted-keys";
  return "";
}

Result<std::vector<PublicKey>> load_trusted_keys(const std::vector<std::string>& files) {
  std::vector<PublicKey> out;
  for (const auto& f : files) {
    JZ_ASSIGN_OR_RETURN(PublicKey k, read_public_key(f));
    out.push_back(std::move(k));
  }
  const std::string dir = trusted_keys_dir();
  if (dir.empty()) return out;
  DIR* d = ::opendir(dir.c_str());
  if (!d) return out;  // no folder: no keys from it
  std::vector<std::string> names;
  while (dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n.size() > 4 && n.compare(n.size() - 4, 4, ".pub") == 0) names.push_back(n);
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());
  for (const auto& n : names) {
    JZ_ASSIGN_OR_RETURN(PublicKey k, read_public_key(dir + "/" + n));
    out.push_back(std::move(k));
  }
  return out;
}

}  // namespace jz::sdk
