// SPDX-License-Identifier: Apache-2.0
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <map>

#include "dtbus/config/config.hpp"

namespace fs = std::filesystem;
using namespace dtbus::config;

namespace {

using Env = std::map<std::string, std::string>;

const std::string kFixtures = DTBUS_FIXTURES_DIR "/config/";
const std::string kExamples = DTBUS_FIXTURES_DIR "/../../config-examples/";

EnvLookup fake_env(Env vars) {
  return [vars = std::move(vars)](std::string_view name) -> std::optional<std::string> {
    auto it = vars.find(std::string(name));
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

LoadOptions options(Env env = {{"HOME", "/home/tester"}}, bool strict = false) {
  LoadOptions o;
  o.env = fake_env(std::move(env));
  o.strict = strict;
  return o;
}

LoadResult load(std::string_view yaml, Env env = {{"HOME", "/home/tester"}}, bool strict = false) {
  return load_string(yaml, "brokers.yaml", options(std::move(env), strict));
}

// Every diagnostic on its own line, for assertion messages.
std::string dump(const LoadResult& result) {
  std::string out;
  for (const auto& d : result.diagnostics) out += d.format() + "\n";
  return out;
}

std::vector<std::string> formatted(const LoadResult& result) {
  std::vector<std::string> out;
  for (const auto& d : result.diagnostics) out.push_back(d.format());
  return out;
}

// The single diagnostic expected in `result`.
// Returned by value: callers often pass a temporary LoadResult.
Diagnostic only(const LoadResult& result) {
  EXPECT_EQ(result.diagnostics.size(), 1u) << dump(result);
  return result.diagnostics.empty() ? Diagnostic{} : result.diagnostics.front();
}

// A file under a fresh temp dir, removed with the fixture.
class ConfigFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "dtbus-config-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string write(const std::string& name, std::string_view content) {
    fs::path path = dir_ / name;
    fs::create_directories(path.parent_path());
    std::ofstream(path) << content;
    return path.string();
  }
  fs::path dir_;
};

}  // namespace

// ---- shipped files ------------------------------------------------------------

TEST(ConfigSeed, LoadsCleanWithoutEnvironment) {
  auto result = load_file(kExamples + "celine-seed.yaml", options());
  EXPECT_TRUE(result.diagnostics.empty()) << dump(result);
  const auto& config = result.config;
  EXPECT_EQ(config.broker_order, (std::vector<std::string>{"mqtt_local", "mqtt_secure"}));
  EXPECT_EQ(config.default_broker, "mqtt_local");
  const auto& local = config.brokers.at("mqtt_local");
  EXPECT_EQ(local.class_name, "celine.dt.core.broker.mqtt:MqttBroker");
  EXPECT_TRUE(local.enabled);
  EXPECT_EQ(local.host, "localhost");
  EXPECT_EQ(local.port, 1883);
  EXPECT_EQ(local.client_id, std::nullopt);
  EXPECT_FALSE(local.use_tls);
  EXPECT_EQ(local.keepalive, 60);
  EXPECT_TRUE(local.clean_session);
  EXPECT_DOUBLE_EQ(local.reconnect_interval, 5.0);
  EXPECT_EQ(local.topic_prefix, "celine/dt/");
  EXPECT_EQ(local.dlq, std::nullopt);
  const auto& secure = config.brokers.at("mqtt_secure");
  EXPECT_FALSE(secure.enabled);
  EXPECT_EQ(secure.host, "broker.example.com");
  EXPECT_EQ(secure.port, 8883);
  EXPECT_TRUE(secure.use_tls);
  EXPECT_EQ(secure.ca_certs, "/etc/ssl/certs/ca-certificates.crt");
  EXPECT_EQ(secure.username, "");
  EXPECT_EQ(secure.password, "");
}

TEST(ConfigSeed, LoadsCleanWithEnvironment) {
  auto result = load_file(kExamples + "celine-seed.yaml", options({{"MQTT_HOST", "mqtt.internal"},
                                                                   {"MQTT_PORT", "2883"},
                                                                   {"MQTT_USERNAME", "svc"},
                                                                   {"MQTT_PASSWORD", "pw"}}));
  EXPECT_TRUE(result.diagnostics.empty()) << dump(result);
  EXPECT_EQ(result.config.brokers.at("mqtt_local").host, "mqtt.internal");
  EXPECT_EQ(result.config.brokers.at("mqtt_local").port, 2883);
  EXPECT_EQ(result.config.brokers.at("mqtt_secure").username, "svc");
  EXPECT_EQ(result.config.brokers.at("mqtt_secure").password, "pw");
}

TEST(ConfigSeed, BadPortFromEnvironmentPointsAtTheField) {
  std::string file = kExamples + "celine-seed.yaml";
  auto result = load_file(file, options({{"MQTT_PORT", "abc"}}));
  const auto& d = only(result);
  EXPECT_EQ(d.format(), file + ":7:13: error: brokers.mqtt_local.config.port: " +
                            "expected integer 1..65535, got \"abc\"");
}

TEST(ConfigSeed, EveryShippedExampleLoadsWithoutDiagnostics) {
  for (const char* name :
       {"local.yaml", "tls.yaml", "keycloak.yaml", "celine-seed.yaml", "dlq.yaml"}) {
    auto result = load_file(kExamples + name, options());
    EXPECT_TRUE(result.diagnostics.empty()) << name << "\n" << dump(result);
    EXPECT_FALSE(result.config.default_broker.empty()) << name;
  }
}

