// `dtbus config test | show | path` (SPEC §4).
#pragma once

#include <string>

#include "dtbus/core/global_options.hpp"
#include "dtbus/util/export.hpp"

DTBUS_PUBLIC_BEGIN

namespace dtbus::config_command {

struct TestOptions {
  bool all = false;      // --all: connect to every enabled broker
  bool connect = false;  // --connect
  bool strict = false;   // --strict
};

// Each returns the process exit status and prints to stdout in `format`.
int test(const GlobalOptions& globals, const TestOptions& options, const std::string& format);
int show(const GlobalOptions& globals, const std::string& format);
int path(const GlobalOptions& globals, const std::string& format);

}  // namespace dtbus::config_command

DTBUS_PUBLIC_END
