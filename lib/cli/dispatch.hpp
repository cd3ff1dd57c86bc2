// SPDX-License-Identifier: Apache-2.0
// The `dtbus` front door: git-style dispatch to dtbus-<command> executables.
#pragma once

#include <string>
#include <vector>

#include "dtbus/util/export.hpp"

DTBUS_PUBLIC_BEGIN

namespace dtbus::cli {

// Runs `dtbus ARGS`: --help, --version, help CMD, completion SHELL, or execs dtbus-CMD (beside
// this executable first, then PATH) with the global options passed through. Returns the exit
// status when it does not exec.
int dispatch(int argc, char** argv);

}  // namespace dtbus::cli

DTBUS_PUBLIC_END
