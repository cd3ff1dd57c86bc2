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

// roff man page: NAME, SYNOPSIS, DESCRIPTION (+ `extra_roff`, hand-written sections from
// man/<page>.sections), OPTIONS, GLOBAL OPTIONS, EXIT STATUS, SEE ALSO.
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
