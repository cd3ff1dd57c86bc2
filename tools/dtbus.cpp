// SPDX-License-Identifier: Apache-2.0
#include "dtbus/cli/dispatch.hpp"

int main(int argc, char** argv) { return dtbus::cli::dispatch(argc, argv); }
