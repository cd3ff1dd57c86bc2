// SPDX-License-Identifier: Apache-2.0
// dtbus-probe(1) names every check and every broker_info key the code has.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

#include "dtbus/commands/probe/probe_command.hpp"
#include "dtbus/mqtt/broker_info.hpp"

namespace {

std::string man_page() {
  std::ifstream in(DTBUS_FIXTURES_DIR "/../../man/dtbus-probe.sections");
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

TEST(ProbeManPage, NamesEveryCheck) {
  std::string page = man_page();
  ASSERT_FALSE(page.empty());
  for (const auto& name : dtbus::commands::probe::check_names()) {
    EXPECT_NE(page.find("\\fB" + name + "\\fR"), std::string::npos) << name;
  }
}

TEST(ProbeManPage, NamesEveryBrokerInfoKey) {
  std::string page = man_page();
  auto keys = dtbus::mqtt::broker_info_json(dtbus::mqtt::BrokerInfo{});
  for (const auto& [key, value] : keys.items()) {
    EXPECT_NE(page.find("\"" + key + "\""), std::string::npos) << key;
  }
}
