// SPDX-License-Identifier: Apache-2.0
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>

#include "dtbus/config/config.hpp"
#include "dtbus/util/text.hpp"

namespace fs = std::filesystem;
using dtbus::config::EnvLookup;
using dtbus::config::find_config;
using dtbus::util::closest_match;

namespace {

EnvLookup fake_env(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](std::string_view name) -> std::optional<std::string> {
    auto it = vars.find(std::string(name));
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

void touch(const fs::path& path) {
  fs::create_directories(path.parent_path());
  std::ofstream(path) << "brokers: {}\n";
}

// A fresh directory that is also the working directory for the test (restored afterwards).
class ConfigLookup : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "dtbus-lookup-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    previous_ = fs::current_path();
    fs::current_path(dir_);
  }
  void TearDown() override {
    fs::current_path(previous_);
    fs::remove_all(dir_);
  }
  fs::path dir_;
  fs::path previous_;
};

}  // namespace

TEST_F(ConfigLookup, ExplicitPathWinsEvenWhenMissing) {
  touch(dir_ / "brokers.yaml");
  auto env = fake_env({{"DTBUS_CONFIG", "/elsewhere.yaml"}});
  auto lookup = find_config(std::string("/no/such/file.yaml"), env);
  ASSERT_TRUE(lookup.path);
  EXPECT_EQ(*lookup.path, "/no/such/file.yaml");
  EXPECT_EQ(lookup.reason, "from -c/--config");
  EXPECT_EQ(lookup.searched, std::vector<std::string>{"/no/such/file.yaml"});
}

TEST_F(ConfigLookup, EnvironmentVariableBeatsTheWorkingDirectory) {
  touch(dir_ / "brokers.yaml");
  auto lookup = find_config(std::nullopt, fake_env({{"DTBUS_CONFIG", "/missing/too.yaml"}}));
  EXPECT_EQ(lookup.path, "/missing/too.yaml");
  EXPECT_EQ(lookup.reason, "from $DTBUS_CONFIG");
}

TEST_F(ConfigLookup, EmptyEnvironmentVariableIsIgnored) {
  touch(dir_ / "brokers.yaml");
  auto lookup = find_config(std::nullopt, fake_env({{"DTBUS_CONFIG", ""}}));
  EXPECT_EQ(lookup.path, "brokers.yaml");
}

TEST_F(ConfigLookup, ConfigSubdirectoryBeatsBrokersYaml) {
  touch(dir_ / "brokers.yaml");
  touch(dir_ / "config" / "brokers.yaml");
  auto lookup = find_config(std::nullopt, fake_env({}));
  EXPECT_EQ(lookup.path, "config/brokers.yaml");
  EXPECT_EQ(lookup.reason, "./config/brokers.yaml exists (config/brokers.yaml)");
  EXPECT_EQ(lookup.searched, std::vector<std::string>{"config/brokers.yaml"});
}

TEST_F(ConfigLookup, BrokersYamlInWorkingDirectory) {
  touch(dir_ / "brokers.yaml");
  auto home = dir_ / "home";
  touch(home / ".config/dtbus/brokers.yaml");
  auto lookup = find_config(std::nullopt, fake_env({{"HOME", home.string()}}));
  EXPECT_EQ(lookup.path, "brokers.yaml");
  EXPECT_EQ(lookup.searched, (std::vector<std::string>{"config/brokers.yaml", "brokers.yaml"}));
}

TEST_F(ConfigLookup, XdgConfigHomeThenHomeDotConfig) {
  auto home = dir_ / "home";
  auto xdg = dir_ / "xdg";
  touch(home / ".config/dtbus/brokers.yaml");
  touch(xdg / "dtbus/brokers.yaml");
  auto with_xdg = find_config(
      std::nullopt, fake_env({{"HOME", home.string()}, {"XDG_CONFIG_HOME", xdg.string()}}));
  EXPECT_EQ(with_xdg.path, (xdg / "dtbus/brokers.yaml").string());

  auto with_home = find_config(std::nullopt, fake_env({{"HOME", home.string()}}));
  EXPECT_EQ(with_home.path, (home / ".config/dtbus/brokers.yaml").string());

  // A relative XDG_CONFIG_HOME is invalid per the XDG spec and ignored.
  auto relative =
      find_config(std::nullopt, fake_env({{"HOME", home.string()}, {"XDG_CONFIG_HOME", "xdg"}}));
  EXPECT_EQ(relative.path, (home / ".config/dtbus/brokers.yaml").string());
}

TEST_F(ConfigLookup, NothingFoundListsEveryCandidate) {
  auto home = dir_ / "home";
  auto lookup = find_config(std::nullopt, fake_env({{"HOME", home.string()}}));
  if (fs::exists("/etc/dtbus/brokers.yaml")) GTEST_SKIP() << "this machine has a system config";
  EXPECT_FALSE(lookup.path);
  EXPECT_EQ(lookup.reason, "no config file found");
  EXPECT_EQ(lookup.searched,
            (std::vector<std::string>{"config/brokers.yaml", "brokers.yaml",
                                      (home / ".config/dtbus/brokers.yaml").string(),
                                      "/etc/dtbus/brokers.yaml"}));
}

TEST_F(ConfigLookup, WithoutHomeTheUserFileIsSkipped) {
  auto lookup = find_config(std::nullopt, fake_env({}));
  EXPECT_EQ(lookup.searched.size(), 3u);
  EXPECT_EQ(lookup.searched.back(), "/etc/dtbus/brokers.yaml");
}

TEST(ConfigClosestMatch, SuggestsNearbyWords) {
  std::vector<std::string> keys = {"host", "port", "client_id", "keepalive", "protocol"};
  EXPECT_EQ(closest_match("prot", keys), "port");  // transposition
  EXPECT_EQ(closest_match("hots", keys), "host");
  EXPECT_EQ(closest_match("clientid", keys), "client_id");
  EXPECT_EQ(closest_match("keepalve", keys), "keepalive");
  EXPECT_EQ(closest_match("Port", keys), "port");  // case-insensitive
  EXPECT_EQ(closest_match("protcool", keys), "protocol");
}

TEST(ConfigClosestMatch, StaysQuietWhenNothingIsClose) {
  std::vector<std::string> keys = {"host", "port"};
  EXPECT_EQ(closest_match("username", keys), std::nullopt);
  EXPECT_EQ(closest_match("4", {"5", "311"}), std::nullopt);
  EXPECT_EQ(closest_match("anything", {}), std::nullopt);
}