TEST(ConfigSeed, DlqExampleExpandsTheSpoolPath) {
  auto result = load_file(kExamples + "dlq.yaml", options({{"HOME", "/home/ops"}}));
  const auto& dlq = result.config.brokers.at("mqtt_local").dlq;
  ASSERT_TRUE(dlq);
  EXPECT_EQ(dlq->spool, "/home/ops/.local/state/dtbus/dlq/mqtt_local.jsonl");
}

// ---- values and types -----------------------------------------------------------

TEST(Config, FullFixtureReadsEveryKey) {
  auto result = load_file(kFixtures + "full.yaml", options());
  ASSERT_TRUE(result.diagnostics.empty()) << dump(result);
  const auto& b = result.config.brokers.at("main");
  EXPECT_EQ(b.class_name, "mqtt");
  EXPECT_EQ(b.host, "broker.example.com");
  EXPECT_EQ(b.port, 8883);
  EXPECT_EQ(b.client_id, "ops-cli");
  EXPECT_EQ(b.username, "alice");
  EXPECT_EQ(b.password, "not-shown");
  EXPECT_TRUE(b.use_tls);
  EXPECT_FALSE(b.verify_cert);
  EXPECT_EQ(b.keepalive, 0);
  EXPECT_FALSE(b.clean_session);
  EXPECT_DOUBLE_EQ(b.reconnect_interval, 2.5);
  EXPECT_DOUBLE_EQ(b.token_refresh_margin, 45.0);
  EXPECT_EQ(b.protocol, 311);
  EXPECT_EQ(b.envelope, "tracker");
  EXPECT_EQ(b.source.app_key, "ops.cli");
  EXPECT_EQ(b.source.app_version, "1.0");  // a YAML float stays the text as written
  EXPECT_EQ(b.source.module, "ops");
  ASSERT_TRUE(b.dlq);
  EXPECT_EQ(b.dlq->topic, "tracker/dlq/#");
  EXPECT_EQ(b.dlq->client_id, "main-dlq");
  EXPECT_EQ(b.dlq->spool, "/var/lib/dtbus/main.jsonl");
  EXPECT_EQ(b.location.line, 3);
  EXPECT_EQ(b.location.column, 3);

  const auto& token = result.config.brokers.at("token");
  EXPECT_FALSE(token.enabled);
  EXPECT_EQ(token.token_provider, "keycloak");
  EXPECT_EQ(token.host, "localhost");  // no config: section, all defaults

  const auto& p = result.config.token_providers.at("keycloak");
  EXPECT_EQ(p.base_url, "https://sso.example.com/realms/celine");
  EXPECT_EQ(p.token_url, "https://sso.example.com/realms/celine/protocol/openid-connect/token");
  EXPECT_EQ(p.client_id, "dtbus");
  EXPECT_EQ(p.client_secret, "also-not-shown");
  EXPECT_EQ(p.scope, "openid mqtt");
  EXPECT_EQ(p.audience, "mqtt-broker");
  EXPECT_EQ(p.auth_method, "client_secret_post");
  EXPECT_DOUBLE_EQ(p.timeout, 3.5);
  EXPECT_EQ(p.username, "bearer");
  EXPECT_EQ(p.token_field, "username");
  EXPECT_EQ(result.config.default_broker, "main");
}

TEST(Config, QuotedScalarsConvertToTheFieldType) {
  auto result = load(R"(brokers:
  b:
    enabled: "no"
    config:
      port: "1884"
      use_tls: "false"
      clean_session: "Yes"
      keepalive: "0"
      reconnect_interval: "2"
      token_refresh_margin: 0
      protocol: "311"
)");
  EXPECT_TRUE(result.ok()) << dump(result);
  const auto& b = result.config.brokers.at("b");
  EXPECT_FALSE(b.enabled);
  EXPECT_EQ(b.port, 1884);
  EXPECT_FALSE(b.use_tls);
  EXPECT_TRUE(b.clean_session);
  EXPECT_EQ(b.keepalive, 0);
  EXPECT_DOUBLE_EQ(b.reconnect_interval, 2.0);
  EXPECT_DOUBLE_EQ(b.token_refresh_margin, 0.0);
  EXPECT_EQ(b.protocol, 311);
}

TEST(Config, ExpandedValuesAreConverted) {
  auto result = load(R"(brokers:
  b:
    enabled: ${ENABLED}
    config:
      port: ${PORT}
      reconnect_interval: ${INTERVAL:-0.5}
)",
                     {{"ENABLED", "true"}, {"PORT", "8883"}});
  EXPECT_TRUE(result.diagnostics.empty()) << dump(result);
  const auto& b = result.config.brokers.at("b");
  EXPECT_TRUE(b.enabled);
  EXPECT_EQ(b.port, 8883);
  EXPECT_DOUBLE_EQ(b.reconnect_interval, 0.5);
}

TEST(Config, NullEmptyAndTildeMeanDefault) {
  auto result = load(R"(brokers:
  b:
    config:
      host: null
      port: ~
      keepalive:
      client_id: "${UNSET_OK:-}"
      protocol: null
)");
  EXPECT_TRUE(result.diagnostics.empty()) << dump(result);
  const auto& b = result.config.brokers.at("b");
  EXPECT_EQ(b.host, "localhost");
  EXPECT_EQ(b.port, 1883);
  EXPECT_EQ(b.keepalive, 60);
  EXPECT_EQ(b.client_id, std::nullopt);
  EXPECT_EQ(b.protocol, 5);
}

TEST(Config, ExpansionNeverChangesStructureAndKeysAreNotExpanded) {
  auto result = load(R"(brokers:
  b:
    config:
      host: ${TRICKY}
      ${KEY}: 1
)",
                     {{"TRICKY", "a: b\n- [c"}, {"KEY", "port"}});
  EXPECT_EQ(result.config.brokers.at("b").host, "a: b\n- [c");
  const auto& d = only(result);
  EXPECT_EQ(d.path, "brokers.b.config.${KEY}");
  EXPECT_EQ(d.message, "unknown key");
}

