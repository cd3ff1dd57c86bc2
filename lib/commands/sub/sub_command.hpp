// SPDX-License-Identifier: Apache-2.0
// `dtbus sub` (SPEC §4): subscribe and print messages as text, JSON Lines, raw bytes or a template.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "dtbus/commands/invocation.hpp"
#include "dtbus/util/export.hpp"

DTBUS_PUBLIC_BEGIN

namespace dtbus::commands::sub {

struct Options {
  std::vector<std::string> filters;            // -t and positional
  std::optional<int> qos;                      // default 0, 1 with --session
  std::optional<uint64_t> count;               // -C
  std::optional<double> wait_s;                // -W
  std::optional<std::string> format_template;  // -F
  bool pretty = false;
  bool no_retained = false;
  bool retained_only = false;
  std::vector<std::string> where;
  std::string validate;  // "", tracker, dt
  std::string share;     // --share GROUP
  std::string session;   // --session NAME
  std::string record_file;
  bool stats = false;
};

// Session expiry of a durable --session on MQTT 5.
inline constexpr uint32_t kDurableSessionExpiry = 7 * 24 * 3600;

// `output` is the -o value ("" = text on a TTY, json otherwise). Returns the exit status.
int run(const Invocation& invocation, const Options& options);

}  // namespace dtbus::commands::sub

DTBUS_PUBLIC_END
