// SPDX-License-Identifier: Apache-2.0
#include "dtbus/core/global_options.hpp"

#include <cstdio>

#include "dtbus/util/terminal.hpp"

namespace dtbus {

bool GlobalOptions::color_stdout() const { return util::use_color(stdout, no_color); }
bool GlobalOptions::color_stderr() const { return util::use_color(stderr, no_color); }

}  // namespace dtbus