TEST(Config, BrokerWithoutConfigOrClassUsesDefaults) {
  auto result = load("brokers:\n  plain:\n  typed: {type: mqtt}\n  classy: {class: x.y:Z}\n");
  EXPECT_TRUE(result.diagnostics.empty()) << dump(result);
  EXPECT_EQ(result.config.brokers.at("plain").port, 1883);
  EXPECT_EQ(result.config.brokers.at("typed").class_name, "mqtt");
  EXPECT_EQ(result.config.brokers.at("classy").class_name, "x.y:Z");
}

TEST(Config, TypeMustBeMqtt) {
  const auto& d = only(load("brokers:\n  k:\n    type: kafka\n"));
  EXPECT_EQ(d.format(), "brokers.yaml:3:11: error: brokers.k.type: expected mqtt, got \"kafka\"");
}

TEST(Config, TildePathsUseHome) {
  auto result = load(R"(brokers:
  b:
    config:
      use_tls: true
      ca_certs: ~/ca.pem
)",
                     {{"HOME", "/nonexistent-home"}});
  EXPECT_EQ(result.config.brokers.at("b").ca_certs, "/nonexistent-home/ca.pem");
  EXPECT_EQ(only(result).message, "file not found: /nonexistent-home/ca.pem");
}

// ---- range and type errors ------------------------------------------------------

struct BadValue {
  std::string yaml_line;  // under brokers.b.config (or as noted)
  std::string path;
  std::string message;
};

TEST(Config, RangeAndTypeErrorsNameTheFieldAndValue) {
  std::vector<BadValue> cases = {
      {"port: abc", "config.port", "expected integer 1..65535, got \"abc\""},
      {"port: 0", "config.port", "expected integer 1..65535, got \"0\""},
      {"port: 65536", "config.port", "expected integer 1..65535, got \"65536\""},
      {"port: 1883.5", "config.port", "expected integer 1..65535, got \"1883.5\""},
      {"keepalive: -1", "config.keepalive", "expected integer 0..65535, got \"-1\""},
      {"protocol: 4", "config.protocol", "expected 5, 311 or 31, got \"4\""},
      {"use_tls: maybe", "config.use_tls", "expected true or false, got \"maybe\""},
      {"reconnect_interval: 0", "config.reconnect_interval", "expected a number > 0, got \"0\""},
      {"reconnect_interval: soon", "config.reconnect_interval",
       "expected a number > 0, got \"soon\""},
      {"token_refresh_margin: -5", "config.token_refresh_margin",
       "expected a number >= 0, got \"-5\""},
      {"host: [a, b]", "config.host", "expected string, got a sequence"},
  };
  for (const auto& c : cases) {
    auto result = load("brokers:\n  b:\n    config:\n      " + c.yaml_line + "\n");
    const auto& d = only(result);
    EXPECT_EQ(d.path, "brokers.b." + c.path) << c.yaml_line;
    EXPECT_EQ(d.message, c.message) << c.yaml_line;
    EXPECT_EQ(d.where.line, 4) << c.yaml_line;
    EXPECT_EQ(d.where.column, static_cast<int>(c.yaml_line.find(':') + 9)) << c.yaml_line;
  }
}

TEST(Config, ChoiceErrorsSuggestTheClosestValue) {
  const auto& d = only(load("brokers:\n  b:\n    envelope: trakcer\n"));
  EXPECT_EQ(d.message, "expected none, dt or tracker, got \"trakcer\" (did you mean \"tracker\"?)");
  auto provider = load(R"(token_providers:
  p:
    token_url: https://sso/token
    client_id: c
    auth_method: client_secret_pots
    token_field: pasword
    timeout: 0
brokers:
  b: {}
)");
  ASSERT_EQ(provider.diagnostics.size(), 3u) << dump(provider);
  EXPECT_EQ(provider.diagnostics[0].path, "token_providers.p.auth_method");
  EXPECT_EQ(provider.diagnostics[1].message,
            "expected password or username, got \"pasword\" (did you mean \"password\"?)");
  EXPECT_EQ(provider.diagnostics[2].message, "expected a number > 0, got \"0\"");
}

// ---- structure errors -----------------------------------------------------------

TEST(Config, UnknownKeysGetDidYouMean) {
  auto result = load(R"(brokers:
  mqtt_local:
    config:
      prot: 1883
      colour: red
    enabeld: true
borkers: {}
)");
  auto lines = formatted(result);
  ASSERT_EQ(lines.size(), 4u) << dump(result);
  EXPECT_EQ(lines[0],
            "brokers.yaml:4:7: error: brokers.mqtt_local.config.prot: unknown key (did you mean "
            "\"port\"?)");
  EXPECT_EQ(lines[1], "brokers.yaml:5:7: error: brokers.mqtt_local.config.colour: unknown key");
  EXPECT_EQ(lines[2],
            "brokers.yaml:6:5: error: brokers.mqtt_local.enabeld: unknown key (did you mean "
            "\"enabled\"?)");
  EXPECT_EQ(lines[3], "brokers.yaml:7:1: error: borkers: unknown key (did you mean \"brokers\"?)");
}

TEST(Config, ExtensionKeysAndMergeKeysForSharedSettings) {
  auto result = load(R"(x-common: &common
  host: shared.example.com
  port: 8883
brokers:
  a:
    config:
      <<: *common
      port: 9999
  b:
    config: *common
)");
  EXPECT_TRUE(result.diagnostics.empty()) << dump(result);
  EXPECT_EQ(result.config.brokers.at("a").host, "shared.example.com");
  EXPECT_EQ(result.config.brokers.at("a").port, 9999);  // explicit keys beat merged ones
  EXPECT_EQ(result.config.brokers.at("b").port, 8883);
}

