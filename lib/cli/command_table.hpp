// SPDX-License-Identifier: Apache-2.0
// The built-in commands, once: the dispatcher's list and help, each tool's --help and man page
// NAME line, the completions (generated from the dispatcher) and tools/<name>.cpp all follow it.
#pragma once

#include <string>
#include <vector>

#include "dtbus/util/export.hpp"

DTBUS_PUBLIC_BEGIN

namespace dtbus::cli {

struct CommandInfo {
  std::string name;                  // dtbus <name>, dtbus-<name>, tools/<name>.cpp
  std::string summary;               // one line, no final full stop
  std::vector<std::string> formats;  // -o values; the first is the default off a TTY
};

// In the order `dtbus --help` lists them.
const std::vector<CommandInfo>& builtin_commands();
// The entry for `name`; throws std::out_of_range for a name that is not built in.
const CommandInfo& builtin_command(const std::string& name);

}  // namespace dtbus::cli

DTBUS_PUBLIC_END
