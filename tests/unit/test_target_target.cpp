// SPDX-License-Identifier: Apache-2.0
// Broker resolution (lib/target/target.cpp): --url handling never repeats a password.
#include <gtest/gtest.h>

#include <stdlib.h>

#include <initializer_list>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "dtbus/cli/command.hpp"
#include "dtbus/core/error.hpp"
#include "dtbus/target/target.hpp"

namespace {

// The message of the usage error resolve() throws for --url URL.
std::string url_error(const std::string& url) {
  dtbus::GlobalOptions options;
  options.url = url;
  try {
    dtbus::target::resolve(options, "test", {});
  } catch (const dtbus::Error& e) {
    EXPECT_EQ(e.exit_status(), 2);
    return e.what();
  }
  ADD_FAILURE() << "no error for " << url;
  return {};
}

TEST(MqttBroker, UrlErrorsNeverShowThePassword) {
  EXPECT_EQ(url_error("mqtt://alice:hunter2@broker"),
            "--url must not carry a password; use --password-file or MQTT_PASSWORD");
  // Malformed URLs are repeated in the error, with any user:password part masked.
  std::string e = url_error("mqtt://alice:hunter2/x@broker");
  EXPECT_EQ(e.find("hunter2"), std::string::npos) << e;
  EXPECT_NE(e.find("mqtt://***@broker"), std::string::npos) << e;
  e = url_error("alice:hunter2@broker");
  EXPECT_EQ(e.find("hunter2"), std::string::npos) << e;
  // Without a password the URL is shown as given.
  e = url_error("mqtt://alice@broker:99999");
  EXPECT_NE(e.find("mqtt://alice@broker:99999"), std::string::npos) << e;
}

TEST(MqttBroker, UrlGivesHostPortUserAndTls) {
  dtbus::GlobalOptions options;
  options.url = "mqtts://alice@broker.example.org";
  auto target = dtbus::target::resolve(options, "test", {});
  EXPECT_EQ(target.connection.host, "broker.example.org");
  EXPECT_EQ(target.connection.port, 8883);
  EXPECT_TRUE(target.connection.tls.enabled);
}

TEST(MqttBroker, UrlListNamesFailoverNodes) {
  dtbus::GlobalOptions options;
  options.url = "mqtt://a.example:1884, mqtt://b.example,mqtt://c.example:1999";
  auto target = dtbus::target::resolve(options, "test", {});
  EXPECT_EQ(target.connection.host, "a.example");
  EXPECT_EQ(target.connection.port, 1884);
  using Nodes = std::vector<std::pair<std::string, int>>;
  EXPECT_EQ(target.connection.failover, (Nodes{{"b.example", 1883}, {"c.example", 1999}}));
  options.url = "mqtt://a.example,mqtts://b.example";
  EXPECT_THROW(dtbus::target::resolve(options, "test", {}), dtbus::Error);
}

TEST(MqttBroker, ProtocolFallsBackOnlyWhenNotForced) {
  dtbus::GlobalOptions options;
  options.host = "broker";
  EXPECT_TRUE(dtbus::target::resolve(options, "test", {}).connection.protocol_fallback);
  options.protocol = 5;
  EXPECT_FALSE(dtbus::target::resolve(options, "test", {}).connection.protocol_fallback);
  options.protocol = 311;
  EXPECT_FALSE(dtbus::target::resolve(options, "test", {}).connection.protocol_fallback);
}

// Sets environment variables for one test, restoring them after.
class ScopedEnv {
 public:
  ScopedEnv(std::initializer_list<std::pair<const char*, const char*>> vars) {
    for (const auto& [name, value] : vars) {
      const char* old = std::getenv(name);
      saved_.emplace_back(name, old ? std::optional<std::string>(old) : std::nullopt);
      if (value) {
        ::setenv(name, value, 1);
      } else {
        ::unsetenv(name);
      }
    }
  }
  ~ScopedEnv() {
    for (const auto& [name, value] : saved_) {
      if (value) {
        ::setenv(name.c_str(), value->c_str(), 1);
      } else {
        ::unsetenv(name.c_str());
      }
    }
  }

 private:
  std::vector<std::pair<std::string, std::optional<std::string>>> saved_;
};

TEST(CelineEnvironment, NamesTheBrokerWithoutAConfig) {
  ScopedEnv env{{"MQTT_HOST", "mqtt.internal"},
                {"MQTT_PORT", "2883"},
                {"MQTT_USERNAME", "svc"},
                {"MQTT_PASSWORD", "pw"}};
  auto target = dtbus::target::resolve({}, "test", {});
  EXPECT_EQ(target.connection.host, "mqtt.internal");
  EXPECT_EQ(target.connection.port, 2883);
  ASSERT_NE(target.connection.credentials, nullptr);
  // Flags win.
  dtbus::GlobalOptions options;
  options.host = "other";
  options.port = 1884;
  target = dtbus::target::resolve(options, "test", {});
  EXPECT_EQ(target.connection.host, "other");
  EXPECT_EQ(target.connection.port, 1884);
}

TEST(CelineEnvironment, PasswordWithoutUsernameIsIgnoredNotAnError) {
  ScopedEnv env{{"MQTT_HOST", nullptr},
                {"MQTT_PORT", nullptr},
                {"MQTT_USERNAME", nullptr},
                {"MQTT_PASSWORD", "pw"}};
  auto target = dtbus::target::resolve({}, "test", {});
  EXPECT_EQ(target.connection.credentials, nullptr);  // anonymous
  // Given on the command line, it is still a usage error.
  dtbus::GlobalOptions options;
  options.password = "flag-pw";
  try {
    dtbus::target::resolve(options, "test", {});
    ADD_FAILURE() << "no error for -P without -u";
  } catch (const dtbus::Error& e) {
    EXPECT_EQ(e.exit_status(), 2);
  }
}

TEST(CelineEnvironment, BadPortIsAConfigError) {
  ScopedEnv env{{"MQTT_PORT", "abc"}};
  try {
    dtbus::target::resolve({}, "test", {});
    ADD_FAILURE() << "no error for MQTT_PORT=abc";
  } catch (const dtbus::Error& e) {
    EXPECT_EQ(e.exit_status(), 3);
    EXPECT_EQ(std::string(e.what()), "MQTT_PORT: expected integer 1..65535, got \"abc\"");
  }
}

}  // namespace