TEST(Config, SelfReferencingMergeKeyIsAnErrorNotARecursion) {
  const auto& d = only(load("brokers:\n  b:\n    config: &self\n      <<: *self\n      port: 1\n"));
  EXPECT_EQ(d.format(),
            "brokers.yaml:4:7: error: brokers.b.config.<<: merge key refers to its own mapping");
}

TEST(Config, MappingsMergedTwiceKeepPrecedence) {
  auto result = load(R"(x-a: &a {host: a.example, port: 1, keepalive: 7}
x-b: &b {<<: *a, port: 2}
x-c: &c {<<: [*b, *a], keepalive: 5}
brokers:
  z:
    config: {<<: [*c, *a], port: 3}
)");
  EXPECT_TRUE(result.diagnostics.empty()) << dump(result);
  const auto& z = result.config.brokers.at("z");
  EXPECT_EQ(z.host, "a.example");
  EXPECT_EQ(z.port, 3);
  EXPECT_EQ(z.keepalive, 5);
}

TEST(Config, NestedMergesOfAliasesStayLinear) {
  // Found by tests/fuzz/fuzz_config: each level merging the previous one twice took 2^depth steps
  // (a 1 KiB file never finished loading).
  std::string yaml = "x-0: &l0 {host: deep.example}\n";
  for (int i = 1; i <= 40; ++i) {
    yaml += "x-" + std::to_string(i) + ": &l" + std::to_string(i) + " {<<: [*l" +
            std::to_string(i - 1) + ", *l" + std::to_string(i - 1) + "]}\n";
  }
  yaml += "brokers:\n  b:\n    config: *l40\n";
  auto result = load(yaml);
  EXPECT_TRUE(result.diagnostics.empty()) << dump(result);
  EXPECT_EQ(result.config.brokers.at("b").host, "deep.example");
}

