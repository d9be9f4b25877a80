// Package manifests: valid ones round-trip, bad ones name the field.
#include "sdk/manifest.h"

#include <gtest/gtest.h>

namespace jz::sdk {
namespace {

constexpr char kGood[] = R"({"name":"face_detect","version":"1.2.0","abi_version":1,
  "library":"lib/face_detect.so",
  "models":[{"path":"models/faces.xml","sha256":"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}],
  "default_config":{"threshold":0.5},"licence":{"required":true}})";

TEST(Manifest, ParsesAndRoundTrips) {
  auto m = parse_manifest(kGood);
  ASSERT_TRUE(m.ok()) << m.status().message();
  EXPECT_EQ(m->name, "face_detect");
  EXPECT_EQ(m->models.size(), 1u);
  EXPECT_TRUE(m->licence_required);
  auto again = parse_manifest(m->to_json().dump());
  ASSERT_TRUE(again.ok()) << again.status().message();
  EXPECT_EQ(again->to_json(), m->to_json());
}

TEST(Manifest, BadFieldsAreNamed) {
  auto with = [](const std::string& field, const std::string& value) {
    Json j = Json::parse(kGood);
    j[field] = Json::parse(value);
    return parse_manifest(j.dump());
  };
  for (auto [field, value, what] :
       {std::tuple{"name", "\"Face Detect\"", "field 'name'"},
        std::tuple{"version", "\"1.2\"", "field 'version'"},
        std::tuple{"version", "\"01.2.3\"", "field 'version'"},
        std::tuple{"abi_version", "\"1\"", "field 'abi_version'"},
        std::tuple{"library", "\"/usr/lib/x.so\"", "is absolute"},
        std::tuple{"library", "\"lib/../../x.so\"", "'..' segment"},
        std::tuple{"models", R"([{"path":"m.bin","sha256":"XYZ"}])", "models[0].sha256"},
        std::tuple{"models", R"([{"path":"a//b","sha256":"0"}])", "models[0].path"},
        std::tuple{"licence", "{\"required\":\"yes\"}", "field 'licence'"},
        std::tuple{"extra", "1", "field 'extra': unknown field"}}) {
    auto m = with(field, value);
    ASSERT_FALSE(m.ok()) << field << "=" << value;
    EXPECT_NE(m.status().message().find(what), std::string::npos)
        << field << "=" << value << ": " << m.status().message();
  }
  EXPECT_FALSE(parse_manifest("not json").ok());
  EXPECT_TRUE(
      parse_manifest(R"({"name":"x","version":"0.1.0-rc.1","abi_version":1,"library":"x.so"})")
          .ok());
}

}  // namespace
}  // namespace jz::sdk
