// The shared command-line front-end: SPEC §1 global options, parsing, logging set-up, error
// and exit-code mapping, and the hidden hooks that generate man pages and completions.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "dtbus/core/global_options.hpp"
#include "dtbus/util/export.hpp"

DTBUS_PUBLIC_BEGIN

namespace dtbus::cli {

// Names of global options that take a value, for the dispatcher's pass-through scan.
const std::vector<std::string>& global_options_with_value();
const std::vector<std::string>& global_flags();

// One command front-end. Usage:
//   dtbus::cli::Command cmd("pub", "Publish messages", {"text", "json"});
//   cmd.app().add_option(...);
//   return cmd.run(argc, argv, [&] { return dtbus::pub::run(cmd.globals(), options); });
class Command {
 public:
  Command(std::string name, std::string summary, std::vector<std::string> output_formats = {});
  CLI::App& app() { return app_; }
  GlobalOptions& globals() { return globals_; }
  const std::string& name() const { return name_; }
  // Output format after parsing: -o value, or the command's default (first entry).
  std::string output() const;
  // Extra roff text for the man page (DESCRIPTION, EXAMPLES...), appended after OPTIONS.
  void set_man_sections(std::string roff) { man_sections_ = std::move(roff); }
  // Parses argv, sets up logging, runs `action`, maps dtbus::Error/CLI11 errors to exit codes.
  int run(int argc, char** argv, const std::function<int()>& action);

 private:
  std::string name_;
  std::string summary_;
  std::vector<std::string> output_formats_;
  std::string man_sections_;
  GlobalOptions globals_;
  CLI::App app_;
};

}  // namespace dtbus::cli

DTBUS_PUBLIC_END
