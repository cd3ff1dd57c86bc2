// SPDX-License-Identifier: Apache-2.0
// Man pages and shell completions generated from the CLI11 definitions the tools run with,
// so documentation cannot drift from the flags.
#pragma once

#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

namespace dtbus::docs {

// Machine-readable description of a command's options and subcommands (`--dtbus-spec`).
nlohmann::json describe(const CLI::App& app);

// roff man page: NAME, SYNOPSIS, then the hand-written sections of `extra_roff`
// (man/<page>.sections, split at `.SH`) around the generated OPTIONS and GLOBAL OPTIONS: EXIT
// STATUS, ENVIRONMENT, FILES, NOTES, SECURITY, BUGS, EXAMPLES and SEE ALSO follow them (in that
// order), any other section precedes them. ENVIRONMENT lists the variables every command reads,
// then the page's own; EXIT STATUS and SEE ALSO have generic defaults.
std::string man_page(const CLI::App& app, const std::string& page_name, const std::string& summary,
                     const std::string& extra_roff);

// Completion scripts for the whole suite from each command's describe() output.
struct CommandSpec {
  std::string name;
  std::string summary;
  nlohmann::json spec;
};
std::string completion_script(const std::string& shell, const std::vector<CommandSpec>& commands);

}  // namespace dtbus::docs