TEST(Config, DuplicateKeysReportTheSecondOccurrence) {
  std::string file = kFixtures + "duplicates.yaml";
  auto result = load_file(file, options());
  auto lines = formatted(result);
  ASSERT_EQ(lines.size(), 2u) << dump(result);
  EXPECT_EQ(lines[0],
            file + ":6:3: error: brokers.a: duplicate key \"a\" (first defined at line 2)");
  EXPECT_EQ(lines[1],
            file +
                ":9:1: error: default_broker: duplicate key \"default_broker\" (first defined "
                "at line 8)");
  EXPECT_EQ(result.config.broker_order, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(result.config.default_broker, "a");  // the first occurrence wins
}

TEST(Config, TabIndentationIsNamed) {
  std::string file = kFixtures + "tabs.yaml";
  const auto& d = only(load_file(file, options()));
  EXPECT_EQ(d.format(),
            file + ":4:1: error: tab character used for indentation (YAML requires spaces)");
}

TEST(Config, TabAfterSpacesIsFoundToo) {
  const auto& d = only(load("brokers:\n  b:\n    config:\n      host: x\n  \tport: 1\n"));
  EXPECT_EQ(d.where.line, 5);
  EXPECT_EQ(d.where.column, 3);
  EXPECT_EQ(d.message, "tab character used for indentation (YAML requires spaces)");
}

TEST(Config, SyntaxErrorIsOneErrorWithLocation) {
  const auto& d = only(load("brokers:\n  b:\n    config: {host: x\n  c: 1\n"));
  EXPECT_EQ(d.severity, Diagnostic::Severity::error);
  EXPECT_EQ(d.path, "");
  EXPECT_GT(d.where.line, 0);
  EXPECT_EQ(d.message.rfind("YAML syntax error: ", 0), 0u) << d.message;
}

TEST(Config, NonMappingsAreRejected) {
  EXPECT_EQ(only(load("- a\n- b\n")).message,
            "expected a mapping with a brokers: section, got a sequence");
  auto result = load("brokers:\n  b: 5\n  c:\n    config: [1]\n");
  ASSERT_EQ(result.diagnostics.size(), 2u) << dump(result);
  EXPECT_EQ(result.diagnostics[0].format(),
            "brokers.yaml:2:6: error: brokers.b: expected a mapping, got a scalar");
  EXPECT_EQ(result.diagnostics[1].format(),
            "brokers.yaml:4:13: error: brokers.c.config: expected a mapping, got a sequence");
}

TEST(Config, EmptyDocumentWarnsThatNothingIsDefined) {
  auto result = load("# nothing yet\n");
  EXPECT_TRUE(result.ok());
  EXPECT_EQ(only(result).format(), "brokers.yaml:1:1: warning: brokers: no brokers defined");
}

TEST(Config, TokenProvidersAloneNeedNoBrokers) {
  auto result = load(
      "token_providers:\n  kc:\n    token_url: https://idp/token\n    client_id: a\n"
      "    client_secret: s\n");
  EXPECT_TRUE(result.ok()) << dump(result);
  EXPECT_TRUE(result.diagnostics.empty()) << dump(result);
}

TEST(Config, EveryProblemIsReportedInDocumentOrder) {
  std::string file = kFixtures + "many_errors.yaml";
  auto result = load_file(file, options());
  std::vector<std::string> expected = {
      ":4:14: error: brokers.mqtt_local.enabled: expected true or false, got \"maybe\"",
      ":7:7: error: brokers.mqtt_local.config.prot: unknown key (did you mean \"port\"?)",
      ":8:13: error: brokers.mqtt_local.config.port: expected integer 1..65535, got \"abc\"",
      ":9:18: error: brokers.mqtt_local.config.keepalive: expected integer 0..65535, got \"-1\"",
      ":10:17: error: brokers.mqtt_local.config.protocol: expected 5, 311 or 31, got \"4\"",
      ":12:17: error: brokers.mqtt_local.config.ca_certs: file not found: "
      "/nonexistent/dtbus-test/ca.pem",
      ":13:7: error: brokers.mqtt_local.config.host: duplicate key \"host\" (first defined at "
      "line 6)",
      ":14:21: error: brokers.mqtt_local.token_provider: no token provider named \"keycloack\" "
      "(did you mean \"keycloak\"?)",
      ":15:15: error: brokers.mqtt_local.envelope: expected none, dt or tracker, got \"json\"",
      ":17:3: error: token_providers.keycloak: needs base_url (discovery) or token_url (or "
      "OIDC_BASE_URL)",
      ":19:18: error: token_providers.keycloak.auth_method: expected client_secret_basic or "
      "client_secret_post, got \"client_secret_jwt\"",
      ":20:17: error: default_broker: no broker named \"mqtt_lcoal\" (did you mean "
      "\"mqtt_local\"?)",
  };
  for (auto& line : expected) line = file + line;
  EXPECT_EQ(formatted(result), expected);
  EXPECT_EQ(result.errors().size(), expected.size());
  EXPECT_TRUE(result.warnings().empty());
  EXPECT_FALSE(result.ok());
}

// ---- files ----------------------------------------------------------------------

TEST(Config, MissingConfigFileIsOneErrorNamingIt) {
  auto result = load_file("/nonexistent/dtbus/brokers.yaml", options());
  EXPECT_EQ(only(result).format(),
            "/nonexistent/dtbus/brokers.yaml: error: cannot read config file: No such file or "
            "directory");
  EXPECT_EQ(result.config.file, "/nonexistent/dtbus/brokers.yaml");
}

TEST_F(ConfigFiles, DirectoryAsConfigFileIsAnError) {
  EXPECT_EQ(only(load_file(dir_.string(), options())).message, "is a directory, not a config file");
}

TEST_F(ConfigFiles, TlsFilesMustExistOnlyWhenUsed) {
  auto off = load(R"(brokers:
  b:
    config:
      use_tls: false
      ca_certs: /nonexistent/ca.pem
)");
  EXPECT_TRUE(off.diagnostics.empty()) << dump(off);

  // ca_certs before use_tls: still checked.
  auto on = load(R"(brokers:
  b:
    config:
      ca_certs: /nonexistent/ca.pem
      use_tls: true
)");
  EXPECT_EQ(only(on).format(),
            "brokers.yaml:4:17: error: brokers.b.config.ca_certs: file not found: "
            "/nonexistent/ca.pem");
}

TEST_F(ConfigFiles, ClientCertificateAndKeyAreCheckedWheneverSet) {
  std::string cert = write("client.crt", "cert");
  auto missing_key = load("brokers:\n  b:\n    config:\n      certfile: " + cert +
                          "\n      keyfile: /nonexistent/client.key\n");
  EXPECT_EQ(only(missing_key).message, "file not found: /nonexistent/client.key");
  EXPECT_EQ(only(missing_key).path, "brokers.b.config.keyfile");

  auto alone = load("brokers:\n  b:\n    config:\n      certfile: " + cert + "\n");
  EXPECT_EQ(only(alone).message, "certfile and keyfile must be given together");

  auto dir = load(
      "brokers:\n  b:\n    config:\n      use_tls: true\n      ca_certs: " + dir_.string() + "\n");
  EXPECT_EQ(only(dir).message, "is a directory, not a file: " + dir_.string());
}

TEST_F(ConfigFiles, RelativePathsAreRelativeToTheConfigFile) {
  write("certs/ca.pem", "ca");
  std::string file = write("brokers.yaml", R"(brokers:
  b:
    config:
      use_tls: true
      ca_certs: certs/ca.pem
    dlq:
      spool: spool/b.jsonl
)");
  auto result = load_file(file, options());
  EXPECT_TRUE(result.diagnostics.empty()) << dump(result);
  EXPECT_EQ(result.config.brokers.at("b").ca_certs, (dir_ / "certs/ca.pem").string());
  EXPECT_EQ(result.config.brokers.at("b").dlq->spool, (dir_ / "spool/b.jsonl").string());
}

TEST_F(ConfigFiles, TokenProviderCaCertsMustExist) {
  auto result = load(R"(token_providers:
  p:
    base_url: https://sso.example.com/realms/x
    client_id: c
    ca_certs: /nonexistent/sso-ca.pem
brokers:
  b:
    token_provider: p
)");
  EXPECT_EQ(only(result).format(),
            "brokers.yaml:5:15: error: token_providers.p.ca_certs: file not found: "
            "/nonexistent/sso-ca.pem");
}

// ---- references -----------------------------------------------------------------

TEST(Config, DefaultBrokerMustExistAndBeEnabled) {
  auto missing = load("brokers:\n  a: {}\ndefault_broker: b\n");
  EXPECT_EQ(only(missing).format(),
            "brokers.yaml:3:17: error: default_broker: no broker named \"b\"");
  auto disabled = load("brokers:\n  a: {enabled: false}\n  b: {}\ndefault_broker: a\n");
  EXPECT_EQ(only(disabled).message, "broker \"a\" is disabled (enabled: false)");
}

TEST(Config, DefaultBrokerFallsBackToTheOnlyEnabledOne) {
  EXPECT_EQ(load("brokers:\n  a: {}\n").config.default_broker, "a");
  EXPECT_EQ(load("brokers:\n  a: {enabled: false}\n  b: {}\n").config.default_broker, "b");
  EXPECT_EQ(load("brokers:\n  a: {}\n  b: {}\n").config.default_broker, "");
}

TEST(Config, TokenProviderReferencesAndCredentialsWarning) {
  auto result = load(R"(brokers:
  b:
    config:
      username: svc
      password: pw
    token_provider: keycloak
  c:
    token_provider: nope
token_providers:
  keycloak:
    base_url: https://sso.example.com/realms/x
    client_id: dtbus
)");
  auto lines = formatted(result);
  ASSERT_EQ(lines.size(), 2u) << dump(result);
  EXPECT_EQ(lines[0],
            "brokers.yaml:4:17: warning: brokers.b.config.username: username/password are ignored "
            "because token_provider is set");
  EXPECT_EQ(lines[1],
            "brokers.yaml:8:21: error: brokers.c.token_provider: no token provider "
            "named \"nope\"");
}

TEST(Config, TokenProviderRequirements) {
  auto result = load(R"(token_providers:
  empty: {}
  blank:
    base_url: ftp://sso.example.com
    client_id: ${CLIENT_ID:-}
brokers:
  b: {}
)");
  auto lines = formatted(result);
  std::vector<std::string> expected = {
      "brokers.yaml:2:3: error: token_providers.empty: needs base_url (discovery) or token_url "
      "(or OIDC_BASE_URL)",
      "brokers.yaml:2:3: error: token_providers.empty: missing required key client_id (or "
      "OIDC_CLIENT_ID)",
      "brokers.yaml:4:15: error: token_providers.blank.base_url: expected an http:// or https:// "
      "URL, got \"ftp://sso.example.com\"",
      "brokers.yaml:5:16: error: token_providers.blank.client_id: must not be empty",
  };
  EXPECT_EQ(lines, expected);
  const auto& p = result.config.token_providers.at("empty");
  EXPECT_EQ(p.type, "oidc_client_credentials");
  EXPECT_EQ(p.scope, "openid");
  EXPECT_EQ(p.auth_method, "client_secret_basic");
  EXPECT_EQ(p.username, "jwt");
  EXPECT_EQ(p.token_field, "password");
  EXPECT_DOUBLE_EQ(p.timeout, 10.0);
}

// ---- environment ----------------------------------------------------------------

TEST(Config, UnsetVariableIsAWarningNamingIt) {
  auto result = load(R"(brokers:
  b:
    config:
      host: ${MQTT_HOST:-localhost}
      username: "${MQTT_USERNAME}"
)");
  EXPECT_TRUE(result.ok());
  EXPECT_EQ(only(result).format(),
            "brokers.yaml:5:17: warning: brokers.b.config.username: ${MQTT_USERNAME} is not set "
            "(no default given)");
}

TEST(Config, StrictTurnsWarningsIntoErrors) {
  auto result =
      load("brokers:\n  b:\n    config:\n      username: $MQTT_USERNAME\n", {{"HOME", "/h"}}, true);
  EXPECT_FALSE(result.ok());
  EXPECT_EQ(only(result).format(),
            "brokers.yaml:4:17: error: brokers.b.config.username: ${MQTT_USERNAME} is not set "
            "(no default given)");
}

TEST(Config, RequiredVariableErrorCarriesTheMessage) {
  auto result = load("brokers:\n  b:\n    config:\n      host: ${MQTT_HOST:?set MQTT_HOST}\n");
  EXPECT_EQ(only(result).format(),
            "brokers.yaml:4:13: error: brokers.b.config.host: required variable MQTT_HOST is not "
            "set or empty: set MQTT_HOST");
}

TEST(Config, ExpansionSyntaxErrorIsReportedAtTheValue) {
  const auto& d = only(load("brokers:\n  b:\n    config:\n      host: ${MQTT_HOST\n"));
  EXPECT_EQ(d.where.line, 4);
  EXPECT_EQ(d.where.column, 13);
  EXPECT_EQ(d.message, "unterminated \"${\" at character 1");
}

TEST(Config, SecretsNeverAppearInDiagnostics) {
  const std::string secret = "hunter2-s3cret";
  auto result = load(R"(brokers:
  a:
    config:
      password: {value: hunter2-s3cret}
  b:
    config:
      password: "hunter2-s3cret${"
      username: u
    token_provider: p
  c:
    config:
      password: [hunter2-s3cret]
token_providers:
  p:
    token_url: https://sso.example.com/token
    client_id: c
    client_secret: "hunter2-s3cret${!x}"
  q:
    token_url: https://sso.example.com/token
    client_id: c
    client_secret: [hunter2-s3cret]
)",
                     {{"SECRET", secret}});
  EXPECT_GE(result.errors().size(), 5u) << dump(result);
  for (const auto& line : formatted(result)) {
    EXPECT_EQ(line.find("hunter2"), std::string::npos) << line;
  }
  EXPECT_EQ(result.diagnostics.front().message, "expected string");
}

