// SPDX-License-Identifier: Apache-2.0
// The `dtbus` front door: git-style dispatch. Built-in commands run in this process (one exec,
// one dynamic link: `dtbus pub` costs what `dtbus-pub` costs); anything else is a dtbus-<command>
// executable beside this one or on PATH (plugins), which is exec'd.
#pragma once

#include <span>
#include <string_view>

#include "dtbus/util/export.hpp"

DTBUS_PUBLIC_BEGIN

namespace dtbus::cli {

// A built-in command linked into the executable: its name and its main().
struct BuiltinMain {
  std::string_view name;
  int (*main)(int argc, char** argv);
};

// Runs `dtbus ARGS`: --help, --version, help CMD, completion SHELL, a built-in command of
// `builtins` in-process, or execs dtbus-CMD (beside this executable first, then PATH) with the
// global options passed through. Invoked as `dtbus-CMD` (a link to the executable), runs CMD.
// Returns the exit status when it does not exec.
int dispatch(int argc, char** argv, std::span<const BuiltinMain> builtins);

}  // namespace dtbus::cli

DTBUS_PUBLIC_END
