#include "core/config.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

namespace jz {
namespace {

ConfigSchema schema() {
  ConfigSchema s;
  s.add({.name = "server.listen", .default_value = "127.0.0.1:8080", .help = "address"});
  s.add({.name = "server.threads",
         .type = ConfigType::kInt,
         .default_value = "8",
         .help = "threads",
         .min = 1,
         .max = 1024});
  s.add({.name = "log.format",
         .type = ConfigType::kEnum,
         .default_value = "text",
         .help = "format",
         .choices = {"text", "json"}});
  s.add({.name = "log.access", .type = ConfigType::kBool, .default_value = "true", .help = "x"});
  s.add({.name = "auth.token", .default_value = "", .help = "x", .secret = true});
  return s;
}

std::string write_temp(const std::string& text) {
  char path[] = "/tmp/jz-config-XXXXXX";
  int fd = mkstemp(path);
  EXPECT_GE(fd, 0);
  ::write(fd, text.data(), text.size());
  ::close(fd);
  return path;
}

TEST(ConfigTest, DefaultsFileEnvFlagsInOrder) {
  auto s = schema();
  std::string file =
      write_temp("server:\n  listen: 0.0.0.0:9000\n  threads: 4\nlog:\n  format: json\n");
  ConfigSources src;
  src.file = file;
  src.env = {{"JIZHAN_SERVER_THREADS", "16"}, {"PATH", "/bin"}};
  src.overrides = {{"server.listen", "127.0.0.1:7000", "flag --listen"}};
  auto cfg = load_config(s, src);
  ASSERT_TRUE(cfg.ok()) << cfg.status().to_string();
  EXPECT_EQ(cfg->get_string("server.listen"), "127.0.0.1:7000");
  EXPECT_EQ(cfg->source_of("server.listen"), "flag --listen");
  EXPECT_EQ(cfg->get_int("server.threads"), 16);
  EXPECT_EQ(cfg->source_of("server.threads"), "environment variable JIZHAN_SERVER_THREADS");
  EXPECT_EQ(cfg->get_string("log.format"), "json");
  EXPECT_TRUE(cfg->get_bool("log.access"));
  EXPECT_EQ(cfg->source_of("log.access"), "default");
  std::remove(file.c_str());
}

TEST(ConfigTest, UnknownKeyInFileNamesKeyLineAndSuggestion) {
  auto r = parse_config_yaml(schema(), "server:\n  listn: x\n", "config file 'c.yaml'");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(),
            "config file 'c.yaml': line 2: unknown config key 'server.listn' (did you mean "
            "'server.listen'? see docs/CONFIG.md)");
}

TEST(ConfigTest, WrongTypesAreErrors) {
  auto s = schema();
  ConfigSources src;
  src.env = {{"JIZHAN_SERVER_THREADS", "many"}};
  auto r = load_config(s, src);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(),
            "environment variable JIZHAN_SERVER_THREADS: config key 'server.threads' must be an "
            "integer, got 'many'");
  src.env = {{"JIZHAN_SERVER_THREADS", "0"}};
  EXPECT_NE(load_config(s, src).status().message().find("allowed range 1..1024"),
            std::string::npos);
  src.env = {{"JIZHAN_LOG_FORMAT", "xml"}};
  EXPECT_NE(load_config(s, src).status().message().find("must be one of text, json"),
            std::string::npos);
  auto list = parse_config_yaml(s, "server:\n  threads: [1, 2]\n", "f");
  EXPECT_NE(list.status().message().find("must be an integer, got a list"), std::string::npos);
  auto bad_yaml = parse_config_yaml(s, "server: [\n", "f");
  EXPECT_NE(bad_yaml.status().message().find("not valid YAML"), std::string::npos);
  EXPECT_FALSE(parse_config_yaml(s, "- a\n- b\n", "f").ok());
  EXPECT_TRUE(parse_config_yaml(s, "", "f").ok());
}

TEST(ConfigTest, UnknownEnvironmentVariableIsAnErrorUnlessReserved) {
  auto s = schema();
  ConfigSources src;
  src.env = {{"JIZHAN_SERVER_LISTN", "x"}};
  auto r = load_config(s, src);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("JIZHAN_SERVER_LISTN is not a Jizhan config key"),
            std::string::npos);
  src.reserved_env = {"JIZHAN_SERVER_LISTN"};
  EXPECT_TRUE(load_config(s, src).ok());
}

TEST(ConfigTest, MissingFileIsAnError) {
  ConfigSources src;
  src.file = "/nonexistent/jizhan.yaml";
  auto r = load_config(schema(), src);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("/nonexistent/jizhan.yaml"), std::string::npos);
}

TEST(ConfigTest, DescribeRedactsSecrets) {
  ConfigSources src;
  src.overrides = {{"auth.token", "hunter2", "flag"}};
  auto cfg = load_config(schema(), src);
  ASSERT_TRUE(cfg.ok());
  for (const auto& line : cfg->describe()) EXPECT_EQ(line.find("hunter2"), std::string::npos);
}

TEST(ConfigTest, EnvName) {
  EXPECT_EQ(ConfigSchema::env_name("store.busy_timeout_ms"), "JIZHAN_STORE_BUSY_TIMEOUT_MS");
}

}  // namespace
}  // namespace jz