// ---- dlq and source -------------------------------------------------------------

TEST(Config, DlqDefaultsFollowTheBrokerName) {
  auto with_home = load("brokers:\n  edge:\n    dlq:\n", {{"HOME", "/home/ops"}});
  ASSERT_TRUE(with_home.config.brokers.at("edge").dlq);
  const auto& dlq = *with_home.config.brokers.at("edge").dlq;
  EXPECT_EQ(dlq.topic, "tracker/dlq/#");
  EXPECT_EQ(dlq.client_id, "dtbus-dlq-edge");
  EXPECT_EQ(dlq.spool, "/home/ops/.local/state/dtbus/dlq/edge.jsonl");

  auto with_xdg = load("brokers:\n  edge:\n    dlq: {topic: dlq/+/failed}\n",
                       {{"HOME", "/home/ops"}, {"XDG_STATE_HOME", "/var/state"}});
  EXPECT_EQ(with_xdg.config.brokers.at("edge").dlq->spool, "/var/state/dtbus/dlq/edge.jsonl");
  EXPECT_EQ(with_xdg.config.brokers.at("edge").dlq->topic, "dlq/+/failed");

  EXPECT_EQ(load("brokers:\n  edge: {}\n").config.brokers.at("edge").dlq, std::nullopt);
}

