// SPDX-License-Identifier: Apache-2.0
// Broker resolution (lib/target/target.cpp): --url handling never repeats a password.
#include <gtest/gtest.h>

#include <string>

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

}  // namespace
