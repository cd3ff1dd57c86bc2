// SPDX-License-Identifier: Apache-2.0
// The command table and the exit-code meanings are the one source for the tools, the dispatcher,
// help and man pages: these tests fail when a hand-written copy drifts from them.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include "dtbus/cli/command_table.hpp"
#include "dtbus/core/error.hpp"

namespace dtbus::cli {
namespace {

namespace fs = std::filesystem;

const fs::path kSourceDir = fs::path(DTBUS_FIXTURES_DIR) / ".." / "..";

std::string read(const fs::path& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// Plain text of a roff fragment: fonts dropped, escaped hyphens as hyphens.
std::string plain(std::string text) {
  for (const char* font : {"\\fB", "\\fR", "\\fI"}) {
    for (size_t at; (at = text.find(font)) != std::string::npos;) text.erase(at, 3);
  }
  for (size_t at; (at = text.find("\\-")) != std::string::npos;) text.erase(at, 1);
  return text;
}

// The body of `.SH NAME` up to the next `.SH`.
std::string man_section(const std::string& page, const std::string& name) {
  size_t start = page.find(".SH " + name + "\n");
  if (start == std::string::npos) return {};
  start += name.size() + 5;
  return page.substr(start, page.find("\n.SH ", start) - start + 1);
}

TEST(CommandTable, EveryBuiltInCommandHasAToolAndEveryToolIsBuiltIn) {
  std::set<std::string> tools;
  for (const auto& entry : fs::directory_iterator(kSourceDir / "tools")) {
    if (entry.path().extension() == ".cpp" && entry.path().stem() != "dtbus")
      tools.insert(entry.path().stem().string());
  }
  std::set<std::string> table;
  for (const auto& command : builtin_commands()) {
    table.insert(command.name);
    EXPECT_FALSE(command.summary.empty()) << command.name;
    EXPECT_FALSE(command.formats.empty()) << command.name;
  }
  EXPECT_EQ(tools, table);
  EXPECT_EQ(builtin_command("sub").formats.front(), "text");
  EXPECT_THROW(builtin_command("nope"), std::out_of_range);
}

TEST(CommandTable, ManDtbusListsEachCommandWithItsSummary) {
  std::string commands = plain(man_section(read(kSourceDir / "man" / "dtbus.1"), "COMMANDS"));
  ASSERT_FALSE(commands.empty());
  for (const auto& command : builtin_commands()) {
    EXPECT_NE(commands.find(command.name + "\n" + command.summary + ". See dtbus-" + command.name),
              std::string::npos)
        << command.name << " in man/dtbus.1 differs from the command table";
  }
}

TEST(ExitCodes, ManDtbusExitStatusIsTheTable) {
  std::string expected;
  for (const auto& e : exit_code_meanings())
    expected += ".TP\n" + std::to_string(static_cast<int>(e.code)) + "\n" + e.meaning + "\n";
  EXPECT_EQ(plain(man_section(read(kSourceDir / "man" / "dtbus.1"), "EXIT STATUS")), expected);
}

}  // namespace
}  // namespace dtbus::cli
