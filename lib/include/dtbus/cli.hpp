// The shared command-line front-end: SPEC §1 global options, parsing, logging set-up, error
// and exit-code mapping, and the hidden hooks that generate man pages and completions.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

namespace dtbus::cli {

struct GlobalOptions {
  std::optional<std::string> config_file;
  std::optional<std::string> broker;
  std::string output;  // empty = command default
  int verbosity = 0;
  bool quiet = false;
  bool no_color = false;
  std::optional<std::string> host;
  std::optional<int> port;
  std::optional<std::string> url;
  std::optional<std::string> username;
  std::optional<std::string> password_file;
  std::optional<std::string> password;
  std::optional<std::string> client_id;
  bool tls = false;
  std::optional<std::string> cafile;
  std::optional<std::string> cert;
  std::optional<std::string> key;
  bool insecure = false;
  std::optional<int> protocol;
  std::optional<int> keepalive;
  double connect_timeout = 10.0;
  bool no_prefix = false;

  // Colour decision for stdout, after --no-color / NO_COLOR / TTY.
  bool color_stdout() const;
  bool color_stderr() const;
};

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

// Prints `dtbus <command>: error: <message>` on stderr.
void print_error(const std::string& command, const std::string& message);

}  // namespace dtbus::cli
