// Licences: codes catch typos; each reason to refuse has its own message; activation
// needs the licence's own code; an installed licence is found only when it allows the use.
#include "sdk/licence.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "core/files.h"
#include "sdk/package.h"
#include "tests/support/temp_dir.h"

namespace jz::sdk {
namespace {

using std::chrono::hours;

Clock::WallTime at(const char* t) { return *parse_rfc3339(t); }

Licence base() {
  Licence l;
  l.algorithm = "face_detect";
  l.min_version = "1.0.0";
  l.below_version = "2.0.0";
  l.customer = "Harbour Logistics";
  l.machine = "AAAA-BBBB-CCCC-DDDD";
  l.valid_from = at("2026-01-01T00:00:00Z");
  l.valid_until = at("2027-01-01T00:00:00Z");
  l.channels = 2;
  return l;
}

LicenceUse use() {
  LicenceUse u;
  u.algorithm = "face_detect";
  u.version = "1.2.0";
  u.machine = "AAAA-BBBB-CCCC-DDDD";
  u.now = at("2026-06-01T00:00:00Z");
  u.channels = 1;
  return u;
}

TEST(ActivationCode, CatchesTyposAndReadsLookalikes) {
  for (int i = 0; i < 200; ++i) {
    const std::string code = new_activation_code();
    ASSERT_EQ(code.size(), 19u) << code;  // 16 symbols and 3 dashes
    auto n = normalize_activation_code(code);
    ASSERT_TRUE(n.ok()) << code << ": " << n.status().message();
    EXPECT_EQ(*n, code);
    std::string lower = code;
    for (auto& c : lower) c = static_cast<char>(std::tolower(c));
    EXPECT_EQ(*normalize_activation_code(lower), code) << "case does not matter";
    // Every single wrong character is caught.
    for (size_t pos = 0; pos < code.size(); ++pos) {
      if (code[pos] == '-') continue;
      std::string typo = code;
      typo[pos] = code[pos] == '7' ? '8' : '7';
      auto t = normalize_activation_code(typo);
      ASSERT_FALSE(t.ok()) << typo;
      EXPECT_NE(t.status().message().find("mistyped"), std::string::npos);
    }
    // So is a swap of two neighbouring, different characters.
    std::string compact = code;
    compact.erase(std::remove(compact.begin(), compact.end(), '-'), compact.end());
    for (size_t pos = 0; pos + 1 < compact.size(); ++pos) {
      if (compact[pos] == compact[pos + 1]) continue;
      std::string swapped = compact;
      std::swap(swapped[pos], swapped[pos + 1]);
      EXPECT_FALSE(normalize_activation_code(swapped).ok()) << swapped;
    }
  }
  auto lookalike = normalize_activation_code("0000-0000-0000-0000");
  ASSERT_TRUE(lookalike.ok()) << lookalike.status().message();
  EXPECT_EQ(*normalize_activation_code("oooo-OOOO-0000 0000"), *lookalike) << "O reads as 0";
  EXPECT_NE(normalize_activation_code("UUUU-0000-0000-0000").status().message().find("'U'"),
            std::string::npos);
  EXPECT_NE(normalize_activation_code("0000-0000").status().message().find("8 characters"),
            std::string::npos);
}

TEST(Licence, EachRefusalHasItsOwnMessage) {
  const Licence l = base();
  ASSERT_TRUE(check_licence(l, use()).ok());
  const struct {
    std::function<void(LicenceUse&)> change;
    const char* needle;
    Code code;
  } cases[] = {
      {[](LicenceUse& u) { u.algorithm = "color_blobs"; },
       "is for algorithm 'face_detect', not 'color_blobs'", Code::kPermissionDenied},
      {[](LicenceUse& u) { u.version = "2.0.0"; }, "versions >=1.0.0 <2.0.0, not 2.0.0",
       Code::kPermissionDenied},
      {[](LicenceUse& u) { u.version = "0.9.9"; }, "not 0.9.9", Code::kPermissionDenied},
      {[](LicenceUse& u) { u.machine = "1111-2222-3333-4444"; },
       "is for machine AAAA-BBBB-CCCC-DDDD; this machine is 1111-2222-3333-4444",
       Code::kPermissionDenied},
      {[](LicenceUse& u) { u.now = at("2027-01-01T00:00:00Z"); }, "expired on 2027-01-01T00:00:00",
       Code::kPermissionDenied},
      {[](LicenceUse& u) { u.now = at("2025-12-31T00:00:00Z"); }, "is not valid before",
       Code::kPermissionDenied},
      {[](LicenceUse& u) { u.channels = 3; }, "allows 2 channels; 3 requested (over limit)",
       Code::kResourceExhausted},
  };
  for (const auto& c : cases) {
    LicenceUse u = use();
    c.change(u);
    Status s = check_licence(l, u);
    EXPECT_EQ(s.code(), c.code) << c.needle;
    EXPECT_NE(s.message().find(c.needle), std::string::npos) << s.message();
  }
  Licence any = l;
  any.machine = "*";
  LicenceUse elsewhere = use();
  elsewhere.machine = "9999-9999-9999-9999";
  EXPECT_TRUE(check_licence(any, elsewhere).ok()) << "'*' is any machine";
  EXPECT_LT(compare_versions("1.0.0-rc1", "1.0.0"), 0);
  EXPECT_LT(compare_versions("1.9.0", "1.10.0"), 0);
}

TEST(Licence, AGracePeriodKeepsAnExpiredLicenceUntilItEnds) {
  const Licence l = base();
  LicenceUse u = use();
  u.now = l.valid_until + std::chrono::hours(10);
  EXPECT_FALSE(check_licence(l, u).ok()) << "no grace: expired";
  u.grace = std::chrono::hours(72);
  EXPECT_TRUE(check_licence(l, u).ok()) << "10 h into a 72 h grace period";
  u.now = l.valid_until + std::chrono::hours(72);
  Status s = check_licence(l, u);
  EXPECT_EQ(s.code(), Code::kPermissionDenied);
  EXPECT_NE(s.message().find("expired on " + format_rfc3339(l.valid_until) +
                             " and its grace period of 3d ended on " +
                             format_rfc3339(l.valid_until + std::chrono::hours(72))),
            std::string::npos)
      << s.message();
}

TEST(Licence, ActivationInstallsOnlyWithItsCodeAndFindExplainsRefusals) {
  testing::TempDir dir;
  auto vendor = generate_signing_key("acme-vision");
  auto issued = issue_licence({base(), vendor});
  ASSERT_TRUE(issued.ok()) << issued.status().message();
  SignedDocument doc;
  auto parsed = parse_licence(issued->file_text, &doc);
  ASSERT_TRUE(parsed.ok()) << parsed.status().message();
  EXPECT_TRUE(licence_signed_by(doc, vendor.pub));
  EXPECT_EQ(parsed->customer, "Harbour Logistics");

  const std::string d = dir.str() + "/licences";
  auto other = issue_licence({base(), vendor});
  auto wrong = activate_licence(issued->file_text, other->activation_code, d, &vendor.pub, use());
  ASSERT_FALSE(wrong.ok());
  EXPECT_NE(wrong.status().message().find("belongs to another licence"), std::string::npos);

  // A licence edited after issuing (more channels) fails its signature.
  std::string tampered = issued->file_text;
  Json env = Json::parse(tampered);
  std::string payload = env["payload"];
  payload.replace(payload.find("\"channels\":2"), 12, "\"channels\":9");
  env["payload"] = payload;
  auto t = activate_licence(env.dump(), issued->activation_code, d, &vendor.pub, use());
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.status().message().find("tampered"), std::string::npos) << t.status().message();

