// SPDX-License-Identifier: Apache-2.0
// `dtbus replay`: put recorded messages back on the bus (SPEC §4 `dtbus replay`), wiring the
// pieces of dtbus/replay/replay.hpp to the shared publishing pipeline.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "dtbus/commands/invocation.hpp"
#include "dtbus/replay/replay.hpp"
#include "dtbus/util/export.hpp"

DTBUS_PUBLIC_BEGIN

namespace dtbus::commands::replay {

struct Options {
  std::vector<std::string> inputs;  // files, "-" = stdin; empty = stdin
  dtbus::replay::TimingOptions timing;
  std::string since, until;
  std::vector<std::string> topics, kinds, wheres, topic_maps;
  std::optional<int> qos;        // override; else the record's, else 1
  std::string retain = "strip";  // keep | strip
  uint64_t loops = 1;            // passes over the input; 0 = until interrupted
  bool dry_run = false;
  std::optional<bool> progress;     // nullopt = on a TTY
  std::string on_invalid = "fail";  // fail | skip
  std::string failed_out;
  double timeout = 60.0;   // seconds without acknowledgement progress
  std::string time_field;  // --time-field PATH: dotted path into the payload; "" = none
};

// Runs the replay; returns the exit status (0, or 130 when interrupted) or throws Error.
int run(const Invocation& invocation, const Options& options);

}  // namespace dtbus::commands::replay

DTBUS_PUBLIC_END
