// SPDX-License-Identifier: Apache-2.0
// The brokers.yaml key tables (lib/config/schema.cpp) against the loader, `config show` and the
// man page's key list.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <sstream>

#include "dtbus/config/schema.hpp"

namespace schema = dtbus::config::schema;
using namespace dtbus::config;

namespace {

const std::string kManPage = DTBUS_FIXTURES_DIR "/../../man/dtbus-brokers.yaml.5";

std::string join(std::string_view path, std::string_view key) {
  return path.empty() ? std::string(key) : std::string(path) + "." + std::string(key);
}

// The sections with a man page heading, by heading line.
std::map<std::string, std::string> headed_sections() {
  std::map<std::string, std::string> out;
  auto add = [&](const auto& section) {
    out[std::string(section.heading)] = std::string(section.path);
  };
  add(schema::document());
  add(schema::broker());
  add(schema::broker_config());
  add(schema::token_provider());
  return out;
}

// Every key of the tables as a field path: brokers.<name>.config.port.
std::set<std::string> table_keys() {
  std::set<std::string> out;
  auto add = [&](const auto& section) {
    for (const auto& key : section.keys) out.insert(join(section.path, key.info.name));
  };
  add(schema::document());
  add(schema::broker());
  add(schema::broker_config());
  add(schema::source());
  add(schema::dlq());
  add(schema::will());
  add(schema::token_provider());
  return out;
}

// The keys a roff page lists, as field paths: the .TP tags (`\fBkey\fR ...`, or
// `\fBkey\fR, \fBother\fR ...`) under the tables' headings; an .RS list nests under the key
// before it.
std::set<std::string> listed_keys(const std::string& roff) {
  auto headings = headed_sections();
  static const std::regex first(R"(^\\fB(\w+)\\fR)");
  static const std::regex next(R"(^, \\fB(\w+)\\fR)");
  std::set<std::string> out;
  std::optional<std::string> path;  // nullopt outside the tables' sections
  std::vector<std::optional<std::string>> outer;
  std::string last_key;
  bool tag = false;
  std::istringstream lines(roff);
  for (std::string line; std::getline(lines, line);) {
    if (line.starts_with(".SH") || line.starts_with(".SS")) {
      auto it = headings.find(line);
      path = it == headings.end() ? std::nullopt : std::optional(it->second);
      outer.clear();
    } else if (line == ".TP") {
      tag = true;
    } else if (line.starts_with(".RS")) {
      outer.push_back(path);
      if (path) path = join(*path, last_key);
    } else if (line.starts_with(".RE")) {
      if (!outer.empty()) path = outer.back();
      if (!outer.empty()) outer.pop_back();
    } else if (tag) {
      tag = false;
      if (!path) continue;
      std::smatch match;
      std::string rest = line;
      for (auto* pattern = &first; std::regex_search(rest, match, *pattern); pattern = &next) {
        last_key = match[1];
        out.insert(join(*path, last_key));
        rest = match.suffix();
      }
    }
  }
  return out;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream content;
  content << in.rdbuf();
  return content.str();
}

std::string lines(const std::set<std::string>& keys) {
  std::string out;
  for (const auto& key : keys) out += "  " + key + "\n";
  return out;
}

}  // namespace

TEST(ConfigSchema, RoffKeyListHasEveryKeyOfTheTables) {
  std::string roff = schema::key_list_roff();
  EXPECT_EQ(listed_keys(roff), table_keys()) << roff;
  EXPECT_NE(roff.find(".SS Broker config\n.TP\n\\fBhost\\fR \\fIHOST\\fR\n"), std::string::npos)
      << roff;
  EXPECT_NE(roff.find("\\fBprotocol\\fR \\fB5\\fR|\\fB311\\fR|\\fB31\\fR\n"), std::string::npos)
      << roff;
  EXPECT_NE(roff.find("Default \\fB1883\\fR.\n"), std::string::npos) << roff;
  EXPECT_NE(roff.find("Default \\fBtracker/dlq/#\\fR.\n"), std::string::npos) << roff;
  EXPECT_EQ(roff.find("\\fBpassword\\fR \\fISTRING\\fR\nStatic password; never printed.\nDefault"),
            std::string::npos);
}