  auto someone = generate_signing_key("someone-else");
  auto foreign =
      activate_licence(issued->file_text, issued->activation_code, d, &someone.pub, use());
  ASSERT_FALSE(foreign.ok());

  auto found = find_licence(d, vendor.pub, use());
  ASSERT_FALSE(found.ok());
  EXPECT_NE(found.status().message().find("no licence for face_detect is installed"),
            std::string::npos);

  auto ok = activate_licence(issued->file_text, issued->activation_code, d, &vendor.pub, use());
  ASSERT_TRUE(ok.ok()) << ok.status().message();
  found = find_licence(d, vendor.pub, use());
  ASSERT_TRUE(found.ok()) << found.status().message();
  EXPECT_EQ(found->id, issued->licence.id);

  LicenceUse late = use();
  late.now = at("2027-02-01T00:00:00Z");
  found = find_licence(d, vendor.pub, late);
  ASSERT_FALSE(found.ok());
  EXPECT_NE(found.status().message().find("expired"), std::string::npos)
      << found.status().message();
  found = find_licence(d, someone.pub, use());
  ASSERT_FALSE(found.ok());
  EXPECT_NE(found.status().message().find("not signed by the package's publisher"),
            std::string::npos);

  // An installed record edited by hand (the code removed) is no longer accepted.
  for (const auto& e : std::filesystem::directory_iterator(d)) {
    Json rec = Json::parse(*read_file(e.path().string()));
    rec["activation_code"] = other->activation_code;
    ASSERT_TRUE(write_file(e.path().string(), rec.dump()).ok());
  }
  found = find_licence(d, vendor.pub, use());
  ASSERT_FALSE(found.ok());
  EXPECT_NE(found.status().message().find("not activated with its own code"), std::string::npos);
}

// Found by fuzz_licence: a payload whose "type" was not a string threw past the parser.
TEST(Licence, FieldsOfTheWrongTypeAreErrorsNotExceptions) {
  for (const char* payload : {R"({"type":{"a":1}})", R"({"type":"jizhan-licence","id":5})",
                              R"({"type":"jizhan-licence","versions":{"min":1,"below":2}})"}) {
    Json env = {{"payload", payload},
                {"key_id", "0123456789abcdef"},
                {"signature", base64_encode(std::string(64, 'x'))}};
    auto l = parse_licence(env.dump());
    EXPECT_FALSE(l.ok()) << payload;
  }
  EXPECT_FALSE(parse_public_key(R"({"type":["x"],"public_key":"AAAA"})").ok());
  EXPECT_FALSE(parse_package_signature(Json{{"payload", R"({"type":7,"key_id":[1]})"},
                                            {"key_id", "0123456789abcdef"},
                                            {"signature", base64_encode(std::string(64, 'x'))}}
                                           .dump(),
                                       nullptr)
                   .ok());
}

TEST(Licence, IssuingChecksItsInput) {
  auto key = generate_signing_key("k");
  Licence l = base();
  l.valid_until = l.valid_from;
  EXPECT_NE(issue_licence({l, key}).status().message().find("end after it starts"),
            std::string::npos);
  l = base();
  l.below_version = "0.5.0";
  EXPECT_NE(issue_licence({l, key}).status().message().find("must be a version above"),
            std::string::npos);
}

TEST(Licence, MachineFingerprintIsStable) {
  auto a = machine_fingerprint();
  if (!a.ok()) GTEST_SKIP() << a.status().message();
  EXPECT_EQ(*a, *machine_fingerprint());
  EXPECT_EQ(a->size(), 19u);
}

}  // namespace
}  // namespace jz::sdk
