// SPDX-License-Identifier: Apache-2.0
// `dtbus config test | show | path` (SPEC §4).
#pragma once

#include <string>

#include "dtbus/commands/invocation.hpp"
#include "dtbus/util/export.hpp"

DTBUS_PUBLIC_BEGIN

namespace dtbus::commands::config {

struct TestOptions {
  bool all = false;      // --all: connect to every enabled broker
  bool connect = false;  // --connect
  bool strict = false;   // --strict
};

struct Options {
  enum class Action { test, show, path } action = Action::test;
  TestOptions test;
};

// Runs the chosen subcommand; returns the exit status. invocation.output is -o as given (empty:
// text for test and path, yaml for show).
int run(const Invocation& invocation, const Options& options);

// The subcommands run() calls. Each returns the exit status and prints to stdout in `format`.
int test(const GlobalOptions& globals, const TestOptions& options, const std::string& format);
int show(const GlobalOptions& globals, const std::string& format);
int path(const GlobalOptions& globals, const std::string& format);

}  // namespace dtbus::commands::config

DTBUS_PUBLIC_END