TEST(ConfigSchema, ManPageListsExactlyTheKeysOfTheTables) {
  std::string page = read_file(kManPage);
  ASSERT_FALSE(page.empty()) << kManPage;
  auto listed = listed_keys(page);
  auto table = table_keys();
  std::set<std::string> missing;
  std::set<std::string> extra;
  for (const auto& key : table) {
    if (!listed.contains(key)) missing.insert(key);
  }
  for (const auto& key : listed) {
    if (!table.contains(key)) extra.insert(key);
  }
  EXPECT_TRUE(missing.empty()) << kManPage << " does not describe these keys:\n"
                               << lines(missing)
                               << "The key list from the table (schema::key_list_roff):\n"
                               << schema::key_list_roff();
  EXPECT_TRUE(extra.empty()) << kManPage << " describes keys brokers.yaml does not have:\n"
                             << lines(extra);
}

TEST(ConfigSchema, ParsesSharedTagsAndNestedLists) {
  auto keys = listed_keys(
      ".SH FORMAT\n.TP\n\\fBbrokers\\fR\nText.\n"
      ".SS Broker entry\n.TP\n\\fBdlq\\fR \\fIMAPPING\\fR\nText.\n.RS\n.TP\n\\fBspool\\fR "
      "\\fIPATH\\fR\nText.\n.RE\n.TP\n\\fBenvelope\\fR \\fBnone\\fR|\\fBdt\\fR\n"
      ".SS Broker config\n.TP\n\\fBcertfile\\fR, \\fBkeyfile\\fR \\fIPATH\\fR\nText.\n"
      ".SH ENVIRONMENT\n.TP\n\\fBDTBUS_CONFIG\\fR\n");
  EXPECT_EQ(keys,
            (std::set<std::string>{"brokers", "brokers.<name>.dlq", "brokers.<name>.dlq.spool",
                                   "brokers.<name>.envelope", "brokers.<name>.config.certfile",
                                   "brokers.<name>.config.keyfile"}));
}

// `section`'s keys as YAML: null, or what `given` says (a scalar, or a nested block).
template <class T>
std::string yaml_keys(const schema::Section<T>& section, const std::string& indent,
                      const std::map<std::string, std::string>& given = {}) {
  std::string out;
  for (const auto& key : section.keys) {
    auto value = given.find(std::string(key.info.name));
    out += indent + std::string(key.info.name) + ":" +
           (value == given.end() ? " null\n" : value->second);
  }
  return out;
}

// Every key of the tables is accepted, including those the loader reads itself.
TEST(ConfigSchema, LoaderAcceptsEveryKeyOfTheTables) {
  std::string broker =
      yaml_keys(schema::broker(), "    ",
                {{"config", "\n" + yaml_keys(schema::broker_config(), "      ")},
                 {"source", "\n" + yaml_keys(schema::source(), "      ")},
                 {"dlq", "\n" + yaml_keys(schema::dlq(), "      ")},
                 {"will", "\n" + yaml_keys(schema::will(), "      ", {{"topic", " status\n"}})}});
  std::string provider =
      yaml_keys(schema::token_provider(), "    ",
                {{"client_id", " id\n"}, {"token_url", " https://auth.example/token\n"}});
  std::string yaml =
      yaml_keys(schema::document(), "",
                {{"brokers", "\n  b:\n" + broker}, {"token_providers", "\n  p:\n" + provider}});
  LoadOptions options;
  options.env = [](std::string_view) { return std::nullopt; };
  auto result = load_string(yaml, "brokers.yaml", options);
  std::string problems;
  for (const auto& d : result.diagnostics) problems += d.format() + "\n";
  EXPECT_TRUE(result.diagnostics.empty()) << yaml << problems;
  ASSERT_TRUE(result.config.brokers.contains("b"));
  EXPECT_TRUE(result.config.brokers.at("b").dlq.has_value());
  EXPECT_TRUE(result.config.token_providers.contains("p"));
}

TEST(ConfigSchema, ShownValuesMaskSecretsAndShowUnsetOptionalKeysAsNull) {
  BrokerSettings b;
  b.password = "s3cret";
  auto config = schema::shown(schema::broker_config(), b);
  EXPECT_EQ(config["password"], "***");
  EXPECT_TRUE(config["username"].is_null());
  EXPECT_TRUE(config["client_id"].is_null());
  EXPECT_EQ(config["topic_prefix"], "");
  EXPECT_EQ(config["port"], 1883);
  EXPECT_EQ(config.dump().find("s3cret"), std::string::npos);
  std::vector<std::string> order;
  for (const auto& [key, value] : config.items()) order.push_back(key);
  EXPECT_EQ(order, schema::broker_config().names());

  TokenProviderSettings p;
  EXPECT_TRUE(schema::shown(schema::token_provider(), p)["client_secret"].is_null());
  p.client_secret = "s3cret";
  EXPECT_EQ(schema::shown(schema::token_provider(), p)["client_secret"], "***");
}
