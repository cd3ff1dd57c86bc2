// SPDX-License-Identifier: Apache-2.0
// The shared command-line front-end: SPEC §1 global options, parsing, logging set-up, error
// and exit-code mapping, and the hidden hooks that generate man pages and completions.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "dtbus/cli/command_table.hpp"
#include "dtbus/commands/invocation.hpp"
#include "dtbus/core/global_options.hpp"
#include "dtbus/util/export.hpp"

DTBUS_PUBLIC_BEGIN

namespace dtbus::cli {

// Names of global options that take a value, for the dispatcher's pass-through scan.
const std::vector<std::string>& global_options_with_value();
// "-c FILE", "-b NAME", ..., "--no-prefix": every global option in its shortest spelling.
std::vector<std::string> global_options_synopsis();

// One command front-end. Usage:
//   dtbus::cli::Command cmd("pub");  // summary and -o formats from the command table
//   cmd.app().add_option(...);
//   return cmd.run(argc, argv,
//                  [&] { return dtbus::commands::pub::run(cmd.invocation(), options); });
class Command {
 public:
  // A built-in command: its summary and output formats come from the command table.
  explicit Command(const std::string& name);
  explicit Command(CommandInfo info);
  CLI::App& app() { return app_; }
  GlobalOptions& globals() { return globals_; }
  const std::string& name() const { return name_; }
  // Output format after parsing: -o value, or the command's default (first entry).
  std::string output() const;
  // What the command's run() takes, after parsing.
  commands::Invocation invocation() const { return {globals_, output()}; }
  // Parses argv, sets up logging, runs `action`, maps dtbus::Error/CLI11 errors to exit codes.
  int run(int argc, char** argv, const std::function<int()>& action);

 private:
  std::string name_;
  std::string summary_;
  std::vector<std::string> output_formats_;
  GlobalOptions globals_;
  CLI::App app_;
};

}  // namespace dtbus::cli

DTBUS_PUBLIC_END