TEST(Config, DlqTopicMustBeAValidFilter) {
  const auto& d = only(load("brokers:\n  b:\n    dlq:\n      topic: tracker/#/dlq\n"));
  EXPECT_EQ(d.path, "brokers.b.dlq.topic");
  EXPECT_EQ(d.where.line, 4);
  EXPECT_EQ(d.where.column, 14);
  EXPECT_EQ(d.message.rfind("invalid topic filter \"tracker/#/dlq\": ", 0), 0u) << d.message;
}

TEST(Config, SourceScalarsAreStrings) {
  auto result = load(
      "brokers:\n  b:\n    source:\n      app_key: 42\n      app_version: 2.10\n"
      "      module: true\n      modul: x\n");
  EXPECT_EQ(only(result).message, "unknown key (did you mean \"module\"?)");
  const auto& s = result.config.brokers.at("b").source;
  EXPECT_EQ(s.app_key, "42");
  EXPECT_EQ(s.app_version, "2.10");
  EXPECT_EQ(s.module, "true");
}

// ---- diagnostics ----------------------------------------------------------------

TEST(Config, DiagnosticFormatOmitsUnknownParts) {
  Diagnostic d{Diagnostic::Severity::warning, "a.b", {"f.yaml", 3, 0}, "msg"};
  EXPECT_EQ(d.format(), "f.yaml:3: warning: a.b: msg");
  d.where = {"f.yaml", 0, 0};
  d.path = "";
  EXPECT_EQ(d.format(), "f.yaml: warning: msg");
  d.where = {};
  EXPECT_EQ(d.format(), "warning: msg");
}

// ---- CELINE's environment (seed 000) ------------------------------------------

TEST(ConfigCelineEnv, FillsWhatTheSeedFileLeavesUnset) {
  // tests/fixtures/config/celine-brokers.yaml is the seed document's brokers.yaml, verbatim.
  auto result =
      load_file(kFixtures + "celine-brokers.yaml", options({{"MQTT_HOST", "mqtt.internal"},
                                                            {"MQTT_PORT", "2883"},
                                                            {"MQTT_USERNAME", "svc"},
                                                            {"MQTT_PASSWORD", "pw"}}));
  EXPECT_TRUE(result.diagnostics.empty()) << dump(result);
  const auto& local = result.config.brokers.at("mqtt_local");
  EXPECT_EQ(local.host, "mqtt.internal");  // through ${MQTT_HOST:-localhost}
  EXPECT_EQ(local.port, 2883);
  EXPECT_EQ(local.username, "svc");  // no username key: filled
  EXPECT_EQ(local.password, "pw");
  EXPECT_EQ(local.from_env, (std::map<std::string, std::string>{{"password", "MQTT_PASSWORD"},
                                                                {"username", "MQTT_USERNAME"}}));
  // Keys the entry sets win over the environment.
  const auto& secure = result.config.brokers.at("mqtt_secure");
  EXPECT_EQ(secure.host, "secure-broker.example.com");
  EXPECT_EQ(secure.port, 8883);
}

TEST(ConfigCelineEnv, HostAndPortFillAnEntryWithoutThem) {
  auto result = load("brokers:\n  b:\n    config: {username: \"\"}\n",
                     {{"MQTT_HOST", "h.example"}, {"MQTT_PORT", "1999"}, {"MQTT_USERNAME", ""}});
  EXPECT_TRUE(result.diagnostics.empty()) << dump(result);
  const auto& b = result.config.brokers.at("b");
  EXPECT_EQ(b.host, "h.example");
  EXPECT_EQ(b.port, 1999);
  EXPECT_EQ(b.username, "");  // an empty variable counts as unset
}

TEST(ConfigCelineEnv, BadPortIsAnErrorAtTheEntry) {
  auto d = only(load("brokers:\n  b:\n    type: mqtt\n", {{"MQTT_PORT", "70000"}}));
  EXPECT_EQ(d.format(),
            "brokers.yaml:2:3: error: brokers.b.config.port: MQTT_PORT: expected "
            "integer 1..65535, got \"70000\"");
}

TEST(ConfigCelineEnv, TokenProviderEntriesTakeNoStaticCredentials) {
  auto result = load(
      "brokers:\n  b:\n    token_provider: kc\n"
      "token_providers:\n  kc:\n    token_url: https://idp.example/token\n",
      {{"MQTT_USERNAME", "svc"},
       {"MQTT_PASSWORD", "pw"},
       {"OIDC_CLIENT_ID", "dt-service"},
       {"OIDC_CLIENT_SECRET", "s3cret"},
       {"OIDC_BASE_URL", "https://idp.example/realms/celine"}});
  EXPECT_TRUE(result.diagnostics.empty()) << dump(result);  // no "ignored" warning either
  EXPECT_EQ(result.config.brokers.at("b").username, "");
  EXPECT_EQ(result.config.brokers.at("b").password, "");
  const auto& kc = result.config.token_providers.at("kc");
  EXPECT_EQ(kc.client_id, "dt-service");
  EXPECT_EQ(kc.client_secret, "s3cret");
  EXPECT_EQ(kc.base_url, "");  // token_url makes discovery unnecessary
}

