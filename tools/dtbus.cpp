// SPDX-License-Identifier: Apache-2.0
// The one dtbus executable: `dtbus <cmd>` and the dtbus-<cmd> links to it run the built-in
// commands in this process; other dtbus-<name> programs on PATH are plugins.
#include "builtin_mains.hpp"
#include "dtbus/cli/dispatch.hpp"

int main(int argc, char** argv) {
  return dtbus::cli::dispatch(argc, argv, dtbus::tools::builtin_mains);
}
