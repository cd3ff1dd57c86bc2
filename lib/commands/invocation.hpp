// SPDX-License-Identifier: Apache-2.0
// What every command is run with: the global options as parsed and the output format chosen
// (-o, or the command's default from the command table).
#pragma once

#include <string>

#include "dtbus/core/global_options.hpp"
#include "dtbus/util/export.hpp"

DTBUS_PUBLIC_BEGIN

namespace dtbus::commands {

struct Invocation {
  const GlobalOptions& globals;
  std::string output;
};

}  // namespace dtbus::commands

DTBUS_PUBLIC_END
