// `dtbus config test | show | path` (SPEC §4).
#pragma once

#include <string>

#include "dtbus/cli.hpp"

namespace dtbus::config_command {

struct TestOptions {
  bool all = false;      // --all: connect to every enabled broker
  bool connect = false;  // --connect
  bool strict = false;   // --strict
};

// Each returns the process exit status and prints to stdout in `format`.
int test(const cli::GlobalOptions& globals, const TestOptions& options, const std::string& format);
int show(const cli::GlobalOptions& globals, const std::string& format);
int path(const cli::GlobalOptions& globals, const std::string& format);

}  // namespace dtbus::config_command