TEST(ConfigCelineEnv, OidcVariablesCompleteAProvider) {
  auto result = load(
      "token_providers:\n  kc: {scope: openid}\n",
      {{"OIDC_BASE_URL", "https://idp.example/realms/celine"}, {"OIDC_CLIENT_ID", "dt-service"}});
  EXPECT_TRUE(result.diagnostics.empty()) << dump(result);
  EXPECT_EQ(result.config.token_providers.at("kc").base_url, "https://idp.example/realms/celine");
  auto missing = load("token_providers:\n  kc: {scope: openid}\n");
  EXPECT_NE(dump(missing).find("or OIDC_BASE_URL"), std::string::npos) << dump(missing);
  EXPECT_NE(dump(missing).find("or OIDC_CLIENT_ID"), std::string::npos) << dump(missing);
  auto bad = load("token_providers:\n  kc: {client_id: x}\n", {{"OIDC_BASE_URL", "idp"}});
  ASSERT_FALSE(bad.diagnostics.empty());
  EXPECT_EQ(bad.diagnostics.front().format(),
            "brokers.yaml:2:3: error: token_providers.kc.base_url: OIDC_BASE_URL: expected an "
            "http:// or https:// URL, got \"idp\"");
}

// ---- seed 002 subscription defaults --------------------------------------------

TEST(ConfigSubDefaults, QosAndSharedSubscriptionsAreRead) {
  auto result = load(
      "brokers:\n  b:\n    config:\n      qos: 1\n      use_shared_subscriptions: true\n"
      "      shared_group: bre\n");
  EXPECT_TRUE(result.diagnostics.empty()) << dump(result);
  const auto& b = result.config.brokers.at("b");
  EXPECT_EQ(b.qos, 1);
  EXPECT_TRUE(b.use_shared_subscriptions);
  EXPECT_EQ(b.shared_group, "bre");
  EXPECT_EQ(load("brokers:\n  b: {}\n").config.brokers.at("b").qos, std::nullopt);
}

TEST(ConfigSubDefaults, BadValuesAreErrors) {
  EXPECT_EQ(only(load("brokers:\n  b:\n    config: {qos: 3}\n")).format(),
            "brokers.yaml:3:19: error: brokers.b.config.qos: expected integer 0..2, got \"3\"");
  EXPECT_EQ(only(load("brokers:\n  b:\n    config: {use_shared_subscriptions: true}\n")).format(),
            "brokers.yaml:3:40: error: brokers.b.config.use_shared_subscriptions: true needs a "
            "shared_group");
  EXPECT_EQ(only(load("brokers:\n  b:\n    config: {shared_group: a/b}\n")).format(),
            "brokers.yaml:3:28: error: brokers.b.config.shared_group: a group name cannot hold "
            "'/', '+' or '#', got \"a/b\"");
}

// ---- hostile files ----------------------------------------------------------------

TEST(ConfigHostile, InvalidUtf8IsAnErrorAtTheByte) {
  auto result = load("brokers:\n  b:\n    config:\n      topic_prefix: \"ab\xff\"\n");
  EXPECT_EQ(only(result).format(),
            "brokers.yaml:4:24: error: invalid UTF-8 (byte 0xff): YAML files must be UTF-8");
  // Overlong forms and surrogates are invalid too; each line is reported.
  result = load(
      "brokers:\n  b:\n    config:\n      host: \"\xc0\xaf\"\n      topic_prefix: "
      "\"\xed\xa0\x80\"\n");
  EXPECT_EQ(formatted(result),
            (std::vector<std::string>{
                "brokers.yaml:4:14: error: invalid UTF-8 (byte 0xc0): YAML files must be UTF-8",
                "brokers.yaml:5:22: error: invalid UTF-8 (byte 0xed): YAML files must be UTF-8"}));
  // Valid multi-byte text passes.
  EXPECT_TRUE(load("brokers:\n  b:\n    config: {topic_prefix: \"célïne/€/𝄞\"}\n").ok());
}

TEST(ConfigHostile, InvalidUtf8FromTheEnvironmentNamesTheField) {
  auto d = only(load("brokers:\n  b:\n    config: {topic_prefix: \"${P}\"}\n", {{"P", "x\xfe"}}));
  EXPECT_EQ(d.format(),
            "brokers.yaml:3:28: error: brokers.b.config.topic_prefix: value is not "
            "valid UTF-8 after ${VAR} expansion (check the variables it uses)");
}

TEST(ConfigHostile, DeepNestingSaysSo) {
  std::string yaml =
      "brokers:\n  b:\n    x-deep: " + std::string(5000, '[') + std::string(5000, ']') + "\n";
  auto d = only(load(yaml));
  EXPECT_NE(d.message.find("nesting too deep"), std::string::npos) << d.format();
  EXPECT_EQ(d.message.find("bad file"), std::string::npos) << d.format();
}

TEST_F(ConfigFiles, OversizedFileIsRefusedBeforeParsing) {
  std::string yaml = "brokers:\n  b: {}\n";
  yaml += "x-padding: \"" + std::string(kMaxConfigBytes, 'a') + "\"\n";
  auto path = write("big.yaml", yaml);
  auto result = load_file(path, options());
  EXPECT_EQ(only(result).format(), path +
                                       ": error: config file too large (over 1 MiB; a "
                                       "brokers.yaml is a few kilobytes)");
  // Just under the limit still loads.
  yaml.resize(kMaxConfigBytes - 2);
  EXPECT_TRUE(load_file(write("ok.yaml", yaml + "\"\n"), options()).ok());
}
