// Algorithm licences (F3): a licence is a signed JSON document (sdk/signing.h) naming the
// algorithm and a version range, the customer, the machine, a validity window and limits
// (channels, frames per second). An activation code is a short, typeable secret issued with
// it, carrying check characters so that a typo is caught before anything else:
//   XXXX-XXXX-XXXX-XXXX   (Crockford base32: 0-9 A-Z without I L O U; 14 random symbols,
//                          70 bits, then two check symbols that catch any one wrong
//                          character and any swap of two neighbours)
// A licence is installed by activation (code + licence file) and is usable only with its
// code: the licence stores the code's SHA-256, the installed record stores the code.
//
// The host refuses to run an algorithm whose manifest requires a licence unless an
// installed licence, signed by the package's own publisher, allows this algorithm, this
// version, this machine, now, and the channels asked for; every refusal says which.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "core/json.h"
#include "core/status.h"
#include "sdk/signing.h"

namespace jz::sdk {

struct Licence {
  std::string id;                     // "L-" + 12 hex digits
  std::string algorithm;              // the package name
  std::string min_version = "0.0.0";  // inclusive
  std::string below_version;          // exclusive; empty: no upper bound
  std::string customer;
  std::string machine = "*";  // a fingerprint (`jizhan license fingerprint`) or "*"
  Clock::WallTime valid_from{}, valid_until{};
  int channels = 0;  // 0: unlimited
  double qps = 0;    // frames per second over all channels; 0: unlimited
  std::string activation_sha256;
  std::string issuer;  // the signing key's name
  std::string key_id;

  Json to_json() const;
  std::string versions_text() const;  // ">=1.0.0 <2.0.0"
};

// Version comparison for MAJOR.MINOR.PATCH[-pre] (pre-releases order before the release).
int compare_versions(std::string_view a, std::string_view b);

// A fresh activation code, formatted with dashes.
std::string new_activation_code();
// Upper-cases, drops dashes and spaces, reads O as 0 and I/L as 1, and checks the length
// and the check characters; the error says what to look for.
Result<std::string> normalize_activation_code(std::string_view code);

// This machine's fingerprint, as 4x4 hex groups: SHA-256 of /etc/machine-id (or D-Bus's);
// where neither exists (a bare container), of the network hardware addresses and host name.
// A container whose machine id does not persist names a file that does in
// JIZHAN_MACHINE_ID_FILE.
Result<std::string> machine_fingerprint();

struct IssueOptions {
  Licence licence;  // activation_sha256, issuer and key_id are filled in; id when empty
  SigningKey key;
  std::string activation_code;  // the code it is for; "" makes a new one
};
struct Issued {
  Licence licence;
  std::string file_text;        // the signed licence (.jzlic)
  std::string activation_code;  // give it to the customer separately
};
Result<Issued> issue_licence(IssueOptions options);

// Parses a licence file: the envelope and every payload field; the signature is checked
// separately (`licence_signed_by`), against the key the caller trusts.
Result<Licence> parse_licence(std::string_view text, SignedDocument* doc = nullptr);
bool licence_signed_by(const SignedDocument& doc, const PublicKey& key);

struct LicenceUse {
  std::string algorithm, version;
  std::string machine;  // this machine's fingerprint
  Clock::WallTime now;
  int channels = 1;
  // A licence past its end is still accepted this long after it (the customer's client
  // keeps serving while it renews: `jizhan client serve --grace`); 0: none.
  std::chrono::seconds grace{0};
};
// Each refusal has its own message: other algorithm, version out of range, other machine,
// not yet valid, expired, over the channel limit.
Status check_licence(const Licence& l, const LicenceUse& use);

// An activation request for a machine that cannot reach the store (offline activation):
// the code and the machine's fingerprint, signed by the client's install key, whose public
// half it carries. The store answers it with a licence file.
struct ActivationRequest {
  std::string code;  // normalised
  std::string fingerprint;
  PublicKey install_key;
  std::string created_at;
};
std::string make_activation_request(const SigningKey& install_key, std::string_view code,
                                    const std::string& fingerprint, Clock::WallTime now);
// Parses a request and checks it is signed by the key it carries; each fault named.
Result<ActivationRequest> parse_activation_request(std::string_view text);

// A client install's fingerprint: this machine's (machine_fingerprint) and the install
// key's id, hashed into 4x4 hex groups. Copied to another machine, the install (and its
// licences) no longer match; two installs on one machine are two machines to the store.
std::string client_fingerprint(std::string_view machine, const PublicKey& install_key);

// Installed licences: `$JIZHAN_CONFIG_DIR/licences` (else the XDG/HOME equivalents).
std::string licence_dir();
// Verifies the code against the licence (checksum, then that it is this licence's code),
// the signature against `publisher` when given, and the licence against `use` when given;
// then stores licence and code in `dir`.
Result<Licence> activate_licence(std::string_view licence_text, std::string_view code,
                                 const std::string& dir, const PublicKey* publisher,
                                 const std::optional<LicenceUse>& use);

// Finds an installed licence that allows `use`, signed by `publisher`. The error lists
// every installed licence for this algorithm and why it was refused.
Result<Licence> find_licence(const std::string& dir, const PublicKey& publisher,
                             const LicenceUse& use);

}  // namespace jz::sdk
