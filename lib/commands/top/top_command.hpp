// SPDX-License-Identifier: Apache-2.0
// `dtbus top`: a live, full-screen view of a broker's topics (tree, counts, rates, last payloads).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "dtbus/commands/invocation.hpp"
#include "dtbus/util/export.hpp"

DTBUS_PUBLIC_BEGIN

namespace dtbus::commands::top {

struct Options {
  std::vector<std::string> filters;  // positional and -t; default "#"
  size_t history = 10;               // --history: messages kept per topic
  size_t max_topics = 50000;         // --max-topics
  std::string validate;              // --validate tracker|dt: marks in the detail pane
};

// Returns the exit status: 0 on q, SIGINT or SIGTERM.
int run(const Invocation& invocation, const Options& options);

}  // namespace dtbus::commands::top

DTBUS_PUBLIC_END
