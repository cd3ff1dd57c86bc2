// SPDX-License-Identifier: Apache-2.0
// Man pages and completion specs generated from CLI11 definitions (lib/cli/docs.cpp).
#include <gtest/gtest.h>

#include <string>

#include "dtbus/cli/docs.hpp"

namespace {

using dtbus::docs::describe;
using dtbus::docs::man_page;

// A command shaped like dtbus pub: own options plus a nameless option group.
struct Fixture {
  CLI::App app{"Publish things", "dtbus-demo"};
  std::string topic, message;
  bool lines = false;
  Fixture() {
    app.add_option("-t,--topic", topic, "Topic")->type_name("TOPIC");
    auto* input = app.add_option_group("Input", "What to publish");
    input->add_option("-m,--message", message, "One message")->type_name("MSG");
    input->add_flag("-l,--stdin-lines", lines, "One message per line");
  }
};

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

TEST(CliDocs, OptionGroupOptionsBelongToTheCommand) {
  Fixture f;
  auto spec = describe(f.app);
  EXPECT_TRUE(spec["subcommands"].empty());
  std::string names = spec["options"].dump();
  EXPECT_NE(names.find("--topic"), std::string::npos);
  EXPECT_NE(names.find("--message"), std::string::npos);
  EXPECT_NE(names.find("--stdin-lines"), std::string::npos);
  EXPECT_EQ(count(names, "\"--help\""), 1u);  // the group's copy is not repeated
}

TEST(CliDocs, HandWrittenSectionsAroundTheGeneratedOptions) {
  Fixture f;
  std::string page = man_page(f.app, "dtbus-demo", "Publish things",
                              ".SH DESCRIPTION\nDemo.\n.SS Details\nMore.\n"
                              ".SH EXAMPLES\n.nf\ndtbus demo -t x\n.fi\n"
                              ".SH ENVIRONMENT\n.TP\nDEMO_VAR\nOwn variable.\n"
                              ".SH EXIT STATUS\n.TP\n0\nFine.\n");
  auto at = [&](const std::string& what) {
    auto pos = page.find(what);
    EXPECT_NE(pos, std::string::npos) << what << " missing in\n" << page;
    return pos;
  };
  EXPECT_LT(at(".SH SYNOPSIS"), at(".SH DESCRIPTION"));
  EXPECT_LT(at(".SS Details"), at(".SH OPTIONS"));
  EXPECT_LT(at(".SH OPTIONS"), at(".SH \"GLOBAL OPTIONS\""));
  EXPECT_LT(at(".SH \"GLOBAL OPTIONS\""), at(".SH \"EXIT STATUS\""));
  EXPECT_LT(at(".SH \"EXIT STATUS\""), at(".SH ENVIRONMENT"));
  EXPECT_LT(at(".SH ENVIRONMENT"), at(".SH EXAMPLES"));
  EXPECT_LT(at(".SH EXAMPLES"), at(".SH \"SEE ALSO\""));
  // One of each section: the hand-written EXIT STATUS replaces the generic one...
  EXPECT_EQ(count(page, "EXIT STATUS"), 1u);
  EXPECT_EQ(count(page, ".SH DESCRIPTION"), 1u);
  EXPECT_NE(page.find("Fine."), std::string::npos);
  // ...and ENVIRONMENT adds to the variables every command reads.
  EXPECT_LT(at("DTBUS_CONFIG"), at("DEMO_VAR"));
  EXPECT_NE(page.find("MQTT_PASSWORD"), std::string::npos);
  // Options of the group are listed under OPTIONS; there is no subcommand synopsis.
  EXPECT_LT(at("\\-\\-stdin\\-lines"), at(".SH \"GLOBAL OPTIONS\""));
  EXPECT_EQ(page.find("COMMAND"), std::string::npos);
}

TEST(CliDocs, DefaultsWithoutHandWrittenSections) {
  Fixture f;
  std::string page = man_page(f.app, "dtbus-demo", "Publish things", "");
  EXPECT_NE(page.find(".SH DESCRIPTION\nPublish things.\n"), std::string::npos);
  EXPECT_NE(page.find(".SH \"EXIT STATUS\""), std::string::npos);
  EXPECT_NE(page.find(".SH ENVIRONMENT"), std::string::npos);
  EXPECT_NE(page.find(".SH \"SEE ALSO\""), std::string::npos);
}

}  // namespace
